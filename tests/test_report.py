"""Three-outcome status (pass, known partial, fail) and what the report shows of a result."""

import json

import numpy as np
import pytest

from spikewave.experiments import REPRODUCTIONS, RunContext
from spikewave.experiments.registry import KnownPartial, Metric, Result, below
from spikewave.plot import figure_caption, new_figure, save_figure
from spikewave.report import format_reference, format_table, render_html

SHORTFALL = KnownPartial(checks=("b",), reason="B is out of reach.", reached="B at 80 %.",
                         applies=lambda config: config.get("mode") == "hard")


def _result(a_ok: bool, b_ok: bool, mode: str = "hard", kp=SHORTFALL) -> Result:
    metrics = [Metric("a", 1.0, 1.0, "= 1", a_ok), Metric("b", 0.8, 1.0, "= 1", b_ok),
               Metric("c", 3.0, None, "reported", None)]
    r = Result("demo", "A demo", metrics, config={"mode": mode})
    r.known_partial = kp
    return r


@pytest.mark.parametrize(
    ("a_ok", "b_ok", "mode", "kp", "status"),
    [
        (True, True, "hard", SHORTFALL, "pass"),
        (True, False, "hard", SHORTFALL, "partial"),     # only the declared check fails
        (False, False, "hard", SHORTFALL, "fail"),       # an undeclared check fails too
        (False, True, "hard", SHORTFALL, "fail"),
        (True, False, "easy", SHORTFALL, "fail"),        # outside the declared configuration
        (True, False, "hard", None, "fail"),             # nothing declared
    ],
)
def test_status_three_outcomes(a_ok, b_ok, mode, kp, status):
    r = _result(a_ok, b_ok, mode, kp)
    assert r.status == status
    js = r.to_json()
    assert js["status"] == status
    assert js["passed"] is (a_ok and b_ok)  # the old key keeps its meaning
    assert (js["known_partial"] is not None) is (status == "partial")


def test_partial_is_explained_in_table_and_report():
    r = _result(True, False)
    table = format_table([r])
    assert "known" in table.splitlines()[3] and "B is out of reach." in table
    assert "0/1 reproductions pass; known partial: demo" in table
    page = render_html([r], quick=True)
    assert "Known partial result" in page and "B at 80 %." in page
    assert 'href="https://' in page and "/results/demo/" in page
    failed = render_html([_result(False, False)], quick=True)
    assert "FAILED: demo" in failed and "Failed checks:" in failed


def test_upper_bound_reference_shows_the_bound_with_its_unit():
    m = below("err_ms", 2e-11, 1e-6, unit="ms", reference=0.0)
    assert format_reference(m) == "< 1.000e-06 ms"
    assert m.as_dict()["bound"] == 1e-6 and m.as_dict()["reference"] == 0.0
    assert format_reference(Metric("rate", 68.3, 68.0, "", True, "Hz")) == "68 Hz"


def test_report_has_viewport_provenance_and_captions(tmp_path):
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    png = save_figure(fig, tmp_path / "line.png", caption="A rising line (mV against ms).")
    assert figure_caption(png) == "A rising line (mV against ms)."
    r = _result(True, True)
    r.figures, r.seed, r.command = [png], 7, "spikewave reproduce demo --seed 7"
    page = render_html([r], quick=False)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'alt="A rising line (mV against ms)."' in page
    assert "<figcaption>Figure 1. A rising line (mV against ms)." in page
    assert "<code>spikewave reproduce demo --seed 7</code>" in page
    assert "<dt>seed</dt><dd>7</dd>" in page and "&quot;mode&quot;: &quot;hard&quot;" in page


def test_default_caption_is_made_of_the_titles(tmp_path):
    fig, (a, b) = new_figure(1, 2)
    a.set_title("left panel")
    b.set_title("right panel")
    assert figure_caption(save_figure(fig, tmp_path / "two.png")) == "left panel; right panel"


def test_execute_records_seed_and_the_command_that_reruns_it(tmp_path):
    ctx = RunContext(quick=True, seed=3, out_dir=tmp_path, progress=False)
    repro = REPRODUCTIONS["stdp-window"]
    r = repro.execute(ctx, pairing="nearest")
    assert r.command == "spikewave reproduce stdp-window --quick --seed 3 --pairing nearest"
    assert repro.command(RunContext(), {"pairing": "reduced-nearest"}) == \
        "spikewave reproduce stdp-window"
    js = json.loads(json.dumps(r.to_json()))
    assert js["seed"] == 3 and js["quick"] is True and js["version"]
    assert np.isfinite(js["tau_plus_ms"])


def test_masquelier2009_declares_its_shortfall_for_one_pattern_only():
    kp = REPRODUCTIONS["masquelier2009"].known_partial
    assert kp is not None and set(kp.checks) == {"selective_neurons", "patterns_learned"}
    assert kp.covers({"selective_neurons"}, {"patterns": 1, "neurons": 3})
    assert not kp.covers({"selective_neurons"}, {"patterns": 3, "neurons": 3})
    assert not kp.covers({"selective_neurons"}, {"patterns": 1, "neurons": 1})
    assert not kp.covers({"selective_neurons", "distinct"}, {"patterns": 1, "neurons": 3})
