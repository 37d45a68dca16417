"""The module that :func:`spikewave.nir.load` returns: a NIR graph's nodes as spikewave
layers, run over whole sequences ``[T, B, ...]`` in the graph's order.

Every node takes the sum of what its incoming edges carry (NIR's rule for a node with
several inputs) and is a layer with spikewave's surface (``forward(x, state=None, *,
return_state=False)``, ``step(x_t, state=None)``). Cycles do not reach this module: the only
ones NIR networks have (a LIF fed back through a Linear) are loaded as one
:class:`~spikewave.nn.RecurrentLIF`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from spikewave._validation import fail
from spikewave.kernels.registry import check_sequence
from spikewave.nn._parts import outputs


def _node_state(state: Any, name: str) -> Any:
    """Node ``name``'s entry of a network state (None: from rest); one clear error for
    anything but the dict that ``return_state`` gave."""
    if state is None:
        return None
    if not isinstance(state, Mapping) or name not in state:
        raise fail("state", type(state).__name__,
                   "None or the dict of node states that return_state gave", "NIRNetwork")
    return state[name]


def _scaled(x: torch.Tensor, scale: torch.Tensor, owner: str) -> torch.Tensor:
    check_sequence(x, owner)
    return x * scale


def _shifted(x: torch.Tensor, offset: torch.Tensor, owner: str) -> torch.Tensor:
    check_sequence(x, owner)
    return x + offset


# recorded by torch.fx as one call each, instead of traced into their branches
for _name in ("outputs", "_node_state", "_scaled", "_shifted"):
    torch.fx.wrap(_name)


class Scale(nn.Module):
    """``y = x * scale`` at every step (NIR's ``Scale`` node, and the input gain of a neuron
    whose ``R`` does not make it one); ``scale`` broadcasts to one step's shape."""

    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale))

    def forward(self, x: torch.Tensor, state: None = None, *, return_state: bool = False):
        return outputs(_scaled(x, self.scale, "Scale"), None, return_state)

    def step(self, x_t: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        return x_t * self.scale, None


class Offset(nn.Module):
    """``y = x + offset`` at every step (the bias of a recurrent Affine node, which NIR adds at
    every step and :class:`~spikewave.nn.RecurrentLIF`'s weights do not have)."""

    def __init__(self, offset: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("offset", torch.as_tensor(offset))

    def forward(self, x: torch.Tensor, state: None = None, *, return_state: bool = False):
        return outputs(_shifted(x, self.offset, "Offset"), None, return_state)

    def step(self, x_t: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        return x_t + self.offset, None


class NIRNetwork(nn.Module):
    """Layers wired as a graph: ``nodes[name]`` gets the sum of the outputs of
    ``inputs[name]`` (node names or graph-input names) and the nodes run in ``order``
    (each one after its inputs).

    ``network(x)`` -- ``x[T, B, ...]`` for a graph with one input (a mapping of input name to
    tensor otherwise) -- returns the graph's output over the sequence, or a dict of them for a
    graph with several outputs. The state is a dict of each node's state; ``step`` advances
    one step; :meth:`trace` gives every node's output."""

    def __init__(self, nodes: Mapping[str, nn.Module], inputs: Mapping[str, Sequence[str]],
                 order: Sequence[str], graph_inputs: Sequence[str],
                 graph_outputs: Mapping[str, Sequence[str]]) -> None:
        super().__init__()
        self.nodes = nn.ModuleDict(dict(nodes))
        self.inputs = {name: tuple(inputs[name]) for name in order}
        self.order = tuple(order)
        self.graph_inputs = tuple(graph_inputs)
        self.graph_outputs = {name: tuple(src) for name, src in graph_outputs.items()}
        known = set(self.graph_inputs)
        for name in self.order:
            missing = [s for s in self.inputs[name] if s not in known]
            if missing or name not in self.nodes:
                raise fail("order", self.order, "every node after its inputs "
                           f"(node {name!r} comes before {missing})", "NIRNetwork")
            known.add(name)
        for name, src in self.graph_outputs.items():
            if not src or any(s not in known for s in src):
                raise fail("graph_outputs", name, "outputs fed by known nodes", "NIRNetwork")

    def _sources(self, x: Any) -> dict[str, torch.Tensor]:
        if isinstance(x, Mapping):
            if set(x) != set(self.graph_inputs):
                raise fail("x", sorted(x), f"a tensor for each input {list(self.graph_inputs)}",
                           "NIRNetwork")
            return dict(x)
        if len(self.graph_inputs) != 1:
            raise fail("x", type(x).__name__, f"a dict with the inputs {list(self.graph_inputs)}",
                       "NIRNetwork")
        return {self.graph_inputs[0]: x}

    def _run(self, x: Any, state: Any, one_step: bool):
        values = self._sources(x)
        new_state: dict[str, Any] = {}
        for name in self.order:
            total = _sum(values[s] for s in self.inputs[name])
            layer = self.nodes[name]
            if one_step:
                values[name], new_state[name] = layer.step(total, _node_state(state, name))
            else:
                values[name], new_state[name] = layer(total, _node_state(state, name),
                                                      return_state=True)
        outs = {name: _sum(values[s] for s in src) for name, src in self.graph_outputs.items()}
        out = next(iter(outs.values())) if len(outs) == 1 else outs
        return out, new_state, values

    def forward(self, x: Any, state: dict[str, Any] | None = None, *,
                return_state: bool = False):
        out, new_state, _ = self._run(x, state, one_step=False)
        return outputs(out, new_state, return_state)

    def step(self, x_t: Any, state: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """One step ``x_t[B, ...]``: ``(output, state)``."""
        out, new_state, _ = self._run(x_t, state, one_step=True)
        return out, new_state

    def trace(self, x: Any) -> dict[str, torch.Tensor]:
        """Every node's output over the sequence ``x`` (and the inputs), by name."""
        return self._run(x, None, one_step=False)[2]

    def extra_repr(self) -> str:
        wires = ", ".join(f"{n} <- {'+'.join(self.inputs[n])}" for n in self.order)
        return f"inputs={list(self.graph_inputs)}, wiring: {wires}"


def _sum(tensors) -> torch.Tensor:
    it = iter(tensors)
    total = next(it)
    for t in it:
        total = total + t
    return total
