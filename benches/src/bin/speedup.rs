//! The speed-up report: the batched engine against the book's per-example loop on real MNIST
//! mini-batches, for every network shape, batch size and dtype, beside the machine's GEMM
//! peak.
//!
//! ```sh
//! cargo run --release -p batchprop-bench --bin speedup            # markdown table + plot
//! cargo run --release -p batchprop-bench --bin speedup -- --json  # one JSON object per row
//! ```
//!
//! For each row the two paths run alternately (batched, per-example, batched, …) for several
//! rounds and the medians are compared, so that the ratio holds on a noisy machine. The
//! headline rows run in a one-thread rayon pool; the two-thread rows run afterwards in a
//! two-thread pool (the per-example loop has nothing to split and stays on one thread). The GEMM peak is the better of matrixmultiply (AVX-512 kernels on)
//! and batchprop's own forward kernel on a square 1024³ product, best of 10 rounds, on one
//! thread and on two (columns split over a rayon pool); a row's fraction is of the one-thread
//! peak.

use std::{path::PathBuf, process::ExitCode};

use batchprop::{Backend, Float, Init, Network, Sgd};
use batchprop_bench::{
    BATCHES, RULE_CASES, SHAPES, batch, cpu_name, gemm_peak, median, mnist, optimizer, rules, seconds_per_call,
    step_flops,
};
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
    batched: f64,     // examples/s
    per_example: f64, // examples/s
    gflops: f64,
    peak: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (rounds, seconds) = if args.quick { (3, 0.02) } else { (7, 0.1) };
    let mut rows = Vec::new();
    let mut peaks = Vec::new();
    for dtype in &args.dtypes {
        let (peak, peak2, measured) = match dtype.as_str() {
            "f32" => (
                gemm_peak::<f32>(1),
                gemm_peak::<f32>(2),
                measure::<f32>(rounds, seconds),
            ),
            "f64" => (
                gemm_peak::<f64>(1),
                gemm_peak::<f64>(2),
                measure::<f64>(rounds, seconds),
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
                    "speedup": r.batched / r.per_example,
                    "gflops": r.gflops,
                    "peak_gflops": r.peak,
                    "peak_fraction": r.gflops / r.peak,
                })
            );
        }
    } else {
        println!("Machine: {cpu}; GEMM: {gemm}; medians of {rounds} alternating rounds\n");
        for (dtype, t, peak) in &peaks {
            println!(
                "GEMM peak, {dtype}, {t} thread{}: {peak:.1} GFLOP/s",
                if *t == 1 { "" } else { "s" }
            );
        }
        println!();
        println!(
            "| network | m | dtype | threads | batched examples/s | per-example examples/s | speed-up | GFLOP/s | of peak |"
        );
        println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
        for r in &rows {
            println!(
                "| {:?} | {} | {} | {} | {:.0} | {:.0} | {:.2}× | {:.1} | {:.0} % |",
                r.sizes,
                r.batch,
                r.dtype,
                r.threads,
                r.batched,
                r.per_example,
                r.batched / r.per_example,
                r.gflops,
                100.0 * r.gflops / r.peak
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

/// Every shape × batch size in `F`, the two paths alternating for `rounds` rounds: first all
/// of them in a one-thread pool, then, in a separate two-thread pool, the batches large
/// enough for the engine to split (m ≥ 32). The per-example loop never splits.
fn measure<F: Float + batchprop_data::Float>(rounds: usize, seconds: f64) -> Vec<Row> {
    let data = mnist::<F>();
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        rows.extend(pool.install(|| measure_in_pool(&data, threads, rounds, seconds)));
    }
    rows
}

fn measure_in_pool<F: Float + batchprop_data::Float>(
    data: &batchprop_data::Mnist<F>,
    threads: usize,
    rounds: usize,
    seconds: f64,
) -> Vec<Row> {
    let sgd = Sgd::new(0.1).expect("a valid η");
    let mut rows = Vec::new();
    for sizes in SHAPES {
        for m in BATCHES.into_iter().filter(|&m| threads == 1 || m >= 32) {
            let (x, y) = batch(&data.train, m);
            let start = Network::<F>::builder(sizes)
                .init(Init::Scaled)
                .build(&mut ChaCha8Rng::seed_from_u64(0))
                .expect("a valid network");
            let (mut batched, mut per_example) = (start.clone(), start);
            let mut ws = batched.workspace(m);
            let mut pe = per_example.per_example_workspace();
            let (mut tb, mut tp) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                tb.push(seconds_per_call(seconds, || {
                    batched.sgd_step(x, y.view(), &sgd, &mut ws).expect("a step")
                }));
                tp.push(seconds_per_call(seconds, || {
                    per_example
                        .sgd_step_per_example(x, y.view(), &sgd, &mut pe)
                        .expect("a step")
                }));
            }
            let (tb, tp) = (median(tb), median(tp));
            eprintln!(
                "{sizes:?} m={m} {} {threads} thread(s): batched {:.0}/s, per-example {:.0}/s",
                F::NAME,
                m as f64 / tb,
                m as f64 / tp
            );
            rows.push(Row {
                sizes: sizes.to_vec(),
                batch: m,
                dtype: F::NAME,
                threads,
                batched: m as f64 / tb,
                per_example: m as f64 / tp,
                gflops: step_flops(sizes, m) / tb / 1e9,
                peak: f64::NAN,
            });
        }
    }
    rows
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
            let (x, y) = batch(&data.train, m);
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
