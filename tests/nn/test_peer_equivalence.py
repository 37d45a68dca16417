"""Our LIF layer gives the same spikes as snnTorch's Leaky, SpikingJelly's LIFNode and
Norse's LIF, configured the same way.

The peers live in their own environment (``bash ../shared/peers/install.sh`` makes
``../.peers-venv``); this test runs them in a subprocess with that Python, given by
``SPIKEWAVE_PEERS_PYTHON`` or found at ``<repo>/../.peers-venv/bin/python``, and is skipped
when there is none.
"""

import subprocess
from pathlib import Path

import pytest
import torch

from spikewave.nn import LIF

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "peers" / "peer_lif_spikes.py"


@pytest.fixture(scope="module")
def peer_spikes(tmp_path_factory, peers_python):
    python = peers_python("snntorch", "spikingjelly", "norse")
    if python is None:
        pytest.skip("snnTorch / SpikingJelly / Norse not installed (../shared/peers/install.sh)")
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(100, 8, 64, generator=gen) * 0.6  # about 1 spike per 5 steps
    beta = 0.9
    folder = tmp_path_factory.mktemp("peers")
    torch.save(x, folder / "x.pt")
    subprocess.run([python, str(SCRIPT), str(folder / "x.pt"), str(folder / "out.pt"),
                    str(beta)], check=True, timeout=600, capture_output=True)
    return x, beta, torch.load(folder / "out.pt")


@pytest.mark.parametrize("peer", ["snntorch", "spikingjelly"])
def test_same_spikes_as_subtract_reset_peers(peer_spikes, peer):
    x, beta, out = peer_spikes
    ours = LIF(tau_steps=-1.0 / torch.log(torch.tensor(beta)).item(), threshold=1.0,
               reset="subtract")(x)
    assert ours.sum() > 1000
    assert torch.equal(ours, out[peer].to(ours.dtype))


def test_same_spikes_as_norse(peer_spikes):
    x, beta, out = peer_spikes
    # Norse, fed x / (1 - beta), integrates x (its synaptic current empties every step)
    ours = LIF(tau_steps=-1.0 / torch.log(torch.tensor(beta)).item(), reset="zero")(x)
    assert ours.sum() > 1000
    assert torch.equal(ours, out["norse"].to(ours.dtype))
