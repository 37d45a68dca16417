"""NIR graph (or ``.nir`` file) -> spikewave layers (:func:`load`).

Nested graphs are inlined; then the nodes are grouped into spikewave layers:

- a LIF fed back through a Linear (or Affine) that nothing else feeds or reads is one
  :class:`~spikewave.nn.RecurrentLIF`;
- ``Linear (copy) -> Delay -> Affine`` is one :class:`~spikewave.nn.DelayedLinear`
  (:mod:`spikewave.nir.delays`);
- an Affine whose only reader is a LIF that reads nothing else is one
  :class:`~spikewave.nn.LinearLIF` (unless a spikewave-written graph says the two were
  separate layers);
- every other node is one layer: Affine/Linear -> :class:`~spikewave.nn.SpikeLinear`,
  Conv1d/Conv2d/Flatten/AvgPool2d/SumPool2d -> the PyTorch layer in
  :class:`~spikewave.nn.TimeDistributed`, LIF/IF -> :class:`~spikewave.nn.LIF` (an IF is a
  LIF of decay 1), CubaLIF -> :class:`~spikewave.nn.CurrentLIF`, LI ->
  :class:`~spikewave.nn.LeakyReadout`, Scale -> :class:`~spikewave.nir.network.Scale`.

The decays are fixed values (``learn_beta=False``), one per layer where all neurons share
it, else per neuron. A node that spikewave cannot run exactly (a reset to a value other than
0, a leak potential, thresholds that differ between neurons, a cycle of another form) stops
the load with a :class:`~spikewave.nir.conventions.NIRError` naming the node.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

try:
    import nir
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("spikewave.nir needs the nir package: pip install 'spikewave[nir]'"
                      ) from exc

from spikewave._validation import POSITIVE, check_choice, check_number, fail
from spikewave.nir import conventions as conv
from spikewave.nir import delays as delay_nodes
from spikewave.nir.conventions import NIRError
from spikewave.nir.network import NIRNetwork, Offset, Scale
from spikewave.nn.delays import DelayedLinear
from spikewave.nn.linear import LinearLIF, SpikeLinear, TimeDistributed
from spikewave.nn.neurons import LIF, CurrentLIF, LeakyReadout, RecurrentLIF

_WEIGHTS = (nir.Affine, nir.Linear)
_NEURONS = (nir.LIF, nir.IF)


@dataclass
class _Context:
    dt: float
    integration: str
    dtype: torch.dtype
    nodes: dict[str, nir.NIRNode]
    preds: dict[str, list[str]]
    succs: dict[str, list[str]]


@dataclass
class _Group:
    """NIR nodes that become one spikewave layer: ``entry`` takes the group's input,
    ``exit`` gives its output, ``members`` are all of them."""

    kind: str
    entry: str
    exit: str
    members: tuple[str, ...]
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading and inlining


def _read(graph_or_path) -> nir.NIRGraph:
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path
    if isinstance(graph_or_path, str | os.PathLike):
        path = Path(graph_or_path)
        if not path.is_file():
            raise fail("graph_or_path", str(path), "a nir.NIRGraph or an existing .nir file",
                       "load")
        try:
            return nir.read(path)
        except (OSError, KeyError, ValueError, AssertionError, TypeError) as exc:
            raise NIRError(f"{path} is not a NIR file that nir {nir.__version__} reads: "
                           f"{type(exc).__name__}: {exc}") from None
    raise fail("graph_or_path", type(graph_or_path).__name__,
               "a nir.NIRGraph or the path of a .nir file", "load")


def _inline(graph: nir.NIRGraph, prefix: str = ""
            ) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """The graph's nodes and edges with nested graphs replaced by their nodes (named
    ``outer.inner``); a nested graph's Input and Output nodes stay, to be bypassed."""
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    leave: dict[str, str] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            ins = [k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise NIRError(f"nested graph {full!r} has {len(ins)} inputs and {len(outs)} "
                               "outputs; spikewave inlines nested graphs with one of each")
            sub_nodes, sub_edges = _inline(node, full + ".")
            nodes.update(sub_nodes)
            edges += sub_edges
            entry[full], leave[full] = f"{full}.{ins[0]}", f"{full}.{outs[0]}"
        else:
            nodes[full] = node
    for a, b in graph.edges:
        edges.append((leave.get(prefix + a, prefix + a), entry.get(prefix + b, prefix + b)))
    return nodes, edges


def _bypass(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]], top: set[str]
            ) -> list[tuple[str, str]]:
    """Remove the Input and Output nodes of nested graphs, joining their edges."""
    for name in [n for n, v in nodes.items()
                 if isinstance(v, nir.Input | nir.Output) and n not in top]:
        ins = [a for a, b in edges if b == name]
        outs = [b for a, b in edges if a == name]
        edges = [e for e in edges if name not in e] + [(a, b) for a in ins for b in outs]
        del nodes[name]
    return edges


# ---------------------------------------------------------------- parameters


def _compact(values: np.ndarray) -> np.ndarray:
    """One value when all neurons share it, else the values (per neuron)."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.ravel()
    if flat.size and np.all(flat == flat[0]):
        return np.asarray(flat[0])
    return values


def _zeros(node: nir.NIRNode, name: str, field_name: str, what: str) -> None:
    value = getattr(node, field_name, None)
    if value is not None and np.any(np.asarray(value) != 0):
        raise NIRError(f"{type(node).__name__} node {name!r} has {field_name} "
                       f"{_show(value)}; {what}")


def _show(value) -> str:
    arr = np.asarray(value, dtype=np.float64)
    return f"{arr.item():g}" if arr.size == 1 else f"from {arr.min():g} to {arr.max():g}"


def _threshold(node: nir.NIRNode, name: str, ctx: _Context) -> float:
    thr = np.asarray(node.v_threshold, dtype=np.float64).ravel()
    if thr.size == 0 or np.any(thr != thr[0]):
        raise NIRError(f"{type(node).__name__} node {name!r} has thresholds {_show(thr)}; a "
                       "spikewave neuron layer has one threshold: split the layer or scale "
                       "its weights")
    value = conv.threshold_from_nir(thr[0], _np_dtype(ctx))
    if not value > 0:
        raise NIRError(f"{type(node).__name__} node {name!r} has threshold {thr[0]:g}; "
                       "spikewave's thresholds are positive")
    return value


def _decay(tau, name: str, kind: str, ctx: _Context) -> np.ndarray:
    tau = np.asarray(tau, dtype=np.float64)
    if np.any(~np.isfinite(tau)) or np.any(tau <= 0):
        raise NIRError(f"{kind} node {name!r} has time constants {_show(tau)}; they must be "
                       "positive")
    beta = conv.beta_from_tau(tau, ctx.dt, ctx.integration)
    if np.any(beta <= 0):
        raise NIRError(f"{kind} node {name!r} has time constants down to {tau.min():g} s, "
                       f"not above dt = {ctx.dt:g} s: one Euler step of them empties the "
                       "potential and more (integration='exact' reads them)")
    return beta


def _set_decay(decay: nn.Module, beta: np.ndarray, ctx: _Context) -> None:
    """A layer's decay as fixed values (``learn_beta=False``): one, or one per neuron."""
    decay.beta_value = torch.as_tensor(_compact(beta), dtype=ctx.dtype)


def _leak_and_reset(node: nir.NIRNode, name: str) -> None:
    _zeros(node, name, "v_leak", "spikewave's neurons leak towards 0: move the leak into "
           "a bias of the layer before")
    _zeros(node, name, "v_reset", "spikewave's neurons reset to 0")


def _np_dtype(ctx: _Context) -> np.dtype:
    return np.dtype(str(ctx.dtype).removeprefix("torch."))


def _gain_module(gain: np.ndarray, ctx: _Context, *stored) -> Scale | None:
    """A Scale by ``gain`` before the neurons, or None where the gain is one within the
    precision of the ``stored`` parameters it was computed from."""
    if conv.is_one(gain, *stored):
        return None
    return Scale(torch.as_tensor(_compact(gain), dtype=ctx.dtype))


# ---------------------------------------------------------------- layers


def _neuron(name: str, ctx: _Context, recurrent: np.ndarray | None = None):
    """``(input gain module or None, layer)`` of a LIF/IF node."""
    node = ctx.nodes[name]
    kind = type(node).__name__
    _leak_and_reset(node, name)
    thr = _threshold(node, name, ctx)
    r = np.asarray(node.r, dtype=np.float64)
    if isinstance(node, nir.IF):
        beta, gain = np.ones_like(r), r * ctx.dt
    else:
        beta = _decay(node.tau, name, kind, ctx)
        gain = r * (1.0 - beta)
    if recurrent is not None:
        layer = RecurrentLIF(recurrent.shape[0], seed=0, threshold=thr, reset="zero").to(ctx.dtype)
        with torch.no_grad():
            layer.w_rec.copy_(torch.from_numpy(recurrent))
    else:
        layer = LIF(threshold=thr, reset="zero").to(ctx.dtype)
    _set_decay(layer.decay, beta, ctx)
    return _gain_module(gain, ctx, node.r, getattr(node, "tau", node.r)), layer


def _current_lif(name: str, ctx: _Context) -> tuple[Scale | None, CurrentLIF]:
    node = ctx.nodes[name]
    _leak_and_reset(node, name)
    layer = CurrentLIF(threshold=_threshold(node, name, ctx), reset="zero").to(ctx.dtype)
    alpha = _decay(node.tau_syn, name, "CubaLIF", ctx)
    beta = _decay(node.tau_mem, name, "CubaLIF", ctx)
    _set_decay(layer.syn, alpha, ctx)
    _set_decay(layer.decay, beta, ctx)
    gain = np.asarray(node.w_in, np.float64) * (1 - alpha) * np.asarray(node.r) * (1 - beta)
    return _gain_module(gain, ctx, node.w_in, node.tau_syn, node.r, node.tau_mem), layer


def _leaky(name: str, ctx: _Context) -> tuple[Scale | None, LeakyReadout]:
    node = ctx.nodes[name]
    _zeros(node, name, "v_leak", "spikewave's leaky integrator leaks towards 0")
    beta = _decay(node.tau, name, "LI", ctx)
    layer = LeakyReadout().to(ctx.dtype)
    _set_decay(layer.decay, beta, ctx)
    return _gain_module(np.asarray(node.r, np.float64) * (1 - beta), ctx, node.r, node.tau), layer


def _weights(node: nir.NIRNode, name: str, ctx: _Context
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    w = np.asarray(node.weight)
    if w.ndim != 2:
        raise NIRError(f"{type(node).__name__} node {name!r} has a weight of shape {w.shape}; "
                       "spikewave's dense layers take [out, in]")
    bias = getattr(node, "bias", None) if isinstance(node, nir.Affine) else None
    return (torch.as_tensor(w, dtype=ctx.dtype),
            None if bias is None else torch.as_tensor(np.asarray(bias), dtype=ctx.dtype))


def _spike_linear(name: str, ctx: _Context) -> SpikeLinear:
    w, b = _weights(ctx.nodes[name], name, ctx)
    layer = SpikeLinear(w.shape[1], w.shape[0], bias=b is not None).to(ctx.dtype)
    with torch.no_grad():
        layer.weight.copy_(w)
        if b is not None:
            layer.bias.copy_(b)
    return layer


def _ints(value, n: int) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64)
    return tuple(int(v) for v in (arr if arr.size == n else np.repeat(arr[:1], n)))


def _conv(name: str, ctx: _Context) -> TimeDistributed:
    node = ctx.nodes[name]
    dims = 1 if isinstance(node, nir.Conv1d) else 2
    w = np.asarray(node.weight)
    padding = node.padding if isinstance(node.padding, str) else _ints(node.padding, dims)
    cls = nn.Conv1d if dims == 1 else nn.Conv2d
    layer = cls(w.shape[1] * int(node.groups), w.shape[0], w.shape[2:], stride=_ints(
        node.stride, dims), padding=padding, dilation=_ints(node.dilation, dims),
        groups=int(node.groups), bias=True).to(ctx.dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(w, dtype=ctx.dtype))
        bias = np.zeros(w.shape[0]) if node.bias is None else np.asarray(node.bias)
        layer.bias.copy_(torch.as_tensor(bias, dtype=ctx.dtype))
    return TimeDistributed(layer)


def _pool(name: str, ctx: _Context) -> TimeDistributed:
    node = ctx.nodes[name]
    divisor = 1 if isinstance(node, nir.SumPool2d) else None
    return TimeDistributed(nn.AvgPool2d(_ints(node.kernel_size, 2), _ints(node.stride, 2),
                                        _ints(node.padding, 2), divisor_override=divisor))


def _flatten(name: str, ctx: _Context) -> TimeDistributed:
    node = ctx.nodes[name]
    start, end = int(node.start_dim), int(node.end_dim)
    return TimeDistributed(nn.Flatten(start + 1 if start >= 0 else start,
                                      end + 1 if end >= 0 else end))


def _single(build: Callable[[str, _Context], nn.Module]):
    def one(group: _Group, ctx: _Context) -> list[nn.Module]:
        return [build(group.entry, ctx)]
    return one


def _with_gain(build):
    def layers(group: _Group, ctx: _Context) -> list[nn.Module]:
        gain, layer = build(group.entry, ctx)
        return [gain, layer] if gain is not None else [layer]
    return layers


def _recurrent_group(group: _Group, ctx: _Context) -> list[nn.Module]:
    rec = ctx.nodes[group.extra["rec"]]
    w, b = _weights(rec, group.extra["rec"], ctx)
    gain, layer = _neuron(group.exit, ctx, recurrent=w.numpy())
    out: list[nn.Module] = [] if b is None or not torch.any(b != 0) else [Offset(b)]
    if gain is not None:
        if out:
            raise NIRError(f"LIF node {group.exit!r}: a recurrent bias and an input gain R (1 -"
                           " beta) != 1 together; spikewave's RecurrentLIF takes neither")
        raise NIRError(f"LIF node {group.exit!r} is recurrent and its input gain R (1 - beta) "
                       "is not 1; spikewave's RecurrentLIF scales neither its input nor its "
                       "recurrent weights: write R = 1 / (1 - beta)")
    return [*out, layer]


def _unit_gain_lif(name: str, ctx: _Context) -> bool:
    """Whether LIF node ``name`` adds its input unscaled (a LinearLIF cannot scale it)."""
    node = ctx.nodes[name]
    return conv.is_one(np.asarray(node.r, np.float64)
                       * (1 - _decay(node.tau, name, "LIF", ctx)), node.r, node.tau)


def _linear_lif_group(group: _Group, ctx: _Context) -> list[nn.Module]:
    w, b = _weights(ctx.nodes[group.entry], group.entry, ctx)
    _, lif = _neuron(group.exit, ctx)  # its gain is one (_unit_gain_lif)
    layer = LinearLIF(w.shape[1], w.shape[0], bias=b is not None, threshold=lif.threshold,
                      reset="zero").to(ctx.dtype)
    with torch.no_grad():
        layer.weight.copy_(w)
        if b is not None:
            layer.bias.copy_(b)
    layer.decay.beta_value = lif.decay.beta_value
    return [layer]


def _delay_group(group: _Group, ctx: _Context) -> list[nn.Module]:
    expand_name, delay_name, sum_name = group.members
    steps = np.asarray(ctx.nodes[delay_name].delay, dtype=np.float64) / ctx.dt
    k = np.rint(steps)
    if np.any(np.abs(steps - k) > 1e-6 * np.maximum(1.0, np.abs(k))) or np.any(k < 0):
        raise NIRError(f"Delay node {delay_name!r} has delays that are not whole steps of dt = "
                       f"{ctx.dt:g} s (from {steps.min():g} to {steps.max():g} steps)")
    e, _ = _weights(ctx.nodes[expand_name], expand_name, ctx)
    s, bias = _weights(ctx.nodes[sum_name], sum_name, ctx)
    weight, delays = delay_nodes.join(e.numpy(), k.astype(np.int64), s.numpy(),
                                      f"{expand_name} -> {delay_name} -> {sum_name}")
    layer = DelayedLinear(weight.shape[1], weight.shape[0], torch.from_numpy(delays),
                          bias=bias is not None).to(ctx.dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        if bias is not None:
            layer.bias.copy_(bias)
    return [layer]


_BUILDERS: dict[str, Callable[[_Group, _Context], list[nn.Module]]] = {
    "Affine": _single(_spike_linear), "Linear": _single(_spike_linear),
    "Conv1d": _single(_conv), "Conv2d": _single(_conv), "Flatten": _single(_flatten),
    "AvgPool2d": _single(_pool), "SumPool2d": _single(_pool),
    "Scale": _single(lambda n, c: Scale(torch.as_tensor(np.asarray(c.nodes[n].scale),
                                                        dtype=c.dtype))),
    "LIF": _with_gain(_neuron), "IF": _with_gain(_neuron), "CubaLIF": _with_gain(_current_lif),
    "LI": _with_gain(_leaky), "recurrent": _recurrent_group, "LinearLIF": _linear_lif_group,
    "delay": _delay_group,
}


# ---------------------------------------------------------------- grouping and order


def _groups(ctx: _Context, top_inputs: set[str], top_outputs: set[str]) -> list[_Group]:
    nodes, preds, succs = ctx.nodes, ctx.preds, ctx.succs
    taken: set[str] = set(top_inputs) | set(top_outputs)
    groups: list[_Group] = []
    for name, node in nodes.items():  # recurrent LIFs
        if not isinstance(node, _NEURONS + (nir.CubaLIF,)):
            continue
        loops = [p for p in preds[name] if isinstance(nodes[p], _WEIGHTS)
                 and preds[p] == [name] and succs[p] == [name]]
        if not loops:
            continue
        if isinstance(node, nir.CubaLIF) or len(loops) > 1:
            raise NIRError(f"{type(node).__name__} node {name!r} is fed back through "
                           f"{loops}; spikewave's recurrent layer is a LIF fed back through "
                           "one Linear")
        groups.append(_Group("recurrent", name, name, (name, loops[0]), {"rec": loops[0]}))
        taken |= {name, loops[0]}
    for name, node in nodes.items():  # per-synapse delays
        if not isinstance(node, nir.Delay):
            continue
        before, after = preds[name], succs[name]
        if not (len(before) == 1 and isinstance(nodes[before[0]], _WEIGHTS)
                and succs[before[0]] == [name] and len(after) == 1
                and isinstance(nodes[after[0]], _WEIGHTS) and preds[after[0]] == [name]):
            raise NIRError(f"Delay node {name!r} is not between a Linear that copies its input "
                           "and an Affine that sums the delayed copies; spikewave loads Delay "
                           "nodes as per-synapse delays (DelayedLinear) only")
        groups.append(_Group("delay", before[0], after[0], (before[0], name, after[0])))
        taken |= {before[0], name, after[0]}
    for name, node in nodes.items():  # dense synapses and their LIF neurons
        if name in taken or not isinstance(node, _WEIGHTS) or len(succs[name]) != 1:
            continue
        lif = succs[name][0]
        hints = {nodes[n].metadata.get("spikewave_layer") for n in (name, lif)}
        fused = hints == {"LinearLIF"} or hints == {None}
        if (fused and lif not in taken and isinstance(nodes[lif], nir.LIF)
                and preds[lif] == [name] and np.asarray(node.weight).ndim == 2
                and _unit_gain_lif(lif, ctx)):
            groups.append(_Group("LinearLIF", name, lif, (name, lif)))
            taken |= {name, lif}
    for name, node in nodes.items():
        if name in taken:
            continue
        kind = type(node).__name__
        if kind not in _BUILDERS:
            raise NIRError(f"{kind} node {name!r} has no spikewave layer (spikewave loads "
                           f"{', '.join(sorted(k for k in _BUILDERS if k[0].isupper()))}, "
                           "Delay between a copying Linear and an Affine, and recurrent LIFs)")
        groups.append(_Group(kind, name, name, (name,)))
    return groups


def _order(groups: list[_Group], ctx: _Context, top_inputs: set[str]) -> list[_Group]:
    """The groups, each after the groups that feed it; a cycle left is an error."""
    owner = {m: g for g in groups for m in g.members}
    feeds = {id(g): {id(owner[p]) for p in ctx.preds[g.entry]
                     if p not in top_inputs and p not in g.members} for g in groups}
    done: set[int] = set()
    order: list[_Group] = []
    while len(order) < len(groups):
        ready = [g for g in groups if id(g) not in done and feeds[id(g)] <= done]
        if not ready:
            stuck = [g.entry for g in groups if id(g) not in done]
            raise NIRError(f"the nodes {stuck} form a cycle that is not a LIF fed back through "
                           "one Linear; spikewave runs no other cycles")
        for g in ready:
            done.add(id(g))
            order.append(g)
    return order


def _unique_key(name: str, used: set[str]) -> str:
    key = re.sub(r"\W", "_", name) or "node"
    if key[0].isdigit():
        key = "n" + key
    while key in used or hasattr(nn.ModuleDict, key):
        key += "_"
    used.add(key)
    return key


def load(graph_or_path, *, dt: float | None = None, integration: str | None = None,
         dtype: torch.dtype | None = None) -> NIRNetwork:
    """The NIR graph (a ``nir.NIRGraph`` or a ``.nir`` file) as a network of spikewave layers.

    ``dt`` (seconds per step) and ``integration`` (``"exact"`` or ``"euler"``, how the
    graph's writer meant its ODEs to be stepped) default to what a spikewave-written graph
    records; other graphs need them (snnTorch writes for ``"euler"`` at ``dt = 1e-4``,
    Norse for ``"euler"`` at its ``dt``). ``dtype``: of the layers (default: that of the
    graph's weights, float32 when it has none). See :mod:`spikewave.nir.conventions`.
    """
    graph = _read(graph_or_path)
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    if dt is None and "dt" not in meta:
        raise fail("dt", None, "the time step in seconds: the graph does not record one", "load")
    dt = check_number("dt", float(meta["dt"]) if dt is None else dt, POSITIVE, "load")
    integration = integration if integration is not None else meta.get("integration")
    if integration is None:
        raise fail("integration", None, "'exact' or 'euler' (snnTorch and Norse step their "
                   "neurons by Euler): the graph does not say how it was discretised", "load")
    check_choice("integration", integration, conv.INTEGRATIONS, "load")
    nodes, edges = _inline(graph)
    top_inputs = {n for n, v in graph.nodes.items() if isinstance(v, nir.Input)}
    top_outputs = {n for n, v in graph.nodes.items() if isinstance(v, nir.Output)}
    edges = _bypass(nodes, edges, top_inputs | top_outputs)
    if dtype is None:
        kinds = {np.asarray(v.weight).dtype for v in nodes.values() if hasattr(v, "weight")}
        dtype = torch.float64 if kinds == {np.dtype(np.float64)} else torch.float32
    ctx = _Context(dt, integration, dtype, nodes, {n: [] for n in nodes},
                   {n: [] for n in nodes})
    for a, b in edges:
        ctx.preds[b].append(a)
        ctx.succs[a].append(b)
    used: set[str] = set(top_inputs)
    modules: dict[str, nn.Module] = {}
    inputs: dict[str, list[str]] = {}
    order: list[str] = []
    output_of: dict[str, str] = {n: n for n in top_inputs}  # NIR node -> network node
    for group in _order(_groups(ctx, top_inputs, top_outputs), ctx, top_inputs):
        feed = [output_of[p] for p in ctx.preds[group.entry] if p not in group.members]
        layers = _BUILDERS[group.kind](group, ctx)
        for i, layer in enumerate(layers):  # the layer last, named as the group's output
            last = i == len(layers) - 1
            key = _unique_key(group.exit if last else f"{group.exit}.{type(layer).__name__}",
                              used)
            modules[key], inputs[key] = layer, feed
            order.append(key)
            feed = [key]
        for m in group.members:
            output_of[m] = feed[0]
    outputs = {n: [output_of[p] for p in ctx.preds[n]] for n in sorted(top_outputs)}
    if not top_inputs or not outputs:
        raise NIRError("the graph has no Input or no Output node")
    return NIRNetwork(modules, inputs, order, sorted(top_inputs), outputs)
