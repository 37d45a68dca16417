"""What a reproduction is, what it returns, and how reproductions are found by name.

A reproduction is one module in :mod:`spikewave.experiments` that defines
``REPRODUCTION = Reproduction(...)``; it is registered by one line in
``spikewave/experiments/__init__.py`` (its name and module). Its ``run`` function takes a
:class:`RunContext` (quick or full, seed, output folder, progress) plus the values of the
command-line options it declared in ``add_arguments``, and returns a :class:`Result`.
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from spikewave._validation import fail


@dataclass(frozen=True)
class Metric:
    """One figure of merit: the measured value beside its reference and the check applied.

    ``key`` is the name under which the value appears in ``--json`` output (a contract).
    ``passed`` is None for values that are reported without a pass/fail criterion.
    """

    key: str
    value: float
    reference: float | None = None
    criterion: str = ""
    passed: bool | None = None
    unit: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": _jsonable(self.value), "reference": _jsonable(
            self.reference), "criterion": self.criterion, "passed": self.passed,
            "unit": self.unit}


def within_rel(key: str, value: float, reference: float, rel_tol: float, unit: str = "",
               source: str = "") -> Metric:
    """A metric that passes when ``|value - reference| <= rel_tol * |reference|``."""
    ok = math.isfinite(value) and abs(value - reference) <= rel_tol * abs(reference)
    crit = f"within {rel_tol * 100:g} % of {reference:.4g}" + (f" ({source})" if source else "")
    return Metric(key, value, reference, crit, ok, unit)


def below(key: str, value: float, bound: float, unit: str = "", reference: float | None = None,
          what: str = "") -> Metric:
    """A metric that passes when ``value < bound``."""
    ok = math.isfinite(value) and value < bound
    return Metric(key, value, reference, f"< {bound:g}" + (f" {what}" if what else ""), ok, unit)


@dataclass
class Result:
    """What a reproduction returns: metrics, figure paths and any extra JSON fields."""

    name: str
    title: str
    metrics: list[Metric]
    figures: list[Path] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.metrics if m.passed is not None)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: each metric's value under its key, then the details."""
        out: dict[str, Any] = {"name": self.name, "passed": self.passed}
        out.update({m.key: _jsonable(m.value) for m in self.metrics})
        out.update({k: _jsonable(v) for k, v in self.extra.items()})
        out.setdefault("wall_s", round(self.wall_s, 3))  # a reproduction may define its own
        out["total_wall_s"] = round(self.wall_s, 3)
        out["config"] = {k: _jsonable(v) for k, v in self.config.items()}
        out["metrics"] = [m.as_dict() for m in self.metrics]
        out["figures"] = [str(p) for p in self.figures]
        return out


def _jsonable(v: Any) -> Any:
    """Floats that JSON can hold (NaN/inf become None), arrays as lists."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, Path):
        return str(v)
    return v


@dataclass(frozen=True)
class RunContext:
    """How to run: quick or full, the seed, where figures go, whether to show progress."""

    quick: bool = False
    seed: int = 0
    out_dir: Path = Path("report")
    progress: bool = True

    def figure_path(self, filename: str) -> Path:
        return self.out_dir / filename

    def progress_bar(self, iterable: Iterable[Any] | None = None, total: int | None = None,
                     desc: str = "") -> tqdm:
        """A progress bar on stderr (shown only when ``progress`` is on and stderr is a TTY)."""
        return tqdm(iterable, total=total, desc=desc, leave=False,
                    disable=None if self.progress else True)


@dataclass(frozen=True)
class Reproduction:
    """A registered reproduction: its name, one-line title, run function and CLI options."""

    name: str
    title: str
    run: Callable[..., Result]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    description: str = ""

    def execute(self, ctx: RunContext, **options: Any) -> Result:
        """Run with ``ctx`` and the reproduction's own options; records the wall time."""
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result = self.run(ctx, **options)
        result.wall_s = time.perf_counter() - start
        return result


class Registry(Mapping[str, Reproduction]):
    """Reproductions by name; each module is imported on first use."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._loaded: dict[str, Reproduction] = {}

    def __getitem__(self, name: str) -> Reproduction:
        if name not in self._modules:
            raise fail("name", name, "one of " + ", ".join(self._modules) + " (or 'all')")
        if name not in self._loaded:
            module = importlib.import_module(self._modules[name])
            repro = module.REPRODUCTION
            if repro.name != name:  # pragma: no cover - a registration mistake
                raise RuntimeError(f"{self._modules[name]} registers {repro.name!r}, not {name!r}")
            self._loaded[name] = repro
        return self._loaded[name]

    def __iter__(self):
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)
