"""One reproduction run for the tests of this folder: its figures written and non-trivial,
its JSON serialisable."""

import json

from spikewave.experiments import REPRODUCTIONS, RunContext


def run_quick(name, tmp_path, quick=True, **options):
    """``(result, result.to_json())`` of reproduction ``name`` (seed 0; quick by default)."""
    ctx = RunContext(quick=quick, seed=0, out_dir=tmp_path / name, progress=False)
    result = REPRODUCTIONS[name].execute(ctx, **options)
    for fig in result.figures:
        assert fig.exists() and fig.stat().st_size > 10_000, fig
    js = result.to_json()
    json.dumps(js)  # serialisable
    return result, js
