"""NIR across libraries, spikes over 200 steps: spikewave -> NIR -> snnTorch and -> Norse,
and snnTorch -> NIR -> spikewave.

The peers run in their own environment (``bash scripts/install_peers.sh VENV`` makes one,
with nir and nirtorch), in one subprocess (tests/peers/peer_nir.py), found through
``SPIKEWAVE_PEERS_PYTHON`` (as .ci/run sets it) or at ``<repo>/../.peers-venv/bin/python``;
skipped where there is none. Marked slow: ``make conformance`` and .ci/run's slow run run
them.

Our side runs on the reference path (dense products, as the peers compute them: the fast
paths sum in other orders, which may move a potential within rounding of the threshold).
What each reader needs (docs/guide/nir.md has the versions and the why):
- snnTorch 1.0 reads every LIF with dt = 1e-4 s stepped by Euler and honours R: export with
  ``integration="euler", dt=1e-4``; the spikes are identical.
- Norse 1.1 steps by Euler at the dt it is given and ignores R of its LIF (and dt and R of
  its IF): export with ``integration="euler", resistance="weights"`` and a dt of 1 s (for
  the IF); it computes ``v + dt/tau (x - v)`` rather than ``beta v + x``, so a potential
  within rounding of the threshold may fall the other way: at least 99.9 % of the spikes
  are equal.
"""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir", reason="the nir extra (pip install spikewave[nir])")

from spikewave import kernels  # noqa: E402
from spikewave import nir as swnir  # noqa: E402
from spikewave.nn import (  # noqa: E402
    LIF,
    CurrentLIF,
    LinearLIF,
    RecurrentLIF,
    SpikeLinear,
    TimeDistributed,
)

pytestmark = pytest.mark.slow  # a few minutes on two busy cores: make conformance runs them

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "peers" / "peer_nir.py"
T = 200
NORSE_DT = 1.0  # Norse's IF adds its input whatever dt and R: the graph agrees at dt = 1 s


def _spread(layer: nn.Module, gen: torch.Generator, low=0.5, high=3.0) -> nn.Module:
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.endswith("beta_logit"):
                p.copy_(torch.empty(p.shape).uniform_(low, high, generator=gen))
    return layer


def _cases():
    """(name, model, input [T, B, ...], readers) of the networks sent to the peers."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    def conv(divisor):
        return nn.Sequential(
            TimeDistributed(nn.Conv2d(1, 3, 3)),
            _spread(LIF(threshold=0.6, reset="zero", learn_beta=True), gen),
            TimeDistributed(nn.AvgPool2d(2, divisor_override=divisor)),
            TimeDistributed(nn.Flatten()),
            _spread(LinearLIF(27, 5, threshold=0.4, reset="zero", learn_beta=True), gen))

    if_layer = LIF(threshold=1.0, reset="zero")
    with torch.no_grad():
        if_layer.decay.beta_value = torch.tensor(1.0)
    return [
        ("dense", nn.Sequential(
            _spread(LinearLIF(12, 10, threshold=0.5, reset="zero", learn_beta=True), gen),
            _spread(LinearLIF(10, 6, threshold=0.3, reset="zero", learn_beta=True), gen)),
         torch.rand(T, 4, 12, generator=gen), ("snntorch", "norse")),
        ("current", nn.Sequential(SpikeLinear(12, 8), _spread(CurrentLIF(
            threshold=0.5, reset="zero", learn_beta=True, learn_alpha=True, n_neurons=8), gen)),
         torch.rand(T, 4, 12, generator=gen) - 0.45, ("snntorch", "norse")),
        ("conv-avg", conv(None), torch.rand(T, 4, 1, 8, 8, generator=gen) * 1.5, ("snntorch",)),
        ("conv-sum", conv(1), torch.rand(T, 4, 1, 8, 8, generator=gen) * 1.5, ("norse",)),
        ("recurrent", nn.Sequential(SpikeLinear(12, 8), _spread(RecurrentLIF(
            8, rec_std=1.0, seed=0, threshold=0.5, reset="zero", learn_beta=True), gen)),
         torch.rand(T, 4, 12, generator=gen), ("snntorch",)),
        ("if", nn.Sequential(SpikeLinear(12, 6), if_layer),
         torch.rand(T, 4, 12, generator=gen) * 0.5, ("norse",)),
    ]


@pytest.fixture(scope="module")
def peer_run(tmp_path_factory, peers_python):
    python = peers_python("snntorch", "norse", "nir", "nirtorch")
    if python is None:
        pytest.skip("snnTorch / Norse / nir not installed: bash scripts/install_peers.sh, "
                    "then SPIKEWAVE_PEERS_PYTHON=<venv>/bin/python")
    folder = tmp_path_factory.mktemp("nir-peers")
    (folder / "dt.txt").write_text(str(NORSE_DT))
    ours = {}
    for name, model, x, readers in _cases():
        with torch.no_grad(), kernels.use(path="reference"):  # the peers' summation order
            ours[name] = model(x)
        torch.save(x, folder / f"sw-{name}.x.pt")
        for lib in readers:
            kwargs = ({"dt": 1e-4, "integration": "euler"} if lib == "snntorch" else
                      {"dt": NORSE_DT, "integration": "euler", "resistance": "weights"})
            swnir.export(model, input_shape=tuple(x.shape[2:]), **kwargs,
                         path=folder / f"sw-{name}.{lib}.nir")
    done = subprocess.run([python, str(SCRIPT), "all", str(folder)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, ours


def _peer_output(folder: Path, case: str, lib: str) -> torch.Tensor:
    err = folder / f"{case}.{lib}.err.txt"
    assert not err.exists(), err.read_text()[-3000:]
    return torch.load(folder / f"{case}.{lib}.out.pt")


@pytest.mark.parametrize("name", ["dense", "current", "conv-avg"])
def test_spikewave_to_snntorch_identical_spikes(peer_run, name):
    folder, ours = peer_run
    theirs = _peer_output(folder, f"sw-{name}", "snntorch").reshape(ours[name].shape)
    assert torch.equal(theirs, ours[name]) and 0.01 < ours[name].mean() < 0.6


def test_snntorch_runs_a_recurrent_lif_input_through_its_recurrent_weights(peer_run):
    """A documented difference (snnTorch 1.0 with nirtorch 2.6): the subgraph snnTorch's
    import builds for a LIF <-> Linear loop wires its input into the recurrent Linear, so it
    computes LIF(W_rec (x[t] + s[t-1])), not NIR's LIF(x[t] + W_rec s[t-1]). Its spikes are
    exactly those of the miswired network, rebuilt here from our layers' weights."""
    folder, ours = peer_run
    theirs = _peer_output(folder, "sw-recurrent", "snntorch")
    model = dict((c[0], c[1]) for c in _cases())["recurrent"]
    x = torch.load(folder / "sw-recurrent.x.pt")
    lin, rec = model
    beta, w = rec.decay.beta().detach(), rec.w_rec.detach()
    with torch.no_grad(), kernels.use(path="reference"):
        current = lin(x)
        v, s, miswired = torch.zeros_like(current[0]), torch.zeros_like(current[0]), []
        for x_t in current:
            v = beta * v + nn.functional.linear(x_t + s, w)
            s = (v >= rec.threshold).float()
            v = v * (1 - s)
            miswired.append(s)
    assert torch.equal(theirs.reshape(ours["recurrent"].shape), torch.stack(miswired))
    assert not torch.equal(torch.stack(miswired), ours["recurrent"])


@pytest.mark.parametrize("name", ["dense", "current", "conv-sum", "if"])
def test_spikewave_to_norse_spikes_equal_to_rounding(peer_run, name):
    folder, ours = peer_run
    theirs = _peer_output(folder, f"sw-{name}", "norse").reshape(ours[name].shape)
    assert (theirs == ours[name]).float().mean() >= 0.999 and 0.01 < ours[name].mean() < 0.6


@pytest.mark.parametrize("name", ["dense", "synaptic", "recurrent", "conv"])
def test_snntorch_to_spikewave_identical_spikes(peer_run, name):
    folder, _ = peer_run
    net = swnir.load(folder / f"{name}.snntorch-made.nir", dt=1e-4, integration="euler")
    x = torch.load(folder / f"{name}.x.pt")
    theirs = torch.load(folder / f"{name}.snntorch-made.out.pt")
    with torch.no_grad(), kernels.use(path="reference"):
        got = net(x).reshape(theirs.shape)
    assert torch.equal(got, theirs) and 0.01 < theirs.mean() < 0.6


def test_exported_graphs_read_back_with_nir(peer_run):
    """What the peers read is a valid NIR 1.0 file with the stated conventions."""
    folder, _ = peer_run
    graph = nir.read(folder / "sw-dense.snntorch.nir")
    lif = graph.nodes["0_lif"]
    np.testing.assert_allclose(lif.r * 1e-4 / lif.tau, 1.0, rtol=1e-12)  # Euler: R dt/tau = 1
    assert graph.metadata["integration"] == "euler"
