"""scikit-learn's multi-layer perceptrons on the batched engine.

``MLPClassifier`` and ``MLPRegressor`` take scikit-learn's parameters with scikit-learn's
meanings where batchprop has the feature, and work in pipelines, grid searches and
pickles::

    from batchprop.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(100,), solver="adam", random_state=0).fit(X, y)

What is the same as ``sklearn.neural_network``: the parameters ``hidden_layer_sizes``,
``activation`` (``relu``, ``tanh``, ``logistic``, ``identity``), ``solver`` (``sgd``,
``adam``), ``alpha`` (the L2 penalty, divided by the mini-batch's size), ``batch_size``
(``"auto"`` is ``min(200, n_samples)``; clipped to the data with scikit-learn's warning),
``learning_rate="constant"``, ``learning_rate_init``, ``max_iter`` (epochs), ``shuffle``,
``random_state``, ``tol`` and ``n_iter_no_change`` (on the training loss, or on the
validation score with ``early_stopping``), ``verbose``, ``warm_start``, ``momentum`` and
``nesterovs_momentum``, ``early_stopping`` and ``validation_fraction``, ``beta_1``,
``beta_2``, ``epsilon``; the initial weights (Glorot-uniform, drawn from ``random_state``
as scikit-learn draws them); the attributes ``classes_``, ``coefs_`` and ``intercepts_``
(``(n_in, n_out)``, scikit-learn's orientation), ``loss_``, ``loss_curve_``,
``best_loss_``, ``validation_scores_``, ``best_validation_score_``, ``n_iter_``, ``t_``,
``n_layers_``, ``n_outputs_``, ``out_activation_``, ``n_features_in_``.

batchprop's own: ``dtype`` (``None``: the input's, float32 or float64; or either one),
``dropout`` (the probability of dropping a hidden neuron in training) and ``n_threads``
(default: one per core).

What differs: a classifier has one softmax output per class, binary ones too
(scikit-learn's binary classifier has one logistic output: the same model, another
parametrisation, so ``coefs_[-1]`` has two columns); multi-label targets are not
supported; ``solver="lbfgs"`` and the ``invscaling``/``adaptive`` learning rates are not
there; a multi-output regressor's cost is ``||a - y||^2 / 2`` per example, scikit-learn's
is that divided by the number of outputs (its gradients are that much smaller), and
``loss_curve_`` reports scikit-learn's value; Adam's ``epsilon`` is added outside the
bias-corrected root (PyTorch's form; scikit-learn adds it to the uncorrected one).
"""

import json
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from ._batchprop import Net, Run

__all__ = ["MLPClassifier", "MLPRegressor"]

_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "identity"}


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the network, the loop."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=None, dropout=0.0, n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.dropout = dropout
        self.n_threads = n_threads

    # Parameters ------------------------------------------------------------------------------

    def _hidden(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, Integral):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError("hidden_layer_sizes must be a positive integer or a sequence of positive integers, "
                             f"got {self.hidden_layer_sizes!r}.")
        return [int(s) for s in sizes]

    def _validate_params(self):
        name = type(self).__name__

        def need(param, ok, expected):
            if not ok:
                raise ValueError(f"The '{param}' parameter of {name} must be {expected}. "
                                 f"Got {getattr(self, param)!r} instead.")

        def real(param, low, high=None, low_open=False, high_open=False):
            v = getattr(self, param)
            ok = isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(v)
            ok = ok and (v > low if low_open else v >= low)
            if high is not None:
                ok = ok and (v < high if high_open else v <= high)
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            need(param, ok, f"a float in the range {lo}{low}, {'inf' if high is None else high}{hi}")

        def integer(param, low):
            v = getattr(self, param)
            need(param, isinstance(v, Integral) and not isinstance(v, bool) and v >= low,
                 f"an int in the range [{low}, inf)")

        need("activation", self.activation in _ACTIVATIONS, f"a str among {sorted(_ACTIVATIONS)}")
        need("solver", self.solver in ("sgd", "adam"),
             "a str among {'adam', 'sgd'} (batchprop has no 'lbfgs')")
        need("learning_rate", self.learning_rate == "constant",
             "'constant' (batchprop has no 'invscaling' or 'adaptive' schedule)")
        real("alpha", 0.0)
        real("learning_rate_init", 0.0, low_open=True)
        integer("max_iter", 1)
        integer("n_iter_no_change", 1)
        real("tol", 0.0)
        real("momentum", 0.0, 1.0, high_open=True)
        real("validation_fraction", 0.0, 1.0, low_open=True, high_open=True)
        real("beta_1", 0.0, 1.0, high_open=True)
        real("beta_2", 0.0, 1.0, high_open=True)
        real("epsilon", 0.0, low_open=True)
        real("dropout", 0.0, 1.0, high_open=True)
        for flag in ("shuffle", "nesterovs_momentum", "early_stopping", "warm_start"):
            need(flag, isinstance(self.__dict__[flag], (bool, np.bool_)), "an instance of 'bool'")
        need("verbose", isinstance(self.verbose, (bool, np.bool_, Integral)), "an int or a bool")
        need("batch_size", self.batch_size == "auto" or (isinstance(self.batch_size, Integral)
                                                         and not isinstance(self.batch_size, bool)
                                                         and self.batch_size >= 1),
             "'auto' or an int in the range [1, inf)")
        need("n_threads", self.n_threads is None or (isinstance(self.n_threads, Integral)
                                                     and not isinstance(self.n_threads, bool)
                                                     and self.n_threads >= 1),
             "None or an int in the range [1, inf)")
        if self.dtype is not None:
            need("dtype", np.dtype(self.dtype) in (np.dtype(np.float32), np.dtype(np.float64)),
                 "None, numpy.float32 or numpy.float64")
        self._hidden()

    def _rule(self):
        if self.solver == "adam":
            return {"rule": "adam", "beta1": float(self.beta_1), "beta2": float(self.beta_2),
                    "epsilon": float(self.epsilon)}
        if self.momentum == 0:
            return {"rule": "sgd"}
        return {"rule": "nesterov" if self.nesterovs_momentum else "momentum", "mu": float(self.momentum)}

    def _engine_dtype(self, X):
        if self.dtype is not None:
            return np.dtype(self.dtype).name
        return "float32" if X.dtype == np.float32 else "float64"

    # Data ------------------------------------------------------------------------------------

    def _validate_input(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, accept_sparse=False, dtype=(np.float64, np.float32),
                             multi_output=not is_classifier(self), y_numeric=not is_classifier(self))
        return X, y

    # The network -----------------------------------------------------------------------------

    def _initialize(self, layer_units, rs, dtype):
        """scikit-learn's Glorot-uniform initialisation, drawn from ``rs`` in its order."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights, biases = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = rs.uniform(-bound, bound, (fan_in, fan_out))
            intercept = rs.uniform(-bound, bound, fan_out)
            weights.append(np.ascontiguousarray(coef.T))
            biases.append(intercept)
        hidden = _ACTIVATIONS[self.activation]
        output, cost = self._output()
        self._net = Net(layer_units, weights, biases, dtype, hidden, output, cost)
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self.out_activation_ = output
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._run = None

    @property
    def coefs_(self):
        """The weights of each layer, ``(n_in, n_out)`` (copies)."""
        check_is_fitted(self, "_net")
        return [np.ascontiguousarray(w.T) for w in self._net.weights()]

    @property
    def intercepts_(self):
        """The biases of each layer, ``(n_out,)`` (copies)."""
        check_is_fitted(self, "_net")
        return self._net.biases()

    def _forward(self, X):
        check_is_fitted(self, "_net")
        X = validate_data(self, X, reset=False, accept_sparse=False, dtype=(np.float64, np.float32))
        return self._net.feedforward(np.ascontiguousarray(X, dtype=self._net.dtype))

    # The loop --------------------------------------------------------------------------------

    def _fit(self, X, y, incremental):
        self._validate_params()
        first = not hasattr(self, "_net") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, reset=first)
        targets, classes = self._targets(y, incremental)
        n_samples, n_features = X.shape
        if n_samples < 1:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        rs = check_random_state(self.random_state)
        dtype = self._engine_dtype(X)
        outputs = classes if classes is not None else targets.shape[1]
        layer_units = [n_features, *self._hidden(), outputs]
        if first:
            self._random = rs
            self._initialize(layer_units, rs, dtype)
        else:
            rs = self._random
            if self._net.sizes != layer_units:
                raise ValueError(f"The network has layer sizes {self._net.sizes} but the data needs {layer_units}: "
                                 "hidden_layer_sizes, the features or the outputs changed since the last fit "
                                 "(set warm_start=False to start again)")
        X = np.ascontiguousarray(X, dtype=self._net.dtype)
        if classes is None:
            targets = np.ascontiguousarray(targets, dtype=self._net.dtype)

        early_stopping = self.early_stopping and not incremental
        evaluation = None
        if early_stopping:
            stratify = targets if classes is not None else None
            X, X_val, targets, t_val = train_test_split(X, targets, random_state=rs,
                                                        test_size=self.validation_fraction, stratify=stratify)
            X, X_val = np.ascontiguousarray(X), np.ascontiguousarray(X_val)
            evaluation = (X_val, t_val, classes)
            n_samples = X.shape[0]
        batch_size = min(200, n_samples) if self.batch_size == "auto" else self.batch_size
        if batch_size < 1 or batch_size > n_samples:
            if self.batch_size != "auto":
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be "
                              "clipped")
            batch_size = int(np.clip(batch_size, 1, n_samples))

        # scikit-learn's penalty is alpha ||W||^2 / 2 per mini-batch of m: a gradient of
        # alpha W / m. The trainer's λ decays by ηλ/n per step under SGD (n the examples) and
        # is Adam's weight_decay (added to the gradient) under Adam.
        per_step = self.alpha / batch_size
        lmbda = per_step if self.solver == "adam" else per_step * n_samples
        run = self._run if incremental else None
        if run is not None and self._run_key != (batch_size, n_samples, dtype):
            run = None
        if run is None:
            settings = {"epochs": 1, "batch_size": batch_size, "eta": float(self.learning_rate_init),
                        "lambda": float(lmbda), "rule": self._rule(), "dropout": float(self.dropout),
                        "seed": int(rs.randint(np.iinfo(np.int32).max)), "shuffle": bool(self.shuffle),
                        "monitor": {"evaluation_cost": early_stopping and classes is None,
                                    "evaluation_accuracy": early_stopping and classes is not None,
                                    "training_cost": False, "training_accuracy": False}}
            run = Run(json.dumps(settings), self._net.dtype, self.n_threads)
            self._run, self._run_key = run, (batch_size, n_samples, dtype)

        # scikit-learn's loss: the mean cost (per output for a regressor) plus the penalty.
        per_output = 1.0 if classes is not None else 1.0 / self.n_outputs_
        stopped = {"message": None}
        n_train = n_samples

        def on_epoch(record_json, weights_squared):
            record = json.loads(record_json)
            self.n_iter_ += 1
            self.t_ += n_train
            self.loss_ = record["running_cost"] * per_output + 0.5 * self.alpha * weights_squared / batch_size
            self.loss_curve_.append(self.loss_)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
            answer = None
            if early_stopping:
                e = record["evaluation"]
                score = e["correct"] / e["total"] if classes is not None else e["r2"]
                self.validation_scores_.append(score)
                if self.verbose:
                    print("Validation score: %f" % score)
                if score < self.best_validation_score_ + self.tol:
                    self._no_improvement_count += 1
                else:
                    self._no_improvement_count = 0
                if score > self.best_validation_score_:
                    self.best_validation_score_ = score
                    answer = "best"
            else:
                if self.loss_ > self.best_loss_ - self.tol:
                    self._no_improvement_count += 1
                else:
                    self._no_improvement_count = 0
                if self.loss_ < self.best_loss_:
                    self.best_loss_ = self.loss_
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if early_stopping else "Training loss"
                stopped["message"] = "%s did not improve more than tol=%f for %d consecutive epochs." % (
                    what, self.tol, self.n_iter_no_change)
                if self.verbose:
                    print(stopped["message"] + " Stopping.")
                return "stop"
            return answer

        epochs = 1 if incremental else self.max_iter
        run.fit(self._net, X, targets, classes, epochs, evaluation, on_epoch)
        if early_stopping:
            run.restore_best(self._net)
        if not incremental and stopped["message"] is None and self.n_iter_ >= self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning)
        return self

    def fit(self, X, y):
        """Fit the model to data matrix X and target(s) y."""
        return self._fit(X, y, incremental=False)

    # Pickling: the network as its JSON (the engine's Net pickles so); a run in progress (the
    # update rule's momentum or moments) is not kept, and partial_fit after unpickling starts
    # a fresh one.
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_run", None)
        state.pop("_run_key", None)
        return state


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier on batchprop's engine: scikit-learn's
    ``MLPClassifier`` parameters, a softmax output layer and the log-likelihood cost."""

    def _output(self):
        return "softmax", "log-likelihood"

    def _targets(self, y, incremental):
        check_classification_targets(y)
        if not hasattr(self, "_label_encoder") or not (self.warm_start or incremental):
            if incremental and hasattr(self, "_partial_classes"):
                classes = self._partial_classes
            else:
                classes = unique_labels(y)
            self._label_encoder = LabelEncoder().fit(classes)
            self.classes_ = self._label_encoder.classes_
        else:
            unknown = np.setdiff1d(unique_labels(y), self.classes_)
            if unknown.size:
                raise ValueError(f"y contains labels {list(unknown)} not seen in the first fit, whose classes are "
                                 f"{list(self.classes_)}")
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least 2 classes in the data; got 1 class: "
                             f"{self.classes_[0]!r}")
        return self._label_encoder.transform(y).astype(np.uint32), len(self.classes_)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), keeping the update rule's state between calls. The first
        call needs ``classes``, every class the calls will see."""
        if not hasattr(self, "_net"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._partial_classes = unique_labels(classes)
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={list(unique_labels(classes))}` is not the same as on the last call to "
                             f"partial_fit, was: {list(self.classes_)}")
        return self._fit(X, y, incremental=True)

    def predict_proba(self, X):
        """The probability of each class, ``(n_samples, n_classes)``, in ``classes_``'s order."""
        return self._forward(X).astype(np.float64, copy=False)

    def predict_log_proba(self, X):
        """The log of ``predict_proba``."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample."""
        out = self._forward(X)
        return self.classes_[np.argmax(out, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor on batchprop's engine: scikit-learn's
    ``MLPRegressor`` parameters, a linear output layer and the quadratic cost."""

    def _output(self):
        return "identity", "quadratic"

    def _targets(self, y, incremental):
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        return (y.reshape(-1, 1) if y.ndim == 1 else y), None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = False
        return tags

    def partial_fit(self, X, y):
        """One epoch over (X, y), keeping the update rule's state between calls."""
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """The network's outputs, ``(n_samples,)`` for one target, else ``(n_samples, n_outputs)``."""
        out = self._forward(X).astype(np.float64, copy=False)
        return out.ravel() if out.shape[1] == 1 and self._y_1d else out
