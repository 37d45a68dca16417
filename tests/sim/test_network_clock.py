"""The clock-driven network engine against closed forms, its own Python source, and itself
run block by block."""

import math

import numpy as np
import pytest
from scipy.stats import binom

from spikewave._validation import ParameterError
from spikewave.plasticity.stdp import STDPParams, apply_spike_pairs
from spikewave.sim import network_clock
from spikewave.sim.connectivity import Connectivity, bernoulli
from spikewave.sim.network import (
    Network,
    NetworkState,
    NeuronParams,
    PoissonDrive,
    Projection,
    exact_propagators,
)
from spikewave.sim.network_clock import binomial_cdf, refractory_steps, run_clock

CUBA = NeuronParams(tau_m_ms=20, e_l_mv=-49, v_th_mv=-50, v_reset_mv=-60, t_ref_ms=5,
                    tau_exc_ms=5, tau_inh_ms=10)


def small_network(seed=0, n=60, delays=(1.0, 3.0), stdp=None, drive=None, neuron=CUBA):
    rng = np.random.default_rng(seed)
    n_exc = n * 4 // 5
    ce = bernoulli(n_exc, n, 0.15, rng)
    ci = bernoulli(n - n_exc, n, 0.15, rng)
    de = rng.uniform(*delays, ce.n_synapses)
    di = rng.uniform(*delays, ci.n_synapses)
    w_exc = 1.5 if stdp is None else rng.uniform(0.5, 1.5, ce.n_synapses)
    projections = [Projection(ce, w_exc, de, "exc", stdp=stdp),
                   Projection(ci, -5.0, di, "inh", pre_start=n_exc)]
    net = Network.build(n, neuron, projections, drive)
    v0 = neuron.v_reset_mv + rng.random(n) * (neuron.v_th_mv - neuron.v_reset_mv)
    return net, NetworkState.initial(net, v0)


def test_uncoupled_neuron_fires_at_the_closed_form_interval():
    # E_L above threshold: after the refractory period v relaxes from V_r towards E_L and
    # crosses V_th after m steps, m the first integer with (Vr-El) a^m > Vt-El
    net = Network.build(1, CUBA, [])
    run = run_clock(net, NetworkState.initial(net, -60.0), 500.0, 0.1)
    a = math.exp(-0.1 / 20)
    m = math.floor(math.log((-50 + 49) / (-60 + 49)) / math.log(a)) + 1
    isi_steps = refractory_steps(5.0, 0.1) - 1 + m
    steps = np.round(run.spike_times_ms / 0.1).astype(int)
    assert steps[0] == m - 1 and np.all(np.diff(steps) == isi_steps)


def test_subthreshold_trajectory_is_the_exact_solution():
    neuron = NeuronParams(tau_m_ms=20, e_l_mv=-70, v_th_mv=-50, v_reset_mv=-60, t_ref_ms=2,
                          tau_exc_ms=5, tau_inh_ms=10)
    net = Network.build(1, neuron, [])
    state = NetworkState.initial(net, -65.0)
    state.i_exc_mv[0], state.i_inh_mv[0] = 8.0, -3.0
    run = run_clock(net, state, 60.0, 0.1, record_neurons=[0], record_every_ms=0.5)
    t = run.record_times_ms
    u = 5.0 * np.exp(-t / 20)
    for current, tau in ((8.0, 5.0), (-3.0, 10.0)):
        u += current * tau / (tau - 20) * (np.exp(-t / tau) - np.exp(-t / 20))
    np.testing.assert_allclose(run.recorded_v_mv[:, 0], -70 + u, rtol=0, atol=1e-11)
    assert run.spike_times_ms.size == 0
    # the propagator's limit when a synaptic time constant equals tau_m
    equal = exact_propagators(neuron.replace(tau_exc_ms=20.0), 0.1)
    assert equal[1] == pytest.approx(0.1 / 20 * math.exp(-0.1 / 20), rel=1e-14)


def test_delta_input_is_lost_while_refractory():
    # neuron 0 fires on its own; neuron 1 receives its spike 1 ms later, while refractory
    # (then nothing happens) or 3 ms later (after the period: v jumps by the weight)
    neuron = NeuronParams(tau_m_ms=20, e_l_mv=0, v_th_mv=20, v_reset_mv=10, t_ref_ms=2)
    for delay, jumps in ((1.0, False), (3.0, True)):
        conn = Connectivity.from_pairs([0], [1], 2, 2)
        net = Network.build(2, neuron, [Projection(conn, 5.0, delay)])
        state = NetworkState.initial(net, np.array([25.0, 0.0]))
        state.last_spike_ms[1] = 0.0  # neuron 1 refractory over [0, 2] ms
        state.v_mv[1] = 10.0
        run = run_clock(net, state, 5.0, 0.1, record_neurons=[1])
        # neuron 0 is above threshold: it fires at step 0, the input arrives at the delay
        assert run.spike_times_ms[0] == 0.0 and run.spike_neurons[0] == 0
        v1 = run.recorded_v_mv[:, 0]
        arrival = round(delay / 0.1)
        assert (v1[arrival + 1] - v1[arrival] > 4.0) == jumps


def _xoshiro_python(s0, s1, s2, s3):
    """xoshiro256+ on Python integers (the compiled one works on uint64)."""
    mask = 2**64 - 1
    s0, s1, s2, s3 = int(s0), int(s1), int(s2), int(s3)
    result = (s0 + s3) & mask
    t = (s1 << 17) & mask
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = ((s3 << 45) | (s3 >> 19)) & mask
    return (result >> 11) * (1.0 / 9007199254740992.0), s0, s1, s2, s3


BRUNEL_LIKE = NeuronParams(tau_m_ms=20, e_l_mv=0, v_th_mv=20, v_reset_mv=10, t_ref_ms=2)


@pytest.mark.parametrize("case", ["exponential-plastic", "instantaneous-static"])
def test_compiled_kernel_equals_its_python_source(monkeypatch, case):
    if case == "exponential-plastic":  # queue, STDP, currents
        stdp = STDPParams(a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=2.0,
                          pairing="all-to-all")
        net, state = small_network(seed=1, n=25, stdp=stdp, drive=PoissonDrive(
            n_inputs=20, rate_hz=50.0, weight_mv=0.5))
    else:  # one delay, rows of one weight, inputs into v (lost while refractory)
        net, state = small_network(seed=1, n=25, delays=(1.5, 1.5), neuron=BRUNEL_LIKE,
                                   drive=PoissonDrive(n_inputs=100, rate_hz=100.0,
                                                      weight_mv=0.5))
    fast = run_clock(net, state, 30.0, 0.1, rng=3, record_neurons=[0, 7])
    monkeypatch.setattr(network_clock, "_clock_core", network_clock._clock_core.py_func)
    monkeypatch.setattr(network_clock, "xoshiro_uniform", _xoshiro_python)
    slow = run_clock(net, state, 30.0, 0.1, rng=3, record_neurons=[0, 7])
    assert fast.spike_times_ms.size > 20
    assert np.array_equal(fast.spike_times_ms, slow.spike_times_ms)
    assert np.array_equal(fast.spike_neurons, slow.spike_neurons)
    assert np.array_equal(fast.recorded_v_mv, slow.recorded_v_mv)
    assert np.array_equal(fast.state.weights_mv, slow.state.weights_mv)
    assert fast.external_events == slow.external_events > 0


@pytest.mark.parametrize("delays", [(1.5, 1.5), (0.5, 4.0)], ids=["homogeneous", "heterogeneous"])
@pytest.mark.parametrize("plastic", [False, True])
def test_two_blocks_equal_one_run(delays, plastic):
    stdp = STDPParams(a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=2.0) if plastic else None
    net, state = small_network(seed=2, delays=delays, stdp=stdp)
    whole = run_clock(net, state, 80.0, 0.1)
    first = run_clock(net, state, 35.0, 0.1)
    second = run_clock(net, first.state, 45.0, 0.1)
    assert whole.spike_times_ms.size > 50
    np.testing.assert_array_equal(
        np.concatenate([first.spike_times_ms, second.spike_times_ms]), whole.spike_times_ms)
    np.testing.assert_array_equal(
        np.concatenate([first.spike_neurons, second.spike_neurons]), whole.spike_neurons)
    np.testing.assert_array_equal(second.state.v_mv, whole.state.v_mv)
    np.testing.assert_array_equal(second.state.weights_mv, whole.state.weights_mv)


def test_plastic_weights_follow_the_rule_on_arrival_and_spike_times():
    # each plastic synapse's final weight is the STDP rule applied to its own presynaptic
    # arrival times (spike + delay) and postsynaptic spike times
    stdp = STDPParams(a_plus=0.05, a_minus=0.06, w_min=0.0, w_max=2.0, pairing="nearest")
    net, state = small_network(seed=4, stdp=stdp)
    run = run_clock(net, state, 200.0, 0.1)
    steps = np.round(net.delay_ms / 0.1)
    pre = net.pre
    times = {k: run.spike_times_ms[run.spike_neurons == k] for k in range(net.n_neurons)}
    changed = 0
    for s in np.flatnonzero(net.plastic):
        arrivals = times[pre[s]] + steps[s] * 0.1
        arrivals = arrivals[arrivals < 200.0 - 1e-9]
        expected = apply_spike_pairs(net.weight_mv[s], arrivals, times[net.post[s]], stdp)
        assert run.state.weights_mv[s] == pytest.approx(expected, abs=1e-12)
        changed += expected != net.weight_mv[s]
    assert changed > 100
    static = ~net.plastic
    assert static.any()
    assert np.array_equal(run.state.weights_mv[static], net.weight_mv[static])


def test_poisson_drive_counts_are_binomial():
    neuron = NeuronParams(e_l_mv=0.0, v_th_mv=1e6, v_reset_mv=0.0)  # never fires
    drive = PoissonDrive(n_inputs=1000, rate_hz=20.0, weight_mv=0.1)
    net = Network.build(2000, neuron, [], drive)
    run = run_clock(net, NetworkState.initial(net), 10.0, 0.1, rng=0)
    mean = 2000 * 100 * 1000 * 20.0 * 1e-4
    assert abs(run.external_events - mean) < 4 * math.sqrt(mean)
    cdf = binomial_cdf(1000, 0.002)
    np.testing.assert_allclose(cdf[:-1], binom.cdf(np.arange(cdf.size - 1), 1000, 0.002),
                               rtol=0, atol=1e-14)
    assert 1.0 - binom.cdf(cdf.size - 1, 1000, 0.002) < 1e-15
    again = run_clock(net, NetworkState.initial(net), 10.0, 0.1, rng=0)
    assert again.external_events == run.external_events


def test_with_weights_reweights_the_same_synapses():
    net, state = small_network(delays=(1.5, 1.5))
    stronger = net.with_weights(net.weight_mv * 2, PoissonDrive(n_inputs=10, rate_hz=5.0))
    assert np.array_equal(stronger.post, net.post) and stronger.drive.n_inputs == 10
    assert np.array_equal(stronger.weight_mv, 2 * net.weight_mv)
    assert not np.array_equal(run_clock(stronger, state, 50.0).spike_neurons,
                              run_clock(net, state, 50.0).spike_neurons)
    with pytest.raises(ParameterError, match="'weight_mv'"):
        net.with_weights(np.ones(3))
    plastic, _ = small_network(stdp=STDPParams(w_min=0.0, w_max=2.0))
    with pytest.raises(ParameterError, match="'weight_mv'"):
        plastic.with_weights(5.0)


def test_bad_input_names_the_parameter():
    net, state = small_network()
    with pytest.raises(ParameterError, match="'duration_ms'"):
        run_clock(net, state, 10.05, 0.1)
    with pytest.raises(ParameterError, match="'record_neurons'"):
        run_clock(net, state, 10.0, 0.1, record_neurons=[net.n_neurons])
    other, _ = small_network(n=30)
    with pytest.raises(ParameterError, match="'state'"):
        run_clock(other, state, 10.0, 0.1)
    with pytest.raises(ParameterError, match="'v_th_mv'"):
        NeuronParams(v_th_mv=5.0, v_reset_mv=10.0)
