"""Reused output arrays for the kernels' large results (currents, potentials, spikes,
gradients), so that a training loop does not fault fresh pages in at every step.

Why: a training step of the LIF layer allocates and frees some 60 MB of ``[T x B, N]``
arrays. glibc returns the freed top of its heap to the system once it exceeds the trim
threshold (at most 64 MiB by default), and the next step faults the same memory back in,
zeroed page by page, hundreds of page faults a step; with the pool, none.

How: :func:`empty` hands out an array of this pool whose every outside reference is gone
(its reference count is the pool's own: the torch tensors made from it with
``torch.from_numpy`` and every numpy view of it hold a reference, so an array still seen
by anyone is never handed out again), else a new one that the pool keeps. Arrays under
``MIN_BYTES`` come from numpy as before (malloc keeps those). The pool holds at most
``buffer_pool_mb`` MiB of the kernels' configuration (default 256; 0 turns it off:
``spikewave.kernels.configure(buffer_pool_mb=0)``) -- beyond that the oldest free
arrays are let go (also those held before the limit was lowered: :func:`trim`, which
``configure`` and ``use`` call when they change the limit), and when every kept array is
in use a new one is simply not kept. It
is for arrays whose shape repeats from step to step (a layer's currents, potentials,
gradients); an array whose length follows the spikes would match no later request and
only fill the pool: :func:`empty_prefix` gives those as the first entries of a pooled
array whose length is the next power of two (the lengths of a few steps share one).
:func:`clear` lets every free array go. Contents are undefined, as with ``np.empty``: the
kernels that use it write every element. Pooled arrays start on a 64-byte boundary (a
cache line: the 16-value rows of the panel kernels then fill whole lines); the pool holds the
arrays that own their memory and counts their references, as numpy points every view, and
every view of a view, at the owner.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20

_lock = threading.Lock()
# (owner of the memory, shape, dtype, offset of the aligned data), oldest first: numpy
# views of a view point at the array that owns the memory, so the owner's reference count
# is what tells whether any view handed out is still alive
_arrays: list[tuple[np.ndarray, tuple[int, ...], np.dtype, int]] = []

ALIGN_BYTES = 64  # a cache line: rows of 8 floats or doubles start on vector boundaries


def _new_lock() -> None:
    """A fresh lock (in a forked child: one that a thread of the parent held at the fork
    would never be released there)."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


def limit_bytes() -> int:
    """The most the pool keeps: the configuration's ``buffer_pool_mb`` MiB."""
    from spikewave.kernels.registry import config

    return int(config().buffer_pool_mb * (1 << 20))


def _refs(arrays: list[tuple], k: int) -> int:
    return sys.getrefcount(arrays[k][0])


def _calibrate() -> int:
    """References a kept owner has when nobody else holds it or a view of it (the entry's
    and this call's own, measured the way :func:`empty` measures them)."""
    probe = [(np.empty(1), (1,), np.dtype(np.uint8), 0)]
    return _refs(probe, 0)


_FREE_REFS = _calibrate()


def _view(entry: tuple[np.ndarray, tuple[int, ...], np.dtype, int]) -> np.ndarray:
    owner, shape, dtype, skip = entry
    return owner[skip:skip + dtype.itemsize * math.prod(shape)].view(dtype).reshape(shape)


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, reused from the pool when one of this shape
    and dtype is free (see the module's text). Pooled arrays start on a 64-byte boundary
    (numpy guarantees 16): a cache line, which a 16-value float32 row of the panel
    kernels (:mod:`spikewave.kernels.spike_gather`) then fills whole."""
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    limit = limit_bytes()
    with _lock:
        _trim(limit)  # what a lowered limit leaves over goes first
        if nbytes > limit:
            return np.empty(shape, dtype)
        for k in range(len(_arrays) - 1, -1, -1):  # the last used first: warmest in cache
            # (no name of ours is bound to a kept owner while its references are counted)
            if (_refs(_arrays, k) == _FREE_REFS and _arrays[k][1] == shape
                    and _arrays[k][2] == dtype):
                _arrays.append(_arrays.pop(k))  # the newest again
                return _view(_arrays[-1])
        held = _trim(limit, nbytes)
        owner = np.empty(nbytes + ALIGN_BYTES, np.uint8)
        entry = (owner, shape, dtype, -owner.ctypes.data % ALIGN_BYTES)
        del owner
        if held + entry[0].nbytes <= limit:
            _arrays.append(entry)
        return _view(entry)


def _trim(limit: int, room: int = 0) -> int:
    """Let the oldest free arrays go until the pool holds at most ``limit - room`` bytes
    (arrays in use stay); returns the bytes it then holds. The caller holds the lock."""
    held = sum(entry[0].nbytes for entry in _arrays)
    k = 0
    while held + room > limit and k < len(_arrays):
        if _refs(_arrays, k) == _FREE_REFS:
            held -= _arrays.pop(k)[0].nbytes
        else:
            k += 1
    return held


def trim() -> None:
    """Let free arrays go, oldest first, until the pool holds at most the configuration's
    ``buffer_pool_mb`` (all of them at 0)."""
    limit = limit_bytes()
    with _lock:
        _trim(limit)


def empty_prefix(n: int, dtype) -> np.ndarray:
    """An uninitialised 1-D array of ``n`` entries whose length follows the data (the
    indices of the active inputs): the first ``n`` of a pooled array of the next power of
    two entries, so that the next steps' arrays of similar length reuse it. The view holds
    the whole array, which goes back to the pool with it (``np.empty`` would fault fresh
    pages in at every call)."""
    length = 1 << max(int(n) - 1, 0).bit_length()
    return empty((length,), dtype)[:int(n)]


def empty_like(x: np.ndarray) -> np.ndarray:
    """:func:`empty` of ``x``'s shape and dtype."""
    return empty(x.shape, x.dtype)


def clear() -> None:
    """Let every array that nobody holds go (those still in use are forgotten too: they
    are freed when their last user lets them go)."""
    with _lock:
        _arrays.clear()


def held_bytes() -> int:
    """Bytes of the arrays the pool keeps (free or in use)."""
    with _lock:
        return sum(entry[0].nbytes for entry in _arrays)
