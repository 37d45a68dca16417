"""The exact event-driven engine against a brute-force reference written here.

The reference evaluates every neuron's potential on a fine time grid from the kernels'
definitions (EPSP ``K (e^{-s/tau_m} - e^{-s/tau_s})`` of peak ``w``, after-potential
``eta``, EPSPs flushed at an output spike, no crossing during the refractory period,
IPSPs of peak ``alpha T`` from the other neurons' spikes), finds the first grid point at or
above threshold and bisects the crossing. Constructed cases put the potential's maximum
inside an interval between two input spikes, and just above or just below threshold; the
property tests draw sparse random inputs (so that most maxima fall between inputs) and
require the same spikes -- none missed, none extra.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams, apply_spike_pairs
from spikewave.sim.eventdriven import SRMNetworkState, run_srm_network
from spikewave.sim.spiketrains import SpikeTrains

SRM = SRMParams(threshold=10.0, cut_taus=1e9)
GRID_MS = 0.002


def epsp(s, tau_m, tau_s):
    """EPSP of peak 1, written from its definition (0 before the input)."""
    peak = tau_m * tau_s / (tau_m - tau_s) * math.log(tau_m / tau_s)
    k = 1.0 / (math.exp(-peak / tau_m) - math.exp(-peak / tau_s))
    s = np.asarray(s, dtype=float)
    sc = np.maximum(s, 0.0)
    return np.where(s >= 0.0, k * (np.exp(-sc / tau_m) - np.exp(-sc / tau_s)), 0.0)


def after_potential(s, p: SRMParams):
    sc = np.maximum(np.asarray(s, dtype=float), 0.0)
    em, es = np.exp(-sc / p.tau_m_ms), np.exp(-sc / p.tau_s_ms)
    return p.threshold * (p.k1 * em - p.k2 * (em - es))


class Ambiguous(Exception):
    """A maximum of the potential lies too close to threshold for the grid to decide."""


def reference_spikes(times, afferents, weights, duration, p: SRMParams, alpha=0.0):
    """Brute force: ``[(t, k)]`` output spikes of ``K`` neurons, weights ``[K, N]``."""
    n_k = weights.shape[0]
    last = [None] * n_k
    spikes: list[tuple[float, int]] = []

    def potential(k, t):
        t = np.atleast_1d(t)
        t0 = -math.inf if last[k] is None else last[k]
        u = np.zeros_like(t)
        if last[k] is not None:
            u += after_potential(t - t0, p)
        for ti, ai in zip(times, afferents, strict=True):
            if ti > t0:
                u += weights[k, ai] * epsp(t - ti, p.tau_m_ms, p.tau_s_ms)
        for tj, kj in spikes:
            if kj != k and tj > t0:
                u -= alpha * p.threshold * epsp(t - tj, p.tau_m_ms, p.tau_s_ms)
        return u

    while True:
        best = None
        for k in range(n_k):
            start = 0.0 if last[k] is None else last[k] + p.t_ref_ms
            if start >= duration:
                continue
            grid = np.arange(start, duration, GRID_MS)
            u = potential(k, grid)
            above = np.flatnonzero(u >= p.threshold)
            # a maximum within the grid's error of the threshold is ambiguous
            inner = u[1:-1]
            peak = (inner >= u[:-2]) & (inner >= u[2:])
            if np.any(peak & (np.abs(inner - p.threshold) < 1e-6 * p.threshold)):
                raise Ambiguous
            if above.size == 0:
                continue
            j = above[0]
            if j == 0:
                t_cross = grid[0]
            else:
                lo, hi = grid[j - 1], grid[j]
                for _ in range(200):
                    mid = 0.5 * (lo + hi)
                    if mid in (lo, hi):
                        break
                    if potential(k, mid)[0] >= p.threshold:
                        hi = mid
                    else:
                        lo = mid
                t_cross = hi
            if best is None or t_cross < best[0]:
                best = (t_cross, k)
        if best is None:
            return spikes
        spikes.append(best)
        last[best[1]] = best[0]


def trains_of(times, afferents, n_aff, duration):
    order = np.argsort(times, kind="stable")
    return SpikeTrains(np.asarray(times, float)[order], np.asarray(afferents)[order], n_aff,
                       duration)


def engine_spikes(trains, weights, p=SRM, alpha=0.0):
    run = run_srm_network(trains, SRMNetworkState.initial(weights), p, inhibition=alpha)
    return run.spike_times_ms, run.spike_neurons


# ----------------------------------------------------------------------------- constructed


def _crossing_of_one_epsp(ratio, p=SRM):
    """Time after the input at which an EPSP of peak ``ratio x T`` reaches ``T``."""
    return brentq(lambda s: float(epsp(s, p.tau_m_ms, p.tau_s_ms)) - 1.0 / ratio, 0.0,
                  p.epsp_peak_ms, xtol=1e-15)


def test_one_input_above_threshold_fires_inside_the_interval():
    """One input of weight 1.2 T at 1 ms: the potential peaks 4.6 ms later, between the
    input and the end of the run, and crosses 2.27 ms after the input, at 3.27 ms."""
    trains = trains_of([1.0], [0], 1, 60.0)
    t, k = engine_spikes(trains, np.array([[1.2 * SRM.threshold]]))
    s = _crossing_of_one_epsp(1.2)
    assert 1.0 + s == pytest.approx(3.27, abs=0.01)
    np.testing.assert_allclose(t, [1.0 + s], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(k, [0])


@pytest.mark.parametrize("n_k", [1, 2])
def test_peaks_just_above_and_just_below_threshold(n_k):
    """A peak 1e-6 above threshold fires (at the peak, within bisection accuracy); a peak
    1e-6 below does not. Two neurons run the general path, one neuron the fast path."""
    trains = trains_of([5.0], [0], 1, 30.0)
    above = np.full((n_k, 1), (1.0 + 1e-6) * SRM.threshold)
    below = np.full((n_k, 1), (1.0 - 1e-6) * SRM.threshold)
    t, _ = engine_spikes(trains, above)
    assert t.size == n_k
    np.testing.assert_allclose(t, 5.0 + SRM.epsp_peak_ms, atol=0.01)
    t, _ = engine_spikes(trains, below)
    assert t.size == 0


@pytest.mark.parametrize("n_k", [1, 2])
def test_maximum_between_two_later_inputs(n_k):
    """Two sub-threshold inputs 1 ms apart sum to a peak inside the next, long interval
    (the third input comes 20 ms later and is too weak to matter)."""
    w = np.array([0.6, 0.6, 0.05]) * SRM.threshold
    trains = trains_of([2.0, 3.0, 23.0], [0, 1, 2], 3, 40.0)
    weights = np.tile(w, (n_k, 1))
    t, _ = engine_spikes(trains, weights)
    ref = reference_spikes(trains.times_ms, trains.afferents, weights, 40.0, SRM)
    assert len(ref) == n_k
    assert 3.0 < ref[0][0] < 23.0
    np.testing.assert_allclose(t, [r[0] for r in ref], rtol=0, atol=1e-9)


def test_after_potential_and_refractory_end():
    """A strong input fires at once; a second input arrives during the refractory period
    and a third one keeps the potential up: the next spike comes after t_ref, through the
    negative after-potential, as the brute-force reference says."""
    times = [1.0, 4.5, 5.5, 7.0]
    w = np.array([[3.0, 2.0, 2.5, 1.5]]) * SRM.threshold
    trains = trains_of(times, [0, 1, 2, 3], 4, 40.0)
    t, _ = engine_spikes(trains, w)
    ref = reference_spikes(trains.times_ms, trains.afferents, w, 40.0, SRM)
    assert len(ref) >= 2
    np.testing.assert_allclose(t, [r[0] for r in ref], rtol=0, atol=1e-9)
    assert np.all(np.diff(t) >= SRM.t_ref_ms)


def test_maximum_after_the_refractory_period_ends_inside_an_interval():
    """The neuron fires at once on a strong input; a second input arrives while it is
    refractory; when the refractory period ends (between inputs) the potential is still
    rising, and it crosses threshold later in the same interval."""
    srm = SRM.replace(t_ref_ms=2.0)
    trains = trains_of([1.0, 3.0], [0, 1], 2, 40.0)
    w = np.array([[3.0, 2.0]]) * srm.threshold
    t, _ = engine_spikes(trains, w, p=srm)
    ref = reference_spikes(trains.times_ms, trains.afferents, w, 40.0, srm)
    assert len(ref) == 2
    first, second = ref[0][0], ref[1][0]
    assert 1.0 < first < 2.0 and first + srm.t_ref_ms + 0.5 < second < 7.0
    np.testing.assert_allclose(t, [first, second], rtol=0, atol=1e-9)


@pytest.mark.parametrize(("t_ref", "w2"), [(4.45, 1.715), (1.59, 1.569)])
def test_low_maximum_just_after_the_refractory_period(t_ref, w2):
    """The refractory period ends 0.4 ms before a maximum that exceeds threshold by about
    0.2 %: the potential rises slowly there, and the crossing must still be found."""
    srm = SRM.replace(t_ref_ms=t_ref)
    t2 = 3.0 if t_ref > 2 else 2.5
    trains = trains_of([1.0, t2], [0, 1], 2, 40.0)
    w = np.array([[3.0, w2]]) * srm.threshold
    ref = reference_spikes(trains.times_ms, trains.afferents, w, 40.0, srm)
    assert len(ref) == 2 and ref[1][0] > ref[0][0] + t_ref
    t, _ = engine_spikes(trains, w, p=srm)
    np.testing.assert_allclose(t, [r[0] for r in ref], rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- properties


@st.composite
def sparse_inputs(draw, n_k_max=1, burst=False):
    """A few inputs over 50 ms; with ``burst`` they come within a few ms, so that inputs
    fall into refractory periods and maxima come after a refractory period ends."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_k = int(rng.integers(1, n_k_max + 1))
    n_aff = int(rng.integers(1, 6))
    duration = 50.0
    n_in = int(rng.integers(1, 12))
    start = rng.uniform(0.0, 20.0)
    times = (start + rng.uniform(0.0, rng.uniform(1.0, 6.0), n_in) if burst
             else rng.uniform(0.0, duration - 1.0, n_in))
    afferents = rng.integers(0, n_aff, n_in)
    weights = rng.uniform(0.1, 1.4, (n_k, n_aff)) * SRM.threshold
    alpha = float(rng.choice([0.0, rng.uniform(0.1, 1.0)])) if n_k > 1 else 0.0
    # tau_m / tau_s = 4 (the paper's: one exponential serves both decays), 5, 8 and 10/3
    tau_s, t_ref = [(2.5, 1.0), (2.0, 1.0), (1.25, 1.0), (3.0, 2.0)][int(rng.integers(0, 4))]
    srm = SRM.replace(tau_s_ms=tau_s, t_ref_ms=t_ref)
    return trains_of(times, afferents, n_aff, duration), weights, alpha, srm


def _check_engine(case):
    trains, weights, alpha, srm = case
    try:
        ref = reference_spikes(trains.times_ms, trains.afferents, weights, trains.duration_ms,
                               srm, alpha)
    except Ambiguous:
        assume(False)
    t, k = engine_spikes(trains, weights, p=srm, alpha=alpha)
    assert t.size == len(ref), (t, k, ref)
    np.testing.assert_allclose(t, [r[0] for r in ref], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(k, [r[1] for r in ref])


@settings(max_examples=40, deadline=None)
@given(sparse_inputs())
def test_single_neuron_spikes_equal_the_brute_force_reference(case):
    _check_engine(case)


@settings(max_examples=20, deadline=None)
@given(sparse_inputs(n_k_max=3))
def test_competing_neurons_equal_the_brute_force_reference(case):
    _check_engine(case)


@settings(max_examples=40, deadline=None)
@given(sparse_inputs(n_k_max=2, burst=True))
def test_bursts_equal_the_brute_force_reference(case):
    _check_engine(case)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(sparse_inputs(n_k_max=3, burst=True))
def test_bursts_equal_the_brute_force_reference_long(case):
    _check_engine(case)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(sparse_inputs(n_k_max=3))
def test_engine_equals_the_brute_force_reference_long(case):
    _check_engine(case)


def test_online_stdp_equals_the_pair_rule_on_the_engines_own_spikes():
    """Additive STDP with far bounds: each synapse's final weight is what the pair rule
    gives for its afferent's spikes and the neuron's output spikes, whatever the order in
    which the engine interleaved them."""
    rng = np.random.default_rng(3)
    n_aff, duration = 30, 400.0
    n_in = 900
    times = np.sort(rng.uniform(0.0, duration, n_in))
    aff = rng.integers(0, n_aff, n_in)
    trains = SpikeTrains(times, aff, n_aff, duration)
    w0 = rng.uniform(0.2, 0.8, (1, n_aff))
    srm = SRMParams(threshold=3.0, cut_taus=1e9)
    for pairing in ("all-to-all", "nearest", "reduced-nearest"):
        stdp = STDPParams(pairing=pairing, w_min=-1e3, w_max=1e3, a_plus=0.01, a_minus=0.012)
        run = run_srm_network(trains, SRMNetworkState.initial(w0), srm, stdp)
        post = run.spike_times_ms
        assert post.size >= 10
        expected = [apply_spike_pairs(w0[0, i], times[aff == i], post, stdp)
                    for i in range(n_aff)]
        np.testing.assert_allclose(run.state.weights[0], expected, rtol=0, atol=1e-12)


def test_recorded_potential_at_repeated_and_unsorted_times():
    """Record times may repeat (the same value twice); unsorted ones are refused."""
    from spikewave import ParameterError

    trains = trains_of([1.0, 4.0], [0, 1], 2, 20.0)
    w = np.array([[0.5, 0.4]]) * SRM.threshold
    rec = np.array([3.0, 3.0, 6.0, 25.0])  # 25 ms lies beyond the run: not served
    run = run_srm_network(trains, SRMNetworkState.initial(w), SRM, record_times_ms=rec)
    assert run.recorded_u.shape == (3, 1)
    expected = [0.5 * float(epsp(3.0 - 1.0, 10.0, 2.5)) * SRM.threshold] * 2 + [
        SRM.threshold * (0.5 * float(epsp(5.0, 10.0, 2.5)) + 0.4 * float(epsp(2.0, 10.0, 2.5)))]
    np.testing.assert_allclose(run.recorded_u[:, 0], expected, rtol=1e-12)
    with pytest.raises(ParameterError, match="record_times_ms"):
        run_srm_network(trains, SRMNetworkState.initial(w), SRM,
                        record_times_ms=np.array([6.0, 3.0]))


def test_repeated_presentation_equals_one_run_on_the_repeated_input():
    """A 100 ms block presented over 250 ms (twice, then half) with STDP and inhibition is
    one run on the input repeated by hand: same spikes, weights, state and recordings."""
    from spikewave.plasticity.stdp import STDPParams
    from spikewave.sim.eventdriven import present_repeated, repeat_times
    from spikewave.sim.spiketrains import homogeneous_poisson

    block = homogeneous_poisson(40, 60.0, 100.0, rng=4)
    srm = SRMParams(threshold=6.0, cut_taus=1e9)
    w0 = np.random.default_rng(5).uniform(0.3, 0.9, (2, 40))
    stdp = STDPParams(a_plus=0.02, a_minus=0.02)
    rec = np.array([10.0, 150.0, 240.0])
    rep = present_repeated(block, 250.0, SRMNetworkState.initial(w0), srm, stdp, 0.5,
                           record_times_ms=rec, ipsp="step")
    times = repeat_times(block.times_ms, 100.0, 250.0)
    aff = np.tile(block.afferents, 3)[:times.size]
    whole = run_srm_network(trains_of(times, aff, 40, 250.0), SRMNetworkState.initial(w0),
                            srm, stdp, 0.5, ipsp="step", record_times_ms=rec)
    assert rep.spike_times_ms.size > 5
    np.testing.assert_allclose(rep.spike_times_ms, whole.spike_times_ms, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(rep.spike_neurons, whole.spike_neurons)
    np.testing.assert_allclose(rep.state.weights, whole.state.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rep.recorded_u, whole.recorded_u, rtol=1e-9, atol=1e-9)
    assert rep.state.t_ms == pytest.approx(250.0)
    np.testing.assert_array_equal(repeat_times(np.array([5.0, 60.0]), 100.0, 250.0),
                                  [5.0, 60.0, 105.0, 160.0, 205.0])
