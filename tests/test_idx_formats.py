"""The IDX reader on every type code of the format, and on files with bytes missing or left
over: each array read back exactly, each broken file one clear error naming it.

The files are written here by hand from the format's definition (two zero bytes, the type
code, the number of dimensions, one big-endian uint32 per dimension, then the data in C
order, big-endian), not by the package's own writer (which writes unsigned bytes only).
"""

import gzip

import numpy as np
import pytest

from spikewave.data.idx import read_idx

TYPES = [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"),
         (0x0E, ">f8")]


def idx_bytes(code: int, array: np.ndarray, big_endian_dtype: str) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


def sample(dtype: str, shape=(3, 4, 5)) -> np.ndarray:
    rng = np.random.default_rng(0)
    kind = np.dtype(dtype)
    if kind.kind == "f":
        return rng.normal(0.0, 1e3, shape).astype(kind.newbyteorder("="))
    info = np.iinfo(kind)
    a = rng.integers(info.min, int(info.max) + 1, shape)
    a.flat[:2] = [info.min, info.max]  # the extremes survive the byte order
    return a.astype(kind.newbyteorder("="))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("code", "dtype"), TYPES)
def test_every_type_code_reads_back_exactly(tmp_path, code, dtype, gz):
    array = sample(dtype)
    raw = idx_bytes(code, array, dtype)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("ndim", [1, 2, 4])
def test_any_number_of_dimensions(tmp_path, ndim):
    array = np.arange(2**ndim * 3, dtype=np.int16).reshape((2,) * (ndim - 1) + (-1,))
    (tmp_path / "a.idx").write_bytes(idx_bytes(0x0B, array, ">i2"))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(("code", "dtype"), TYPES)
@pytest.mark.parametrize("change", [-1, +1, +3, -5])
def test_trailing_or_missing_bytes_are_one_clear_error(tmp_path, code, dtype, gz, change):
    raw = idx_bytes(code, sample(dtype), dtype)
    raw = raw[:change] if change < 0 else raw + b"\x00" * change
    path = tmp_path / ("broken.idx.gz" if gz else "broken.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(ValueError, match="broken.idx") as info:
        read_idx(path)
    message = str(info.value)
    assert "truncated" in message or "bytes" in message


@pytest.mark.parametrize("header", [b"\x00\x00\x08\x02\x00\x00\x00\x03",  # one size of two
                                    b"\x00\x00\x08\x00", b"\x00\x00\x08"])
def test_truncated_or_empty_header_is_one_clear_error(tmp_path, header):
    (tmp_path / "head.idx").write_bytes(header)
    with pytest.raises(ValueError, match="head.idx"):
        read_idx(tmp_path / "head.idx")


@pytest.mark.parametrize("magic", [b"\x00\x00\x0a\x01", b"\x00\x01\x08\x01", b"\x01\x00\x08\x01"])
def test_unknown_type_code_or_magic_is_one_clear_error(tmp_path, magic):
    (tmp_path / "m.idx").write_bytes(magic + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="m.idx"):
        read_idx(tmp_path / "m.idx")
