"""The one place that imports Numba: compiled kernels are cached on disk.

``njit`` compiles with ``cache=True`` so a kernel is built once per machine, not once per
process; the cache is stamped with the digest of every file of the package that holds
compiled code, so that a change anywhere in them recompiles (:class:`_PackageStamp`).
Every compiled function keeps its pure-Python source as ``.py_func``; the tests run both
and require identical results (the reference path is the truth).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba.core import caching

PACKAGE_ROOT = Path(__file__).resolve().parent
_MARKS = (b"njit", b"intrinsic")  # what a file with compiled code contains


def compiled_sources_digest(root: Path = PACKAGE_ROOT) -> str:
    """A digest of every ``.py`` file under ``root`` that holds compiled code (mentions
    ``njit`` or ``intrinsic``): names and contents."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        text = path.read_bytes()
        if any(mark in text for mark in _MARKS):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + text)
    return digest.hexdigest()


@functools.cache
def _package_digest() -> str:
    return compiled_sources_digest()


class _PackageStamp:
    """Numba stamps a cached kernel with a hash of the file that defines it, so a kernel
    whose file is unchanged keeps its cached machine code when a function it inlines from
    another file changes (a Numba-compiled helper, an LLVM-IR intrinsic) -- stale code,
    found when a changed intrinsic went on running. Here the stamp also holds the digest
    of every file with compiled code in the package: any change of those recompiles."""

    def get_source_stamp(self):
        return (super().get_source_stamp(), _package_digest())


class _UserProvided(_PackageStamp, caching.UserProvidedCacheLocator):
    pass


class _InTree(_PackageStamp, caching.InTreeCacheLocator):
    pass


class _UserWide(_PackageStamp, caching.UserWideCacheLocator):
    pass


class _CacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_UserProvided, _InTree, _UserWide]


class _FunctionCache(caching.FunctionCache):
    _impl_class = _CacheImpl


def _with_package_cache(dispatcher: Any) -> Any:
    """``dispatcher`` (compiled with ``cache=True``) caching under the package stamp; left
    with Numba's own cache if this Numba's caching internals differ."""
    try:
        dispatcher._cache = _FunctionCache(dispatcher.py_func)
    except Exception:  # noqa: BLE001 - Numba internals: keep the plain cache
        pass
    return dispatcher


def njit(func: Callable[..., Any] | None = None, *, error_model: str = "python") -> Any:
    """Compile ``func`` in nopython mode with an on-disk cache (``@njit`` or
    ``@njit(error_model="numpy")``).

    ``error_model="numpy"`` is for hot loops that divide by values that cannot be zero:
    under Python's model every division tests its divisor and may raise, and that branch
    keeps LLVM from vectorising the loop (the surrogate derivative ``1 / (1 + s|u|)^2``,
    say). A zero
    divisor then gives inf or nan instead of ``ZeroDivisionError``."""
    if error_model not in ("python", "numpy"):
        raise ValueError(f"error_model must be 'python' or 'numpy', not {error_model!r}")
    compile_ = numba.njit(cache=True, nogil=True, error_model=error_model)

    def build(f: Callable[..., Any]) -> Any:
        return _with_package_cache(compile_(f))

    return build if func is None else build(func)


@njit
def grow(array, n):  # pragma: no cover - compiled
    """A twice-larger array holding ``array[:n]``: amortised appends in compiled loops."""
    out = np.empty(max(2 * array.shape[0], 16), dtype=array.dtype)
    out[:n] = array[:n]
    return out
