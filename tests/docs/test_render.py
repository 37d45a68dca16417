"""The page generator: cells of a tutorial, generated against hand-written results pages."""

import json


def test_percent_cells_keep_their_lines(render):
    source = "# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n\nprint(x)\n# %%\n\n"
    cells = render.parse_cells(source)
    assert cells == [("markdown", "# Title\ntext", 2), ("code", "x = 1\n\nprint(x)", 6)]


def test_a_hand_written_results_page_is_left_alone_and_listed(render, tmp_path, monkeypatch):
    results = tmp_path / "results"
    (results / "data").mkdir(parents=True)
    monkeypatch.setattr(render, "RESULTS", results)
    result = {"name": "demo", "status": "partial", "passed": False, "version": "0",
              "known_partial": {"reason": "Why.", "reached": "What.", "checks": ["a"]},
              "metrics": [{"key": "a", "value": 0.5, "reference": 1.0, "criterion": "= 1",
                           "passed": False, "unit": "mV", "bound": None},
                          {"key": "err", "value": 1e-7, "reference": 0.0, "criterion": "< 1e-6",
                           "passed": True, "unit": "ms", "bound": 1e-6}],
              "figures": [], "config": {"seed": 0}}
    wrapped = {"name": "demo", "title": "A demo", "command": "spikewave reproduce demo",
               "run": "quick", "date": "2030-01-01", "machine": "a test machine",
               "result": result}
    (results / "data" / "demo.json").write_text(json.dumps(wrapped))
    (results / "data" / "mine.json").write_text(json.dumps({"status": "pass"}))  # bare form
    (results / "mine.md").write_text("# mine: a page written by hand\n")
    stale = []
    render.render_result_page("demo", check=False, stale=stale)
    render.render_result_page("mine", check=False, stale=stale)
    render.render_results_index(check=False, stale=stale)
    page = (results / "demo.md").read_text()
    assert page.startswith(render.GENERATED)
    assert "known partial" in page and "Why." in page and "A quick run" in page
    assert "2030-01-01" in page and "a test machine" in page
    assert "| `err` | 1.000e-07 ms | < 1.000e-06 ms |" in page and "| known |" in page
    assert (results / "mine.md").read_text() == "# mine: a page written by hand\n"
    index = (results / "index.md").read_text()
    assert "[demo](demo.md)" in index and "[mine](mine.md)" in index
    assert "| pass |" in index and "known partial" in index
