"""Shared fixtures of the documentation tests: the render tool and one built site."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


@pytest.fixture(scope="session")
def render():
    """The module docs/tools/render.py (the documentation's page generator)."""
    spec = importlib.util.spec_from_file_location("spikewave_docs_render",
                                                  DOCS / "tools" / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """``mkdocs build --strict`` of the repository's docs into a temporary folder."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec(
            "mkdocstrings") is None:
        reason = "mkdocs and mkdocstrings are not installed (the dev and docs extras)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(site)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return site
