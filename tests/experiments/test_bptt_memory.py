"""``bptt-memory``, quick version: BPTT's memory grows with T, e-prop's does not, and the
checkpointed BPTT keeps less than BPTT (memory is measured on Linux only)."""

import json
import math

import pytest

from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.bptt_memory import PeakMemory, fit_line


def test_bptt_memory_quick(tmp_path):
    ctx = RunContext(quick=True, seed=0, out_dir=tmp_path, progress=False)
    result = REPRODUCTIONS["bptt-memory"].execute(ctx)
    js = result.to_json()
    json.dumps(js)
    assert result.figures[0].exists() and result.figures[0].stat().st_size > 10_000
    points = js["points"]
    assert {p["method"] for p in points} == {"bptt", "checkpointed", "eprop"}
    assert len(points) == 3 * len(js["config"]["steps"])
    assert all(p["step_s"] > 0 for p in points)
    if not PeakMemory().available:
        pytest.skip("peak memory is measured on Linux only")
    peak = {(p["method"], p["steps"]): p["peak_mb"] for p in points}
    # BPTT's memory grows with T, e-prop's stays flat, checkpointing keeps less than BPTT
    assert peak["bptt", 800] > 2 * peak["bptt", 200] > 0
    assert js["bptt_memory_growth"] >= 2
    assert peak["eprop", 800] < 1.25 * peak["eprop", 200]
    assert peak["checkpointed", 800] < 0.8 * peak["bptt", 800]
    assert result.passed


def test_fit_line_slope_and_exponent():
    slope, expo = fit_line([100, 200, 400], [1.0, 2.0, 4.0])
    assert slope == pytest.approx(10.0) and expo == pytest.approx(1.0)
    slope, expo = fit_line([100, 200, 400], [3.0, 3.0, 3.0])
    assert slope == pytest.approx(0.0, abs=1e-12) and expo == pytest.approx(0.0, abs=1e-12)
    assert all(math.isnan(v) for v in fit_line([100, 200], [math.nan, 1.0]))
