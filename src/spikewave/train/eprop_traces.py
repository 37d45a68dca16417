"""e-prop's eligibility traces (Bellec et al. 2020) as pure steps on explicit state.

These are the definitions that :mod:`spikewave.train.eprop` computes (its windowed and
event-driven paths, :mod:`spikewave.train.eprop_window`, are tested against them).

The neurons are those of :mod:`spikewave.neurons.steps` with a subtract reset. Step ``t``
of a hidden neuron ``j`` with presynaptic inputs ``p_i[t]``:

    I_j[t] = sum_i W_ji p_i[t] + b_j            p: the layer's input of step t, or the
                                                 layer's own spikes z[t-1] (recurrent W)
    V_j[t] = beta_j v_j[t-1] + I_j[t]            (input timing: the input of step t reaches
    z_j[t] = H(V_j[t] - theta_j[t])               the potential in that same step)
    v_j[t] = V_j[t] - z_j[t] theta_j[t]          (subtract reset)
    theta_j[t] = threshold                       (LIF)
    theta_j[t] = threshold + beta_a a_j[t-1],   a_j[t] = rho a_j[t-1] + z_j[t]   (ALIF)

Bellec et al. write the same network as ``v^{t+1} = alpha v^t + W^in x^{t+1} + W^rec z^t
- v_th z^t``: their ``x^{t+1}`` is the input of our step ``t``, their ``z^t`` in the
recurrent sum our ``z[t-1]``.

The eligibility vector of synapse ``j <- i`` is the derivative of neuron ``j``'s hidden
state with respect to ``W_ji`` when every spike that reaches ``j`` from a neuron (the
recurrent input) and the spike in the reset term are held constant -- the recurrent and
reset paths detached, what e-prop leaves out. ``psi_j[t] = surrogate'(V_j[t] -
theta_j[t])`` is the pseudo-derivative ``dz/dV``.

LIF (the paper's Methods, with the reset detached)::

    eps_ji[t] = beta_j eps_ji[t-1] + p_i[t]        (dV_j[t] / dW_ji)
    e_ji[t]   = psi_j[t] eps_ji[t]                 (the eligibility trace dz_j[t] / dW_ji)

ALIF (``eps_a = da_j / dW_ji``, the second component of the paper's eligibility vector).
The library's ALIF resets by the *adapted* threshold, so the post-reset potential carries
``- z beta_a eps_a`` as well (the authors' code resets by the base threshold and has no
such term)::

    E_ji[t]     = beta_j eps_v[t-1] + p_i[t]                 (dV_j[t] / dW_ji)
    e_ji[t]     = psi_j[t] (E_ji[t] - beta_a eps_a[t-1])
    eps_v[t]    = E_ji[t] - z_j[t] beta_a eps_a[t-1]         (dv_j[t] / dW_ji)
    eps_a[t]    = rho eps_a[t-1] + e_ji[t]

The same rules give the traces of per-neuron parameters: a bias is a synapse whose input
is 1 at every step, a decay ``beta_j`` one whose input is ``v_j[t-1]`` (since ``dV_j[t] /
dbeta_j = v_j[t-1] + beta_j dv_j[t-1] / dbeta_j``).

The gradient of a loss ``E`` of a leaky readout ``y_k[t] = kappa y_k[t-1] + sum_j
W^out_kj z_j[t] + b_k`` is then ``dE/dW_ji = sum_t L_j[t] ebar_ji[t]`` with the learning
signal ``L_j[t] = sum_k B_kj dE/dy_k[t]`` (``B = W^out``: symmetric e-prop; a fixed random
``B``: random e-prop) and the eligibility trace filtered like the readout,
``ebar[t] = kappa ebar[t-1] + e[t]``. With symmetric feedback this is exactly the
gradient of the network whose recurrent and reset spikes are detached (tested against
autograd).

Shapes: the functions work elementwise. For a weight matrix the traces are ``[B, n_post,
n_pre]``, ``pre`` is ``[B, 1, n_pre]`` and ``psi``, ``spikes`` are ``[B, n_post, 1]``; for
a per-neuron parameter the traces are ``[B, n_post, 1]`` and ``pre`` is ``[B, n_post, 1]``.
``beta`` broadcasts to ``[n_post, 1]``.

Reference: G. Bellec, F. Scherr, A. Subramoney, E. Hajek, D. Salaj, R. Legenstein and
W. Maass (2020), "A solution to the learning dilemma for recurrent networks of spiking
neurons", Nature Communications 11:3625 (Methods: eligibility traces of LIF and ALIF
neurons, learning signals, the readout filter); the authors' code,
github.com/IGITUGraz/eligibility_propagation (``EligALIF.compute_eligibility_traces`` in
``Figure_3_and_S7_e_prop_tutorials/models.py``; ``stop_z_gradients`` detaches the same
paths as here).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from spikewave.neurons.specs import ALIFSpec, LIFSpec


class LIFTrace(NamedTuple):
    """``eps_v``: the eligibility vector ``dV_j / dW_ji`` of a LIF synapse."""

    eps_v: torch.Tensor


class ALIFTrace(NamedTuple):
    """``eps_v``: ``dv_j / dW_ji`` (after the reset); ``eps_a``: ``da_j / dW_ji``."""

    eps_v: torch.Tensor
    eps_a: torch.Tensor


def pseudo_derivative(potential: torch.Tensor, threshold: torch.Tensor | float,
                      spec: LIFSpec) -> torch.Tensor:
    """``psi = surrogate'(V - threshold)``: what the backward pass of the spike uses."""
    return spec.surrogate.derivative(potential - threshold)


def lif_eligibility_step(pre: torch.Tensor, psi: torch.Tensor, state: LIFTrace,
                         beta: torch.Tensor | float) -> tuple[torch.Tensor, LIFTrace]:
    """One step of a LIF synapse's trace: ``eps = beta eps + pre``; returns the
    eligibility trace ``e = psi eps`` and the new state."""
    eps = beta * state.eps_v + pre
    return psi * eps, LIFTrace(eps)


def alif_eligibility_step(pre: torch.Tensor, psi: torch.Tensor, spikes: torch.Tensor,
                          state: ALIFTrace, beta: torch.Tensor | float, spec: ALIFSpec
                          ) -> tuple[torch.Tensor, ALIFTrace]:
    """One step of an adaptive LIF synapse's trace (the rules in the module docstring);
    returns the eligibility trace and the new state."""
    pre_reset = beta * state.eps_v + pre
    adapted = spec.adaptation * state.eps_a
    e = psi * (pre_reset - adapted)
    return e, ALIFTrace(pre_reset - spikes * adapted, spec.rho * state.eps_a + e)


def filtered_trace_step(e: torch.Tensor, e_bar: torch.Tensor, kappa: torch.Tensor | float
                        ) -> torch.Tensor:
    """The eligibility trace filtered by the readout's decay: ``kappa e_bar + e``."""
    return kappa * e_bar + e


def learning_signal(error: torch.Tensor, feedback: torch.Tensor) -> torch.Tensor:
    """``L_j = sum_k B_kj error_k``: the readout error ``[B, n_out]`` (``dE/dy``) sent back
    to the hidden neurons through ``feedback`` ``[n_out, n_hidden]`` (the readout weights:
    symmetric e-prop; a fixed random matrix: random e-prop)."""
    return error @ feedback


__all__ = ["ALIFTrace", "LIFTrace", "alif_eligibility_step", "filtered_trace_step",
           "learning_signal", "lif_eligibility_step", "pseudo_derivative"]
