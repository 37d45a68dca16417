"""Event-driven or dense: the input density up to which the gather wins, measured here.

For binary input ``s[R, in]`` with a fraction ``p`` of ones, the event-driven product of
:mod:`spikewave.kernels.spike_linear` (scan for the active inputs, then add their weight rows)
costs about ``a + b p``; the dense product costs ``d`` whatever ``p``. The two meet at

    p* = (d - a) / b,

and ``p*`` depends on the machine more than on anything else: measured with
``benchmarks/run.py`` it was about 0.15 for 512-1024 wide layers on a CPU with AVX-512 and a
fast sgemm, and about 0.5 on an AVX2 EPYC whose sgemm reaches 20 GFLOPS per core (3200 rows,
512 -> 512, one thread: forward event 13.7 / 22.3 / 29.6 / 37.9 / 49.9 ms at p = 0.1 ... 0.5,
dense 49-51 ms); a weight larger than the cache makes every gathered row a memory fetch
and moves it down. So it is not a constant: the first time a weight shape, dtype and thread
count is seen, :func:`measured_crossover` times both paths on ``PROBE_ROWS`` random rows at
two densities (the best of ``PROBE_REPEATS`` after a warm-up; the caller's random number
generators are not touched) and keeps ``p*`` for the process. That costs a few
milliseconds for a 512-wide layer and about a second for 4096 x 4096 on a slow CPU, once.

A machine busy with other work during the probe gets a less exact ``p*``; both paths give the
same values up to the order of summation, so a wrong crossover costs time, never accuracy.
For runs that must take the same path every time, pass a fixed ``max_density`` to the layer
or set ``SPIKEWAVE_EVENT_DENSITY`` (a fraction in [0, 1]) to skip the measurement.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np
import torch

from spikewave._validation import fail

PROBE_ROWS = 256
PROBE_DENSITIES = (0.05, 0.3)
PROBE_REPEATS = 3
ENV_OVERRIDE = "SPIKEWAVE_EVENT_DENSITY"

_MEASURED: dict[tuple, float] = {}


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
    fn()  # warm-up: compilation, first-touch of the buffers
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def _probe(n_in: int, n_out: int, dtype: torch.dtype) -> float:
    from spikewave.kernels.spike_linear import active_inputs, gather_linear

    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(n_out, n_in, generator=gen, dtype=dtype)
    bias = torch.zeros(n_out, dtype=dtype)
    w_t = np.ascontiguousarray(weight.numpy().T)
    b = bias.numpy()
    event_ms = []
    for p in PROBE_DENSITIES:
        x = (torch.rand(PROBE_ROWS, n_in, generator=gen, dtype=dtype) < p).to(dtype)

        def event(x=x) -> None:
            active = active_inputs(x, 1.0)
            assert active is not None
            gather_linear(active, w_t, b)
        event_ms.append(_best_ms(event, PROBE_REPEATS))
    dense_ms = _best_ms(lambda: torch.nn.functional.linear(x, weight, bias), PROBE_REPEATS)
    return crossover_from_costs((event_ms[0], event_ms[1]), dense_ms)


def _threads() -> int:
    return int(os.environ.get("SPIKEWAVE_THREADS", 0)) or torch.get_num_threads()


def measured_crossover(n_in: int, n_out: int, dtype: torch.dtype) -> float:
    """The input density up to which the event-driven product of an ``[n_out, n_in]``
    weight is faster than the dense one on this machine (see the module docstring);
    ``SPIKEWAVE_EVENT_DENSITY``, when set, instead."""
    fixed = os.environ.get(ENV_OVERRIDE)
    if fixed:
        try:
            value = float(fixed)
        except ValueError:
            value = float("nan")
        if not 0.0 <= value <= 1.0:
            raise fail(ENV_OVERRIDE, fixed, "a density in [0, 1] (or unset: measured)")
        return value
    key = (int(n_in), int(n_out), dtype, _threads())
    if key not in _MEASURED:
        _MEASURED[key] = _probe(int(n_in), int(n_out), dtype)
    return _MEASURED[key]


def measured() -> dict[tuple, float]:
    """The crossovers measured so far in this process: ``{(in, out, dtype, threads): p*}``."""
    return dict(_MEASURED)
