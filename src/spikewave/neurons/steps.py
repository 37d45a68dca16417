"""One pure step per discrete-time neuron model: ``(x_t, state, ...) -> (spikes, state)``.

These are the definitions: every multi-step path of :mod:`spikewave.kernels` (the plain
PyTorch reference loops over these functions; the fused, event-driven and chunked kernels
compute the same recurrences) is tested against them, and every layer of
:mod:`spikewave.nn` steps with them (``layer.step``). They work on any float dtype and
device, keep no state of their own and contain no data-dependent Python branches, so they
run under ``torch.compile`` and ``torch.func``. The specs and state records are in
:mod:`spikewave.neurons.specs`. Input timing: ``x_t`` is the input current of step ``t``
and reaches the potential in that same step.
"""

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


def lif_update(v: torch.Tensor, x_t: torch.Tensor, beta: torch.Tensor | float,
               threshold: torch.Tensor | float, spec: LIFSpec
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The LIF update with a given threshold (a number, or a tensor for an adaptive one):
    ``V = beta v + x_t``, ``S = surrogate(V - threshold)``, then the reset of ``spec``;
    returns ``(S, Vr)``."""
    v_next = beta * v + x_t
    s = spec.surrogate(v_next - threshold)
    s_reset = s.detach() if spec.detach_reset else s
    if spec.reset == "zero":
        v_next = (1 - s_reset) * v_next
    else:
        v_next = v_next - s_reset * threshold
    return s, v_next


def lif_step(x_t: torch.Tensor, state: LIFState, beta: torch.Tensor | float, spec: LIFSpec
             ) -> tuple[torch.Tensor, LIFState]:
    """One step of the LIF of ``spec`` (:class:`~spikewave.neurons.specs.LIFSpec`)."""
    s, v = lif_update(state.v, x_t, beta, spec.threshold, spec)
    return s, LIFState(v)


def current_lif_step(x_t: torch.Tensor, state: CurrentLIFState, alpha: torch.Tensor | float,
                     beta: torch.Tensor | float, spec: LIFSpec
                     ) -> tuple[torch.Tensor, CurrentLIFState]:
    """One step of a current-based LIF: the synaptic current ``I = alpha i + x_t`` (a
    leaky trace of the input, ``alpha = exp(-1 / tau_syn_steps)``) drives the LIF."""
    i = alpha * state.i + x_t
    s, v = lif_update(state.v, i, beta, spec.threshold, spec)
    return s, CurrentLIFState(i, v)


def alif_step(x_t: torch.Tensor, state: ALIFState, beta: torch.Tensor | float,
              spec: ALIFSpec) -> tuple[torch.Tensor, ALIFState]:
    """One step of the adaptive-threshold LIF (Bellec et al. 2018): the threshold is
    ``threshold + adaptation a``, then ``a = rho a + S`` (a subtract reset removes the
    adapted threshold)."""
    s, v = lif_update(state.v, x_t, beta, spec.threshold + spec.adaptation * state.a, spec)
    return s, ALIFState(v, spec.rho * state.a + s)


def recurrent_lif_step(x_t: torch.Tensor, state: RecurrentLIFState, w_rec: torch.Tensor,
                       beta: torch.Tensor | float, spec: LIFSpec
                       ) -> tuple[torch.Tensor, RecurrentLIFState]:
    """One step of a LIF with recurrent weights ``w_rec[N, N]``: its input is
    ``x_t + s_prev @ w_rec.T`` (the last step's spikes, carried in the state)."""
    s, v = lif_update(state.v, x_t + state.s @ w_rec.T, beta, spec.threshold, spec)
    return s, RecurrentLIFState(v, s)


def leaky_step(x_t: torch.Tensor, state: LeakyState, beta: torch.Tensor | float
               ) -> tuple[torch.Tensor, LeakyState]:
    """One step of a non-spiking leaky integrator ``v = beta v + x_t``; returns ``(v,
    state)``."""
    v = beta * state.v + x_t
    return v, LeakyState(v)


__all__ = ["alif_step", "current_lif_step", "leaky_step", "lif_step", "lif_update",
           "recurrent_lif_step"]
