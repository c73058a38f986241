#!/usr/bin/env python3
"""The book's network trained by FANN (the C library; Debian's libfann-dev), for comparison.

Builds fann_mlp.c with the system's C compiler against floatfann (--dtype float32) or
doublefann (float64), writes the MNIST arrays as raw files for it, runs it and reports each
epoch as numpy_mlp.py does. FANN is single-threaded: --threads is accepted (compare.py passes
it) and only 1 is honest.

  --mode per-example   FANN's incremental training: fann_train on each example, the weights
                       updated after every one (--batch-size is ignored)
  --mode batched       FANN's batch training (fann_train_epoch, FANN_TRAIN_BATCH) on each
                       mini-batch in turn: network.py's w -= (eta/m) * sum of the gradients.
                       FANN still runs one example at a time inside the batch.

Sigmoid layers, the quadratic cost's error (FANN_ERRORFUNC_LINEAR), no momentum; the initial
weights are FANN's uniform ones in [-1, 1] (FANN lays out its connections its own way, so
network.py's N(0,1) draws are not copied in). train_seconds covers the shuffle and the
epoch's training, not the test evaluation.

Example:
    python3 fann_mlp.py --mode per-example --epochs 1
    python3 fann_mlp.py --mode batched --batch-size 10 --epochs 2 --json
"""

from cli import parse_training_args, report_epoch, report_summary, training_parser
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist_data import load_mnist  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv=None):
    p = training_parser(__doc__.split("\n")[0], "accepted for compare.py; FANN runs on one thread")
    p.add_argument("--mode", choices=["batched", "per-example"], default="per-example")
    p.add_argument("--cc", default=os.environ.get("CC", "cc"), help="C compiler (default $CC or cc)")
    return parse_training_args(p, argv)


def build(cc, dtype, out_dir):
    """The driver compiled for `dtype`, in out_dir; exits with the compiler's message if
    FANN's headers or libraries are missing."""
    exe = os.path.join(out_dir, "fann_mlp")
    flags = ["-DDOUBLE", "-ldoublefann"] if dtype == "float64" else ["-lfloatfann"]
    command = [cc, "-O2", "-o", exe, os.path.join(HERE, "fann_mlp.c")] + flags + ["-lm"]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as e:
        sys.exit(f"fann_mlp.py: cannot run the C compiler {cc!r} ({e.strerror}): set --cc or $CC")
    if done.returncode != 0:
        sys.exit(f"{done.stderr.strip()}\nfann_mlp.py: building the FANN driver failed: "
                 f"is libfann-dev installed (apt-get install libfann-dev)?")
    return exe


def main(args):
    dtype = np.float64 if args.dtype == "float64" else np.float32
    (tr_x, tr_y), _, (te_x, te_y) = load_mnist(args.data_dir, dtype)
    n = len(tr_y)
    impl = f"fann-{args.mode}"
    human = sys.stderr if args.json else sys.stdout
    work = tempfile.mkdtemp(prefix="fann_mlp.")
    try:
        exe = build(args.cc, args.dtype, work)
        tr_x.tofile(os.path.join(work, "train_x.bin"))
        tr_y.astype(np.uint8).tofile(os.path.join(work, "train_y.bin"))
        te_x.tofile(os.path.join(work, "test_x.bin"))
        print(f"# {impl} sizes={args.sizes} dtype={args.dtype} batch={args.batch_size} "
              f"eta={args.eta} seed={args.seed} threads=1", file=human)
        command = [exe, work, ",".join(map(str, args.sizes)), str(args.epochs), str(args.batch_size),
                   str(args.eta), str(args.seed), "per-example" if args.mode == "per-example" else "batch"]
        records = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as driver:
            for epoch, line in enumerate(driver.stdout):
                seconds, *classes = line.split()
                predicted = [int(c) for c in classes]
                correct = int(np.sum(np.array(predicted) == te_y))
                report_epoch(args, records, epoch, predicted, correct, n, float(seconds), human)
        if driver.returncode != 0 or len(records) != args.epochs:
            sys.exit(f"fann_mlp.py: the FANN driver failed (exit status {driver.returncode})")
        report_summary(args, impl, 1, records, predicted)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(parse_args())
