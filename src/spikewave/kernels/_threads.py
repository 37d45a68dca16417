"""Spreading a compiled kernel over threads: the kernels release the GIL (``nogil``), so a
thread pool over row (or column) ranges runs them in parallel. The thread count is
``SPIKEWAVE_THREADS`` if set, else torch's intra-op thread count."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch


def thread_count() -> int:
    """The threads the kernels spread over: ``SPIKEWAVE_THREADS``, else torch's count."""
    return int(os.environ.get("SPIKEWAVE_THREADS", 0)) or torch.get_num_threads()


def split_range(n: int, min_chunk: int = 1, threads: int | None = None
                ) -> list[tuple[int, int]]:
    """``[0, n)`` cut into one contiguous ``(start, stop)`` per thread, each at least
    ``min_chunk`` long (a single range when ``n`` is small)."""
    want = threads or thread_count()
    k = max(1, min(want, n // max(min_chunk, 1)))
    bounds = np.linspace(0, n, k + 1).astype(int)
    return [(int(bounds[i]), int(bounds[i + 1])) for i in range(k)]


_POOL: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool kept for the process (starting threads on every call costs more than
    a short kernel), re-made after a fork, whose child does not inherit the threads."""
    key = os.getpid()
    pool = _POOL.get(key)
    if pool is None or pool._max_workers < workers:
        if pool is not None:
            pool.shutdown(wait=False)
        _POOL.clear()
        pool = _POOL[key] = ThreadPoolExecutor(workers, thread_name_prefix="spikewave")
    return pool


def parallel_for(fn: Callable[[Any], object], items: Iterable[Any]) -> None:
    """``fn(item)`` for every item, on one thread each (inline when there is one item)."""
    items = list(items)
    if len(items) <= 1:
        for item in items:
            fn(item)
        return
    list(_pool(len(items)).map(fn, items))
