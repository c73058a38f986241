"""batchprop.sklearn: scikit-learn's own estimator checks, its semantics step for step
against sklearn.neural_network, pipelines, grid searches, pickles and bad input."""

import os
import pickle
import signal
import threading
import time
import warnings

import numpy as np
import pytest
import sklearn.neural_network as sknn
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from batchprop.sklearn import MLPClassifier, MLPRegressor


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, random_state=0)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_is_scikit_learns_step_for_step(digits, momentum, nesterov):
    """Same initial weights (drawn from random_state as scikit-learn draws them), same batches
    (shuffle=False), same update and penalty: the same network to rounding. (1280 examples:
    batches of 64 with no short one, whose penalty scikit-learn divides by its own size.)"""
    X, _, y, _ = digits
    X, y = X[:1280], y[:1280]
    kw = dict(hidden_layer_sizes=(20, 15), solver="sgd", learning_rate_init=0.05, alpha=1e-3, batch_size=64,
              momentum=momentum, nesterovs_momentum=nesterov, shuffle=False, max_iter=3, random_state=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**kw).fit(X, y)
        theirs = sknn.MLPClassifier(**kw).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # scikit-learn adds each batch's penalty with the weights of that batch; here the epoch's
    # end weights carry it: the loss differs by less than the penalty itself.
    penalty = 0.5 * 1e-3 * sum((w ** 2).sum() for w in ours.coefs_) / 64
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=penalty)
    assert ours.n_iter_ == theirs.n_iter_ == 3 and ours.t_ == theirs.t_


def test_adam_and_the_regressor_follow_scikit_learn(digits):
    X, _, y, _ = digits
    kw = dict(hidden_layer_sizes=(20,), solver="adam", batch_size=50, shuffle=False, max_iter=5, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**kw).fit(X, y)
        theirs = sknn.MLPClassifier(**kw).fit(X, y)
        # Adam's epsilon sits outside the bias-corrected root here (PyTorch's form), inside
        # the uncorrected one there: close, not the same.
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
        Xr, yr = make_regression(n_samples=250, n_features=8, noise=0.1, random_state=0)
        yr = yr / yr.std()
        kw.update(solver="sgd", learning_rate_init=0.01, momentum=0.0)
        ours = MLPRegressor(**kw).fit(Xr, yr)
        theirs = sknn.MLPRegressor(**kw).fit(Xr, yr)
    np.testing.assert_allclose(ours.predict(Xr), theirs.predict(Xr), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)


def test_the_stopping_rule_and_early_stopping(digits):
    X, Xt, y, yt = digits
    clf = MLPClassifier(max_iter=500, tol=1e-2, n_iter_no_change=3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and clf.best_loss_ == min(clf.loss_curve_)
    es = MLPClassifier(max_iter=200, early_stopping=True, n_iter_no_change=4, random_state=0).fit(X, y)
    assert es.best_loss_ is None and len(es.validation_scores_) == es.n_iter_ < 200
    assert es.best_validation_score_ == max(es.validation_scores_)
    assert es.score(Xt, yt) > 0.9
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(max_iter=2, random_state=0).fit(X, y)


def test_pipeline_grid_search_and_pickle(digits):
    X, Xt, y, yt = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=50, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(16,), (32,)],
                               "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_score_ > 0.9 and grid.score(Xt, yt) > 0.9
    best = grid.best_estimator_
    again = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(again.predict_proba(Xt), best.predict_proba(Xt))
    clf = best[-1]
    assert [c.shape for c in clf.coefs_] == [(64, clf.hidden_layer_sizes[0]), (clf.hidden_layer_sizes[0], 10)]
    assert list(clf.classes_) == list(range(10)) and clf.out_activation_ == "softmax"


def test_labels_of_any_type_partial_fit_and_float32(digits):
    X, Xt, y, yt = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    clf = MLPClassifier(max_iter=30, random_state=0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X.astype(np.float32), names[y])
    assert set(clf.predict(Xt)) <= set(names) and clf.score(Xt, names[yt]) > 0.9
    assert clf.coefs_[0].dtype == np.float32
    inc = MLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        inc.partial_fit(X, y)
    for _ in range(20):
        inc.partial_fit(X, y, classes=np.arange(10))
    assert inc.n_iter_ == 20 and inc.score(Xt, yt) > 0.9
    with pytest.raises(ValueError, match="not seen in the first fit"):
        inc.partial_fit(X[:5], np.array([11, 0, 1, 2, 3]))


def test_bad_input_is_a_clear_error(digits):
    X, Xt, y, yt = digits
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, y + 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLPClassifier().fit(X, np.zeros(len(X)))
    for param, value in [("solver", "lbfgs"), ("activation", "softplus"), ("learning_rate", "adaptive"),
                         ("alpha", -1.0), ("max_iter", 0), ("momentum", 1.5), ("hidden_layer_sizes", (10, 0)),
                         ("batch_size", 0), ("dtype", np.int64), ("n_threads", 0), ("dropout", 1.0)]:
        with pytest.raises(ValueError, match=param):
            MLPClassifier(**{param: value}).fit(X, y)
    with pytest.warns(UserWarning, match="clipped"):
        MLPClassifier(batch_size=100000, max_iter=1).fit(X, y)


def test_ctrl_c_stops_fit_with_keyboard_interrupt():
    rng = np.random.default_rng(0)
    X = rng.random((20000, 100))
    y = rng.integers(0, 5, 20000)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        MLPClassifier(hidden_layer_sizes=(200,), batch_size=10, max_iter=1000, tol=0).fit(X, y)
    assert time.monotonic() - start < 5
