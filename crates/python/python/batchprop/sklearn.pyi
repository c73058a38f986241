from typing import Any, Optional, Sequence, Union

import numpy.typing as npt
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

Array = npt.NDArray[Any]

class _BaseMLP(BaseEstimator):
    loss_: float
    best_loss_: Optional[float]
    loss_curve_: list[float]
    validation_scores_: Optional[list[float]]
    best_validation_score_: Optional[float]
    n_iter_: int
    t_: int
    n_layers_: int
    n_outputs_: int
    out_activation_: str
    n_features_in_: int
    def __init__(self, hidden_layer_sizes: Union[int, Sequence[int]] = (100,), activation: str = "relu", *,
                 solver: str = "adam", alpha: float = 0.0001, batch_size: Union[int, str] = "auto",
                 learning_rate: str = "constant", learning_rate_init: float = 0.001, max_iter: int = 200,
                 shuffle: bool = True, random_state: Any = None, tol: float = 1e-4, verbose: bool = False,
                 warm_start: bool = False, momentum: float = 0.9, nesterovs_momentum: bool = True,
                 early_stopping: bool = False, validation_fraction: float = 0.1, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-8, n_iter_no_change: int = 10, dtype: Any = None,
                 dropout: float = 0.0, n_threads: Optional[int] = None) -> None: ...
    @property
    def coefs_(self) -> list[Array]: ...
    @property
    def intercepts_(self) -> list[Array]: ...
    def fit(self, X: Any, y: Any) -> "_BaseMLP": ...

class MLPClassifier(ClassifierMixin, _BaseMLP):
    classes_: Array
    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> "MLPClassifier": ...
    def predict(self, X: Any) -> Array: ...
    def predict_proba(self, X: Any) -> Array: ...
    def predict_log_proba(self, X: Any) -> Array: ...

class MLPRegressor(RegressorMixin, _BaseMLP):
    def partial_fit(self, X: Any, y: Any) -> "MLPRegressor": ...
    def predict(self, X: Any) -> Array: ...
