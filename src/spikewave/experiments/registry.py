"""What a reproduction is, what it returns, and how reproductions are found by name.

A reproduction is one module in :mod:`spikewave.experiments` that defines
``REPRODUCTION = Reproduction(...)``; it is registered by one line in
``spikewave/experiments/__init__.py`` (its name and module). Its ``run`` function takes a
:class:`RunContext` (quick or full, seed, output folder, progress) plus the values of the
command-line options it declared in ``add_arguments``, and returns a :class:`Result`.

A result has one of three statuses (:data:`STATUSES`):

- ``pass``: every judged check holds;
- ``partial``: the only failing checks are those the reproduction's module declares as a
  :class:`KnownPartial` (a documented shortfall against the paper, with its reason and the
  figure reached), in the configurations it names;
- ``fail``: any other failing check -- a real failure.
"""

from __future__ import annotations

import argparse
import importlib
import math
import shlex
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
    bound: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": _jsonable(self.value), "reference": _jsonable(
            self.reference), "criterion": self.criterion, "passed": self.passed,
            "unit": self.unit, "bound": _jsonable(self.bound)}


def within_rel(key: str, value: float, reference: float, rel_tol: float, unit: str = "",
               source: str = "") -> Metric:
    """A metric that passes when ``|value - reference| <= rel_tol * |reference|``."""
    ok = math.isfinite(value) and abs(value - reference) <= rel_tol * abs(reference)
    crit = f"within {rel_tol * 100:g} % of {reference:.4g}" + (f" ({source})" if source else "")
    return Metric(key, value, reference, crit, ok, unit)


def below(key: str, value: float, bound: float, unit: str = "", reference: float | None = None,
          what: str = "") -> Metric:
    """A metric that passes when ``value < bound`` (an upper bound, e.g. on an error)."""
    ok = math.isfinite(value) and value < bound
    return Metric(key, value, reference, f"< {bound:g}" + (f" {what}" if what else ""), ok, unit,
                  bound)


STATUSES = ("pass", "partial", "fail")


@dataclass(frozen=True)
class KnownPartial:
    """A documented shortfall of a reproduction, declared in its module.

    ``checks`` are the metric keys known to fail; ``reason`` says why, ``reached`` what the
    reproduction does reach instead (the figure, in words). ``applies`` picks the
    configurations it covers from a result's ``config`` (default: all). A failing check not
    listed here, or in another configuration, is a real failure.
    """

    checks: tuple[str, ...]
    reason: str
    reached: str
    applies: Callable[[Mapping[str, Any]], bool] | None = None

    def covers(self, failed: set[str], config: Mapping[str, Any]) -> bool:
        """Whether the failing checks ``failed`` of a run with ``config`` are this shortfall."""
        in_scope = self.applies is None or bool(self.applies(config))
        return in_scope and failed <= set(self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"checks": list(self.checks), "reason": self.reason, "reached": self.reached}


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
    known_partial: KnownPartial | None = None
    command: str = ""
    seed: int | None = None
    quick: bool = False

    @property
    def passed(self) -> bool:
        """Whether every judged check holds (False for a known-partial result too)."""
        return all(m.passed for m in self.metrics if m.passed is not None)

    @property
    def failed_checks(self) -> list[str]:
        return [m.key for m in self.metrics if m.passed is False]

    @property
    def status(self) -> str:
        """``pass``, ``partial`` (only the declared known shortfall fails) or ``fail``."""
        failed = set(self.failed_checks)
        if not failed:
            return "pass"
        kp = self.known_partial
        if kp is not None and kp.covers(failed, self.config):
            return "partial"
        return "fail"

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: each metric's value under its key, then the details."""
        from spikewave import __version__

        out: dict[str, Any] = {"name": self.name, "passed": self.passed,
                               "status": self.status}
        out.update({m.key: _jsonable(m.value) for m in self.metrics})
        out.update({k: _jsonable(v) for k, v in self.extra.items()})
        out.setdefault("wall_s", round(self.wall_s, 3))  # a reproduction may define its own
        out["total_wall_s"] = round(self.wall_s, 3)
        out["config"] = {k: _jsonable(v) for k, v in self.config.items()}
        out["metrics"] = [m.as_dict() for m in self.metrics]
        out["figures"] = [str(p) for p in self.figures]
        out["known_partial"] = (self.known_partial.as_dict()
                                if self.status == "partial" and self.known_partial else None)
        out["version"] = __version__
        out["command"] = self.command
        out["seed"] = self.seed
        out["quick"] = self.quick
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
    known_partial: KnownPartial | None = None

    def execute(self, ctx: RunContext, **options: Any) -> Result:
        """Run with ``ctx`` and the reproduction's own options; records the wall time, the
        seed, the known shortfall and the command that gives the same result."""
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result = self.run(ctx, **options)
        result.wall_s = time.perf_counter() - start
        result.known_partial = self.known_partial
        result.seed = ctx.seed
        result.quick = ctx.quick
        result.command = self.command(ctx, options)
        return result

    def option_defaults(self) -> dict[str, Any]:
        """The default value of each of this reproduction's own options, by ``dest``."""
        if self.add_arguments is None:
            return {}
        parser = argparse.ArgumentParser(add_help=False)
        self.add_arguments(parser)
        return {a.dest: a.default for a in parser._actions}

    def command(self, ctx: RunContext, options: Mapping[str, Any]) -> str:
        """The ``spikewave reproduce`` command line that runs this configuration again
        (options left at their defaults are not written)."""
        parts = ["spikewave", "reproduce", self.name]
        if ctx.quick:
            parts.append("--quick")
        if ctx.seed != 0:
            parts += ["--seed", str(ctx.seed)]
        defaults = self.option_defaults()
        for dest, value in options.items():
            if value is None or (dest in defaults and value == defaults[dest]):
                continue
            flag = "--" + dest.replace("_", "-")
            if value is True:
                parts.append(flag)
            elif value is False:
                continue
            elif isinstance(value, list | tuple):
                parts += [flag, *(str(v) for v in value)]
            else:
                parts += [flag, shlex.quote(str(value))]
        return " ".join(parts)


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
