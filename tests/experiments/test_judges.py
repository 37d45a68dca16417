"""The reproductions' success criteria, each tested just above and just below its threshold.

Synthetic spike trains with a known hit rate, false-alarm count and latency are judged by
the functions the reproductions use (``masquelier2008.evaluate`` and its metrics,
``masquelier2009.judge`` and ``selectivity``, the generic ``within_rel`` / ``below``).
"""

import math

import numpy as np
import pytest

from spikewave.experiments import masquelier2008 as m08
from spikewave.experiments import masquelier2009 as m09
from spikewave.experiments.registry import below, within_rel

PERIOD_MS = 200.0
N_SLOTS = 300                       # onsets every 200 ms over 60 s
DURATION_MS = N_SLOTS * PERIOD_MS   # judged on the last third: the last 100 onsets
ONSETS = np.arange(N_SLOTS) * PERIOD_MS + 100.0
LATE = ONSETS >= DURATION_MS - DURATION_MS / 3


def spikes_for(hits_late: int, latency_ms=5.0, false_alarms_late=0, early_false_alarms=0):
    """Every early onset hit; ``hits_late`` of the 100 late onsets hit; false alarms 150 ms
    after chosen onsets (outside any pattern)."""
    late_idx = np.flatnonzero(LATE)
    hit = np.concatenate([ONSETS[~LATE], ONSETS[late_idx[:hits_late]]]) + latency_ms
    fa_late = ONSETS[late_idx[:false_alarms_late]] + 150.0
    fa_early = ONSETS[:early_false_alarms] + 150.0
    return np.sort(np.concatenate([hit, fa_late, fa_early]))


def evaluate(spikes, duration=DURATION_MS, onsets=ONSETS, **kwargs):
    return m08.evaluate(spikes, onsets, duration, **kwargs)


# ----------------------------------------------------------------------------- 2008


@pytest.mark.parametrize(("hits", "success"), [(100, True), (99, True), (98, False),
                                               (95, False), (91, False)])
def test_hit_rate_must_exceed_98_percent(hits, success):
    ev = evaluate(spikes_for(hits))
    assert ev.hit_rate == pytest.approx(hits / 100)
    assert ev.false_alarms == 0 and ev.latency_ms == pytest.approx(5.0)
    assert ev.success is success


@pytest.mark.parametrize(("n_fa", "success"), [(0, True), (1, False)])
def test_one_false_alarm_in_the_judged_third_fails(n_fa, success):
    ev = evaluate(spikes_for(100, false_alarms_late=n_fa))
    assert ev.false_alarms == n_fa and ev.hit_rate == 1.0
    assert ev.success is success


def test_false_alarms_before_the_judged_third_do_not_count():
    ev = evaluate(spikes_for(100, early_false_alarms=30))
    assert ev.false_alarms == 0 and ev.success


@pytest.mark.parametrize(("latency", "success"), [(0.0, False), (0.01, True), (9.99, True),
                                                  (10.0, False), (12.0, False)])
def test_latency_must_lie_strictly_between_0_and_10_ms(latency, success):
    ev = evaluate(spikes_for(100, latency_ms=latency))
    assert ev.latency_ms == pytest.approx(latency)
    assert ev.success is success


def test_a_spike_is_a_hit_before_the_pattern_ends_and_a_false_alarm_after_it():
    onsets = np.array([100.0, 300.0])
    lat = m08.spike_latencies_ms(np.array([149.999, 150.0, 150.001, 99.0]), onsets)
    np.testing.assert_allclose(lat[:2], [49.999, 50.0])
    assert np.isnan(lat[2]) and np.isnan(lat[3])  # after the pattern; before any onset
    # the hit test itself is strict: a first spike at onset + 50 ms misses the pattern
    late = np.array([300.0])
    on_edge = m08.evaluate(np.array([350.0]), late, 450.0)
    inside = m08.evaluate(np.array([349.999]), late, 450.0)
    assert on_edge.hit_rate == 0.0 and inside.hit_rate == 1.0


def test_judged_window_is_the_last_third_at_most_150_s():
    """A 600 s run is judged on its last 150 s, not on its last 200 s: misses between
    400 s and 450 s do not count."""
    onsets = np.arange(3000) * 200.0 + 100.0
    hit = onsets[(onsets < 400_000.0) | (onsets >= 450_000.0)] + 5.0
    ev = m08.evaluate(hit, onsets, 600_000.0)
    assert ev.hit_rate == 1.0 and ev.success
    # and a 60 s run on its last 20 s: a miss at 35 s does not count, one at 45 s does
    onsets = ONSETS
    miss_35 = spikes_for(100)[~np.isclose(spikes_for(100), 35_105.0)]
    assert evaluate(miss_35).hit_rate == 1.0
    miss_45 = spikes_for(100)[~np.isclose(spikes_for(100), 45_105.0)]
    assert evaluate(miss_45).hit_rate == 0.99
    assert onsets.size == N_SLOTS


@pytest.mark.parametrize(("hits", "found"), [(91, True), (90, False)])
def test_time_to_find_needs_a_hit_rate_above_90_percent(hits, found):
    spikes = np.sort(np.concatenate([spikes_for(hits), [50.0]]))  # one early false alarm
    ev = evaluate(spikes, find_window_ms=1000.0)
    if found:
        assert ev.output_spikes_to_find == 1
        assert ev.time_to_find_s == pytest.approx(0.105)
    else:
        assert ev.output_spikes_to_find == -1 and math.isnan(ev.time_to_find_s)


@pytest.mark.parametrize(("n_fa", "found"), [(49, True), (50, False)])
def test_time_to_find_needs_fewer_than_50_false_alarms(n_fa, found):
    ev = evaluate(spikes_for(100, false_alarms_late=n_fa), find_window_ms=1000.0)
    assert ev.false_alarms == n_fa
    assert (ev.output_spikes_to_find == 0) is found


def test_time_to_find_is_the_first_spike_after_the_last_early_false_alarm():
    spikes = np.sort(np.concatenate([spikes_for(100), [50.0, 260.0, 3_000.0 + 150.0]]))
    ev = evaluate(spikes, find_window_ms=2_000.0)  # the false alarm at 3.15 s is too late
    idx = int(np.searchsorted(spikes, 260.0)) + 1
    assert ev.output_spikes_to_find == idx
    assert ev.time_to_find_s == pytest.approx(spikes[idx] / 1000.0)


def _metric(metrics, key):
    return next(m for m in metrics if m.key == key)


@pytest.mark.parametrize(("hits", "passed"), [(99, True), (98, False)])
def test_single_run_hit_rate_metric(hits, passed):
    metrics = m08._single_metrics(evaluate(spikes_for(hits)))
    assert _metric(metrics, "hit_rate").passed is passed
    assert _metric(metrics, "success").passed is passed


def test_single_run_metrics_carry_the_papers_references():
    metrics = m08._single_metrics(evaluate(spikes_for(100)))
    refs = {m.key: m.reference for m in metrics}
    assert refs == {"success": 1.0, "hit_rate": 0.991, "false_alarms": 0,
                    "latency_ms": m08.REF_LATENCY_MS, "time_to_find_s": m08.REF_FIND_S,
                    "output_spikes_to_find": m08.REF_FIND_SPIKES}
    assert (m08.REF_LATENCY_MS, m08.REF_FIND_S, m08.REF_FIND_SPIKES) == (4.5, 13.5, 700)
    reported = {m.key for m in metrics if m.passed is None}
    assert reported == {"time_to_find_s", "output_spikes_to_find"}


@pytest.mark.parametrize(("latency", "passed"), [(2.99, False), (3.0, True), (6.0, True),
                                                 (6.01, False)])
def test_single_run_latency_metric_spans_3_to_6_ms(latency, passed):
    metrics = m08._single_metrics(evaluate(spikes_for(100, latency_ms=latency)))
    assert _metric(metrics, "latency_ms").passed is passed
    assert _metric(metrics, "false_alarms").passed is True


def _runs(n_ok, n_bad, latency=4.0):
    good = evaluate(spikes_for(100, latency_ms=latency))
    bad = evaluate(spikes_for(90, latency_ms=8.0))
    return [m08.SingleRun(i, good if i < n_ok else bad, 1.0, np.empty(0), ONSETS, np.empty(0))
            for i in range(n_ok + n_bad)]


@pytest.mark.parametrize(("n_ok", "passed"), [(24, True), (23, False)])
def test_success_rate_over_seeds_must_reach_96_percent(n_ok, passed):
    metrics, agg = m08._aggregate_metrics(_runs(n_ok, 25 - n_ok))
    assert agg["success_rate"] == pytest.approx(n_ok / 25)
    assert _metric(metrics, "success_rate").passed is passed
    # the latency is averaged over the successful runs only (the failed ones are at 8 ms)
    assert agg["latency_ms"] == pytest.approx(4.0)
    assert agg["hit_rate"] == pytest.approx((n_ok + 0.9 * (25 - n_ok)) / 25)


@pytest.mark.parametrize(("latency", "passed"), [(2.9, False), (3.0, True), (6.0, True),
                                                 (6.1, False)])
def test_mean_latency_over_seeds_spans_3_to_6_ms(latency, passed):
    metrics, _ = m08._aggregate_metrics(_runs(3, 0, latency))
    assert _metric(metrics, "latency_ms").passed is passed


def test_no_successful_run_gives_no_latency_and_a_failed_rate():
    metrics, agg = m08._aggregate_metrics(_runs(0, 4))
    assert agg["success_rate"] == 0.0 and math.isnan(agg["latency_ms"])
    assert _metric(metrics, "success_rate").passed is False
    assert _metric(metrics, "latency_ms").passed is False


def test_wilson_interval_known_values():
    assert m08._wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert m08._wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert m08._wilson(96, 100) == pytest.approx((0.9016, 0.9843), abs=1e-4)


# ----------------------------------------------------------------------------- 2009


def judge(hits, precisions, latencies):
    return m09.judge(np.asarray(hits, float), np.asarray(precisions, float),
                     np.asarray(latencies, float))


@pytest.mark.parametrize(("hit", "selective"), [(0.9, False), (0.9001, True)])
def test_selective_needs_a_hit_rate_above_90_percent(hit, selective):
    v = judge([[hit], [1.0]], [[1.0], [1.0]], [[5.0], [20.0]])
    assert (v["selective_neurons"] == 2) is selective
    assert v["success"] is selective
    assert v["preferred_pattern"][0] == (0 if selective else -1)


@pytest.mark.parametrize(("precision", "selective"), [(0.9, True), (0.8999, False)])
def test_selective_needs_a_precision_of_at_least_90_percent(precision, selective):
    v = judge([[1.0], [1.0]], [[precision], [1.0]], [[5.0], [20.0]])
    assert (v["selective_neurons"] == 2) is selective
    assert v["success"] is selective


@pytest.mark.parametrize(("second", "distinct"), [(7.0, True), (6.99, False)])
def test_two_neurons_on_one_pattern_must_be_2_ms_apart(second, distinct):
    v = judge([[1.0], [1.0]], [[1.0], [1.0]], [[5.0], [second]])
    assert v["distinct"] is distinct and v["success"] is distinct


@pytest.mark.parametrize(("hit", "responsive"), [(0.5, False), (0.51, True)])
def test_responsive_means_firing_in_more_than_half_the_presentations(hit, responsive):
    v = judge([[hit], [1.0]], [[1.0], [1.0]], [[5.0], [20.0]])
    assert v["responsive_neurons"] == (2 if responsive else 1)
    assert v["latencies_ms"][0] == (5.0 if responsive else None)
    assert v["latencies_ms"][1] == 20.0


def test_every_pattern_must_be_learned_by_some_neuron():
    # two patterns, both neurons on pattern 0: half of the patterns learned
    v = judge([[1.0, 0.1], [0.95, 0.0]], [[1.0, 0.0], [0.95, 0.0]],
              [[5.0, np.nan], [15.0, np.nan]])
    assert v["patterns_learned"] == 0.5 and v["selective_neurons"] == 2
    assert not v["success"]
    v = judge([[1.0, 0.1], [0.0, 0.95]], [[1.0, 0.0], [0.0, 0.95]],
              [[5.0, np.nan], [np.nan, 15.0]])
    assert v["patterns_learned"] == 1.0 and v["success"]
    assert list(v["preferred_pattern"]) == [0, 1]
    assert v["latencies_ms"] == [5.0, 15.0]


def test_several_patterns_succeed_with_silent_losers_but_one_pattern_needs_every_neuron():
    # two patterns, three neurons: one per pattern, the third silent -> success
    v = judge([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
              [[5.0, np.nan], [np.nan, 6.0], [np.nan, np.nan]])
    assert v["selective_neurons"] == 2 and v["patterns_learned"] == 1.0 and v["success"]
    # ... but not when the third shares a pattern's part with its neuron
    v = judge([[1.0, 0.0], [0.0, 1.0], [0.95, 0.0]], [[1.0, 0.0], [0.0, 1.0], [0.95, 0.0]],
              [[5.0, np.nan], [np.nan, 6.0], [6.0, np.nan]])
    assert not v["distinct"] and not v["success"]
    # one pattern, two neurons, the second silent: the distributed code is not reached
    v = judge([[1.0], [0.0]], [[1.0], [0.0]], [[5.0], [np.nan]])
    assert v["patterns_learned"] == 1.0 and not v["success"]


def test_several_patterns_default_to_three_neurons_each_and_stronger_inhibition():
    assert (m09.default_neurons(1), m09.default_inhibition(1)) == (3, 2.0)
    assert (m09.default_neurons(3), m09.default_inhibition(3)) == (9, 4.0)


def test_selectivity_counts_presentations_spikes_and_the_window():
    onsets = np.array([0.0, 100.0, 200.0, 300.0, 400.0])
    ids = np.array([0, 1, 0, 1, 0])
    # neuron 0: twice in presentation 0 (one hit), once at the pattern's end (not inside)
    spikes = np.array([5.0, 7.0, 150.0, 205.0, 250.0, 410.0])
    neurons = np.array([0, 0, 0, 0, 0, 1])
    hit, precision, latency = m09.selectivity(spikes, neurons, onsets, ids, 2, 2, 0.0, 400.0)
    # window [0, 400): onsets 0, 100, 200, 300 (400 + 50 > 400 is left out)
    np.testing.assert_allclose(hit, [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(precision[0], [3 / 5, 0.0])
    assert latency[0, 0] == pytest.approx((5.0 + 7.0 + 5.0) / 3)
    assert np.isnan(latency[0, 1]) and np.isnan(latency[1, 0])


# ----------------------------------------------------------------------------- generic


@pytest.mark.parametrize(("value", "passed"), [(5.0, True), (3.0, True), (5.0001, False),
                                               (2.9999, False), (math.nan, False),
                                               (math.inf, False)])
def test_within_rel_is_inclusive_at_the_tolerance(value, passed):
    m = within_rel("x", value, 4.0, 0.25)
    assert m.passed is passed and m.reference == 4.0
    assert within_rel("y", -5.0, -4.0, 0.25).passed  # relative to |reference|
    assert not within_rel("y", 4.0, -4.0, 0.25).passed
    assert m.criterion == "within 25 % of 4"
    assert within_rel("x", 1.0, 2.5, 0.01, source="paper").criterion == "within 1 % of 2.5 (paper)"


@pytest.mark.parametrize(("value", "passed"), [(0.0049, True), (0.005, False),
                                               (math.nan, False), (-math.inf, False)])
def test_below_is_strict(value, passed):
    assert below("x", value, 5e-3).passed is passed
    assert below("x", value, 5e-3, what="(exact)").criterion == "< 0.005 (exact)"
