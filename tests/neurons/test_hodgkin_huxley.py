"""Hodgkin-Huxley: resting state, schemes against scipy's solve_ivp, orders of convergence.

The references here do not use the module's own rate functions or derivatives: the rates
are the published formulas (NEURON's ``hh.mod``, REFERENCES.md section 6.2) written out
below, and ``solve_ivp`` integrates the equations built from them.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from spikewave import ParameterError
from spikewave.neurons.hodgkin_huxley import (
    HHParams,
    _derivs,
    _rates,
    count_spikes_step,
    resting_state,
    simulate_hh,
)


def published_rates(v):
    """alpha/beta of m, h, n (1/ms) at V (mV), modern convention (rest near -65 mV)."""

    def linoid(x, k):  # x / (1 - exp(-x / k)); its limit k at x = 0
        return k if x == 0.0 else x / (1.0 - math.exp(-x / k))

    return (0.1 * linoid(v + 40.0, 10.0), 4.0 * math.exp(-(v + 65.0) / 18.0),
            0.07 * math.exp(-(v + 65.0) / 20.0), 1.0 / (1.0 + math.exp(-(v + 35.0) / 10.0)),
            0.01 * linoid(v + 55.0, 10.0), 0.125 * math.exp(-(v + 65.0) / 80.0))


def hh_rhs(p: HHParams, current):
    """The right-hand side ``d[V, m, h, n]/dt`` from the published equations."""
    phi = 3.0 ** ((p.temperature_c - 6.3) / 10.0)

    def f(_t, y):
        v, m, h, n = y
        am, bm, ah, bh, an, bn = published_rates(v)
        i_na = p.g_na_ms_cm2 * m**3 * h * (v - p.e_na_mv)
        i_k = p.g_k_ms_cm2 * n**4 * (v - p.e_k_mv)
        i_l = p.g_l_ms_cm2 * (v - p.e_l_mv)
        return [(current - i_na - i_k - i_l) / p.c_m_uf_cm2,
                phi * (am * (1 - m) - bm * m), phi * (ah * (1 - h) - bh * h),
                phi * (an * (1 - n) - bn * n)]

    return f


def test_rates_equal_the_published_formulas():
    for v in np.concatenate([np.linspace(-100.0, 60.0, 1601), [-40.0, -55.0, -65.0]]):
        np.testing.assert_allclose(_rates(v), published_rates(float(v)), rtol=1e-12, atol=0)
    # beside the removable singularities: the first-order expansion, not the constant
    for v0, i in ((-40.0, 0), (-55.0, 4)):
        for dv in (-5e-7, -1e-8, 1e-8, 5e-7):
            x = dv / 10.0
            expected = (0.1 if i == 0 else 0.01) * 10.0 * (1.0 + x / 2.0 + x * x / 12.0)
            assert _rates(v0 + dv)[i] == pytest.approx(expected, rel=1e-13, abs=0)


@settings(max_examples=50, deadline=None)
@given(v=st.floats(-90.0, 50.0), m=st.floats(0.0, 1.0), h=st.floats(0.0, 1.0),
       n=st.floats(0.0, 1.0), current=st.floats(-20.0, 50.0),
       scale=st.floats(0.5, 2.0), temperature=st.floats(0.0, 30.0))
def test_derivatives_equal_the_published_equations(v, m, h, n, current, scale, temperature):
    p = HHParams(c_m_uf_cm2=scale, g_na_ms_cm2=120.0 * scale, g_k_ms_cm2=36.0 / scale,
                 g_l_ms_cm2=0.3 * scale, e_na_mv=55.0, e_k_mv=-72.0, e_l_mv=-49.0,
                 temperature_c=temperature)
    got = _derivs(v, m, h, n, current, p.as_array())
    np.testing.assert_allclose(got, hh_rhs(p, current)(0.0, [v, m, h, n]), rtol=1e-9,
                               atol=1e-9)


def test_resting_state_matches_references():
    v, m, h, n = resting_state(HHParams())
    assert v == pytest.approx(-64.996, abs=1e-3)
    assert (m, h, n) == pytest.approx((0.0530, 0.5960, 0.3177), abs=1e-4)


def test_rates_are_continuous_at_the_removable_singularities():
    for v in (-40.0, -55.0):
        lo, hi = _rates(v - 1e-6), _rates(v + 1e-6)
        at = _rates(v)
        np.testing.assert_allclose(at, lo, rtol=1e-6)
        np.testing.assert_allclose(at, hi, rtol=1e-6)
    assert _rates(-40.0)[0] == pytest.approx(1.0)  # alpha_m(-40) = 0.1 * 10
    assert _rates(-55.0)[4] == pytest.approx(0.1)  # alpha_n(-55) = 0.01 * 10


def _scipy_reference(p, current, duration, t_eval):
    sol = solve_ivp(hh_rhs(p, current), (0, duration), resting_state(p), method="DOP853",
                    rtol=1e-11, atol=1e-11, t_eval=t_eval, max_step=0.01)
    return sol.y


def test_rk4_trajectory_matches_solve_ivp():
    p = HHParams()
    run = simulate_hh(p, 10.0, 30.0, dt_ms=0.01, record=True)
    ref = _scipy_reference(p, 10.0, 30.0, run.t_ms)
    # the upstroke is steep (~400 mV/ms): 1e-3 mV is a phase error of a few ns
    assert np.max(np.abs(run.v_mv - ref[0])) < 1e-3
    assert np.max(np.abs(run.n - ref[3])) < 1e-6


@pytest.mark.parametrize(("scheme", "order", "dts"),
                         [("rk4", 4, (0.04, 0.02)), ("exponential_euler", 1, (0.01, 0.005))])
def test_order_of_convergence(scheme, order, dts):
    # smooth dynamics (relaxation to rest from +5 mV) so that the error is the scheme's
    p = HHParams()
    duration = 30.0
    x0 = resting_state(p) + np.array([5.0, 0.0, 0.0, 0.0])
    ref = solve_ivp(hh_rhs(p, 0.0), (0, duration), x0, method="DOP853", rtol=1e-12,
                    atol=1e-12, max_step=0.01).y[:, -1]
    errs = [abs(simulate_hh(p, 0.0, duration, dt, scheme, state0=x0).final_state[0] - ref[0])
            for dt in dts]
    ratio = errs[0] / errs[1]
    assert 2 ** order * 0.7 < ratio < 2 ** order * 1.4


def test_spike_times_are_upward_zero_crossings():
    p = HHParams()
    run = simulate_hh(p, 10.0, 100.0, record=True)
    s = run.spike_times_ms
    assert s.size >= 5
    for t in s:
        k = int(t / 0.01)
        assert run.v_mv[k] < 0.0 <= run.v_mv[k + 1]


def test_single_spike_threshold_brackets_reference():
    p = HHParams()
    # REFERENCES 6.2: 2.2403 uA/cm^2 for a 500 ms step from rest
    assert count_spikes_step(p, 2.22) == 0
    assert count_spikes_step(p, 2.26) == 1
    # onset of repetitive firing 6.2538: 3 spikes then rest at 6.2, >= 10 above
    assert count_spikes_step(p, 6.2) < 10
    assert count_spikes_step(p, 6.3) >= 10


def test_current_per_step_and_temperature():
    p = HHParams()
    n = 5000
    cur = np.zeros(n)
    cur[1000:1100] = 20.0  # a 1 ms pulse
    assert simulate_hh(p, cur, 50.0).spike_times_ms.size == 1
    warm = HHParams(temperature_c=16.3)  # rates x3: faster spikes, more of them
    assert (simulate_hh(warm, 15.0, 200.0).spike_times_ms.size
            > simulate_hh(p, 15.0, 200.0).spike_times_ms.size)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"dt_ms": 0.5}, "dt_ms"), ({"dt_ms": 0.0}, "dt_ms"), ({"scheme": "euler"}, "scheme"),
     ({"current_ua_cm2": np.ones(7)}, "current_ua_cm2"),
     ({"current_ua_cm2": math.nan}, "current_ua_cm2"), ({"state0": np.zeros(3)}, "state0")],
)
def test_bad_input(kwargs, match):
    args = {"current_ua_cm2": 1.0, "duration_ms": 10.0} | kwargs
    with pytest.raises(ParameterError, match=match):
        simulate_hh(HHParams(), **args)


@pytest.mark.parametrize(("scheme", "dt", "tol"), [("rk4", 0.02, 5e-5),
                                                   ("exponential_euler", 0.002, 2e-3)])
def test_schemes_at_another_temperature_and_conductances(scheme, dt, tol):
    """At 18.3 degC (rates x 3) with other conductances and reversal potentials, both
    schemes follow solve_ivp on the published equations (relaxation from +4 mV)."""
    p = HHParams(c_m_uf_cm2=1.3, g_na_ms_cm2=100.0, g_k_ms_cm2=30.0, g_l_ms_cm2=0.5,
                 e_na_mv=52.0, e_k_mv=-75.0, e_l_mv=-60.0, temperature_c=18.3)
    x0 = resting_state(p) + np.array([4.0, 0.0, 0.0, 0.0])
    run = simulate_hh(p, 0.0, 10.0, dt, scheme, state0=x0, record=True)
    ref = solve_ivp(hh_rhs(p, 0.0), (0.0, 10.0), x0, method="DOP853", rtol=1e-12,
                    atol=1e-12, t_eval=run.t_ms, max_step=0.01).y
    assert np.max(np.abs(run.v_mv - ref[0])) < tol
    assert np.max(np.abs(run.m - ref[1])) < tol and np.max(np.abs(run.h - ref[2])) < tol
    assert np.max(np.abs(run.n - ref[3])) < tol
    np.testing.assert_array_equal([run.v_mv[0], run.m[0], run.h[0], run.n[0]], x0)
    # without recording, the final state is the recorded trajectory's last point
    final = simulate_hh(p, 0.0, 10.0, dt, scheme, state0=x0).final_state
    np.testing.assert_array_equal(final, [run.v_mv[-1], run.m[-1], run.h[-1], run.n[-1]])


def test_resting_state_is_a_fixed_point_of_the_published_equations():
    p = HHParams(e_l_mv=-58.0, g_l_ms_cm2=0.4, temperature_c=12.0)
    x = resting_state(p)
    np.testing.assert_allclose(hh_rhs(p, 0.0)(0.0, x), 0.0, atol=1e-9)
    assert -70.0 < x[0] < -55.0


def test_count_spikes_step_lasts_500_ms_by_default():
    # at 9.2 uA/cm^2 the 34th spike comes at 500.8 ms: just after a 500 ms step
    p = HHParams()
    assert simulate_hh(p, 9.2, 501.0).spike_times_ms.size == 34
    assert count_spikes_step(p, 9.2) == 33
    assert count_spikes_step(p, 9.2, duration_ms=501.0) == 34
