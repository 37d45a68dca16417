"""Spreading a compiled kernel over threads, with the work shared as it goes.

The kernels release the GIL (``nogil``), so threads running them on row (or column) ranges
run in parallel. :func:`parallel_for` cuts a call into items (ranges) and every thread that
takes part -- the calling one included -- takes the next item not yet taken until none is
left, so a thread that a busy core keeps waiting takes fewer items, or none: the work is not
split in advance. :func:`split_range` and the kernels' own splits cut a call into a few
items per thread (``ITEMS_PER_THREAD``), so that the sharing has room to even out; the cut
depends only on the sizes and the thread count, never on timing, and each item writes its
own part of the outputs (a sum across items is cut into a fixed number of parts, whatever
the threads), so results are the same bits from run to run and for any thread count.

Which threads take part is the kernels' configuration's ``threading``:

- ``"openmp"``: torch's own OpenMP team, where torch runs on OpenMP and its runtime is
  among the libraries already loaded (:func:`openmp_runtime`: opened without loading a
  second copy). The call opens a parallel region of that runtime (``GOMP_parallel_start``
  and ``GOMP_parallel_end``) whose other threads take items while the caller takes its own
  outside the region's callback (so Ctrl-C reaches it). After each torch operation
  torch's idle OpenMP threads keep their cores busy for a while, waiting for the next one;
  threads of our own would have to take the cores from them first, so they would start
  late on every kernel that follows a torch operation.
- ``"pool"``: a pool of threads kept for the process, which sleep on a condition variable
  between calls (nothing spins) and join the calling thread on each call; the call never
  waits for a pool thread to start.
- ``"auto"`` (the default): ``"openmp"`` where it can run, else ``"pool"`` (another
  threading backend in torch, no OpenMP runtime found, a forked child -- whose OpenMP
  threads were not inherited --, or a call made inside another parallel region).

The thread count is the configuration's ``threads``, else torch's intra-op thread count
(``torch.get_num_threads()``).
"""

from __future__ import annotations

import contextvars
import ctypes
import itertools
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
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


def balanced_split(offsets: np.ndarray, fixed_cost: float, parts: int | None = None
                   ) -> list[tuple[int, int]]:
    """``[0, n)`` cut into ``ITEMS_PER_THREAD`` contiguous ranges per thread (or into
    ``parts`` ranges, whatever the thread count) of about equal work, for items (rows of a
    CSR, columns of a CSC) whose entries are ``offsets[i]:offsets[i + 1]``: an item costs
    its entries plus ``fixed_cost`` entries. The inputs of a hidden layer fire at very
    different rates and its early time steps have fewer spikes than its later ones, so
    equal numbers of items are not equal work."""
    n = offsets.shape[0] - 1
    k = len(split_range(n)) if parts is None else max(1, min(parts, n))
    if k <= 1:
        return [(0, n)]
    work = offsets - offsets[0] + fixed_cost * np.arange(n + 1)
    cuts = np.searchsorted(work, work[-1] * np.arange(1, k) / k)
    bounds = [0, *(int(c) for c in cuts), n]
    return [(bounds[i], bounds[i + 1]) for i in range(k)]


class _Job:
    """One call's items: taken in order by whoever asks next, counted when done. The
    threads that join the caller run them in a copy of the caller's context, so the
    kernels' settings in force (:func:`spikewave.kernels.use`, a context variable) hold
    for every item whichever thread runs it."""

    def __init__(self, fn: Callable[[Any], object], items: list[Any]) -> None:
        self.fn, self.items = fn, items
        self.next = itertools.count()  # next() is atomic under the GIL
        self.done = 0
        self.errors: list[BaseException] = []
        self.finished = threading.Event()
        self.lock = threading.Lock()
        self.context = contextvars.copy_context()
        self.cancelled = False  # the caller left early: no new item is taken

    def work(self) -> None:
        """Take and run items until none is left."""
        n = len(self.items)
        while not self.cancelled and (i := next(self.next)) < n:
            try:
                self.fn(self.items[i])
            except BaseException as error:  # noqa: BLE001 - raised again by the caller
                self.errors.append(error)
            with self.lock:
                self.done += 1
                if self.done == n:
                    self.finished.set()

    def join(self) -> None:
        """:meth:`work` on a thread that joins the caller, in the caller's context."""
        self.context.copy().run(self.work)

    def raise_first(self) -> None:
        """Raise the first item's exception, if any, leaving no reference cycle through
        it (the list emptied, the local dropped): its traceback holds the job and the items'
        arrays, which go as soon as the caller lets go of the exception."""
        if self.errors:
            error = self.errors[0]
            self.errors.clear()
            try:
                raise error
            finally:
                del error


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
                job.join()
                job = None  # not kept (with its items' arrays) until the next call

    def run(self, job: _Job, helpers: int) -> None:
        self.ensure(helpers)
        with self.cv:
            self.job = job
            self.generation += 1
            self.cv.notify(helpers)
        try:
            job.work()  # the caller takes items too, and never waits for a helper to start
            job.finished.wait()
        except BaseException:
            job.cancelled = True  # interrupted between items: the helpers take no more
            raise
        finally:
            with self.cv:
                if self.job is job:
                    self.job = None


_OPENMP_NAMES = ("libgomp.so.1", "libiomp5.so", "libomp.so", "libomp.dylib")
_REGION = ctypes.CFUNCTYPE(None, ctypes.py_object)


def _region(job: _Job) -> None:  # pragma: no cover - runs on OpenMP's threads
    """The body of the parallel region on the team's other threads: take items. The
    calling thread takes its share outside the callback (between ``GOMP_parallel_start``
    and ``GOMP_parallel_end``), so that an exception a signal handler raises there (Ctrl-C)
    reaches the caller instead of being dropped by ctypes."""
    job.join()


_REGION_FN = _REGION(_region)


def openmp_runtime() -> Any | None:
    """torch's OpenMP runtime as a ctypes library (``GOMP_parallel_start``,
    ``GOMP_parallel_end``, ``omp_in_parallel``: libgomp's, which LLVM's and Intel's
    runtimes also export), where torch's parallel backend is OpenMP and the runtime is one
    of the libraries already loaded in this process -- in torch's own ``lib`` folder, else
    by its usual name; opened with ``RTLD_NOLOAD``, so a second copy is never loaded.
    None elsewhere (another backend, no such library loaded, no ``RTLD_NOLOAD``)."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    noload = getattr(os, "RTLD_NOLOAD", None)
    if noload is None:
        return None
    folder = Path(torch.__file__).parent / "lib"
    names = [str(p) for pattern in ("libgomp*", "libiomp*", "libomp*")
             for p in sorted(folder.glob(pattern))] + list(_OPENMP_NAMES)
    for name in names:
        try:
            lib = ctypes.CDLL(name, mode=noload | getattr(os, "RTLD_LAZY", 1))
            lib.GOMP_parallel_start.argtypes = [_REGION, ctypes.py_object, ctypes.c_uint]
            lib.GOMP_parallel_start.restype = None
            lib.GOMP_parallel_end.argtypes = []
            lib.GOMP_parallel_end.restype = None
            lib.omp_in_parallel.restype = ctypes.c_int
        except (OSError, AttributeError):
            continue
        return lib
    return None


class _OpenMP:
    """:func:`openmp_runtime`, looked up once per process (a forked child uses the pool:
    its parent's OpenMP threads were not inherited)."""

    pid: int | None = None
    lib: Any = None

    @classmethod
    def get(cls) -> Any | None:
        if cls.pid != os.getpid():
            cls.lib = openmp_runtime() if cls.pid is None else None
            cls.pid = os.getpid()
        return cls.lib


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: setattr(_OpenMP, "pid", -1))


def threading_backend() -> str:
    """What :func:`parallel_for` runs on under the configuration in force: ``"openmp"``
    (torch's OpenMP team) or ``"pool"``."""
    from spikewave.kernels.registry import config

    choice = config().threading
    if choice == "pool" or _OpenMP.get() is None:
        return "pool"
    return "openmp"


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
    ``thread_count() - 1`` others -- torch's OpenMP threads or the pool's
    (:func:`threading_backend`) -- (inline with one thread, one item, or when called from
    inside an item); the first exception of any item is raised once all are done."""
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
    team = min(threads, len(items))
    omp = _OpenMP.get() if threading_backend() == "openmp" else None
    if omp is not None and not omp.omp_in_parallel():
        started = False
        try:
            omp.GOMP_parallel_start(_REGION_FN, job, team)
            started = True
            job.work()  # the caller's share, in plain Python
        except BaseException:
            job.cancelled = True  # interrupted between items: the team takes no more
            raise
        finally:  # also when interrupted just after the start (the team holds ``job``)
            if started or omp.omp_in_parallel():
                omp.GOMP_parallel_end()  # returns when the team has left the region
    else:
        _pool().run(job, team - 1)
    job.raise_first()
