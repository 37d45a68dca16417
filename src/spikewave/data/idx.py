"""IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed, validated on read.

Layout (LeCun et al.'s MNIST page): two zero bytes, a type code (0x08 unsigned byte, 0x09
signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions,
one big-endian 32-bit size per dimension, then the data in C order, big-endian.

Budgets: the size the header declares is checked before anything is allocated -- against
the file's own size (exactly, for a raw file; against the most deflate can expand to, for
a gzip file) and against ``max_bytes`` (default :data:`MAX_IDX_BYTES`, 1 GiB, 20 times the
largest MNIST file). A gzip file is inflated in a stream that stops at the declared size,
so a decompression bomb costs no more memory than an honest file of its header. Every
malformed file raises :class:`~spikewave._validation.DataError` naming the file and the
field or offset.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from spikewave._validation import DataError, check_int, data_fail
from spikewave.data._stream import (
    GZIP_MAGIC,
    GzipStream,
    max_gzip_output,
    open_checked,
    read_exactly,
)

TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 1 << 30


def _type_list() -> str:
    return ", ".join(f"0x{k:02X}" for k in TYPES)


def read_idx(path: str | os.PathLike[str], max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into an array in native byte order.

    A missing file raises :class:`~spikewave._validation.ParameterError`; a malformed,
    truncated, over-long or over-budget one :class:`~spikewave._validation.DataError`.
    ``max_bytes`` bounds the data the header may declare.
    """
    cap = check_int("max_bytes", max_bytes, 1)
    p, fh = open_checked(path, "IDX file")
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            compressed = fh.read(2) == GZIP_MAGIC
            fh.seek(0)
        except OSError as exc:
            raise DataError(f"{p}: cannot read IDX file: {exc.strerror or exc}") from None
        if compressed:
            stream = GzipStream(fh, str(p), max(cap, 1024) + 1028)
            return _parse(stream, p, cap, max_gzip_output(size), compressed=True)
        return _parse(fh, p, cap, size, compressed=False)


def _parse(stream, p: Path, cap: int, most: int, compressed: bool) -> np.ndarray:
    """Header, size checks, then the data from ``stream`` (``most``: the most the file can
    hold, its size when raw)."""
    try:
        magic = read_exactly(stream, 4, str(p), "header bytes 0-3")
        if magic[0] != 0 or magic[1] != 0:
            raise data_fail(p, "header bytes 0-1", "two zero bytes (the IDX magic number)",
                            f"0x{magic[:2].hex()}")
        if magic[2] not in TYPES:
            raise data_fail(p, "header byte 2", f"an IDX type code ({_type_list()})",
                            f"0x{magic[2]:02X}")
        ndim = magic[3]
        if ndim == 0:
            raise data_fail(p, "header byte 3", "a number of dimensions of at least 1", 0)
        raw_dims = read_exactly(stream, 4 * ndim, str(p), f"header bytes 4-{3 + 4 * ndim} "
                                f"(the {ndim} dimension sizes)")
        shape = tuple(int.from_bytes(raw_dims[4 * i:4 * i + 4], "big") for i in range(ndim))
        dtype = np.dtype(TYPES[magic[2]])
        header = 4 + 4 * ndim
        n_bytes = dtype.itemsize
        for d in shape:
            n_bytes *= d
        if n_bytes > cap:
            raise DataError(f"{p}, header: the dimensions {shape} declare {n_bytes:,} bytes of "
                            f"data, more than the limit of {cap:,} (max_bytes); raise it if "
                            "the file is genuine")
        if compressed and header + n_bytes > most:
            raise data_fail(p, "header", f"dimensions that a gzip file of this size can hold "
                            f"(at most {most:,} bytes)", f"{shape}, {n_bytes:,} bytes")
        if not compressed and header + n_bytes != most:
            have = most - header
            what = "truncated" if have < n_bytes else "with trailing data"
            raise data_fail(p, f"data from byte {header}", f"{n_bytes:,} bytes for the "
                            f"dimensions {shape}", f"{have:,} ({what})")
        data = read_exactly(stream, n_bytes, str(p), f"data from byte {header}") \
            if n_bytes else b""
        extra = stream.read(1)
        if extra:
            raise data_fail(p, f"byte {header + n_bytes}", f"the end of the data (the header "
                            f"declares {shape})", "more bytes after it")
    except OSError as exc:
        raise DataError(f"{p}: cannot read IDX file: {exc.strerror or exc}") from None
    arr = np.frombuffer(data, dtype).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write an unsigned-byte array as IDX (gzip if the name ends in ``.gz``); for tests."""
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    Path(path).write_bytes(idx_bytes(arr, gz=str(path).endswith(".gz")))


def idx_bytes(array: np.ndarray, gz: bool = False) -> bytes:
    """The IDX encoding of ``array`` (any of the IDX types; others are refused)."""
    arr = np.asarray(array)
    codes = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in TYPES.items()}
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    code = codes.get(big.dtype)
    if code is None:
        raise DataError(f"IDX has no type for arrays of dtype {arr.dtype}")
    data = bytes([0, 0, code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape) + np.ascontiguousarray(big).tobytes()
    return gzip.compress(data, mtime=0) if gz else data
