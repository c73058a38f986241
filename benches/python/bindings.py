#!/usr/bin/env python3
"""The Python bindings against their references, side by side in one run.

  book     batchprop.network's SGD on the book's list-of-tuples data ([784, 30, 10], eta 3.0,
           mini-batches of 10; the conversion of the lists and each epoch's test evaluation
           inside the time) against examples/mnist (its training examples/s) and against
           the book's network.py arithmetic (numpy_mlp.py --mode per-example, one epoch).
  sklearn  batchprop.sklearn.MLPClassifier against sklearn.neural_network.MLPClassifier with
           the same settings (hidden (100,), solver sgd and adam, batch 10 and 200, the same
           epochs: n_iter_no_change is set so that neither stops early), on MNIST (60,000
           training images, float32) and the digits table (scaled, 75/25 split): fit seconds
           and test accuracy.

Every implementation is pinned to --threads (BLAS and OpenMP variables, RAYON_NUM_THREADS),
set before NumPy or batchprop is imported. Rounds alternate the implementations; the
medians are printed as Markdown tables.

    pip install ./crates/python scikit-learn
    cargo build --release --example mnist
    python3 benches/python/bindings.py --rounds 3
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from cli import THREAD_VARIABLES, positive_ints  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parts", default="book,sklearn", help="book, sklearn or both (default)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=positive_ints, default=[1], help="threads for every implementation")
    p.add_argument("--epochs", type=int, default=5, help="epochs of the book's run (default 5)")
    p.add_argument("--sklearn-epochs", type=int, default=3, help="epochs of each MLPClassifier fit on MNIST (default 3)")
    p.add_argument("--digits-epochs", type=int, default=100,
                   help="epochs of each fit on the digits table (default 100: a fit of 3 takes milliseconds)")
    p.add_argument("--sets", default="MNIST,digits", help="the sklearn part's data sets (default MNIST,digits)")
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--data", default=str(REPO / "data" / "mnist"))
    p.add_argument("--mnist-bin", default=str(REPO / "target" / "release" / "examples" / "mnist"))
    return p.parse_args()


ARGS = parse_args()
THREADS = ARGS.threads[0]
for _v in (*THREAD_VARIABLES, "RAYON_NUM_THREADS"):
    os.environ[_v] = str(THREADS)

import contextlib  # noqa: E402
import io  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import batchprop  # noqa: E402
import batchprop.mnist_loader as mnist_loader  # noqa: E402
import batchprop.network as network  # noqa: E402


def book_bindings(data, dtype, epochs):
    training_data, _, test_data = data
    np.random.seed(0)
    net = network.Network([784, 30, 10], dtype=dtype)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        start = time.perf_counter()
        net.SGD(training_data, epochs, 10, 3.0, test_data=test_data)
        seconds = time.perf_counter() - start
    train = statistics.median(r["examples_per_second"] for r in net._history)
    return epochs * len(training_data) / seconds, train


def book_rust(dtype, epochs):
    out = subprocess.run([ARGS.mnist_bin, "--data", ARGS.data, "--epochs", str(epochs), "--dtype",
                          {"float64": "f64", "float32": "f32"}[dtype], "--threads", str(THREADS), "--json"],
                         check=True, capture_output=True, text=True).stdout
    summary = json.loads(out.splitlines()[-1])
    epochs = [json.loads(line) for line in out.splitlines()[:-1]]
    return summary["examples_per_second"]


def book_numpy(dtype):
    out = subprocess.run([sys.executable, str(HERE / "numpy_mlp.py"), "--mode", "per-example", "--epochs", "1",
                          "--dtype", dtype, "--threads", str(THREADS), "--data-dir", ARGS.data, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[0])["examples_per_second"]


def book_part():
    data = mnist_loader.load_data_wrapper(ARGS.data)
    dtypes = ARGS.dtypes.split(",")
    rows = {d: {"whole": [], "train": [], "rust": [], "numpy": []} for d in dtypes}
    for r in range(ARGS.rounds):
        for dtype in dtypes:
            row = rows[dtype]
            whole, train = book_bindings(data, dtype, ARGS.epochs)
            row["whole"].append(whole)
            row["train"].append(train)
            row["rust"].append(book_rust(dtype, ARGS.epochs))
            row["numpy"].append(book_numpy(dtype))
            print(f"# round {r} {dtype}: bindings {whole:,.0f} (training {train:,.0f}), examples/mnist "
                  f"{row['rust'][-1]:,.0f}, network.py {row['numpy'][-1]:,.0f} examples/s", file=sys.stderr, flush=True)

    def ratio(row, a, b):
        return statistics.median(x / y for x, y in zip(row[a], row[b]))

    print(f"\nThe book's run, [784, 30, 10], eta 3.0, mb 10, {ARGS.epochs} epochs, {THREADS} thread(s), "
          f"{batchprop.isa()} kernels; examples/s, medians of {ARGS.rounds} rounds (ratios: the median of each "
          "round's). 'whole': SGD's wall time, the conversion of the lists and each epoch's test evaluation "
          "included; 'training': the trainer's own epoch times, as examples/mnist reports them.\n")
    print("| dtype | batchprop.network, whole | batchprop.network, training | examples/mnist, training "
          "| whole / mnist | training / mnist | network.py (NumPy) | whole / network.py |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for dtype, row in rows.items():
        print(f"| {dtype} | {statistics.median(row['whole']):,.0f} | {statistics.median(row['train']):,.0f} "
              f"| {statistics.median(row['rust']):,.0f} | {ratio(row, 'whole', 'rust'):.2f} "
              f"| {ratio(row, 'train', 'rust'):.2f} | {statistics.median(row['numpy']):,.0f} "
              f"| {ratio(row, 'whole', 'numpy'):.1f}x |")


def sklearn_datasets():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    (x, y), _, (xt, yt) = batchprop._batchprop.load_mnist(ARGS.data, full=True)
    X, Y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xd, Xdt, yd, ydt = train_test_split(X, Y, random_state=0)
    return {"MNIST": (x, y, xt, yt), "digits": (Xd, yd, Xdt, ydt)}


def sklearn_part():
    import sklearn
    import sklearn.neural_network as sknn
    from sklearn.exceptions import ConvergenceWarning

    import batchprop.sklearn as bpsk

    sets = {k: v for k, v in sklearn_datasets().items() if k in ARGS.sets.split(",")}
    configs = [(name, solver, bs) for name in sets for solver in ("sgd", "adam") for bs in (10, 200)]
    results = {c: {"ours": [], "theirs": [], "acc": None} for c in configs}
    for r in range(ARGS.rounds):
        for c in configs:
            name, solver, bs = c
            x, y, xt, yt = sets[name]
            epochs = ARGS.sklearn_epochs if name == "MNIST" else ARGS.digits_epochs
            kw = dict(hidden_layer_sizes=(100,), solver=solver, batch_size=bs, max_iter=epochs,
                      n_iter_no_change=epochs + 1, random_state=0,
                      learning_rate_init=0.001 if solver == "adam" else 0.01)
            row = []
            for which, cls in (("ours", bpsk.MLPClassifier), ("theirs", sknn.MLPClassifier)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    clf = cls(**kw).fit(x, y)
                    seconds = time.perf_counter() - start
                results[c][which].append((seconds, clf.score(xt, yt), clf.n_iter_))
                row.append(f"{which} {seconds:.2f} s {results[c][which][-1][1]:.4f}")
            print(f"# round {r} {c}: " + ", ".join(row), file=sys.stderr, flush=True)
    print(f"\nMLPClassifier, hidden (100,), {ARGS.sklearn_epochs} epochs on MNIST, {ARGS.digits_epochs} on digits, "
          f"{THREADS} thread(s), scikit-learn "
          f"{sklearn.__version__}, NumPy {np.__version__}; fit seconds: medians of {ARGS.rounds} rounds\n")
    print("| data | solver | batch | batchprop.sklearn s | scikit-learn s | speedup | accuracy batchprop "
          "| accuracy scikit-learn |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (name, solver, bs), res in results.items():
        ours = statistics.median(s for s, _, _ in res["ours"])
        theirs = statistics.median(s for s, _, _ in res["theirs"])
        speedup = statistics.median(t[0] / o[0] for o, t in zip(res["ours"], res["theirs"]))
        print(f"| {name} | {solver} | {bs} | {ours:.2f} | {theirs:.2f} | {speedup:.1f}x "
              f"| {res['ours'][-1][1]:.4f} | {res['theirs'][-1][1]:.4f} |")


if __name__ == "__main__":
    parts = ARGS.parts.split(",")
    if "book" in parts:
        book_part()
    if "sklearn" in parts:
        sklearn_part()
