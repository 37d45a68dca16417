"""Five realistic one-line bugs in core places are each caught by the default suite.

``scripts/mutation.py --known-bugs`` puts each one into a copy of the package and runs the
default-suite tests of its module, which must fail: the exact LIF crossing computed from
the reset instead of the current potential; the event-driven search for a maximum inside an
interval removed; the learning-rate schedule restarted on resume; the IDX check accepting
trailing bytes; the masquelier2008 success judged at a hit rate above 0.9 instead of 0.98.
All three tests are slow: the first two check that the mutation tool's configuration still
names lines and files that exist (others edit them), the third runs the suite five times.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "mutation.py"


def _tool():
    spec = importlib.util.spec_from_file_location("spikewave_mutation_tool", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_each_known_bug_still_names_a_line_of_the_source():
    tool = _tool()
    assert len(tool.KNOWN_BUGS) == 5
    for path, old, new, tests in tool.KNOWN_BUGS:
        source = (REPO / tool.PACKAGE / path).read_text()
        assert source.count(old) == 1, path
        assert old != new
        for t in tests:
            assert (REPO / t.split("::")[0]).exists(), t


@pytest.mark.slow
def test_every_configured_module_and_test_exists():
    tool = _tool()
    for target in tool.TARGETS:
        assert (REPO / tool.PACKAGE / target.path).exists(), target.path
        for t in target.tests:
            assert (REPO / t.split("::")[0]).exists(), (target.path, t)


@pytest.mark.slow
def test_the_default_suite_catches_every_known_bug():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--known-bugs"], cwd=REPO,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("caught:") == 5
