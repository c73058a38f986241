#!/usr/bin/env python3
"""The book's network (Nielsen, ch. 1-2) in eager PyTorch, for comparison.

nn.Linear layers with torch.sigmoid after each (output layer included), the
quadratic cost 0.5 * sum((a - y)^2) / m (so its gradient is the book's
(a - y) * sigma'(z), averaged over the mini-batch), autograd, and
torch.optim.SGD(lr=eta): the same update w -= eta/m * sum of the per-example
gradients as network.py.

The initial weights and biases (N(0,1), network.py's order of draws) and each
epoch's shuffle come from numpy's default_rng(seed), exactly as in
numpy_mlp.py, so both scripts start from the same network and see the mini-
batches in the same order for a given seed.

Threads: torch.set_num_threads(--threads), default 1 (also set as
OMP/MKL/OPENBLAS_NUM_THREADS before numpy and torch are imported).
train_seconds covers one epoch's SGD loop (the shuffle included, the test
evaluation excluded).

Example:
    python3 torch_mlp.py --epochs 1
    python3 torch_mlp.py --sizes 784,100,10 --dtype float64 --json
"""

from cli import THREAD_VARIABLES, parse_training_args, report_epoch, report_summary, training_parser
import os
import sys
import time


def parse_args(argv=None):
    p = training_parser(__doc__.split("\n")[0], 'torch intra-op threads (default 1)')
    return parse_training_args(p, argv)


ARGS = parse_args()
for _var in THREAD_VARIABLES:
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mnist_data import load_mnist  # noqa: E402


class Net(nn.Module):
    def __init__(self, sizes, rng, dtype):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(x, y, dtype=dtype) for x, y in zip(sizes[:-1], sizes[1:])
        )
        # network.py's initialisation and order of draws: all biases, then all weights.
        biases = [rng.standard_normal(y) for y in sizes[1:]]
        weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
        with torch.no_grad():
            for layer, b, w in zip(self.layers, biases, weights):
                layer.bias.copy_(torch.from_numpy(b))
                layer.weight.copy_(torch.from_numpy(w))

    def forward(self, x):  # x: (m, n_in), one example per row
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return x


def quadratic_cost(a, y):
    """0.5 * sum ||a - y||^2 / m: the mean over the batch of the book's cost."""
    return 0.5 * ((a - y) ** 2).sum() / a.shape[0]


def main(args):
    torch.set_num_threads(args.threads)
    np_dtype = np.dtype(args.dtype).type
    t_dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    (tr_x, tr_y), _validation, (te_x, te_y) = load_mnist(args.data_dir, dtype=np_dtype)
    if args.sizes[0] != tr_x.shape[1] or args.sizes[-1] != 10:
        sys.exit(f"--sizes must start with {tr_x.shape[1]} and end with 10")
    n, m = tr_x.shape[0], args.batch_size

    tr_x_t = torch.from_numpy(tr_x)
    tr_onehot_t = torch.nn.functional.one_hot(
        torch.from_numpy(tr_y.astype(np.int64)), args.sizes[-1]).to(t_dtype)
    te_x_t = torch.from_numpy(te_x)
    te_y_t = torch.from_numpy(te_y.astype(np.int64))

    rng = np.random.default_rng(args.seed)
    net = Net(args.sizes, rng, t_dtype)
    opt = torch.optim.SGD(net.parameters(), lr=args.eta)
    impl = "torch-eager"
    human = sys.stderr if args.json else sys.stdout
    print(f"# {impl} sizes={args.sizes} dtype={args.dtype} batch={m} eta={args.eta} "
          f"seed={args.seed} threads={torch.get_num_threads()} torch={torch.__version__}",
          file=human)

    records = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(n))
        xs, ys = tr_x_t[perm], tr_onehot_t[perm]
        for k in range(0, n, m):
            xb, yb = xs[k:k + m], ys[k:k + m]
            opt.zero_grad(set_to_none=True)
            loss = quadratic_cost(net(xb), yb)
            loss.backward()
            opt.step()
        train_seconds = time.perf_counter() - t0

        with torch.no_grad():
            pred = net(te_x_t).argmax(dim=1)
        correct = int((pred == te_y_t).sum())
        report_epoch(args, records, epoch, pred.tolist(), correct, n, train_seconds, human)

    report_summary(args, impl, torch.get_num_threads(), records, pred.tolist())

if __name__ == "__main__":
    main(ARGS)
