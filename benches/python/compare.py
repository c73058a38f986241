#!/usr/bin/env python3
"""Runs batchprop and its peers on the same training loop, one after another, and prints one
table.

The loop is the book's: [784,30,10], sigmoid, quadratic cost, SGD with eta = 3.0,
mini-batches of 10, 50,000 training images per epoch, one thread everywhere. Each program
runs a few epochs; the table gives the median epoch's training time (the SGD loop, shuffle
and batch gathering included, evaluation excluded) and examples/s, and the final test
accuracy.

    python3 compare.py                 # all peers (needs numpy, torch, scikit-learn and
                                       # libfann-dev, see README.md)
    python3 compare.py --skip torch    # without PyTorch
    python3 compare.py --json          # one JSON object per row
    python3 compare.py --sizes 784,1000,1000,10 --batch-size 100,1000 --threads 1,2 --epochs 1 \
        --skip per-example             # a sweep: every size x batch x thread count

FANN's incremental (per-example) training updates the weights after every example, so it
gets eta = 0.3, the book's 3.0 spread over its 10 examples; scikit-learn's output layer is a
softmax with the log-loss, which gets chapter 3's eta = 0.5 for that cost. FANN is
single-threaded and has rows at one thread only.

The Rust rows run `cargo run --release --example mnist` from the repository, with
`--threads` as given (1 by default: batchprop would otherwise use every core), the Python
ones with their BLAS and torch pinned to the same count.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from cli import pinned_environment, positive_ints

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def runs(epochs, sizes, batch, threads):
    """(name, dtype, command) for every program compared, on one network, batch size and
    thread count."""
    common = ["--sizes", sizes, "--batch-size", str(batch), "--threads", str(threads), "--json"]
    rust = ["cargo", "run", "--quiet", "--release", "--example", "mnist", "--"] + common
    py = [sys.executable]
    half = str(max(1, epochs // 2))
    numpy = py + [os.path.join(HERE, "numpy_mlp.py")] + common
    fann = py + [os.path.join(HERE, "fann_mlp.py")] + common + ["--dtype", "float32"]
    sklearn = py + [os.path.join(HERE, "sklearn_mlp.py")] + common + ["--dtype", "float32", "--eta", "0.5"]
    # FANN runs on one thread whatever it is given: no rows for more.
    fann_rows = [] if threads > 1 else [
        ("FANN per-example (incremental)", "f32", fann + ["--mode", "per-example", "--eta", "0.3", "--epochs", half]),
        ("FANN batch (per mini-batch)", "f32", fann + ["--mode", "batched", "--epochs", half]),
    ]
    return [
        ("batchprop batched", "f32", rust + ["--epochs", str(epochs)]),
        ("batchprop batched", "f64", rust + ["--epochs", str(epochs), "--dtype", "f64"]),
        ("batchprop per-example", "f32", rust + ["--epochs", str(epochs), "--per-example"]),
        ("numpy batched", "f32", numpy + ["--mode", "batched", "--dtype", "float32", "--epochs", str(epochs)]),
        ("numpy batched", "f64", numpy + ["--mode", "batched", "--dtype", "float64", "--epochs", str(epochs)]),
        ("numpy per-example (network.py)", "f32", numpy + ["--mode", "per-example", "--dtype", "float32", "--epochs", half]),
        ("PyTorch eager (autograd + SGD)", "f32", py + [os.path.join(HERE, "torch_mlp.py")] + common + ["--dtype", "float32", "--epochs", half]),
        ("scikit-learn MLPClassifier (softmax output, log-loss, eta 0.5)", "f32", sklearn + ["--epochs", half]),
    ] + fann_rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="epochs per program (halved for the slow ones)")
    p.add_argument("--skip", default="", help="comma-separated words: skip rows whose name contains one (e.g. torch)")
    p.add_argument("--sizes", default=["784,30,10"], nargs="+", type=sizes_text,
                   help="network sizes, e.g. 784,30,10 (several: a sweep)")
    p.add_argument("--batch-size", default=[10], type=positive_ints, help="mini-batch sizes, comma-separated")
    p.add_argument("--threads", default=[1], type=positive_ints, help="thread counts, comma-separated")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    skip = [w for w in args.skip.split(",") if w]
    cases = [(s, b, t) for s in args.sizes for b in args.batch_size for t in args.threads]

    rows = []
    for (sizes, batch, threads) in cases:
        rows += run_case(args.epochs, sizes, batch, threads, skip)
    print_rows(rows, args.json)


def sizes_text(text):
    """An argparse type: a network's sizes as the programs take them (784,30,10)."""
    sizes = positive_ints(text)
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a network needs at least two sizes")
    return ",".join(map(str, sizes))


def run_case(epochs, sizes, batch, threads, skip):
    """Every program's row for one network, batch size and thread count."""
    rows = []
    for name, dtype, command in runs(epochs, sizes, batch, threads):
        if any(w.lower() in name.lower() for w in skip):
            continue
        env = pinned_environment(threads)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name} {dtype}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        epochs = [json.loads(l) for l in done.stdout.splitlines() if l.startswith("{") and '"epoch"' in l and '"summary"' not in l]
        seconds = statistics.median(e["train_seconds"] for e in epochs)
        rows.append({
            "impl": name,
            "dtype": dtype,
            "sizes": sizes,
            "batch": batch,
            "threads": threads,
            "epochs": len(epochs),
            "median_epoch_seconds": seconds,
            "examples_per_second": 50_000 / seconds,
            "final_test_correct": epochs[-1]["test_correct"],
        })
        print(f"[{sizes}] m={batch} {threads} thread(s): {name} {dtype}: {seconds:.3f} s/epoch", file=sys.stderr)
    return rows


def print_rows(rows, as_json):
    """The rows as JSON lines, or one markdown table; the ratio is to numpy batched f32 on
    the same network, batch size and thread count."""
    if as_json:
        for r in rows:
            print(json.dumps(r))
        return
    print("| network | m | threads | implementation | dtype | epochs run | s / epoch (median) | examples/s | vs numpy batched f32 | test accuracy after the last epoch |")
    print("|---|---:|---:|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        case = (r["sizes"], r["batch"], r["threads"])
        base = next((b for b in rows if (b["sizes"], b["batch"], b["threads"]) == case
                     and b["impl"] == "numpy batched" and b["dtype"] == "f32"), None)
        ratio = f"{r['examples_per_second'] / base['examples_per_second']:.2f}×" if base else "–"
        print(f"| [{r['sizes']}] | {r['batch']} | {r['threads']} | {r['impl']} | {r['dtype']} | {r['epochs']} | "
              f"{r['median_epoch_seconds']:.3f} | {r['examples_per_second']:,.0f} | {ratio} | {r['final_test_correct'] / 100:.2f} % |")


if __name__ == "__main__":
    main()
