"""The flags numpy_mlp.py and torch_mlp.py share. No numpy here: numpy_mlp.py parses its flags
before importing numpy, so that the BLAS thread variables are set first."""

import argparse
import json
import os
import statistics


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pinned_environment(threads):
    """os.environ with every BLAS/OpenMP thread variable set to `threads`: for a child
    process, whose BLAS reads them once, when it loads."""
    return dict(os.environ, **{v: str(threads) for v in THREAD_VARIABLES})


def positive_ints(text):
    """An argparse type: comma-separated positive integers, e.g. `100,1000`."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of positive integers, e.g. 100,1000")
    return values


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


def report_epoch(args, records, epoch, predicted, correct, n, train_seconds, human):
    """Records and prints one epoch: `predicted` is the list of predicted test classes."""
    rec = {
        "epoch": epoch,
        "test_correct": correct,
        "test_total": len(predicted),
        "train_seconds": train_seconds,
        "examples_per_second": n / train_seconds,
        "classes_predicted": len(set(predicted)),
    }
    records.append(rec)
    print(f"Epoch {epoch}: {correct} / {len(predicted)}  "
          f"(train {train_seconds:.2f} s, {n / train_seconds:,.0f} examples/s, "
          f"{rec['classes_predicted']} classes predicted)", file=human, flush=True)
    if args.json:
        print(json.dumps(rec), flush=True)


def report_summary(args, impl, threads, records, predicted):
    """Prints the run's summary: `predicted` is the final network's list of test classes."""
    summary = {
        "summary": True,
        "impl": impl,
        "dtype": args.dtype,
        "sizes": args.sizes,
        "batch_size": args.batch_size,
        "eta": args.eta,
        "seed": args.seed,
        "epochs": args.epochs,
        "threads": threads,
        "median_epoch_seconds": statistics.median(r["train_seconds"] for r in records),
        "examples_per_second": statistics.median(r["examples_per_second"] for r in records),
        "final_test_correct": records[-1]["test_correct"],
        "best_test_correct": max(r["test_correct"] for r in records),
        # how many test images the final network assigns to each class (argmax);
        # a 0 is a class never predicted, e.g. a saturated output neuron
        "final_predicted_per_class": [predicted.count(c) for c in range(args.sizes[-1])],
    }
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"median epoch {summary['median_epoch_seconds']:.2f} s, "
              f"{summary['examples_per_second']:,.0f} examples/s; final "
              f"{summary['final_test_correct']}, best {summary['best_test_correct']}")
