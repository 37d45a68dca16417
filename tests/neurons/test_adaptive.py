"""Adaptive-threshold LIF: reduces to the LIF, converges to its fixed point, paths agree."""

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave.neurons.adaptive import (
    ALIFParams,
    alif_steady_isi_ms,
    simulate_alif_clock,
    simulate_alif_exact,
)
from spikewave.neurons.lif import LIFParams, lif_rate_hz


def test_without_jump_it_is_the_lif():
    p = ALIFParams(theta_jump_mv=0.0)
    current = 3.0
    run = simulate_alif_exact(p, current, 500.0)
    isi = 1000.0 / float(lif_rate_hz(current, p.lif))
    np.testing.assert_allclose(run.isi_ms, isi, rtol=1e-10)
    assert alif_steady_isi_ms(p, current) == pytest.approx(isi, rel=1e-10)


@pytest.mark.parametrize(("jump", "tau_theta", "current"),
                         [(3.0, 100.0, 3.0), (1.0, 50.0, 2.0), (8.0, 300.0, 5.0)])
def test_exact_isis_converge_to_the_fixed_point(jump, tau_theta, current):
    p = ALIFParams(theta_jump_mv=jump, tau_theta_ms=tau_theta)
    run = simulate_alif_exact(p, current, 40 * tau_theta)
    steady = alif_steady_isi_ms(p, current)
    assert run.isi_ms[-1] == pytest.approx(steady, rel=1e-8)
    # adaptation: intervals lengthen monotonically towards the fixed point
    assert np.all(np.diff(run.isi_ms) >= -1e-9)
    assert run.isi_ms[0] < steady


def test_clock_path_agrees_with_exact_path():
    p = ALIFParams()
    exact = simulate_alif_exact(p, 3.0, 300.0)
    clock = simulate_alif_clock(p, 3.0, 300.0, dt_ms=0.005)
    n = min(exact.spike_times_ms.size, clock.spike_times_ms.size)
    assert n > 10
    # grid rounding accumulates by at most one step per spike
    lag = clock.spike_times_ms[:n] - exact.spike_times_ms[:n]
    assert np.all(np.abs(lag) <= 0.005 * np.arange(1, n + 1) + 1e-9)
    # the threshold just after each spike equals V_th + the exact adaptation
    idx = np.searchsorted(clock.t_ms, clock.spike_times_ms[:5] - 1e-9)
    np.testing.assert_allclose(clock.threshold_mv[idx], p.lif.v_th_mv
                               + exact.adaptation_after_spike_mv[:5], atol=0.01)


def test_subthreshold_is_silent():
    p = ALIFParams(lif=LIFParams())
    assert simulate_alif_exact(p, 0.5 * p.lif.rheobase_na, 1000.0).spike_times_ms.size == 0
    assert alif_steady_isi_ms(p, 0.5 * p.lif.rheobase_na) == np.inf


def test_bad_input():
    p = ALIFParams()
    with pytest.raises(ParameterError, match="tau_theta_ms"):
        ALIFParams(tau_theta_ms=0.0)
    with pytest.raises(ParameterError, match="theta_jump_mv"):
        ALIFParams(theta_jump_mv=-1.0)
    with pytest.raises(ParameterError, match="current_na"):
        simulate_alif_clock(p, np.ones(3), 10.0, 0.01)
    with pytest.raises(ParameterError, match="current_na"):
        simulate_alif_exact(p, np.nan, 10.0)
