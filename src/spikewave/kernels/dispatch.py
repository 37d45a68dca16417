"""Event-driven or dense: the input density up to which the gather wins, measured here.

For binary input ``s[R, in]`` with a fraction ``p`` of ones, the event-driven product of
:mod:`spikewave.kernels.spike_linear` (scan for the active inputs, then add their weight rows)
costs about ``a + b p``; the dense product costs ``d`` whatever ``p``. The two meet at

    p* = (d - a) / b,

and ``p*`` depends on the machine more than on anything else: measured with
``benchmarks/run.py`` it was about 0.15 for 512-1024 wide layers on a CPU with AVX-512 and a
fast sgemm, and about 0.5 on an AVX2 EPYC whose sgemm reaches 20 GFLOPS per core (3200 rows,
512 -> 512, one thread: forward event 13.7 / 22.3 / 29.6 / 37.9 / 49.9 ms at p = 0.1 ... 0.5,
dense 49-51 ms; 0.35-0.4 with two threads for the forward product and the weight gradient
together); a weight larger than the cache makes every gathered row a memory fetch and moves
it down. So it is not a constant: the first time a weight shape, dtype, thread count and use
(inference, or training: the weight gradient as well) is seen, :func:`measured_crossover`
times both paths on random rows at two densities (the best of ``PROBE_REPEATS`` after a
warm-up; 256 to 2048 rows, as many as keep the fixed costs of a call from deciding -- with
256 rows of a 512-wide layer they did, and the crossover read 0.17 instead of 0.5; the
caller's random number generators are not touched) and keeps ``p*`` for the process. That
costs a fraction of a second for a 512-wide layer and a few seconds for 4096 x 4096 on a
slow CPU, once.

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
from spikewave.kernels._threads import thread_count

PROBE_WORK = 2**29  # rows x in x out of one probe product (256 to 2048 rows)
PROBE_ROWS = (256, 2048)
PROBE_DENSITIES = (0.05, 0.3)
PROBE_REPEATS = 3
PROBE_BUDGET_S = 0.3  # fewer repeats for a layer whose product alone takes longer
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


def _probe(n_in: int, n_out: int, dtype: torch.dtype, train: bool) -> float:
    """``p*`` of the forward product alone, or (``train``) of the forward product and the
    weight gradient together -- the two paths' input gradient is the same dense product."""
    from spikewave.kernels.spike_linear import active_inputs, add_weight_grad_t, gather_linear

    gen = torch.Generator().manual_seed(0)
    rows = probe_rows(n_in, n_out)
    weight = torch.randn(n_out, n_in, generator=gen, dtype=dtype)
    bias = torch.zeros(n_out, dtype=dtype)
    grad = torch.randn(rows, n_out, generator=gen, dtype=dtype)
    w_t = np.ascontiguousarray(weight.numpy().T)
    b, g_np = bias.numpy(), grad.numpy()
    g_w_t = np.empty_like(w_t)
    event_ms = []
    for p in PROBE_DENSITIES:
        x = (torch.rand(rows, n_in, generator=gen, dtype=dtype) < p).to(dtype)

        def event(x=x) -> None:
            active = active_inputs(x, 1.0)
            assert active is not None
            gather_linear(active, w_t, b)
            if train:
                add_weight_grad_t(active[0], active[1], g_np, g_w_t, accumulate=False)
        event_ms.append(_best_ms(event, PROBE_REPEATS))

    def dense() -> None:
        torch.nn.functional.linear(x, weight, bias)
        if train:
            torch.mm(grad.T, x)
    dense_ms = _best_ms(dense, PROBE_REPEATS)
    return crossover_from_costs((event_ms[0], event_ms[1]), dense_ms)


def measured_crossover(n_in: int, n_out: int, dtype: torch.dtype, train: bool = False
                       ) -> float:
    """The input density up to which the event-driven product of an ``[n_out, n_in]``
    weight is faster than the dense one on this machine (see the module docstring), for
    the forward product alone or (``train``) with the weight gradient;
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
    key = (int(n_in), int(n_out), dtype, thread_count(), bool(train))
    if key not in _MEASURED:
        _MEASURED[key] = _probe(int(n_in), int(n_out), dtype, bool(train))
    return _MEASURED[key]

