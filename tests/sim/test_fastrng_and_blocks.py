"""The inline uniform generator and repeated presentation of an input block."""

import numpy as np

from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams
from spikewave.sim.eventdriven import (
    SRMNetworkState,
    present_repeated,
    repeat_times,
    run_srm_network,
)
from spikewave.sim.fastrng import fill_uniform, seed_state
from spikewave.sim.spiketrains import homogeneous_poisson


def test_uniforms_are_uniform_and_reproducible():
    a = fill_uniform(seed_state(np.random.default_rng(5)), 200_000)
    b = fill_uniform(seed_state(np.random.default_rng(5)), 200_000)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0.0 and a.max() < 1.0
    counts = np.bincount((a * 20).astype(int), minlength=20)
    chi2 = ((counts - 10_000) ** 2 / 10_000).sum()
    assert chi2 < 43.8  # 99.9 % quantile of chi-square with 19 degrees of freedom
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.01


def test_repeat_times():
    out = repeat_times(np.array([1.0, 4.0]), 5.0, 12.0)
    np.testing.assert_array_equal(out, [1.0, 4.0, 6.0, 9.0, 11.0])


def test_present_repeated_equals_running_block_by_block():
    block = homogeneous_poisson(50, 60.0, 200.0, rng=2)
    srm = SRMParams(threshold=20.0, cut_taus=1e9)
    stdp = STDPParams()
    w = np.random.default_rng(3).uniform(0, 1, (2, 50))
    rep = present_repeated(block, 500.0, SRMNetworkState.initial(w), srm, stdp, 0.5)
    state, spikes = SRMNetworkState.initial(w), []
    for offset, length in ((0.0, 200.0), (200.0, 200.0), (400.0, 100.0)):
        part = block if length == 200.0 else block.window(0.0, length)
        run = run_srm_network(part, state, srm, stdp, 0.5, offset_ms=offset)
        state = run.state
        spikes.append(run.spike_times_ms)
    np.testing.assert_array_equal(rep.spike_times_ms, np.concatenate(spikes))
    np.testing.assert_array_equal(rep.state.weights, state.weights)
    assert rep.state.t_ms == 500.0 and rep.spike_times_ms.size > 5
