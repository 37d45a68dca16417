"""Scaling out on one machine: data-parallel training with 1 and 2 processes, and a
multi-seed sweep on a 2-worker Dask LocalCluster against the local thread pool, side by
side in one run.

    python benchmarks/scale_out.py [--rounds R] [--dataset digits] [--epochs 3]
                                   [--sweep-runs 10] [--sweep-duration-s 30] [--json]
                                   [--skip train|sweep] [--no-two-threads]

Training: ``spikewave train --dataset DATASET --model dense --epochs E --json`` run as one
process with one thread, one process with two threads, and ``torchrun --nproc-per-node
2`` (one thread each, as torchrun sets); the figure is the ``--json`` line's
``samples_per_s`` (training samples per second over the epochs' training passes), the
median of R rounds taken in turns. Sweep: ``spikewave reproduce masquelier2008 --sweep
spike-deletion --runs N --duration-s D --json`` (4 values x N seeds), on the local thread
pool and with ``--scheduler`` on a LocalCluster of two single-threaded worker processes
started here (its start-up not counted; the first round on the cluster includes the
workers' first compilation); the figure is the command's wall time, median of R rounds,
and the two runs' success-rate tables must be equal. ``--json``: the last line is one
object with every figure. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _env(threads: int) -> dict:
    src = str(ROOT / "src")
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "OMP_NUM_THREADS": str(threads),
            "PYTHONPATH": src + (os.pathsep + path if path else "")}


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def train_once(mode: str, dataset: str, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        args = ["-m", "spikewave", "train", "--dataset", dataset, "--model", "dense",
                "--epochs", str(epochs), "--out", out, "--json"]
        if mode == "2 processes":
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                   *args]
        else:
            cmd = [sys.executable, *args]
        threads = 2 if mode == "1 process, 2 threads" else 1
        proc = subprocess.run(cmd, env=_env(threads), capture_output=True, text=True,
                              check=True)
        return float(_last_json(proc.stdout)["samples_per_s"])


def sweep_once(scheduler: str | None, runs: int, duration_s: float) -> tuple[float, list]:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "spikewave", "reproduce", "masquelier2008", "--sweep",
               "spike-deletion", "--runs", str(runs), "--duration-s", str(duration_s),
               "--out", out, "--json"]
        if scheduler:
            cmd += ["--scheduler", scheduler]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=_env(1), capture_output=True, text=True, check=True)
        return time.perf_counter() - start, _last_json(proc.stdout)["table"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--sweep-runs", type=int, default=10)
    ap.add_argument("--sweep-duration-s", type=float, default=30.0)
    ap.add_argument("--skip", choices=("train", "sweep"), default=None)
    ap.add_argument("--no-two-threads", action="store_true",
                    help="leave out the one-process two-thread training run")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    result: dict = {"rounds": a.rounds, "dataset": a.dataset, "epochs": a.epochs}
    if a.skip != "train":
        modes = ("1 process, 1 thread", "1 process, 2 threads", "2 processes")
        if a.no_two_threads:
            modes = (modes[0], modes[2])
        rates: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(a.rounds):
            for m in modes:
                rates[m].append(train_once(m, a.dataset, a.epochs))
        for m in modes:
            med = statistics.median(rates[m])
            result[f"train_samples_per_s[{m}]"] = med
            print(f"train {a.dataset}, {m}: {med:.0f} samples/s "
                  f"({', '.join(f'{r:.0f}' for r in rates[m])})", file=sys.stderr)
        result["train_speedup_2_vs_1_thread"] = (result["train_samples_per_s[2 processes]"]
                                                 / result["train_samples_per_s[1 process, "
                                                          "1 thread]"])
    if a.skip != "sweep":
        from distributed import LocalCluster

        with LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                          dashboard_address=None, silence_logs=50) as cluster:
            walls: dict[str, list[float]] = {"local": [], "cluster": []}
            tables = {}
            for _ in range(a.rounds):
                for name, sched in (("local", None), ("cluster", cluster.scheduler_address)):
                    wall, table = sweep_once(sched, a.sweep_runs, a.sweep_duration_s)
                    walls[name].append(wall)
                    tables[name] = table
        result["sweep_runs"] = 4 * a.sweep_runs
        result["sweep_duration_s"] = a.sweep_duration_s
        result["sweep_tables_equal"] = tables["local"] == tables["cluster"]
        for name in walls:
            result[f"sweep_wall_s[{name}]"] = statistics.median(walls[name])
            print(f"sweep {4 * a.sweep_runs} runs, {name}: "
                  f"{result[f'sweep_wall_s[{name}]']:.1f} s "
                  f"({', '.join(f'{w:.1f}' for w in walls[name])})", file=sys.stderr)
    if a.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
