"""What a network computes per inference, counted as NeuroBench counts it: synaptic
operations (accumulates for spike inputs, multiply-accumulates for dense inputs),
activation sparsity, membrane updates and footprint -- and an energy estimate from
published energies per operation.

Definitions (those of NeuroBench 2.x, Yik et al. 2025, *Nature Communications* 16:1545,
as its code computes them; docs/references.md section 9):

- **Synaptic operations** of a connection (``linear``, ``conv1d/2d/3d``, ``matmul``): the
  products ``w x`` with ``w != 0`` and ``x != 0`` -- the connection applied to its input and
  weight with every non-zero entry set to one, summed (the bias is not counted). A call whose
  input holds only 0, 1 and -1 (spikes) counts them as accumulates (``synops_ac``), any other
  as multiply-accumulates (``synops_mac``): an event-driven chip adds a weight per input
  spike. ``synops_dense`` counts every product, zeros included (input and weight set to
  one; a convolution's zero padding is not counted; a delay layer, whose kernel holds
  each synapse's weight at its delay, one product per synapse and step).
- **Activation sparsity**: the fraction of zeros among the outputs of the spiking layers and
  the ReLU / Sigmoid activations, over all layers, steps and samples.
- **Membrane updates**: per neuron layer, every neuron at the first step from rest, then
  each neuron whose membrane potential changed from one step to the next.
- **Footprint**: the bytes of the parameters and buffers. ``state_bytes_per_sample`` adds
  what inference keeps between steps: the neuron states and the delay lines, per sample.

The operations are counted from what each torch operation receives while the model runs
(a ``torch.overrides.TorchFunctionMode`` on the kernels' reference path), so connections
written as functional calls (``torch.nn.functional.linear``, ``x @ w.T``,
:func:`spikewave.nn.functional.linear`) are counted as well as layers, and the fused layers
(:class:`~spikewave.nn.LinearLIF`: its synapses and its neurons) are counted like their
parts. An input that is the same at every step, given as a stride-0 view over time (what
:func:`spikewave.coding.rate.direct_current` returns), is multiplied once per sample by the
layers (:class:`~spikewave.nn.TimeDistributed`, :class:`~spikewave.nn.SpikeLinear`,
:class:`~spikewave.nn.LinearLIF`) and counted once. The neurons are counted for spikewave's
neuron layers (:class:`~spikewave.nn.LIF`, :class:`~spikewave.nn.CurrentLIF`,
:class:`~spikewave.nn.ALIF`, :class:`~spikewave.nn.RecurrentLIF`,
:class:`~spikewave.nn.LinearLIF`, :class:`~spikewave.nn.LeakyReadout` -- a membrane but no
spikes, so no activations) called as modules; a layer's membrane potentials are those of its
own single steps (``layer.step``) over the input it received.

Energy: ``E = synops_ac e_ac + synops_mac e_mac``, by default with Horowitz's 45 nm figures
for 32-bit floats (ISSCC 2014, "Computing's energy problem (and what we can do about it)";
docs/references.md section 9):
an add 0.9 pJ, a multiply 3.7 pJ, so a multiply-accumulate 4.6 pJ. It counts arithmetic
only -- no memory access (an 8 KB SRAM read of 64 bits costs about 10 pJ in the same table)
and no neuron update.

Example::

    from spikewave import metrics
    counts = metrics.count(model, x)          # x[T, B, ...]; per sample
    counts.synops_ac, counts.energy_pj()
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from spikewave._validation import NON_NEGATIVE, check_int, check_number, fail

__all__ = ["HOROWITZ_45NM", "Counter", "Counts", "EnergyModel", "LayerCounts", "count",
           "measure_dataset"]


# ----------------------------------------------------------------------------- energy

@dataclass(frozen=True)
class EnergyModel:
    """Energy per synaptic operation, in picojoules: ``ac_pj`` per accumulate (an add),
    ``mac_pj`` per multiply-accumulate."""

    ac_pj: float = 0.9
    mac_pj: float = 4.6
    source: str = ("Horowitz, ISSCC 2014, 45 nm, 32-bit float: add 0.9 pJ, multiply 3.7 pJ "
                   "(a multiply-accumulate 4.6 pJ)")

    def __post_init__(self) -> None:
        check_number("ac_pj", self.ac_pj, NON_NEGATIVE, "EnergyModel")
        check_number("mac_pj", self.mac_pj, NON_NEGATIVE, "EnergyModel")

    def energy_pj(self, synops_ac: float, synops_mac: float) -> float:
        """``synops_ac ac_pj + synops_mac mac_pj``."""
        return synops_ac * self.ac_pj + synops_mac * self.mac_pj


HOROWITZ_45NM = EnergyModel()


# ----------------------------------------------------------------------------- results

@dataclass(frozen=True)
class LayerCounts:
    """One module's counts, per sample: ``name`` as in ``model.named_modules()`` ('' for
    operations the model's own ``forward`` makes), ``kind`` its class."""

    name: str
    kind: str
    synops_ac: float = 0.0
    synops_mac: float = 0.0
    synops_dense: float = 0.0
    activations: float = 0.0
    zero_activations: float = 0.0
    membrane_updates: float = 0.0
    state_bytes: float = 0.0


@dataclass(frozen=True)
class Counts:
    """What a model computed, per sample (means over ``samples``), with its footprint."""

    samples: int
    synops_ac: float
    synops_mac: float
    synops_dense: float
    activation_sparsity: float
    membrane_updates: float
    footprint_bytes: int
    params: int
    state_bytes_per_sample: float
    layers: tuple[LayerCounts, ...] = field(default=())

    def energy_pj(self, energy: EnergyModel = HOROWITZ_45NM) -> float:
        """Estimated energy of the synaptic operations of one inference, in pJ."""
        return energy.energy_pj(self.synops_ac, self.synops_mac)

    def as_json(self, energy: EnergyModel = HOROWITZ_45NM) -> dict[str, Any]:
        """The values under their ``--json`` keys (sparsity None when nothing fired or
        activated: no activation was seen)."""
        sparsity = self.activation_sparsity
        return {"synops_ac": self.synops_ac, "synops_mac": self.synops_mac,
                "synops_dense": self.synops_dense,
                "activation_sparsity": None if math.isnan(sparsity) else sparsity,
                "membrane_updates": self.membrane_updates,
                "footprint_bytes": self.footprint_bytes, "params": self.params,
                "state_bytes_per_sample": self.state_bytes_per_sample,
                "energy_pj_per_sample": self.energy_pj(energy), "metric_samples": self.samples}

    def describe(self, energy: EnergyModel = HOROWITZ_45NM) -> str:
        """One line for a report."""
        sparsity = ("-" if math.isnan(self.activation_sparsity)
                    else f"{100 * self.activation_sparsity:.1f} %")
        return (f"per inference: {self.synops_ac:,.0f} ACs + {self.synops_mac:,.0f} MACs "
                f"(of {self.synops_dense:,.0f} synaptic products), activation sparsity "
                f"{sparsity}, {self.membrane_updates:,.0f} membrane updates, about "
                f"{_energy_text(self.energy_pj(energy))} ({energy.ac_pj:g} pJ per AC, "
                f"{energy.mac_pj:g} pJ per MAC); parameters and buffers "
                f"{self.footprint_bytes / 1024:,.1f} KiB")


def _energy_text(pj: float) -> str:
    """An energy in pJ, nJ or uJ, whichever gives a number from 1 to 1000."""
    for scale, unit in ((1e6, "uJ"), (1e3, "nJ")):
        if pj >= scale:
            return f"{pj / scale:,.1f} {unit}"
    return f"{pj:.1f} pJ"


# ----------------------------------------------------------------------------- counting

def _is_spikes(x: torch.Tensor) -> bool:
    """NeuroBench's test for a spike input: every value is 0, 1 or -1."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def _linear_ops(x: torch.Tensor, weight: torch.Tensor) -> tuple[int, int]:
    """(effective, dense) products of ``x[..., in] @ weight[out, in].T``."""
    n_in = x.shape[-1]
    rows = x.numel() // n_in if n_in else 0
    active = (x != 0).reshape(-1, n_in).sum(0)          # non-zero inputs per input line
    fan_out = (weight != 0).sum(0)                        # non-zero weights per input line
    return int((active * fan_out).sum()), rows * n_in * weight.shape[0]


def _matmul_ops(a: torch.Tensor, b: torch.Tensor) -> tuple[int, int]:
    """(effective, dense) products of ``a @ b`` (the input ``a``, the weights ``b``)."""
    a2 = a if a.dim() > 1 else a.unsqueeze(0)
    b2 = b if b.dim() > 1 else b.unsqueeze(-1)
    per_k = (a2 != 0).sum(-2) * (b2 != 0).sum(-1)        # broadcasts the batch dimensions
    batch = math.prod(torch.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    return int(per_k.sum()), batch * a2.shape[-2] * a2.shape[-1] * b2.shape[-1]


def _conv_ops(func: Callable, args: tuple, kwargs: dict) -> tuple[int, int]:
    """(effective, dense) products of a convolution: the same convolution of the binarised
    input and weight, summed (each output is an exact integer in float32)."""
    x, weight = args[0], args[1]
    rest = list(args[2:])
    kw = dict(kwargs)
    if rest:
        rest[0] = None
    else:
        kw["bias"] = None

    def summed(inp: torch.Tensor, w: torch.Tensor) -> int:
        return int(func(inp, w, *rest, **kw).double().sum())

    eff = summed((x != 0).float(), (weight != 0).float())
    dense = summed(torch.ones_like(x, dtype=torch.float32),
                   torch.ones_like(weight, dtype=torch.float32))
    return eff, dense


# which operand is the input and which the weight, by operation
_LINEAR = {F.linear}
_CONV = {F.conv1d, F.conv2d, F.conv3d}
_MATMUL = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm,
           torch.Tensor.mm, torch.bmm, torch.Tensor.bmm}
_ADDMM = {torch.addmm, torch.Tensor.addmm, torch.baddbmm, torch.Tensor.baddbmm}
_RELU = {F.relu, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}


def _synaptic_ops(func: Callable, args: tuple, kwargs: dict
                  ) -> tuple[torch.Tensor, int, int] | None:
    """``(input, effective, dense)`` for a connection, None for any other operation."""
    try:
        if func in _LINEAR:
            x, w = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            return x, *_linear_ops(x, w)
        if func in _CONV:
            return args[0], *_conv_ops(func, args, kwargs)
        if func in _MATMUL:
            return args[0], *_matmul_ops(args[0], args[1])
        if func is torch.Tensor.__rmatmul__:
            return args[1], *_matmul_ops(args[1], args[0])
        if func in _ADDMM:
            return args[1], *_matmul_ops(args[1], args[2])
    except TypeError:  # an unhashable callable: not one of ours
        return None
    return None


def _is_relu(func: Callable) -> bool:
    try:
        return func in _RELU
    except TypeError:
        return False


class _Tally:
    """Running sums per module name."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, float]] = {}
        self.kinds: dict[str, str] = {}

    def add(self, name: str, kind: str, **values: float) -> None:
        row = self.rows.setdefault(name, {})
        self.kinds.setdefault(name, kind)
        for key, value in values.items():
            if key == "state_bytes":  # the same every call: keep the largest
                row[key] = max(row.get(key, 0.0), value)
            else:
                row[key] = row.get(key, 0.0) + value


class _CountingMode(TorchFunctionMode):
    """Counts the synaptic operations and ReLU activations of the operations run while a
    module of the counted model is running (the ``stack`` of module names is not empty)."""

    def __init__(self, counter: Counter) -> None:
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        c = self.counter
        if not c._stack or c._paused:
            return out
        found = _synaptic_ops(func, args, kwargs)
        name, kind = c._stack[-1]
        if found is not None:
            x, eff, dense = found
            if name in c._delay_names and isinstance(out, torch.Tensor):
                # a delay layer's causal convolution: one product per synapse and step
                # (its kernel holds each weight at the synapse's delay), not one per tap
                dense = out.numel() * args[1].shape[1]
            which = "synops_ac" if _is_spikes(x) else "synops_mac"
            c._tally.add(name, kind, **{which: eff, "synops_dense": dense})
        elif _is_relu(func) and isinstance(out, torch.Tensor):
            c._tally.add(name, kind, activations=out.numel(),
                         zero_activations=int((out == 0).sum()))
        return out


def _neuron_classes() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(spiking neuron layers, all neuron layers, delay layers) of :mod:`spikewave.nn`."""
    from spikewave.nn.delays import _Delayed
    from spikewave.nn.linear import LinearLIF
    from spikewave.nn.neurons import ALIF, LIF, CurrentLIF, LeakyReadout, RecurrentLIF

    spiking = (LIF, CurrentLIF, ALIF, RecurrentLIF, LinearLIF)
    return spiking, (*spiking, LeakyReadout), (_Delayed,)


def _states(layer: nn.Module, x: torch.Tensor, state: Any) -> Iterator[Any]:
    """The layer's state after each step of ``x``, by its own single steps (for
    :class:`~spikewave.nn.LinearLIF`: its current over the whole sequence, as its
    reference path computes it, then the LIF steps)."""
    from spikewave.neurons.specs import LIFState
    from spikewave.neurons.steps import lif_step
    from spikewave.nn.linear import LinearLIF

    if isinstance(layer, LinearLIF):
        if x.dim() > 2 and x.shape[0] > 1 and x.stride(0) == 0:
            y = F.linear(x[0], layer.weight, layer.bias)
            current = y.unsqueeze(0).expand(x.shape[0], *y.shape)
        else:
            current = F.linear(x, layer.weight, layer.bias)
        state = LIFState(*state) if state is not None else LIFState(
            current.new_zeros(current.shape[1:]))
        beta = layer.decay.beta()
        for c_t in current:
            _, state = lif_step(c_t, state, beta, layer.spec)
            yield state
        return
    for x_t in x:
        _, state = layer.step(x_t, state)
        yield state


class Counter:
    """Counts what ``model`` computes on the inputs given to :meth:`run` inside the ``with``
    block::

        with Counter(model) as counter:
            for x in batches:            # [T, B, ...] (batch_dim=1) or [B, ...] (0)
                counter.run(x)
        counts = counter.counts()        # per sample

    Inside the block the kernels take their reference path (plain PyTorch operations, the
    same values), so that every operation is seen.
    """

    def __init__(self, model: nn.Module, *, batch_dim: int = 1) -> None:
        if not isinstance(model, nn.Module):
            raise fail("model", model, "a torch.nn.Module", "Counter")
        self.model = model
        self.batch_dim = check_int("batch_dim", batch_dim, 0, owner="Counter")
        self.samples = 0
        self._tally = _Tally()
        self._stack: list[tuple[str, str]] = []
        self._paused = False
        self._delay_names: set[str] = set()
        self._exit: contextlib.ExitStack | None = None

    def __enter__(self) -> Counter:
        from spikewave.kernels import use

        stack = contextlib.ExitStack()
        spiking, neurons, delays = _neuron_classes()
        for name, module in self.model.named_modules():
            kind = type(module).__name__
            stack.callback(module.register_forward_pre_hook(self._push(name, kind)).remove)
            stack.callback(module.register_forward_hook(self._pop, always_call=True).remove)
            if isinstance(module, neurons):
                hook = self._neuron_hook(name, isinstance(module, spiking))
                stack.callback(module.register_forward_hook(hook, with_kwargs=True).remove)
            elif isinstance(module, delays):
                self._delay_names.add(name)
                stack.callback(module.register_forward_hook(self._delay_hook(name)).remove)
            elif isinstance(module, nn.Sigmoid):
                stack.callback(module.register_forward_hook(self._activation_hook(name))
                               .remove)
        stack.enter_context(use(path="reference"))
        stack.enter_context(_CountingMode(self))
        self._exit = stack
        return self

    def __exit__(self, *exc: object) -> None:
        if self._exit is not None:
            self._exit.close()
            self._exit = None

    def run(self, *inputs: Any) -> Any:
        """``model(*inputs)`` without gradients, counted; the first input's ``batch_dim``
        gives the number of samples."""
        if self._exit is None:
            raise fail("run", "a call outside the with block", "a call inside "
                       "'with Counter(model) as counter:'", "Counter")
        first = inputs[0] if inputs else None
        if not isinstance(first, torch.Tensor) or first.dim() <= self.batch_dim:
            raise fail("inputs", first if not isinstance(first, torch.Tensor) else
                       f"a tensor of shape {tuple(first.shape)}",
                       f"a tensor with a batch dimension {self.batch_dim}", "Counter")
        with torch.no_grad():
            out = self.model(*inputs)
        self.samples += first.shape[self.batch_dim]
        return out

    def counts(self) -> Counts:
        """The counts so far, per sample, and the model's footprint."""
        if self.samples == 0:
            raise fail("samples", 0, "at least one sample run (Counter.run)", "Counter")
        n = self.samples
        layers = tuple(LayerCounts(name, self._tally.kinds[name], **{
            k: (v if k == "state_bytes" else v / n) for k, v in row.items()})
            for name, row in self._tally.rows.items())
        total = {k: sum(getattr(layer, k) for layer in layers) for k in (
            "synops_ac", "synops_mac", "synops_dense", "activations", "zero_activations",
            "membrane_updates", "state_bytes")}
        sparsity = (total["zero_activations"] / total["activations"] if total["activations"]
                    else math.nan)
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return Counts(n, total["synops_ac"], total["synops_mac"], total["synops_dense"],
                      sparsity, total["membrane_updates"],
                      sum(t.numel() * t.element_size() for t in tensors),
                      sum(p.numel() for p in self.model.parameters()),
                      total["state_bytes"], layers)

    # hooks
    def _push(self, name: str, kind: str) -> Callable:
        def hook(module: nn.Module, args: tuple) -> None:
            self._stack.append((name, kind))
        return hook

    def _pop(self, module: nn.Module, args: tuple, output: Any) -> None:
        if self._stack:
            self._stack.pop()

    @contextlib.contextmanager
    def _pause(self) -> Iterator[None]:
        paused, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = paused

    def _neuron_hook(self, name: str, spiking: bool) -> Callable:
        def hook(layer: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            x = args[0]
            state = args[1] if len(args) > 1 else kwargs.get("state")
            with self._pause(), torch.no_grad():
                updates, last, prev = 0, state, None
                for step, last in enumerate(_states(layer, x, state)):
                    if step == 0 and state is not None:  # the state given, as a record
                        prev = type(last)(*state).v
                    updates += (last.v.numel() if prev is None
                                else int((last.v != prev).sum()))
                    prev = last.v
                batch = x.shape[1]
                state_bytes = 0.0 if last is None else sum(
                    t.numel() * t.element_size() for t in last) / batch
                values = {"membrane_updates": updates, "state_bytes": state_bytes}
                if spiking:
                    y = output[0] if isinstance(output, tuple) else output
                    values |= {"activations": y.numel(), "zero_activations": int((y == 0).sum())}
                self._tally.add(name, type(layer).__name__, **values)
        return hook

    def _delay_hook(self, name: str) -> Callable:
        def hook(layer: nn.Module, args: tuple, output: Any) -> None:
            x = args[0]
            self._tally.add(name, type(layer).__name__, state_bytes=float(
                layer.max_delay * layer.in_features * x.element_size()))
        return hook

    def _activation_hook(self, name: str) -> Callable:
        def hook(layer: nn.Module, args: tuple, output: torch.Tensor) -> None:
            with self._pause():
                self._tally.add(name, type(layer).__name__, activations=output.numel(),
                                zero_activations=int((output == 0).sum()))
        return hook


def count(model: nn.Module, *inputs: Any, batch_dim: int = 1) -> Counts:
    """The counts of one call ``model(*inputs)``, per sample (see :class:`Counter`)."""
    with Counter(model, batch_dim=batch_dim) as counter:
        counter.run(*inputs)
    return counter.counts()


def measure_dataset(model: nn.Module, x: Any, encode: Callable[[torch.Tensor,
                    torch.Generator], torch.Tensor], *, batch_size: int = 256, seed: int = 0,
                    device: str = "cpu", on_output: Callable[[Any], object] | None = None
                    ) -> Counts:
    """The counts per sample of ``model`` in evaluation mode over a dataset ``x`` (e.g. a
    test set: an array, or a :class:`~spikewave.train.datasets.SampleView`), each batch
    encoded by ``encode(x_batch, generator)`` into ``[T, B, ...]`` as
    :func:`spikewave.train.loop.fit` encodes it (the generator seeded with ``seed``).
    ``on_output`` is called with the model's output of each batch, in order (whatever
    else is measured on the same pass)."""
    from spikewave.train.datasets import SampleView

    x = x if isinstance(x, SampleView) else torch.as_tensor(x)
    batch_size = check_int("batch_size", batch_size, 1, owner="measure_dataset")
    if len(x) == 0:
        raise fail("x", "an empty dataset", "at least one sample", "measure_dataset")
    gen = torch.Generator().manual_seed(check_int("seed", seed, 0, owner="measure_dataset"))
    training = model.training
    model.eval()
    try:
        with Counter(model) as counter:
            for i in range(0, len(x), batch_size):
                out = counter.run(encode(x[i:i + batch_size], gen).to(device))
                if on_output is not None:
                    on_output(out)
    finally:
        model.train(training)
    return counter.counts()

