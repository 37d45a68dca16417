"""Run a fuzz case in an isolated subprocess: "the package's own error or a correct result,
within 10 s and 500 MB" (10 s of CPU time of the worker: on a shared machine the wall time
measures the other users too; a worker that makes no progress for a minute of wall time is
taken as hung).

:class:`Isolated` keeps one :mod:`fuzz_worker` process alive and sends it cases; a worker
that dies (killed for memory, a crash in C) or hangs past the time limit is replaced, and
the case reported as ``crash`` or ``timeout``. Counts per reader are kept in :data:`COUNTS`
(printed at the end of a pytest session by this folder's conftest).
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

import spikewave

HERE = Path(__file__).resolve().parent
SRC = Path(spikewave.__file__).resolve().parents[1]  # the workers use the package under test
MEMORY_MB = 500
TIMEOUT_S = 10
COUNTS: Counter[str] = Counter()
EXAMPLES = int(os.environ.get("SPIKEWAVE_FUZZ_EXAMPLES", "0") or 0)


def fuzz_settings(quick: int):
    """Hypothesis settings for a fuzz test: ``quick`` examples in the default suite (the
    same ones every time), ``SPIKEWAVE_FUZZ_EXAMPLES`` random ones under ``make fuzz``."""
    return settings(max_examples=EXAMPLES or quick, deadline=None, derandomize=not EXAMPLES,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])


@dataclass
class Outcome:
    kind: str        # ok, own, memory, timeout, other, crash
    value: Any
    seconds: float   # CPU seconds

    @property
    def acceptable(self) -> bool:
        return self.kind in ("ok", "own") and self.seconds <= TIMEOUT_S

    def describe(self) -> str:
        return f"{self.kind} after {self.seconds:.2f} s: {self.value!s:.3000}"


class Isolated:
    """A worker subprocess capped at ``memory_mb`` above its start and ``timeout_s`` per
    case."""

    def __init__(self, memory_mb: int = MEMORY_MB, timeout_s: int = TIMEOUT_S,
                 torch_too: bool = False) -> None:
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.torch_too = torch_too
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS"):
            env[var] = "1"
        env["MALLOC_ARENA_MAX"] = "2"
        self._proc = subprocess.Popen(
            [sys.executable, str(HERE / "fuzz_worker.py"), str(self.memory_mb),
             str(self.timeout_s), "torch" if self.torch_too else "data"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        ready = self._read(120.0)
        if ready is None or ready[0] != "ready":
            raise RuntimeError(f"the fuzz worker did not start: {ready!r}")

    def _read(self, timeout: float):
        import selectors

        assert self._proc is not None and self._proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self._proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            return None
        head = self._proc.stdout.read(8)
        if len(head) < 8:
            return None
        (n,) = struct.unpack("<Q", head)
        return pickle.loads(self._proc.stdout.read(n))

    def call(self, target: str, *args: Any, reader: str | None = None) -> Outcome:
        """Run ``fuzz_targets.<target>(*args)`` in the worker; counts it under ``reader``."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        COUNTS[reader or target] += 1
        data = pickle.dumps((target, args), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self._proc.stdin.flush()
            reply = self._read(max(60.0, 6.0 * self.timeout_s))
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            try:  # a worker that died closed its pipe just before it is reaped
                self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
            hung = self._proc.poll() is None
            self.close()
            return Outcome("timeout" if hung else "crash", "the worker " + (
                "hung" if hung else "died"), float(self.timeout_s if hung else 0.0))
        return Outcome(*reply)

    def close(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    stream.close()
            self._proc = None
