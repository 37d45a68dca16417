"""Speed of the CUBA benchmark network: spikewave's clock-driven engine against Brian2's C++
standalone device (one thread, and two OpenMP threads) and its default runtime target.

    python benchmarks/network.py [--sizes 4000 40000] [--durations 1 10 100] [--repeats 3]
                                 [--brian2-python PATH] [--no-brian2] [--json]

The network is Brian2's ``examples/CUBA.py`` (:mod:`spikewave.experiments.cuba`); at 40,000
neurons the connection probability is scaled down to keep 80 inputs per neuron (64
excitatory + 16 inhibitory), weights unchanged. Each simulator draws its own network from
seed 0 (statistically the same; the spike counts are printed beside the times).

- ``spikewave``: the compiled loop's wall time (``NetworkRun.simulation_s``), one core;
  network construction excluded. Runs of 1 s are the median of ``--repeats`` after a
  warm-up, longer runs are timed once, each just before the Brian2 runs of its row.
- ``brian2 standalone``: the simulation loop timed by the generated program
  (``device._last_run_time``), with ``openmp_threads`` 0 (one thread) and 2; its code
  generation, compilation and network construction (``build_s``) are reported apart.
  ``--passive-wait`` makes the two OpenMP threads sleep rather than spin while they wait
  (for a machine whose cores other jobs use).
- ``brian2 cython``: Brian2's default runtime target, on the 1 s runs only (slow); timed
  after a 10 ms run that generates and compiles its code.

Brian2 runs in the Python given by ``--brian2-python`` (default: the Python of a
``.peers-venv`` folder beside the repository, when it exists). "Events" are synaptic
events: spikes times out-degree
(80 per spike on average). Run timings under ``flock /tmp/spikewave-timing.lock`` on a shared
machine; the ratios are measured side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numba

from spikewave.experiments.cuba import cuba_network
from spikewave.sim.network import NetworkState
from spikewave.sim.network_clock import run_clock

HERE = Path(__file__).resolve().parent
BRIAN2_SCRIPT = HERE.parent / "tests" / "peers" / "brian2_network.py"


def spikewave_time(net, v0, duration: float, repeats: int) -> dict:
    times, spikes, events = [], 0, 0
    for _ in range(repeats if duration <= 1 else 1):
        res = run_clock(net, NetworkState.initial(net, v0), duration * 1000.0, 0.1)
        times.append(res.simulation_s)
        spikes, events = res.spike_times_ms.size, res.synaptic_events
    sim = statistics.median(times)
    return {"simulation_s": sim, "min_s": min(times), "max_s": max(times),
            "spikes": int(spikes), "synaptic_events": int(events),
            "events_per_s_per_core": events / sim}


def brian2_time(python: str, n: int, duration: float, target: str, threads: int,
                passive: bool = False) -> dict:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE") if passive else None
    with tempfile.TemporaryDirectory() as tmp:
        args = [python, str(BRIAN2_SCRIPT), str(Path(tmp) / "out.npz"), "--n-neurons", str(n),
                "--duration-s", str(duration), "--seed", "0", "--target", target,
                "--threads", str(threads), "--workdir", str(Path(tmp) / "standalone")]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=7200, cwd=tmp,
                              env=env)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["events_per_s_per_core"] = res["spikes"] * res["synapses"] / n / res[
        "simulation_s"] / max(threads, 1)
    return res


def _default_brian2() -> str | None:
    candidate = HERE.parent.parent / ".peers-venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 40000])
    parser.add_argument("--durations", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--brian2-python", default=None)
    parser.add_argument("--no-brian2", action="store_true")
    parser.add_argument("--passive-wait", action="store_true",
                        help="OMP_WAIT_POLICY=PASSIVE for Brian2's OpenMP threads: on a "
                        "machine whose cores are busy with other work, spinning threads "
                        "wait on each other for seconds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    numba.set_num_threads(1)
    python = None if args.no_brian2 else (args.brian2_python or _default_brian2())
    rows = []
    load_before = os.getloadavg()
    for n in args.sizes:
        net, v0 = cuba_network(n, 0)
        run_clock(net, NetworkState.initial(net, v0), 10.0, 0.1)  # warm-up (compiled code)
        for duration in args.durations:
            # timed just before its Brian2 counterparts: the load of a shared machine drifts
            ours = spikewave_time(net, v0, duration, args.repeats)
            row = {"n_neurons": n, "duration_s": duration, "spikewave": ours}
            if python:
                row["brian2_standalone_1"] = brian2_time(python, n, duration, "standalone", 0)
                row["brian2_standalone_2"] = brian2_time(python, n, duration, "standalone", 2,
                                                         args.passive_wait)
                if duration <= 1.0:
                    row["brian2_cython"] = brian2_time(python, n, duration, "cython", 0)
            sim = ours["simulation_s"]
            for key in ("brian2_standalone_1", "brian2_standalone_2", "brian2_cython"):
                if key in row and "simulation_s" in row[key]:
                    row[f"speedup_vs_{key}"] = row[key]["simulation_s"] / sim
            rows.append(row)
            _print_row(row)
    out = {"machine": {"cpu": platform.processor() or platform.machine(),
                       "cores": os.cpu_count(), "load_before": load_before,
                       "load_after": os.getloadavg()},
           "passive_wait": args.passive_wait, "rows": rows}
    if args.json:
        print(json.dumps(out))
    return 0


def _print_row(row: dict) -> None:
    ours = row["spikewave"]
    line = (f"N={row['n_neurons']:>6} T={row['duration_s']:>5g} s  spikewave "
            f"{ours['simulation_s']:8.3f} s ({ours['spikes']} spikes, "
            f"{ours['events_per_s_per_core'] / 1e6:.0f} M events/s)")
    for key, label in (("brian2_standalone_1", "standalone 1t"),
                       ("brian2_standalone_2", "standalone 2t"),
                       ("brian2_cython", "cython")):
        res = row.get(key)
        if res is None:
            continue
        if "simulation_s" in res:
            line += (f" | {label} {res['simulation_s']:.3f} s (x{row['speedup_vs_' + key]:.2f}"
                     f", build {res['build_s']:.1f} s, {res['spikes']} spikes)")
        else:
            line += f" | {label}: {res['error']}"
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
