"""The discrete-time LIF neuron exactly as the lecture writes it.

For time step ``n``::

    V[n+1] = beta V[n] + sum_j w_j S_j[n]          beta = exp(-dt / tau)
    S[n+1] = H(V[n+1] - threshold)                 H(0) = 1: reaching threshold fires
    V[n+1] <- (1 - S[n+1]) V[n+1]                  reset to zero ("zero")
    V[n+1] <- V[n+1] - S[n+1] threshold            or reset by subtraction ("subtract")

The functions work unchanged on NumPy arrays and on torch tensors (any shape, any float
dtype, preserved). ``spike_fn`` replaces the Heaviside step, e.g. by a surrogate-gradient
spike function in training; it receives ``V - threshold``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from spikewave._validation import POSITIVE, check_choice, check_number, fail

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


def _check_step_params(beta: float, threshold: float, reset: str) -> None:
    if isinstance(beta, bool) or not isinstance(beta, int | float) or not 0.0 <= beta <= 1.0:
        raise fail("beta", beta, "a number in [0, 1] (beta = exp(-dt/tau))")
    check_number("threshold", threshold, POSITIVE)
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
        beta: decay factor per step in [0, 1].
        threshold: firing threshold (> 0).
        reset: ``"zero"`` (``V = (1 - S) V``) or ``"subtract"`` (``V = V - S threshold``).
        spike_fn: the step function applied to ``V - threshold``.
        detach_reset: (torch) let no gradient flow through the reset term.
    """
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
    potential after the update and the reset at step ``n + 1``. ``v0`` defaults to zeros.
    """
    _check_step_params(beta, threshold, reset)
    if getattr(weighted_inputs, "ndim", 0) < 1:
        raise fail("weighted_inputs", weighted_inputs, "an array with a leading time axis [T, ...]")
    is_numpy = isinstance(weighted_inputs, np.ndarray)
    if is_numpy and not np.issubdtype(weighted_inputs.dtype, np.floating):
        raise fail("weighted_inputs", f"array of dtype {weighted_inputs.dtype}",
                   "a floating-point array")
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
