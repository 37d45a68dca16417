"""The discrete-time LIF neuron exactly as the lecture writes it.

For time step ``n``::

    V[n+1] = beta V[n] + sum_j w_j S_j[n]          beta = exp(-dt / tau)
    S[n+1] = H(V[n+1] - threshold)                 H(0) = 1: reaching threshold fires
    V[n+1] <- (1 - S[n+1]) V[n+1]                  reset to zero ("zero")
    V[n+1] <- V[n+1] - S[n+1] threshold            or reset by subtraction ("subtract")

The functions work unchanged on NumPy arrays and on torch tensors (any shape, any float
dtype, preserved). ``spike_fn`` replaces the Heaviside step, e.g. by a surrogate-gradient
spike function in training; it receives ``V - threshold``.

Both functions check the same parameter ranges (``beta`` in [0, 1], ``threshold > 0``, a
known reset) when they are plain numbers; per-neuron tensors of ``beta`` or ``threshold``
come from layers that validated them at construction and are not checked at every step.
:func:`lif_discrete_run` also checks its whole input (and ``v0``) once: at least one time
step, a floating dtype, no NaN or infinity -- a NaN input would otherwise fire nothing,
silently, and with the zero reset one infinite input leaves ``V`` NaN for good.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from spikewave._validation import POSITIVE, Interval, check_choice, check_number, fail

Array = TypeVar("Array")  # a numpy.ndarray or a torch.Tensor
RESET_MODES = ("zero", "subtract")


def beta_from_tau(tau_ms: float, dt_ms: float) -> float:
    """Decay factor per step, ``beta = exp(-dt / tau)``."""
    tau = check_number("tau_ms", tau_ms, POSITIVE)
    dt = check_number("dt_ms", dt_ms, POSITIVE)
    return math.exp(-dt / tau)


def heaviside(x: Array) -> Array:
    """``H(x)`` with ``H(0) = 1``, in the dtype of ``x`` (NumPy array or torch tensor)."""
    mask = x >= 0
    if isinstance(x, np.ndarray | np.generic):
        return mask.astype(x.dtype)
    return mask.to(x.dtype)  # type: ignore[attr-defined]


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real | np.ndarray | np.generic) and np.ndim(x) == 0


def _check_step_params(beta: Any, threshold: Any, reset: str, numbers_only: bool) -> None:
    """The ranges of both functions; tensors (per-neuron values) pass unless
    ``numbers_only``."""
    if _is_number(beta) and not isinstance(beta, bool | np.bool_):
        check_number("beta", float(beta), Interval(0.0, 1.0, "both"))
    elif numbers_only or isinstance(beta, bool | np.bool_ | str) or beta is None:
        raise fail("beta", beta, "a number in [0, 1] (beta = exp(-dt/tau))")
    if _is_number(threshold) and not isinstance(threshold, bool | np.bool_):
        check_number("threshold", float(threshold), POSITIVE)
    elif numbers_only or isinstance(threshold, bool | np.bool_ | str) or threshold is None:
        raise fail("threshold", threshold, "a finite number in (0, inf)")
    check_choice("reset", reset, RESET_MODES)


def lif_discrete_step(
    v: Array,
    weighted_input: Array,
    beta: float,
    threshold: float = 1.0,
    reset: str = "zero",
    spike_fn: Callable[[Any], Any] = heaviside,
    detach_reset: bool = False,
) -> tuple[Array, Array]:
    """One step of the lecture's discrete LIF; returns ``(V[n+1] after reset, S[n+1])``.

    This is the one LIF update of the code base: the torch layers of :mod:`spikewave.nn`
    run it through :mod:`spikewave.kernels`.

    Args:
        v: membrane potential ``V[n]``.
        weighted_input: ``sum_j w_j S_j[n]``, same shape as ``v``.
        beta: decay factor per step in [0, 1] (a number, or a per-neuron tensor).
        threshold: firing threshold (> 0; a number, or a per-neuron tensor).
        reset: ``"zero"`` (``V = (1 - S) V``) or ``"subtract"`` (``V = V - S threshold``).
        spike_fn: the step function applied to ``V - threshold``.
        detach_reset: (torch) let no gradient flow through the reset term.
    """
    _check_step_params(beta, threshold, reset, numbers_only=False)
    v_next = beta * v + weighted_input
    s = spike_fn(v_next - threshold)
    s_reset = s.detach() if detach_reset else s
    if reset == "zero":
        v_next = (1 - s_reset) * v_next
    else:
        v_next = v_next - s_reset * threshold
    return v_next, s


def lif_discrete_run(
    weighted_inputs: Array,
    beta: float,
    threshold: float = 1.0,
    reset: str = "zero",
    v0: Array | None = None,
) -> tuple[Array, Array]:
    """Run :func:`lif_discrete_step` over the leading (time) axis of ``[T, ...]`` inputs.

    Returns ``(spikes, v)``, both ``[T, ...]``: ``spikes[n]`` is ``S[n+1]`` and ``v[n]`` the
    potential after the update and the reset at step ``n + 1``. ``v0`` defaults to zeros;
    given, it has the shape of one step, ``weighted_inputs.shape[1:]``. The input needs at
    least one step and no NaN or infinity.
    """
    _check_step_params(beta, threshold, reset, numbers_only=True)
    _check_sequence("weighted_inputs", weighted_inputs)
    is_numpy = isinstance(weighted_inputs, np.ndarray)
    if v0 is not None:
        if isinstance(v0, np.ndarray) != is_numpy or tuple(v0.shape) != tuple(
                weighted_inputs.shape[1:]):
            raise fail("v0", f"{type(v0).__name__} of shape {tuple(getattr(v0, 'shape', ()))}",
                       f"a {'NumPy array' if is_numpy else 'tensor'} of shape "
                       f"{tuple(weighted_inputs.shape[1:])} (one time step of the input)")
        _check_finite("v0", v0)
    v = weighted_inputs[0] * 0 if v0 is None else v0
    spikes, potentials = [], []
    for x in weighted_inputs:
        v, s = lif_discrete_step(v, x, beta, threshold, reset)
        spikes.append(s)
        potentials.append(v)
    if is_numpy:
        return np.stack(spikes), np.stack(potentials)
    import torch

    return torch.stack(spikes), torch.stack(potentials)


def _check_finite(name: str, x: Any) -> None:
    if isinstance(x, np.ndarray):
        ok = bool(np.isfinite(x).all())
    else:
        import torch

        ok = bool(torch.isfinite(x.detach()).all())
    if not ok:
        raise fail(name, "values with NaN or infinity", "finite values (a NaN input fires "
                   "nothing, and an infinite one leaves V NaN after a zero reset)")


def _check_sequence(name: str, x: Any) -> None:
    """A NumPy array or torch tensor ``[T, ...]`` with ``T >= 1``, floating, finite."""
    if isinstance(x, np.ndarray | np.generic):
        floating = np.issubdtype(x.dtype, np.floating)
    elif type(x).__module__.startswith("torch"):
        floating = bool(getattr(x, "is_floating_point", lambda: False)())
    else:
        raise fail(name, type(x).__name__, "a NumPy array or torch tensor [T, ...]")
    if x.ndim < 1:
        raise fail(name, f"an array of shape {tuple(x.shape)}",
                   "an array with a leading time axis [T, ...]")
    if x.shape[0] == 0:
        raise fail(name, f"an array of shape {tuple(x.shape)}",
                   "at least one time step (T >= 1)")
    if not floating:
        raise fail(name, f"an array of dtype {x.dtype}", "a floating-point array")
    _check_finite(name, x)


def first_spike_step_constant_input(x: float, beta: float, threshold: float = 1.0) -> float:
    """Closed form for constant input ``x`` from ``V[0] = 0``: the first ``n`` with ``V[n] >= thr``.

    ``V[n] = x (1 - beta^n) / (1 - beta)``, so ``n = ceil(ln(1 - thr (1 - beta) / x) / ln beta)``;
    infinity when ``x / (1 - beta) < threshold`` (never fires).
    """
    if beta == 1.0:
        return math.ceil(threshold / x) if x > 0 else math.inf
    arg = 1.0 - threshold * (1.0 - beta) / x if x > 0 else -1.0
    if arg <= 0.0:
        return math.inf
    if beta == 0.0:
        return 1 if x >= threshold else math.inf
    return max(1, math.ceil(math.log(arg) / math.log(beta) - 1e-12))
