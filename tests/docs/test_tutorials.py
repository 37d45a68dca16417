"""Every tutorial runs as written, at a small size, and draws the figures its text shows."""

import re
from pathlib import Path

import pytest

from spikewave.plot import figure_caption

TUTORIALS = Path(__file__).resolve().parents[2] / "docs" / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def test_eight_tutorials_follow_the_lecture():
    assert [s.name[:2] for s in SCRIPTS] == [f"{i:02d}" for i in range(1, 9)]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_tutorial_runs_and_draws_its_figures(script, tmp_path, render):
    outputs = render.run_tutorial(script, tmp_path, quick=True)
    assert any(o.strip() for o in outputs), "the tutorial prints nothing"
    shown = re.findall(r"\]\(figures/([^)]+\.png)\)", script.read_text())
    assert shown, "the tutorial shows no figure"
    for name in shown:
        png = tmp_path / name
        assert png.exists() and png.stat().st_size > 5000, name
        assert len(figure_caption(png)) > 20, f"{name} has no descriptive caption"
    committed = TUTORIALS / "figures"
    for name in shown:  # the site shows the figures of the full-size run
        assert (committed / name).exists(), f"docs/tutorials/figures/{name} is not committed"
