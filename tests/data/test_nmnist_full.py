"""The full N-MNIST in its original layout (Train/ and Test/ folders of .bin recordings per
digit, and the Train.zip / Test.zip archives), on small copies the tests build: the same
recordings and labels from every layout, and hostile archives and folders refused with one
DataError naming the file."""

import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spikewave import ParameterError
from spikewave._validation import DataError
from spikewave.data import NMNISTDataset
from spikewave.data.nmnist import EVENT_DTYPE, encode_events, events_to_frames

PER_DIGIT = 2


def _events(n, seed):
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["t"], ev["p"] = np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 2, n)
    return ev


def _recordings(split):
    """``{relative name: events}``: PER_DIGIT recordings per digit, named as N-MNIST's are
    (written in reverse order, so that the reader's sorting is seen)."""
    base = 0 if split == "Train" else 1000
    out = {}
    for digit in reversed(range(10)):
        for k in reversed(range(PER_DIGIT)):
            seed = base + 10 * digit + k
            out[f"{digit}/{seed + 1:05d}.bin"] = _events(5 + seed % 7, seed)
    return out


def _folder(root: Path, split="Train") -> Path:
    for name, ev in _recordings(split).items():
        (root / split / name).parent.mkdir(parents=True, exist_ok=True)
        (root / split / name).write_bytes(encode_events(ev))
    return root


def _zip(path: Path, split="Train", extra=(), method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr(f"{split}/", b"")
        for name, ev in _recordings(split).items():
            zf.writestr(f"{split}/{name}", encode_events(ev))
        for name, data in extra:
            zf.writestr(name, data)
    return path


def _expected(split="Train"):
    items = sorted(_recordings(split).items())
    return [ev for _, ev in items], [int(name[0]) for name, _ in items]


def _same(ds, split="Train"):
    events, labels = _expected(split)
    assert len(ds) == len(events) == 10 * PER_DIGIT
    np.testing.assert_array_equal(ds.labels, labels)
    for i, (ev, label) in enumerate(zip(events, labels, strict=True)):
        got, got_label = ds[i]
        assert got.dtype == EVENT_DTYPE and got_label == label
        np.testing.assert_array_equal(got, ev)


def test_folders_and_archives_give_the_same_recordings_in_tonics_order(tmp_path):
    root = _folder(_folder(tmp_path / "nmnist"), "Test")
    _same(NMNISTDataset(root, "train"))
    _same(NMNISTDataset(root, "test"), "Test")
    _same(NMNISTDataset(root / "Train", "train"))          # the split's own folder
    _same(NMNISTDataset(_zip(tmp_path / "Train.zip"), "train"))
    zips = tmp_path / "zips"
    zips.mkdir()
    _zip(zips / "train.zip")                                # tonic's lower-case name
    _zip(zips / "Test.zip", "Test")
    _same(NMNISTDataset(zips, "train"))
    ds = NMNISTDataset(zips, "test")
    _same(ds, "Test")
    _same(pickle.loads(pickle.dumps(ds)), "Test")           # as DataLoader workers get it
    ds.close()


def test_the_archive_inside_a_leading_folder_and_stored_members(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, ev in _recordings("Train").items():
            zf.writestr(f"N-MNIST/Train/{name}", encode_events(ev))
        zf.writestr("N-MNIST/Test/3/00001.bin", encode_events(_events(4, 9)))
        zf.writestr("__MACOSX/Train/3/._00001.bin", b"\x00junk")
        zf.writestr("N-MNIST/readme.txt", b"hello")
    _same(NMNISTDataset(path, "train"))
    assert len(NMNISTDataset(path, "test")) == 1


def test_transform_and_frames(tmp_path):
    root = _folder(tmp_path)
    ds = NMNISTDataset(root, transform=lambda ev: events_to_frames(ev, 3))
    x, y = NMNISTDataset(root).frames(3)
    assert x.shape == (20, 3, 2, 34, 34) and x.dtype == np.float32
    for i in (0, 7, 19):
        np.testing.assert_array_equal(ds[i][0], x[i])
        assert ds[i][1] == y[i]
        assert x[i].sum() == len(_expected()[0][i])
    with pytest.raises(DataError, match="max_frames_bytes"):
        NMNISTDataset(root).frames(3, max_frames_bytes=20 * 3 * 2 * 34 * 34 * 4 - 1)
    with pytest.raises(IndexError):
        ds[20]
    assert ds[-1][1] == 9


def test_tonics_reader_reads_our_recordings_the_same(tmp_path):
    tonic_io = pytest.importorskip("tonic.io", reason="the tonic extra "
                                   "(pip install spikewave[tonic])")
    from tonic.datasets import NMNIST

    root = _folder(tmp_path)
    ds = NMNISTDataset(root)
    for i, name in enumerate(sorted(_recordings("Train"))):
        theirs = tonic_io.read_mnist_file(str(root / "Train" / name), dtype=NMNIST.dtype)
        assert theirs.dtype == ds[i][0].dtype
        np.testing.assert_array_equal(theirs, ds[i][0])


@pytest.mark.parametrize(("args", "error", "match"), [
    (("nowhere",), ParameterError, "not found"),
    (("empty",), ParameterError, r"Train/.*Train\.zip"),
    (("root", "validation"), ParameterError, "'split'"),
])
def test_bad_arguments(tmp_path, args, error, match):
    _folder(tmp_path / "root")
    (tmp_path / "empty").mkdir()
    with pytest.raises(error, match=match):
        NMNISTDataset(tmp_path / args[0], *args[1:])


def test_hostile_folders(tmp_path):
    root = _folder(tmp_path / "a")
    with pytest.raises(DataError, match="max_files"):
        NMNISTDataset(root, max_files=5)
    (root / "Train" / "3" / "00032.bin").write_bytes(b"\x01\x02\x03")
    with pytest.raises(DataError, match=r"3/00032\.bin.*5-byte"):
        NMNISTDataset(root)[7]
    big = root / "Train" / "4" / "00042.bin"
    with pytest.raises(DataError, match=r"00042\.bin.*max_bytes"):
        NMNISTDataset(root, max_recording_bytes=big.stat().st_size - 5)[9]
    os.mkfifo(root / "Train" / "5" / "fifo.bin")            # reading it would block
    with pytest.raises(DataError, match=r"fifo\.bin.*regular file"):
        NMNISTDataset(root)
    root = _folder(tmp_path / "b")
    for f in (root / "Train" / "6").iterdir():
        f.unlink()
    (root / "Train" / "6").rmdir()
    with pytest.raises(DataError, match=r"folder 6/"):
        NMNISTDataset(root)


@pytest.mark.parametrize(("name", "match"), [
    ("../Train/0/evil.bin", r"\.\./Train/0/evil\.bin.*escape"),
    ("/etc/Train/0/evil.bin", "escape"),
    ("Train/0/..\\..\\evil.bin", "escape"),
    ("Train/0/../../x.bin", "escape"),
    ("C:/Train/0/x.bin", "escape"),
])
def test_archive_member_names_that_would_escape_are_refused(tmp_path, name, match):
    path = _zip(tmp_path / "Train.zip", extra=[(name, b"")])
    with pytest.raises(DataError, match=match):
        NMNISTDataset(path)


def _patch_sizes(data: bytes, member: str, declared: int) -> bytes:
    """``data`` with ``member``'s uncompressed size declared as ``declared`` in both its
    local header and its central directory entry."""
    out = bytearray(data)
    key = member.encode()
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := out.find(sig, start)) >= 0:
            n = struct.unpack_from("<H", out, i + (26 if sig == b"PK\x03\x04" else 28))[0]
            head = 30 if sig == b"PK\x03\x04" else 46
            if bytes(out[i + head:i + head + n]) == key:
                struct.pack_into("<I", out, i + offset, declared)
            start = i + 4
    return bytes(out)


def test_hostile_archives(tmp_path):
    good = _zip(tmp_path / "Train.zip").read_bytes()
    member = "Train/2/00021.bin"

    def refused(data, match, **kw):
        path = tmp_path / "bad.zip"
        path.write_bytes(data)
        with pytest.raises(DataError, match=match):
            ds = NMNISTDataset(path, **kw)
            for i in range(len(ds)):
                ds[i]
            ds.close()

    refused(good[: len(good) // 2], "not a readable zip")
    refused(b"GIF89a" + good[6:], r"bad\.zip, byte 0.*zip archive")
    refused(_patch_sizes(good, member, 1 << 30), r"Train/2/00021\.bin.*max_recording_bytes")
    refused(_patch_sizes(good, member, 999_999), r"Train/2/00021\.bin.*declared size")
    refused(_patch_sizes(good, member, 5), r"Train/2/00021\.bin.*cannot read")  # CRC
    i = good.find(member.encode()) + len(member) + 3                  # inside the data
    refused(good[:i] + bytes([good[i] ^ 0x55]) + good[i + 1:], r"Train/2/00021\.bin")
    refused(good, "max_recording_bytes", max_recording_bytes=20)
    junk = [(f"notes/{i:05d}.txt", b"") for i in range(3000)]
    refused(_zip(tmp_path / "j.zip", extra=junk[:200]).read_bytes(),  # 221 members
            r"221 members, more than the 106 .*max_files", max_files=3)
    refused(_zip(tmp_path / "j.zip", extra=junk).read_bytes(),        # refused unparsed
            r"central directory of [\d,]+ bytes.*max_files", max_files=3)
    assert len(NMNISTDataset(_zip(tmp_path / "k.zip", extra=junk))) == 20
    refused(_zip(tmp_path / "z.zip", method=zipfile.ZIP_BZIP2).read_bytes(),
            "compression method")
    refused(_zip(tmp_path / "t.zip", "Test").read_bytes(), r"Train/<digit>/<name>\.bin")


def _frames3(ev):
    return events_to_frames(ev, 3)


def test_a_dataloader_with_worker_processes_reads_the_archive(tmp_path):
    import torch
    from torch.utils.data import DataLoader

    ds = NMNISTDataset(_zip(tmp_path / "Train.zip"), transform=_frames3)
    ds[0]  # the archive is open in this process; each worker opens its own
    x, y = NMNISTDataset(tmp_path / "Train.zip").frames(3)
    batches = list(DataLoader(ds, batch_size=6, num_workers=2))
    assert torch.equal(torch.cat([b[0] for b in batches]), torch.as_tensor(x))
    assert torch.equal(torch.cat([b[1] for b in batches]), torch.as_tensor(y))
    ds.close()


def test_the_archive_is_opened_once_per_process(tmp_path, monkeypatch):
    import zipfile as zf_module

    opened = []
    real = zf_module.ZipFile
    path = _zip(tmp_path / "Train.zip")

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(zf_module, "ZipFile", counting)
    ds = NMNISTDataset(path)
    assert len(opened) == 1                                 # the index
    for i in range(len(ds)):
        ds[i]
    assert len(opened) == 2                                 # one handle for every read
    copy = pickle.loads(pickle.dumps(ds))
    copy[0], copy[1]
    assert len(opened) == 3                                 # the copy opens its own
    ds.close()
    copy.close()
