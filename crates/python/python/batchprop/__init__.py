"""batchprop: backpropagation for a whole mini-batch at once, on the CPU.

The engine of Michael Nielsen's *Neural Networks and Deep Learning*, chapter 2, with the
mini-batch as one matrix, in Rust. From Python:

- ``batchprop.network`` and ``batchprop.network2``: the book's ``network.py`` and
  ``network2.py`` (same classes, methods, arguments and printing), on the batched engine;
  ``import batchprop.network as network`` in place of ``import network``.
- ``batchprop.mnist_loader``: the book's ``mnist_loader`` over the MNIST IDX files.
- ``batchprop.sklearn``: ``MLPClassifier`` and ``MLPRegressor`` with scikit-learn's
  parameters, for pipelines and grid searches.

The GIL is released while the engine runs; Ctrl-C stops training with
``KeyboardInterrupt``.
"""

from ._batchprop import DivergedError, Net, Run, isa

__version__ = "0.1.0"

__all__ = ["DivergedError", "Net", "Run", "isa", "__version__"]
