"""scikit-learn's bundled 8x8 digits (1,797 images, no network needed): the embedded default."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewave._validation import Interval, check_number


@dataclass(frozen=True)
class Split:
    """Images as float32 in [0, 1] (``[N, H, W]``) and int64 labels, train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int


def load_digits_split(test_fraction: float = 0.25, seed: int = 0) -> Split:
    """A stratified train/test split of the 8x8 digits, pixels scaled from 0..16 to 0..1."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    frac = check_number("test_fraction", test_fraction, Interval(0.0, 1.0, "neither"))
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=frac, random_state=seed,
                                              stratify=y)
    return Split(x_tr, y_tr, x_te, y_te, 10)
