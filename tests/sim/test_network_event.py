"""The exact event-driven network engine: its root finder against dense sampling, closed
forms, the clock-driven engine as dt shrinks, STDP, and continuation."""

import math

import numpy as np
import pytest
from test_network_clock import CUBA, small_network

from spikewave._validation import ParameterError
from spikewave.plasticity.stdp import STDPParams, apply_spike_pairs
from spikewave.sim.connectivity import Connectivity
from spikewave.sim.exp_crossing import first_crossing
from spikewave.sim.network import Network, NetworkState, NeuronParams, PoissonDrive, Projection
from spikewave.sim.network_clock import run_clock
from spikewave.sim.network_event import run_event


def test_first_crossing_against_dense_sampling():
    rng = np.random.default_rng(0)
    grid = np.linspace(0.0, 300.0, 100_001)  # 3 us
    rates = (1 / 20, 1 / 5, 1 / 10)
    found = 0
    for trial in range(150):
        A, B, C = rng.normal(0.0, 5.0, 3)
        if trial % 3 == 0:
            C = 0.0
        theta = rng.normal(0.0, 3.0)
        s = first_crossing(A, B, C, *rates, theta)
        u = A * np.exp(-rates[0] * grid) + B * np.exp(-rates[1] * grid) + C * np.exp(
            -rates[2] * grid)
        hit = np.flatnonzero(u >= theta)
        if hit.size == 0:
            assert math.isinf(s)
            continue
        found += 1
        assert grid[max(hit[0] - 1, 0)] - 1e-9 <= s <= grid[hit[0]] + 1e-12
        value = A * math.exp(-rates[0] * s) + B * math.exp(-rates[1] * s) + C * math.exp(
            -rates[2] * s)
        assert value >= theta - 1e-12 * max(1.0, abs(theta))
    assert found > 50


def test_first_crossing_finds_a_short_excursion():
    # u rises above theta only briefly and falls back: sampling at 1 ms would miss it
    A, B = -1.0, 1.0  # u = e^{-s/20} ... a difference of exponentials peaking near 4 ms
    a, b = 1 / 5, 1 / 20
    peak = math.log(a / b) / (a - b)
    top = A * math.exp(-a * peak) + B * math.exp(-b * peak)
    s = first_crossing(A, B, 0.0, a, b, 1.0, top - 1e-6)
    assert 0.0 < s < peak and abs(s - peak) < 0.1
    assert math.isinf(first_crossing(A, B, 0.0, a, b, 1.0, top + 1e-9))


@pytest.mark.slow
def test_uncoupled_neuron_interval_is_exact():
    net = Network.build(1, CUBA, [])
    run = run_event(net, NetworkState.initial(net, -60.0), 300.0)
    isi = 5.0 + 20.0 * math.log((-60 + 49) / (-50 + 49))
    np.testing.assert_allclose(np.diff(run.spike_times_ms), isi, rtol=1e-12)
    assert run.spike_times_ms[0] == pytest.approx(isi - 5.0, rel=1e-12)


def test_delta_input_fires_at_its_arrival():
    neuron = NeuronParams(tau_m_ms=20, e_l_mv=0, v_th_mv=20, v_reset_mv=10, t_ref_ms=2)
    conn = Connectivity.from_pairs([0], [1], 2, 2)
    net = Network.build(2, neuron, [Projection(conn, 5.0, 1.25)])
    state = NetworkState.initial(net, np.array([20.0, 18.0]))
    run = run_event(net, state, 3.0, record_neurons=[1], record_times_ms=[1.0, 1.2])
    assert run.spike_neurons.tolist() == [0, 1]
    assert run.spike_times_ms.tolist() == [0.0, 1.25]  # 18 e^{-1.25/20} + 5 > 20
    np.testing.assert_allclose(run.recorded_v_mv[:, 0], 18 * np.exp(-np.array([1.0, 1.2]) / 20))


def test_clock_driven_converges_to_the_exact_spikes():
    # same network, same spike counts per neuron; the clock's grid shifts each spike by a
    # few steps at most (a spike is labelled at the start of its step, delays are rounded
    # to the grid), and the shift shrinks with the step
    net, state = small_network(seed=3, n=200, delays=(1.0, 3.0))
    exact = run_event(net, state, 80.0)
    assert exact.spike_times_ms.size > 100
    errors = []
    for dt in (0.01, 0.001):
        clock = run_clock(net, state, 80.0, dt)
        worst = 0.0
        for k in range(net.n_neurons):
            a = exact.spike_times_ms[exact.spike_neurons == k]
            b = clock.spike_times_ms[clock.spike_neurons == k]
            assert a.size == b.size
            worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)))
        assert worst <= 5 * dt
        errors.append(worst)
    assert errors[1] < errors[0] / 3


def test_plastic_weights_follow_the_rule():
    stdp = STDPParams(a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=2.0, pairing="all-to-all")
    net, state = small_network(seed=4, stdp=stdp)
    run = run_event(net, state, 150.0)
    pre = net.pre
    times = {k: run.spike_times_ms[run.spike_neurons == k] for k in range(net.n_neurons)}
    changed = 0
    for s in np.flatnonzero(net.plastic):
        arrivals = times[pre[s]] + net.delay_ms[s]
        arrivals = arrivals[arrivals < 150.0]
        expected = apply_spike_pairs(net.weight_mv[s], arrivals, times[net.post[s]], stdp)
        assert run.state.weights_mv[s] == pytest.approx(expected, abs=1e-12)
        changed += expected != net.weight_mv[s]
    assert changed > 100


def test_two_blocks_equal_one_run():
    net, state = small_network(seed=5, delays=(0.5, 4.0))
    whole = run_event(net, state, 80.0)
    first = run_event(net, state, 33.3)
    second = run_event(net, first.state, 46.7)
    both_t = np.concatenate([first.spike_times_ms, second.spike_times_ms])
    both_k = np.concatenate([first.spike_neurons, second.spike_neurons])
    assert whole.spike_times_ms.size > 50
    assert np.array_equal(both_k, whole.spike_neurons)
    np.testing.assert_allclose(both_t, whole.spike_times_ms, rtol=0, atol=1e-9)


def test_poisson_drive_rate():
    neuron = NeuronParams(e_l_mv=0.0, v_th_mv=1e6, v_reset_mv=0.0)
    net = Network.build(100, neuron, [], PoissonDrive(n_inputs=100, rate_hz=50.0))
    run = run_event(net, NetworkState.initial(net), 100.0, rng=1)
    mean = 100 * 100 * 50.0 * 0.1
    assert abs(run.external_events - mean) < 4 * math.sqrt(mean)


def test_equal_time_constants_are_refused():
    net = Network.build(1, CUBA.replace(tau_exc_ms=20.0), [])
    with pytest.raises(ParameterError, match="'tau_exc_ms'"):
        run_event(net, NetworkState.initial(net), 10.0)
