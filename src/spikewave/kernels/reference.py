"""Plain PyTorch time loops over the pure steps of :mod:`spikewave.neurons.steps`: the
reference every fast path is tested against, and the path for any device, dtype or
transform (``torch.func.vmap``, CUDA) the compiled kernels do not take."""

from __future__ import annotations

import torch

from spikewave.neurons.specs import (
    ALIFSpec,
    ALIFState,
    CurrentLIFState,
    LeakyState,
    LIFSpec,
    LIFState,
    RecurrentLIFState,
)
from spikewave.neurons.steps import (
    alif_step,
    current_lif_step,
    leaky_step,
    lif_step,
    recurrent_lif_step,
)


def lif_reference(x: torch.Tensor, beta, spec: LIFSpec, state: LIFState
                  ) -> tuple[torch.Tensor, LIFState]:
    """The LIF of ``spec`` over ``x[T, ...]`` from ``state``: ``(spikes[T, ...], state)``."""
    spikes = []
    for x_t in x:
        s, state = lif_step(x_t, state, beta, spec)
        spikes.append(s)
    return torch.stack(spikes), state


def current_lif_reference(x: torch.Tensor, alpha, beta, spec: LIFSpec,
                          state: CurrentLIFState) -> tuple[torch.Tensor, CurrentLIFState]:
    """The current-based LIF over ``x[T, ...]`` from ``state``."""
    spikes = []
    for x_t in x:
        s, state = current_lif_step(x_t, state, alpha, beta, spec)
        spikes.append(s)
    return torch.stack(spikes), state


def alif_reference(x: torch.Tensor, beta, spec: ALIFSpec, state: ALIFState
                   ) -> tuple[torch.Tensor, ALIFState]:
    """The adaptive-threshold LIF over ``x[T, ...]`` from ``state``."""
    spikes = []
    for x_t in x:
        s, state = alif_step(x_t, state, beta, spec)
        spikes.append(s)
    return torch.stack(spikes), state


def recurrent_lif_reference(x: torch.Tensor, w_rec: torch.Tensor, beta, spec: LIFSpec,
                            state: RecurrentLIFState
                            ) -> tuple[torch.Tensor, RecurrentLIFState]:
    """The recurrent LIF over ``x[T, B, N]`` from ``state``."""
    spikes = []
    for x_t in x:
        s, state = recurrent_lif_step(x_t, state, w_rec, beta, spec)
        spikes.append(s)
    return torch.stack(spikes), state


def leaky_reference(x: torch.Tensor, beta, state: LeakyState
                    ) -> tuple[torch.Tensor, LeakyState]:
    """The leaky integrator over ``x[T, ...]`` from ``state``: ``(v[T, ...], state)``."""
    out = []
    for x_t in x:
        v, state = leaky_step(x_t, state, beta)
        out.append(v)
    return torch.stack(out), state
