"""The one place that imports Numba: compiled kernels are cached on disk.

``njit`` compiles with ``cache=True`` so a kernel is built once per machine, not once per
process. Every compiled function keeps its pure-Python source as ``.py_func``; the tests
run both and require identical results (the reference path is the truth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np


def njit(func: Callable[..., Any]) -> Any:
    """Compile ``func`` in nopython mode with an on-disk cache."""
    return numba.njit(cache=True, nogil=True)(func)


@njit
def grow(array, n):  # pragma: no cover - compiled
    """A twice-larger array holding ``array[:n]``: amortised appends in compiled loops."""
    out = np.empty(max(2 * array.shape[0], 16), dtype=array.dtype)
    out[:n] = array[:n]
    return out
