"""A subprocess that runs fuzz cases under a memory cap and a time limit.

Started by :mod:`fuzz_harness`: ``python fuzz_worker.py MEMORY_MB TIMEOUT_S [torch]``. It
imports the targets (:mod:`fuzz_targets`; with ``torch``, also torch and the command line),
then caps its address space at what it uses then plus
``MEMORY_MB`` (``resource.setrlimit(RLIMIT_AS)``), and answers requests read from standard
input: ``(target name, arguments)`` -> ``(outcome, value, seconds)``, pickled with a length
prefix. Seconds are CPU seconds of the worker (the machine may be shared: its load must not
count as the reader's time); a case is stopped after ``TIMEOUT_S`` of them (``SIGPROF``).
Outcomes: ``ok`` (the target's return value), ``own`` (the package's
``DataError``/``ParameterError``, with its message), ``memory`` (MemoryError under the
cap), ``timeout``, ``other`` (any other exception, with its traceback).
"""

import os
import pickle
import resource
import signal
import struct
import sys
import time
import traceback


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(n))


def _send(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _vm_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _Timeout


def main() -> None:
    memory_mb, timeout_s = int(sys.argv[1]), int(sys.argv[2])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import fuzz_targets

    import spikewave._validation as validation

    ParameterError = validation.ParameterError  # noqa: N806
    DataError = getattr(validation, "DataError", ParameterError)  # noqa: N806

    fuzz_targets.warm_up(torch_too=len(sys.argv) > 3 and sys.argv[3] == "torch")
    cap = _vm_bytes() + memory_mb * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.signal(signal.SIGPROF, _alarm)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the channel
    _send(stdout, ("ready", cap, 0.0))
    while True:
        request = _recv(stdin)
        if request is None:
            return
        name, args = request
        start = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, timeout_s)
        try:
            value = getattr(fuzz_targets, name)(*args)
            outcome = ("ok", value)
        except (DataError, ParameterError) as exc:
            outcome = ("own", f"{type(exc).__name__}: {exc}")
        except MemoryError:
            outcome = ("memory", traceback.format_exc(limit=8))
        except _Timeout:
            outcome = ("timeout", traceback.format_exc(limit=8))
        except BaseException:  # noqa: BLE001 - every other exception is a finding
            outcome = ("other", traceback.format_exc(limit=12))
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        _send(stdout, (*outcome, time.process_time() - start))


if __name__ == "__main__":
    main()
