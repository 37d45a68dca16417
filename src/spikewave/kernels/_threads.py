"""Spreading a compiled kernel over threads, with the work shared as it goes.

The kernels release the GIL (``nogil``), so threads running them on row (or column) ranges
run in parallel. :func:`parallel_for` hands the items (ranges) of one call to a pool of
threads kept for the process *and to the calling thread*, each taking the next item not yet
taken until none is left; the call returns as soon as every item is done. A thread that a
busy core keeps waiting takes fewer items, or none, and the call never waits for it to
start: the work is not split in advance between threads that may not get a core (which is
what a fork-join team -- OpenMP's -- does, waiting for its slowest member at every call).
Idle pool threads sleep on a condition variable; nothing spins. :func:`split_range` and the
kernels' own splits cut a call into a few items per thread (``ITEMS_PER_THREAD``), so that
the sharing has room to even out; the cut depends only on the sizes and the thread count,
never on timing, so results are the same from run to run.

The thread count is the kernels' configuration's ``threads``, else torch's intra-op thread
count (``torch.get_num_threads()``).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

ITEMS_PER_THREAD = 4


def thread_count() -> int:
    """The threads the kernels spread over: the configuration's ``threads``, else torch's
    intra-op thread count."""
    from spikewave.kernels.registry import config

    return config().threads or torch.get_num_threads()


def split_range(n: int, min_chunk: int = 1, threads: int | None = None
                ) -> list[tuple[int, int]]:
    """``[0, n)`` cut into contiguous ``(start, stop)`` ranges, ``ITEMS_PER_THREAD`` per
    thread (one range with a single thread), each at least ``min_chunk`` long (a single
    range when ``n`` is small)."""
    want = threads or thread_count()
    items = want * ITEMS_PER_THREAD if want > 1 else 1
    k = max(1, min(items, n // max(min_chunk, 1)))
    return [(n * i // k, n * (i + 1) // k) for i in range(k)]


def balanced_split(offsets: np.ndarray, fixed_cost: float) -> list[tuple[int, int]]:
    """``[0, n)`` cut into ``ITEMS_PER_THREAD`` contiguous ranges per thread of about equal
    work, for items
    (rows of a CSR, columns of a CSC) whose entries are ``offsets[i]:offsets[i + 1]``: an
    item costs its entries plus ``fixed_cost`` entries. The inputs of a hidden layer fire
    at very different rates and its early time steps have fewer spikes than its later
    ones, so equal numbers of items are not equal work."""
    n = offsets.shape[0] - 1
    k = len(split_range(n))
    if k <= 1:
        return [(0, n)]
    work = offsets - offsets[0] + fixed_cost * np.arange(n + 1)
    cuts = np.searchsorted(work, work[-1] * np.arange(1, k) / k)
    bounds = [0, *(int(c) for c in cuts), n]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


class _Job:
    """One call's items: taken in order by whoever asks next, counted when done."""

    def __init__(self, fn: Callable[[Any], object], items: list[Any]) -> None:
        self.fn, self.items = fn, items
        self.next = itertools.count()  # next() is atomic under the GIL
        self.done = 0
        self.errors: list[BaseException] = []
        self.finished = threading.Event()
        self.lock = threading.Lock()

    def work(self) -> None:
        """Take and run items until none is left."""
        n = len(self.items)
        while (i := next(self.next)) < n:
            try:
                self.fn(self.items[i])
            except BaseException as error:  # noqa: BLE001 - raised again by the caller
                self.errors.append(error)
            with self.lock:
                self.done += 1
                if self.done == n:
                    self.finished.set()


class _Pool:
    """Threads kept for the process that join whatever job is current; re-made after a
    fork (a child does not inherit the threads)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cv = threading.Condition()
        self.job: _Job | None = None
        self.generation = 0
        self.threads: list[threading.Thread] = []

    def ensure(self, workers: int) -> None:
        while len(self.threads) < workers:
            t = threading.Thread(target=self._loop, name=f"spikewave-{len(self.threads)}",
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _loop(self) -> None:
        seen = 0
        while True:
            with self.cv:
                while self.generation == seen:
                    self.cv.wait()
                seen, job = self.generation, self.job
            if job is not None:
                job.work()

    def run(self, job: _Job, helpers: int) -> None:
        self.ensure(helpers)
        with self.cv:
            self.job = job
            self.generation += 1
            self.cv.notify(helpers)
        job.work()  # the caller takes items too, and never waits for a helper to start
        job.finished.wait()
        with self.cv:
            if self.job is job:
                self.job = None


_POOLS: dict[int, _Pool] = {}
_inside = threading.local()  # set while a thread runs an item: nested calls run inline


def _pool() -> _Pool:
    pid = os.getpid()
    pool = _POOLS.get(pid)
    if pool is None:
        _POOLS.clear()
        pool = _POOLS[pid] = _Pool()
    return pool


def parallel_for(fn: Callable[[Any], object], items: Iterable[Any]) -> None:
    """``fn(item)`` for every item, shared as it goes between the calling thread and
    ``thread_count() - 1`` pool threads (inline with one thread, one item, or when called
    from inside an item); the first exception of any item is raised once all are done."""
    items = list(items)
    threads = thread_count()
    if len(items) <= 1 or threads <= 1 or getattr(_inside, "active", False):
        for item in items:
            fn(item)
        return

    def guarded(item: Any) -> None:
        _inside.active = True
        try:
            fn(item)
        finally:
            _inside.active = False

    job = _Job(guarded, items)
    _pool().run(job, min(threads, len(items)) - 1)
    if job.errors:
        raise job.errors[0]
