"""One function run on many seeds: on this machine's threads, or on a Dask cluster.

A multi-seed reproduction (``--runs N``, ``--sweep``) calls ``fn(seed, **options)`` once
per seed; each call depends on its seed and options alone, so the calls may run anywhere
and in any order, and the results are put back in seed order. Locally they share a thread
pool (the compiled simulation loops release the GIL). With ``scheduler`` (the address of
a ``dask.distributed`` scheduler, ``tcp://host:8786``) each seed is one task on the
cluster's workers: the same function on the same arguments, so each seed's result is the
same as the local one's; a task that fails is retried once (on any worker), and seeds
that fail twice are reported together by seed (:class:`SeedsFailed`). Progress is
reported as the results arrive.

The workers must import the same spikewave (install it, with the ``cluster`` extra, on
every machine).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from spikewave._validation import ParameterError

CONNECT_TIMEOUT_S = 30


class SeedsFailed(RuntimeError):
    """Seeds whose task failed on the cluster twice (the first try and one retry)."""


def run_seeds(fn: Callable, seeds, workers: int | None = None, progress=None,
              first_options: dict | None = None, scheduler: str | None = None,
              **kwargs) -> list:
    """``fn(seed, **kwargs)`` for each seed, results in seed order; ``first_options`` are
    extra keyword arguments for the first seed only (recording). Locally on ``workers``
    threads (default: the number of cores); with ``scheduler`` on that Dask cluster.

    ``progress`` (an object with ``update()``) advances by one per finished seed. An
    ``on_progress_s`` keyword (a callback taking simulated seconds) is passed to ``fn``
    locally; on a cluster it cannot cross to the workers and is called instead with the
    whole ``duration_s`` of each seed as its result arrives."""
    seeds = [int(s) for s in seeds]
    extra = [dict(first_options or {})] + [{}] * (len(seeds) - 1)
    if scheduler is not None:
        return _on_cluster(fn, seeds, extra, scheduler, progress, kwargs)
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(fn, s, **kwargs, **more)
                   for s, more in zip(seeds, extra, strict=True)]
        results = []
        for f in futures:
            results.append(f.result())
            if progress is not None:
                progress.update()
    return results


def add_scheduler_argument(parser) -> None:
    """The ``--scheduler`` option of a reproduction that runs seeds (argparse parser)."""
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the seeds on a Dask cluster (dask.distributed scheduler "
                             "address, e.g. tcp://10.0.0.1:8786; default: this machine)")


def check_scheduler(scheduler: object) -> str | None:
    """``scheduler`` after checking it is ``None`` or a scheduler address and that
    ``dask.distributed`` is installed."""
    if scheduler is None:
        return None
    if not isinstance(scheduler, str) or not scheduler.strip() or " " in scheduler.strip():
        raise ParameterError("The 'scheduler' parameter must be the address of a Dask "
                             f"scheduler, such as tcp://10.0.0.1:8786. Got {scheduler!r}.")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ParameterError("The 'scheduler' parameter needs dask.distributed: pip install "
                             "'spikewave[cluster]'") from None
    return scheduler.strip()


def _connect(scheduler: str):
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(f"The 'scheduler' parameter must be the address of a running "
                             f"Dask scheduler (start one with dask-scheduler, and workers "
                             f"with dask-worker ADDRESS). Could not connect to "
                             f"{scheduler!r} within {CONNECT_TIMEOUT_S} s: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from None


def _on_cluster(fn: Callable, seeds: list[int], extra: Sequence[dict], scheduler: str,
                progress, kwargs: dict) -> list:
    from distributed import as_completed

    on_progress_s = kwargs.pop("on_progress_s", None)
    duration_s = kwargs.get("duration_s")
    client = _connect(check_scheduler(scheduler))
    try:
        futures = [client.submit(fn, s, **kwargs, **more, retries=1, pure=False)
                   for s, more in zip(seeds, extra, strict=True)]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(seeds)
        failed: list[tuple[int, str]] = []
        for future in as_completed(futures):
            i = index[future.key]
            if future.status == "error":
                exc = future.exception()
                failed.append((seeds[i], f"{type(exc).__name__}: {exc}"))
            else:
                results[i] = future.result()
            if progress is not None:
                progress.update()
            if on_progress_s is not None and duration_s is not None:
                on_progress_s(float(duration_s))
        if failed:
            failed.sort()
            raise SeedsFailed(f"{len(failed)} of {len(seeds)} seeds failed on the cluster "
                              f"{scheduler} after one retry: " + "; ".join(
                                  f"seed {s}: {msg.splitlines()[0][:200]}"
                                  for s, msg in failed))
        return results
    finally:
        client.close()
