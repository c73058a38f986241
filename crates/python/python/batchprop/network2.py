"""network2.py, chapter 3 of *Neural Networks and Deep Learning*, on the batched engine.

``import batchprop.network2 as network2`` in place of ``import network2``: the cross-entropy
and quadratic costs, L2 regularisation (``lmbda``), the four monitors, ``save``/``load`` in
network2.py's JSON (the files ``examples/mnist --save`` writes and reads), and the Python 3
port's ``early_stopping_n``. The same initial weights as the book's for the same
``np.random`` seed; the shuffles are seeded from Python's ``random``.

Differences: ``weights`` and ``biases`` return copies (assign a list to change them); the
cost must be one of this module's classes (the engine computes it; their ``fn`` and
``delta`` stay for scripts that call them); ``SGD`` does not shuffle ``training_data`` in
place.
"""

import json  # noqa: F401  (network2.py's own import; load reads through the engine)
import random  # noqa: F401
import sys  # noqa: F401

import numpy as np

from . import _common
from ._batchprop import Net
from ._book import BookNetwork, sigmoid, sigmoid_prime

__all__ = ["QuadraticCost", "CrossEntropyCost", "Network", "load", "vectorized_result",
           "sigmoid", "sigmoid_prime"]


class QuadraticCost:
    """C = ||a - y||^2 / 2 per example."""

    _engine_name = "quadratic"

    @staticmethod
    def fn(a, y):
        """Return the cost associated with an output ``a`` and desired output ``y``."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Return the error delta from the output layer."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] per example."""

    _engine_name = "cross-entropy"

    @staticmethod
    def fn(a, y):
        """Return the cost associated with an output ``a`` and desired output ``y``."""
        return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Return the error delta from the output layer."""
        return a - y


_COSTS = {c._engine_name: c for c in (QuadraticCost, CrossEntropyCost)}


def _cost_name(cost):
    name = getattr(cost, "_engine_name", None)
    if name not in _COSTS or _COSTS[name] is not cost:
        raise TypeError(f"cost must be network2.QuadraticCost or network2.CrossEntropyCost, found {cost!r}: "
                        "the engine computes the cost, so it cannot run a cost class of its own")
    return name


class Network(BookNetwork):
    """network2.py's Network: sigmoid neurons, a choice of cost."""

    def __init__(self, sizes, cost=CrossEntropyCost, dtype=np.float64):
        """``sizes`` lists the neurons in each layer, input first. The weights start with
        ``default_weight_initializer``."""
        self._cost_name = _cost_name(cost)
        super().__init__(sizes, dtype)
        self.cost = cost
        self.default_weight_initializer()

    @property
    def cost(self):
        return self._cost

    @cost.setter
    def cost(self, cost):
        name = _cost_name(cost)
        self._cost = cost
        if name != self._cost_name:
            self._cost_name = name
            if self._net is not None:
                self._net = Net(self.sizes, self._net.weights(), self._net.biases(), self._dtype,
                                "sigmoid", "sigmoid", name)

    def default_weight_initializer(self):
        """Each weight from N(0, 1/n_in), n_in the weights into the neuron; each bias from
        N(0, 1)."""
        self._net = None
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases from N(0, 1), as chapter 1's network."""
        self._net = None
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, early_stopping_n=0):
        """Train the neural network using mini-batch stochastic gradient descent, with L2
        regularisation ``lmbda``. Returns the four lists (evaluation cost, evaluation
        accuracy, training cost, training accuracy) of the epochs that monitored them. With
        ``early_stopping_n`` > 0 (and ``monitor_evaluation_accuracy``), stops after that many
        epochs without a better evaluation accuracy, as the Python 3 port does."""
        training_data = _common.as_pairs(training_data, "training_data")
        evaluation_data = _common.as_pairs(evaluation_data, "evaluation_data")
        n = len(training_data)
        n_data = len(evaluation_data) if evaluation_data else 0
        monitors = {"evaluation_cost": monitor_evaluation_cost, "evaluation_accuracy": monitor_evaluation_accuracy,
                    "training_cost": monitor_training_cost, "training_accuracy": monitor_training_accuracy}
        if (monitor_evaluation_cost or monitor_evaluation_accuracy) and not evaluation_data:
            raise ValueError("monitoring the evaluation data needs evaluation_data")
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        early = {"best": 0, "since": 0}

        def report(record):
            print("Epoch %s training complete" % record["epoch"])
            if monitor_training_cost:
                cost = record["training"]["cost"]
                training_cost.append(cost)
                print("Cost on training data: {}".format(cost))
            if monitor_training_accuracy:
                accuracy = record["training"]["correct"]
                training_accuracy.append(accuracy)
                print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost:
                cost = record["evaluation"]["cost"]
                evaluation_cost.append(cost)
                print("Cost on evaluation data: {}".format(cost))
            if monitor_evaluation_accuracy:
                accuracy = record["evaluation"]["correct"]
                evaluation_accuracy.append(accuracy)
                print("Accuracy on evaluation data: {} / {}".format(accuracy, n_data))
            print()
            if early_stopping_n > 0 and monitor_evaluation_accuracy:
                if accuracy > early["best"]:
                    early["best"], early["since"] = accuracy, 0
                else:
                    early["since"] += 1
                if early["since"] == early_stopping_n:
                    return "stop"
            return None

        # The trainer's records of the epochs (its timings among them), kept for benchmarks.
        self._history = _common.train(self._engine(), training_data, epochs, mini_batch_size, eta, lmbda,
                      evaluation_data=evaluation_data or None, monitor=monitors, on_epoch=report)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step of gradient descent on ``mini_batch`` (a list of ``(x, y)``), with L2
        regularisation ``lmbda`` over ``n`` training examples."""
        self._update(mini_batch, eta, lmbda, n)

    def accuracy(self, data, convert=False):
        """The number of inputs in ``data`` the network classifies correctly. ``convert``
        says whether the targets are one-hot vectors (training data) rather than labels;
        both are recognised either way."""
        return self.evaluate(data)

    def total_cost(self, data, lmbda, convert=False):
        """The total cost over ``data``: the mean cost plus (lmbda / 2 len(data)) times the
        sum of the squared weights. ``convert`` says the targets are labels; both are
        recognised either way."""
        pairs = _common.as_pairs(data, "data")
        if not pairs:
            raise ValueError("total_cost of no examples")
        x, y = self._batch(pairs, "data")
        return float(self._engine().total_cost(x, y, _common.check_rate("lmbda", lmbda, positive=False)))

    def save(self, filename):
        """Save the neural network to ``filename`` in network2.py's JSON (atomically)."""
        self._engine().save(str(filename))

    def __getstate__(self):
        state = super().__getstate__()
        state["cost"] = self._cost_name
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._cost_name = state["cost"]
        self._cost = _COSTS[state["cost"]]


def load(filename):
    """Load a neural network from ``filename`` (network2.py's JSON, or batchprop's). Returns a
    network2.Network."""
    net, _ = Net.load(str(filename))
    if set(net.activations) != {"sigmoid"} or net.cost not in _COSTS:
        raise ValueError(f"{filename}: network2.Network has sigmoid neurons and the quadratic or cross-entropy "
                         f"cost; this file has {net.activations} and {net.cost} (load it with batchprop.Net.load)")
    out = Network.__new__(Network)
    BookNetwork.__init__(out, net.sizes, net.dtype)
    out._cost_name = net.cost
    out._cost = _COSTS[net.cost]
    out._net = net
    return out


def vectorized_result(j):
    """A 10-dimensional unit vector with a 1.0 in the j'th position and zeroes elsewhere."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e
