"""mnist_loader.py of *Neural Networks and Deep Learning*, over the MNIST IDX files.

``load_data()`` and ``load_data_wrapper()`` return what the book's do (the book's split:
the first 50,000 training images for training, the last 10,000 for validation, the t10k
images for test; pixels as float32 in [0, 1]), read from the four IDX files of MNIST
(``train-images-idx3-ubyte[.gz]`` and the three others) by batchprop's hardened reader.

Where the files are: the ``path`` argument (a directory; or the book's ``mnist.pkl.gz``),
else the ``MNIST_DIR`` environment variable.
"""

import gzip
import os
import pickle

import numpy as np

from ._batchprop import load_mnist

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]


def _directory(path):
    if path is None:
        path = os.environ.get("MNIST_DIR")
        if not path:
            raise FileNotFoundError(
                "where is MNIST? Pass the directory of its four IDX files "
                "(train-images-idx3-ubyte.gz and the others, from https://yann.lecun.com/exdb/mnist/ or a mirror) "
                "as load_data_wrapper(path), or set MNIST_DIR to it")
    return os.fspath(path)


def load_data(path=None):
    """Return ``(training_data, validation_data, test_data)``, each a tuple ``(images,
    labels)``: ``images`` a float32 array of shape (N, 784), ``labels`` an int64 array of
    shape (N,); N = 50,000, 10,000 and 10,000."""
    path = _directory(path)
    if path.endswith(".pkl.gz"):
        # The book's own file.
        with gzip.open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    return load_mnist(path)


def load_data_wrapper(path=None):
    """Return ``(training_data, validation_data, test_data)`` as the book's network code
    takes them: lists of ``(x, y)`` with ``x`` a (784, 1) array; ``y`` a one-hot (10, 1)
    array in ``training_data``, the digit (an integer) in the other two."""
    tr_d, va_d, te_d = load_data(path)
    eye = np.eye(10).reshape(10, 10, 1)
    training_inputs = [np.reshape(x, (784, 1)) for x in tr_d[0]]
    training_results = [eye[y] for y in tr_d[1]]
    training_data = list(zip(training_inputs, training_results))
    validation_data = list(zip([np.reshape(x, (784, 1)) for x in va_d[0]], va_d[1]))
    test_data = list(zip([np.reshape(x, (784, 1)) for x in te_d[0]], te_d[1]))
    return training_data, validation_data, test_data


def vectorized_result(j):
    """A 10-dimensional unit vector with a 1.0 in the j'th position and zeroes elsewhere."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e
