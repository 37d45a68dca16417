"""Calibration: the input density up to which the event-driven products pay, measured on
this machine when asked, and stored on disk with the machine's identity.

For binary input ``s[R, in]`` with a fraction ``p`` of ones, the event-driven product of
:mod:`spikewave.kernels.spike_linear` (scan for the active inputs, then add their weight rows)
costs about ``a + b p``; the dense product costs ``d`` whatever ``p``. The two meet at

    p* = (d - a) / b,

which depends on the machine (its vector width, its sgemm, its caches) more than on anything
else. The same holds of the weight gradient ``g.T @ s`` alone, summed over the active inputs
(:mod:`spikewave.kernels.spike_wgrad`) or the dense product, with a crossover of its own.
The registry uses ``registry.EVENT_DENSITY`` and ``registry.WEIGHT_GRAD_DENSITY`` unless
:func:`calibrate` has stored measured ones for this machine: it times both ways of the
weight gradient, then both paths for the forward product and the weight gradient together,
for a few layer widths on random rows at two densities (the best of ``PROBE_REPEATS`` after
a warm-up), and writes the median crossovers to ``$XDG_CACHE_HOME/spikewave/kernels.json``
(default ``~/.cache``) under the machine's identity (CPU model, logical CPUs, kernel threads,
torch version). A file made on another machine, or for another thread count, is ignored.
Both ways give the same values up to the order of summation, so a crossover only ever
changes the time a layer takes.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikewave._io import atomic_write_text
from spikewave.kernels._threads import thread_count

PROBE_WORK = 2**29  # rows x in x out of one probe product (256 to 2048 rows)
PROBE_ROWS = (256, 2048)
PROBE_DENSITIES = (0.05, 0.3)
PROBE_REPEATS = 3
PROBE_BUDGET_S = 0.3  # fewer repeats for a layer whose product alone takes longer
CALIBRATION_WIDTHS = (512, 1024, 2048)


def crossover_from_costs(event_ms: tuple[float, float], dense_ms: float,
                         densities: tuple[float, float] = PROBE_DENSITIES) -> float:
    """``p*`` in [0, 1] where the line through the two event-driven costs (at
    ``densities``) reaches the dense cost; 1 when the event path is never slower, 0 when it
    is never faster."""
    (p1, p2), (e1, e2) = densities, event_ms
    slope = (e2 - e1) / (p2 - p1)
    if slope <= 0.0:  # flat (or noisy) event cost: whichever is cheaper at the probes
        return 1.0 if max(e1, e2) <= dense_ms else 0.0
    return float(min(1.0, max(0.0, p1 + (dense_ms - e1) / slope)))


def _best_ms(fn: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    fn()  # warm-up: compilation, first-touch of the buffers
    best = time.perf_counter() - start
    for _ in range(repeats if best < PROBE_BUDGET_S / repeats else 1):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def probe_rows(n_in: int, n_out: int) -> int:
    """Rows of the probe: enough work that fixed costs (thread hand-offs, allocations) do
    not decide, bounded for very wide or very narrow layers."""
    lo, hi = PROBE_ROWS
    return int(min(hi, max(lo, PROBE_WORK // max(n_in * n_out, 1))))


def _timed_crossover(rows: int, n_in: int, dtype: torch.dtype, gen: torch.Generator,
                     event: Callable[[Any], object], dense: Callable[[torch.Tensor], object],
                     setup: Callable[[torch.Tensor], Any] = lambda x: x) -> float:
    """``p*`` from the best times of ``event(setup(x))`` on random binary rows
    ``x[rows, n_in]`` drawn from ``gen`` at each of ``PROBE_DENSITIES`` (``setup`` is not
    timed) and of ``dense(x)`` (the last ``x``: its cost does not depend on the density)."""
    event_ms = []
    for p in PROBE_DENSITIES:
        x = (torch.rand(rows, n_in, generator=gen, dtype=dtype) < p).to(dtype)
        prepared = setup(x)
        event_ms.append(_best_ms(lambda a=prepared: event(a), PROBE_REPEATS))
    dense_ms = _best_ms(lambda: dense(x), PROBE_REPEATS)
    return crossover_from_costs((event_ms[0], event_ms[1]), dense_ms)


def _probe_weight_grad(n_in: int, n_out: int, dtype: torch.dtype) -> float:
    """``p*`` of the weight gradient ``g.T @ s`` of a layer: summed over the active inputs
    (:func:`~spikewave.kernels.spike_wgrad.weight_grad`, as the event-driven layers take it)
    against the dense product."""
    from spikewave.kernels.spike_scan import active_inputs
    from spikewave.kernels.spike_wgrad import weight_grad

    gen = torch.Generator().manual_seed(0)
    rows = probe_rows(n_in, n_out)
    grad = torch.randn(rows, n_out, generator=gen, dtype=dtype)
    g_np = grad.numpy()

    def active(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        found = active_inputs(x, 1.0)
        assert found is not None
        return found

    return _timed_crossover(rows, n_in, dtype, gen,
                            lambda a: weight_grad(a[0], a[1], g_np, n_in),
                            lambda x: torch.mm(grad.T, x), setup=active)


def _probe(n_in: int, n_out: int, dtype: torch.dtype, train: bool,
           weight_grad_limit: float | None = None) -> float:
    """``p*`` of the forward product alone, or (``train``) of the forward product and the
    weight gradient together -- the two paths' input gradient is the same dense product;
    the event path's weight gradient is the dense one where
    :func:`~spikewave.kernels.registry.dense_weight_grad` says so (with
    ``weight_grad_limit``, when given), as in
    :func:`~spikewave.kernels.spike_linear.linear_grads`."""
    from spikewave.kernels.registry import dense_weight_grad
    from spikewave.kernels.spike_gather import gather_weight
    from spikewave.kernels.spike_scan import active_inputs
    from spikewave.kernels.spike_wgrad import add_weight_grad_t

    gen = torch.Generator().manual_seed(0)
    rows = probe_rows(n_in, n_out)
    weight = torch.randn(n_out, n_in, generator=gen, dtype=dtype)
    bias = torch.zeros(n_out, dtype=dtype)
    grad = torch.randn(rows, n_out, generator=gen, dtype=dtype)
    b, g_np = bias.numpy(), grad.numpy()
    g_w_t = np.empty((n_in, n_out), weight.numpy().dtype)

    def event(x: torch.Tensor) -> None:
        active = active_inputs(x, 1.0)
        assert active is not None
        gather_weight(active, weight, b)
        if train and dense_weight_grad(len(active[1]), x.numel(), n_out, weight_grad_limit):
            torch.mm(grad.T, x)
        elif train:
            add_weight_grad_t(active[0], active[1], g_np, g_w_t, accumulate=False)

    def dense(x: torch.Tensor) -> None:
        torch.nn.functional.linear(x, weight, bias)
        if train:
            torch.mm(grad.T, x)

    return _timed_crossover(rows, n_in, dtype, gen, event, dense)


@functools.cache
def _cpu_model() -> str:
    """The CPU's model name (read once per process: it is asked at every layer call)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model


def machine_identity() -> dict[str, object]:
    """What a calibration is valid for: the CPU model, logical CPUs, the kernels' thread
    count and the torch version."""
    return {"cpu": _cpu_model(), "cpus": os.cpu_count(), "threads": thread_count(),
            "torch": torch.__version__}


def calibration_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "spikewave" / "kernels.json"


_STORED: dict[str, dict] = {}  # the file's entry for this identity, once read
STORED_KEYS = ("max_density", "weight_grad_density")  # the crossovers an entry holds


def _stored(name: str) -> float | None:
    """The crossover ``name`` (one of ``STORED_KEYS``) that :func:`calibrate` stored for
    this machine, or None (no file, no entry for this machine, no such crossover in it, or
    not a float in [0, 1])."""
    key = json.dumps(machine_identity(), sort_keys=True)
    if key not in _STORED:
        _STORED.clear()
        values = {}
        try:
            data = json.loads(calibration_path().read_text())
            entry = data.get(key) if isinstance(data, dict) else None
            if isinstance(entry, dict):
                values = {k: entry[k] for k in STORED_KEYS
                          if isinstance(entry.get(k), float) and 0.0 <= entry[k] <= 1.0}
        except (OSError, ValueError):
            values = {}
        _STORED[key] = values
    return _STORED[key].get(name)


def stored_density() -> float | None:
    """The crossover of the event-driven products :func:`calibrate` stored for this
    machine, or None."""
    return _stored("max_density")


def stored_weight_grad_density() -> float | None:
    """The crossover of the weight gradient alone :func:`calibrate` stored for this
    machine, or None (also for a file written before it was measured)."""
    return _stored("weight_grad_density")


def calibrate(widths: tuple[int, ...] = CALIBRATION_WIDTHS, dtype: torch.dtype = torch.float32,
              save: bool = True) -> dict[str, object]:
    """Measure, for square layers of ``widths`` on this machine, the crossover of the
    weight gradient alone, then the training crossover (forward product and weight
    gradient, the latter taken as the first crossover says); with ``save``, store their
    medians for this machine's identity, where the registry finds them. Returns what was
    measured. Takes a few seconds; run it on a quiet machine."""
    sizes = [int(w) for w in widths]
    weight_grad = {w: _probe_weight_grad(w, w, dtype) for w in sizes}
    weight_grad_density = float(statistics.median(weight_grad.values()))
    crossovers = {w: _probe(w, w, dtype, True, weight_grad_density) for w in sizes}
    result = {"max_density": float(statistics.median(crossovers.values())),
              "per_width": crossovers, "weight_grad_density": weight_grad_density,
              "weight_grad_per_width": weight_grad, "date": time.strftime("%Y-%m-%d"),
              "identity": machine_identity()}
    if save:
        path = calibration_path()
        try:
            data = json.loads(path.read_text())
            data = data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            data = {}
        data[json.dumps(machine_identity(), sort_keys=True)] = result
        atomic_write_text(path, json.dumps(data, indent=1))
        _STORED.clear()
    return result
