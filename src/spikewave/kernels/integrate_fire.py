"""Event-driven kernel of a convolutional layer of non-leaky IF neurons fed by a spike wave.

The reference (:func:`spikewave.nn.stdp_conv.conv_potentials` then ``fire`` and
``pointwise_inhibition``) convolves the cumulative wave at every one of the ``T`` steps: a
dense ``T``-fold convolution. Here each input spike is visited once: its time bin ``t``
receives the weights ``W[:, c, :, :]`` at the output positions it reaches, then a running
sum over bins gives ``V[t]`` and the first step with ``V >= threshold``. Work is
``(input spikes) x F x K^2 + T x F x H x W`` instead of ``T x F x C x K^2 x H x W``; with
latency coding most inputs are silent, so this is far less. Sums are accumulated in float64.
Images are spread over threads (the kernel releases the GIL).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels._threads import parallel_for, split_range


@njit
def _if_conv_kernel(times, weight_ckkf, n_steps, threshold, pad, inhibit, b0, b1, out_t,
                    out_v):  # pragma: no cover - compiled
    n_c, h, w = times.shape[1], times.shape[2], times.shape[3]
    k, n_f = weight_ckkf.shape[1], weight_ckkf.shape[3]
    ho, wo = out_t.shape[2], out_t.shape[3]
    acc = np.zeros((n_steps, ho, wo, n_f))
    for b in range(b0, b1):
        acc[:] = 0.0
        for c in range(n_c):
            for y in range(h):
                for x in range(w):
                    t = times[b, c, y, x]
                    if not t < n_steps:  # silent (inf) or beyond the wave
                        continue
                    ti = int(t)
                    for dy in range(k):
                        oy = y + pad - dy
                        if oy < 0 or oy >= ho:
                            continue
                        for dx in range(k):
                            ox = x + pad - dx
                            if ox < 0 or ox >= wo:
                                continue
                            for f in range(n_f):
                                acc[ti, oy, ox, f] += weight_ckkf[c, dy, dx, f]
        for oy in range(ho):
            for ox in range(wo):
                best_f = -1
                best_t = math.inf
                best_v = -math.inf
                for f in range(n_f):
                    v = 0.0
                    fired = math.inf
                    for t in range(n_steps):
                        v += acc[t, oy, ox, f]
                        if v >= threshold:
                            fired = t
                            break
                    if fired < math.inf:
                        if inhibit:
                            if fired < best_t or (fired == best_t and v > best_v):
                                best_f, best_t, best_v = f, fired, v
                        else:
                            out_t[b, f, oy, ox] = fired
                            out_v[b, f, oy, ox] = v
                if inhibit and best_f >= 0:
                    out_t[b, best_f, oy, ox] = best_t
                    out_v[b, best_f, oy, ox] = best_v


def if_conv_fire(times: torch.Tensor, weight: torch.Tensor, time_steps: int, threshold: float,
                 padding: int, inhibit: bool = True, threads: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """First-spike times and potentials at firing of a stride-1 IF convolution, optionally
    after pointwise inhibition: the same result as the dense reference (silent = ``inf``,
    potential 0)."""
    t_np = np.ascontiguousarray(times.detach().cpu().numpy(), dtype=np.float64)
    w_np = np.ascontiguousarray(weight.detach().cpu().numpy().transpose(1, 2, 3, 0),
                                dtype=np.float64)
    b, _, h, w = t_np.shape
    k, n_f = w_np.shape[1], w_np.shape[3]
    ho, wo = h + 2 * padding - k + 1, w + 2 * padding - k + 1
    out_t = np.full((b, n_f, ho, wo), np.inf)
    out_v = np.zeros((b, n_f, ho, wo))
    args = (t_np, w_np, time_steps, float(threshold), padding, inhibit)
    parallel_for(lambda r: _if_conv_kernel(*args, r[0], r[1], out_t, out_v),
                 split_range(b, threads=threads))
    dtype = weight.dtype
    return (torch.from_numpy(out_t).to(dtype), torch.from_numpy(out_v).to(dtype))


@njit
def k_winners_kernel(times, potentials, k, radius):  # pragma: no cover - compiled
    """Compiled :func:`spikewave.plasticity.competition.k_winners` on ``[C, H, W]`` arrays:
    returns an ``[n, 3]`` int64 array of ``(map, row, col)``, ``n <= k``."""
    n_c, h, w = times.shape
    blocked = np.zeros((n_c, h, w), np.bool_)
    out = np.empty((k, 3), np.int64)
    n = 0
    for _ in range(k):
        best_t = math.inf
        best_v = -math.inf
        bc = by = bx = -1
        for c in range(n_c):
            for y in range(h):
                for x in range(w):
                    t = times[c, y, x]
                    if blocked[c, y, x] or not t < math.inf:
                        continue
                    v = potentials[c, y, x]
                    if t < best_t or (t == best_t and v > best_v):
                        best_t, best_v, bc, by, bx = t, v, c, y, x
        if bc < 0:
            break
        out[n, 0], out[n, 1], out[n, 2] = bc, by, bx
        n += 1
        blocked[bc] = True
        blocked[:, max(0, by - radius):by + radius + 1, max(0, bx - radius):bx + radius + 1] = True
    return out[:n]
