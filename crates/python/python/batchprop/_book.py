"""The book's Network class, once: network.py's and network2.py's share everything but the
cost, the initial weights and SGD's arguments."""

import numpy as np

from . import _common
from ._batchprop import Net


def sigmoid(z):
    """The sigmoid function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


class BookNetwork:
    """A network whose parameters live in the engine (a ``batchprop.Net``).

    ``weights`` and ``biases`` are the book's lists of NumPy arrays, ``(n_l, n_{l-1})`` and
    ``(n_l, 1)``. Reading them gives copies; assigning a new list replaces the network's
    parameters (checked: shapes, finite numbers). Editing a returned array in place does
    not reach the network: assign the list back.
    """

    _cost_name = "quadratic"

    def __init__(self, sizes, dtype=np.float64):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive layer sizes, found {sizes}")
        self.num_layers = len(sizes)
        self.sizes = sizes
        self._dtype = _common.dtype_name(dtype)
        self._net = None
        self._pending = {}

    # The parameters ----------------------------------------------------------------------

    def _set(self, name, value):
        """Assigns `weights` or `biases`; the engine's network is made once both are known."""
        if isinstance(value, np.ndarray) or not hasattr(value, "__iter__"):
            raise TypeError(f"{name} must be a list of NumPy arrays, found {type(value).__name__}")
        value = list(value)
        if name == "weights":
            value = [np.ascontiguousarray(w, dtype=np.float64) for w in value]
            for i, w in enumerate(value):
                if w.ndim != 2:
                    raise ValueError(f"weights[{i}] has shape {w.shape}: expected a 2-D (n_l, n_(l-1)) array")
        else:
            flat = []
            for i, b in enumerate(value):
                b = np.asarray(b, dtype=np.float64)
                if not (b.ndim == 1 or (b.ndim == 2 and b.shape[1] == 1)):
                    raise ValueError(f"biases[{i}] has shape {b.shape}: expected an (n_l, 1) column")
                flat.append(np.ascontiguousarray(b.reshape(-1)))
            value = flat
        if self._net is None:
            self._pending[name] = value
            if len(self._pending) < 2:
                return
            self._net = Net(self.sizes, self._pending["weights"], self._pending["biases"], self._dtype,
                            "sigmoid", "sigmoid", self._cost_name)
            self._pending = {}
        elif name == "weights":
            self._net.set_parameters(value, self._net.biases())
        else:
            self._net.set_parameters(self._net.weights(), value)

    @property
    def weights(self):
        """Copies of [W^1, ..., W^L], each (n_l, n_(l-1))."""
        if self._net is None:
            return self._pending.get("weights")
        return self._net.weights()

    @weights.setter
    def weights(self, value):
        self._set("weights", value)

    @property
    def biases(self):
        """Copies of [b^1, ..., b^L], each an (n_l, 1) column."""
        if self._net is None:
            b = self._pending.get("biases")
            return None if b is None else [v.reshape(-1, 1) for v in b]
        return [b.reshape(-1, 1) for b in self._net.biases()]

    @biases.setter
    def biases(self, value):
        self._set("biases", value)

    @property
    def dtype(self):
        """The precision the engine runs in: numpy.float32 or numpy.float64."""
        return np.dtype(self._dtype)

    def _engine(self):
        if self._net is None:
            raise ValueError("the network has no parameters yet: assign both weights and biases")
        return self._net

    # The book's methods --------------------------------------------------------------------

    def feedforward(self, a):
        """Return the output of the network if ``a`` is input: an (n_0, 1) column gives an
        (n_L, 1) column; an (n_0, m) matrix, one example per column, gives (n_L, m)."""
        a = np.asarray(a, dtype=self._dtype)
        n0 = self.sizes[0]
        if a.ndim == 1 and a.shape[0] == n0:
            return self._engine().feedforward(a.reshape(1, n0)).reshape(-1)
        if a.ndim != 2 or a.shape[0] != n0:
            raise ValueError(f"the input has shape {a.shape}: expected ({n0}, 1), or ({n0}, m) for m examples")
        return self._engine().feedforward(np.ascontiguousarray(a.T)).T

    def _batch(self, mini_batch, what):
        """A mini-batch of (x, y) pairs as rows X (m, n_0) and Y (m, n_L)."""
        pairs = _common.as_pairs(mini_batch, what)
        if not pairs:
            raise ValueError(f"{what} holds no examples")
        x = _common.stack_inputs([p[0] for p in pairs], self.sizes[0], what, self._dtype)
        y, classes = _common.targets([p[1] for p in pairs], self.sizes[-1], what, self._dtype)
        if classes is not None:
            y = np.eye(classes, dtype=self._dtype)[y]
        return x, y

    def backprop(self, x, y):
        """Return a tuple ``(nabla_b, nabla_w)`` representing the gradient of the cost C_x of
        the example (x, y), layer by layer, in the shapes of ``biases`` and ``weights``.
        (BP1-BP4 on the batched engine; columns of x are summed over.)"""
        x = np.asarray(x, dtype=self._dtype)
        y = np.asarray(y, dtype=self._dtype)
        n0, nl = self.sizes[0], self.sizes[-1]
        x = x.reshape(n0, -1) if x.size % n0 == 0 and x.ndim <= 2 else x
        y = y.reshape(nl, -1) if y.size % nl == 0 and y.ndim <= 2 else y
        if x.ndim != 2 or x.shape[0] != n0 or y.ndim != 2 or y.shape != (nl, x.shape[1]):
            raise ValueError(f"backprop needs x of shape ({n0}, 1) and y of shape ({nl}, 1), "
                             f"found {x.shape} and {y.shape}")
        m = x.shape[1]
        nabla_b, nabla_w = self._engine().backprop(np.ascontiguousarray(x.T), np.ascontiguousarray(y.T))
        return [m * b.reshape(-1, 1) for b in nabla_b], [m * w for w in nabla_w]

    def _update(self, mini_batch, eta, lmbda, n):
        eta = _common.check_rate("eta", eta)
        lmbda = _common.check_rate("lmbda", lmbda, positive=False)
        x, y = self._batch(mini_batch, "mini_batch")
        self._engine().sgd_step(x, y, eta, lmbda, max(int(n), 1))

    def evaluate(self, test_data):
        """Return the number of test inputs for which the neural network outputs the correct
        result: the output neuron with the highest activation."""
        pairs = _common.as_pairs(test_data, "test_data")
        if not pairs:
            return 0
        x = _common.stack_inputs([p[0] for p in pairs], self.sizes[0], "test_data", self._dtype)
        labels, classes = _common.targets([p[1] for p in pairs], self.sizes[-1], "test_data", self._dtype)
        if classes is None:
            raise ValueError("test_data needs integer labels (or one-hot vectors) to be counted")
        return int(self._engine().accuracy(x, labels))

    def cost_derivative(self, output_activations, y):
        r"""Return the vector of partial derivatives \partial C_x / \partial a for the
        output activations (the quadratic cost's)."""
        return output_activations - y

    def __getstate__(self):
        return {"sizes": self.sizes, "num_layers": self.num_layers, "dtype": self._dtype,
                "net": self._net, "pending": self._pending}

    def __setstate__(self, state):
        self.sizes = state["sizes"]
        self.num_layers = state["num_layers"]
        self._dtype = state["dtype"]
        self._net = state["net"]
        self._pending = state["pending"]

    def __repr__(self):
        return f"{type(self).__module__}.{type(self).__name__}({self.sizes}, dtype={self._dtype})"
