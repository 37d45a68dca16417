"""Spreading a compiled kernel over threads: the kernels release the GIL (``nogil``), so
threads running them on row (or column) ranges run in parallel. The thread count is
``SPIKEWAVE_THREADS`` if set, else torch's intra-op thread count.

The threads are those of torch's own OpenMP team when torch runs on OpenMP (as its Linux
wheels do): :func:`parallel_for` opens a parallel region of the OpenMP runtime that torch
loaded (``GOMP_parallel``, through ctypes) whose threads call back into Python, each taking
its share of the items. After every parallel region, OpenMP's idle threads spin for a while
before they sleep; a second pool of threads of our own would compete with them for the
cores on every kernel that follows a torch operation. Measured (2 cores, the LIF layer of
``benchmarks/run.py``, ``[100 x 32, 1024]``, forward and backward, medians of 60): 36.3
against 26.3 ms at 2 % input density and 61 against 52 ms at 10 % with a pool of our own
threads -- the same as ours with ``OMP_WAIT_POLICY=PASSIVE`` (27 ms), which stops the
spinning for torch too. Elsewhere (no OpenMP in torch, no ``/proc/self/maps`` to find it, a
forked child, whose OpenMP threads were not inherited, or ``SPIKEWAVE_THREADING=pool``, read
once per process) a pool of Python threads does the same work.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch


def thread_count() -> int:
    """The threads the kernels spread over: the configuration's ``threads``, else torch's
    intra-op thread count."""
    from spikewave.kernels.registry import config

    return config().threads or torch.get_num_threads()


def split_range(n: int, min_chunk: int = 1, threads: int | None = None
                ) -> list[tuple[int, int]]:
    """``[0, n)`` cut into one contiguous ``(start, stop)`` per thread, each at least
    ``min_chunk`` long (a single range when ``n`` is small)."""
    want = threads or thread_count()
    k = max(1, min(want, n // max(min_chunk, 1)))
    return [(n * i // k, n * (i + 1) // k) for i in range(k)]


_OMP_NAME = re.compile(r"(/\S*/lib(?:gomp|iomp5|omp)[^/\s]*\.so[^/\s]*)$")


def _loaded_openmp() -> str | None:
    """The path of the OpenMP runtime torch runs on, from this process's memory map: the
    one in torch's own directory when there is one, else the first loaded; None when torch
    does not run on OpenMP or the map cannot be read."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        with open("/proc/self/maps") as maps:
            paths = [m.group(1) for line in maps if (m := _OMP_NAME.search(line.strip()))]
    except OSError:
        return None
    torch_dir = os.path.dirname(torch.__file__)
    ours = [p for p in paths if p.startswith(torch_dir)]
    return (ours or paths or [None])[0]


_REGION = ctypes.CFUNCTYPE(None, ctypes.py_object)


def _region(job: tuple) -> None:
    """The body of the parallel region: every thread of the team takes every
    ``team``-th item from its own number on (all items are taken whatever size of team
    the runtime gives)."""
    omp, fn, items, errors = job
    k, team = omp.omp_get_thread_num(), omp.omp_get_num_threads()
    for i in range(k, len(items), team):
        try:
            fn(items[i])
        except BaseException as error:  # noqa: BLE001 - raised again by the caller
            errors.append(error)


_REGION_FN = _REGION(_region)


class _OpenMP:
    """torch's OpenMP runtime, opened once per process (None where it cannot be used)."""

    pid: int | None = None
    lib: Any = None

    @classmethod
    def forked(cls) -> None:
        """In a forked child: the pool (its OpenMP threads were not inherited)."""
        cls.pid, cls.lib = os.getpid(), None

    @classmethod
    def get(cls) -> Any:
        if cls.pid is not None:
            return cls.lib
        choice = os.environ.get("SPIKEWAVE_THREADING", "openmp")
        if choice not in ("openmp", "pool"):
            raise ValueError(f"SPIKEWAVE_THREADING must be 'openmp' or 'pool', not {choice!r}")
        cls.pid = os.getpid()
        if choice == "pool":
            return None
        path = _loaded_openmp()
        if path is None:
            return None
        try:
            lib = ctypes.CDLL(path)
            lib.GOMP_parallel.argtypes = [_REGION, ctypes.py_object, ctypes.c_uint,
                                          ctypes.c_uint]
            lib.GOMP_parallel.restype = None
            for name in ("omp_get_thread_num", "omp_get_num_threads", "omp_in_parallel"):
                getattr(lib, name).restype = ctypes.c_int
        except (OSError, AttributeError):
            return None
        cls.lib = lib
        return lib


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_OpenMP.forked)


def threading_backend() -> str:
    """``"openmp"`` when :func:`parallel_for` runs on torch's OpenMP threads, else
    ``"pool"`` (Python threads of our own)."""
    return "openmp" if _OpenMP.get() is not None else "pool"


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
    """``fn(item)`` for every item, on one thread each (inline when there is one item, or
    when called from inside a region already); the first exception of any item is raised
    once all are done."""
    items = list(items)
    omp = _OpenMP.get()
    if len(items) <= 1 or (omp is not None and omp.omp_in_parallel()):
        for item in items:
            fn(item)
        return
    if omp is None:
        list(_pool(len(items)).map(fn, items))
        return
    errors: list[BaseException] = []
    omp.GOMP_parallel(_REGION_FN, (omp, fn, items, errors), len(items), 0)
    if errors:
        raise errors[0]
