"""Spiking Heidelberg Digits (SHD) from its HDF5 files, validated on read.

Layout (Cramer et al. 2020): ``spikes/times`` (one variable-length float array per sample,
seconds), ``spikes/units`` (one variable-length integer array per sample, channel ids
0..699) and ``labels`` (integers 0..19). Every field is checked before it is used: a
one-dimensional dataset of the right kind (variable-length floats, variable-length
integers, integers), as many entries in each, at most ``max_samples`` of them (default
:data:`MAX_SAMPLES`, far above SHD's 8,156), finite non-negative times that never decrease
within a sample, units and labels in range. Samples are read in one call per field and
checked as flat arrays, not one by one. Any problem raises
:class:`~spikewave._validation.DataError` naming the file and the field (and the sample).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikewave._validation import (
    POSITIVE,
    DataError,
    ParameterError,
    check_int,
    check_number,
    data_fail,
)

N_CHANNELS = 700
N_CLASSES = 20
MAX_SAMPLES = 1_000_000
FIELDS = ("spikes/times", "spikes/units", "labels")


def _dataset(f, p: Path, key: str):
    import h5py

    try:
        obj = f.get(key)
    except (KeyError, RuntimeError, OSError, ValueError, TypeError) as exc:
        raise data_fail(p, f"field {key}", "a readable dataset", f"an error ({exc})") from None
    if obj is None:
        raise data_fail(p, f"field {key}", "a dataset (this is not an SHD file)", "none")
    if not isinstance(obj, h5py.Dataset):
        raise data_fail(p, f"field {key}", "a dataset", type(obj).__name__)
    if obj.ndim != 1:
        raise data_fail(p, f"field {key}", "a one-dimensional dataset (one entry per sample)",
                        f"shape {obj.shape}")
    return obj


def _vlen_base(ds, p: Path, key: str, kinds: str, what: str) -> np.dtype:
    import h5py

    base = h5py.check_vlen_dtype(ds.dtype)
    if base is None or np.dtype(base).kind not in kinds:
        raise data_fail(p, f"field {key}", f"variable-length arrays of {what}",
                        f"dtype {ds.dtype}" + ("" if base is None else f" of {base}"))
    _check_vlen_message(ds, p, key)
    return np.dtype(base)


_DATATYPE_MESSAGE = 3
_VLEN_CLASS = 9


def _check_vlen_message(ds, p: Path, key: str) -> None:
    """Check the variable-length datatype message in the dataset's object header (version 1,
    what h5py writes by default) the way the HDF5 library will read it: its class bit field
    must name a sequence (type 0) with padding 0-2 and character set 0-1, the reserved bits
    zero. The library reads the data of a corrupt one without checking and crashes the
    process (HDF5 file format specification, version 2.0, section IV.A.2.d); h5py shows no
    difference before the read. Headers of another version are left to the library."""
    import h5py

    try:
        addr = h5py.h5o.get_info(ds.file.id, ds.name.encode()).addr + ds.file.userblock_size
    except (KeyError, RuntimeError, ValueError, OSError):
        return
    with open(p, "rb") as fh:
        fh.seek(addr)
        head = fh.read(16)
        if len(head) < 16 or head[0] != 1:
            return  # not a version-1 object header
        n_messages = int.from_bytes(head[2:4], "little")
        size = int.from_bytes(head[8:12], "little")
        body = fh.read(min(size, 1 << 16))
    at = 0
    for _ in range(n_messages):
        if at + 8 > len(body):
            return
        kind = int.from_bytes(body[at:at + 2], "little")
        length = int.from_bytes(body[at + 2:at + 4], "little")
        if kind == _DATATYPE_MESSAGE and at + 12 <= len(body):
            cls, bits = body[at + 8] & 0x0F, int.from_bytes(body[at + 9:at + 12], "little")
            if cls == _VLEN_CLASS and (bits & 0x0F != 0 or (bits >> 4) & 0x0F > 2
                                       or (bits >> 8) & 0x0F > 1 or bits >> 12):
                raise data_fail(p, f"field {key}, datatype at byte {addr + 16 + at + 8}",
                                "a variable-length sequence type (the file is corrupt)",
                                f"class bit field 0x{bits:06x}")
        at += 8 + length


def _read(ds, p: Path, key: str) -> np.ndarray:
    try:
        return ds[...]
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, MemoryError) as exc:
        raise data_fail(p, f"field {key}", "readable data", f"an error ({exc})") from None


def _flat(parts: np.ndarray, dtype: type, p: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """One flat array and the per-sample lengths of a read variable-length field."""
    lengths = np.fromiter((np.size(a) for a in parts), np.int64, len(parts))
    if len(parts) == 0:
        return np.empty(0, dtype), lengths
    try:
        flat = np.concatenate([np.asarray(a).reshape(-1) for a in parts]).astype(dtype)
    except (TypeError, ValueError) as exc:
        raise data_fail(p, f"field {key}", "numeric arrays", f"an error ({exc})") from None
    return flat, lengths


_GCOL = b"GCOL"
_HG_MIN = 4096   # the smallest global heap collection HDF5 writes


def check_global_heaps(path: Path) -> None:
    """Walk each global heap collection (where HDF5 keeps variable-length data) the way the
    HDF5 library will, and refuse one whose objects do not tile it.

    A collection is ``GCOL``, version 1, three reserved bytes, its size (8 bytes), then
    objects: index (2), reference count (2), reserved (4), size (8), data padded to 8 bytes;
    index 0 is the free space. A corrupt object size can make the library's own walk stop
    advancing (an endless loop inside it) before any Python code runs again, so it is checked
    here first.
    """
    import mmap

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 16:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
            at = m.find(_GCOL)
            while at >= 0:
                _walk_collection(m, at, size, path)
                at = m.find(_GCOL, at + 4)


def _walk_collection(m, start: int, file_size: int, path: Path) -> None:
    head = m[start:start + 16]
    if len(head) < 16 or head[4] != 1 or head[5:8] != b"\x00\x00\x00":
        return  # not a collection header (the four letters inside other data)
    length = int.from_bytes(head[8:16], "little")
    if length < _HG_MIN or start + length > file_size:
        return
    end, p = start + length, start + 16
    while p < end:
        if p + 16 > end:
            return  # a tail too small for an object header: free space
        obj = m[p:p + 16]
        index = int.from_bytes(obj[0:2], "little")
        obj_size = int.from_bytes(obj[8:16], "little")
        need = obj_size if index == 0 else 16 + (obj_size + 7) // 8 * 8
        if need <= 0 or p + need > end:
            raise data_fail(path, f"global heap collection at byte {start}, object at byte {p}",
                            "objects that fit the collection (the file is corrupt)",
                            f"object {index} of {obj_size} bytes")
        p += need


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def read_shd(path: str | Path, max_samples: int = MAX_SAMPLES
             ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """``(times_s per sample, units per sample, labels)``; a malformed file raises one
    :class:`~spikewave._validation.DataError`."""
    import h5py

    cap = check_int("max_samples", max_samples, 0)
    p = Path(path)
    if not p.exists():
        raise ParameterError(f"SHD file not found: {p}")
    try:
        check_global_heaps(p)
    except OSError as exc:
        raise DataError(f"{p}: cannot read SHD file: {exc.strerror or exc}") from None
    try:
        f = h5py.File(p, "r")
    except (OSError, RuntimeError, ValueError) as exc:
        raise DataError(f"{p} is not a readable HDF5 file: {exc}") from None
    with f:
        t_ds, u_ds, l_ds = (_dataset(f, p, key) for key in FIELDS)
        n = len(l_ds)
        if not len(t_ds) == len(u_ds) == n:
            raise DataError(f"{p}: {len(t_ds)} time lists, {len(u_ds)} unit lists and "
                            f"{n} labels (they must match)")
        if n > cap:
            raise DataError(f"{p}, field labels: {n:,} samples, more than the limit of "
                            f"{cap:,} (max_samples); raise it if the file is genuine")
        _vlen_base(t_ds, p, FIELDS[0], "f", "floating-point times (s)")
        _vlen_base(u_ds, p, FIELDS[1], "iu", "integer channel ids")
        if l_ds.dtype.kind not in "iu":
            raise data_fail(p, "field labels", "integer class numbers", f"dtype {l_ds.dtype}")
        times_parts = _read(t_ds, p, FIELDS[0])
        units_parts = _read(u_ds, p, FIELDS[1])
        labels_raw = _read(l_ds, p, FIELDS[2])
    labels = labels_raw.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        i = _first((labels < 0) | (labels >= N_CLASSES))
        raise data_fail(p, f"labels[{i}]", f"a class in 0..{N_CLASSES - 1}", int(labels_raw[i]))
    t_flat, t_len = _flat(times_parts, np.float64, p, FIELDS[0])
    u_flat, u_len = _flat(units_parts, np.int64, p, FIELDS[1])
    if not np.array_equal(t_len, u_len):
        i = _first(t_len != u_len)
        raise data_fail(p, f"sample {i}", "as many units as times",
                        f"{t_len[i]} times but {u_len[i]} units")
    sample_of = np.repeat(np.arange(n), t_len)
    bad_t = ~np.isfinite(t_flat) | (t_flat < 0)
    if bad_t.any():
        j = _first(bad_t)
        raise data_fail(p, f"spikes/times of sample {sample_of[j]}",
                        "finite, non-negative times (s)", float(t_flat[j]))
    bad_u = (u_flat < 0) | (u_flat >= N_CHANNELS)
    if bad_u.any():
        j = _first(bad_u)
        raise data_fail(p, f"spikes/units of sample {sample_of[j]}",
                        f"channel ids in 0..{N_CHANNELS - 1}", int(u_flat[j]))
    if t_flat.size > 1:
        back = (np.diff(t_flat) < 0) & (sample_of[1:] == sample_of[:-1])
        if back.any():
            j = _first(back) + 1
            raise data_fail(p, f"spikes/times of sample {sample_of[j]}",
                            "times that never decrease within a sample",
                            f"{t_flat[j]:g} s after {t_flat[j - 1]:g} s")
    bounds = np.cumsum(t_len)[:-1] if n else []
    return np.split(t_flat, bounds) if n else [], np.split(u_flat, bounds) if n else [], labels


def spikes_to_frames(times_s: np.ndarray, units: np.ndarray, time_steps: int,
                     duration_s: float = 1.4, n_channels: int = N_CHANNELS) -> np.ndarray:
    """Bin one sample into ``[T, n_channels]`` spike counts over ``[0, duration_s)``."""
    t = check_int("time_steps", time_steps, 1)
    d = check_number("duration_s", duration_s, POSITIVE)
    frames = np.zeros((t, n_channels), np.float32)
    keep = times_s < d
    np.add.at(frames, ((times_s[keep] * t / d).astype(np.int64), units[keep]), 1.0)
    return frames


def write_shd(path: str | os.PathLike[str], times_s, units, labels) -> None:
    """Write samples in SHD's layout (float32 times, uint16 units, uint8 labels); for
    tests and tools."""
    import h5py

    with h5py.File(path, "w") as f:
        n = len(labels)
        t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            t[i] = np.asarray(times_s[i], np.float32)
            u[i] = np.asarray(units[i], np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, np.uint8))
