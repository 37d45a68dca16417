"""Malformed and hostile data files: one DataError naming the file and what was expected,
never a raw exception from gzip, tarfile or h5py, never a silently wrong result.

(The bombs and the declared sizes that would exhaust memory are in tests/fuzz/test_bombs.py,
where each case runs under a memory cap.)
"""

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave._validation import DataError
from spikewave.data.idx import idx_bytes, read_idx
from spikewave.data.mnist import FILES, load_mnist
from spikewave.data.nmnist import (
    EVENT_DTYPE,
    decode_events,
    encode_events,
    load_slayer_archive,
    read_events,
)
from spikewave.data.shd import read_shd, write_shd

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path:
    """The real datasets (``SPIKEWAVE_SHARED_DATA`` or ``<repo>/../shared/data``)."""
    folder = Path(os.environ.get("SPIKEWAVE_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (folder / "mnist" / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"the real MNIST files are not here ({folder}/mnist)")
    return folder


# ----------------------------------------------------------------------------- IDX / MNIST


def test_idx_flipped_byte_in_the_real_labels_names_the_file(tmp_path):
    real = (shared_data() / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    damaged = bytearray(real)
    damaged[114] ^= 0x10  # zlib: "invalid distance too far back" (not just a CRC mismatch)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bytes(damaged))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*(gzip|CRC|data)"):
        read_idx(path)


def test_idx_corrupt_gzip_stream(tmp_path):
    data = bytearray(idx_bytes(np.arange(200, dtype=np.uint8) % 7, gz=True))
    data[12] ^= 0xFF  # inside the deflate stream
    (tmp_path / "a.gz").write_bytes(bytes(data))
    with pytest.raises(DataError, match="a.gz"):
        read_idx(tmp_path / "a.gz")


def test_idx_trailing_data_and_bad_type(tmp_path):
    raw = idx_bytes(np.zeros((2, 3), np.uint8))
    (tmp_path / "long.idx").write_bytes(raw + b"\x00")
    with pytest.raises(DataError, match="trailing"):
        read_idx(tmp_path / "long.idx")
    (tmp_path / "type.idx").write_bytes(raw[:2] + b"\x07" + raw[3:])
    with pytest.raises(DataError, match="header byte 2"):
        read_idx(tmp_path / "type.idx")


def test_idx_other_types_round_trip(tmp_path):
    for dtype in ("i1", "i2", "i4", "f4", "f8"):
        arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        (tmp_path / "x.idx").write_bytes(idx_bytes(arr))
        back = read_idx(tmp_path / "x.idx")
        assert back.dtype == arr.dtype and back.dtype.isnative
        np.testing.assert_array_equal(back, arr)


def _mnist_folder(root: Path, images=None, labels=None) -> Path:
    folder = root / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (4, 28, 28)).astype(np.uint8) if images is None else images
    labs = rng.integers(0, 10, len(imgs)).astype(np.uint8) if labels is None else labels
    for name, arr in zip(FILES, (imgs, labs, imgs, labs), strict=True):
        (folder / name).write_bytes(idx_bytes(arr))
    return root


@pytest.mark.parametrize(("images", "labels", "match"), [
    (None, np.array([0, 1, -1, 3], np.int8), "labels"),                 # int8 -1
    (None, np.array([0, 1, 12, 3], np.uint8), "class in 0..9"),
    (np.zeros((4, 8, 98), np.uint8), None, r"\[N, 28, 28\]"),
    (np.zeros((4, 1, 784), np.uint8), None, r"\[N, 28, 28\]"),
    (np.full((4, 28, 28), np.nan, np.float32), None, "pixels"),
    (np.zeros((4, 28, 28), np.int16), None, "pixels"),
])
def test_mnist_refuses_wrong_labels_pixel_types_and_shapes(tmp_path, images, labels, match):
    if labels is None:
        labels = np.zeros(len(images), np.uint8)
    root = _mnist_folder(tmp_path, images, labels)
    with pytest.raises(DataError, match=match):
        load_mnist("mnist", root, verify=False)


def test_mnist_given_for_fashion_is_named(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(shared_data() / "mnist", root / "fashion-mnist")
    with pytest.raises(DataError, match=r"MNIST's train-images.*not Fashion-MNIST's"):
        load_mnist("fashion", root)


def test_real_mnist_and_fashion_verify(tmp_path):
    data = shared_data()
    split = load_mnist("mnist", data)
    assert split.x_train.shape == (60_000, 28, 28) and split.y_test.shape == (10_000,)
    assert np.bincount(split.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                                  974, 1009]


def test_mnist_verify_names_a_corrupt_known_file(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(shared_data() / "mnist", root / "mnist")
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz.*SHA-256.*corrupt"):
        load_mnist("mnist", root)


# ----------------------------------------------------------------------------- N-MNIST


def _events(n, seed=0):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["p"], ev["t"] = rng.integers(0, 2, n), np.sort(rng.integers(0, 300_000, n))
    return ev


def _archive(path: Path, members: dict, gz: bool = True, links=()) -> Path:
    with tarfile.open(path, "w:gz" if gz else "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f"NMNISTsmall/{name}")
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
                continue
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(f"NMNISTsmall/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def _members(**changes):
    members = {"1.bs2": encode_events(_events(20, 1)), "2.bs2": encode_events(_events(20, 2)),
               "train1K.txt": b"#sample #class\n1\t5\n", "test100.txt": b"#sample #class\n2\t7\n"}
    members.update(changes)
    return {k: v for k, v in members.items() if v is not False}


@pytest.mark.parametrize(("members", "links", "match"), [
    (_members(**{"2.bs2": False}), (), r"NMNISTsmall/2\.bs2.*a file in the archive"),
    (_members(**{"2.bs2": None}), (), "regular file"),                   # a directory
    (_members(**{"2.bs2": False}), (("2.bs2", "1.bs2"),), "regular file"),  # a symlink
    (_members(**{"train1K.txt": b"#h\n1 5 extra\n"}), (), "two integers"),
    (_members(**{"train1K.txt": b"#h\n1\tfive\n"}), (), "two integers"),
    (_members(**{"train1K.txt": b""}), (), "at least one"),
    (_members(**{"train1K.txt": b"#h\n\xff\xfe 1\n"}), (), "UTF-8"),
    (_members(**{"train1K.txt": b"#h\n1\t42\n"}), (), r"class in 0\.\.9"),
    (_members(**{"test100.txt": b"#h\n2\t-3\n"}), (), r"class in 0\.\.9"),
    (_members(**{"test100.txt": False}), (), "test100.txt"),
    (_members(**{"1.bs2": encode_events(_events(20))[:-2]}), (), "5-byte"),
])
def test_slayer_archive_errors(tmp_path, members, links, match):
    path = _archive(tmp_path / "a.tar.gz", members, links=links)
    with pytest.raises(DataError, match=match):
        load_slayer_archive(path, 4, verify=False)


@pytest.mark.parametrize("damage", ["truncate", "flip", "not-gzip", "empty"])
def test_slayer_archive_damaged_container(tmp_path, damage):
    data = bytearray(_archive(tmp_path / "a.tar.gz", _members()).read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "not-gzip":
        data = bytearray(b"\x1f\x8b" + bytes(300))
    else:
        data = bytearray()
    (tmp_path / "b.tar.gz").write_bytes(bytes(data))
    with pytest.raises(DataError, match="b.tar.gz"):
        load_slayer_archive(tmp_path / "b.tar.gz", 4, verify=False)


def test_slayer_listing_without_header_keeps_its_first_sample(tmp_path):
    members = _members(**{"train1K.txt": b"1\t5\n2\t6\n", "test100.txt": b"2\t7\n"})
    x_tr, y_tr, x_te, y_te = load_slayer_archive(_archive(tmp_path / "a.tar.gz", members), 4,
                                                 verify=False)
    assert y_tr.tolist() == [5, 6] and y_te.tolist() == [7] and len(x_tr) == 2


def test_slayer_archive_checksum(tmp_path):
    path = _archive(tmp_path / "nmnist_small_slayer.tar.gz", _members())
    with pytest.raises(DataError, match="SHA-256.*verify=False"):
        load_slayer_archive(path, 4)
    real = shared_data() / "nmnist" / "nmnist_small_slayer.tar.gz"
    if not real.exists():
        pytest.skip("the real N-MNIST archive is not here")
    x_tr, y_tr, x_te, y_te = load_slayer_archive(real, 2)
    assert x_tr.shape == (1000, 2, 2, 34, 34) and len(y_te) == 100


def test_events_going_back_in_time_are_refused(tmp_path):
    ev = _events(10)
    ev["t"][5] = ev["t"][4] - 1 if ev["t"][4] else 7
    ev["t"][4] = max(ev["t"][4], 8)
    with pytest.raises(DataError, match=r"event 5 .*never decrease"):
        decode_events(encode_events(ev), "rec.bin")
    (tmp_path / "r.bin").write_bytes(encode_events(_events(10)))
    assert len(read_events(tmp_path / "r.bin")) == 10


# ----------------------------------------------------------------------------- SHD


def _shd(path, userblock_bytes=0, **fields):
    import h5py

    with h5py.File(path, "w", userblock_size=userblock_bytes) as f:
        n = 2
        if "times" not in fields:
            t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
            t[0], t[1] = np.array([0.1, 0.2], np.float32), np.array([0.3], np.float32)
        if "units" not in fields:
            u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            u[0], u[1] = np.array([1, 2], np.uint16), np.array([3], np.uint16)
        if "labels" not in fields:
            f.create_dataset("labels", data=np.array([1, 2], np.uint8))
        for key, make in fields.items():
            make(f, {"times": "spikes/times", "units": "spikes/units", "labels": "labels"}[key])
    return path


def _vlen(base, rows):
    def make(f, key):
        import h5py

        ds = f.create_dataset(key, (len(rows),), dtype=h5py.vlen_dtype(np.dtype(base)))
        for i, r in enumerate(rows):
            ds[i] = np.asarray(r, base)
    return make


def _data(values, dtype=None):
    def make(f, key):
        f.create_dataset(key, data=np.asarray(values, dtype))
    return make


def _link(f, key):
    import h5py

    f[key] = h5py.SoftLink("/missing")


@pytest.mark.parametrize(("fields", "match"), [
    ({"labels": _data([99, 1])}, r"labels\[0\].*0\.\.19"),
    ({"labels": _data([-1, 1], np.int8)}, r"labels\[0\].*0\.\.19"),
    ({"labels": _data([np.nan, 1.0])}, "integer class"),
    ({"labels": _data([2.5, 1.0])}, "integer class"),
    ({"labels": _data([[1, 2], [3, 4]], np.uint8)}, "one-dimensional"),
    ({"labels": _data(3, np.uint8)}, "one-dimensional"),
    ({"labels": _data([b"a", b"b"])}, "integer class"),
    ({"labels": _data(np.zeros(2, [("a", "i4"), ("b", "f4")]))}, "integer class"),
    ({"labels": _link}, "labels"),
    ({"labels": lambda f, k: f.create_group(k)}, "a dataset"),
    ({"labels": _data([2_000_000_000, 1], np.int64)}, r"0\.\.19"),
    ({"units": _vlen("f4", [[1.5, 2.0], [3.0]])}, "integer channel"),
    ({"units": _vlen("u2", [[1, 700], [3]])}, r"channel ids in 0\.\.699"),
    ({"times": _vlen("c8", [[1, 2], [3]])}, "floating-point times"),
    ({"times": _vlen("f4", [[0.2, 0.1], [0.3]])}, "never decrease"),
    ({"times": _vlen("f4", [[0.1, np.nan], [0.3]])}, "finite"),
    ({"times": _vlen("f4", [[0.1], [0.3]])}, "as many units as times"),
    ({"times": _data([0.1, 0.2], np.float32)}, "variable-length"),
])
def test_shd_refuses_malformed_fields(tmp_path, fields, match):
    path = _shd(tmp_path / "s.h5", **fields)
    with pytest.raises(DataError, match=match):
        read_shd(path)


def test_shd_round_trip_and_not_hdf5(tmp_path):
    write_shd(tmp_path / "ok.h5", [[0.1, 0.5], []], [[3, 699], []], [4, 19])
    times, units, labels = read_shd(tmp_path / "ok.h5")
    assert labels.tolist() == [4, 19] and units[0].tolist() == [3, 699] and times[1].size == 0
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(DataError, match="junk.h5"):
        read_shd(tmp_path / "junk.h5")
    with pytest.raises(ParameterError, match="not found"):
        read_shd(tmp_path / "none.h5")


def test_gzip_member_padding_is_tolerated(tmp_path):
    raw = idx_bytes(np.arange(10, dtype=np.uint8))
    (tmp_path / "p.gz").write_bytes(gzip.compress(raw) + bytes(8))
    np.testing.assert_array_equal(read_idx(tmp_path / "p.gz"), np.arange(10))
    (tmp_path / "two.gz").write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]))
    np.testing.assert_array_equal(read_idx(tmp_path / "two.gz"), np.arange(10))
    (tmp_path / "junk.gz").write_bytes(gzip.compress(raw) + b"junk")
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(tmp_path / "junk.gz")


@pytest.mark.parametrize("userblock_bytes", [0, 512])
@pytest.mark.parametrize(("bit_field", "what"), [
    (0x00007F, "sequence type 15"), (0x000030, "padding 3"), (0x000200, "character set 2"),
    (0x001000, "a reserved bit")])
def test_shd_refuses_a_corrupt_variable_length_datatype(tmp_path, bit_field, what,
                                                        userblock_bytes):
    # the HDF5 library reads the data of such a dataset without checking the type and
    # crashes the process: the reader checks the datatype message in the object header
    # (addresses in the file count from after a user block)
    import h5py

    path = _shd(tmp_path / "s.h5", userblock_bytes)
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f.id, b"/spikes/times").addr + userblock_bytes
    raw = bytearray(path.read_bytes())
    at = raw.find(b"\x19\x00\x00\x00\x04\x00\x00\x00", header)  # VL class, 4-byte base
    at = raw.find(b"\x19\x00\x00\x00", header) if at < 0 else at
    assert header < at < header + 512
    raw[at + 1:at + 4] = bit_field.to_bytes(3, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=rf"spikes/times, datatype at byte {at}: expected a "
                                        "variable-length sequence type"):
        read_shd(path)


def test_shd_datatype_check_leaves_a_valid_file_alone(tmp_path):
    path = _shd(tmp_path / "s.h5")
    times, units, labels = read_shd(path)
    assert [t.tolist() for t in times] == [[pytest.approx(0.1), pytest.approx(0.2)],
                                           [pytest.approx(0.3)]]
    assert labels.tolist() == [1, 2] and units[1].tolist() == [3]
