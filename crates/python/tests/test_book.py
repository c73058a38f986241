"""The book's API: batchprop.network, network2 and mnist_loader against the book's own
arithmetic (tests/book_reference.py), the book's script end to end, files shared with the
Rust tools, and every bad input."""

import copy
import os
import pickle
import random
import re
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import batchprop
import batchprop.mnist_loader as mnist_loader
import batchprop.network as network
import batchprop.network2 as network2
import book_reference
from conftest import examples_dir, mnist_dir


def random_examples(rng, n, sizes, one_hot=True):
    data = []
    for _ in range(n):
        x = rng.random((sizes[0], 1))
        if one_hot:
            y = np.zeros((sizes[-1], 1))
            y[rng.integers(sizes[-1])] = 1.0
        else:
            y = rng.random((sizes[-1], 1))
        data.append((x, y))
    return data


def same_parameters(net, ref):
    net.weights = ref.weights
    net.biases = ref.biases


@pytest.mark.parametrize("module,cost", [(network, book_reference.Quadratic),
                                         (network2, book_reference.CrossEntropy)])
def test_backprop_and_update_equal_the_books_arithmetic(module, cost, rng):
    sizes = [7, 5, 4, 3]
    net = module.Network(sizes)
    ref = book_reference.Network([rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])],
                                 [rng.standard_normal((y, 1)) for y in sizes[1:]], cost)
    same_parameters(net, ref)
    for x, y in random_examples(rng, 4, sizes, one_hot=False):
        nb, nw = net.backprop(x, y)
        rb, rw = ref.backprop(x, y)
        for a, b in zip(nb + nw, rb + rw):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(net.feedforward(x), ref.feedforward(x), rtol=1e-12)
    batch = random_examples(rng, 6, sizes)
    if module is network:
        net.update_mini_batch(batch, 0.7)
        ref.update_mini_batch(batch, 0.7)
    else:
        net.update_mini_batch(batch, 0.7, 5.0, 100)
        ref.update_mini_batch(batch, 0.7, 5.0, 100)
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # The gradient is not zero: the comparison above is not of untouched parameters.
    assert max(np.abs(nw).max() for nw in net.backprop(*batch[0])[1]) > 1e-6


def test_the_initial_weights_are_the_books_for_the_same_seed():
    np.random.seed(3)
    net = network.Network([4, 3, 2])
    np.random.seed(3)
    biases = [np.random.randn(y, 1) for y in [3, 2]]
    weights = [np.random.randn(y, x) for x, y in [(4, 3), (3, 2)]]
    for a, b in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_array_equal(a, b)
    np.random.seed(3)
    net2 = network2.Network([4, 3, 2])
    np.random.seed(3)
    biases = [np.random.randn(y, 1) for y in [3, 2]]
    weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in [(4, 3), (3, 2)]]
    for a, b in zip(net2.weights + net2.biases, weights + biases):
        np.testing.assert_array_equal(a, b)
    assert net.num_layers == 3 and net.sizes == [4, 3, 2]


def test_returned_arrays_are_copies_and_assignment_replaces():
    net = network.Network([3, 2])
    w = net.weights
    w[0][:] = 0.0
    assert np.abs(net.weights[0]).sum() > 0, "an in-place edit of a copy reached the network"
    net.weights = w
    assert np.abs(net.weights[0]).sum() == 0


def test_the_books_script_on_a_slice_of_mnist(mnist, capsys):
    training_data, validation_data, test_data = mnist
    assert len(training_data) == 50000 and len(validation_data) == 10000 and len(test_data) == 10000
    x, y = training_data[0]
    assert x.shape == (784, 1) and y.shape == (10, 1) and y.sum() == 1
    assert isinstance(test_data[0][1], (int, np.integer))
    random.seed(1)
    np.random.seed(1)
    net = network.Network([784, 30, 10])
    net.SGD(training_data[:5000], 3, 10, 3.0, test_data=test_data[:1000])
    out = capsys.readouterr().out.splitlines()
    assert [re.sub(r"\d+ /", "k /", line) for line in out] == [f"Epoch {j}: k / 1000" for j in range(3)]
    last = int(out[-1].split()[2])
    assert last == net.evaluate(test_data[:1000])
    assert last > 500, out  # chance is 100; the book's N(0, 1) start learns slowly on 5,000 images
    # The same seeds give the same run.
    random.seed(1)
    np.random.seed(1)
    again = network.Network([784, 30, 10])
    again.SGD(zip(*zip(*training_data[:5000])), 3, 10, 3.0, test_data=test_data[:1000])
    assert capsys.readouterr().out.splitlines() == out
    for a, b in zip(net.weights, again.weights):
        np.testing.assert_array_equal(a, b)
    # Without test data, network.py says each epoch is complete.
    net.SGD(training_data[:100], 2, 10, 3.0)
    assert capsys.readouterr().out.splitlines() == ["Epoch 0 complete", "Epoch 1 complete"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pixels_kept_as_bytes_train_as_the_floats(mnist, dtype):
    """Pixels (every value one of 256 levels) are held as bytes, the rest as floats: a list
    with one value off the levels in its last example (the rows before it turned back into
    floats) and the same rows as a float matrix give the same bits, and so do pixels given
    as a list and as a matrix."""
    training_data, _, _ = mnist
    xs = [x for x, _ in training_data[:600]]
    labels = np.array([int(np.argmax(y)) for _, y in training_data[:600]], dtype=np.uint32)
    off = [x.copy() for x in xs]
    off[-1][300, 0] = 0.123456789
    settings = '{"epochs": 2, "batch_size": 10, "eta": 3.0, "seed": 5}'

    def trained(x):
        np.random.seed(0)
        net = network.Network([784, 12, 10], dtype=dtype)
        engine = net._engine()
        batchprop._batchprop.Run(settings, engine.dtype).fit(engine, x, labels, 10, 2)
        return [w.tobytes() for w in engine.weights()] + [b.tobytes() for b in engine.biases()]

    matrix = lambda rows: np.stack([r.reshape(784) for r in rows]).astype(dtype)
    assert trained(off) == trained(matrix(off))
    assert trained(xs) == trained(matrix(xs))
    assert trained(xs) != trained(off)


def test_network2_monitors_and_float32(mnist, capsys):
    training_data, validation_data, _ = mnist
    np.random.seed(2)
    random.seed(2)
    for dtype in (np.float64, np.float32):
        net = network2.Network([784, 20, 10], cost=network2.CrossEntropyCost, dtype=dtype)
        ec, ea, tc, ta = net.SGD(training_data[:2000], 2, 10, 0.5, lmbda=5.0, evaluation_data=validation_data[:500],
                                 monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                                 monitor_training_cost=True, monitor_training_accuracy=True)
        assert len(ec) == len(ea) == len(tc) == len(ta) == 2
        assert ea[-1] == net.accuracy(validation_data[:500])
        assert ta[-1] == net.accuracy(training_data[:2000], convert=True)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(tc[-1], net.total_cost(training_data[:2000], 5.0), rtol=rtol)
        np.testing.assert_allclose(ec[-1], net.total_cost(validation_data[:500], 5.0, convert=True), rtol=rtol)
        # ... and the book's own formula (NumPy, one example at a time), in float64.
        ref = book_reference.Network(net.weights, net.biases)
        book = ref.total_cost([(x, network2.vectorized_result(y)) for x, y in validation_data[:500]], 5.0,
                              network2.CrossEntropyCost.fn)
        np.testing.assert_allclose(ec[-1], book, rtol=1e-10 if dtype == np.float64 else 1e-5)
        assert ta[-1] > 1500 and ea[-1] > 350
        assert net.weights[0].dtype == dtype
        text = capsys.readouterr().out
        assert "Epoch 1 training complete\nCost on training data: " in text
        assert f"Accuracy on evaluation data: {ea[-1]} / 500\n\n" in text


def test_network2_early_stopping_n(mnist, capsys):
    training_data, validation_data, _ = mnist
    net = network2.Network([784, 10, 10])
    # eta so small that the accuracy cannot move for long: stops after early_stopping_n epochs
    # without a better one.
    _, ea, _, _ = net.SGD(training_data[:200], 50, 10, 1e-9, evaluation_data=validation_data[:100],
                          monitor_evaluation_accuracy=True, early_stopping_n=2)
    assert len(ea) < 50
    capsys.readouterr()


def test_save_and_load_round_trip_and_keep_the_books_layout(tmp_path):
    net = network2.Network([5, 4, 3], cost=network2.QuadraticCost)
    path = tmp_path / "net.json"
    net.save(path)
    import json
    data = json.load(open(path))
    assert data["sizes"] == [5, 4, 3] and data["cost"] == "QuadraticCost"
    assert np.array(data["weights"][0]).shape == (4, 5) and np.array(data["biases"][0]).shape == (4, 1)
    back = network2.load(path)
    assert back.cost is network2.QuadraticCost
    for a, b in zip(net.weights + net.biases, back.weights + back.biases):
        np.testing.assert_array_equal(a, b)
    # A file network2.py itself wrote (no dtype, no activations) loads as the book's.
    book_file = tmp_path / "book.json"
    json.dump({"sizes": [5, 4, 3], "weights": [w.tolist() for w in net.weights],
               "biases": [b.tolist() for b in net.biases], "cost": "CrossEntropyCost"}, open(book_file, "w"))
    book = network2.load(book_file)
    assert book.cost is network2.CrossEntropyCost
    np.testing.assert_array_equal(book.weights[1], net.weights[1])


def test_files_interchange_with_the_rust_tools(mnist, tmp_path):
    tools = examples_dir()
    if not (tools / "mnist").exists():
        if os.environ.get("BATCHPROP_EXAMPLES"):
            pytest.fail(f"BATCHPROP_EXAMPLES={tools} holds no mnist tool")
        pytest.skip("the Rust examples are not built (cargo build --examples)")
    _, _, test_data = mnist
    saved = tmp_path / "rust.json"
    out = subprocess.run([str(tools / "mnist"), "--data", mnist_dir(), "--sizes", "784,20,10", "--epochs", "1",
                          "--save", str(saved)], check=True, capture_output=True, text=True).stdout
    rust_correct = int(re.search(r"Epoch 0: (\d+) / 10000", out).group(1))
    net = network2.load(saved)
    assert net.cost is network2.QuadraticCost
    assert net.accuracy(test_data) == rust_correct
    # And back: a network saved here is evaluated by the Rust tool to the same count.
    here = tmp_path / "python.json"
    net.save(here)
    out = subprocess.run([str(tools / "predict"), str(here), "--data", mnist_dir(), "--show", "0"],
                         check=True, capture_output=True, text=True).stdout
    assert f"{rust_correct} / 10000" in out.replace(",", ""), out


def test_pickle_and_copy_keep_the_network():
    net = network2.Network([4, 3, 2], dtype=np.float32)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert other.cost is net.cost and other.dtype == np.float32
        for a, b in zip(net.weights + net.biases, other.weights + other.biases):
            np.testing.assert_array_equal(a, b)


def test_ctrl_c_stops_training_with_keyboard_interrupt(mnist):
    training_data, _, _ = mnist
    net = network.Network([784, 30, 10])
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        net.SGD(training_data, 1000, 10, 3.0)
    assert time.monotonic() - start < 5
    # The network is still usable.
    assert net.feedforward(training_data[0][0]).shape == (10, 1)


def test_the_gil_is_released_while_training(mnist):
    training_data, _, _ = mnist
    net = network.Network([784, 30, 10], dtype=np.float32)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    start = time.monotonic()
    net.SGD(training_data[:20000], 4, 10, 3.0)
    elapsed = time.monotonic() - start
    done.set()
    counter.join()
    during = [t for t in ticks if start + 0.2 * elapsed < t < start + elapsed]
    # With the GIL held, the counter would stall for the whole run; released, it ticks
    # about every millisecond (allow for a loaded machine).
    assert len(during) > 0.8 * elapsed * 1000 * 0.2, (len(during), elapsed)


def test_bad_input_is_a_clear_error(tmp_path, monkeypatch):
    net = network.Network([3, 2])
    good = [(np.zeros((3, 1)), np.array([[1.0], [0.0]]))] * 4
    with pytest.raises(ValueError, match=r"training data example 1 has shape \(4, 1\): expected 3 numbers"):
        net.SGD([good[0], (np.zeros((4, 1)), good[0][1])], 1, 1, 1.0)
    with pytest.raises(ValueError, match="inputs must be finite"):
        net.SGD([(np.full((3, 1), np.nan), good[0][1])] + good, 1, 2, 1.0)
    with pytest.raises(ValueError, match="label 7 of example 0 is not one of the 2 output neurons"):
        net.evaluate([(np.zeros((3, 1)), 7)])
    with pytest.raises(TypeError, match="iterable of"):
        net.SGD(42, 1, 1, 1.0)
    with pytest.raises(TypeError, match=r"must be an \(x, y\) pair"):
        net.SGD([np.zeros(3)], 1, 1, 1.0)
    with pytest.raises(ValueError, match="eta must be finite and positive"):
        net.SGD(good, 1, 1, -1.0)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        net.SGD(good, 0, 1, 1.0)
    with pytest.raises(ValueError, match="mini_batch_size must be a positive integer"):
        net.SGD(good, 1, 0, 1.0)
    with pytest.raises(ValueError, match=r"W\^1 \(weights\[0\]\) has shape \[2, 4\]"):
        net.weights = [np.zeros((2, 4))]
    with pytest.raises(ValueError, match="must be finite"):
        net.biases = [np.array([[np.inf], [0.0]])]
    with pytest.raises(TypeError, match="list of NumPy arrays"):
        net.weights = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"the input has shape \(4, 1\): expected \(3, 1\)"):
        net.feedforward(np.zeros((4, 1)))
    with pytest.raises(ValueError, match="backprop needs x of shape"):
        net.backprop(np.zeros((3, 1)), np.zeros((3, 1)))
    with pytest.raises(TypeError, match="cost must be network2.QuadraticCost or network2.CrossEntropyCost"):
        network2.Network([3, 2], cost=object)
    with pytest.raises(ValueError, match="sizes must list at least two"):
        network.Network([3])
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        network.Network([3, 2], dtype=np.int32)
    bad = tmp_path / "bad.json"
    bad.write_text('{"sizes": [3, 2], "weights": [[[1, 2]]], "biases": [[[0], [0]]], "cost": "QuadraticCost"}')
    with pytest.raises(ValueError):
        network2.load(bad)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        network2.load(tmp_path / "missing.json")
    with pytest.raises(OSError, match="Is a directory"):
        network2.load(tmp_path)
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="set MNIST_DIR"):
        mnist_loader.load_data()
    with pytest.raises(FileNotFoundError, match="MNIST"):
        mnist_loader.load_data(tmp_path)
    truncated = tmp_path / "mnist"
    truncated.mkdir()
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"]:
        (truncated / name).write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")
    with pytest.raises(ValueError):
        mnist_loader.load_data(truncated)


def test_the_extension_says_which_kernels_run():
    assert batchprop.isa() in {"avx512", "avx2", "sse2", "neon", "scalar"}
