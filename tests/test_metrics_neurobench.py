"""spikewave.metrics counts what NeuroBench counts: the same networks built from spikewave
layers and from snnTorch (or plain PyTorch) layers, with the same weights and inputs, give
NeuroBench's synaptic operations (effective ACs, effective MACs, dense), activation
sparsity and membrane updates -- and the same footprint for a network both sides hold as
the same PyTorch module.

NeuroBench 2.x and snnTorch live in the peers' environment (``bash
../shared/peers/install.sh`` makes ``../.peers-venv``); they run in a subprocess with that
Python, given by ``SPIKEWAVE_PEERS_PYTHON`` or found at ``<repo>/../.peers-venv/bin/python``,
and the test is skipped when there is none.

The weights are multiples of 2^-6 and the biases odd multiples of 2^-7, the inputs
integers and the decay 1/2, so every potential is computed exactly in float32 whatever the
order of summation, and never equals the threshold 1 (its finest bit is below 2^-6): the two
libraries' different ties (V >= threshold here, V > threshold in snnTorch) and summation
orders cannot make their spikes differ.
"""

import math
import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

from spikewave import metrics
from spikewave.nn import LIF, LinearLIF, RecurrentLIF, SpikeLinear, TimeDistributed

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "peers" / "neurobench_counts.py"
TAU = 1.0 / math.log(2.0)  # beta = 1/2
T, B = 8, 8


def _weights(gen, out_features, in_features, *extra, budget=3.0, low=-3):
    """Multiples of 2^-6 whose positive part sums to at most ``budget`` per neuron."""
    w = torch.randint(low, 13, (out_features, in_features, *extra), generator=gen).float()
    for row in w.reshape(out_features, -1):
        while row.clamp(min=0).sum() > budget * 64:
            row[row.argmax()] -= 1
    return w / 64


def _bias(gen, n):
    return (2 * torch.randint(-3, 3, (n,), generator=gen) + 1) / 128  # |b| <= 5/128


def _copy(layer, weight, bias=None):
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)


def dense_pair(gen):
    # the recurrent layer (subtract reset) gets currents below 0.9 + 0.5 + 5/128 < 1.5, so
    # its potential stays below 2 (see tests/peers/neurobench_counts.py)
    w = {"fc1.weight": _weights(gen, 16, 20), "fc1.bias": _bias(gen, 16),
         "fc2.weight": _weights(gen, 12, 16, budget=0.9, low=0), "fc2.bias": _bias(gen, 12),
         "rec.weight": _weights(gen, 12, 12, budget=0.5).fill_diagonal_(0.0),
         "fc3.weight": _weights(gen, 8, 12, low=0), "fc3.bias": _bias(gen, 8)}
    ours = nn.Sequential(LinearLIF(20, 16, tau_steps=TAU, reset="zero"), SpikeLinear(16, 12),
                         RecurrentLIF(12, tau_steps=TAU), nn.Linear(12, 8),
                         LIF(TAU, reset="zero"))
    _copy(ours[0], w["fc1.weight"], w["fc1.bias"])
    _copy(ours[1], w["fc2.weight"], w["fc2.bias"])
    with torch.no_grad():
        ours[2].w_rec.copy_(w["rec.weight"])
    _copy(ours[3], w["fc3.weight"], w["fc3.bias"])
    x = (torch.rand(T, B, 20, generator=gen) < 0.6).float()  # spikes
    return ours, {"weights": w, "x": x}


def conv_pair(gen):
    w = {"conv.weight": _weights(gen, 4, 1, 3, 3), "conv.bias": _bias(gen, 4),
         "fc1.weight": _weights(gen, 10, 64), "fc1.bias": _bias(gen, 10),
         "fc2.weight": _weights(gen, 6, 10), "fc2.bias": _bias(gen, 6)}
    conv = nn.Conv2d(1, 4, 3, padding=1)
    _copy(conv, w["conv.weight"], w["conv.bias"])
    ours = nn.Sequential(TimeDistributed(conv), LIF(TAU, reset="zero"),
                         TimeDistributed(nn.Sequential(nn.MaxPool2d(2), nn.Flatten())),
                         LinearLIF(64, 10, tau_steps=TAU, reset="zero"), SpikeLinear(10, 6),
                         LIF(TAU, reset="zero"))
    _copy(ours[3], w["fc1.weight"], w["fc1.bias"])
    _copy(ours[4], w["fc2.weight"], w["fc2.bias"])
    # integer intensities 0..3, half of them zero: a dense input (MACs) with zeros to skip
    x = (torch.randint(0, 4, (T, B, 1, 8, 8), generator=gen)
         * (torch.rand(T, B, 1, 8, 8, generator=gen) < 0.5)).float()
    return ours, {"weights": w, "x": x}


def ann_pair(gen):
    w = {"conv.weight": _weights(gen, 4, 1, 3, 3), "conv.bias": _bias(gen, 4),
         "fc1.weight": _weights(gen, 16, 64), "fc1.bias": _bias(gen, 16),
         "fc2.weight": _weights(gen, 12, 16), "fc2.bias": _bias(gen, 12),
         "fc3.weight": _weights(gen, 6, 12), "fc3.bias": _bias(gen, 6)}
    layers = [nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
              nn.Linear(64, 16), nn.Sigmoid(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 6)]
    for i, name in ((0, "conv"), (4, "fc1"), (6, "fc2"), (8, "fc3")):
        _copy(layers[i], w[f"{name}.weight"], w[f"{name}.bias"])
    x = (torch.randint(0, 4, (B, 1, 8, 8), generator=gen)
         * (torch.rand(B, 1, 8, 8, generator=gen) < 0.5)).float()
    return nn.Sequential(*layers), {"weights": w, "x": x}


@pytest.fixture(scope="module")
def neurobench(tmp_path_factory, peers_python):
    python = peers_python("snntorch", "neurobench")
    if python is None:
        pytest.skip("snnTorch / NeuroBench not installed (../shared/peers/install.sh)")
    gen = torch.Generator().manual_seed(0)
    pairs = {"dense": dense_pair(gen), "conv": conv_pair(gen), "ann": ann_pair(gen)}
    specs = {name: {**spec, "beta": 0.5, "threshold": 1.0}
             for name, (_, spec) in pairs.items()}
    folder = tmp_path_factory.mktemp("neurobench")
    torch.save(specs, folder / "in.pt")
    proc = subprocess.run([python, str(SCRIPT), str(folder / "in.pt"), str(folder / "out.pt")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pairs, torch.load(folder / "out.pt")


def _ours(model, x, batch_dim):
    """Our counts over the same two batches of 4 that NeuroBench's loader makes."""
    with metrics.Counter(model, batch_dim=batch_dim) as counter:
        outputs = [counter.run(part) for part in x.split(4, dim=batch_dim)]
    return counter.counts(), torch.cat(outputs, dim=batch_dim)


@pytest.mark.parametrize("name", ["dense", "conv", "ann"])
def test_counts_equal_neurobench(neurobench, name):
    pairs, peer = neurobench
    model, spec = pairs[name]
    ours, outputs = _ours(model, spec["x"], batch_dim=0 if name == "ann" else 1)
    nb = peer[name]["results"]
    if name != "ann":  # the two networks are the same network
        assert torch.equal(outputs, peer[name]["spikes"].to(outputs.dtype))
        assert 0 < float(outputs.mean()) < 0.95
        assert 0.05 < ours.activation_sparsity < 0.95  # spikes, and silent neurons, to count
    synops = nb["SynapticOperations"]
    assert ours.synops_ac == pytest.approx(synops["Effective_ACs"], rel=1e-12, abs=0)
    assert ours.synops_mac == pytest.approx(synops["Effective_MACs"], rel=1e-12, abs=0)
    assert ours.synops_dense == pytest.approx(synops["Dense"], rel=1e-12, abs=0)
    assert ours.activation_sparsity == pytest.approx(nb["ActivationSparsity"], rel=1e-12)
    assert ours.membrane_updates == pytest.approx(nb["MembraneUpdates"], rel=1e-12, abs=0)
    if name == "ann":  # the same module on both sides: the same footprint
        assert ours.footprint_bytes == nb["Footprint"]
        assert ours.synops_ac == 0 and ours.membrane_updates == 0
    else:
        assert ours.synops_ac > 0 and ours.membrane_updates > 0
    if name == "conv":  # the dense first layer's products are MACs, the rest ACs
        conv = next(layer for layer in ours.layers if layer.kind == "Conv2d")
        assert 0 < ours.synops_mac == conv.synops_mac < conv.synops_dense
