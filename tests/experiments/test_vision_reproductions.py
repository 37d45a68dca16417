"""The deep STDP vision reproduction (quick version on the embedded digits)."""

import numpy as np
import pytest

from spikewave._validation import ParameterError
from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.kheradpisheh2018 import parse_labels
from spikewave.train.readout import LinearReadout, few_label_subset


@pytest.mark.slow
def test_stdp_features_beat_the_untrained_network_under_the_same_readout(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    result = REPRODUCTIONS["kheradpisheh2018"].execute(ctx, labels_per_class="10,all")
    js = result.to_json()
    for key in ("test_accuracy", "n_train", "n_test", "n_features", "stdp_train_s",
                "extract_images_per_s", "labels_per_class"):
        assert key in js, key
    assert js["n_train"] == 1347 and js["n_test"] == 450 and js["n_features"] == 900
    assert set(js["labels_per_class"]) == {"10", "all"}
    assert js["labels_per_class"]["all"] == js["test_accuracy"]
    # learning matters: well above the same architecture with its initial weights
    assert js["test_accuracy"] > js["untrained_test_accuracy"] + 0.1
    assert js["test_accuracy"] > 0.95  # measured 0.987 (quick: 3000 images per layer)
    assert result.passed
    assert len(result.figures) == 7
    for fig in result.figures:
        assert fig.exists() and fig.stat().st_size > 5_000, fig


def test_parse_labels():
    assert parse_labels("10, 20,all") == [10, 20, None]
    for bad in ("0", "x", "10,,20"):
        with pytest.raises(ParameterError, match="'labels_per_class'"):
            parse_labels(bad)


def test_linear_readout_and_few_label_subsets():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = np.eye(3)[y] * 5 + rng.random((60, 3))
    readout = LinearReadout().fit(x, y)
    assert readout.score(x, y) == 1.0
    idx = few_label_subset(y, 4, np.random.default_rng(1))
    assert len(idx) == 12 and np.bincount(y[idx]).tolist() == [4, 4, 4]
    with pytest.raises(ParameterError, match="'labels_per_class'"):
        few_label_subset(y, 21, rng)
    with pytest.raises(ParameterError, match="'labels'"):
        LinearReadout().fit(x, np.zeros(60))
    with pytest.raises(RuntimeError):
        LinearReadout().predict(x)


@pytest.mark.slow
def test_rstdp_decision_layer_learns_on_the_embedded_digits(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    result = REPRODUCTIONS["mozafari2019"].execute(ctx, stdp_images=1000, epochs=6)
    js = result.to_json()
    for key in ("test_accuracy", "train_s", "initial_test_accuracy", "curve"):
        assert key in js, key
    assert len(js["curve"]) == 6
    assert js["initial_test_accuracy"] < 0.3  # chance is 0.1
    assert js["test_accuracy"] > js["initial_test_accuracy"] + 0.2
    assert result.passed and len(result.figures) == 4
    assert not (tmp_path / "checkpoint.pt").exists()  # written only on request


def test_conv2_threshold_option_reaches_the_network(monkeypatch, tmp_path):
    from spikewave.experiments import mozafari2019

    class Built(Exception):
        pass

    seen = {}

    def capture(arch, seed):
        seen["arch"] = arch
        raise Built

    monkeypatch.setattr(mozafari2019, "STDPConvNet", capture)
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    with pytest.raises(Built):
        mozafari2019.run(ctx, conv2_threshold=20.0)
    conv1, conv2 = seen["arch"].layers
    assert conv2.threshold == 20.0 and conv1.threshold == 15.0
    with pytest.raises(Built):
        mozafari2019.run(ctx)
    assert seen["arch"].layers[1].threshold == 10.0  # SpykeTorch's MozafariDeep
    with pytest.raises(ParameterError, match="'conv2_threshold'"):
        mozafari2019.run(ctx, conv2_threshold=0.0)


@pytest.mark.slow
def test_stdp_images_per_layer_and_no_convergence_stop(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    run = REPRODUCTIONS["mozafari2019"].execute
    js = run(ctx, stdp_images=[120, 230], convergence_stop=0.0, epochs=1).to_json()
    assert js["learning_images"] == [120, 230]  # every image, no early stop
    assert js["config"]["stdp_images"] == [120, 230]
    assert js["config"]["convergence_stop"] == [0.0, 0.0]
    from spikewave.experiments import mozafari2019
    with pytest.raises(ParameterError, match="'stdp_images'"):
        mozafari2019.run(ctx, stdp_images=[10, 20, 30])
    with pytest.raises(ParameterError, match="'convergence_stop'"):
        mozafari2019.run(ctx, convergence_stop=0.5)


@pytest.mark.slow
def test_mozafari_resume_continues_as_an_uninterrupted_run(tmp_path):
    import torch

    from spikewave.experiments import mozafari2019

    run = REPRODUCTIONS["mozafari2019"].execute
    # dropout: its generator is saved and restored as well
    opts = dict(stdp_images=300, dropout=0.25, train_images=400)
    whole_ctx = RunContext(quick=True, seed=0, out_dir=tmp_path / "whole", progress=False)
    whole = run(whole_ctx, epochs=4, checkpoint=True, **opts).to_json()
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path / "cut", progress=False)
    first = run(ctx, epochs=2, checkpoint=True, **opts).to_json()
    assert first["curve"] == whole["curve"][:2]
    at_two = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    resumed = run(ctx, epochs=4, resume=True, **opts).to_json()
    assert resumed["curve"] == whole["curve"]  # the same epochs, to the last bit
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    assert resumed["learning_images"] == whole["learning_images"]
    assert resumed["config"]["resumed_at_epoch"] == 2
    assert whole["config"]["resumed_at_epoch"] is None
    w_resumed = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    w_whole = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    assert torch.equal(w_resumed["decision"]["weight"], w_whole["decision"]["weight"])
    assert not torch.equal(w_resumed["decision"]["weight"], at_two["decision"]["weight"])
    again = run(ctx, epochs=4, resume=True, **opts).to_json()  # nothing left to do
    assert again["curve"] == whole["curve"] and again["test_accuracy"] == whole["test_accuracy"]
    with pytest.raises(ParameterError, match="'resume'.*dropout"):
        mozafari2019.run(ctx, epochs=4, resume=True, **{**opts, "dropout": 0.5})
    with pytest.raises(ParameterError, match="'epochs'"):
        mozafari2019.run(ctx, epochs=3, resume=True, **opts)
    empty = RunContext(quick=True, seed=0, out_dir=tmp_path / "none", progress=False)
    with pytest.raises(ParameterError, match="'resume'"):
        mozafari2019.run(empty, epochs=4, resume=True, **opts)
