//! Converts a saved network or model between formats, chosen by the extensions: network2.py's
//! `.json`, `.safetensors`, `.npz`, and `.onnx` (an inference graph, written only). A model's
//! description (scaler, class names) rides along in the metadata of every format.
//!
//! ```sh
//! cargo run --release --example convert -- net.json net.onnx
//! cargo run --release --example convert -- torch.safetensors net.json --activation relu --output-activation softmax
//! ```

use std::{path::PathBuf, process::ExitCode};

use batchprop::Network;
use batchprop_examples::{AssumeFlags, BoxError, Dtype, parse_args};
use clap::Parser;

/// Convert a network file: .json, .safetensors, .npz → .json, .safetensors, .npz, .onnx.
#[derive(Parser, Debug)]
#[command(long_about = None)]
struct Args {
    /// The network to read
    input: PathBuf,
    /// Where to write it (the format from the extension)
    output: PathBuf,
    /// Let OUTPUT replace a file that exists
    #[arg(long)]
    overwrite: bool,
    /// Write in this precision [default: f32 when every value of the file is an f32 (as in a
    /// file saved in f32), else f64]
    #[arg(long, value_enum)]
    dtype: Option<Dtype>,
    #[command(flatten)]
    assume: AssumeFlags,
}

fn main() -> ExitCode {
    let args: Args = match parse_args() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let result = dtype(&args).and_then(|dtype| match dtype {
        Dtype::F32 => convert::<f32>(&args),
        Dtype::F64 => convert::<f64>(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--dtype`, or the file's own: f32 if every parameter is one.
fn dtype(args: &Args) -> Result<Dtype, BoxError> {
    if let Some(dtype) = args.dtype {
        return Ok(dtype);
    }
    let net = Network::<f64>::open::<serde::de::IgnoredAny>(&args.input, &args.assume.assumed())?.network;
    let f32_exact = |v: &f64| f64::from(*v as f32) == *v;
    let all_f32 = (net.weights().iter()).all(|w| w.iter().all(f32_exact))
        && (net.biases().iter()).all(|b| b.iter().all(f32_exact));
    Ok(if all_f32 { Dtype::F32 } else { Dtype::F64 })
}

fn convert<F: batchprop::Float>(args: &Args) -> Result<(), BoxError> {
    let target = batchprop::check_writable(&args.output)?;
    if target.exists() && !args.overwrite {
        return Err(format!("{} exists; pass --overwrite to replace it", args.output.display()).into());
    }
    let opened = Network::<F>::open::<serde::de::IgnoredAny>(&args.input, &args.assume.assumed())?;
    for note in &opened.notes {
        eprintln!("{}: {note}", args.input.display());
    }
    opened.network.save_with::<()>(&args.output, &opened.metadata, None)?;
    eprintln!(
        "{} ({:?}) → {}",
        args.input.display(),
        opened.network.sizes(),
        args.output.display()
    );
    Ok(())
}
