"""The exact LIF and adaptive-LIF solvers against references written here, independently.

The references integrate the same equations piece by piece between events and find each
threshold crossing with a numerical root finder (Brent's method on the free solution, or a
fine scan of the adaptive gap function followed by bisection) instead of the closed-form
logarithm of the module. Property tests draw random parameters (thresholds, resets, time
constants and refractory periods away from the defaults), initial potentials anywhere below
or above threshold, mixed constant currents and excitatory or inhibitory input jumps.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from spikewave.neurons.adaptive import ALIFParams, simulate_alif_exact
from spikewave.neurons.lif import (
    LIFParams,
    rate_from_spikes_hz,
    simulate_lif_clock,
    simulate_lif_exact,
)

# ----------------------------------------------------------------------------- LIF reference


def reference_lif(p: LIFParams, duration, current, times, weights, v0):
    """Spike times of ``tau dV/dt = E_L - V + R I`` with jumps, by Brent root finding.

    Conventions of the model: a start at or above threshold fires at 0; inputs arriving
    while refractory (up to and including the end of the refractory period) are ignored;
    a crossing under the current that falls exactly on an input comes before it.
    """
    v_inf = p.e_l_mv + p.r_mohm * current
    out = []
    t, v = 0.0, v0
    free_at = -math.inf  # refractory until this time
    if v >= p.v_th_mv:
        out.append(0.0)
        v, free_at = p.v_reset_mv, p.t_ref_ms
    events = [*zip(times, weights, strict=True), (duration, None)]
    for t_event, w in events:
        while True:
            if t < free_at:  # refractory: held at reset until free_at
                if free_at >= t_event:
                    break
                t, v = free_at, p.v_reset_mv
            span = t_event - t

            def gap(s, v=v):
                return v_inf + (v - v_inf) * math.exp(-s / p.tau_m_ms) - p.v_th_mv

            if span > 0 and gap(span) >= 0.0 and gap(0.0) < 0.0:
                s = brentq(gap, 0.0, span, xtol=1e-14, rtol=1e-15)
                if t + s < duration:
                    out.append(t + s)
                    t, v, free_at = t + s, p.v_reset_mv, t + s + p.t_ref_ms
                    continue
            v = v_inf + (v - v_inf) * math.exp(-span / p.tau_m_ms)
            t = t_event
            break
        if w is None:
            break
        if t < free_at:  # ignored while refractory
            t = t_event
            continue
        v += w
        if v >= p.v_th_mv:
            out.append(t)
            v, free_at = p.v_reset_mv, t + p.t_ref_ms
    return np.asarray(out)


@st.composite
def lif_cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    e_l = rng.uniform(-80.0, -50.0)
    v_th = e_l + rng.uniform(3.0, 30.0)
    p = LIFParams(tau_m_ms=rng.uniform(1.0, 50.0), e_l_mv=e_l, r_mohm=rng.uniform(0.5, 40.0),
                  v_th_mv=v_th, v_reset_mv=rng.uniform(e_l - 15.0, v_th - 0.5),
                  t_ref_ms=float(rng.choice([0.0, rng.uniform(0.0, 6.0)])))
    # drive from well below to several times the rheobase, sometimes negative
    current = float(rng.uniform(-0.5, 4.0) * p.rheobase_na)
    v0 = float(rng.uniform(min(e_l, p.v_reset_mv) - 10.0, v_th + 3.0))
    duration = 120.0
    n_in = int(rng.integers(0, 40))
    times = np.sort(rng.uniform(0.0, duration, n_in))
    weights = rng.normal(0.1, 0.4, n_in) * (v_th - e_l)
    return p, duration, current, times, weights, v0


def _check_lif(case):
    p, duration, current, times, weights, v0 = case
    got = simulate_lif_exact(p, duration, current_na=current, input_times_ms=times,
                             input_weights_mv=weights, v0_mv=v0)
    ref = reference_lif(p, duration, current, times, weights, v0)
    assert got.shape == ref.shape, (got, ref)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)


@settings(max_examples=60, deadline=None)
@given(lif_cases())
def test_exact_lif_equals_the_root_finding_reference(case):
    _check_lif(case)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(lif_cases())
def test_exact_lif_equals_the_root_finding_reference_long(case):
    _check_lif(case)


def test_crossing_from_an_initial_potential_above_reset():
    """From -55 mV under 2 nA (V_inf = -45 mV): V reaches -50 mV after tau ln 2."""
    p = LIFParams()
    spikes = simulate_lif_exact(p, 10.0, current_na=2.0, v0_mv=-55.0)
    np.testing.assert_allclose(spikes, [10.0 * math.log(2.0)], rtol=1e-12)
    # after the spike the next one starts from the reset: t_ref + tau ln 4 later
    spikes = simulate_lif_exact(p, 40.0, current_na=2.0, v0_mv=-55.0)
    np.testing.assert_allclose(np.diff(spikes), 2.0 + 10.0 * math.log(4.0), rtol=1e-12)


def test_crossing_after_a_jump_starts_from_the_jumped_potential():
    """A jump of 8 mV at 1 ms moves V from its free trajectory; the crossing under the
    current is computed from there (not from the reset, nor from before the jump)."""
    p = LIFParams(t_ref_ms=0.0)
    current = 1.6  # V_inf = -49 mV: just above threshold
    spikes = simulate_lif_exact(p, 100.0, current_na=current, input_times_ms=np.array([1.0]),
                                input_weights_mv=8.0)
    v1 = -49.0 + (-65.0 + 49.0) * math.exp(-0.1) + 8.0
    expected = 1.0 + 10.0 * math.log((v1 + 49.0) / (-50.0 + 49.0))
    assert spikes[0] == pytest.approx(expected, rel=1e-12)


def test_non_default_threshold_and_reset():
    """Threshold 1.7 mV above a rest of 0, reset below rest at -2: the ISI is
    tau ln((R I - V_reset) / (R I - V_th)) + t_ref with these numbers."""
    p = LIFParams(tau_m_ms=7.0, e_l_mv=0.0, r_mohm=3.0, v_th_mv=1.7, v_reset_mv=-2.0,
                  t_ref_ms=0.4)
    ri = 3.0 * 0.9
    spikes = simulate_lif_exact(p, 200.0, current_na=0.9, v0_mv=-2.0)
    isi = 0.4 + 7.0 * math.log((ri + 2.0) / (ri - 1.7))
    assert spikes.size > 5
    np.testing.assert_allclose(np.diff(spikes), isi, rtol=1e-11)
    assert spikes[0] == pytest.approx(isi - 0.4, rel=1e-11)


# ----------------------------------------------------------------------------- adaptive LIF


def reference_alif(p: ALIFParams, current, duration):
    """Spike times and adaptation after each spike: scan the gap
    ``V(s) - V_th - a(s)`` on a fine grid for its first sign change, then bisect."""
    q = p.lif
    v_inf = q.e_l_mv + q.r_mohm * current
    t, v, a = 0.0, q.e_l_mv, 0.0
    spikes, adapt = [], []
    step = 0.01 * min(q.tau_m_ms, p.tau_theta_ms)
    while t < duration:
        s_grid = np.arange(0.0, duration - t + step, step)
        gap = (v_inf + (v - v_inf) * np.exp(-s_grid / q.tau_m_ms) - q.v_th_mv
               - a * np.exp(-s_grid / p.tau_theta_ms))
        above = np.flatnonzero(gap >= 0.0)
        if above.size == 0:
            break
        j = above[0]
        if j == 0:
            s = 0.0
        else:
            lo, hi = s_grid[j - 1], s_grid[j]
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if mid in (lo, hi):
                    break
                g = (v_inf + (v - v_inf) * math.exp(-mid / q.tau_m_ms) - q.v_th_mv
                     - a * math.exp(-mid / p.tau_theta_ms))
                lo, hi = (lo, mid) if g >= 0.0 else (mid, hi)
            s = hi
        if t + s >= duration:
            break
        a = a * math.exp(-s / p.tau_theta_ms) + p.theta_jump_mv
        spikes.append(t + s)
        adapt.append(a)
        t = t + s + q.t_ref_ms
        v = q.v_reset_mv
        a *= math.exp(-q.t_ref_ms / p.tau_theta_ms)
    return np.asarray(spikes), np.asarray(adapt)


@st.composite
def alif_cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    e_l = rng.uniform(-75.0, -55.0)
    v_th = e_l + rng.uniform(4.0, 25.0)
    lif = LIFParams(tau_m_ms=rng.uniform(2.0, 30.0), e_l_mv=e_l, r_mohm=rng.uniform(1.0, 20.0),
                    v_th_mv=v_th, v_reset_mv=rng.uniform(e_l - 10.0, v_th - 1.0),
                    t_ref_ms=rng.uniform(0.0, 4.0))
    p = ALIFParams(lif=lif, theta_jump_mv=rng.uniform(0.0, 8.0),
                   tau_theta_ms=rng.uniform(5.0, 300.0))
    current = float(rng.uniform(0.5, 4.0) * lif.rheobase_na)
    return p, current, 150.0


def _check_alif(case):
    p, current, duration = case
    run = simulate_alif_exact(p, current, duration)
    ref_t, ref_a = reference_alif(p, current, duration)
    assert run.spike_times_ms.shape == ref_t.shape
    np.testing.assert_allclose(run.spike_times_ms, ref_t, rtol=0, atol=1e-8)
    np.testing.assert_allclose(run.adaptation_after_spike_mv, ref_a, rtol=1e-9, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(alif_cases())
def test_exact_alif_equals_the_scan_and_bisect_reference(case):
    _check_alif(case)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(alif_cases())
def test_exact_alif_equals_the_scan_and_bisect_reference_long(case):
    _check_alif(case)


def test_alif_first_spikes_by_hand():
    """Reset at rest, no refractory period: the first spike is the LIF's,
    ``tau ln(R I / (R I - (V_th - E_L)))``; the threshold then sits 4 mV higher, decaying
    with tau_theta = 50 ms, and the second spike solves the gap equation."""
    lif = LIFParams(tau_m_ms=10.0, e_l_mv=-70.0, r_mohm=10.0, v_th_mv=-60.0,
                    v_reset_mv=-70.0, t_ref_ms=0.0)
    p = ALIFParams(lif=lif, theta_jump_mv=4.0, tau_theta_ms=50.0)
    run = simulate_alif_exact(p, 2.0, 60.0)  # R I = 20 mV
    t1 = 10.0 * math.log(20.0 / 10.0)
    assert run.spike_times_ms[0] == pytest.approx(t1, rel=1e-12)
    assert run.adaptation_after_spike_mv[0] == pytest.approx(4.0, rel=1e-12)
    s = brentq(lambda s: -50.0 - 20.0 * math.exp(-s / 10.0) + 60.0
               - 4.0 * math.exp(-s / 50.0), 0.0, 100.0, xtol=1e-14)
    assert run.spike_times_ms[1] == pytest.approx(t1 + s, rel=1e-12)


# ----------------------------------------------------------------------------- clock path


def test_clock_path_with_other_parameters_follows_the_exact_path():
    """Threshold, reset, refractory period and time constant away from the defaults: each
    clock spike lags the exact one by less than one step per spike, V is held at the reset
    for t_ref after each spike, and the trace shows the threshold at spike steps."""
    p = LIFParams(tau_m_ms=7.0, e_l_mv=0.0, r_mohm=3.0, v_th_mv=1.7, v_reset_mv=-2.0,
                  t_ref_ms=0.4)
    dt = 0.01
    exact = simulate_lif_exact(p, 60.0, current_na=0.9)
    run = simulate_lif_clock(p, 60.0, [0.9, 0.5], dt_ms=dt, record_v=True)
    clock = run.spike_times_ms[0]
    n = min(exact.size, clock.size)
    assert n >= 5 and abs(exact.size - clock.size) <= 1
    lag = clock[:n] - exact[:n]
    assert np.all(lag >= -1e-9) and np.all(lag <= dt * np.arange(1, n + 1) + 1e-9)
    assert run.spike_times_ms[1].size == 0  # 0.5 nA: V_inf = 1.5 mV < 1.7 mV
    steps = np.rint(clock / dt).astype(int) - 1
    np.testing.assert_array_equal(run.v_mv[steps, 0], p.v_th_mv)
    held = np.concatenate([np.arange(k + 1, k + 41) for k in steps])  # 0.4 ms
    held = held[held < run.v_mv.shape[0]]
    np.testing.assert_array_equal(run.v_mv[held, 0], p.v_reset_mv)
    free = np.setdiff1d(np.arange(run.v_mv.shape[0]), np.concatenate([steps, held]))
    assert np.all(run.v_mv[free, 0] < p.v_th_mv) and np.all(run.v_mv[free, 0] > p.v_reset_mv)
    np.testing.assert_allclose(run.t_ms, dt * np.arange(1, 6001))
    # the silent neuron relaxes towards V_inf = R I exactly
    np.testing.assert_allclose(run.v_mv[-1, 1], 1.5 * (1 - math.exp(-60.0 / 7.0)), rtol=1e-9)


def test_rate_from_spikes_counts_intervals_after_the_skipped_spikes():
    spikes = np.array([0.0, 3.0, 13.0, 23.0])
    assert rate_from_spikes_hz(spikes) == pytest.approx(3000.0 / 23.0)
    assert rate_from_spikes_hz(spikes, skip=1) == pytest.approx(100.0)
    assert rate_from_spikes_hz(spikes[:2]) == pytest.approx(1000.0 / 3.0)
    assert rate_from_spikes_hz(spikes, skip=3) == 0.0


def test_alif_clock_trace_marks_spikes_at_the_threshold_reached():
    """At a spike step the trace shows the threshold the potential reached (V_th + a
    before the jump), the threshold trace already the jumped one; V is held at the reset
    for t_ref; between spikes V stays below the threshold."""
    from spikewave.neurons.adaptive import simulate_alif_clock

    lif = LIFParams(tau_m_ms=8.0, e_l_mv=-60.0, r_mohm=5.0, v_th_mv=-52.0, v_reset_mv=-63.0,
                    t_ref_ms=0.5)
    p = ALIFParams(lif=lif, theta_jump_mv=2.5, tau_theta_ms=40.0)
    dt = 0.01
    run = simulate_alif_clock(p, 4.0, 100.0, dt_ms=dt)
    steps = np.rint(run.spike_times_ms / dt).astype(int) - 1
    assert steps.size >= 5
    np.testing.assert_allclose(run.t_ms, dt * np.arange(1, 10_001))
    np.testing.assert_allclose(run.v_mv[steps], run.threshold_mv[steps] - 2.5, atol=1e-12)
    assert np.all(run.threshold_mv[steps] >= -52.0 + 2.5)
    held = np.concatenate([np.arange(k + 1, k + 51) for k in steps])
    held = held[held < run.v_mv.size]
    np.testing.assert_array_equal(run.v_mv[held], -63.0)
    free = np.setdiff1d(np.arange(run.v_mv.size), np.concatenate([steps, held]))
    assert np.all(run.v_mv[free] < run.threshold_mv[free])
    # the threshold relaxes with tau_theta between spikes
    k = steps[1] + 60
    np.testing.assert_allclose((run.threshold_mv[k + 1] + 52.0) / (run.threshold_mv[k] + 52.0),
                               math.exp(-dt / 40.0), rtol=1e-12)
