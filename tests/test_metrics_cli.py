"""``spikewave train --json`` reports the trained model's counts on the test set."""

import json

import pytest
import torch

from spikewave.cli import main
from spikewave.train.recipes import build


def test_train_json_has_the_counts(tmp_path, capsys):
    argv = ["train", "--dataset", "digits", "--model", "dense", "--epochs", "1",
            "--time-steps", "4", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the first layer multiplies each image's non-zero pixels once (a constant input) by
    # its 128 hidden neurons: MACs; everything after it adds spikes: ACs
    x_test = torch.as_tensor(build("digits", "dense", 4, 0, None).data.x_test)
    pixels = (x_test.reshape(len(x_test), -1) != 0).sum(1).double().mean().item()
    assert js["synops_mac"] == pytest.approx(128 * pixels, rel=1e-9)
    assert js["synops_ac"] > 0
    assert js["energy_pj_per_sample"] == pytest.approx(
        0.9 * js["synops_ac"] + 4.6 * js["synops_mac"], rel=1e-12)
    assert 0.0 < js["activation_sparsity"] < 1.0
    assert js["membrane_updates"] > 0
    assert js["footprint_bytes"] >= 4 * js["params"]
    assert js["metric_samples"] == len(x_test)

