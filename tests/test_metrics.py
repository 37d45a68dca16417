"""spikewave.metrics on networks small enough to count by hand: synaptic operations of
layers and of functional calls, a constant input counted once, membrane updates of every
neuron layer, delay layers, the energy model, and the errors."""

import math

import pytest
import torch
from torch import nn

from spikewave import metrics
from spikewave._validation import ParameterError
from spikewave.coding.rate import direct_current
from spikewave.nn import (
    ALIF,
    LIF,
    CurrentLIF,
    DelayedLinear,
    LeakyReadout,
    LinearLIF,
    SpikeLinear,
)
from spikewave.nn import functional as SF


def _products(x, w):
    """Effective products of x[..., in] @ w.T by brute force."""
    return int(((x != 0).float().unsqueeze(-2) * (w != 0).float()).sum())


class _Functional(nn.Module):
    """Two connections written as functional calls."""

    def __init__(self, w1, w2):
        super().__init__()
        self.w1, self.w2 = nn.Parameter(w1), nn.Parameter(w2)

    def forward(self, x):
        return SF.linear(x, self.w1) @ self.w2.T


def test_functional_calls_are_counted():
    gen = torch.Generator().manual_seed(1)
    w1 = torch.randn(5, 6, generator=gen) * (torch.rand(5, 6, generator=gen) < 0.7)
    w2 = torch.randint(-2, 3, (3, 5), generator=gen).float()
    x = (torch.rand(4, 2, 6, generator=gen) < 0.3).float()  # spikes: ACs
    model = _Functional(w1, w2)
    counts = metrics.count(model, x)
    hidden = SF.linear(x, w1)  # real values: MACs
    assert counts.samples == 2
    assert counts.synops_ac == _products(x, w1) / 2
    assert counts.synops_mac == _products(hidden, w2) / 2
    assert counts.synops_dense == 4 * (6 * 5 + 5 * 3)
    assert counts.params == 5 * 6 + 3 * 5
    assert counts.footprint_bytes == 4 * (5 * 6 + 3 * 5)


def test_the_counter_does_not_change_the_outputs():
    gen = torch.Generator().manual_seed(2)
    model = nn.Sequential(LinearLIF(6, 5, tau_steps=4.0), SpikeLinear(5, 3))
    x = (torch.rand(5, 3, 6, generator=gen) < 0.4).float()
    with metrics.Counter(model) as counter:
        inside = counter.run(x)
    assert torch.equal(inside, model(x).detach())


def test_a_constant_input_is_counted_once_per_sample():
    gen = torch.Generator().manual_seed(3)
    layer = LinearLIF(8, 4, tau_steps=5.0)
    image = torch.rand(2, 8, generator=gen) * (torch.rand(2, 8, generator=gen) < 0.5)
    constant = metrics.count(layer, direct_current(image, 10))
    copied = metrics.count(layer, direct_current(image, 10).contiguous())
    assert constant.synops_mac == _products(image, layer.weight) / 2
    assert copied.synops_mac == 10 * constant.synops_mac
    assert constant.membrane_updates == copied.membrane_updates


@pytest.mark.parametrize("layer", [LIF(5.0), CurrentLIF(3.0, 5.0), ALIF(5.0),
                                   LeakyReadout(5.0)], ids=lambda m: type(m).__name__)
def test_membrane_updates(layer):
    # no input: every neuron once at the first step, then the potential stays at rest
    silent = metrics.count(layer, torch.zeros(6, 2, 7))
    assert silent.membrane_updates == 7
    # a constant input below threshold: the potential changes at every step
    charging = metrics.count(layer, torch.full((6, 2, 7), 0.05))
    assert charging.membrane_updates == 6 * 7
    assert charging.state_bytes_per_sample == 4 * 7 * len(layer.step(torch.zeros(1, 7))[1])
    if isinstance(layer, LeakyReadout):  # a membrane, no spikes: no activations
        assert math.isnan(charging.activation_sparsity)
    else:
        assert charging.activation_sparsity == 1.0


def test_delay_layer_counts_one_product_per_synapse_and_step():
    gen = torch.Generator().manual_seed(4)
    delays = torch.randint(0, 4, (3, 5), generator=gen)
    layer = DelayedLinear(5, 3, delays)
    with torch.no_grad():
        layer.weight[0, 0] = 0.0
    x = (torch.rand(7, 2, 5, generator=gen) < 0.5).float()
    counts = metrics.count(layer, x)
    # y[t, o] sums w[o, i] x[t - d[o, i], i]: the inputs seen are the delayed ones
    expected = 0
    for t in range(7):
        for o in range(3):
            for i in range(5):
                s = t - int(delays[o, i])
                if s >= 0 and layer.weight[o, i] != 0:
                    expected += int(x[s, :, i].sum())
    assert counts.synops_ac == expected / 2
    assert counts.synops_dense == 7 * 3 * 5
    assert counts.state_bytes_per_sample == 4 * layer.max_delay * 5


def test_energy_is_the_weighted_sum_of_operations():
    model = SpikeLinear(4, 2)
    counts = metrics.count(model, torch.ones(3, 1, 4))
    assert counts.energy_pj() == pytest.approx(0.9 * counts.synops_ac, rel=1e-12)
    own = metrics.EnergyModel(ac_pj=1.0, mac_pj=10.0)
    assert own.energy_pj(3.0, 2.0) == 23.0
    keys = counts.as_json()
    assert keys["energy_pj_per_sample"] == counts.energy_pj()
    assert {"synops_ac", "synops_mac", "activation_sparsity", "membrane_updates",
            "footprint_bytes", "energy_pj_per_sample"} <= set(keys)
    line = counts.describe()
    assert "24 ACs + 0 MACs" in line and "21.6 pJ" in line and "KiB" in line
    with pytest.raises(ParameterError, match="mac_pj"):
        metrics.EnergyModel(mac_pj=-1.0)


def test_errors_name_what_is_wrong():
    with pytest.raises(ParameterError, match="model"):
        metrics.Counter("not a module")
    counter = metrics.Counter(LIF())
    with pytest.raises(ParameterError, match="run"):
        counter.run(torch.zeros(2, 1, 3))
    with counter, pytest.raises(ParameterError, match="inputs"):
        counter.run(torch.zeros(3))
    with pytest.raises(ParameterError, match="samples"):
        counter.counts()
