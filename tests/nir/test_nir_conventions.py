"""The graphs export writes mean, under NIR's own definitions, what the spikewave layers
compute: an independent float64 simulation of NIR's ODEs (written here from the nir
package's docstrings, not from spikewave) gives the same spikes. And what export and load
refuse, with messages that name the layer or node."""

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir", reason="the nir extra (pip install spikewave[nir])")

from spikewave import ParameterError  # noqa: E402
from spikewave import nir as swnir  # noqa: E402
from spikewave.nir import conventions as conv  # noqa: E402
from spikewave.nn import (  # noqa: E402
    ALIF,
    LIF,
    CurrentLIF,
    LeakyReadout,
    LearnableDelayLinear,
    LinearLIF,
    SpikeLinear,
    TimeDistributed,
)

DT = 5e-4


def _nir_reference(graph: nir.NIRGraph, x: np.ndarray, dt: float, integration: str):
    """NIR's neuron ODEs stepped over ``dt`` with the input held, for a chain of one neuron
    node: exact (the linear ODE's solution over a step) or one forward Euler step; the
    synaptic current first, then the membrane; a spike when v > v_threshold, then v =
    v_reset."""
    (node,) = [n for n in graph.nodes.values() if not isinstance(n, nir.Input | nir.Output)]

    def step(v, tau, drive):  # tau dv/dt = drive - v over dt
        if integration == "exact":
            a = np.exp(-dt / tau)
            return a * v + (1 - a) * drive
        return v + dt / tau * (drive - v)

    v = np.zeros(x.shape[1:])
    i = np.zeros(x.shape[1:])
    out = []
    for x_t in x:
        if isinstance(node, nir.IF):
            v = v + dt * node.r * x_t
        elif isinstance(node, nir.CubaLIF):
            i = step(i, node.tau_syn, node.w_in * x_t)
            v = step(v, node.tau_mem, node.v_leak + node.r * i)
        else:
            v = step(v, node.tau, node.v_leak + node.r * x_t)
        if isinstance(node, nir.LI):
            out.append(v.copy())
            continue
        z = v > node.v_threshold
        v = np.where(z, node.v_reset, v)
        out.append(z.astype(np.float64))
    return np.stack(out)


def _layers():
    gen = torch.Generator().manual_seed(0)
    lif = LIF(threshold=0.8, reset="zero", learn_beta=True, n_neurons=6)
    cur = CurrentLIF(threshold=0.5, reset="zero", learn_beta=True, learn_alpha=True, n_neurons=6)
    leaky = LeakyReadout(learn_beta=True, n_neurons=6)
    with torch.no_grad():
        for layer in (lif, cur, leaky):
            for p in layer.parameters():
                p.copy_(torch.empty(6).uniform_(0.0, 3.0, generator=gen))
    flat = LIF(threshold=1.0, reset="zero")
    with torch.no_grad():
        flat.decay.beta_value = torch.tensor(1.0)  # an IF neuron
    return [("LIF", lif), ("CurrentLIF", cur), ("LeakyReadout", leaky), ("IF", flat)]


@pytest.mark.parametrize("integration", conv.INTEGRATIONS)
@pytest.mark.parametrize("case", _layers(), ids=lambda c: c[0])
def test_exported_graph_means_the_same_under_nir_semantics(case, integration):
    name, layer = case
    layer = layer.double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(200, 4, 6, generator=gen, dtype=torch.float64) * 0.4 + 0.1
    graph = swnir.export(layer, dt=DT, input_shape=(6,), integration=integration)
    with torch.no_grad():
        ours = layer(x).numpy()
    ref = _nir_reference(graph, x.numpy(), DT, integration)
    if name == "LeakyReadout":
        np.testing.assert_allclose(ref, ours, rtol=1e-9, atol=1e-12)
    else:
        assert np.array_equal(ref, ours) and 0.02 < ours.mean() < 0.6


def test_time_constants_and_gains_follow_the_stated_formulas():
    layer = LIF(tau_steps=10.0, threshold=1.0, reset="zero")
    beta = float(layer.decay.beta())
    for integration, tau in (("exact", -DT / np.log(beta)), ("euler", DT / (1 - beta))):
        node = swnir.export(layer, dt=DT, input_shape=(3,), integration=integration).nodes["lif"]
        np.testing.assert_allclose(node.tau, tau, rtol=1e-12)
        np.testing.assert_allclose(node.r, 1 / (1 - beta), rtol=1e-12)
        assert np.all(node.v_leak == 0) and np.all(node.v_reset == 0)


def test_threshold_tie_fires_on_both_sides():
    """spikewave fires at V >= threshold; the graph's v_threshold is the float32 just below,
    so NIR's v > v_threshold fires at the same potentials, the tie included."""
    layer = LIF(tau_steps=4.0, threshold=0.75, reset="zero")
    node = swnir.export(layer, dt=DT, input_shape=(1,)).nodes["lif"]
    below = np.nextafter(np.float32(0.75), np.float32(0))
    assert np.all(node.v_threshold == below)
    x = torch.tensor([[[0.75]], [[0.5]], [[0.25]]])  # reaches 0.75 exactly at the first step
    assert layer(x)[0, 0, 0] == 1
    assert (np.float32(0.75) > node.v_threshold).all()
    net = swnir.load(swnir.export(layer, dt=DT, input_shape=(1,)))
    assert torch.equal(net(x), layer(x))
    assert conv.threshold_from_nir(conv.threshold_to_nir(0.3, np.float32), np.float32) == \
        float(np.float32(0.3))


@pytest.mark.parametrize("model,match", [
    (LIF(), "resets by subtracting the threshold"),
    (ALIF(reset="zero"), "adaptive threshold"),
    (nn.Sequential(TimeDistributed(nn.MaxPool2d(2))), "MaxPool2d"),
    (nn.Sequential(TimeDistributed(nn.Conv2d(1, 2, 3)),
                   TimeDistributed(nn.BatchNorm2d(2).eval())), "fold_batchnorm=True"),
    (LearnableDelayLinear(3, 2, 4), "round_delays=True"),
    (nn.Sequential(nn.ReLU()), "ReLU"),
    (nn.Sequential(TimeDistributed(nn.AvgPool2d(2, ceil_mode=True))), "ceil_mode"),
])
def test_export_refuses_what_nir_cannot_express(model, match):
    with pytest.raises(swnir.NIRError, match=match) as err:
        swnir.export(model, dt=DT, input_shape=(1, 4, 4))
    assert "'" in str(err.value)  # names the layer


def test_export_refuses_bad_arguments():
    with pytest.raises(ParameterError, match="'dt'"):
        swnir.export(LIF(reset="zero"), dt=0.0, input_shape=(3,))
    with pytest.raises(ParameterError, match="input_shape"):
        swnir.export(LIF(reset="zero"), dt=DT)
    with pytest.raises(ParameterError, match="integration"):
        swnir.export(LIF(reset="zero"), dt=DT, input_shape=(3,), integration="rk4")
    with pytest.raises(swnir.NIRError, match="resistance='neuron'"):  # no weights before it
        swnir.export(LIF(reset="zero"), dt=DT, input_shape=(3,), resistance="weights")


def _lif_graph(**changes):
    n = 3
    params = {"tau": np.full(n, 0.01), "r": np.full(n, 1.0), "v_leak": np.zeros(n),
              "v_threshold": np.ones(n), "v_reset": np.zeros(n)}
    params.update(changes)
    return nir.NIRGraph.from_list(nir.Affine(np.eye(n, dtype=np.float32),
                                             np.zeros(n, np.float32)), nir.LIF(**params))


@pytest.mark.parametrize("graph,match", [
    (_lif_graph(v_reset=np.full(3, -0.5)), "v_reset"),
    (_lif_graph(v_leak=np.full(3, 0.1)), "v_leak"),
    (_lif_graph(v_threshold=np.array([1.0, 2.0, 1.0])), "thresholds"),
    (nir.NIRGraph.from_list(nir.I(r=np.ones(3))), "I node"),
    (nir.NIRGraph.from_list(nir.Delay(delay=np.full(3, 0.01))), "Delay node"),
])
def test_load_refuses_what_spikewave_cannot_run_exactly(graph, match):
    with pytest.raises(swnir.NIRError, match=match):
        swnir.load(graph, dt=1e-3, integration="euler")


def test_load_needs_the_time_step_of_a_foreign_graph(tmp_path):
    graph = _lif_graph()
    with pytest.raises(ParameterError, match="'dt'"):
        swnir.load(graph)
    with pytest.raises(ParameterError, match="integration"):
        swnir.load(graph, dt=1e-3)
    net = swnir.load(graph, dt=1e-3, integration="euler")  # r = 1: a gain 1 - beta = 0.1
    assert [type(m).__name__ for m in net.nodes.values()] == ["SpikeLinear", "Scale", "LIF"]
    (tmp_path / "bad.nir").write_bytes(b"not hdf5")
    with pytest.raises(swnir.NIRError, match="not a NIR file"):
        swnir.load(tmp_path / "bad.nir", dt=1e-3, integration="exact")


def test_a_foreign_graph_is_written_again_for_another_reader():
    """An Euler graph (as snnTorch writes them) loads, and exports for an exact reader with
    other time constants and the same spikes."""
    gen = np.random.default_rng(0)
    n = 4
    beta = gen.uniform(0.7, 0.95, n)
    tau = 1e-4 / (1 - beta)
    graph = nir.NIRGraph.from_list(
        nir.Affine(gen.normal(0, 0.6, (n, 6)).astype(np.float32), np.zeros(n, np.float32)),
        nir.LIF(tau=tau, r=tau / 1e-4, v_leak=np.zeros(n), v_threshold=np.full(n, 0.5),
                v_reset=np.zeros(n)))
    net = swnir.load(graph, dt=1e-4, integration="euler")
    again = swnir.export(net, dt=1e-4, integration="exact")
    lif = [v for v in again.nodes.values() if isinstance(v, nir.LIF)][0]
    np.testing.assert_allclose(lif.tau, -1e-4 / np.log(beta.astype(np.float32)), rtol=1e-6)
    x = torch.rand(200, 3, 6, generator=torch.Generator().manual_seed(0))
    want = net(x)
    assert torch.equal(swnir.load(again)(x), want) and 0.02 < want.mean() < 0.6
    branched = nir.NIRGraph(nodes={"a": nir.Input(np.array([2])), "b": nir.Output(np.array([2])),
                                   "c": nir.Output(np.array([2]))}, edges=[("a", "b"), ("a", "c")])
    with pytest.raises(swnir.NIRError, match="chain"):
        swnir.export(swnir.load(branched, dt=1e-3, integration="exact"), dt=1e-3,
                     input_shape=(2,))


def test_non_integer_delays_are_refused():
    n = 2
    graph = nir.NIRGraph.from_list(nir.Linear(np.eye(n, dtype=np.float32)),
                                   nir.Delay(delay=np.array([0.0015, 0.002])),
                                   nir.Linear(np.ones((1, n), np.float32)))
    with pytest.raises(swnir.NIRError, match="whole steps"):
        swnir.load(graph, dt=1e-3, integration="exact")
    net = swnir.load(graph, dt=5e-4, integration="exact")  # 3 and 4 steps
    x = torch.zeros(8, 1, n)
    x[0, 0, 0], x[0, 0, 1] = 1.0, 2.0
    y = net(x)[:, 0, 0]
    assert y.tolist() == [0, 0, 0, 1, 2, 0, 0, 0]


def test_linear_lif_and_spike_linear_layers_come_back_as_they_were():
    torch.manual_seed(2)
    model = nn.Sequential(LinearLIF(4, 3, reset="zero"), SpikeLinear(3, 3),
                          LIF(reset="zero"))
    net = swnir.load(swnir.export(model, dt=DT))
    assert [type(m).__name__ for m in net.nodes.values()] == ["LinearLIF", "SpikeLinear", "LIF"]
