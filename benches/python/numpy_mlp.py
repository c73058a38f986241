#!/usr/bin/env python3
"""The book's network.py (Nielsen, ch. 1-2) in numpy, per-example or batched.

Sigmoid layers, quadratic cost C = 1/(2n) sum ||y - a||^2, plain SGD, N(0,1)
initialisation of every weight and bias, the training set shuffled each epoch.

  --mode per-example   network.py's update_mini_batch/backprop: one example at
                       a time as a column vector, nabla_b/nabla_w summed over the
                       mini-batch, then w -= eta/m * nabla_w, b -= eta/m * nabla_b.
  --mode batched       the whole mini-batch as a matrix X of shape (784, m):
                       Z = W @ A + b, BP1-BP4 as matrix products, one update per
                       mini-batch.

Threads: OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS are set in
os.environ from --threads (default 1, i.e. single-threaded BLAS) BEFORE numpy is
imported, because BLAS reads them only once, at load time. Variables already
set in the environment are overridden by --threads.

Timing: train_seconds covers the SGD loop of one epoch (the shuffle included,
the evaluation on the test set excluded).

Example:
    python3 numpy_mlp.py --mode batched --epochs 2
    python3 numpy_mlp.py --sizes 784,100,10 --dtype float64 --seed 3 --json
"""

from cli import THREAD_VARIABLES, parse_training_args, report_epoch, report_summary, training_parser
import os
import sys
import time


def parse_args(argv=None):
    p = training_parser(__doc__.split("\n")[0], 'BLAS threads (sets OPENBLAS/OMP/MKL_NUM_THREADS; default 1)')
    p.add_argument("--mode", choices=["batched", "per-example"], default="batched")
    return parse_training_args(p, argv)


ARGS = parse_args()
for _var in THREAD_VARIABLES:
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread variables, on purpose)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist_data import load_mnist  # noqa: E402


# --- sigmoid -----------------------------------------------------------------
# 1 / (1 + exp(-z)), the book's formula, with z clipped from below so exp(-z)
# cannot overflow (no RuntimeWarning). The clip only changes values that are
# already 0 to within the dtype's range: sigmoid(-700) ~ 1e-304 in float64,
# sigmoid(-85) ~ 1.2e-37 in float32, both normal numbers.
_ZMIN = {np.dtype(np.float32): -85.0, np.dtype(np.float64): -700.0}


def sigmoid(z):
    out = np.maximum(z, z.dtype.type(_ZMIN[z.dtype]))
    np.negative(out, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)


# --- the network -------------------------------------------------------------
class Network:
    def __init__(self, sizes, rng, dtype):
        self.sizes = sizes
        self.num_layers = len(sizes)
        # Same order of draws as network.py: all biases, then all weights.
        # Drawn in float64 and cast, so float32 and float64 start alike.
        self.biases = [rng.standard_normal((y, 1)).astype(dtype) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)).astype(dtype)
                        for x, y in zip(sizes[:-1], sizes[1:])]

    # network.py ---------------------------------------------------------------
    def update_mini_batch_per_example(self, xs, ys, eta):
        """xs: (m, n_in) rows, ys: (m, n_out) one-hot rows."""
        nabla_b = [np.zeros(b.shape, b.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, w.dtype) for w in self.weights]
        for i in range(xs.shape[0]):
            x = xs[i].reshape(-1, 1)
            y = ys[i].reshape(-1, 1)
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        k = eta / xs.shape[0]
        self.weights = [w - k * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - k * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])          # BP1
        nabla_b[-1] = delta                                            # BP3
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())       # BP4
        for l in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp  # BP2
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    # batched --------------------------------------------------------------------
    def update_mini_batch_batched(self, X, Y, eta):
        """X: (n_in, m), Y: (n_out, m); the examples are the columns."""
        m = X.shape[1]
        activations = [X]
        a = X
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)                      # Z = W A + b, A = sigma(Z)
            activations.append(a)
        aL = activations[-1]
        delta = (aL - Y) * aL * (1 - aL)                # BP1, sigma'(Z) = A(1-A)
        k = eta / m
        for l in range(1, self.num_layers):
            a_prev = activations[-l - 1]
            nabla_b = delta.sum(axis=1, keepdims=True)  # BP3, summed over the batch
            nabla_w = delta @ a_prev.T                  # BP4, summed over the batch
            if l < self.num_layers - 1:                 # BP2 with the old weights
                delta = (self.weights[-l].T @ delta) * a_prev * (1 - a_prev)
            self.weights[-l] -= k * nabla_w
            self.biases[-l] -= k * nabla_b

    # evaluation -----------------------------------------------------------------
    def predict(self, X_rows):
        """X_rows: (N, n_in); returns argmax per example (N,)."""
        a = X_rows.T
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(w @ a + b)
        return np.argmax(a, axis=0)


def one_hot(labels, n, dtype):
    y = np.zeros((labels.shape[0], n), dtype=dtype)
    y[np.arange(labels.shape[0]), labels] = 1
    return y


def main(args):
    dtype = np.dtype(args.dtype).type
    (tr_x, tr_y), _validation, (te_x, te_y) = load_mnist(args.data_dir, dtype=dtype)
    if args.sizes[0] != tr_x.shape[1] or args.sizes[-1] != 10:
        sys.exit(f"--sizes must start with {tr_x.shape[1]} and end with 10")
    tr_onehot = one_hot(tr_y, args.sizes[-1], dtype)
    n, m = tr_x.shape[0], args.batch_size

    rng = np.random.default_rng(args.seed)
    net = Network(args.sizes, rng, dtype)
    impl = "numpy-batched" if args.mode == "batched" else "numpy-per-example"
    human = sys.stderr if args.json else sys.stdout
    print(f"# {impl} sizes={args.sizes} dtype={args.dtype} batch={m} eta={args.eta} "
          f"seed={args.seed} threads={args.threads} numpy={np.__version__}", file=human)

    records = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(n)
        xs, ys = tr_x[perm], tr_onehot[perm]
        if args.mode == "batched":
            # (n_in, N) column layout once per epoch, so each mini-batch X is a
            # contiguous-per-column slice of shape (784, m).
            xs_t, ys_t = xs.T, ys.T
            for k in range(0, n, m):
                net.update_mini_batch_batched(xs_t[:, k:k + m], ys_t[:, k:k + m], args.eta)
        else:
            for k in range(0, n, m):
                net.update_mini_batch_per_example(xs[k:k + m], ys[k:k + m], args.eta)
        train_seconds = time.perf_counter() - t0

        pred = net.predict(te_x)
        correct = int(np.sum(pred == te_y))
        report_epoch(args, records, epoch, pred.tolist(), correct, n, train_seconds, human)

    report_summary(args, impl, args.threads, records, pred.tolist())

if __name__ == "__main__":
    main(ARGS)
