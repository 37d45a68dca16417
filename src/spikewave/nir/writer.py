"""spikewave network -> NIR graph (:func:`export`) and ``.nir`` file (:func:`save`).

The network is read layer by layer, in order: :class:`~spikewave.train.models.SpikingSequential`
(its layers, then its leaky readout), ``nn.Sequential``, and
:class:`~spikewave.nn.TimeDistributed` around PyTorch layers are walked into; each layer
becomes one or a few NIR nodes (the table in ``docs/guide/nir.md``). A layer that NIR cannot
express exactly stops the export with a :class:`~spikewave.nir.conventions.NIRError` naming
the layer and what to change: nothing is approximated.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

try:
    import nir
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("spikewave.nir needs the nir package: pip install 'spikewave[nir]'"
                      ) from exc

from spikewave import __version__
from spikewave._io import atomic_write_bytes
from spikewave._validation import POSITIVE, check_choice, check_int, check_number, fail
from spikewave.nir import conventions as conv
from spikewave.nir import delays as delay_nodes
from spikewave.nir.conventions import NIRError
from spikewave.nir.network import NIRNetwork
from spikewave.nn.delays import DelayedLinear, LearnableDelayLinear
from spikewave.nn.linear import LinearLIF, SpikeLinear, TimeDistributed
from spikewave.nn.neurons import ALIF, LIF, CurrentLIF, LeakyReadout, RecurrentLIF


@dataclass
class _Graph:
    """The nodes and edges built so far, the node whose output is the current signal
    (``tail``) and its shape per step."""

    dt: float
    integration: str
    resistance: str
    fold_batchnorm: bool
    round_delays: bool
    nodes: dict[str, nir.NIRNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    gains: dict[str, np.ndarray] = field(default_factory=dict)
    tail: str = "input"
    shape: tuple[int, ...] = ()

    def add(self, name: str, node: nir.NIRNode, layer: str,
            sources: tuple[str, ...] | None = None) -> str:
        name = name.replace(".", "_")
        if name in self.nodes:
            raise NIRError(f"two NIR nodes would be named {name!r}: rename a layer")
        node.metadata = {"spikewave_layer": layer}
        self.nodes[name] = node
        for src in (self.tail,) if sources is None else sources:
            self.edges.append((src, name))
        return name


def _array(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy())


def _full(value: torch.Tensor | float, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter (a number, or per-neuron values broadcasting to one step) at every neuron
    of a step of ``shape``, in float64."""
    t = torch.as_tensor(value).detach().cpu().to(torch.float64)
    try:
        return np.ascontiguousarray(torch.broadcast_to(t, shape).numpy())
    except RuntimeError:
        raise NIRError(f"a parameter of shape {tuple(t.shape)} does not broadcast to the "
                       f"layer's step shape {shape}") from None


# ---------------------------------------------------------------- synapses and shapes


def _affine(g: _Graph, name: str, weight: torch.Tensor, bias: torch.Tensor | None,
            layer: str) -> str:
    if len(g.shape) != 1:
        raise NIRError(f"{layer} {name!r} acts on steps of shape {g.shape}; NIR's Affine maps "
                       "vectors: put a Flatten before it")
    w = _array(weight)
    node = nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=_array(bias))
    g.shape = (w.shape[0],)
    return g.add(name, node, layer)


def _linear(g: _Graph, name: str, m: nn.Linear) -> None:
    g.tail = _affine(g, name, m.weight, m.bias, type(m).__name__)


def _conv(g: _Graph, name: str, m: nn.Conv1d | nn.Conv2d) -> None:
    kind = type(m).__name__
    dims = 1 if isinstance(m, nn.Conv1d) else 2
    if m.padding_mode != "zeros":
        raise NIRError(f"{kind} {name!r} pads with {m.padding_mode!r}; NIR's convolutions pad "
                       "with zeros: use padding_mode='zeros'")
    if len(g.shape) != dims + 1:
        raise NIRError(f"{kind} {name!r} gets steps of shape {g.shape}; it needs "
                       f"(channels, {'length' if dims == 1 else 'height, width'})")
    padding = m.padding
    if isinstance(padding, str):  # 'valid' or 'same' (stride 1): the explicit zeros
        if padding == "valid":
            padding = (0,) * dims
        else:
            total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
            if any(p % 2 for p in total):
                raise NIRError(f"{kind} {name!r}: padding='same' with an even kernel pads "
                               "unequally; NIR's padding is the same on both sides")
            padding = tuple(p // 2 for p in total)
    bias = (_array(m.bias) if m.bias is not None
            else np.zeros(m.out_channels, dtype=_array(m.weight).dtype))
    spatial = g.shape[1:]
    if dims == 1:
        node = nir.Conv1d(input_shape=spatial[0], weight=_array(m.weight), stride=m.stride[0],
                          padding=padding[0], dilation=m.dilation[0], groups=m.groups,
                          bias=bias)
    else:
        node = nir.Conv2d(input_shape=spatial, weight=_array(m.weight), stride=tuple(m.stride),
                          padding=tuple(padding), dilation=tuple(m.dilation), groups=m.groups,
                          bias=bias)
    g.shape = _out_shape(m, g.shape)
    g.tail = g.add(name, node, kind)


def _out_shape(m: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    p = next(iter(m.parameters()), None)
    dtype = p.dtype if p is not None else torch.get_default_dtype()
    with torch.no_grad():
        return tuple(m(torch.zeros(1, *shape, dtype=dtype)).shape[1:])


def _avg_pool(g: _Graph, name: str, m: nn.AvgPool2d) -> None:
    pair = nn.modules.utils._pair
    kernel, stride = pair(m.kernel_size), pair(m.stride if m.stride is not None else m.kernel_size)
    padding = pair(m.padding)
    if m.ceil_mode:
        raise NIRError(f"AvgPool2d {name!r} has ceil_mode=True; NIR's pooling windows lie "
                       "inside the padded input: use ceil_mode=False")
    if m.divisor_override not in (None, 1):
        raise NIRError(f"AvgPool2d {name!r} divides by {m.divisor_override}; NIR has average "
                       "pooling and sum pooling (divisor_override=1) only")
    if any(padding) and m.divisor_override is None and not m.count_include_pad:
        raise NIRError(f"AvgPool2d {name!r} leaves the padding out of its average "
                       "(count_include_pad=False); NIR's AvgPool2d divides by the window's "
                       "area: use count_include_pad=True")
    if len(g.shape) != 3:
        raise NIRError(f"AvgPool2d {name!r} gets steps of shape {g.shape}; it needs "
                       "(channels, height, width)")
    cls = nir.SumPool2d if m.divisor_override == 1 else nir.AvgPool2d
    node = cls(kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding))
    g.shape = _out_shape(m, g.shape)
    g.tail = g.add(name, node, "AvgPool2d")


def _flatten(g: _Graph, name: str, m: nn.Flatten) -> None:
    if m.start_dim == 0 or m.start_dim < -len(g.shape):
        raise NIRError(f"Flatten {name!r} flattens the batch dimension; NIR's Flatten acts on "
                       "one sample: use start_dim >= 1")
    start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
    end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
    node = nir.Flatten(input_type={"input": np.array(g.shape)}, start_dim=start, end_dim=end)
    g.shape = tuple(int(s) for s in node.output_type["output"])
    g.tail = g.add(name, node, "Flatten")


def _batch_norm(g: _Graph, name: str, m: nn.modules.batchnorm._BatchNorm) -> None:
    kind = type(m).__name__
    if not g.fold_batchnorm:
        raise NIRError(f"{kind} {name!r} has no NIR node: export with fold_batchnorm=True to "
                       "fold it into the Conv or Linear before it (the same map in real "
                       "arithmetic; float rounding changes)")
    if m.training or m.running_mean is None:
        raise NIRError(f"{kind} {name!r} normalises by batch statistics (training mode or no "
                       "running statistics): call model.eval() before export")
    prev = g.nodes.get(g.tail)
    if not isinstance(prev, nir.Affine | nir.Linear | nir.Conv1d | nir.Conv2d):
        raise NIRError(f"{kind} {name!r} folds into a Conv or Linear right before it; it "
                       f"follows {type(prev).__name__}")
    gamma = m.weight.detach().double() if m.weight is not None else 1.0
    beta = m.bias.detach().double() if m.bias is not None else 0.0
    scale = gamma / torch.sqrt(m.running_var.double() + m.eps)
    shift = beta - m.running_mean.double() * scale
    scale, shift = _array(torch.as_tensor(scale)), _array(torch.as_tensor(shift))
    w = prev.weight.astype(np.float64)
    b = getattr(prev, "bias", np.zeros(w.shape[0]))
    b = np.asarray(b, dtype=np.float64)
    w = w * scale.reshape(-1, *([1] * (w.ndim - 1)))
    b = b * scale + shift
    dtype = prev.weight.dtype
    prev.weight = w.astype(dtype)
    if isinstance(prev, nir.Linear):
        layer = prev.metadata.get("spikewave_layer", "Linear")
        g.nodes[g.tail] = nir.Affine(weight=prev.weight, bias=b.astype(dtype),
                                     metadata={"spikewave_layer": layer})
    else:
        prev.bias = b.astype(dtype)


def _skip(g: _Graph, name: str, m: nn.Module) -> None:
    """Dropout and Identity: the identity at inference."""


def _refuse(why: str) -> Callable[[_Graph, str, nn.Module], None]:
    def refuse(g: _Graph, name: str, m: nn.Module) -> None:
        raise NIRError(f"{type(m).__name__} {name!r} {why}")
    return refuse


# ---------------------------------------------------------------- neurons


def _check_reset(layer: nn.Module, name: str) -> None:
    if layer.spec.reset != "zero":
        raise NIRError(f"{type(layer).__name__} {name!r} resets by subtracting the threshold; "
                       "NIR's neurons reset to a value (v_reset): build it with reset='zero' "
                       "(spikewave train --reset zero) and train it so")


def _neuron_arrays(layer: nn.Module, beta: torch.Tensor, shape: tuple[int, ...], name: str,
                   g: _Graph) -> dict[str, np.ndarray]:
    """tau, R (gain folded or not), v_leak, v_threshold, v_reset of a LIF-type neuron."""
    b = _full(beta, shape)
    if np.any(b <= 0) or np.any(b >= 1):
        raise NIRError(f"{type(layer).__name__} {name!r} has a decay outside (0, 1), which no "
                       "time constant gives")
    thr = conv.threshold_to_nir(layer.spec.threshold, _np_dtype(beta))
    return {"tau": conv.tau_from_beta(b, g.dt, g.integration), "r": conv.unit_gain(b),
            "v_leak": np.zeros(shape), "v_threshold": np.full(shape, thr),
            "v_reset": np.zeros(shape)}


def _np_dtype(t: torch.Tensor) -> np.dtype:
    return np.dtype(str(t.dtype).removeprefix("torch."))


def _fold_gain(g: _Graph, node: str, gain: np.ndarray) -> None:
    if g.resistance == "weights":
        g.gains[node] = gain


def _lif_node(g: _Graph, name: str, layer: nn.Module, beta: torch.Tensor,
              sources: tuple[str, ...] | None = None, kind: str | None = None) -> str:
    _check_reset(layer, name)
    kind = kind or type(layer).__name__
    b = _full(beta, g.shape)
    if np.all(b == 1.0):  # no leak: NIR's IF, dv/dt = R I, R = 1 / dt
        thr = conv.threshold_to_nir(layer.spec.threshold, _np_dtype(beta))
        r = np.full(g.shape, 1.0 / g.dt)
        node = nir.IF(r=np.ones(g.shape) if g.resistance == "weights" else r,
                      v_threshold=np.full(g.shape, thr), v_reset=np.zeros(g.shape))
        out = g.add(name, node, kind, sources)
        _fold_gain(g, out, r)
        return out
    p = _neuron_arrays(layer, beta, g.shape, name, g)
    gain = p["r"]
    if g.resistance == "weights":
        p["r"] = np.ones(g.shape)
    out = g.add(name, nir.LIF(**p), kind, sources)
    _fold_gain(g, out, gain)
    return out


def _lif(g: _Graph, name: str, layer: LIF) -> None:
    g.tail = _lif_node(g, name, layer, layer.decay.beta())


def _current_lif(g: _Graph, name: str, layer: CurrentLIF) -> None:
    _check_reset(layer, name)
    p = _neuron_arrays(layer, layer.decay.beta(), g.shape, name, g)
    alpha = _full(layer.syn.beta(), g.shape)
    if np.any(alpha <= 0) or np.any(alpha >= 1):
        raise NIRError(f"CurrentLIF {name!r} has a synaptic decay outside (0, 1)")
    w_in = conv.unit_gain(alpha)
    gain = p["r"] * w_in
    if g.resistance == "weights":
        p["r"], w_in = np.ones(g.shape), np.ones(g.shape)
    node = nir.CubaLIF(tau_syn=conv.tau_from_beta(alpha, g.dt, g.integration),
                       tau_mem=p.pop("tau"), w_in=w_in, **p)
    g.tail = g.add(name, node, "CurrentLIF")
    _fold_gain(g, g.tail, gain)


def _leaky(g: _Graph, name: str, layer: LeakyReadout) -> None:
    b = _full(layer.decay.beta(), g.shape)
    if np.any(b <= 0) or np.any(b >= 1):
        raise NIRError(f"LeakyReadout {name!r} has a decay outside (0, 1)")
    gain = conv.unit_gain(b)
    node = nir.LI(tau=conv.tau_from_beta(b, g.dt, g.integration),
                  r=np.ones(g.shape) if g.resistance == "weights" else gain,
                  v_leak=np.zeros(g.shape))
    g.tail = g.add(name, node, "LeakyReadout")
    _fold_gain(g, g.tail, gain)


def _linear_lif(g: _Graph, name: str, layer: LinearLIF) -> None:
    _check_reset(layer, name)
    g.tail = _affine(g, f"{name}.linear", layer.weight, layer.bias, "LinearLIF")
    g.tail = _lif_node(g, f"{name}.lif", layer, layer.decay.beta(), kind="LinearLIF")


def _recurrent_lif(g: _Graph, name: str, layer: RecurrentLIF) -> None:
    if g.shape != (layer.n_neurons,):
        raise NIRError(f"RecurrentLIF {name!r} gets steps of shape {g.shape}; it needs "
                       f"({layer.n_neurons},)")
    lif = _lif_node(g, f"{name}.lif", layer, layer.decay.beta())
    rec = g.add(f"{name}.rec", nir.Linear(weight=_array(layer.w_rec)), "RecurrentLIF",
                sources=(lif,))
    g.edges.append((rec, lif))  # after lif -> rec: snnTorch finds the loop only so
    g.tail = lif


def _delayed(g: _Graph, name: str, layer: DelayedLinear | LearnableDelayLinear) -> None:
    if isinstance(layer, LearnableDelayLinear):
        if not g.round_delays:
            raise NIRError(f"LearnableDelayLinear {name!r} spreads each synapse over several "
                           "steps (a Gaussian of width sigma); NIR's Delay shifts by a fixed "
                           "time: export with round_delays=True to export layer.rounded() "
                           "(integer delays; what the network computes changes)")
        layer = layer.rounded()
    if g.shape != (layer.in_features,):
        raise NIRError(f"{type(layer).__name__} {name!r} gets steps of shape {g.shape}; it "
                       f"needs ({layer.in_features},)")
    if layer.max_delay == 0:
        g.tail = _affine(g, name, layer.weight, layer.bias, "DelayedLinear")
        return
    expand, steps, summed = delay_nodes.split(_array(layer.weight), _array(layer.delays))
    e = g.add(f"{name}.expand", nir.Linear(weight=expand), "DelayedLinear")
    d = g.add(f"{name}.delay", nir.Delay(delay=steps * g.dt), "DelayedLinear", sources=(e,))
    bias = None if layer.bias is None else _array(layer.bias)
    node = nir.Linear(weight=summed) if bias is None else nir.Affine(weight=summed, bias=bias)
    g.tail = g.add(f"{name}.sum", node, "DelayedLinear", sources=(d,))
    g.shape = (summed.shape[0],)


# Exact types (the layers are final): what each becomes. Layers over whole sequences first,
# then PyTorch layers applied at every step (inside TimeDistributed, or SpikeLinear).
_WRITERS: dict[type, Callable[[_Graph, str, nn.Module], None]] = {
    LIF: _lif, CurrentLIF: _current_lif, LeakyReadout: _leaky, LinearLIF: _linear_lif,
    RecurrentLIF: _recurrent_lif, DelayedLinear: _delayed, LearnableDelayLinear: _delayed,
    ALIF: _refuse("has an adaptive threshold, which no NIR node has: use LIF (or CurrentLIF)"),
    SpikeLinear: _linear, nn.Linear: _linear, nn.Conv1d: _conv, nn.Conv2d: _conv,
    nn.AvgPool2d: _avg_pool, nn.Flatten: _flatten,
    nn.BatchNorm1d: _batch_norm, nn.BatchNorm2d: _batch_norm,
    nn.Dropout: _skip, nn.Identity: _skip,
    nn.MaxPool2d: _refuse("has no NIR node (NIR pools by sum or average): build the network "
                          "with nn.AvgPool2d (conv_snn(pool='avg')) and train it so"),
}

_SEQUENCE_LAYERS = (LIF, CurrentLIF, ALIF, LeakyReadout, LinearLIF, RecurrentLIF, DelayedLinear,
                    LearnableDelayLinear)


def _leaves(module: nn.Module, path: str, per_step: bool
            ) -> Iterator[tuple[str, nn.Module, bool]]:
    """The layers of ``module`` in the order they run, with their paths, and whether they
    are applied to each step on its own (inside TimeDistributed)."""
    from spikewave.train.models import SpikingSequential

    if isinstance(module, SpikingSequential):
        for i, layer in enumerate(module.layers):
            yield from _leaves(layer, f"{path}layers.{i}", False)
        yield from _leaves(module.readout, f"{path}readout", False)
    elif isinstance(module, nn.Sequential):
        for key, layer in module.named_children():
            yield from _leaves(layer, f"{path}{key}", per_step)
    elif isinstance(module, TimeDistributed):
        yield from _leaves(module.module, f"{path}.module" if path else "module", True)
    elif isinstance(module, NIRNetwork):  # a loaded graph: a chain of layers is walked
        before = module.graph_inputs
        for key in module.order:
            if len(before) != 1 or module.inputs[key] != tuple(before):
                raise NIRError(f"the loaded network's node {key!r} reads {module.inputs[key]}"
                               "; export writes a chain of layers: a loaded graph with "
                               "branches is exported as it was loaded, with nir.write")
            yield from _leaves(module.nodes[key], f"{path}{key}", per_step)
            before = (key,)
        if list(module.graph_outputs.values()) != [tuple(before)]:
            raise NIRError("the loaded network's output is not its last node; export writes "
                           "a chain of layers")
    else:
        yield (path or type(module).__name__.lower()), module, per_step


def _input_shape(first: nn.Module, input_shape) -> tuple[int, ...]:
    if input_shape is not None:
        shape = tuple(input_shape) if isinstance(input_shape, tuple | list) else (input_shape,)
        return tuple(check_int("input_shape", s, 1, owner="export") for s in shape)
    if isinstance(first, nn.Linear | LinearLIF | DelayedLinear | LearnableDelayLinear):
        return (first.in_features,)
    if isinstance(first, RecurrentLIF):
        return (first.n_neurons,)
    raise fail("input_shape", None, "the shape of one step of input without the batch "
               f"(e.g. (1, 28, 28)): the first layer, {type(first).__name__}, does not say it",
               "export")


def _push_gains(g: _Graph) -> None:
    """resistance='weights': each neuron's input gain multiplies the weights of the layers
    that feed it (which then feed nothing else)."""
    for node_name, gain in g.gains.items():
        kind = type(g.nodes[node_name]).__name__
        for src in [s for s, t in g.edges if t == node_name]:
            prev = g.nodes[src]
            users = [t for s, t in g.edges if s == src]
            if not isinstance(prev, nir.Affine | nir.Linear | nir.Conv1d | nir.Conv2d) or \
                    len(users) != 1:
                raise NIRError(f"resistance='weights' folds the input gain of {kind} "
                               f"{node_name!r} into the weights before it, but {src!r} is "
                               f"{'the input' if src == 'input' else type(prev).__name__}"
                               f"{' feeding several nodes' if len(users) > 1 else ''}: use "
                               "resistance='neuron'")
            per_out = gain.reshape(gain.shape[0], -1)
            if not np.all(per_out == per_out[:, :1]):
                raise NIRError(f"resistance='weights': the gain of {kind} {node_name!r} varies "
                               f"within a channel of {src!r}; use resistance='neuron'")
            scale = per_out[:, 0]
            dtype = prev.weight.dtype
            w = prev.weight.astype(np.float64)
            prev.weight = (w * scale.reshape(-1, *([1] * (w.ndim - 1)))).astype(dtype)
            if isinstance(prev, nir.Affine | nir.Conv1d | nir.Conv2d):
                prev.bias = (prev.bias.astype(np.float64) * scale).astype(dtype)


def export(model: nn.Module, *, dt: float, input_shape: tuple[int, ...] | None = None,
           integration: str = "exact", resistance: str = "neuron",
           fold_batchnorm: bool = False, round_delays: bool = False,
           path: str | os.PathLike[str] | None = None) -> nir.NIRGraph:
    """The NIR graph of ``model``, one step lasting ``dt`` seconds (and written to ``path``,
    a ``.nir`` file, when given).

    ``input_shape``: one step of input without the batch, e.g. ``(1, 28, 28)``; needed when
    the first layer does not say it (a convolution, a neuron layer). ``integration``: how
    the reader integrates NIR's ODEs, ``"exact"`` (``beta = exp(-dt / tau)``) or ``"euler"``
    (``beta = 1 - dt / tau``: snnTorch, Norse). ``resistance``: ``"neuron"`` writes each
    neuron's ``R = 1 / (1 - beta)``; ``"weights"`` writes ``R = 1`` and multiplies the
    weights feeding the neuron by ``1 / (1 - beta)`` (for readers that ignore ``R``, such as
    Norse's LIF; the same network, float rounding aside). ``fold_batchnorm``: fold batch
    normalisation (eval mode) into the Conv or Linear before it. ``round_delays``: export
    each :class:`~spikewave.nn.LearnableDelayLinear` as its ``rounded()`` integer-delay layer.
    The conventions: :mod:`spikewave.nir.conventions`.
    """
    dt = check_number("dt", dt, POSITIVE, "export")
    check_choice("integration", integration, conv.INTEGRATIONS, "export")
    check_choice("resistance", resistance, conv.RESISTANCES, "export")
    if not isinstance(model, nn.Module):
        raise fail("model", type(model).__name__, "a torch.nn.Module", "export")
    leaves = list(_leaves(model, "", False))
    if not leaves:
        raise NIRError(f"{type(model).__name__} has no layers to export")
    g = _Graph(dt, integration, resistance, bool(fold_batchnorm), bool(round_delays))
    g.shape = _input_shape(leaves[0][1], input_shape)
    g.nodes["input"] = nir.Input(input_type={"input": np.array(g.shape)})
    for name, layer, per_step in leaves:
        if per_step and type(layer) in _SEQUENCE_LAYERS:
            raise NIRError(f"{type(layer).__name__} {name!r} is inside TimeDistributed, which "
                           "runs each step from rest: put it in the sequence of layers")
        writer = _WRITERS.get(type(layer))
        if writer is None:
            raise NIRError(f"{type(layer).__name__} {name!r} has no NIR form that spikewave "
                           "knows; export walks SpikingSequential, nn.Sequential and "
                           "TimeDistributed, and writes the layers listed in docs/guide/nir.md")
        writer(g, name, layer)
    _push_gains(g)
    if "output" in g.nodes:
        raise NIRError("a layer named 'output' would take the name of the graph's Output node: "
                       "rename it")
    g.nodes["output"] = nir.Output(output_type={"output": np.array(g.shape)})
    g.edges.append((g.tail, "output"))
    graph = nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata={
        "source": f"spikewave {__version__}", "dt": dt, "integration": integration,
        "resistance": resistance})
    if path is not None:
        save(graph, path)
    return graph


def save(graph: nir.NIRGraph, path: str | os.PathLike[str]) -> None:
    """Write ``graph`` to ``path`` (a ``.nir`` file, HDF5) atomically."""
    if not isinstance(graph, nir.NIRGraph):
        raise fail("graph", type(graph).__name__, "a nir.NIRGraph", "save")
    buffer = io.BytesIO()
    nir.write(buffer, graph)
    atomic_write_bytes(path, buffer.getvalue())

