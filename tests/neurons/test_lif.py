"""Continuous-time LIF: exact path against closed forms, clock path against exact path."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikewave import ParameterError
from spikewave.neurons.lif import (
    LIFParams,
    _lif_exact_core,
    lif_free_solution,
    lif_rate_hz,
    rate_from_spikes_hz,
    simulate_lif_clock,
    simulate_lif_exact,
)


def test_free_solution_satisfies_the_ode():
    p = LIFParams()
    t = np.linspace(0.0, 50.0, 5001)
    v = lif_free_solution(-70.0, t, 2.0, p)
    dvdt = np.gradient(v, t)
    rhs = (p.e_l_mv - v + p.r_mohm * 2.0) / p.tau_m_ms
    assert np.max(np.abs(dvdt - rhs)[1:-1]) < 1e-4
    assert v[0] == pytest.approx(-70.0)


@settings(max_examples=40, deadline=None)
@given(
    tau=st.floats(1.0, 50.0),
    t_ref=st.floats(0.0, 5.0),
    reset_below=st.floats(0.0, 10.0),
    factor=st.floats(1.05, 6.0),
)
def test_exact_isis_equal_the_closed_form(tau, t_ref, reset_below, factor):
    p = LIFParams(tau_m_ms=tau, t_ref_ms=t_ref, v_reset_mv=-65.0 - reset_below)
    current = factor * p.rheobase_na
    spikes = simulate_lif_exact(p, 2000.0, current_na=current, v0_mv=p.v_reset_mv)
    expected_isi = 1000.0 / float(lif_rate_hz(current, p))
    assert spikes.size >= 3
    np.testing.assert_allclose(np.diff(spikes), expected_isi, rtol=1e-9)
    # the first spike (no refractory period before it) comes t_ref earlier
    assert spikes[0] == pytest.approx(expected_isi - t_ref, rel=1e-9, abs=1e-9)


def test_subthreshold_current_never_fires():
    p = LIFParams()
    assert simulate_lif_exact(p, 10_000.0, current_na=0.999999 * p.rheobase_na).size == 0
    assert lif_rate_hz(0.999 * p.rheobase_na, p) == 0.0


def test_known_spike_time_from_two_jumps():
    # rest 0, threshold 1, tau 10: 0.6 at t=0 decays to 0.6 e^{-0.1} = 0.5429 at t=1,
    # the second jump of 0.6 reaches 1.1429 >= 1: one spike exactly at t = 1 ms.
    p = LIFParams(tau_m_ms=10, e_l_mv=0, v_th_mv=1, v_reset_mv=0, t_ref_ms=0)
    out = simulate_lif_exact(p, 20.0, input_times_ms=np.array([0.0, 1.0]), input_weights_mv=0.6)
    np.testing.assert_array_equal(out, [1.0])
    # 8 ms apart: 0.6 e^{-0.8} + 0.6 = 0.87 < 1: no spike
    out = simulate_lif_exact(p, 20.0, input_times_ms=np.array([0.0, 8.0]), input_weights_mv=0.6)
    assert out.size == 0


def test_inputs_during_the_refractory_period_are_ignored():
    p = LIFParams(tau_m_ms=10, e_l_mv=0, v_th_mv=1, v_reset_mv=0, t_ref_ms=5)
    times = np.array([1.0, 2.0, 7.0])  # spike at 1; the input at 2 falls in [1, 6)
    out = simulate_lif_exact(p, 20.0, input_times_ms=times, input_weights_mv=np.array(
        [1.5, 1.5, 0.5]))
    np.testing.assert_array_equal(out, [1.0])


def test_compiled_kernel_equals_its_python_source():
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 500.0, 20_000))
    weights = rng.normal(0.2, 0.5, times.size)
    p = LIFParams()
    args = (p.tau_m_ms, p.e_l_mv, p.r_mohm, p.v_th_mv, p.v_reset_mv, p.t_ref_ms, 0.8,
            p.e_l_mv, 500.0, times, weights)
    fast = _lif_exact_core(*args)
    slow = _lif_exact_core.py_func(*args)
    assert fast.size > 10
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("factor", [1.2, 2.0, 4.0])
def test_clock_path_matches_exact_spikes_within_one_step(factor):
    p = LIFParams()
    dt = 0.01
    exact = simulate_lif_exact(p, 200.0, current_na=factor * p.rheobase_na)
    clock = simulate_lif_clock(p, 200.0, factor * p.rheobase_na, dt_ms=dt).spike_times_ms[0]
    n = min(exact.size, clock.size)
    assert abs(exact.size - clock.size) <= 1 and n >= 3
    # each ISI is rounded up to the grid, so the k-th spike lags by at most k * dt
    lag = clock[:n] - exact[:n]
    assert np.all(lag >= -1e-9) and np.all(lag <= dt * np.arange(1, n + 1) + 1e-9)


def test_euler_converges_at_first_order_and_exact_update_is_exact():
    p = LIFParams()
    current = 0.9 * p.rheobase_na  # subthreshold: compare V(t = 20 ms) on the grid
    ref = float(lif_free_solution(p.e_l_mv, 20.0, current, p))
    errs = []
    for dt in (0.04, 0.02, 0.01):
        euler = simulate_lif_clock(p, 20.0, current, dt_ms=dt, method="euler", record_v=True)
        errs.append(abs(euler.v_mv[-1, 0] - ref))
        exact = simulate_lif_clock(p, 20.0, current, dt_ms=dt, record_v=True)
        assert exact.v_mv[-1, 0] == pytest.approx(ref, abs=1e-10)
    assert 1.8 < errs[0] / errs[1] < 2.2 and 1.8 < errs[1] / errs[2] < 2.2


def test_rate_from_spikes():
    assert rate_from_spikes_hz(np.array([0.0, 10.0, 20.0])) == pytest.approx(100.0)
    assert rate_from_spikes_hz(np.array([5.0])) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_times_ms": np.array([2.0, 1.0]), "input_weights_mv": 1.0}, "sorted"),
        ({"input_times_ms": np.array([-1.0, 1.0]), "input_weights_mv": 1.0}, "input_times_ms"),
        ({"input_times_ms": np.array([1.0, 200.0]), "input_weights_mv": 1.0}, "duration_ms"),
        ({"input_times_ms": np.array([1.0, 2.0]), "input_weights_mv": [1.0]}, "shape"),
        ({"input_times_ms": np.array([1.0, 2.0])}, "input_weights_mv"),
        ({"current_na": math.nan}, "current_na"),
        ({"v0_mv": math.inf}, "v0_mv"),
    ],
)
def test_exact_path_rejects_bad_input(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        simulate_lif_exact(LIFParams(), 100.0, **kwargs)


def test_clock_path_rejects_bad_input():
    p = LIFParams()
    with pytest.raises(ParameterError, match="dt_ms"):
        simulate_lif_clock(p, 10.0, 1.0, dt_ms=0.0)
    with pytest.raises(ParameterError, match="method"):
        simulate_lif_clock(p, 10.0, 1.0, method="rk9")
    with pytest.raises(ParameterError, match="current_na"):
        simulate_lif_clock(p, 10.0, [1.0, math.inf])
    with pytest.raises(ParameterError, match="duration_ms"):
        simulate_lif_clock(p, -1.0, 1.0)
