"""network.py, chapter 1 of *Neural Networks and Deep Learning*, on the batched engine.

``import batchprop.network as network`` in place of ``import network``: the same class, the
same methods, arguments, return values and printing, the same initial weights for the same
``np.random`` seed (drawn by NumPy, as the book's), the shuffles seeded from Python's
``random``. Each mini-batch is propagated as one matrix (chapter 2's last problem) in Rust.

Differences: ``weights`` and ``biases`` return copies (assign a list to change them);
``SGD`` does not shuffle ``training_data`` in place; ``Network(sizes, dtype=np.float32)``
runs in single precision.
"""

import random  # noqa: F401  (the book's scripts seed it; SGD draws its seed from it)

import numpy as np

from . import _common
from ._book import BookNetwork, sigmoid, sigmoid_prime

__all__ = ["Network", "sigmoid", "sigmoid_prime"]


class Network(BookNetwork):
    """network.py's Network: sigmoid neurons, the quadratic cost."""

    def __init__(self, sizes, dtype=np.float64):
        """``sizes`` lists the neurons in each layer, input first: ``[784, 30, 10]``. The
        biases and weights are drawn from N(0, 1) with ``np.random.randn``, as the book's."""
        super().__init__(sizes, dtype)
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train the neural network using mini-batch stochastic gradient descent. The
        ``training_data`` is a list (or any iterable) of tuples ``(x, y)`` representing the
        training inputs and the desired outputs. If ``test_data`` is provided then the network
        will be evaluated against the test data after each epoch, and partial progress
        printed out."""
        test_data = _common.as_pairs(test_data, "test_data")
        n_test = len(test_data) if test_data else 0

        def report(record):
            if test_data:
                print("Epoch {0}: {1} / {2}".format(record["epoch"], record["evaluation"]["correct"], n_test))
            else:
                print("Epoch {0} complete".format(record["epoch"]))

        # The trainer's records of the epochs (its timings among them), kept for benchmarks.
        self._history = _common.train(self._engine(), training_data, epochs, mini_batch_size, eta,
                      evaluation_data=test_data or None,
                      monitor={"evaluation_accuracy": bool(test_data)}, on_epoch=report)

    def update_mini_batch(self, mini_batch, eta):
        """Update the network's weights and biases by applying gradient descent using
        backpropagation to a single mini batch: a list of tuples ``(x, y)``."""
        self._update(mini_batch, eta, 0.0, 1)
