"""Plain PyTorch time loops: the reference every fast path is tested against."""

from __future__ import annotations

from collections.abc import Callable

import torch

from spikewave.neurons.discrete_lif import lif_discrete_step


def lif_multistep_reference(
    x: torch.Tensor,
    beta: torch.Tensor | float,
    threshold: float,
    reset: str,
    spike_fn: Callable[[torch.Tensor], torch.Tensor],
    detach_reset: bool = False,
    v0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the discrete LIF over ``x[T, ...]``; returns ``(spikes[T, ...], v_last)``.

    ``beta`` is a float or a tensor broadcastable to ``x[0]`` (per-neuron decay).
    """
    v = torch.zeros_like(x[0]) if v0 is None else v0
    spikes = []
    for x_t in x:
        v, s = lif_discrete_step(v, x_t, beta, threshold, reset, spike_fn, detach_reset)
        spikes.append(s)
    return torch.stack(spikes), v


def leaky_integrate_reference(x: torch.Tensor, beta: torch.Tensor | float,
                              v0: torch.Tensor | None = None) -> torch.Tensor:
    """Non-spiking leaky integrator ``v[t] = beta v[t-1] + x[t]``; returns ``v[T, ...]``."""
    v = torch.zeros_like(x[0]) if v0 is None else v0
    out = []
    for x_t in x:
        v = beta * v + x_t
        out.append(v)
    return torch.stack(out)


def recurrent_lif_multistep_reference(
    x: torch.Tensor,
    w_rec: torch.Tensor,
    beta: torch.Tensor | float,
    threshold: float,
    reset: str,
    spike_fn: Callable[[torch.Tensor], torch.Tensor],
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recurrent LIF over ``x[T, B, N]``: the input at step ``t`` is
    ``x[t] + S[t-1] @ w_rec.T`` (``w_rec``: ``[N, N]``); returns ``(spikes, v_last)``."""
    v = torch.zeros_like(x[0])
    s = torch.zeros_like(x[0])
    spikes = []
    for x_t in x:
        v, s = lif_discrete_step(v, x_t + s @ w_rec.T, beta, threshold, reset, spike_fn,
                                 detach_reset)
        spikes.append(s)
    return torch.stack(spikes), v


def alif_multistep_reference(
    x: torch.Tensor,
    beta: torch.Tensor | float,
    rho: torch.Tensor | float,
    threshold: float,
    adaptation: float,
    reset: str,
    spike_fn: Callable[[torch.Tensor], torch.Tensor],
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adaptive-threshold LIF (ALIF, Bellec et al. 2018) over ``x[T, ...]``.

    The threshold is ``threshold + adaptation * a[t]`` with ``a[t+1] = rho a[t] + S[t+1]``;
    the membrane follows the one LIF update with that threshold (a subtract reset removes
    the current threshold). Returns ``(spikes, a_last)``."""
    v = torch.zeros_like(x[0])
    a = torch.zeros_like(x[0])
    spikes = []
    for x_t in x:
        v, s = lif_discrete_step(v, x_t, beta, threshold + adaptation * a, reset, spike_fn,
                                 detach_reset)
        a = rho * a + s
        spikes.append(s)
    return torch.stack(spikes), a
