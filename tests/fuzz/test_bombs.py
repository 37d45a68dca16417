"""Memory and time bombs, and simulations of unbounded work: each runs in a worker capped at
500 MB and 10 s, and must end in the package's own error, quickly.

The files are made at test time: a gzip stream of a gigabyte of zeros is about a megabyte.
"""

import gzip
import io
import struct
import tarfile
import zlib
from functools import cache

import pytest
from fuzz_bases import nmnist_bin

MB = 1 << 20


def _gzip_of(head: bytes, zeros: int, tail: bytes = b"") -> bytes:
    """A gzip file of ``head``, ``zeros`` zero bytes, then ``tail``: several gzip members
    (as ``cat a.gz b.gz`` makes), so that building it takes no time."""
    chunk = gzip.compress(bytes(MB), compresslevel=9, mtime=0)
    whole, rest = divmod(zeros, MB)
    return b"".join([gzip.compress(head, mtime=0), chunk * whole,
                     gzip.compress(bytes(rest), mtime=0), gzip.compress(tail, mtime=0)])


@cache
def idx_bomb() -> bytes:
    """An honest-looking MNIST label header (60,000 labels) followed by 1 GiB of zeros."""
    return _gzip_of(bytes([0, 0, 8, 1]) + (60_000).to_bytes(4, "big"), 1024 * MB)


def test_idx_gzip_bomb(data_worker):
    outcome = data_worker.call("idx", idx_bomb(), "bomb.idx.gz", reader="idx")
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "more bytes" in outcome.value or "end of the data" in outcome.value


def test_idx_header_declaring_a_gigantic_array(data_worker):
    """Dimensions whose product overflows int64 (2^31 x 2^31 x 4 = 2^64, which wraps to 0
    bytes: the length check of a plain int64 product passes, then the reshape fails): one
    clear error, nothing allocated."""
    header = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (2**31, 2**31, 4))
    for data in (header, gzip.compress(header), header + bytes(64)):
        outcome = data_worker.call("idx", data, reader="idx")
        assert outcome.kind == "own", outcome.describe()
        assert "max_bytes" in outcome.value


@cache
def archive_bomb() -> bytes:
    """An N-MNIST archive whose one listed recording is 255 MiB of zeros (valid events)."""
    size = 5 * 51 * MB
    info = tarfile.TarInfo("NMNISTsmall/1.bs2")
    info.size = size
    rest = io.BytesIO()
    with tarfile.open(fileobj=rest, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in (("2.bs2", nmnist_bin(5)), ("train1K.txt", b"#s #c\n1\t3\n"),
                           ("test100.txt", b"#s #c\n2\t4\n")):
            member = tarfile.TarInfo(f"NMNISTsmall/{name}")
            member.size = len(data)
            tf.addfile(member, io.BytesIO(data))
    return _gzip_of(info.tobuf(tarfile.USTAR_FORMAT), size, rest.getvalue())


def test_nmnist_archive_bomb(data_worker):
    outcome = data_worker.call("nmnist_archive", archive_bomb(), 3, reader="nmnist-archive")
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "NMNISTsmall/1.bs2" in outcome.value and "limit" in outcome.value


def test_shd_declaring_two_billion_labels(data_worker):
    spec = {"spikes/times": {"kind": "empty_vlen", "n": 2**31, "base": "f4"},
            "spikes/units": {"kind": "empty_vlen", "n": 2**31, "base": "u2"},
            "labels": {"kind": "declared", "shape": [2**31], "dtype": "i8"}}
    outcome = data_worker.call("shd_structured", spec, reader="shd")
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "max_samples" in outcome.value


def test_shd_of_sixty_thousand_empty_samples_is_read_at_once(data_worker):
    """A 3 KB file declaring 60,000 empty samples: read in one call per field."""
    spec = {"spikes/times": {"kind": "empty_vlen", "n": 60_000, "base": "f4"},
            "spikes/units": {"kind": "empty_vlen", "n": 60_000, "base": "u2"},
            "labels": {"kind": "declared", "shape": [60_000], "dtype": "u1"}}
    outcome = data_worker.call("shd_structured", spec, reader="shd")
    assert outcome.kind == "ok" and outcome.seconds < 10, outcome.describe()
    assert outcome.value["n"] == 60_000 and set(outcome.value["lengths"]) == {0}


UNBOUNDED = [
    ("spikewave.neurons.lif", "simulate_lif_exact", "lif_fast", (1.0, 3.0)),
    ("spikewave.neurons.adaptive", "simulate_alif_exact", "alif_fast", (3.0, 1.0)),
    ("spikewave.neurons.lif", "simulate_lif_clock", "lif", (1e9, 3.0)),
    ("spikewave.neurons.hodgkin_huxley", "simulate_hh", "hh", (10.0, 1e12)),
    ("spikewave.sim.spiketrains", "homogeneous_poisson", None, (1000, 1e9, 1000.0)),
]


@pytest.mark.parametrize(("module", "function", "params", "args"), UNBOUNDED,
                         ids=[u[1] for u in UNBOUNDED])
def test_unbounded_simulation_refused_up_front(data_worker, module, function, params, args):
    outcome = data_worker.call("simulation", module, function, params, args,
                               reader="simulation")
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "budget" in outcome.value


def test_bombs_are_built_small():
    assert len(idx_bomb()) < 4 * MB and len(archive_bomb()) < 2 * MB


def _zero_free_space(h5: bytes) -> bytes:
    """``h5`` with the free-space object of its first global heap collection set to size 0:
    HDF5's own walk of the collection then never advances."""
    start = h5.find(b"GCOL")
    end = start + int.from_bytes(h5[start + 8:start + 16], "little")
    p = start + 16
    while p + 16 <= end:
        index = int.from_bytes(h5[p:p + 2], "little")
        size = int.from_bytes(h5[p + 8:p + 16], "little")
        if index == 0:
            return h5[:p + 8] + bytes(8) + h5[p + 16:]
        p += 16 + (size + 7) // 8 * 8
    raise AssertionError("no free space in the collection")


def test_shd_corrupt_global_heap_does_not_hang(data_worker):
    from fuzz_bases import shd_file

    outcome = data_worker.call("shd", _zero_free_space(shd_file()), reader="shd")
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "global heap" in outcome.value


def test_shd_corrupt_variable_length_datatype_is_refused(data_worker):
    from fuzz_bases import shd_file

    data = bytearray(shd_file())
    vlen = bytes(data).find(b"\x19\x00\x00\x00\x10\x00\x00\x00")  # VL type, 16 bytes
    assert vlen > 0
    data[vlen + 1] = 0x7F  # sequence type 15, padding 3: one byte of the class bit field
    outcome = data_worker.call("shd", bytes(data), reader="shd")
    # the HDF5 library crashes the process reading such a dataset: refused before
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "variable-length sequence type" in outcome.value


def test_a_worker_that_dies_is_reported_as_a_crash(data_worker):
    outcome = data_worker.call("die")
    assert outcome.kind == "crash" and outcome.value == "the worker died"


def _zip_of(name: str, deflated: bytes, crc: int, declared: int) -> bytes:
    """A one-member zip archive: ``deflated`` (a raw deflate stream) stored under ``name``,
    declaring ``declared`` bytes and the CRC-32 ``crc`` once inflated."""
    n = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(deflated),
                        declared, len(n), 0) + n
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          len(deflated), declared, len(n), 0, 0, 0, 0, 0, 0) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(deflated), 0)
    return local + deflated + central + end


@cache
def zip_bomb_stream() -> tuple[bytes, int]:
    """256 MiB of zeros (valid N-MNIST events) as a raw deflate stream, and its CRC-32."""
    squeeze, crc, chunk = zlib.compressobj(9, zlib.DEFLATED, -15), 0, bytes(MB)
    parts = []
    for _ in range(256):
        parts.append(squeeze.compress(chunk))
        crc = zlib.crc32(chunk, crc)
    parts.append(squeeze.flush())
    return b"".join(parts), crc


@pytest.mark.parametrize(("declared", "match"), [
    (256 * MB, "max_recording_bytes"),  # honest: refused from the declaration, unread
    (100, "CRC-32"),                    # lying: only the declared bytes are inflated
])
def test_nmnist_zip_bomb(data_worker, declared, match):
    stream, crc = zip_bomb_stream()
    bomb = _zip_of("Train/1/00001.bin", stream, crc, declared)
    outcome = data_worker.call("nmnist_zip", bomb, reader="nmnist-zip")
    assert outcome.kind == "own" and outcome.seconds < 10, outcome.describe()
    assert "Train/1/00001.bin" in outcome.value and match in outcome.value
