"""Verified checkpoints: a content hash written with the state and checked on load.

A checkpoint is a ``torch.save`` file of a dictionary of tensors and plain values (so that
``torch.load(path, weights_only=True)`` reads it: loading never runs code from the file).
:func:`save_checkpoint` adds ``content_sha256``, a SHA-256 over a canonical serialisation
of everything else -- each tensor's dtype, shape and bytes, each number, string, list and
dictionary -- and writes the file atomically with the usual mode. :func:`load_checkpoint`
reads it back on the CPU, recomputes the hash and refuses a file whose content changed
since it was written (a flipped byte in the tensor data, an edited field), with one
:class:`~spikewave._validation.DataError` naming the file, as for a truncated, empty or
non-checkpoint file. The structure of what it returns is checked by the caller, with
:func:`expect` and :func:`check_finite`.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from spikewave._io import atomic_write_bytes
from spikewave._validation import DataError, ParameterError

HASH_KEY = "content_sha256"
FORMAT_KEY = "checkpoint_format"
FORMAT = 1


def _feed(h, obj: Any) -> None:
    """Canonical bytes of ``obj`` into the hash ``h`` (dict keys in sorted order)."""
    if obj is None:
        h.update(b"N")
    elif isinstance(obj, bool):
        h.update(b"?1" if obj else b"?0")
    elif isinstance(obj, int):
        text = str(obj).encode()
        h.update(b"i" + struct.pack("<q", len(text)) + text)
    elif isinstance(obj, float):
        h.update(b"f" + obj.hex().encode() + b";")
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        h.update(b"s" + struct.pack("<q", len(data)) + data)
    elif isinstance(obj, bytes | bytearray):
        h.update(b"b" + struct.pack("<q", len(obj)) + bytes(obj))
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().to("cpu")
        if t.layout != torch.strided:
            t = t.to_dense()
        head = f"{t.dtype}|{tuple(t.shape)}".encode()
        data = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() \
            else b""
        h.update(b"T" + struct.pack("<q", len(head)) + head + struct.pack("<q", len(data)))
        h.update(data)
    elif isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: (type(kv[0]).__name__, repr(kv[0])))
        h.update(b"d" + struct.pack("<q", len(items)))
        for k, v in items:
            _feed(h, k)
            _feed(h, v)
    elif isinstance(obj, list | tuple):
        h.update((b"l" if isinstance(obj, list) else b"t") + struct.pack("<q", len(obj)))
        for v in obj:
            _feed(h, v)
    else:
        raise TypeError(f"a checkpoint holds tensors and plain values, not {type(obj).__name__}")


def content_hash(state: dict) -> str:
    """SHA-256 (hex) of ``state`` without its ``content_sha256`` entry."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != HASH_KEY})
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], state: dict, locked: bool = False) -> Path:
    """Write ``state`` (a dict of tensors and plain values) with its content hash,
    atomically; ``locked``: the caller holds the folder's lock (see :mod:`spikewave._io`)."""
    full = {**state, FORMAT_KEY: FORMAT}
    full[HASH_KEY] = content_hash(full)
    buf = io.BytesIO()
    torch.save(full, buf)
    return atomic_write_bytes(path, buf.getvalue(), locked=locked)


_LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError,
                KeyError, AttributeError, TypeError, IndexError, UnicodeDecodeError,
                zipfile.BadZipFile, struct.error, ImportError, MemoryError, OverflowError)


def load_checkpoint(path: str | os.PathLike[str], what: str = "checkpoint") -> dict:
    """The verified content of the checkpoint at ``path`` (tensors on the CPU).

    A missing file raises :class:`ParameterError`; an unreadable, altered, or not-ours file
    :class:`DataError` naming it.
    """
    p = Path(path)
    if not p.is_file():
        raise ParameterError(f"{what} not found: {p}")
    try:
        if p.stat().st_size == 0:
            raise DataError(f"{p}: an empty file, not a {what} (a disk that was full?)")
        with warnings.catch_warnings():
            # what torch only warns about in a file (an unusual pickle protocol) is, in a
            # checkpoint, a sign that it was not written by save_checkpoint
            warnings.simplefilter("error")
            state = torch.load(p, map_location="cpu", weights_only=True)
    except DataError:
        raise
    except (*_LOAD_ERRORS, Warning) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataError(f"{p}: not a readable {what} ({type(exc).__name__}"
                        f"{': ' + msg[:200] if msg else ''}); it is truncated, corrupt or "
                        "another kind of file") from None
    if not isinstance(state, dict):
        raise DataError(f"{p}: a {what} holds a dictionary, this file a "
                        f"{type(state).__name__}")
    stored = state.pop(HASH_KEY, None)
    if not isinstance(stored, str):
        raise DataError(f"{p}: no content hash ({HASH_KEY}); it was not written by "
                        "spikewave's save_checkpoint, or by an older version")
    try:
        actual = content_hash(state)
    except TypeError as exc:
        raise DataError(f"{p}: {exc}") from None
    if actual != stored:
        raise DataError(f"{p}: the content does not match its hash (stored {stored[:16]}..., "
                        f"computed {actual[:16]}...): the file was altered or corrupted after "
                        "it was written")
    if state.get(FORMAT_KEY) != FORMAT:
        raise DataError(f"{p}: {what} format {state.get(FORMAT_KEY)!r}, this version reads "
                        f"format {FORMAT}")
    return state


def expect(state: dict, key: str, kind: type | tuple[type, ...], path: Path,
           what: str = "") -> Any:
    """``state[key]`` after checking it is present and of ``kind``."""
    if key not in state:
        raise DataError(f"{path}: field '{key}' missing from the checkpoint")
    value = state[key]
    if isinstance(value, bool) and kind in (int, float):
        ok = False
    else:
        ok = isinstance(value, kind)
    if not ok:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"{path}: field '{key}' should be {what or 'a ' + names}, not "
                        f"{type(value).__name__} {value!r:.60}")
    return value


def check_finite(tensors: Any, path: Path, field: str) -> None:
    """Refuse NaN or infinite values in any floating tensor inside ``tensors``."""
    def walk(obj: Any, where: str) -> None:
        if isinstance(obj, torch.Tensor):
            if obj.is_floating_point() or obj.is_complex():
                if not bool(torch.isfinite(obj).all()):
                    raise DataError(f"{path}: {where} holds NaN or infinite values (the run "
                                    "diverged before this checkpoint was written); start "
                                    "again without --resume, with a lower learning rate")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{where}[{k!r}]")
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                walk(v, f"{where}[{i}]")

    walk(tensors, field)
