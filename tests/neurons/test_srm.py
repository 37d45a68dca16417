"""SRM kernels of Masquelier et al. 2008 against their closed-form landmarks."""

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave.neurons.srm import SRMParams, epsp_kernel, eta_kernel, srm_potential


def test_epsp_peak_and_normalisation():
    p = SRMParams()
    assert p.epsp_peak_ms == pytest.approx(4.6210, abs=1e-4)
    assert p.epsp_norm == pytest.approx(2.1165, abs=1e-4)
    s = np.linspace(0.0, 30.0, 300_001)
    e = epsp_kernel(s, p)
    assert e.max() == pytest.approx(1.0, abs=1e-9)
    assert float(epsp_kernel(p.epsp_peak_ms, p)) == pytest.approx(1.0, abs=1e-14)
    assert s[np.argmax(e)] == pytest.approx(p.epsp_peak_ms, abs=1e-4)
    assert epsp_kernel(-1.0, p) == 0.0 and epsp_kernel(0.0, p) == 0.0
    assert epsp_kernel(70.0, p) == 0.0  # cut at 7 tau_m


def test_after_potential_landmarks():
    p = SRMParams()
    s = np.linspace(0.0, 30.0, 600_001)
    eta = eta_kernel(s, p) / p.threshold
    assert eta[0] == pytest.approx(2.0)
    assert s[np.argmax(eta < 0)] == pytest.approx(2.31, abs=0.01)
    assert eta.min() == pytest.approx(-0.75, abs=1e-6)
    assert s[np.argmin(eta)] == pytest.approx(6.93, abs=0.01)


def test_potential_sums_epsps_and_flushes_at_output_spike():
    p = SRMParams()
    w = np.array([1.0, 2.0])
    times = np.array([0.0, 10.0])
    aff = np.array([0, 1])
    t = np.array([p.epsp_peak_ms, 10.0 + p.epsp_peak_ms])
    u = srm_potential(t, times, aff, w, None, p)
    assert u[0] == pytest.approx(1.0)
    assert u[1] == pytest.approx(2.0 + float(epsp_kernel(10.0 + p.epsp_peak_ms, p)))
    # an output spike at 5 ms flushes the first EPSP and adds eta
    u2 = srm_potential(t[1:], times, aff, w, 5.0, p)
    expected = 2.0 + float(eta_kernel(t[1] - 5.0, p))
    assert u2[0] == pytest.approx(expected)


def test_bad_input():
    p = SRMParams()
    with pytest.raises(ParameterError, match="input_afferents"):
        srm_potential(1.0, np.array([0.0]), np.array([3]), np.ones(2), None, p)
    with pytest.raises(ParameterError, match="input_afferents"):
        srm_potential(1.0, np.array([0.0]), np.array([0.0]), np.ones(2), None, p)
    with pytest.raises(ParameterError, match="threshold"):
        SRMParams(threshold=-1.0)


def test_kernels_end_at_the_cut_and_inputs_at_the_output_spike_are_flushed():
    p = SRMParams()
    assert float(eta_kernel(70.0, p)) == 0.0 and float(eta_kernel(69.999, p)) != 0.0
    assert float(epsp_kernel(69.999, p)) != 0.0
    # an input arriving at the very time of the output spike is flushed with the others
    u = srm_potential(np.array([12.0]), np.array([5.0, 8.0]), np.array([0, 1]),
                      np.array([1.0, 2.0]), 5.0, p)
    assert u[0] == pytest.approx(float(eta_kernel(7.0, p)) + 2.0 * float(epsp_kernel(4.0, p)))
    with pytest.raises(ParameterError, match="input_afferents"):  # one index too many
        srm_potential(1.0, np.array([0.0]), np.array([2]), np.ones(2), None, p)
