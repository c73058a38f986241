//! The speed-up report: the batched engine against the book's per-example loop on real MNIST
//! mini-batches, for every network shape, batch size and dtype, beside the machine's GEMM
//! peak.
//!
//! ```sh
//! cargo run --release -p batchprop-bench --bin speedup            # markdown table + plot
//! cargo run --release -p batchprop-bench --bin speedup -- --json  # one JSON object per row
//! ```
//!
//! For each row the paths run alternately (the batched step on one thread, the per-example
//! loop, the batched step on two threads, and at m = 10 and 100 a whole training epoch on
//! one and on two) for several rounds and the medians are compared, so that the ratios hold
//! on a noisy machine. The per-example loop has nothing to split and runs on one thread. The
//! GEMM peak is the best of batchprop's own forward kernel, matrixmultiply (AVX-512 kernels
//! on) and, with the `openblas-system` feature, OpenBLAS on a square 1024³ product, best of
//! 10 rounds each, on one thread and on two (columns split over a rayon pool); the report
//! names the one it used, and a row's fraction is of the peak on its thread count.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use batchprop::{Backend, Float, Init, Network, Sgd};
use batchprop_bench::{
    BATCHES, Peak, RULE_CASES, SHAPES, batch, cpu_name, gemm_peak, median, mnist, optimizer, rules, seconds_per_call,
    step_flops,
};
use batchprop_data::{ImageBytes, Mnist, Split};
use batchprop_examples::mnist_dir;
use batchprop_train::{Images, Monitor, Settings, Trainer};
use clap::Parser;
use plotters::prelude::*;
use rand::{SeedableRng, rngs::ChaCha8Rng};
use serde_json::json;

/// Measure the batched speed-up against the per-example loop.
#[derive(Parser, Debug)]
#[command(about, long_about = None)]
struct Args {
    /// Print one JSON object per row instead of the markdown table
    #[arg(long)]
    json: bool,
    /// Fewer, shorter rounds (for a quick look; noisier)
    #[arg(long)]
    quick: bool,
    /// Element types to measure
    #[arg(long, value_delimiter = ',', default_value = "f32,f64")]
    dtypes: Vec<String>,
    /// Network shapes to measure, each as sizes joined by commas (default: the three of the
    /// report and the wide [784,1000,1000,10]), e.g. `--shapes 784,30,10 --shapes 784,100,10`
    #[arg(long = "shapes", value_parser = parse_sizes)]
    shapes: Vec<Vec<usize>>,
    /// Mini-batch sizes to measure
    #[arg(long, value_delimiter = ',', default_values_t = BATCHES)]
    batches: Vec<usize>,
    /// Where to write the plot (f32 rows); "none" for no plot
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/img/speedup.svg"))]
    plot: String,
}

/// One measured row.
struct Row {
    sizes: Vec<usize>,
    batch: usize,
    dtype: &'static str,
    threads: usize,
    batched: f64,       // examples/s of the step
    per_example: f64,   // examples/s of the book's loop, one thread
    epoch: Option<f64>, // examples/s of whole training epochs, where measured
    gflops: f64,
    peak: Peak, // of `threads` threads
}

fn parse_sizes(s: &str) -> Result<Vec<usize>, String> {
    let sizes: Vec<usize> = s
        .split(',')
        .map(|n| n.trim().parse().map_err(|e| format!("{n:?}: {e}")))
        .collect::<Result<_, _>>()?;
    if sizes.len() < 2 || sizes.contains(&0) {
        return Err(format!("{s:?}: a network needs two or more positive sizes"));
    }
    Ok(sizes)
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.shapes.is_empty() {
        args.shapes = SHAPES.iter().map(|s| s.to_vec()).chain([WIDE.to_vec()]).collect();
    }
    let (rounds, seconds, epoch_rounds) = if args.quick { (3, 0.02, 1) } else { (7, 0.1, 5) };
    let mut rows = Vec::new();
    let mut peaks = Vec::new();
    for dtype in &args.dtypes {
        let (peak, peak2, measured) = match dtype.as_str() {
            "f32" => (
                gemm_peak::<f32>(1),
                gemm_peak::<f32>(2),
                measure::<f32>(&args, rounds, seconds, epoch_rounds),
            ),
            "f64" => (
                gemm_peak::<f64>(1),
                gemm_peak::<f64>(2),
                measure::<f64>(&args, rounds, seconds, epoch_rounds),
            ),
            other => {
                eprintln!("error: unknown dtype {other:?} (f32 or f64)");
                return ExitCode::from(2);
            }
        };
        peaks.push((dtype.clone(), 1, peak));
        peaks.push((dtype.clone(), 2, peak2));
        rows.extend(measured.into_iter().map(|mut r| {
            r.peak = if r.threads == 1 { peak } else { peak2 };
            r
        }));
    }

    let cpu = cpu_name();
    let gemm = Backend::current().describe();
    if args.json {
        for r in &rows {
            println!(
                "{}",
                json!({
                    "sizes": r.sizes,
                    "batch": r.batch,
                    "dtype": r.dtype,
                    "threads": r.threads,
                    "gemm": gemm,
                    "cpu": cpu,
                    "batched_examples_per_second": r.batched,
                    "per_example_examples_per_second": r.per_example,
                    "epoch_examples_per_second": r.epoch,
                    "speedup": r.batched / r.per_example,
                    "gflops": r.gflops,
                    "peak_gflops": r.peak.gflops,
                    "peak_by": r.peak.by,
                    "peak_fraction": r.gflops / r.peak.gflops,
                })
            );
        }
    } else {
        println!("Machine: {cpu}; GEMM: {gemm}; medians of {rounds} alternating rounds\n");
        for (dtype, t, peak) in &peaks {
            println!(
                "GEMM peak, {dtype}, {t} thread{}: {:.1} GFLOP/s ({})",
                if *t == 1 { "" } else { "s" },
                peak.gflops,
                peak.by
            );
        }
        println!();
        println!(
            "| network | m | dtype | threads | batched examples/s | per-example examples/s | speed-up | epoch examples/s | epoch / step | GFLOP/s | of peak |"
        );
        println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &rows {
            let (epoch, ratio) = match r.epoch {
                Some(e) => (format!("{e:.0}"), format!("{:.2}", e / r.batched)),
                None => (String::new(), String::new()),
            };
            println!(
                "| {:?} | {} | {} | {} | {:.0} | {:.0} | {:.2}× | {epoch} | {ratio} | {:.1} | {:.0} % |",
                r.sizes,
                r.batch,
                r.dtype,
                r.threads,
                r.batched,
                r.per_example,
                r.batched / r.per_example,
                r.gflops,
                100.0 * r.gflops / r.peak.gflops
            );
        }
    }
    if args.dtypes.iter().any(|d| d == "f32") {
        rule_rows(rounds, seconds, args.json);
    }
    if args.plot != "none" {
        if let Err(e) = plot(&rows, &PathBuf::from(&args.plot)) {
            eprintln!("error: writing the plot: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("Wrote {}", args.plot);
    }
    ExitCode::SUCCESS
}

/// Every shape × batch size in `F`. Each round runs, in turn, the batched step in a
/// one-thread pool, the per-example loop (which has nothing to split), the batched step in
/// a two-thread pool, and for the batch sizes of [`EPOCH_BATCHES`] a whole training epoch
/// in each pool; the medians of the rounds are compared.
fn measure<F: Float + batchprop_data::Float>(
    args: &Args,
    rounds: usize,
    seconds: f64,
    epoch_rounds: usize,
) -> Vec<Row> {
    let data = mnist::<F>();
    let images = mnist_bytes();
    let pools = [1, 2].map(|threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
    });
    let sgd = Sgd::new(0.1).expect("a valid η");
    let mut rows = Vec::new();
    for sizes in &args.shapes {
        let sizes = &sizes[..];
        for &m in &args.batches {
            let (x_buf, y) = batch(&data.train, m);
            let x = x_buf.view(); // X: (784 × m), aligned
            let start = Network::<F>::builder(sizes)
                .init(Init::Scaled)
                .build(&mut ChaCha8Rng::seed_from_u64(0))
                .expect("a valid network");
            let (mut nets, mut per_example) = ([start.clone(), start.clone()], start.clone());
            let mut ws = [nets[0].workspace(m), nets[1].workspace(m)];
            let mut pe = per_example.per_example_workspace();
            let (mut tb, mut tp, mut te) = ([Vec::new(), Vec::new()], Vec::new(), [Vec::new(), Vec::new()]);
            for round in 0..rounds {
                for (t, pool) in pools.iter().enumerate() {
                    let (net, ws) = (&mut nets[t], &mut ws[t]);
                    tb[t].push(pool.install(|| {
                        seconds_per_call(seconds, || net.sgd_step(x, y.view(), &sgd, ws).expect("a step"))
                    }));
                    if t == 0 {
                        tp.push(seconds_per_call(seconds, || {
                            per_example
                                .sgd_step_per_example(x, y.view(), &sgd, &mut pe)
                                .expect("a step")
                        }));
                    }
                    if EPOCH_BATCHES.contains(&m) && round < epoch_rounds && sizes != WIDE {
                        te[t].push(pool.install(|| epoch_seconds(&start, &images, m)));
                    }
                }
            }
            let per_example = m as f64 / median(tp);
            for (t, pool) in pools.iter().enumerate() {
                let threads = pool.current_num_threads();
                let step = median(tb[t].clone());
                let epoch = (!te[t].is_empty()).then(|| images.len() as f64 / median(te[t].clone()));
                eprintln!(
                    "{sizes:?} m={m} {} {threads} thread(s): batched {:.0}/s, per-example {per_example:.0}/s{}",
                    F::NAME,
                    m as f64 / step,
                    epoch.map(|e| format!(", epoch {e:.0}/s")).unwrap_or_default()
                );
                rows.push(Row {
                    sizes: sizes.to_vec(),
                    batch: m,
                    dtype: F::NAME,
                    threads,
                    batched: m as f64 / step,
                    per_example,
                    epoch,
                    gflops: step_flops(sizes, m) / step / 1e9,
                    peak: Peak {
                        gflops: f64::NAN,
                        by: "",
                    },
                });
            }
        }
    }
    rows
}

/// The wide network the peers are compared on (no epoch rows: an epoch takes seconds).
const WIDE: &[usize] = &[784, 1000, 1000, 10];

/// The mini-batch sizes whole epochs are measured at: the book's 10 and 100.
const EPOCH_BATCHES: [usize; 2] = [10, 100];

/// MNIST's 50,000 training images as bytes, the form `examples/mnist` trains from.
fn mnist_bytes() -> ImageBytes {
    let dir = mnist_dir(None, &batchprop_data::MNIST_FILES).unwrap_or_else(|e| panic!("{e}"));
    Mnist::<f32, ImageBytes>::load_bytes_with_limit(dir, Split::Book, u64::MAX)
        .unwrap_or_else(|e| panic!("{e}"))
        .train
}

/// Seconds of one training epoch of `start` on `images` in mini-batches of `m` (η = 0.1),
/// through the trainer as `examples/mnist` runs it: shuffle, gather (bytes converted on the
/// way), step; no evaluation.
fn epoch_seconds<F: Float>(start: &Network<F>, images: &ImageBytes, m: usize) -> f64 {
    let mut net = start.clone();
    let none = Monitor {
        evaluation_cost: false,
        evaluation_accuracy: false,
        training_cost: false,
        training_accuracy: false,
    };
    let settings = Settings::book().epochs(1).batch_size(m).eta(0.1).monitor(none);
    let mut trainer = Trainer::new(settings).expect("valid settings");
    let began = Instant::now();
    trainer
        .fit(&mut net, &Images::new(images), None, &mut ())
        .expect("an epoch");
    began.elapsed().as_secs_f64()
}

/// Each update rule's step beside plain SGD's fused `sgd_step` in the same run, f32, one
/// thread, alternating rounds: the cost of momentum, Nesterov, Adam and AdamW.
fn rule_rows(rounds: usize, seconds: f64, json: bool) {
    let data = mnist::<f32>();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    if !json {
        println!("\nUpdate rules, f32, one thread (plain SGD's fused step in the same rounds):\n");
        println!("| network | m | rule | examples/s | plain SGD examples/s | time per step vs plain SGD |");
        println!("|---|---:|---|---:|---:|---:|");
    }
    pool.install(|| {
        for (sizes, m) in RULE_CASES {
            let (x_buf, y) = batch(&data.train, m);
            let x = x_buf.view(); // X: (784 × m), aligned
            let start = Network::<f32>::builder(sizes)
                .init(Init::Scaled)
                .build(&mut ChaCha8Rng::seed_from_u64(0))
                .expect("a valid network");
            for (name, rule, eta, p) in rules() {
                let (mut plain, mut ruled) = (start.clone(), start.clone());
                let mut ws = plain.workspace(m);
                let sgd = Sgd::new(0.1).expect("a valid η");
                let mut opt = optimizer(&ruled, (rule, eta, p));
                let (mut tp, mut tr) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    tp.push(seconds_per_call(seconds, || {
                        plain.sgd_step(x, y.view(), &sgd, &mut ws).expect("a step")
                    }));
                    tr.push(seconds_per_call(seconds, || {
                        ruled.step(x, y.view(), &mut opt, &mut ws).expect("a step")
                    }));
                }
                let (tp, tr) = (median(tp), median(tr));
                if json {
                    println!(
                        "{}",
                        json!({
                            "rules": true, "sizes": sizes, "batch": m, "dtype": "f32", "threads": 1,
                            "rule": name, "examples_per_second": m as f64 / tr,
                            "sgd_examples_per_second": m as f64 / tp, "time_ratio": tr / tp,
                        })
                    );
                } else {
                    println!(
                        "| {sizes:?} | {m} | {name} | {:.0} | {:.0} | {:.2}× |",
                        m as f64 / tr,
                        m as f64 / tp,
                        tr / tp
                    );
                }
            }
        }
    });
}

/// Examples/s against the batch size, log–log: one colour per shape, batched solid,
/// per-example dashed (f32 rows).
fn plot(rows: &[Row], path: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let rows: Vec<&Row> = rows.iter().filter(|r| r.dtype == "f32" && r.threads == 1).collect();
    if rows.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let lo = rows
        .iter()
        .map(|r| r.per_example.min(r.batched))
        .fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.per_example.max(r.batched)).fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "SGD step on MNIST, f32, one thread: batched vs per-example",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((0.8f64..1250f64).log_scale(), ((lo * 0.7)..(hi * 1.4)).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("mini-batch size m")
            .y_desc("examples per second")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{:.0}k", v / 1e3))
            .draw()?;
        let colors = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44)];
        for (sizes, color) in SHAPES.iter().zip(colors) {
            let of_shape: Vec<&&Row> = rows.iter().filter(|r| r.sizes == *sizes).collect();
            chart
                .draw_series(LineSeries::new(
                    of_shape.iter().map(|r| (r.batch as f64, r.batched)),
                    color.stroke_width(2),
                ))?
                .label(format!("{sizes:?} batched"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart
                .draw_series(DashedLineSeries::new(
                    of_shape.iter().map(|r| (r.batch as f64, r.per_example)),
                    6,
                    4,
                    color.stroke_width(1),
                ))?
                .label(format!("{sizes:?} per-example"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], color.stroke_width(1)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    batchprop::write_atomically(path, svg.as_bytes())?;
    Ok(())
}
