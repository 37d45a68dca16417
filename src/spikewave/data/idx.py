"""IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed, validated on read.

Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, one
big-endian uint32 per dimension, then the data in C order.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from spikewave._validation import ParameterError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into an array; a corrupt file raises one clear error."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise ParameterError(f"IDX file not found: {p}") from None
    except (OSError, EOFError) as exc:
        raise ParameterError(f"{p} is not a readable gzip file: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise ParameterError(f"{p} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ParameterError(f"{p}: IDX header truncated or with 0 dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ParameterError(f"{p}: IDX data has {len(raw) - header} bytes, the header "
                             f"{shape} needs {expected - header} (truncated or corrupt file)")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an unsigned-byte array as IDX (gzip if the name ends in ``.gz``); for tests."""
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape) + arr.tobytes()
    Path(path).write_bytes(gzip.compress(data) if str(path).endswith(".gz") else data)
