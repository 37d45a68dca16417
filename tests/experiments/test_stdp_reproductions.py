"""STDP reproductions, quick versions, and the evaluation they rest on."""

import numpy as np
import pytest
from reproduction_runs import run_quick

from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.masquelier2008 import evaluate, spike_latencies_ms
from spikewave.experiments.masquelier2009 import selectivity


def test_stdp_window_recovers_bi_and_poo_time_constants(tmp_path):
    result, js = run_quick("stdp-window", tmp_path)
    assert js["tau_plus_ms"] == pytest.approx(16.8, rel=0.01)
    assert js["tau_minus_ms"] == pytest.approx(33.7, rel=0.01)
    assert result.passed


def test_evaluation_on_synthetic_spikes():
    onsets = np.arange(10) * 200.0 + 100.0           # 10 presentations over 2 s
    spikes = np.concatenate([[30.0, 60.0],            # two early false alarms
                             onsets[:9] + 5.0])       # hits, latency 5 ms, last one missed
    lat = spike_latencies_ms(spikes, onsets)
    assert np.isnan(lat[:2]).all() and np.allclose(lat[2:], 5.0)
    ev = evaluate(spikes, onsets, 2100.0, find_window_ms=1000.0)
    # last third: onsets at 1500, 1700 and 1900 (1900 + 50 <= 2100); 1900 is missed
    assert ev.hit_rate == pytest.approx(2 / 3)
    assert ev.false_alarms == 0 and ev.latency_ms == pytest.approx(5.0)
    assert not ev.success  # hit rate below 98 %
    assert ev.output_spikes_to_find == -1  # not "found": hit rate <= 0.9
    ok = evaluate(np.concatenate([spikes, [onsets[9] + 4.0]]), onsets, 2100.0,
                  find_window_ms=1000.0)
    assert ok.success and ok.hit_rate == 1.0
    # found at the first spike after the last false alarm of the first second
    assert ok.output_spikes_to_find == 2 and ok.time_to_find_s == pytest.approx(0.105)


def test_masquelier2008_quick_finds_the_pattern(tmp_path):
    result, js = run_quick("masquelier2008", tmp_path)
    assert js["success"] is True
    assert js["false_alarms"] == 0 and js["hit_rate"] > 0.98
    assert 3.0 <= js["latency_ms"] <= 6.0          # paper about 4 ms, replication 4.5
    assert js["time_to_find_s"] < 30.0              # paper 13.5 s
    assert js["output_spikes_to_find"] < 1500       # paper about 700
    assert result.passed


def test_selectivity_matrix():
    onsets = np.array([0.0, 100.0, 200.0, 300.0])
    ids = np.array([0, 1, 0, 1])
    spikes = np.array([5.0, 205.0, 120.0, 320.0, 150.0])
    neurons = np.array([0, 0, 1, 1, 1])
    hit, precision, latency = selectivity(spikes, neurons, onsets, ids, 2, 2, 0.0, 400.0)
    np.testing.assert_allclose(hit, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(precision, [[1.0, 0.0], [0.0, 2 / 3]])
    np.testing.assert_allclose(latency[0, 0], 5.0)
    np.testing.assert_allclose(latency[1, 1], 20.0)


def test_masquelier2009_quick_learns_the_pattern(tmp_path):
    result, js = run_quick("masquelier2009", tmp_path)
    assert js["patterns_learned"] == 1.0
    lats = sorted(x for x in js["latencies_ms"] if x is not None)
    # a distributed code: one neuron at the pattern start, another at a later part
    assert len(lats) >= 2 and lats[0] < 10.0 and lats[1] - lats[0] > 5.0


@pytest.mark.slow
def test_masquelier2009_three_patterns_each_get_a_neuron(tmp_path):
    # seed 0 of the 20-run table on the results page: 9 neurons, alpha 4, 450 s
    ctx = RunContext(quick=False, seed=0, out_dir=tmp_path, progress=False)
    js = REPRODUCTIONS["masquelier2009"].execute(ctx, patterns=3).to_json()
    assert js["config"]["neurons"] == 9 and js["config"]["inhibition"] == 4.0
    assert js["patterns_learned"] == 1.0 and js["status"] == "pass"
    prefs = [q for q in js["preferred_pattern"] if q >= 0]
    assert sorted(set(prefs)) == [0, 1, 2]


def test_masquelier2009_judges_successive_parts():
    from spikewave.experiments.masquelier2009 import judge

    hit = np.array([[1.0], [0.95], [0.99]])
    precision = np.ones((3, 1))
    verdict = judge(hit, precision, np.array([[5.0], [12.0], [20.0]]))
    assert verdict["success"] and verdict["selective_neurons"] == 3
    assert verdict["latencies_ms"] == [5.0, 12.0, 20.0]
    close = judge(hit, precision, np.array([[5.0], [6.0], [20.0]]))  # two on one part
    assert not close["distinct"] and not close["success"]
    silent = judge(np.array([[1.0], [0.0], [0.99]]), precision,
                   np.array([[5.0], [np.nan], [20.0]]))
    assert silent["selective_neurons"] == 2 and silent["latencies_ms"][1] is None
    assert not silent["success"]


def test_masquelier2009_runs_reports_a_success_rate(tmp_path, monkeypatch):
    """The success rate is the mean of the runs' verdicts: one of two runs is declared
    successful (the real verdicts of 3 s runs are failures: far too short to learn)."""
    import threading

    from spikewave.experiments import masquelier2009

    real, verdicts, lock = masquelier2009.judge, [], threading.Lock()

    def first_call_succeeds(hit, precision, latency):
        verdict = real(hit, precision, latency)
        with lock:
            verdicts.append(dict(verdict))
            verdict["success"] = len(verdicts) == 1
        return verdict

    monkeypatch.setattr(masquelier2009, "judge", first_call_succeeds)
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    js = REPRODUCTIONS["masquelier2009"].execute(ctx, duration_s=3.0, runs=2).to_json()
    assert len(verdicts) == 2 and not any(v["success"] for v in verdicts)
    assert js["success_rate"] == 0.5
    assert sorted(r["success"] for r in js["runs"]) == [False, True]
    assert [r["seed"] for r in js["runs"]] == [0, 1]
    assert js["runs"][0]["selective_neurons"] == js["selective_neurons"]
    assert js["n_output_spikes"] > 0  # the neurons fire: the runs really ran
    assert js["config"]["runs"] == 2
