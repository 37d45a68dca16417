"""Output files: atomic writes with the usual mode, orphan clean-up, a lock per folder.

- :func:`atomic_write_bytes` writes to a temporary file in the same folder, flushes it to
  disk, then renames it over the target: a reader never sees a half-written figure, report
  or checkpoint, even if the process dies. The file gets the mode a plain ``open`` would
  give it (``0o666 & ~umask``), not the private ``0o600`` of :func:`tempfile.mkstemp`.
- A process killed between the flush and the rename leaves its temporary file behind; the
  next write of the same target removes it (:func:`remove_orphans`). Temporary names carry
  the writer's process id, so a file that a live process is still writing is never taken.
- :class:`FolderLock` holds an advisory lock (``fcntl.flock``) on a folder while a run writes
  into it, so that a second run on the same folder fails at once with a clear error instead
  of silently overwriting the first one's results. The operating system releases the lock
  when the process ends, however it ends.
- :func:`check_output_dir` checks an output folder given on the command line before any
  work: not empty, not an existing file, a path the system accepts, under a writable folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from pathlib import Path

from spikewave._validation import ParameterError, fail

LOCK_NAME = ".spikewave.lock"
_PATH_MAX = 4096
_NAME_MAX = 255


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - systems without /proc
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def default_file_mode() -> int:
    """The mode a new file gets from ``open(path, "w")``: ``0o666 & ~umask``."""
    return 0o666 & ~_umask()


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}."


_TMP_PID = re.compile(r"\.(\d+)\.[0-9a-f]+\.tmp$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but owned by someone else
        return True
    return True


def remove_orphans(target: str | os.PathLike[str], locked: bool = False) -> list[Path]:
    """Remove temporary files of ``target`` left by writers that no longer run.

    Returns the paths removed. Temporary files are named ``.NAME.PID.RANDOM.tmp``; one whose
    process is gone was left by a kill between the flush and the rename. ``locked=True``
    says the caller holds the folder's :class:`FolderLock`, so that no other process writes
    there: then every temporary file of ``target`` (``.NAME.*.tmp``) not of this process is
    an orphan, whatever its name.
    """
    target = Path(target)
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    prefix = _tmp_prefix(target)
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix):
            continue
        if not name.endswith(".tmp"):
            continue
        m = _TMP_PID.search(name)
        ours = m is not None and name[: m.start()] + "." == prefix
        if ours and _pid_alive(int(m.group(1))) and (not locked or int(m.group(1)) ==
                                                     os.getpid()):
            continue
        if not ours and not locked:
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, locked: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (creating parent folders); returns the path.

    The file gets the usual mode (``0o666 & ~umask``). Temporary files of ``path`` left by
    killed writers are removed first (``locked``: see :func:`remove_orphans`). On any error
    (a full disk, a read-only file system) nothing is left behind and the target keeps its
    previous content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(target, locked)
    tmp = target.parent / f"{_tmp_prefix(target)}{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), default_file_mode())
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename is None or Path(exc.filename) == tmp:  # name the file meant
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, locked: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"), locked)


def os_error_message(exc: OSError, action: str = "cannot write") -> str:
    """One line for an OS error: what failed, on which path, and why."""
    where = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    hint = ""
    if exc.errno == errno.ENOSPC:
        hint = " (free some space or choose another --out)"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = " (choose a writable --out)"
    return f"{action} {where}: {reason}{hint}" if where else f"{action}: {reason}{hint}"


def check_output_dir(path: str | os.PathLike[str], name: str = "out") -> Path:
    """``path`` as a folder that can be created or written; creates nothing.

    Refuses an empty path (it would mean the working folder), an existing file, a path or
    a component longer than the system allows, and a path under a folder that cannot be
    written (read-only file system, permissions, ``/proc``).
    """
    text = os.fspath(path)
    if not text.strip():
        raise fail(name, text, "a folder path (an empty one would write into the working "
                   "folder; give '.' for that)")
    if "\x00" in text:
        raise fail(name, text, "a path without NUL characters")
    if len(os.fsencode(text)) >= _PATH_MAX:
        raise fail(name, f"a path of {len(text)} characters",
                   f"a path shorter than {_PATH_MAX} bytes")
    p = Path(text)
    long_part = next((part for part in p.parts if len(os.fsencode(part)) > _NAME_MAX), None)
    if long_part is not None:
        raise fail(name, f"a path with a {len(long_part)}-character component",
                   f"components of at most {_NAME_MAX} bytes")
    if p.exists() and not p.is_dir():
        raise fail(name, str(p), "a folder (it is an existing file)")
    probe = p
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise fail(name, str(p), f"a path under a folder ({probe} is a file)")
    if _virtual_fs(probe.resolve()):
        raise fail(name, str(p), "a folder on a disk file system (not under /proc, /sys)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise fail(name, str(p), f"a writable location ({probe} is not writable)")
    return p


def _virtual_fs(p: Path) -> bool:
    parts = p.parts
    return len(parts) > 1 and parts[0] == "/" and parts[1] in ("proc", "sys")


class FolderLock:
    """An exclusive advisory lock on ``folder`` (the file ``.spikewave.lock`` in it).

    ``with FolderLock(folder):`` fails at once with :class:`ParameterError` when another
    process holds it, naming that process. The lock file holds the owner's process id and is
    removed when the lock is released (a process killed while holding it leaves the file,
    which the next run takes over: the operating system released the lock itself).
    Under data-parallel training only the writing process (rank 0) takes it.
    """

    def __init__(self, folder: str | os.PathLike[str], name: str = "out") -> None:
        self.folder = Path(folder)
        self.name = name
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, default_file_mode())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise ParameterError(
                    f"The '{self.name}' folder {self.folder} is in use by another spikewave "
                    f"run (process {holder}); wait for it to finish or choose another "
                    f"--{self.name}.") from None
            except BaseException:
                os.close(fd)
                raise
            # the holder before us may have removed the file between our open and our lock:
            # then we locked a file nobody else will see, and must start again
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()  # while still holding the lock
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def removed_if_left_empty(folder: str | os.PathLike[str]):
    """For a block that creates ``folder`` (and missing parents) and may fail: on failure,
    the folders it created are removed again if they are empty, so that a failed run leaves
    no empty output folder behind."""
    folder = Path(folder)
    missing = [q for q in [folder, *folder.parents] if not q.exists()]
    try:
        yield folder
    except BaseException:
        for q in missing:  # deepest first
            try:
                entries = {e.name for e in q.iterdir()} if q.is_dir() else None
                if entries is not None and entries <= {LOCK_NAME}:
                    (q / LOCK_NAME).unlink(missing_ok=True)
                    q.rmdir()
            except OSError:
                break
        raise
