import os
import subprocess
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def peers_python():
    """``find(*modules)``: the Python of the peer libraries' venv ($SPIKEWAVE_PEERS_PYTHON,
    else ``.peers-venv`` beside the repository, as scripts/install_peers.sh makes it) when it
    imports every one of ``modules``, else None."""

    def find(*modules: str) -> str | None:
        default = Path(__file__).resolve().parents[2] / ".peers-venv" / "bin" / "python"
        path = os.environ.get("SPIKEWAVE_PEERS_PYTHON") or (
            str(default) if default.exists() else None)
        if path is None:
            return None
        probe = subprocess.run([path, "-c", f"import {', '.join(modules)}"],
                               capture_output=True, timeout=300)
        return path if probe.returncode == 0 else None

    return find
