"""The module load returns, and the layers it adds, pass the layer conformance checks."""

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir", reason="the nir extra (pip install spikewave[nir])")

from spikewave import ParameterError  # noqa: E402
from spikewave import nir as swnir  # noqa: E402
from spikewave.nir.network import Offset, Scale  # noqa: E402
from spikewave.nn import LeakyReadout, LinearLIF, RecurrentLIF, SpikeLinear  # noqa: E402
from spikewave.testing import check_layer  # noqa: E402


@pytest.mark.slow  # torch.compile in check_layer: tens of seconds
@pytest.mark.parametrize("make", [
    lambda: Scale(torch.tensor([1.5, 2.0, 0.5, 1.0, 1.0, 1.0])),
    lambda: Offset(torch.full((6,), 0.1)),
    lambda: swnir.load(swnir.export(nn.Sequential(
        LinearLIF(6, 5, reset="zero", threshold=0.3), SpikeLinear(5, 5),
        RecurrentLIF(5, reset="zero", seed=0, threshold=0.3), SpikeLinear(5, 2),
        LeakyReadout()), dt=1e-3)),
], ids=["Scale", "Offset", "NIRNetwork"])
def test_conformance(make):
    torch.manual_seed(0)
    layer = make()
    ran = check_layer(layer, torch.rand(12, 3, 6), compile_backends=("eager",))
    assert "fx" in ran and "step" in ran


def test_graph_with_two_inputs_and_two_outputs():
    """Each node sums its incoming edges; several inputs come as a dict, several outputs
    go out as one."""
    n = 3
    eye = np.eye(n, dtype=np.float32)
    graph = nir.NIRGraph(nodes={
        "a": nir.Input(np.array([n])), "b": nir.Input(np.array([n])),
        "w": nir.Linear(2 * eye), "sum": nir.Output(np.array([n])),
        "copy": nir.Output(np.array([n]))},
        edges=[("a", "w"), ("b", "w"), ("w", "sum"), ("b", "sum"), ("a", "copy")])
    net = swnir.load(graph, dt=1e-3, integration="exact")
    a, b = torch.rand(4, 2, n), torch.rand(4, 2, n)
    out = net({"a": a, "b": b})
    assert torch.allclose(out["sum"], 2 * (a + b) + b) and torch.equal(out["copy"], a)
    with pytest.raises(ParameterError, match="a dict with the inputs"):
        net(a)
    with pytest.raises(ParameterError, match="'state'"):
        net({"a": a, "b": b}, state={"nothing": None})
