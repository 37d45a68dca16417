"""The one place that imports Numba: compiled kernels are cached on disk.

``njit`` compiles with ``cache=True`` so a kernel is built once per machine, not once per
process. Every compiled function keeps its pure-Python source as ``.py_func``; the tests
run both and require identical results (the reference path is the truth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba


def njit(func: Callable[..., Any]) -> Any:
    """Compile ``func`` in nopython mode with an on-disk cache."""
    return numba.njit(cache=True, nogil=True)(func)
