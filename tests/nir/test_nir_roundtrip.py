"""spikewave -> NIR -> spikewave gives the same spikes, bit for bit, over 200 steps of random
input: for every layer export writes, a conv network, a recurrent network and a delay
network; and through a .nir file."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir", reason="the nir extra (pip install spikewave[nir])")

from spikewave import nir as swnir  # noqa: E402
from spikewave.nn import (  # noqa: E402
    LIF,
    CurrentLIF,
    DelayedLinear,
    LeakyReadout,
    LearnableDelayLinear,
    LinearLIF,
    RecurrentLIF,
    SpikeLinear,
    TimeDistributed,
)
from spikewave.train.models import conv_snn, delay_snn, dense_snn, recurrent_snn  # noqa: E402

T = 200
DT = 1e-3


def _spread_decays(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """Give every learnable decay its own value per neuron (so that per-neuron time
    constants are exported), between about 0.6 and 0.97."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("beta_logit"):
                p.copy_(torch.empty(p.shape).uniform_(0.5, 3.5, generator=gen))
    return module


def _round_trip(model: nn.Module, x: torch.Tensor, tmp_path=None, **kwargs):
    graph = swnir.export(model, dt=DT, **kwargs)
    if tmp_path is not None:
        swnir.save(graph, tmp_path / "model.nir")
        return swnir.load(tmp_path / "model.nir")
    return swnir.load(graph)


def _input(shape, gen, scale=0.8):
    return torch.rand(T, 3, *shape, generator=gen) * scale


def _noise(shape, gen, std=0.3):
    """Zero-mean input (a synaptic current that integrates it stays bounded)."""
    return torch.randn(T, 3, *shape, generator=gen) * std


def _layer_cases():
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    yield "LIF", LIF(8.0, threshold=0.7, reset="zero"), (10,)
    yield "LIF per neuron", _spread_decays(LIF(threshold=0.9, reset="zero", learn_beta=True,
                                               n_neurons=10), gen), (10,)
    yield "CurrentLIF", _spread_decays(CurrentLIF(threshold=0.6, reset="zero", learn_beta=True,
                                                  learn_alpha=True, n_neurons=10), gen), (10,)
    yield "LeakyReadout", _spread_decays(LeakyReadout(learn_beta=True, n_neurons=10), gen), (10,)
    yield "LinearLIF", _spread_decays(LinearLIF(12, 8, reset="zero", threshold=0.5,
                                                learn_beta=True), gen), (12,)
    yield "SpikeLinear", SpikeLinear(12, 5), (12,)
    yield "SpikeLinear no bias", SpikeLinear(12, 5, bias=False), (12,)
    yield "RecurrentLIF", _spread_decays(RecurrentLIF(9, rec_std=1.0, seed=0, reset="zero",
                                                      threshold=0.4, learn_beta=True), gen), (9,)
    delays = torch.randint(0, 6, (4, 6), generator=gen)
    yield "DelayedLinear", DelayedLinear(6, 4, delays, bias=True), (6,)
    yield "DelayedLinear no bias", DelayedLinear(6, 4, delays), (6,)
    yield "Conv1d", TimeDistributed(nn.Conv1d(2, 3, 3, padding=1)), (2, 16)
    yield "Conv2d", TimeDistributed(nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False)), (1, 9, 9)
    yield "AvgPool2d", TimeDistributed(nn.AvgPool2d(2)), (2, 6, 6)
    yield "SumPool2d", TimeDistributed(nn.AvgPool2d(3, stride=2, divisor_override=1)), (2, 7, 7)
    yield "Flatten", TimeDistributed(nn.Flatten()), (2, 3, 3)


@pytest.mark.parametrize("case", list(_layer_cases()), ids=lambda c: c[0])
def test_every_layer_gives_the_same_outputs(case):
    name, layer, shape = case
    gen = torch.Generator().manual_seed(2)
    x = _noise(shape, gen) if name == "CurrentLIF" else _input(shape, gen)
    net = _round_trip(layer, x, input_shape=shape)
    with torch.no_grad():
        want, got = layer(x), net(x)
    assert torch.equal(got, want)
    if isinstance(layer, LIF | CurrentLIF | LinearLIF | RecurrentLIF):  # spikes, and some
        assert 0.02 < want.mean() < 0.6


def test_integrate_and_fire_round_trip():
    """NIR's IF (no leak) loads as a LIF of decay 1 and exports as an IF again."""
    n = 5
    graph = nir.NIRGraph.from_list(nir.IF(r=np.full(n, 1 / DT), v_threshold=np.full(n, 1.5),
                                          v_reset=np.zeros(n)))
    net = swnir.load(graph, dt=DT, integration="exact")
    x = _input((n,), torch.Generator().manual_seed(3), scale=0.5)
    v, want = torch.zeros(3, n), []
    for x_t in x:  # v += x; a spike above 1.5 (NIR's strict threshold), then v = 0
        v = v + x_t
        s = (v > 1.5).float()
        want.append(s)
        v = v * (1 - s)
    want = torch.stack(want)
    assert torch.equal(net(x), want) and want.sum() > 50
    (layer,) = net.nodes.values()
    assert isinstance(layer, LIF) and torch.all(layer.decay.beta() == 1)
    again = swnir.export(layer, dt=DT, input_shape=(n,))
    node = again.nodes["lif"]
    assert isinstance(node, nir.IF) and np.allclose(node.r, 1 / DT)
    assert torch.equal(swnir.load(again)(x), want)


def test_float64_network():
    torch.manual_seed(9)
    model = nn.Sequential(LinearLIF(6, 5, reset="zero", threshold=0.3), SpikeLinear(5, 4),
                          CurrentLIF(reset="zero", threshold=0.2)).double()
    x = _input((6,), torch.Generator().manual_seed(9)).double()
    graph = swnir.export(model, dt=DT)
    assert graph.nodes["0_linear"].weight.dtype == np.float64
    net = swnir.load(graph)
    with torch.no_grad():
        want = model(x)
        assert torch.equal(net(x), want) and want.sum() > 100
    assert all(p.dtype == torch.float64 for p in net.parameters())


def test_conv_network():
    gen = torch.Generator().manual_seed(4)
    torch.manual_seed(4)
    model = nn.Sequential(
        TimeDistributed(nn.Conv2d(1, 4, 3, padding=1)),
        _spread_decays(LIF(threshold=0.5, reset="zero", learn_beta=True), gen),
        TimeDistributed(nn.AvgPool2d(2, divisor_override=1)),
        TimeDistributed(nn.Flatten()),
        _spread_decays(LinearLIF(64, 10, threshold=0.5, reset="zero", learn_beta=True), gen),
        SpikeLinear(10, 3),
        LeakyReadout(),
    )
    x = (torch.rand(T, 2, 1, 8, 8, generator=gen) < 0.3).float()
    net = _round_trip(model, x, input_shape=(1, 8, 8))
    with torch.no_grad():
        trace, want = net.trace(x), model(x)
        hidden = model[1](model[0](x))
    assert torch.equal(net(x), want)
    assert torch.equal(trace["n1"], hidden) and 0.02 < hidden.mean() < 0.6
    kinds = [type(m).__name__ for m in net.nodes.values()]
    assert kinds == ["TimeDistributed", "LIF", "TimeDistributed", "TimeDistributed",
                     "LinearLIF", "SpikeLinear", "LeakyReadout"]


def test_recurrent_network_and_a_nir_file(tmp_path):
    torch.manual_seed(5)
    model = _spread_decays(recurrent_snn(20, 16, 4, seed=5, reset="zero"),
                           torch.Generator().manual_seed(5))
    x = _input((20,), torch.Generator().manual_seed(5), scale=0.3)
    net = _round_trip(model, x, tmp_path)
    graph = nir.read(tmp_path / "model.nir")
    assert ("layers_1_rec", "layers_1_lif") in graph.edges  # the recurrence is a cycle
    assert float(graph.metadata["dt"]) == DT and graph.metadata["integration"] == "exact"
    with torch.no_grad():
        want, spikes = model(x)
        got = net(x)
    assert torch.equal(got, want) and spikes > 20
    assert isinstance(net.nodes["layers_1_lif"], RecurrentLIF)


def test_delay_network_with_rounded_delays():
    torch.manual_seed(6)
    model = delay_snn(12, 10, 3, max_delay=6, seed=6, reset="zero")
    for layer in model.layers:
        if isinstance(layer, LearnableDelayLinear):
            with torch.no_grad():
                layer.weight.mul_(4.0)
    x = _input((12,), torch.Generator().manual_seed(6))
    with pytest.raises(swnir.NIRError, match="round_delays=True"):
        swnir.export(model, dt=DT)
    net = _round_trip(model, x, round_delays=True)
    rounded = copy.deepcopy(model)
    for i, layer in enumerate(rounded.layers):
        if isinstance(layer, LearnableDelayLinear):
            rounded.layers[i] = layer.rounded()
    with torch.no_grad():
        want, spikes = rounded(x)
    assert torch.equal(net(x), want) and spikes > 20
    assert sum(isinstance(m, DelayedLinear) for m in net.nodes.values()) == 2


def test_mnist_models_export_and_load():
    """The MNIST dense, conv (average pooling, batch norm folded) and recurrent models of
    ``spikewave train`` with the zero reset; a few steps of MNIST-sized input."""
    gen = torch.Generator().manual_seed(7)
    torch.manual_seed(7)
    x = torch.rand(8, 2, 784, generator=gen)
    for model in (dense_snn(784, (512, 512), 10, reset="zero"),
                  recurrent_snn(784, 256, 10, reset="zero")):
        net = swnir.load(swnir.export(model, dt=DT))
        with torch.no_grad():
            assert torch.equal(net(x), model(x)[0])
    conv = conv_snn(1, 28, 28, 10, reset="zero", pool="avg").eval()
    with pytest.raises(swnir.NIRError, match="fold_batchnorm=True"):
        swnir.export(conv, dt=DT, input_shape=(1, 28, 28))
    net = swnir.load(swnir.export(conv, dt=DT, input_shape=(1, 28, 28), fold_batchnorm=True))
    images = x.reshape(8, 2, 1, 28, 28) * 4
    with torch.no_grad():
        want, got = conv(images)[0], net(images)
        spikes_want = conv.layers[1](conv.layers[0](images))
        spikes_got = net.trace(images)["layers_1"]
    # batch norm folded into the convolution: the same map, rounded differently
    assert (spikes_want == spikes_got).float().mean() > 0.999 and spikes_want.sum() > 100
    torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)


def test_weights_resistance_folds_the_gain_into_the_weights():
    torch.manual_seed(8)
    model = nn.Sequential(LinearLIF(6, 5, reset="zero", threshold=0.3), SpikeLinear(5, 2),
                          LeakyReadout())
    graph = swnir.export(model, dt=DT, resistance="weights")
    lif, lin = graph.nodes["0_lif"], graph.nodes["0_linear"]
    beta = np.exp(-DT / lif.tau)
    assert np.all(lif.r == 1)
    np.testing.assert_allclose(lin.weight, model[0].weight.detach().numpy() / (1 - beta[:, None]),
                               rtol=1e-6)
    x = _input((6,), torch.Generator().manual_seed(8))
    net = swnir.load(graph)  # the gain comes back as a Scale before each neuron layer
    with torch.no_grad():
        torch.testing.assert_close(net(x), model(x), rtol=1e-4, atol=1e-4)
