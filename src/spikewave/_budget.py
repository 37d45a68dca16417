"""Work and memory budgets: a simulation refuses up front what it could not finish.

A simulation function estimates, from its arguments alone, how many elementary steps it
will take (time steps times neurons, events, spikes) and how much memory its results need,
and calls :func:`check_budget` before it starts. Past the budget it raises
:class:`BudgetError` (a :class:`~spikewave._validation.ParameterError`) that states the
estimate, the budget, and how to raise it -- instead of filling the memory, or running for
days on a typo such as ``duration_ms=1e12``.

The default budget (:data:`DEFAULT_BUDGET`: 10^10 steps, 4 GiB) is far above what the
reproductions need; pass ``budget=Budget(max_steps=..., max_bytes=...)`` to a simulation
function for larger runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spikewave._validation import ParameterError, check_number

GIB = float(1 << 30)


class BudgetError(ParameterError):
    """A run whose predicted work or memory exceeds its budget; says both and the fix."""


@dataclass(frozen=True)
class Budget:
    """The most elementary steps and bytes of results one simulation call may use."""

    max_steps: float = 1e10
    max_bytes: float = 4 * GIB

    def __post_init__(self) -> None:
        check_number("max_steps", self.max_steps, owner="Budget")
        check_number("max_bytes", self.max_bytes, owner="Budget")
        if self.max_steps <= 0 or self.max_bytes <= 0:
            raise ParameterError("The 'max_steps' and 'max_bytes' parameters of Budget must be "
                                 f"positive. Got {self.max_steps!r} and {self.max_bytes!r}.")


DEFAULT_BUDGET = Budget()


def _size(n_bytes: float) -> str:
    if not math.isfinite(n_bytes):
        return "unbounded memory"
    for unit, scale in (("TiB", GIB * 1024), ("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1024)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_budget(what: str, steps: float, n_bytes: float = 0.0, budget: Budget | None = None,
                 why: str = "", fix: str = "") -> None:
    """Raise :class:`BudgetError` when ``steps`` or ``n_bytes`` exceed ``budget``.

    ``what`` names the call (``"simulate_hh"``), ``why`` says where the estimate comes
    from (``"1e14 ms at dt = 0.01 ms"``), ``fix`` how to get under the budget (default: how
    to raise it). Estimates that are not finite always exceed.
    """
    b = DEFAULT_BUDGET if budget is None else budget
    steps, n_bytes = float(steps), float(n_bytes)
    over_steps = not math.isfinite(steps) or steps > b.max_steps
    over_bytes = not math.isfinite(n_bytes) or n_bytes > b.max_bytes
    if not (over_steps or over_bytes):
        return
    steps_text = f"{steps:.3g} steps" if math.isfinite(steps) else "an unbounded number of steps"
    memory = f" and {_size(n_bytes)} of results" if n_bytes else ""
    raise BudgetError(
        f"{what} would take {steps_text}{memory}{' (' + why + ')' if why else ''}, more than "
        f"its budget of {b.max_steps:.3g} steps and {_size(b.max_bytes)}; "
        + (fix or "check the arguments, or pass budget=Budget(max_steps=..., max_bytes=...) "
           "to raise the budget"))
