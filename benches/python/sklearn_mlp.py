#!/usr/bin/env python3
"""The book's network shape trained by scikit-learn's MLPClassifier, for comparison.

MLPClassifier(hidden_layer_sizes=sizes[1:-1], activation="logistic", solver="sgd",
batch_size=m, learning_rate_init=eta, momentum=0, alpha=0): plain mini-batch SGD on
sigmoid hidden layers, w -= (eta/m) * sum of the gradients, the data shuffled each epoch.
One difference scikit-learn does not let go: its output layer is a softmax with the log-loss
(cross-entropy), not sigmoids with the quadratic cost, so its error signal is a - y rather
than (a - y) sigma'(z); compare.py gives it chapter 3's eta for that cost, 0.5.

Each epoch is one partial_fit on the 50,000 training images (one pass of mini-batches, its
own shuffle, its loss summed as it goes); train_seconds covers that call, not the test
evaluation. float32 data keeps scikit-learn in float32. Threads: its products run in NumPy's
BLAS, pinned to --threads through the thread variables, set before NumPy is imported.

Example:
    python3 sklearn_mlp.py --epochs 1 --eta 0.5
    python3 sklearn_mlp.py --sizes 784,100,10 --batch-size 100 --eta 0.5 --json
"""

from cli import THREAD_VARIABLES, parse_training_args, report_epoch, report_summary, training_parser
import os
import sys
import time


def parse_args(argv=None):
    p = training_parser(__doc__.split("\n")[0], "BLAS threads (default 1)")
    return parse_training_args(p, argv)


ARGS = parse_args()
for _var in THREAD_VARIABLES:
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist_data import load_mnist  # noqa: E402


def main(args):
    dtype = np.float64 if args.dtype == "float64" else np.float32
    (tr_x, tr_y), _, (te_x, te_y) = load_mnist(args.data_dir, dtype)
    n = len(tr_y)
    classes = np.arange(args.sizes[-1])
    clf = MLPClassifier(hidden_layer_sizes=tuple(args.sizes[1:-1]), activation="logistic",
                        solver="sgd", batch_size=args.batch_size, learning_rate="constant",
                        learning_rate_init=args.eta, momentum=0.0, nesterovs_momentum=False,
                        alpha=0.0, shuffle=True, random_state=args.seed)
    human = sys.stderr if args.json else sys.stdout
    impl = "sklearn-mlpclassifier"
    print(f"# {impl} sizes={args.sizes} dtype={args.dtype} batch={args.batch_size} eta={args.eta} "
          f"seed={args.seed} threads={args.threads} scikit-learn={sklearn.__version__}", file=human)
    records = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        clf.partial_fit(tr_x, tr_y, classes=classes)
        train_seconds = time.perf_counter() - t0
        pred = clf.predict(te_x)
        correct = int(np.sum(pred == te_y))
        report_epoch(args, records, epoch, pred.tolist(), correct, n, train_seconds, human)
    report_summary(args, impl, args.threads, records, pred.tolist())


if __name__ == "__main__":
    main(ARGS)
