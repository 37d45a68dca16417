"""Declarative parameter validation with one uniform message.

Every public function and parameter record checks its input once, at the boundary, and
raises :class:`ParameterError` whose message names the parameter, the value received and
what is allowed, in the style of scikit-learn::

    The 'tau_m_ms' parameter of LIFParams must be a finite number in (0, inf). Got -1.0.

Parameter records are frozen dataclasses deriving from :class:`Params`; each field declares
its allowed range with :func:`param`, and ``__post_init__`` checks them all, then calls the
record's optional ``_check_consistency`` for rules that involve several fields.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """An invalid argument: names the parameter, the value and what is allowed."""


class DataError(ValueError):
    """A malformed, corrupt or over-budget data file or checkpoint: names the file, the
    field or byte offset, and what was expected there."""


def data_fail(path: Any, where: str, expected: str, got: Any = None) -> DataError:
    """Build the uniform error for a bad file; the caller raises it.

    ``path`` names the file (or ``file:member`` inside an archive), ``where`` the field or
    offset, ``expected`` what a valid file holds there::

        data.idx.gz, header byte 2: expected an IDX type code (0x08, ...). Got 0x07.
    """
    tail = "" if got is None else f" Got {got}."
    return DataError(f"{path}, {where}: expected {expected}.{tail}")


@dataclass(frozen=True, slots=True)
class Interval:
    """A range of real numbers; ``closed`` says which ends belong to it."""

    low: float = -math.inf
    high: float = math.inf
    closed: str = "neither"  # "left", "right", "both" or "neither"

    def __contains__(self, value: float) -> bool:
        left_ok = value >= self.low if self.closed in ("left", "both") else value > self.low
        right_ok = value <= self.high if self.closed in ("right", "both") else value < self.high
        return left_ok and right_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"


POSITIVE = Interval(0.0, math.inf, "neither")
NON_NEGATIVE = Interval(0.0, math.inf, "left")
REAL = Interval(-math.inf, math.inf, "neither")


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}"


def _where(owner: str | None) -> str:
    return f" of {owner}" if owner else ""


def fail(name: str, value: Any, allowed: str, owner: str | None = None) -> ParameterError:
    """Build the uniform error for parameter ``name``; the caller raises it."""
    return ParameterError(
        f"The '{name}' parameter{_where(owner)} must be {allowed}. Got {value!r}."
    )


def check_number(
    name: str, value: Any, interval: Interval = REAL, owner: str | None = None
) -> float:
    """Return ``value`` as a float after checking it is a finite real number in ``interval``."""
    allowed = f"a finite number in {interval}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise fail(name, value, allowed, owner)
    x = float(value)
    if not math.isfinite(x) or x not in interval:
        raise fail(name, value, allowed, owner)
    return x


def check_int(
    name: str, value: Any, low: int | None = None, high: int | None = None,
    owner: str | None = None,
) -> int:
    """Return ``value`` as an int after checking ``low <= value <= high``."""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    allowed = f"an integer in [{lo}, {hi}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise fail(name, value, allowed, owner)
    if (low is not None and value < low) or (high is not None and value > high):
        raise fail(name, value, allowed, owner)
    return int(value)


def check_choice(name: str, value: Any, options: Iterable[str], owner: str | None = None) -> str:
    """Check that ``value`` is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise fail(name, value, "one of " + ", ".join(repr(o) for o in options), owner)
    return value


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    interval: Interval = REAL,
    owner: str | None = None,
) -> np.ndarray:
    """Return ``value`` as a float64 array after checking dimension, finiteness and range."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(name, value, "an array of real numbers", owner) from None
    if ndim is not None:
        dims = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in dims:
            raise fail(name, f"array of shape {arr.shape}",
                       f"an array with {' or '.join(map(str, dims))} dimension(s)", owner)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise fail(name, f"array containing {bad}", "an array of finite numbers", owner)
    if arr.size and (interval.low > -math.inf or interval.high < math.inf):
        inside = np.vectorize(lambda v: v in interval, otypes=[bool])(arr)
        if not inside.all():
            bad = arr[~inside].ravel()[0]
            raise fail(name, f"array containing {bad:g}",
                       f"an array of numbers in {interval}", owner)
    return arr


def param(default: Any, interval: Interval = REAL, doc: str = "") -> Any:
    """Declare a numeric field of a :class:`Params` record with its allowed range."""
    return dataclasses.field(default=default, metadata={"interval": interval, "doc": doc})


class Params:
    """Base of frozen parameter records: fields are validated once, at construction.

    Subclasses are ``@dataclass(frozen=True)``; numeric fields are declared with
    :func:`param`. Integers are stored as floats. Cross-field rules go in
    ``_check_consistency``, which raises through :func:`fail`.
    """

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            interval = f.metadata.get("interval")
            if interval is not None:
                value = check_number(f.name, getattr(self, f.name), interval, owner)
                object.__setattr__(self, f.name, value)
        self._check_consistency()

    def _check_consistency(self) -> None:
        """Rules involving several fields; none by default."""

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
