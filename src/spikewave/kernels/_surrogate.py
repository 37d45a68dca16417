"""The surrogate derivative inside the compiled backward passes.

Each surrogate class carries its compiled derivative (``kernel_row``,
:mod:`spikewave.surrogate`). The five built-in ones are called by :func:`sg_row` through a
branch on their number (:func:`spikewave.surrogate.kernel_kind`), which keeps the kernels
that call it cacheable on disk. For any other surrogate (kind ``OWN``) the derivative of
every saved potential is computed before the kernel runs (:func:`derivative_rows`: the
class's own ``kernel_row`` when it has one, else its PyTorch ``derivative``) and
:func:`sg_row` reads it from there: the fused paths then give the reference's gradients for
any surrogate.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.surrogate import (
    OWN_KIND,
    Surrogate,
    atan_row,
    boxcar_row,
    fast_sigmoid_row,
    kernel_kind,
    sigmoid_row,
    triangle_row,
)

OWN = OWN_KIND  # the derivative comes precomputed (derivative_rows)
NONE = np.empty((0, 0), np.float32)  # no precomputed derivative
kind_of = kernel_kind


@njit
def sg_row(u_row, kind, scale, m0, m1, out, pre, t):  # pragma: no cover - compiled
    """``out = P'(u_row[m0:m1])`` for the built-in surrogate ``kind``; for ``OWN``, row
    ``t`` of the precomputed derivatives ``pre`` (``pre[t, m0:m1]``)."""
    u = u_row[m0:m1]
    if kind == 0:
        fast_sigmoid_row(u, scale, out)
    elif kind == 1:
        atan_row(u, scale, out)
    elif kind == 2:
        sigmoid_row(u, scale, out)
    elif kind == 3:
        triangle_row(u, scale, out)
    elif kind == 4:
        boxcar_row(u, scale, out)
    else:
        out[:] = pre[t, m0:m1]


def derivative_rows(surrogate: Surrogate, u: np.ndarray) -> np.ndarray:
    """``P'(u)`` for every entry of the saved potentials ``u`` (any shape), when the kernel
    does not know ``surrogate`` (``kind_of`` is ``OWN``); an empty array otherwise. The
    class's compiled ``kernel_row`` over the flattened array when it has one, else its
    PyTorch ``derivative``, in ``u``'s dtype."""
    if kind_of(surrogate) != OWN:
        return NONE.astype(u.dtype)
    row = type(surrogate).kernel_row
    flat = np.ascontiguousarray(u).reshape(-1)
    if row is not None:
        out = np.empty_like(flat)
        row(flat, float(surrogate.scale), out)
    else:
        with torch.no_grad():
            out = surrogate.derivative(torch.from_numpy(flat)).to(
                torch.from_numpy(flat).dtype).contiguous().numpy()
    return out.reshape(u.shape[0], -1) if u.ndim > 1 else out.reshape(1, -1)
