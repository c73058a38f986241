"""What the book's modules share: the book's data format to matrices, and a training run."""

import json
import random
import sys

import numpy as np

from ._batchprop import Run, stack_examples

DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def dtype_name(dtype):
    """'float32' or 'float64' for a NumPy dtype (or its name); ValueError otherwise."""
    try:
        name = DTYPES.get(np.dtype(dtype))
    except TypeError:
        name = None
    if name is None:
        raise ValueError(f"dtype must be float32 or float64, found {dtype!r}")
    return name


def column(a, n, what, dtype):
    """One example as the book holds it, an (n, 1) column (or any array of n numbers), as a
    flat float array."""
    a = np.asarray(a, dtype=dtype)
    if a.size != n:
        raise ValueError(f"{what} has shape {a.shape}: expected {n} numbers, a ({n}, 1) column")
    return a.reshape(n)


def stack_inputs(xs, n, what, dtype):
    """Examples to the rows of one (N, n) C-ordered matrix (the engine reads its transpose:
    one contiguous column per example); copied in Rust, one pass."""
    return stack_examples(list(xs), n, dtype, what)


def as_pairs(data, what):
    """The book's data: any iterable of (x, y) pairs, as a list."""
    if data is None:
        return None
    try:
        pairs = list(data)
    except TypeError:
        raise TypeError(f"{what} must be an iterable of (x, y) pairs, found {type(data).__name__}") from None
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"{what}[{i}] must be an (x, y) pair, found {type(pair).__name__}")
    return pairs


def is_label(y):
    """Whether y is an integer class label (test_data's) rather than a target vector."""
    return isinstance(y, (int, np.integer)) or (isinstance(y, np.ndarray) and y.ndim == 0 and y.dtype.kind in "iu")


def targets(ys, n_out, what, dtype):
    """Targets to what the trainer takes: (uint32 labels, classes) when every y is a label
    or a one-hot vector, else ((N, n_out) values, None)."""
    ys = list(ys)
    if ys and is_label(ys[0]):
        labels = np.array(ys)
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise TypeError(f"{what} mixes integer labels and target vectors")
        bad = np.flatnonzero((labels < 0) | (labels >= n_out))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"{what}: label {labels[i]} of example {i} is not one of the {n_out} output neurons")
        return labels.astype(np.uint32), n_out
    if any(is_label(y) for y in ys):
        raise TypeError(f"{what} mixes integer labels and target vectors")
    values = stack_inputs(ys, n_out, f"{what} target", dtype)
    one_hot = values.size and np.all((values == 0) | (values == 1)) and np.all(values.sum(axis=1) == 1)
    if one_hot:
        return values.argmax(axis=1).astype(np.uint32), n_out
    return values, None


def check_rate(name, value, positive=True):
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        need = "finite and positive" if positive else "finite and non-negative"
        raise ValueError(f"{name} must be {need}, found {value}")
    return value


def train(net, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
          monitor=None, on_epoch=None, seed=None):
    """Runs network2.py's SGD on the engine: `epochs` epochs of shuffled mini-batches, the
    monitors after each (a dict of the trainer's four flags), `on_epoch(record)` after each
    (record: the trainer's epoch as a dict; return "stop" to end the run). Returns the
    records."""
    dtype = net.dtype
    sizes = net.sizes
    training_data = as_pairs(training_data, "training_data")
    if not training_data:
        raise ValueError("training_data holds no examples")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, found {epochs!r}")
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, (int, np.integer)) or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be a positive integer, found {mini_batch_size!r}")
    eta = check_rate("eta", eta)
    lmbda = check_rate("lmbda", lmbda, positive=False)
    # The inputs go to the run as a list: stacked once, in Rust, into the run's own buffer.
    x = [p[0] for p in training_data]
    y, classes = targets([p[1] for p in training_data], sizes[-1], "training_data", dtype)
    evaluation = None
    if evaluation_data:
        ex = [p[0] for p in evaluation_data]
        ey, eclasses = targets([p[1] for p in evaluation_data], sizes[-1], "evaluation data", dtype)
        evaluation = (ex, ey, eclasses)
    monitor = dict(monitor or {})
    if classes is None and (monitor.get("training_accuracy")):
        raise ValueError("monitor_training_accuracy needs class targets (one-hot vectors or labels)")
    if evaluation is not None and evaluation[2] is None and monitor.get("evaluation_accuracy"):
        raise ValueError("monitor_evaluation_accuracy needs class targets (one-hot vectors or labels)")
    settings = {
        "epochs": int(epochs),
        # network.py makes one short mini-batch of data smaller than the batch size.
        "batch_size": int(min(mini_batch_size, len(training_data))),
        "eta": eta,
        "lambda": lmbda,
        # network.py shuffles with Python's `random`; seeding it seeds this run.
        "seed": random.getrandbits(63) if seed is None else int(seed),
        "monitor": {
            "evaluation_cost": bool(monitor.get("evaluation_cost")),
            "evaluation_accuracy": bool(monitor.get("evaluation_accuracy")),
            "training_cost": bool(monitor.get("training_cost")),
            "training_accuracy": bool(monitor.get("training_accuracy")),
        },
    }
    run = Run(json.dumps(settings), dtype)

    history = []

    def callback(record_json, _weights_squared):
        record = json.loads(record_json)
        history.append(record)
        return None if on_epoch is None else on_epoch(record)

    _, warnings = run.fit(net, x, y, classes, int(epochs), evaluation, callback)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return history
