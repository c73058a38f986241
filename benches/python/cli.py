"""The flags numpy_mlp.py and torch_mlp.py share. No numpy here: numpy_mlp.py parses its flags
before importing numpy, so that the BLAS thread variables are set first."""

import argparse


def training_parser(description, threads_help):
    """The flags numpy_mlp.py and torch_mlp.py share (the book's SGD settings)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--sizes", default="784,30,10",
                   help="layer sizes, comma-separated (default 784,30,10)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--eta", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=int, default=1, help=threads_help)
    p.add_argument("--data-dir", default=None,
                   help="directory of the MNIST .gz files (default ../../data/mnist)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per epoch and a summary on stdout "
                        "(human-readable lines go to stderr)")
    return p


def parse_training_args(p, argv=None):
    """Parses and checks the shared flags; `sizes` becomes a list of ints."""
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    if len(args.sizes) < 2 or any(s <= 0 for s in args.sizes):
        p.error("--sizes needs at least two positive integers")
    if args.batch_size <= 0 or args.epochs <= 0 or args.threads <= 0:
        p.error("--batch-size, --epochs and --threads must be positive")
    return args
