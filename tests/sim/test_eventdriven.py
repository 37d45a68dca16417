"""The exact event-driven engine against the dense SRM reference and the clock-driven one."""

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave.neurons.srm import SRMParams, srm_potential
from spikewave.plasticity.stdp import STDPParams
from spikewave.sim.clockdriven import run_srm_network_clock
from spikewave.sim.eventdriven import SRMNetworkState, _run_core, run_srm_network, srm_array
from spikewave.sim.spiketrains import homogeneous_poisson

SRM = SRMParams(threshold=45.0, cut_taus=1e9)  # no truncation: the engine sums exactly


def scenario(n_aff=100, duration=1000.0, seed=0, n_k=1):
    trains = homogeneous_poisson(n_aff, 50.0, duration, rng=seed)
    w = np.random.default_rng(seed + 100).uniform(0.0, 1.0, (n_k, n_aff))
    return trains, w


def test_potential_equals_the_dense_reference():
    trains, w = scenario()
    rec = np.linspace(0.5, 999.5, 4000)
    run = run_srm_network(trains, SRMNetworkState.initial(w), SRM, record_times_ms=rec)
    spikes = run.spike_times_ms
    assert 5 < spikes.size < 200
    for j in range(0, rec.size, 7):
        t = rec[j]
        before = spikes[spikes < t]
        last = before[-1] if before.size else None
        u_ref = srm_potential(t, trains.times_ms, trains.afferents, w[0], last, SRM)[0]
        assert run.recorded_u[j, 0] == pytest.approx(u_ref, rel=1e-9, abs=1e-9)


def test_spikes_are_exact_threshold_crossings():
    trains, w = scenario(seed=1)
    run = run_srm_network(trains, SRMNetworkState.initial(w), SRM)
    for i, t in enumerate(run.spike_times_ms):
        last = run.spike_times_ms[i - 1] if i else None
        u = srm_potential(np.array([t - 1e-7, t]), trains.times_ms, trains.afferents, w[0],
                          last, SRM)
        assert u[0] < SRM.threshold
        assert u[1] == pytest.approx(SRM.threshold, rel=1e-9)
    assert np.all(np.diff(run.spike_times_ms) >= SRM.t_ref_ms)


@pytest.mark.parametrize("n_k", [1, 2])
def test_compiled_engine_equals_its_python_source(n_k):
    trains, w = scenario(n_aff=40, duration=300.0, seed=2, n_k=n_k)
    rule = STDPParams().as_array()

    def call(fn):
        st = SRMNetworkState.initial(w)
        out = fn(trains.times_ms, trains.afferents, 0.0, trains.duration_ms, st.weights, st.a,
                 st.b, st.last_post_ms, st.pre_trace, st.pre_trace_ms, st.post_trace,
                 st.post_trace_ms, 0.0, srm_array(SRM.replace(threshold=12.0)), rule, True,
                 3.0, 3.0, np.linspace(0, 299, 50), np.array([100.0, 200.0]))
        return out, st.weights

    (t1, k1, u1, s1), w1 = call(_run_core)
    (t2, k2, u2, s2), w2 = call(_run_core.py_func)
    assert t1.size > 5
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(k1, k2)
    np.testing.assert_array_equal(u1, u2)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(s1, s2)


@pytest.mark.parametrize("dt", [0.1, 0.01])
def test_clock_driven_reference_agrees_without_plasticity(dt):
    trains, w = scenario(n_aff=100, duration=500.0, seed=3)
    ev = run_srm_network(trains, SRMNetworkState.initial(w), SRM)
    ck_t, _, _ = run_srm_network_clock(trains, w, dt, SRM)
    assert abs(ck_t.size - ev.spike_times_ms.size) <= 1
    # match each event-driven spike to the nearest clock spike
    d = np.abs(ev.spike_times_ms[:, None] - ck_t[None, :]).min(axis=1)
    assert np.mean(d <= 2 * dt + 1e-9) >= 0.9


def test_clock_driven_reference_agrees_with_plasticity():
    trains, w = scenario(n_aff=100, duration=500.0, seed=4)
    stdp = STDPParams()
    ev = run_srm_network(trains, SRMNetworkState.initial(w), SRM, stdp)
    ck_t, _, ck_w = run_srm_network_clock(trains, w, 0.01, SRM, stdp)
    assert abs(ck_t.size - ev.spike_times_ms.size) <= 2
    dw_ev = ev.state.weights - w
    dw_ck = ck_w - w
    # same learning, up to the grid: weight changes correlate and agree on average
    assert np.corrcoef(dw_ev.ravel(), dw_ck.ravel())[0, 1] > 0.95
    assert np.abs(dw_ev - dw_ck).mean() < 0.1 * np.abs(dw_ev).mean()


def test_presenting_in_blocks_equals_one_presentation():
    trains, w = scenario(n_aff=60, duration=600.0, seed=5)
    stdp = STDPParams()
    whole = run_srm_network(trains, SRMNetworkState.initial(w), SRM, stdp)
    first = run_srm_network(trains.window(0.0, 250.0), SRMNetworkState.initial(w), SRM, stdp)
    second = run_srm_network(trains.window(250.0, 600.0), first.state, SRM, stdp)
    np.testing.assert_allclose(np.concatenate([first.spike_times_ms, second.spike_times_ms]),
                               whole.spike_times_ms, rtol=0, atol=1e-9)
    np.testing.assert_allclose(second.state.weights, whole.state.weights, atol=1e-12)


def test_lateral_inhibition_lets_one_neuron_win():
    trains, w = scenario(n_aff=100, duration=500.0, seed=6, n_k=1)
    twins = np.vstack([w, w])
    free = run_srm_network(trains, SRMNetworkState.initial(twins), SRM)
    # without inhibition the twins fire together, each time
    assert free.spike_times_ms.size >= 4
    np.testing.assert_allclose(free.spike_times_ms[::2], free.spike_times_ms[1::2], atol=1e-9)
    assert np.all(free.spike_neurons[::2] + free.spike_neurons[1::2] == 1)
    # the IPSP, like an EPSP, rises from 0: a twin crossing at the same instant still fires.
    # A slightly weaker neuron crosses a little later and is held down by the IPSP.
    pair = np.vstack([w, 0.97 * w])
    free = run_srm_network(trains, SRMNetworkState.initial(pair), SRM)
    inhib = run_srm_network(trains, SRMNetworkState.initial(pair), SRM, inhibition=1.0)
    n_free = np.bincount(free.spike_neurons, minlength=2)
    n_inhib = np.bincount(inhib.spike_neurons, minlength=2)
    assert n_free[1] >= 3
    assert n_inhib[0] >= n_free[0] - 1  # the stronger neuron keeps (almost) all its spikes
    assert n_inhib[1] <= n_free[1] // 3


def test_bad_input():
    trains, w = scenario(n_aff=10, duration=50.0)
    st = SRMNetworkState.initial(w)
    with pytest.raises(ParameterError, match="afferents"):
        run_srm_network(trains, SRMNetworkState.initial(np.ones((1, 11))), SRM)
    with pytest.raises(ParameterError, match="inhibition"):
        run_srm_network(trains, st, SRM, inhibition=-1.0)
    with pytest.raises(ParameterError, match="t_ref_ms"):
        run_srm_network(trains, st, SRM.replace(t_ref_ms=0.2))
    with pytest.raises(ParameterError, match="offset_ms"):
        run_srm_network(trains, st.copy().__class__(**{**st.__dict__, "t_ms": 100.0}), SRM,
                        offset_ms=50.0)
    with pytest.raises(ParameterError, match="record_times_ms"):
        run_srm_network(trains, st, SRM, record_times_ms=np.array([3.0, 1.0]))


def test_lif_mode_gives_the_spikes_of_the_exact_single_lif():
    """LIF with instantaneous synapses: the network engine's spike times equal
    simulate_lif_exact's on the same input (inputs during refractoriness ignored)."""
    from spikewave.neurons.lif import LIFParams, simulate_lif_exact
    from spikewave.sim.eventdriven import run_lif_network

    lif = LIFParams(t_ref_ms=2.0)
    trains, w = scenario(n_aff=200, duration=2000.0, seed=3)
    w_mv = 1.5 * w  # jumps of 0-1.5 mV: ~8 kHz of input drives V across -50 mV
    rec = np.linspace(1.0, 1999.0, 500)
    run = run_lif_network(trains, SRMNetworkState.initial(w_mv), lif, record_times_ms=rec)
    ref = simulate_lif_exact(lif, 2000.0, input_times_ms=trains.times_ms,
                             input_weights_mv=w_mv[0][trains.afferents])
    assert 20 < ref.size < 2000
    np.testing.assert_allclose(run.spike_times_ms, ref, rtol=0, atol=1e-9)
    assert np.all(run.recorded_u < lif.v_th_mv - lif.e_l_mv)
    # with STDP on (weights in mV, bounds 0-2 mV), the weights move and stay in bounds
    stdp = STDPParams(a_plus=0.05, a_minus=0.05, w_max=2.0)
    learned = run_lif_network(trains, SRMNetworkState.initial(w_mv), lif, stdp, inhibition=0.5)
    assert not np.allclose(learned.state.weights, w_mv)
    assert learned.state.weights.min() >= 0.0 and learned.state.weights.max() <= 2.0
    with pytest.raises(ParameterError, match="v_reset_mv"):
        run_lif_network(trains, SRMNetworkState.initial(w_mv), LIFParams(v_reset_mv=-70.0))


@pytest.mark.parametrize("plastic", [False, True])
def test_single_neuron_fast_path_equals_the_general_path(plastic):
    # one neuron runs its quiet stretches in registers (_quiet_single); beside a silent
    # second neuron (zero weights, no inhibition) it goes through the general K-neuron
    # loop: bit-identical
    trains, w = scenario(n_aff=200, duration=2000.0, seed=5)
    rec = np.linspace(3.0, 1997.0, 300)
    snaps = np.array([500.0, 1500.0])
    stdp = STDPParams() if plastic else None
    srm = SRM.replace(threshold=40.0)
    one = run_srm_network(trains, SRMNetworkState.initial(w), srm, stdp,
                          record_times_ms=rec, snapshot_times_ms=snaps)
    two = run_srm_network(trains, SRMNetworkState.initial(np.vstack([w, 0.0 * w])), srm,
                          stdp, record_times_ms=rec, snapshot_times_ms=snaps)
    assert one.spike_times_ms.size > 20
    assert np.all(two.spike_neurons == 0)
    np.testing.assert_array_equal(two.spike_times_ms, one.spike_times_ms)
    np.testing.assert_array_equal(two.recorded_u[:, :1], one.recorded_u)
    np.testing.assert_array_equal(two.weight_snapshots[:, :1], one.weight_snapshots)
    np.testing.assert_array_equal(two.state.weights[:1], one.state.weights)
    np.testing.assert_array_equal(two.state.a[:1], one.state.a)
