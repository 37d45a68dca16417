"""The ``coding`` and ``regularization`` reproductions: one-epoch runs check what every run
must show (the default suite); the quick runs must pass (slow)."""


import pytest
from reproduction_runs import run_quick

from spikewave import ParameterError
from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.regularization import WEIGHTS


def test_coding_one_epoch(tmp_path):
    result, js = run_quick("coding", tmp_path, epochs=1)
    assert js["config"]["codes"] == ["direct", "rate", "latency"]  # no events in quick
    runs = js["runs"]
    for code in ("direct", "rate", "latency"):
        assert js[f"{code}_test_accuracy"] == runs[code]["test_accuracy"]
        assert 0 <= js[f"{code}_decision_step"] <= runs[code]["time_steps"] - 1
        assert runs[code]["epochs"] == 1
    # one spike per pixel at most: the latency code drives far fewer hidden spikes than
    # the constant current
    assert js["latency_spikes_per_sample"] < 0.5 * js["direct_spikes_per_sample"]
    assert js["direct_test_accuracy"] > 0.3


def test_regularization_one_epoch(tmp_path):
    result, js = run_quick("regularization", tmp_path, epochs=1, weights=[1e-3, WEIGHTS[-1]])
    curve = js["curve"]
    assert [c["spike_reg_weight"] for c in curve] == [0.0, 1e-3, WEIGHTS[-1]]
    spikes = [c["spikes_per_sample"] for c in curve]
    assert js["spikes_largest_weight_ratio"] == pytest.approx(spikes[-1] / spikes[0])
    assert js["spikes_worst_rise"] == pytest.approx(
        max(b / a for a, b in zip(spikes, spikes[1:], strict=False)))
    assert spikes[-1] < 0.5 * spikes[0]  # the strongest penalty silences most neurons
    assert js["decision"]["with_term"]["decision_reg_weight"] > 0
    assert f"--weights 0.001 {WEIGHTS[-1]:g}" in result.command


@pytest.mark.parametrize("weights", [[], [1e-2, 1e-3], [0.0, 1e-3], [float("nan")]])
def test_regularization_refuses_bad_weights(tmp_path, weights):
    ctx = RunContext(quick=True, out_dir=tmp_path, progress=False)
    with pytest.raises(ParameterError, match="'weights'"):
        REPRODUCTIONS["regularization"].execute(ctx, weights=weights)


def test_full_sweep_has_at_least_six_weights():
    assert len(WEIGHTS) >= 6 and list(WEIGHTS) == sorted(WEIGHTS)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["coding", "regularization"])
def test_quick_passes(tmp_path, name):
    result, js = run_quick(name, tmp_path)
    assert result.status == "pass", result.failed_checks
