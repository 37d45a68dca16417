"""Speed of the Masquelier et al. 2008 experiment: spikewave's event-driven engine,
the hardware floor measured in the same run, and Brian2 side by side when available.

    python benchmarks/masquelier2008.py [--repeats 5] [--runs 0] [--brian2-python PATH] [--json]

- ``engine``: one 450 s run (one 150 s block presented 3 times, ~58 M input spikes) with
  online STDP, on one core; input generation timed separately.
- ``floor``: a compiled pass over the same spikes that does only what any exact simulation
  must (read each spike, decay two exponentials, add a weight): the hardware limit.
- ``runs``: with ``--runs N``, N complete runs (generation included) on all cores.
- ``brian2``: the same model and rule in Brian2 (the replication's equations, dt = 0.1 ms,
  its default runtime code generation, or ``--brian2-standalone`` for its C++ standalone
  device) on the first ``--brian2-seconds`` of input, run by the Python given with
  ``--brian2-python`` (a Python that has Brian2 installed); its time is scaled to 450 s.
  Brian2's time counts the simulation loop only (not code generation or compilation).

Timings are medians of ``--repeats`` runs after a warm-up; the machine is shared, so
compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from spikewave.experiments.masquelier2008 import run_many
from spikewave.neurons.srm import SRMParams
from spikewave.plasticity.stdp import STDPParams
from spikewave.sim.eventdriven import SRMNetworkState, present_repeated
from spikewave.sim.masquelier_input import make_pattern_input

HERE = Path(__file__).resolve().parent


@numba.njit(cache=True)
def _floor_pass(times, afferents, weights, tau_m, tau_s):
    a = 0.0
    b = 0.0
    t_prev = 0.0
    acc = 0.0
    for e in range(times.shape[0]):
        dt = times[e] - t_prev
        a *= math.exp(-dt / tau_m)
        b *= math.exp(-dt / tau_s)
        w = weights[afferents[e]]
        a += w
        b += w
        acc += a - b
        t_prev = times[e]
    return acc


def median_time(fn, repeats: int) -> tuple[float, float, float]:
    fn()  # warm-up (compilation, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=0, help="also time N complete runs")
    parser.add_argument("--brian2-python", default=None)
    parser.add_argument("--brian2-seconds", type=float, default=5.0)
    parser.add_argument("--brian2-standalone", action="store_true",
                        help="use Brian2's cpp_standalone device (its fastest CPU mode)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    numba.set_num_threads(1)

    block = make_pattern_input(rng=0)
    gen = median_time(lambda: make_pattern_input(rng=0), max(1, args.repeats // 2))
    srm, stdp = SRMParams(), STDPParams()
    w0 = np.full((1, 2000), 0.475)

    def engine():
        return present_repeated(block.trains, 450_000.0, SRMNetworkState.initial(w0), srm,
                                stdp)

    eng = median_time(engine, args.repeats)
    times3 = np.concatenate([block.trains.times_ms + k * 150_000.0 for k in range(3)])
    aff3 = np.tile(block.trains.afferents, 3)
    floor = median_time(lambda: _floor_pass(times3, aff3, w0[0], 10.0, 2.5), args.repeats)
    out = {"input_spikes": int(times3.size), "engine_s": eng[0], "engine_min_max_s": eng[1:],
           "generation_s": gen[0], "floor_s": floor[0],
           "engine_over_floor": eng[0] / floor[0],
           "input_spikes_per_s": times3.size / eng[0]}
    if args.runs:
        start = time.perf_counter()
        run_many(range(args.runs), workers=os.cpu_count())
        out["runs"] = args.runs
        out["runs_wall_s"] = time.perf_counter() - start
    if args.brian2_python:
        out.update(_brian2(args.brian2_python, block, args.brian2_seconds,
                           args.brian2_standalone))
        if "brian2_s_per_450s" in out:
            out["speedup_vs_brian2"] = out["brian2_s_per_450s"] / eng[0]
    print(f"input spikes (450 s)        {out['input_spikes']:,}")
    print(f"input generation (150 s)    {gen[0]:.2f} s  (min {gen[1]:.2f}, max {gen[2]:.2f})")
    print(f"engine, 450 s with STDP     {eng[0]:.2f} s  (min {eng[1]:.2f}, max {eng[2]:.2f})"
          f"  = {out['input_spikes_per_s'] / 1e6:.1f} M input spikes/s")
    print(f"hardware floor (same spikes) {floor[0]:.2f} s  -> engine / floor = "
          f"{out['engine_over_floor']:.2f}")
    if "runs_wall_s" in out:
        print(f"{out['runs']} complete runs, all cores: {out['runs_wall_s']:.1f} s")
    if "brian2_s_per_450s" in out:
        print(f"Brian2 {out['brian2_version']} ({out['brian2_target']}, dt 0.1 ms): "
              f"{out['brian2_s']:.1f} s for {args.brian2_seconds:g} s -> "
              f"{out['brian2_s_per_450s']:.0f} s per 450 s; spikewave is "
              f"{out['speedup_vs_brian2']:.0f}x faster "
              f"({out['brian2_output_spikes']} output spikes in Brian2's run)")
    elif args.brian2_python:
        print(f"Brian2: {out.get('brian2_error', 'not run')}")
    if args.json:
        print(json.dumps(out))


def _brian2(python: str, block, seconds: float, standalone: bool) -> dict:
    block_ms = block.trains.duration_ms
    n_rep = int(np.ceil(seconds * 1000.0 / block_ms))  # the block repeated, as in our run
    times = np.concatenate([block.trains.times_ms + k * block_ms for k in range(n_rep)])
    aff = np.tile(block.trains.afferents, n_rep)
    keep = times < seconds * 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.npz"
        np.savez(path, times_ms=times[keep], afferents=aff[keep])
        mode = ["standalone"] if standalone else []
        # absolute: the child runs in the temporary directory
        python = os.path.abspath(python) if os.sep in python else (
            shutil.which(python) or python)
        proc = subprocess.run([python, str(HERE / "_brian2_masquelier.py"), str(path), *mode],
                              capture_output=True, text=True, timeout=3600, cwd=tmp)
    if proc.returncode != 0:
        return {"brian2_error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["brian2_s_per_450s"] = res["brian2_s"] * 450.0 / res["brian2_simulated_s"]
    return res


if __name__ == "__main__":
    sys.exit(main())
