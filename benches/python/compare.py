#!/usr/bin/env python3
"""Runs batchprop and its peers on the same training loop, one after another, and prints one
table.

The loop is the book's: [784,30,10], sigmoid, quadratic cost, SGD with eta = 3.0,
mini-batches of 10, 50,000 training images per epoch, one thread everywhere. Each program
runs a few epochs; the table gives the median epoch's training time (the SGD loop, shuffle
and batch gathering included, evaluation excluded) and examples/s, and the final test
accuracy.

    python3 compare.py                 # all peers (needs numpy and torch, see README.md)
    python3 compare.py --skip torch    # without PyTorch
    python3 compare.py --json          # one JSON object per row

The Rust rows run `cargo run --release --example mnist` from the repository.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def runs(epochs):
    """(name, dtype, command) for every program compared."""
    rust = ["cargo", "run", "--quiet", "--release", "--example", "mnist", "--", "--json"]
    py = [sys.executable]
    return [
        ("batchprop batched", "f32", rust + ["--epochs", str(epochs)]),
        ("batchprop batched", "f64", rust + ["--epochs", str(epochs), "--dtype", "f64"]),
        ("batchprop per-example", "f32", rust + ["--epochs", str(epochs), "--per-example"]),
        ("numpy batched", "f32", py + [os.path.join(HERE, "numpy_mlp.py"), "--mode", "batched", "--dtype", "float32", "--epochs", str(epochs), "--json"]),
        ("numpy batched", "f64", py + [os.path.join(HERE, "numpy_mlp.py"), "--mode", "batched", "--dtype", "float64", "--epochs", str(epochs), "--json"]),
        ("numpy per-example (network.py)", "f32", py + [os.path.join(HERE, "numpy_mlp.py"), "--mode", "per-example", "--dtype", "float32", "--epochs", str(max(1, epochs // 2)), "--json"]),
        ("PyTorch eager (autograd + SGD)", "f32", py + [os.path.join(HERE, "torch_mlp.py"), "--dtype", "float32", "--epochs", str(max(1, epochs // 2)), "--json"]),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=5, help="epochs per program (halved for the slow ones)")
    p.add_argument("--skip", default="", help="comma-separated words: skip rows whose name contains one (e.g. torch)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    skip = [w for w in args.skip.split(",") if w]

    rows = []
    for name, dtype, command in runs(args.epochs):
        if any(w.lower() in name.lower() for w in skip):
            continue
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name} {dtype}: failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            continue
        epochs = [json.loads(l) for l in done.stdout.splitlines() if l.startswith("{") and '"epoch"' in l and '"summary"' not in l]
        seconds = statistics.median(e["train_seconds"] for e in epochs)
        rows.append({
            "impl": name,
            "dtype": dtype,
            "epochs": len(epochs),
            "median_epoch_seconds": seconds,
            "examples_per_second": 50_000 / seconds,
            "final_test_correct": epochs[-1]["test_correct"],
        })
        print(f"{name} {dtype}: {seconds:.3f} s/epoch", file=sys.stderr)

    if args.json:
        for r in rows:
            print(json.dumps(r))
        return
    base = next((r for r in rows if r["impl"] == "numpy batched" and r["dtype"] == "f32"), None)
    print("| implementation | dtype | epochs run | s / epoch (median) | examples/s | vs numpy batched f32 | test accuracy after the last epoch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = f"{r['examples_per_second'] / base['examples_per_second']:.2f}×" if base else "–"
        print(f"| {r['impl']} | {r['dtype']} | {r['epochs']} | {r['median_epoch_seconds']:.3f} | {r['examples_per_second']:,.0f} | {ratio} | {r['final_test_correct'] / 100:.2f} % |")


if __name__ == "__main__":
    main()
