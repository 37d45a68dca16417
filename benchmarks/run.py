"""Side-by-side speed and memory of spiking layers: spikewave, snnTorch, SpikingJelly, Norse,
and the dense-GEMM limit, each library in its own process.

    python benchmarks/run.py [WORKLOAD ...] [--peers-python PATH] [--repeats 10] [--rounds 1]
                             [--json]

Workloads:
- ``lif_T{T}_N{N}_p{density}``: ``x[T, B=32, N]`` Bernoulli(density) -> Linear(N, N) -> LIF
  (beta = exp(-1/20), threshold 1, subtract reset, surrogate) -> sum -> backward. The grid
  is T in {100, 500}, N in {1024, 4096}, density in {0.1, 0.02}; ``lif`` picks the
  headline case T=100, N=1024, p=0.1.
- ``dense_T100_N1024``: the same with dense Gaussian (non-binary) input.
- ``mlp_train``: one training step (forward, backward, Adam) of a 784-512-512-10 LIF MLP on
  MNIST-shaped Bernoulli input, T = 25, B = 128.
- ``mlp_infer``: the same network, forward only, no autograd.

"ours" is spikewave's ``LinearLIF`` for each Linear + LIF (event-driven for sparse spikes:
the current summed and the neurons stepped in one pass, the spikes listed for the next
layer on the way) and ``SpikeLinear`` for the MLP's output layer, with ``input_major=True``
(the weight stored input by input) where a layer has 64 outputs or more; "ours, ckpt" is
``LinearLIF(chunk_steps=20)`` (same option), whose backward pass recomputes each chunk of 20
steps from its saved start state instead of keeping every step (less memory, one more
forward pass).

``gemm_limit_ms`` is the time of only the matrix products a dense implementation must do for
the same shapes (forward ``[T B, N] x [N, N]``, and for training the weight gradient and,
between layers, the input gradient), measured in the same run. Every figure is the median of
``--repeats`` runs after two warm-ups and one untimed step (min-max beside it);
``peak_rss_mb`` is the process's peak resident memory and ``step_peak_mb`` the peak the
steps add above what the process held before them (libraries, inputs and weights excluded:
the memory of the forward and backward pass itself; measured from the untimed step on, after
freed memory is handed back to the system -- that step faults its pages in afresh, so it is
not timed). Peers run in the Python given by ``--peers-python`` (default: the Python of
a ``.peers-venv`` folder beside the repository, when it exists), each in its own process;
missing ones are skipped.
With ``--json`` the last line is one object per workload with ``ours_ms``,
``ours_checkpointed_ms``, ``<peer>_ms``, ``gemm_limit_ms``, ``speedup_vs_fastest_peer``,
``peak_rss_mb`` and ``step_peak_mb``, and for the MLP workloads ``layer_input_density``
(``first`` / ``last``: the fraction of each layer's inputs that are spikes before the first
and after the last timed step of ours' first round -- ``mlp_train`` trains one batch over
and over, so its hidden layers' activity climbs while it is timed, and the event-driven
layers' cost with it).
With ``--rounds R`` the libraries take turns R times (ours, ours-ckpt, GEMM, peers, then
again), each turn a fresh process timing ``--repeats`` steps, and every median and min-max
is over all R x repeats steps: on a shared machine a slow spell then lands on every library
instead of on whichever one was running. Peak memory figures are the largest of the turns.
With ``--settings`` each LIF-layer workload also times ours with one setting changed at a
time (``SETTINGS``: the density limit, the weight layout, each surrogate -- one defined
outside the package too --, the zero reset, learnt time constants, float64, chunks of 1,
10 and 100 steps, the kernels on spikewave's own pool of threads instead of torch's OpenMP
team), each in its own process, and reports each against ours' default
(``settings`` in the JSON: ``{setting: {"ms": ..., "x_default": ...}}``). ``--busy-cores N``
keeps N processes spinning on a core each for the whole run: the table under load.
Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
BETA = math.exp(-1 / 20)
PEERS = ("snntorch", "spikingjelly", "norse")
CHUNK_STEPS = 20  # time steps per checkpointed chunk in the "ours, checkpointed" rows
LABELS = {"ours_ckpt": "ours, ckpt", "gemm": "gemm limit"}
SETTINGS = ("max_density=0", "max_density=1", "input_major=0", "surrogate=atan",
            "surrogate=sigmoid", "surrogate=triangle", "surrogate=boxcar", "surrogate=own",
            "reset=zero", "learn_beta=1", "dtype=float64", "chunk_steps=1", "chunk_steps=10",
            "chunk_steps=100", "threading=pool")


def workload_params(name: str) -> dict:
    if name == "lif":
        name = "lif_T100_N1024_p0.1"
    if name.startswith("lif_") or name.startswith("dense_"):
        parts = dict((p[0], p[1:]) for p in name.split("_")[1:])
        return {"kind": "lif", "T": int(parts["T"]), "N": int(parts["N"]), "B": 32,
                "density": float(parts.get("p", "nan")), "dense": name.startswith("dense_")}
    if name in ("mlp_train", "mlp_infer"):
        return {"kind": name, "T": 25, "B": 128, "sizes": (784, 512, 512, 10), "density": 0.1}
    raise SystemExit(f"unknown workload {name!r}")


def default_workloads() -> list[str]:
    grid = [f"lif_T{t}_N{n}_p{p}" for t in (100, 500) for n in (1024, 4096) for p in (0.1, 0.02)]
    return [*grid, "dense_T100_N1024", "mlp_train", "mlp_infer"]


# ----------------------------------------------------------------------------- workers
def _input(torch, p, gen):
    shape = (p["T"], p["B"], p["N"] if p["kind"] == "lif" else p["sizes"][0])
    if p.get("dense"):
        return torch.randn(shape, generator=gen)
    return (torch.rand(shape, generator=gen) < p["density"]).float()


def _lif_stepper(lib: str, torch, n: int):
    """A function ``current[T, B, n] -> spikes[T, B, n]`` of the library, surrogate on."""
    if lib == "ours":
        from spikewave.nn import LIF
        return LIF(tau_steps=20.0, threshold=1.0, reset="subtract")
    if lib == "snntorch":
        import snntorch as snn

        leaky = snn.Leaky(beta=BETA, threshold=1.0, reset_mechanism="subtract",
                          reset_delay=False)

        def run(cur):
            mem = leaky.init_leaky()
            out = []
            for c in cur:
                s, mem = leaky(c, mem)
                out.append(s)
            return torch.stack(out)
        return run
    if lib == "spikingjelly":
        from spikingjelly.activation_based import functional, neuron
        node = neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_reset=None,
                              step_mode="m")

        def run(cur):
            functional.reset_net(node)
            return node(cur)
        return run
    if lib == "norse":
        import norse.torch as nt
        p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor((1 - BETA) / 1e-3),
                                v_th=torch.tensor(1.0), v_reset=torch.tensor(0.0))
        cell = nt.LIFBoxCell(p, dt=1e-3)

        def run(cur):
            state, out = None, []
            for c in cur:
                s, state = cell(c / (1 - BETA), state)
                out.append(s)
            return torch.stack(out)
        return run
    raise SystemExit(f"unknown library {lib!r}")


def worker(lib: str, name: str, repeats: int) -> dict:
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    p = workload_params(name)
    gen = torch.Generator().manual_seed(0)
    lib, _, setting = lib.partition(":")
    key, _, value = setting.partition("=")
    x = _input(torch, p, gen)
    if key == "dtype":
        x = x.to(getattr(torch, value))
    if key == "threading":  # the kernels' threads: spikewave's pool, not torch's team
        from spikewave import kernels

        kernels.configure(threading=value)
    if lib == "gemm":
        return _gemm_worker(torch, p, x, repeats)
    sizes = (p["N"], p["N"]) if p["kind"] == "lif" else p["sizes"]
    # one function per layer, [T, B, in] -> [T, B, out]: Linear + LIF for the hidden layers
    # (the LIF layer workload has one), a Linear for the MLP's output layer
    if lib in ("ours", "ours_ckpt"):
        hidden, last = _ours_layers(torch, sizes, p["kind"] == "lif",
                                    CHUNK_STEPS if lib == "ours_ckpt" else None,
                                    (key, value) if key else None)
    else:
        hidden, last = _peer_layers(torch, lib, sizes, p["kind"] == "lif")
    modules = [m for stage in (*hidden, *([last] if last else [])) for m in stage[1]]
    params = [q for m in modules for q in m.parameters()]

    def forward(densities=None):
        h = x
        for run, _ in (*hidden, *([last] if last else [])):
            if densities is not None:  # the fraction of each layer's inputs that spike
                densities.append(float((h != 0).float().mean()))
            h = run(h)
        return h

    if p["kind"] == "lif":
        def step():
            for q in params:
                q.grad = None
            forward().sum().backward()
        return _timed(step, repeats)
    opt = torch.optim.Adam(params, lr=1e-3)
    labels = torch.randint(0, 10, (p["B"],), generator=gen)

    def layer_input_density() -> list[float]:
        densities: list[float] = []
        with torch.no_grad():
            forward(densities)
        return densities

    if p["kind"] == "mlp_train":
        def step():
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(forward().mean(0), labels).backward()
            opt.step()
    else:
        def step():
            with torch.no_grad():
                forward().mean(0)
    # training moves the activity while the steps are timed (the same batch, Adam):
    # the layers' input densities before the first and after the last timed step
    return _timed(step, repeats, layer_input_density if lib != "ours_ckpt" else None)


def _time_distributed(lin):
    """``[T, B, in] -> [T, B, out]`` through a layer that takes rows ``[T B, in]``."""
    return lambda h: lin(h.reshape(-1, h.shape[-1])).reshape(*h.shape[:2], -1)


def _peer_layers(torch, lib: str, sizes, single: bool):
    """The peers' layers: ``torch.nn.Linear`` then the library's LIF (its fastest CPU mode,
    :func:`_lif_stepper`), and a Linear for the MLP's output layer."""
    hidden = []
    for a, b in zip(sizes[:-1] if single else sizes[:-2], sizes[1:] if single else sizes[1:-1],
                    strict=True):
        lin, lif = torch.nn.Linear(a, b), _lif_stepper(lib, torch, b)
        linear = _time_distributed(lin)
        hidden.append((lambda h, linear=linear, lif=lif: lif(linear(h)), [lin]))
    if single:
        return hidden, None
    lin = torch.nn.Linear(sizes[-2], sizes[-1])
    return hidden, (_time_distributed(lin), [lin])


class _OwnSurrogate:
    """A surrogate defined outside the package, with no compiled derivative: the fused
    paths take its PyTorch derivative (the ``surrogate=own`` setting)."""

    @staticmethod
    def make():
        from dataclasses import dataclass

        from spikewave.surrogate import Surrogate

        @dataclass(frozen=True)
        class Rational(Surrogate):
            scale: float = 10.0

            def primitive(self, x):
                return x / (1 + self.scale * x.abs())

            def derivative(self, x):
                return 1.0 / (1 + self.scale * x.abs()) ** 2

        return Rational()


def _layer_options(setting: tuple[str, str] | None) -> dict:
    """The LinearLIF keywords of one ``SETTINGS`` entry."""
    if setting is None:
        return {}
    key, value = setting
    if key == "surrogate":
        from spikewave import surrogate as sg

        made = (_OwnSurrogate.make() if value == "own" else
                {"atan": sg.ATan, "sigmoid": sg.Sigmoid, "triangle": sg.Triangle,
                 "boxcar": sg.Boxcar}[value]())
        return {"surrogate": made}
    if key in ("max_density",):
        return {key: float(value)}
    if key in ("chunk_steps",):
        return {key: int(value)}
    if key in ("input_major", "learn_beta"):
        return {key: bool(int(value))}
    if key == "reset":
        return {"reset": value}
    return {}  # dtype, threading: set in the worker


def _ours_layers(torch, sizes, single: bool, chunk_steps: int | None, setting=None):
    """Ours: :class:`spikewave.nn.LinearLIF` for a Linear + LIF (event-driven for sparse
    spikes, the current summed and the neurons stepped in one pass; checkpointed over
    chunks of ``chunk_steps`` steps when given), a :class:`spikewave.nn.SpikeLinear` for
    the MLP's output layer; weights stored input by input where the event path can run."""
    from spikewave.nn import LinearLIF, SpikeLinear

    pairs = zip(sizes[:-1] if single else sizes[:-2], sizes[1:] if single else sizes[1:-1],
                strict=True)
    hidden = []
    for a, b in pairs:
        options = {"reset": "subtract", "chunk_steps": chunk_steps,
                   "input_major": _input_major(b)} | _layer_options(setting)
        layer = LinearLIF(a, b, tau_steps=20.0, threshold=1.0, **options)
        if setting is not None and setting[0] == "dtype":
            layer = layer.to(getattr(torch, setting[1]))
        hidden.append((layer, [layer]))
    if single:
        return hidden, None
    lin = SpikeLinear(sizes[-2], sizes[-1], input_major=_input_major(sizes[-1]))
    return hidden, (_time_distributed(lin), [lin])


def _input_major(n_out: int) -> bool:
    """Whether ours stores a layer's weight input by input: where the event path can run
    (``SpikeLinear(..., input_major=True)``; see its docstring)."""
    from spikewave.kernels.registry import MIN_EVENT_OUTPUTS
    return n_out >= MIN_EVENT_OUTPUTS


def _gemm_worker(torch, p, x, repeats: int) -> dict:
    if p["kind"] == "lif":
        shapes = [(p["N"], p["N"])]
        train = True
        first_has_grad = False
    else:
        shapes = list(zip(p["sizes"][:-1], p["sizes"][1:], strict=True))
        train = p["kind"] == "mlp_train"
        first_has_grad = False
    rows = p["T"] * p["B"]
    mats = [(torch.randn(rows, a), torch.randn(b, a), torch.randn(rows, b)) for a, b in shapes]

    def step():
        for i, (inp, w, g) in enumerate(mats):
            torch.mm(inp, w.T)                      # forward
            if train:
                torch.mm(g.T, inp)                  # weight gradient
                if i > 0 or first_has_grad:
                    torch.mm(g, w)                  # input gradient
    return _timed(step, repeats)


def _proc_status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _timed(step, repeats: int, densities=None) -> dict:
    """Times ``repeats`` steps after two warm-ups and one untimed step that measures the
    memory; ``densities()``, when given, is read (untimed) before the first and after the
    last timed step."""
    for _ in range(2):
        step()
    # the memory the steps add on top of what the process holds before them (libraries,
    # inputs, weights, compiled code): after the warm-ups, hand freed heap back to the
    # system (and spikewave's pool of kernel outputs, whose arrays a step would otherwise
    # find already resident), reset the peak-RSS mark (Linux >= 4.0) and read it back at
    # the end. The step right after that is not timed: every page it touches is faulted
    # in afresh (each library's step 9-15 % slower than the next ones), which is the
    # memory measurement's doing, not the step's.
    pool = sys.modules.get("spikewave.kernels._buffers")
    if pool is not None:
        pool.clear()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _proc_status_mb("VmRSS")
    except OSError:
        before = None
    step()
    first = densities() if densities is not None else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hwm = _proc_status_mb("VmHWM")
    step_peak = hwm - before if before is not None and hwm is not None else None
    out = {"times_ms": times, "peak_rss_mb": rss, "step_peak_mb": step_peak}
    if densities is not None:
        out["layer_input_density"] = {"first": first, "last": densities()}
    return out


# ----------------------------------------------------------------------------- driver
def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def run_worker(python: str, lib: str, name: str, repeats: int) -> dict | None:
    env = dict(os.environ)
    if lib in ("ours", "ours_ckpt", "gemm"):
        env["PYTHONPATH"] = str(HERE.parents[1] / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([python, str(HERE), "--worker", lib, name, "--repeats", str(repeats)],
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        sys.stderr.write(f"[{lib} {name}] failed: {proc.stderr.strip().splitlines()[-1:]}\n")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", help="default: all (see the module docstring)")
    ap.add_argument("--peers-python", default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1,
                    help="turns each library takes, each in a fresh process timing --repeats "
                         "steps; medians over all of them (default 1)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--settings", action="store_true",
                    help="also time ours with each of SETTINGS (LIF-layer workloads)")
    ap.add_argument("--busy-cores", type=int, default=0,
                    help="processes kept spinning on a core each during the run")
    ap.add_argument("--worker", nargs=2, metavar=("LIB", "WORKLOAD"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.repeats)))
        return
    peers_python = args.peers_python
    default = HERE.parents[2] / ".peers-venv" / "bin" / "python"
    if peers_python is None and default.exists():
        peers_python = str(default)
    if args.rounds < 1 or args.repeats < 1:
        raise SystemExit("--rounds and --repeats must be at least 1")
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(args.busy_cores)]
    try:
        results = _run_all(args, peers_python)
    finally:
        for proc in spinners:
            proc.kill()
    if args.json:
        print(json.dumps(results))


def _run_all(args, peers_python) -> list[dict]:
    results = []
    for name in args.workloads or default_workloads():
        row = {"workload": name}
        settings = ([f"ours:{s}" for s in SETTINGS]
                    if args.settings and workload_params(name)["kind"] == "lif" else [])
        libs = [("ours", sys.executable), ("ours_ckpt", sys.executable), ("gemm", sys.executable),
                *[(peer, peers_python) for peer in PEERS if peers_python],
                *[(s, sys.executable) for s in settings]]
        runs: dict[str, list[dict]] = {}
        for _ in range(args.rounds):  # libraries take turns, so a slow spell hits them all
            for lib, python in libs:
                res = run_worker(python, lib, name, args.repeats)
                if res is not None:
                    runs.setdefault(lib, []).append(res)
        for lib, parts in runs.items():
            times = [t for part in parts for t in part["times_ms"]]
            steps = [part["step_peak_mb"] for part in parts if part["step_peak_mb"] is not None]
            row[lib] = {"ms": statistics.median(times), "min": min(times), "max": max(times),
                        "peak_rss_mb": max(part["peak_rss_mb"] for part in parts),
                        "step_peak_mb": max(steps) if steps else None,
                        "density": parts[0].get("layer_input_density")}
        peers = {k: row[k]["ms"] for k in PEERS if k in row}
        print(f"\n{name}")
        print(f"  {'library':<13} {'median ms':>10} {'min-max ms':>17} {'peak RSS MB':>12} "
              f"{'step MB':>8} {'x ours':>7}")
        for lib in ("ours", "ours_ckpt", *PEERS, "gemm"):
            if lib in row:
                r = row[lib]
                ratio = r["ms"] / row["ours"]["ms"] if "ours" in row else float("nan")
                label = LABELS.get(lib, lib)
                print(f"  {label:<13} {r['ms']:>10.1f} {r['min']:>8.1f}-{r['max']:<8.1f} "
                      f"{r['peak_rss_mb']:>12.0f} {_mb(r.get('step_peak_mb')):>8} "
                      f"{ratio:>7.2f}")
        density = row.get("ours", {}).get("density")
        if density:
            print("  layer input densities (ours, first round): "
                  + ", ".join(f"{a:.3f} -> {b:.3f}"
                              for a, b in zip(density["first"], density["last"], strict=True))
                  + "  (before the first -> after the last timed step)")
        out = {"workload": name, "ours_ms": row.get("ours", {}).get("ms"),
               **{f"{k}_ms": v for k, v in peers.items()},
               "ours_checkpointed_ms": row.get("ours_ckpt", {}).get("ms"),
               "gemm_limit_ms": row.get("gemm", {}).get("ms"),
               "speedup_vs_fastest_peer": (min(peers.values()) / row["ours"]["ms"]
                                           if peers and "ours" in row else None),
               "peak_rss_mb": {k: row[k]["peak_rss_mb"] for k in ("ours", *PEERS) if k in row},
               "step_peak_mb": {k: row[k].get("step_peak_mb")
                                for k in ("ours", "ours_ckpt", *PEERS) if k in row},
               **({"layer_input_density": density} if density else {}),
               "busy_cores": args.busy_cores}
        if settings and "ours" in row:
            out["settings"] = {}
            print(f"  {'ours, one setting changed':<28} {'median ms':>10} {'x default':>10}")
            for lib in settings:
                if lib in row:
                    ms = row[lib]["ms"]
                    ratio = ms / row["ours"]["ms"]
                    out["settings"][lib.split(":", 1)[1]] = {"ms": ms, "x_default": ratio}
                    print(f"  {lib.split(':', 1)[1]:<28} {ms:>10.1f} {ratio:>10.2f}")
        results.append(out)
    return results


if __name__ == "__main__":
    main()
