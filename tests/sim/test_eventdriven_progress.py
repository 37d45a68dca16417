"""Progress in simulated time: present_repeated reports about every simulated second and
gives exactly the result of a run without reports (the pieces end where the next input
spike arrives, so the arithmetic is the same)."""

import numpy as np
import pytest

from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams
from spikewave.sim.eventdriven import SRMNetworkState, present_repeated
from spikewave.sim.masquelier_input import PatternInputParams, make_pattern_input


@pytest.mark.parametrize(("n_k", "inhibition", "ipsp"), [(1, 0.0, "epsp"), (3, 2.0, "step")])
def test_reports_change_nothing(n_k, inhibition, ipsp):
    p_in = PatternInputParams(block_s=6.0)
    block = make_pattern_input(p_in, np.random.default_rng(1))
    srm = SRMParams(threshold=0.5 * p_in.n_pattern)
    w0 = np.random.default_rng(2).uniform(0.375, 0.575, (n_k, int(p_in.n_afferents)))
    rec = np.arange(14_000.0, 15_000.0, 0.5)
    reports = []
    runs = [present_repeated(block.trains, 15_000.0, SRMNetworkState.initial(w0), srm,
                             STDPParams(), inhibition, record_times_ms=rec, ipsp=ipsp,
                             progress=progress)
            for progress in (None, reports.append)]
    plain, reported = runs
    assert plain.spike_times_ms.size > 10
    np.testing.assert_array_equal(plain.spike_times_ms, reported.spike_times_ms)
    np.testing.assert_array_equal(plain.spike_neurons, reported.spike_neurons)
    np.testing.assert_array_equal(plain.state.weights, reported.state.weights)
    np.testing.assert_array_equal(plain.recorded_u, reported.recorded_u)
    assert plain.state.t_ms == reported.state.t_ms == 15_000.0
    assert len(reports) >= 14 and reports == sorted(reports) and reports[-1] == 15_000.0
    assert max(np.diff([0.0, *reports])) <= 1_100.0
