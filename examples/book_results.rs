//! Reproduces the book's MNIST results table: each configuration trained with seeds 0, 1
//! and 2, the median final accuracy beside the book's figure, and a plot of accuracy per
//! epoch.
//!
//! ```sh
//! cargo run --release --example book_results
//! ```
//!
//! prints the markdown table of `docs/results.md` and writes `docs/img/book_accuracy.svg`.
//! Each run is the same as the `mnist` example with the command printed in the table.

use std::{path::Path, process::ExitCode, time::Instant};

use batchprop::{Cost, Init, Rule};
use batchprop_data::{Mnist, Split};
use batchprop_examples::{Architecture, BoxError, TestAccuracy, examples, mnist_dir};
use batchprop_train::{Monitor, Settings, Trainer};
use plotters::prelude::*;

/// One row of the book's table.
struct Row {
    name: &'static str,
    settings: &'static str,
    flags: &'static str,
    book: f64,
    book_note: &'static str,
    architecture: Architecture,
    run: Settings,
    /// Compare on the validation set (the book's 98.04 % is a validation accuracy).
    validation: bool,
}

fn rows() -> Vec<Row> {
    let book = Settings::book();
    vec![
        Row {
            name: "[784,30,10]",
            settings: "sigmoid, quadratic, η 3.0, mb 10, 30 epochs",
            flags: "",
            book: 95.42,
            book_note: "peak, best of 3 runs",
            architecture: Architecture::book(),
            run: book.clone(),
            validation: false,
        },
        Row {
            name: "[784,100,10]",
            settings: "same",
            flags: " --sizes 784,100,10",
            book: 96.59,
            book_note: "",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                ..Architecture::book()
            },
            run: book.clone(),
            validation: false,
        },
        Row {
            name: "[784,100,10]",
            settings: "cross-entropy, λ 5.0, η 0.1, scaled init, mb 10, 60 epochs",
            flags: " --sizes 784,100,10 --cost cross-entropy --lambda 5.0 --eta 0.1 --init scaled --epochs 60 --monitor",
            book: 98.04,
            book_note: "validation",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                cost: Cost::CrossEntropy,
                init: Init::Scaled,
                ..Architecture::book()
            },
            run: book.clone().lambda(5.0).eta(0.1).epochs(60).monitor(Monitor::all()),
            validation: true,
        },
        // Chapter 3's own rows (network2.py with large_weight_initializer, i.e. N(0, 1)).
        Row {
            name: "[784,30,10]",
            settings: "cross-entropy, η 0.5, mb 10, 30 epochs",
            flags: " --cost cross-entropy --eta 0.5",
            book: 95.49,
            book_note: "chapter 3",
            architecture: Architecture {
                cost: Cost::CrossEntropy,
                ..Architecture::book()
            },
            run: book.clone().eta(0.5),
            validation: false,
        },
        Row {
            name: "[784,100,10]",
            settings: "cross-entropy, η 0.5, mb 10, 30 epochs",
            flags: " --sizes 784,100,10 --cost cross-entropy --eta 0.5",
            book: 96.82,
            book_note: "chapter 3",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                cost: Cost::CrossEntropy,
                ..Architecture::book()
            },
            run: book.clone().eta(0.5),
            validation: false,
        },
        Row {
            name: "[784,100,10]",
            settings: "cross-entropy, λ 5.0, η 0.1, standard init, mb 10, 30 epochs",
            flags: " --sizes 784,100,10 --cost cross-entropy --lambda 5.0 --eta 0.1 --monitor",
            book: 97.92,
            book_note: "validation, chapter 3",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                cost: Cost::CrossEntropy,
                ..Architecture::book()
            },
            run: book.clone().lambda(5.0).eta(0.1).monitor(Monitor::all()),
            validation: true,
        },
        // Rows the book does not have: the update rules every user expects.
        Row {
            name: "[784,100,10]",
            settings: "cross-entropy, momentum 0.9, η 0.01, λ 5.0, scaled init, mb 10, 30 epochs",
            flags: " --sizes 784,100,10 --cost cross-entropy --momentum 0.9 --eta 0.01 --lambda 5.0 --init scaled",
            book: f64::NAN,
            book_note: "",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                cost: Cost::CrossEntropy,
                init: Init::Scaled,
                ..Architecture::book()
            },
            run: book.clone().rule(Rule::Momentum { mu: 0.9 }).eta(0.01).lambda(5.0),
            validation: false,
        },
        Row {
            name: "[784,100,10]",
            settings: "cross-entropy, Adam η 0.001, scaled init, mb 10, 30 epochs",
            flags: " --sizes 784,100,10 --cost cross-entropy --optimizer adam --eta 0.001 --init scaled",
            book: f64::NAN,
            book_note: "",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                cost: Cost::CrossEntropy,
                init: Init::Scaled,
                ..Architecture::book()
            },
            run: book.clone().rule(Rule::adam()).eta(0.001),
            validation: false,
        },
        Row {
            name: "[784,100,10]",
            settings: "cross-entropy, dropout 0.5, η 0.5, scaled init, mb 10, 30 epochs",
            flags: " --sizes 784,100,10 --cost cross-entropy --dropout 0.5 --eta 0.5 --init scaled",
            book: f64::NAN,
            book_note: "",
            architecture: Architecture {
                sizes: vec![784, 100, 10],
                cost: Cost::CrossEntropy,
                init: Init::Scaled,
                ..Architecture::book()
            },
            run: book.dropout(0.5).eta(0.5),
            validation: false,
        },
    ]
}

const SEEDS: [u64; 3] = [0, 1, 2];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let mnist = Mnist::<f32>::load(mnist_dir(None, &batchprop_data::MNIST_FILES)?, Split::Book)?;
    let (train, validation) = (examples(&mnist.train)?, examples(&mnist.validation)?);
    let mut table = vec![
        "| network | settings | command (`cargo run --release --example mnist --`) | final accuracy, seeds 0 / 1 / 2 | median final | peak (best epoch of 3 runs) | book | seconds per run |".to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    // Accuracy per epoch, per run: (row, seed, [%]).
    let mut curves: Vec<(usize, u64, Vec<f64>)> = Vec::new();
    for (r, row) in rows().into_iter().enumerate() {
        let (mut finals, mut peak, mut seconds) = (Vec::new(), 0.0f64, Vec::new());
        for seed in SEEDS {
            let start = Instant::now();
            let mut trainer = Trainer::new(row.run.clone().seed(seed))?;
            let mut net = row.architecture.build::<f32>(trainer.rng())?;
            let mut test = TestAccuracy::new(&mnist.test);
            trainer.fit(&mut net, &train, Some(&validation), &mut test)?;
            let accuracy: Vec<f64> = if row.validation {
                let validation = trainer
                    .history()
                    .iter()
                    .map(|e| e.evaluation.as_ref().and_then(|m| m.accuracy()));
                validation.map(|a| 100.0 * a.unwrap_or(0.0)).collect()
            } else {
                test.correct
                    .iter()
                    .map(|&c| 100.0 * c as f64 / mnist.test.len() as f64)
                    .collect()
            };
            let last = *accuracy.last().expect("at least one epoch");
            let best = accuracy.iter().copied().fold(0.0, f64::max);
            eprintln!(
                "{} {} seed {seed}: final {last:.2} %, best {best:.2} %, {:.1} s",
                row.name,
                row.settings,
                start.elapsed().as_secs_f64()
            );
            finals.push(last);
            seconds.push(format!("{:.1}", start.elapsed().as_secs_f64()));
            peak = peak.max(best);
            curves.push((r, seed, accuracy));
        }
        let per_seed: Vec<String> = finals.iter().map(|a| format!("{a:.2}")).collect();
        let what = if row.validation { " (validation)" } else { "" };
        let note = if row.book_note.is_empty() {
            String::new()
        } else {
            format!(" ({})", row.book_note)
        };
        let book = if row.book.is_nan() {
            "—".to_string()
        } else {
            format!("{:.2} %{note}", row.book)
        };
        table.push(format!(
            "| {} | {} | `{}` | {} | **{:.2} %**{what} | {peak:.2} % | {book} | {} |",
            row.name,
            row.settings,
            if row.flags.is_empty() {
                "(defaults)".to_string()
            } else {
                row.flags.trim().to_string()
            },
            per_seed.join(" / "),
            median(finals),
            seconds.join(" / "),
        ));
    }
    batchprop_examples::outln!("{}", table.join("\n"));
    // The plot shows the book's first table (rows 0–2).
    curves.retain(|(row, _, _)| *row < 3);
    plot(
        &curves,
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/img/book_accuracy.svg")
            .as_path(),
    )?;
    Ok(())
}

/// Draws the curves as SVG, written to `path` atomically.
fn plot(curves: &[(usize, u64, Vec<f64>)], path: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(path.parent().expect("a directory"))?;
    let mut svg = String::new();
    draw(curves, &mut svg)?;
    Ok(batchprop::write_atomically(path, svg.as_bytes())?)
}

fn draw(curves: &[(usize, u64, Vec<f64>)], svg: &mut String) -> Result<(), BoxError> {
    let root = SVGBackend::with_string(svg, (760, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let epochs = curves.iter().map(|c| c.2.len()).max().unwrap_or(1);
    let mut chart = ChartBuilder::on(&root)
        .caption("MNIST accuracy per epoch, seeds 0, 1, 2", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..(epochs as f64 - 1.0), 75f64..99f64)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("accuracy (%)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let colors = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44)];
    let labels = [
        "[784,30,10] quadratic, test",
        "[784,100,10] quadratic, test",
        "[784,100,10] cross-entropy λ 5, validation",
    ];
    for (row, seed, accuracy) in curves {
        let color = colors[*row];
        let series = chart.draw_series(LineSeries::new(
            accuracy.iter().enumerate().map(|(e, &a)| (e as f64, a)),
            color.stroke_width(if *seed == 0 { 2 } else { 1 }),
        ))?;
        if *seed == 0 {
            series
                .label(labels[*row])
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
