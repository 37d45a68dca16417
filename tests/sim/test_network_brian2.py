"""The clock-driven engine gives Brian2's spikes, to the last one, on the same network.

Brian2 runs in the peers' environment (``bash ../shared/peers/install.sh`` makes
``../.peers-venv``), in a subprocess with that Python, given by ``SPIKEWAVE_PEERS_PYTHON``
or found at ``<repo>/../.peers-venv/bin/python``; the tests are skipped without it.
Both simulators integrate the same equations exactly in double precision, in Brian2's
order within a step (state update, threshold, synaptic propagation, reset); their
propagators are written differently, so a potential may differ in its last bit, which
could eventually move a spike by a step in this chaotic network -- none does over these
runs, and the spike trains agree exactly.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from spikewave.sim.connectivity import bernoulli
from spikewave.sim.network import Network, NetworkState, NeuronParams, Projection
from spikewave.sim.network_clock import run_clock

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "peers" / "brian2_network.py"


def peers_python() -> str | None:
    env = os.environ.get("SPIKEWAVE_PEERS_PYTHON")
    default = REPO.parent / ".peers-venv" / "bin" / "python"
    path = env or (str(default) if default.exists() else None)
    if path is None:
        return None
    probe = subprocess.run([path, "-c", "import brian2"], capture_output=True, timeout=300)
    return path if probe.returncode == 0 else None


def brian2_spikes(network: Network, v0: np.ndarray, duration_ms: float, folder: Path):
    """Brian2's spikes (steps, neurons) for ``network`` from ``v0`` (numpy target)."""
    python = peers_python()
    if python is None:
        pytest.skip("Brian2 not installed (../shared/peers/install.sh makes ../.peers-venv)")
    n = network.neuron
    np.savez(folder / "net.npz", params=np.array([n.tau_m_ms, n.e_l_mv, n.v_th_mv,
                                                  n.v_reset_mv, n.t_ref_ms, n.tau_exc_ms,
                                                  n.tau_inh_ms]),
             pre=network.pre, post=network.post, weight_mv=network.weight_mv,
             delay_ms=network.delay_ms, port=network.port, v0_mv=v0)
    subprocess.run([python, str(SCRIPT), str(folder / "out.npz"), "--target", "numpy",
                    "--duration-s", str(duration_ms / 1000.0), "--given",
                    str(folder / "net.npz")], check=True, capture_output=True, timeout=900,
                   cwd=folder)
    out = np.load(folder / "out.npz")
    return np.round(out["t_ms"] / 0.1).astype(np.int64), out["i"].astype(np.int64)


def _same_spikes(run, steps, neurons):
    ours = sorted(zip(np.round(run.spike_times_ms / 0.1).astype(np.int64).tolist(),
                      run.spike_neurons.tolist(), strict=True))
    theirs = sorted(zip(steps.tolist(), neurons.tolist(), strict=True))
    assert len(ours) > 500
    assert ours == theirs


@pytest.mark.slow
def test_instantaneous_synapses_with_heterogeneous_delays(tmp_path):
    # Brunel-like delta synapses, inputs lost while refractory, delays 0.5-3 ms, E_L above
    # threshold so that the network runs without a random drive
    rng = np.random.default_rng(5)
    neuron = NeuronParams(tau_m_ms=20, e_l_mv=24, v_th_mv=20, v_reset_mv=10, t_ref_ms=2)
    n, n_exc = 300, 240
    exc, inh = bernoulli(n_exc, n, 0.1, rng), bernoulli(n - n_exc, n, 0.1, rng)
    net = Network.build(n, neuron, [
        Projection(exc, 0.2, rng.uniform(0.5, 3.0, exc.n_synapses)),
        Projection(inh, -1.0, rng.uniform(0.5, 3.0, inh.n_synapses), "inh", pre_start=n_exc)])
    v0 = 10 + 10 * rng.random(n)
    run = run_clock(net, NetworkState.initial(net, v0), 150.0, 0.1)
    _same_spikes(run, *brian2_spikes(net, v0, 150.0, tmp_path))


@pytest.mark.slow
def test_cuba_network(tmp_path):
    from spikewave.experiments.cuba import cuba_network

    net, v0 = cuba_network(4000, 11)
    run = run_clock(net, NetworkState.initial(net, v0), 300.0, 0.1)
    _same_spikes(run, *brian2_spikes(net, v0, 300.0, tmp_path))
