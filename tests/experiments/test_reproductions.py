"""Each reproduction, quick version: the issue's numbers are checked here."""


import pytest
from reproduction_runs import run_quick

from spikewave.experiments import REPRODUCTIONS


def test_lif_fi_curve(tmp_path):
    result, js = run_quick("lif", tmp_path)
    assert js["max_rel_error"] < 5e-3  # clock driven, dt = 0.01 ms
    assert js["max_rel_error_exact"] < 1e-9
    assert js["rheobase"] == pytest.approx(1.5, rel=1e-6)  # (V_th - E_L) / R
    assert js["subthreshold_silent"] is True
    assert result.passed


def test_lif_coarse_step_fails_the_clock_bound(tmp_path):
    # the check can fail: at dt = 0.1 ms the grid error exceeds 0.5 %
    result, js = run_quick("lif", tmp_path, dt_ms=0.1)
    assert js["max_rel_error"] > 5e-3 and not result.passed


def test_coincidence_boundary(tmp_path):
    result, js = run_quick("coincidence", tmp_path)
    assert js["boundary_max_abs_error_ms"] < 1e-6
    assert js["map_agreement"] == 1.0
    assert result.passed


def test_hodgkin_huxley_thresholds(tmp_path):
    result, js = run_quick("hh", tmp_path)
    assert js["single_spike_threshold_uA_cm2"] == pytest.approx(2.2403, rel=0.02)
    assert js["repetitive_onset_uA_cm2"] == pytest.approx(6.2538, rel=0.02)
    assert js["rate_at_10uA_hz"] == pytest.approx(68.0, rel=0.02)
    assert result.passed


def test_adaptive_threshold(tmp_path):
    result, js = run_quick("adaptive", tmp_path)
    assert js["steady_isi_ms"] > js["first_isi_ms"]
    first = next(m for m in result.metrics if m.key == "first_isi_ms")
    steady = next(m for m in result.metrics if m.key == "steady_isi_ms")
    assert js["first_isi_ms"] == pytest.approx(first.reference, rel=0.01)
    assert js["steady_isi_ms"] == pytest.approx(steady.reference, rel=0.01)
    assert result.passed


def test_rate_vs_spike(tmp_path):
    result, js = run_quick("rate-vs-spike", tmp_path)
    assert js["max_abs_error_hz"] < 2.0
    assert js["siegert_max_abs_error_hz"] < 3.0
    assert "mean drive" in js["regime"]
    assert result.passed


def test_every_registered_module_has_its_name():
    for name in REPRODUCTIONS:
        assert REPRODUCTIONS[name].name == name
