"""Linear readouts of fixed features (a linear SVM, as in Kheradpisheh et al. 2018).

Features are scaled by their maximum over the training set (each feature to [0, 1] when
features are non-negative, as spike potentials are), then a one-vs-rest linear SVM
(scikit-learn's ``LinearSVC``, solved in the primal: with more examples than features, or
few examples per class, it converges in tens of iterations where the dual needs thousands)
is fitted.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from spikewave._validation import POSITIVE, check_array, check_number, fail


class LinearReadout:
    """``fit(features, labels)`` then ``predict(features)`` / ``score(features, labels)``."""

    def __init__(self, c: float = 1.0, max_iter: int = 5000, seed: int = 0) -> None:
        self.c = check_number("c", c, POSITIVE)
        self.max_iter = max_iter
        self.seed = seed
        self.scale: np.ndarray | None = None
        self.svm: LinearSVC | None = None

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LinearReadout:
        x = check_array("features", features, ndim=2)
        y = np.asarray(labels)
        if len(y) != len(x) or len(x) == 0:
            raise fail("labels", f"{len(y)} labels for {len(x)} feature rows",
                       "one label per row, at least one row")
        if len(np.unique(y)) < 2:
            raise fail("labels", "a single class", "at least two classes")
        self.scale = np.maximum(np.abs(x).max(0), 1e-12)
        self.svm = LinearSVC(C=self.c, dual=False, max_iter=self.max_iter,
                             random_state=self.seed)
        with warnings.catch_warnings():  # a few-label fit may stop at max_iter: still usable
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.svm.fit(x / self.scale, y)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        if self.svm is None or self.scale is None:
            raise RuntimeError("LinearReadout.predict called before fit")
        x = check_array("features", features, ndim=2)
        return self.svm.predict(x / self.scale)

    def score(self, features: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(features) == np.asarray(labels)))


def few_label_subset(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` examples of each class drawn without replacement."""
    y = np.asarray(labels)
    picks = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise fail("labels_per_class", per_class, f"at most {len(idx)} (class {c} has "
                       f"{len(idx)} training examples)")
        picks.append(rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(picks))
