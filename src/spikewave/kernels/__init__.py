"""Time loops of the spiking layers, behind one dispatch.

Every multi-step layer of :mod:`spikewave.nn` calls the functions here. :func:`lif_multistep`
runs the fused compiled kernel of :mod:`spikewave.kernels.lif_fused` when it supports the
call (CPU float tensors, one of the five surrogates, no initial state) -- measured 2x faster
than the reference for ``[100, 32, 1024]`` forward and backward on 2 cores, and never
slower in the sizes tried -- and the plain PyTorch reference
(:mod:`spikewave.kernels.reference`, stepping the one LIF update of the code base) otherwise.
``SPIKEWAVE_KERNELS=reference`` in the environment forces the reference everywhere;
``SPIKEWAVE_KERNELS=fused`` also turns on the fused leaky integrator. The
fused path is tested for parity against the reference (same spikes, gradients to 1e-10).
"""

from __future__ import annotations

import os

import torch

from spikewave.kernels.reference import (
    alif_multistep_reference,
    leaky_integrate_reference,
    lif_multistep_reference,
    recurrent_lif_multistep_reference,
)


def use_fused() -> bool:
    return os.environ.get("SPIKEWAVE_KERNELS", "auto") != "reference"


def leaky_integrate(x, beta, v0=None):
    """Leaky integrator ``v[t] = beta v[t-1] + x[t]`` over ``x[T, ...]``.

    The plain reference: its fused kernel (:mod:`spikewave.kernels.leaky_fused`) was
    measured no faster (forward + backward, 2 threads, idle machine: [16, 64, 10] 0.49 vs
    0.49 ms, [25, 128, 512] 4.2-5.0 vs 6.5-7.8 ms, [100, 32, 1024] 12.2 vs 12.6-13.6 ms),
    so it runs only with ``SPIKEWAVE_KERNELS=fused``."""
    if os.environ.get("SPIKEWAVE_KERNELS") == "fused":
        from spikewave.kernels import leaky_fused

        if leaky_fused.supports(x, beta, v0):
            return leaky_fused.leaky_integrate_fused(x, beta)
    return leaky_integrate_reference(x, beta, v0)


def alif_multistep(x, beta, rho, threshold, adaptation, reset, spike_fn, detach_reset=False):
    """Adaptive-threshold LIF over ``x[T, ...]``: ``(spikes, a_last)``; the fused kernel of
    :mod:`spikewave.kernels.alif_fused` when it applies, else the reference. Measured
    forward + backward (2 threads, idle machine), reference vs fused: [16, 64, 10] 3.7 vs
    0.7 ms, [100, 32, 1024] 57-58 vs 40 ms; [25, 128, 512] 17-24 vs 23-26 ms (the one size
    where the fused kernel was slower, by up to 10 %)."""
    if use_fused():
        from spikewave.kernels import alif_fused

        if alif_fused.supports(x, beta, rho, spike_fn):
            return alif_fused.alif_multistep_fused(x, beta, rho, threshold, adaptation, reset,
                                                   spike_fn, detach_reset)
    return alif_multistep_reference(x, beta, rho, threshold, adaptation, reset, spike_fn,
                                    detach_reset)


def recurrent_lif_multistep(x, w_rec, beta, threshold, reset, spike_fn, detach_reset=False):
    """Recurrent LIF over ``x[T, B, N]`` (input ``x[t] + S[t-1] @ w_rec.T``): ``(spikes,
    v_last)``; the fused kernel of :mod:`spikewave.kernels.recurrent_fused` (event-driven
    forward) when it applies, else the reference."""
    if use_fused():
        from spikewave.kernels import recurrent_fused

        if recurrent_fused.supports(x, w_rec, beta, spike_fn):
            return recurrent_fused.recurrent_lif_multistep_fused(
                x, w_rec, beta, threshold, reset, spike_fn, detach_reset)
    return recurrent_lif_multistep_reference(x, w_rec, beta, threshold, reset, spike_fn,
                                             detach_reset)


def lif_multistep(x, beta, threshold, reset, spike_fn, detach_reset=False, v0=None):
    """LIF over ``x[T, ...]``: ``(spikes[T, ...], v_last)``; the fused kernel when it
    applies, else :func:`~spikewave.kernels.reference.lif_multistep_reference`."""
    if use_fused():
        from spikewave.kernels import lif_fused

        if lif_fused.supports(x, beta, spike_fn, v0):
            return lif_fused.lif_multistep_fused(x, beta, threshold, reset, spike_fn,
                                                 detach_reset)
    return lif_multistep_reference(x, beta, threshold, reset, spike_fn, detach_reset, v0)


def event_linear_lif(x, weight, bias, beta, threshold, reset, spike_fn, detach_reset,
                     active):
    """LIF neurons driven by ``x[T, B, in] @ weight.T + bias`` for binary ``x`` whose
    active inputs are ``active`` (:func:`~spikewave.kernels.spike_linear.active_inputs`):
    spikes ``[T, B, out]`` from :mod:`spikewave.kernels.event_lif` (the current summed and
    the neurons stepped in one pass, the current never stored) when it applies, else None
    (the caller composes the event-driven linear layer and :func:`lif_multistep`)."""
    if use_fused():
        from spikewave.kernels import event_lif

        if event_lif.supports(x, weight, beta, spike_fn):
            return event_lif.event_linear_lif(x, weight, bias, beta, threshold, reset,
                                              spike_fn, detach_reset, active)
    return None


def linear_lif(x, weight, bias, beta, threshold, reset, spike_fn, detach_reset=False,
               chunk_steps=16, max_density=None):
    """LIF neurons driven by ``x[T, B, in] @ weight.T + bias``: spikes ``[T, B, out]``. The
    chunked kernel of :mod:`spikewave.kernels.chunked_lif` (the forward and backward pass hold
    ``T / chunk_steps`` states instead of every step's current and potential) when it
    applies -- or, with a :class:`~spikewave.nn.BandLimited` surrogate and a detached
    subtract reset, the sparse-gradient kernel of :mod:`spikewave.kernels.sparse_grad` --
    else ``torch.nn.functional.linear`` followed by :func:`lif_multistep`."""
    if use_fused():
        from spikewave.kernels import chunked_lif as fused
        from spikewave.kernels import sparse_grad

        if sparse_grad.supports(x, weight, beta, threshold, reset, spike_fn, detach_reset):
            return sparse_grad.linear_lif_sparse_grad(x, weight, bias, beta, threshold,
                                                      spike_fn, max_density)

        if fused.supports(x, weight, beta, spike_fn):
            return fused.linear_lif_chunked(x, weight, bias, beta, threshold, reset, spike_fn,
                                            detach_reset, chunk_steps, max_density)
    current = torch.nn.functional.linear(x, weight, bias)
    return lif_multistep(current, beta, threshold, reset, spike_fn, detach_reset)[0]


__all__ = ["alif_multistep", "event_linear_lif", "leaky_integrate", "linear_lif",
           "lif_multistep", "recurrent_lif_multistep"]
