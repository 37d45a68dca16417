"""The energy reproduction: the ANN twins mirror the SNNs, and the quick run reports the
counts of all four networks."""

import json

import pytest
import torch
from torch import nn

from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.energy import ann_twin, energy_nj
from spikewave.metrics import count
from spikewave.train.models import conv_snn, dense_snn


def _shapes(model, kinds):
    return [tuple(m.weight.shape) for m in model.modules() if isinstance(m, kinds)]


@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_the_ann_twin_has_the_snn_layers(arch):
    snn = dense_snn(64, (128,), 10) if arch == "dense" else conv_snn(1, 8, 8, 10)
    ann = ann_twin(snn, seed=0)
    from spikewave.nn import LinearLIF, SpikeLinear

    assert _shapes(ann, nn.Linear | nn.Conv2d) == _shapes(
        snn, nn.Linear | nn.Conv2d | LinearLIF | SpikeLinear)
    relus = sum(isinstance(m, nn.ReLU) for m in ann.modules())
    assert relus == {"dense": 1, "conv": 3}[arch]
    x = torch.rand(1, 5, 64) if arch == "dense" else torch.rand(1, 5, 1, 8, 8)
    logits, spikes = ann(x)
    assert logits.shape == (1, 5, 10) and float(spikes) == 0.0
    assert torch.equal(ann_twin(snn, seed=0)(x)[0], logits)  # seeded
    counts = count(ann, x)
    assert counts.synops_ac == 0 and counts.synops_mac > 0 and counts.membrane_updates == 0
    assert energy_nj(counts) == pytest.approx(4.6e-3 * counts.synops_mac, rel=1e-12)


@pytest.mark.slow
def test_energy_quick(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    result = REPRODUCTIONS["energy"].execute(ctx)
    js = json.loads(json.dumps(result.to_json()))
    assert js["status"] == "pass" and js["config"]["dataset"] == "digits"
    models = js["models"]
    assert set(models) == {"snn_dense", "ann_dense", "snn_conv", "ann_conv"}
    for arch in ("dense", "conv"):
        snn, ann = models[f"snn_{arch}"], models[f"ann_{arch}"]
        assert snn["synops_ac"] > 0 and snn["synops_mac"] > 0 and snn["membrane_updates"] > 0
        assert ann["synops_ac"] == 0 and ann["synops_mac"] > 0
        assert js[f"{arch}_energy_ratio"] == pytest.approx(
            snn["energy_nj"] / ann["energy_nj"], rel=1e-12)
        assert snn["energy_with_neurons_nj"] > snn["energy_nj"]
        assert js[f"snn_{arch}_test_accuracy"] > 0.3 and js[f"ann_{arch}_test_accuracy"] > 0.3
    assert (tmp_path / "energy.png").exists()
