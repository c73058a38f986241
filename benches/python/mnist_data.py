"""Load MNIST from the four gzipped IDX files, split as Nielsen's book does.

    training   = the first 50,000 images of train-images-idx3-ubyte.gz
    validation = the last 10,000 images of the same file
    test       = the 10,000 images of t10k-images-idx3-ubyte.gz

Images come back as (N, 784) row-major arrays with pixels scaled to [0, 1]
(float32 or float64); labels as uint8 digits 0-9.

Usage as a script (prints the shapes and a checksum):

    python3 mnist_data.py [DATA_DIR]
"""

import gzip
import os
import sys

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

DEFAULT_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist")
)

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def _read_gz(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def read_idx_images(path):
    """Read an IDX3 image file; returns uint8 array (N, rows*cols)."""
    buf = _read_gz(path)
    if len(buf) < 16:
        raise ValueError(f"{path}: too short for an IDX3 header")
    magic, n, rows, cols = np.frombuffer(buf, dtype=">u4", count=4, offset=0)
    if magic != IMAGES_MAGIC:
        raise ValueError(f"{path}: magic {magic}, expected {IMAGES_MAGIC}")
    expected = 16 + int(n) * int(rows) * int(cols)
    if len(buf) != expected:
        raise ValueError(f"{path}: {len(buf)} bytes, header says {expected}")
    data = np.frombuffer(buf, dtype=np.uint8, offset=16)
    return data.reshape(int(n), int(rows) * int(cols))


def read_idx_labels(path):
    """Read an IDX1 label file; returns uint8 array (N,)."""
    buf = _read_gz(path)
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for an IDX1 header")
    magic, n = np.frombuffer(buf, dtype=">u4", count=2, offset=0)
    if magic != LABELS_MAGIC:
        raise ValueError(f"{path}: magic {magic}, expected {LABELS_MAGIC}")
    if len(buf) != 8 + int(n):
        raise ValueError(f"{path}: {len(buf)} bytes, header says {8 + int(n)}")
    return np.frombuffer(buf, dtype=np.uint8, offset=8).copy()


def load_mnist(data_dir=None, dtype=np.float32, n_train=50_000):
    """Return (train, validation, test), each a pair (images, labels).

    images: (N, 784) array of `dtype` in [0, 1], C-contiguous.
    labels: (N,) uint8.
    """
    data_dir = data_dir or DEFAULT_DIR
    p = lambda key: os.path.join(data_dir, FILES[key])
    tr_x = read_idx_images(p("train_images"))
    tr_y = read_idx_labels(p("train_labels"))
    te_x = read_idx_images(p("test_images"))
    te_y = read_idx_labels(p("test_labels"))
    if len(tr_x) != len(tr_y) or len(te_x) != len(te_y):
        raise ValueError("image and label counts differ")
    if len(tr_x) <= n_train:
        raise ValueError(f"need more than {n_train} training images, have {len(tr_x)}")

    def scale(x):
        return np.ascontiguousarray(x.astype(dtype) / dtype(255.0))

    train = (scale(tr_x[:n_train]), tr_y[:n_train])
    validation = (scale(tr_x[n_train:]), tr_y[n_train:])
    test = (scale(te_x), te_y)
    return train, validation, test


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else None
    (trx, try_), (vx, vy), (tex, tey) = load_mnist(d)
    for name, x, y in (("training", trx, try_), ("validation", vx, vy), ("test", tex, tey)):
        print(f"{name:10s} images {x.shape} {x.dtype} [{x.min():.1f}, {x.max():.1f}]  "
              f"labels {y.shape} {y.dtype}  label sum {int(y.sum())}")

