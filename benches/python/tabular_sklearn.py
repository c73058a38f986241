"""scikit-learn's reference figures for docs/results.md's table of the data/tabular sets.

The same protocol as `examples/train`'s defaults: 80 / 20 split (scikit-learn's own
train_test_split, seeds 0, 1, 2; not the same rows as batchprop's split), features
standardised on the training rows, MLPClassifier / MLPRegressor with their defaults
(100 ReLUs, Adam, η 0.001, batches of min(200, n), 200 epochs), plus a linear model for
scale. Prints the median of the three seeds per data set.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install scikit-learn pandas
    /tmp/venv/bin/python benches/python/tabular_sklearn.py
"""

import statistics
import warnings
from pathlib import Path

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore", category=ConvergenceWarning)
DATA = Path(__file__).resolve().parents[2] / "data" / "tabular"

for name, regress in [("iris", False), ("wine", False), ("breast_cancer", False), ("digits", False), ("diabetes", True)]:
    table = pd.read_csv(DATA / f"{name}.csv")
    x, y = table.iloc[:, :-1].to_numpy(float), table.iloc[:, -1].to_numpy()
    mlp, linear = [], []
    for seed in range(3):
        xt, xs, yt, ys = train_test_split(x, y, test_size=0.2, random_state=seed)
        if regress:
            models = [MLPRegressor(random_state=seed), LinearRegression()]
            score = lambda m: r2_score(ys, m.predict(xs))
        else:
            models = [MLPClassifier(random_state=seed), LogisticRegression(max_iter=1000)]
            score = lambda m: m.score(xs, ys)
        for model, out in zip(models, (mlp, linear)):
            fitted = make_pipeline(StandardScaler(), model).fit(xt, yt)
            out.append(score(fitted))
    what = "R²" if regress else "accuracy"
    print(f"{name:14} {what:8} MLP median {statistics.median(mlp):.3f} {[round(v, 3) for v in mlp]}"
          f"   linear median {statistics.median(linear):.3f}")
