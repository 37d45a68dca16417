"""Dataset readers on small files the tests make: round trips and clear errors."""

import gzip
import io
import tarfile

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave._validation import DataError
from spikewave.data.idx import read_idx, write_idx
from spikewave.data.mnist import FILES, load_mnist
from spikewave.data.nmnist import (
    EVENT_DTYPE,
    decode_events,
    encode_events,
    events_to_frames,
    load_slayer_archive,
)
from spikewave.data.shd import read_shd, spikes_to_frames


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_idx_round_trip(tmp_path, name):
    arr = np.random.default_rng(0).integers(0, 256, (5, 3, 4)).astype(np.uint8)
    write_idx(tmp_path / name, arr)
    np.testing.assert_array_equal(read_idx(tmp_path / name), arr)


def test_idx_errors(tmp_path):
    write_idx(tmp_path / "ok.idx", np.zeros((4, 2), np.uint8))
    raw = (tmp_path / "ok.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(raw[:-1])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04" + raw[4:])
    with pytest.raises(DataError, match="magic"):
        read_idx(tmp_path / "bad.idx")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-5])
    with pytest.raises(DataError, match="gzip"):
        read_idx(tmp_path / "bad.gz")
    with pytest.raises(ParameterError, match="not found"):
        read_idx(tmp_path / "missing.idx")


def make_mnist(folder, n_train=6, n_test=4):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    write_idx(folder / f"{FILES[0]}.gz", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(folder / f"{FILES[1]}.gz", rng.integers(0, 10, n_train))
    write_idx(folder / FILES[2], rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(folder / FILES[3], rng.integers(0, 10, n_test))


def test_mnist_from_data_dir_and_environment(tmp_path, monkeypatch):
    make_mnist(tmp_path / "mnist")
    split = load_mnist("mnist", tmp_path, verify=False)
    assert split.x_train.shape == (6, 28, 28) and split.x_test.dtype == np.float32
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    monkeypatch.setenv("SPIKEWAVE_DATA", str(tmp_path))
    assert load_mnist("mnist", verify=False).y_test.shape == (4,)
    with pytest.raises(ParameterError, match="fashion files not found"):
        load_mnist("fashion", tmp_path, verify=False)
    monkeypatch.delenv("SPIKEWAVE_DATA")
    with pytest.raises(ParameterError, match="SPIKEWAVE_DATA"):
        load_mnist("mnist", verify=False)


def test_mnist_mismatched_files(tmp_path):
    make_mnist(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / FILES[3], np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="disagree"):
        load_mnist("mnist", tmp_path, verify=False)


def random_events(n, seed=0):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["p"], ev["t"] = rng.integers(0, 2, n), np.sort(rng.integers(0, 2**23, n))
    return ev


def test_nmnist_round_trip_frames_and_errors():
    ev = random_events(500)
    back = decode_events(encode_events(ev))
    for f in ("x", "y", "t", "p"):
        np.testing.assert_array_equal(back[f], ev[f])
    frames = events_to_frames(ev, 10, duration_us=2**23)
    assert frames.shape == (10, 2, 34, 34) and frames.sum() == 500
    with pytest.raises(DataError, match="5-byte"):
        decode_events(encode_events(ev)[:-2])
    bad = ev.copy()
    bad["x"][0] = 40
    with pytest.raises(DataError, match="sensor"):
        decode_events(encode_events(bad))


def test_slayer_archive(tmp_path):
    path = tmp_path / "small.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        def add(name, data):
            info = tarfile.TarInfo(f"NMNISTsmall/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for i in (1, 2, 3):
            add(f"{i}.bs2", encode_events(random_events(50, i)))
        add("train1K.txt", b"#sample #class\n1\t5\n2\t0\n")
        add("test100.txt", b"#sample #class\n3\t7\n")
    x_tr, y_tr, x_te, y_te = load_slayer_archive(path, time_steps=5, verify=False)
    assert x_tr.shape == (2, 5, 2, 34, 34) and y_tr.tolist() == [5, 0] and y_te.tolist() == [7]


def test_shd_reader(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "shd.h5"
    vlen_f = h5py.vlen_dtype(np.float32)
    vlen_u = h5py.vlen_dtype(np.uint16)
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (2,), dtype=vlen_f)
        u = f.create_dataset("spikes/units", (2,), dtype=vlen_u)
        t[0], t[1] = np.array([0.1, 0.5], np.float32), np.array([1.0], np.float32)
        u[0], u[1] = np.array([3, 699], np.uint16), np.array([10], np.uint16)
        f.create_dataset("labels", data=np.array([4, 19]))
    times, units, labels = read_shd(path)
    assert labels.tolist() == [4, 19] and units[0].tolist() == [3, 699]
    frames = spikes_to_frames(times[0], units[0], 14)
    assert frames.shape == (14, 700) and frames.sum() == 2 and frames[1, 3] == 1
    with h5py.File(path, "a") as f:
        del f["labels"]
        f.create_dataset("labels", data=np.array([1]))
    with pytest.raises(DataError, match="must match"):
        read_shd(path)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="HDF5"):
        read_shd(tmp_path / "junk.h5")


def test_download_helper_fetches_checks_and_keeps_files(tmp_path):
    import numpy as np

    from spikewave.cli import main
    from spikewave.data.idx import write_idx
    from spikewave.data.mnist import load_mnist

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    rng = np.random.default_rng(0)
    write_idx(mirror / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (6, 28, 28)))
    write_idx(mirror / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 6))
    write_idx(mirror / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (2, 28, 28)))
    write_idx(mirror / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 2))
    dest = tmp_path / "data"
    argv = ["data", "download", "mnist", "--data-dir", str(dest), "--base-url",
            mirror.as_uri(), "--no-verify"]
    assert main(argv) == 0
    assert load_mnist("mnist", dest, verify=False).x_train.shape == (6, 28, 28)
    assert not list((dest / "mnist").glob("*.part"))  # no half-written file left
    # a corrupt file on the mirror: one clear error, nothing kept
    (dest / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08\x01\x00\x00")
    assert main(argv) == 2
    assert not (dest / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    assert not list((dest / "mnist").glob("*.part"))
