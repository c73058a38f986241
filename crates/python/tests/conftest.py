import os
import pathlib

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def mnist_dir():
    return os.environ.get("MNIST_DIR") or str(REPO / "data" / "mnist")


@pytest.fixture(scope="session")
def mnist():
    """The book's three lists, loaded once."""
    import batchprop.mnist_loader as mnist_loader
    return mnist_loader.load_data_wrapper(mnist_dir())


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def examples_dir():
    """The Rust examples (mnist, predict), built by `cargo build --examples`."""
    return pathlib.Path(os.environ.get("BATCHPROP_EXAMPLES") or REPO / "target" / "debug" / "examples")
