"""One MNIST epoch of ``spikewave train`` against the same network in snnTorch, SpikingJelly
and Norse, side by side in one run.

    python benchmarks/train_epoch.py [--data-dir DIR] [--peers-python PATH] [--rounds R]
                                     [--threads 2] [--busy-cores N] [--json]

Ours is the command users run: ``spikewave train --dataset mnist --model dense --time-steps
10 --batch-size 128 --epochs 1`` (784-512-512-10 LIF, per-neuron trainable time constants;
its ``epoch_s``, the training pass of the epoch without the test pass, and its test
accuracy after the epoch). Each peer trains the same network with the same protocol in its
fastest CPU way (``benchmarks/_peer_train_epoch.py``: the conventions and which peer has
per-neuron or per-layer time constants are in its docstring), each in its own process with
``--threads`` threads. With ``--rounds R`` the libraries take turns R times and each
library's time is the median of its R epochs. ``--busy-cores N`` keeps N other processes
spinning on a core each while timing (a machine with other work).

The hardware's floor is measured in the same run (``benchmarks/_epoch_floor.py``, same
threads and load): the time of the work every implementation of BPTT for this network does
-- the products with a dense operand on both sides (the first layer's forward product and
weight gradient, the gradient to the first layer's spikes), one fused Adam step and one pass
over the stored spikes and potentials -- each at the speed of PyTorch's dense kernels here,
per batch, times the batches of the epoch. It bounds the time of an epoch from below, so
``fastest peer / floor`` bounds any implementation's speed-up here from above.

``--json``: the last line is one object with ``ours_s``, ``<peer>_s``,
``speedup_vs_fastest_peer``, ``fastest_peer``, ``<library>_test_accuracy``, ``rounds``,
``threads``, ``busy_cores``, and the floor's ``floor_s``, ``floor_batch_ms``,
``floor_parts_ms`` (ms a batch for each part), ``ours_over_floor`` and
``max_speedup_vs_fastest_peer``. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
PEERS = ("snntorch", "spikingjelly", "norse")


def _default_peers_python() -> str | None:
    for cand in (ROOT.parent / ".peers-venv" / "bin" / "python",
                 ROOT / ".peers-venv" / "bin" / "python"):
        if cand.exists():
            return str(cand)
    return None


def _default_data_dir() -> Path:
    for cand in (os.environ.get("SPIKEWAVE_DATA"), ROOT.parent / "shared" / "data",
                 ROOT / "data"):
        if cand and (Path(cand) / "mnist" / "train-images-idx3-ubyte.gz").exists():
            return Path(cand)
    raise SystemExit("MNIST not found: give --data-dir (a folder with mnist/*.gz)")


def _spin() -> None:  # pragma: no cover - a busy core
    while True:
        pass


def run_ours(data_dir: Path, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, "-m", "spikewave", "train", "--dataset", "mnist", "--model",
               "dense", "--time-steps", "10", "--batch-size", "128", "--epochs", "1",
               "--data-dir", str(data_dir / "mnist"), "--out", out, "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"spikewave train failed: {proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"epoch_s": result["epoch_s"], "test_accuracy": result["test_accuracy"]}


def run_peer(python: str, lib: str, data_dir: Path, threads: int) -> dict | None:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([python, str(HERE.parent / "_peer_train_epoch.py"), lib,
                           "--data-dir", str(data_dir / "mnist"), "--threads", str(threads)],
                          capture_output=True, text=True, env=env, timeout=7200)
    if proc.returncode != 0:
        sys.stderr.write(f"[{lib}] failed: {proc.stderr.strip()[-1500:]}\n")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_floor(threads: int) -> dict | None:
    """The floor of the epoch (``_epoch_floor.py``) in a process of its own."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, str(HERE.parent / "_epoch_floor.py"), "--threads",
                           str(threads)], capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        sys.stderr.write(f"[floor] failed: {proc.stderr.strip()[-1500:]}\n")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--peers-python", default=_default_peers_python())
    parser.add_argument("--libraries", default="ours," + ",".join(PEERS))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--busy-cores", type=int, default=0)
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the measurement of the hardware's floor")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or _default_data_dir()
    libs = [lib for lib in args.libraries.split(",") if lib]
    spinners = [multiprocessing.Process(target=_spin, daemon=True)
                for _ in range(args.busy_cores)]
    for p in spinners:
        p.start()
    runs: dict[str, list[dict]] = {lib: [] for lib in libs}
    try:
        for r in range(args.rounds):
            for lib in libs:
                print(f"[round {r + 1}/{args.rounds}] {lib} ...", file=sys.stderr, flush=True)
                if lib == "ours":
                    res = run_ours(data_dir, args.threads)
                elif args.peers_python:
                    res = run_peer(args.peers_python, lib, data_dir, args.threads)
                else:
                    res = None
                if res is not None:
                    runs[lib].append(res)
        floor = run_floor(args.threads) if args.floor else None
    finally:
        for p in spinners:
            p.terminate()
    out: dict[str, object] = {"rounds": args.rounds, "threads": args.threads,
                              "busy_cores": args.busy_cores}
    for lib, results in runs.items():
        if not results:
            continue
        out[f"{lib}_s"] = round(statistics.median(r["epoch_s"] for r in results), 3)
        out[f"{lib}_test_accuracy"] = round(statistics.median(
            r["test_accuracy"] for r in results), 4)
    peers = {lib: out[f"{lib}_s"] for lib in PEERS if f"{lib}_s" in out}
    if "ours_s" in out and peers:
        fastest = min(peers, key=peers.get)
        out["fastest_peer"] = fastest
        out["speedup_vs_fastest_peer"] = round(peers[fastest] / out["ours_s"], 3)
    if floor is not None:
        out |= {k: floor[k] for k in ("floor_s", "floor_batch_ms", "floor_parts_ms")}
        if "ours_s" in out:
            out["ours_over_floor"] = round(out["ours_s"] / floor["floor_s"], 3)
        if peers:
            out["max_speedup_vs_fastest_peer"] = round(min(peers.values()) / floor["floor_s"],
                                                       3)
    for lib in libs:
        if f"{lib}_s" in out:
            print(f"{lib:13s} {out[f'{lib}_s']:8.2f} s   test accuracy "
                  f"{100 * out[f'{lib}_test_accuracy']:.2f} %")
    if "speedup_vs_fastest_peer" in out:
        print(f"speed-up against the fastest peer ({out['fastest_peer']}): "
              f"{out['speedup_vs_fastest_peer']:.2f}x")
    if "floor_s" in out:
        print(f"{'floor':13s} {out['floor_s']:8.2f} s   ({out['floor_batch_ms']:.2f} ms a batch: "
              + ", ".join(f"{k} {v:.2f}" for k, v in out["floor_parts_ms"].items()) + ")")
    if "max_speedup_vs_fastest_peer" in out:
        print(f"the floor bounds any implementation's speed-up here to "
              f"{out['max_speedup_vs_fastest_peer']:.2f}x the fastest peer")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
