"""The multi-step functions of the layers: each asks the registry for its path and runs it.

Every function takes the whole sequence ``x[T, B, ...]`` and an optional state before its
first step (None: at rest), and returns the outputs with the state after the last step --
always both, whatever path ran. ``spikewave.nn.functional`` re-exports them beside the
single steps of :mod:`spikewave.neurons.steps`; the layers of :mod:`spikewave.nn` are thin
wrappers over them. Each ``*_choice`` function says which path a call takes and why (what
:func:`spikewave.kernels.explain` reports); the functions then run exactly that path.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave.kernels import registry
from spikewave.kernels.lif_fused import beta_fits
from spikewave.kernels.reference import (
    alif_reference,
    current_lif_reference,
    leaky_reference,
    lif_reference,
    recurrent_lif_reference,
)
from spikewave.kernels.registry import Choice
from spikewave.neurons.specs import (
    ALIFSpec,
    ALIFState,
    CurrentLIFState,
    LeakyState,
    LIFSpec,
    LIFState,
    RecurrentLIFState,
)

Active = tuple[np.ndarray, np.ndarray]


def _zeros_state(x: torch.Tensor, n: int) -> tuple[torch.Tensor, ...]:
    return tuple(x.new_zeros(x.shape[1:]) for _ in range(n))


def _known(spec: LIFSpec) -> bool:
    return spec.surrogate_kind >= 0


def lif_choice(x: torch.Tensor, beta, spec: LIFSpec) -> Choice:
    """Which path :func:`lif` takes on ``x``."""
    choice = registry.loop_choice(x, spec.surrogate_kind)
    if choice.path == "fused" and not beta_fits(beta, tuple(x.shape[1:])):
        return Choice("reference", "beta does not broadcast to one step's shape")
    return choice


def lif(x: torch.Tensor, beta, spec: LIFSpec, state: LIFState | None = None
        ) -> tuple[torch.Tensor, LIFState]:
    """The LIF of ``spec`` over ``x[T, B, ...]`` (input current): ``(spikes, state)``.
    ``beta``: a number, or a tensor broadcasting to one step (per-neuron decays)."""
    if lif_choice(x, beta, spec).path == "fused":
        from spikewave.kernels.lif_fused import lif_fused

        spikes, v = lif_fused(x, beta, None if state is None else state.v, spec)
        return spikes, LIFState(v)
    state = LIFState(*_zeros_state(x, 1)) if state is None else state
    return lif_reference(x, beta, spec, state)


def leaky(x: torch.Tensor, beta, state: LeakyState | None = None
          ) -> tuple[torch.Tensor, LeakyState]:
    """The leaky integrator ``v[t] = beta v[t-1] + x[t]`` over ``x[T, ...]``:
    ``(v[T, ...], state)`` (PyTorch operations on every path)."""
    state = LeakyState(*_zeros_state(x, 1)) if state is None else state
    return leaky_reference(x, beta, state)


def current_lif_choice(x: torch.Tensor, beta, spec: LIFSpec) -> Choice:
    choice = lif_choice(x, beta, spec)
    return Choice(choice.path, "synaptic trace in PyTorch, then " + choice.reason)


def current_lif(x: torch.Tensor, alpha, beta, spec: LIFSpec,
                state: CurrentLIFState | None = None
                ) -> tuple[torch.Tensor, CurrentLIFState]:
    """The current-based LIF over ``x[T, ...]``: the synaptic trace ``I[t] = alpha I[t-1]
    + x[t]`` (:func:`leaky`) drives the LIF of ``spec``: ``(spikes, state)``."""
    if current_lif_choice(x, beta, spec).path == "fused":
        i0 = None if state is None else LeakyState(state.i)
        current, i_last = leaky(x, alpha, i0)
        spikes, v = lif(current, beta, spec, None if state is None else LIFState(state.v))
        return spikes, CurrentLIFState(i_last.v, v.v)
    state = CurrentLIFState(*_zeros_state(x, 2)) if state is None else state
    return current_lif_reference(x, alpha, beta, spec, state)


def alif_choice(x: torch.Tensor, beta, spec: ALIFSpec) -> Choice:
    return lif_choice(x, beta, spec)


def alif(x: torch.Tensor, beta, spec: ALIFSpec, state: ALIFState | None = None
         ) -> tuple[torch.Tensor, ALIFState]:
    """The adaptive-threshold LIF of ``spec`` over ``x[T, ...]``: ``(spikes, state)``."""
    if alif_choice(x, beta, spec).path == "fused":
        from spikewave.kernels.alif_fused import alif_fused

        spikes, v, a = alif_fused(x, beta, state, spec)
        return spikes, ALIFState(v, a)
    state = ALIFState(*_zeros_state(x, 2)) if state is None else state
    return alif_reference(x, beta, spec, state)


def recurrent_lif_choice(x: torch.Tensor, w_rec: torch.Tensor, beta, spec: LIFSpec,
                         state: RecurrentLIFState | None) -> Choice:
    choice = lif_choice(x, beta, spec)
    if choice.path != "fused":
        return choice
    if state is not None:
        return Choice("reference", "the fused recurrent loop starts from rest; a given "
                      "state runs on the reference")
    if not _known(spec):
        return Choice("reference", "the fused recurrent loop takes the built-in surrogates")
    if w_rec.device.type != "cpu" or w_rec.dtype != x.dtype or x.dim() != 3:
        return Choice("reference", "w_rec on another device or dtype than x")
    return Choice("fused", "event-driven recurrence, compiled time loop")


def recurrent_lif(x: torch.Tensor, w_rec: torch.Tensor, beta, spec: LIFSpec,
                  state: RecurrentLIFState | None = None
                  ) -> tuple[torch.Tensor, RecurrentLIFState]:
    """The recurrent LIF over ``x[T, B, N]``: the input of step t is ``x[t] + S[t-1] @
    w_rec.T``; ``(spikes, state)``."""
    if recurrent_lif_choice(x, w_rec, beta, spec, state).path == "fused":
        from spikewave.kernels.recurrent_fused import recurrent_lif_fused

        spikes, v = recurrent_lif_fused(x, w_rec, beta, spec)
        return spikes, RecurrentLIFState(v, spikes[-1])
    state = RecurrentLIFState(*_zeros_state(x, 2)) if state is None else state
    return recurrent_lif_reference(x, w_rec, beta, spec, state)


def _scan(x: torch.Tensor, weight: torch.Tensor, max_density: float | None
          ) -> tuple[Choice, Active | None]:
    """The event-or-dense decision for binary input: the registry's, then the scan's."""
    from spikewave.kernels.spike_scan import active_inputs

    if x.dim() > 2 and x.shape[0] > 1 and x.stride(0) == 0:
        return Choice("dense", "the same input at every step (a stride-0 view over time): "
                      "one product per sample"), None
    choice, limit = registry.event_choice(x, weight, max_density)
    if choice.path != "event":
        return choice, None
    active = active_inputs(x.reshape(-1, x.shape[-1]), limit)
    return registry.scan_choice(active, limit, x.shape[-1], weight.shape[0]), active


def linear_choice(x: torch.Tensor, weight: torch.Tensor, max_density: float | None = None
                  ) -> Choice:
    """Which path :func:`linear` takes on ``x`` (scans a binary input to tell)."""
    return _scan(x, weight, max_density)[0]


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           max_density: float | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` over ``x[..., in]``: summed over the active inputs when
    ``x`` is binary and sparse enough (:func:`linear_choice`), else the dense product; the
    same values up to the order of summation, and the same gradients."""
    choice, active = _scan(x, weight, max_density)
    if choice.path == "event":
        from spikewave.kernels.spike_linear import spike_linear

        return spike_linear(x, weight, bias, active)
    return _constant_current(x, weight, bias)


def _linear_lif_plan(x: torch.Tensor, weight: torch.Tensor, beta, spec: LIFSpec,
                     state: LIFState | None, chunk_steps: int | None,
                     max_density: float | None) -> tuple[Choice, Active | None]:
    from spikewave.kernels import sparse_grad

    loop = registry.loop_choice(x, spec.surrogate_kind, "the fused LIF")
    if loop.path != "fused":
        return loop, None
    if not beta_fits(beta, (x.shape[1], weight.shape[0])):
        return Choice("reference", "beta does not broadcast to [B, out]"), None
    if weight.device.type != "cpu" or weight.dtype != x.dtype:
        return Choice("reference", "weight on another device or dtype than x"), None
    scan, active = _scan(x, weight, max_density)
    if chunk_steps is not None and registry.compiling():
        return Choice("fused", "under torch.compile: the dense product and the fused LIF's "
                      "custom operators (chunks over time run eagerly)"), None
    if chunk_steps is not None:
        how = "event-driven gather" if active is not None else "dense product"
        return Choice("chunked", f"{chunk_steps} steps a chunk, {how}: {scan.reason}"), active
    if sparse_grad.applies(beta, spec) and state is None and not registry.compiling():
        return Choice("sparse-grad", "band-limited surrogate, detached subtract reset, "
                      f"fixed beta; {scan.path} forward: {scan.reason}"), active
    if active is not None:
        return Choice("event", "current summed over the active inputs and the neurons "
                      f"stepped in one pass; {scan.reason}"), active
    return Choice("fused", f"dense product, then the fused LIF ({scan.reason})"), None


def linear_lif_choice(x: torch.Tensor, weight: torch.Tensor, beta, spec: LIFSpec,
                      state: LIFState | None = None, chunk_steps: int | None = None,
                      max_density: float | None = None) -> Choice:
    """Which path :func:`linear_lif` takes on ``x``."""
    return _linear_lif_plan(x, weight, beta, spec, state, chunk_steps, max_density)[0]


def linear_lif(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, beta,
               spec: LIFSpec, state: LIFState | None = None, chunk_steps: int | None = None,
               max_density: float | None = None) -> tuple[torch.Tensor, LIFState]:
    """LIF neurons of ``spec`` driven by ``x[T, B, in] @ weight.T + bias``:
    ``(spikes[T, B, out], state)``. The same values and gradients as :func:`linear` then
    :func:`lif` (up to summation order) on every path: event-driven in one pass for sparse
    binary input, checkpointed over chunks of ``chunk_steps`` steps when asked (memory
    independent of T), the sparse backward pass for a band-limited surrogate, or the dense
    product then the fused LIF."""
    choice, active = _linear_lif_plan(x, weight, beta, spec, state, chunk_steps, max_density)
    v0 = None if state is None else state.v
    if choice.path == "chunked":
        from spikewave.kernels.chunked_lif import linear_lif_chunked

        spikes, v = linear_lif_chunked(x, weight, bias, beta, v0, spec, chunk_steps, active)
        return spikes, LIFState(v)
    if choice.path == "sparse-grad":
        from spikewave.kernels.sparse_grad import linear_lif_sparse_grad

        spikes, v = linear_lif_sparse_grad(x, weight, bias, beta, spec, active)
        return spikes, LIFState(v)
    if choice.path == "event":
        from spikewave.kernels.event_lif import event_linear_lif

        spikes, v = event_linear_lif(x, weight, bias, beta, v0, spec, active)
        return spikes, LIFState(v)
    current = _constant_current(x, weight, bias)
    if choice.path == "fused":
        from spikewave.kernels.lif_fused import lif_fused

        spikes, v = lif_fused(current, beta, v0, spec)
        return spikes, LIFState(v)
    return lif_reference(current, beta, spec, LIFState(*_zeros_state(current, 1))
                         if state is None else state)


def _constant_current(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
                      ) -> torch.Tensor:
    """``x @ weight.T + bias``; an input that is the same at every step (a stride-0 view
    over time, as :func:`spikewave.coding.rate.direct_current` gives) is multiplied once,
    and the product expanded over time again."""
    if x.dim() > 2 and x.shape[0] > 1 and x.stride(0) == 0:
        y = torch.nn.functional.linear(x[0], weight, bias)
        return y.unsqueeze(0).expand(x.shape[0], *y.shape)
    return torch.nn.functional.linear(x, weight, bias)
