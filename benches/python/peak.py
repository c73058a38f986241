#!/usr/bin/env python3
"""The square-GEMM peak of NumPy's BLAS and PyTorch's CPU backend, for the speedup report's
"% of peak" to be read against.

Best of 10 products of two 1024 x 1024 matrices, in GFLOP/s (2 n^3 FLOPs each), for f32 and
f64, on 1 and 2 threads. Each thread count runs in its own process, because BLAS reads its
thread variables once, when it loads.

    python3 peak.py            # a markdown table
    python3 peak.py --json     # one JSON object per row

The speedup report (`cargo run --release -p batchprop-bench --bin speedup`) prints its own
peak, the best of batchprop's kernels, matrixmultiply and (with the openblas-system feature)
OpenBLAS; run the two one after the other to compare them on the same machine.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from cli import pinned_environment

N = 1024


def best_gflops(matmul, a, b, calls=10):
    matmul(a, b)  # warm up: page in, pick the kernel
    best = float("inf")
    for _ in range(calls):
        began = time.perf_counter()
        matmul(a, b)
        best = min(best, time.perf_counter() - began)
    return 2 * N**3 / best / 1e9


def measure(threads):
    """Rows for this process, whose thread variables are already set."""
    rows = []
    import numpy as np

    config = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
    blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "BLAS") if config else "BLAS"
    for dtype in ("float32", "float64"):
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((N, N)).astype(dtype) for _ in range(2))
        rows.append({"lib": f"numpy {np.__version__} ({blas})", "dtype": dtype, "threads": threads,
                     "gflops": best_gflops(np.matmul, a, b)})
    try:
        import torch
    except ImportError:
        return rows
    torch.set_num_threads(threads)
    for dtype in (torch.float32, torch.float64):
        a, b = (torch.randn(N, N, dtype=dtype) for _ in range(2))
        rows.append({"lib": f"torch {torch.__version__}", "dtype": str(dtype).removeprefix("torch."),
                     "threads": threads, "gflops": best_gflops(torch.matmul, a, b)})
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--threads", type=int, help=argparse.SUPPRESS)  # the child process's count
    args = p.parse_args()
    if args.threads:
        for row in measure(args.threads):
            print(json.dumps(row))
        return
    rows = []
    for threads in (1, 2):
        done = subprocess.run([sys.executable, __file__, "--threads", str(threads)], env=pinned_environment(threads),
                              capture_output=True, text=True, check=True)
        rows += [json.loads(line) for line in done.stdout.splitlines()]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return
    print("| library | dtype | threads | GFLOP/s (1024³, best of 10) |")
    print("|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['lib']} | {r['dtype']} | {r['threads']} | {r['gflops']:.1f} |")


if __name__ == "__main__":
    main()
