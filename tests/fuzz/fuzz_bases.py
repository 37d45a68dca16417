"""Small valid files of every format the readers take, made at test time, and reference
parsers written independently of the package (plain NumPy on the documented layouts)."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from functools import cache
from pathlib import Path

import numpy as np

from spikewave.data.mnist import FILES
from spikewave.data.nmnist import EVENT_DTYPE, encode_events

_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray, gz: bool = False) -> bytes:
    """IDX encoding by the format's definition (big-endian data after the header)."""
    arr = np.asarray(array)
    code = _CODES[arr.dtype.kind + str(arr.dtype.itemsize)]
    data = bytes([0, 0, code, arr.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in arr.shape) + arr.astype(
        arr.dtype.newbyteorder(">")).tobytes()
    return gzip.compress(data, mtime=0) if gz else data


def idx_file(dtype: str = "u1", shape: tuple[int, ...] = (3, 4, 5), seed: int = 0,
             gz: bool = False) -> bytes:
    rng = np.random.default_rng(seed)
    arr = (rng.integers(0, 200, shape) if np.dtype(dtype).kind in "iu"
           else rng.normal(size=shape)).astype(dtype)
    return idx_bytes(arr, gz=gz)


def idx_fields(ndim: int) -> tuple[tuple[int, int], ...]:
    """The header's type code, dimension count and dimension sizes."""
    return ((2, 1), (3, 1), *((4 + 4 * i, 4) for i in range(ndim)))


IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def reference_idx(data: bytes) -> np.ndarray | None:
    """The array an IDX file holds by the format's definition, or None if it holds none."""
    if data[:2] == b"\x1f\x8b":
        if len(data) < 4 or data[3] & 0xE0:  # RFC 1952: reserved flag bits must be zero
            return None
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, ValueError, Exception):  # noqa: BLE001 - reference only
            return None
    if len(data) < 4 or data[0] or data[1] or data[2] not in IDX_TYPES or data[3] == 0:
        return None
    nd = data[3]
    if len(data) < 4 + 4 * nd:
        return None
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    dt = np.dtype(IDX_TYPES[data[2]])
    n = int(np.prod(dims, dtype=object)) * dt.itemsize
    if len(data) != 4 + 4 * nd + n:
        return None
    return np.frombuffer(data, dt, offset=4 + 4 * nd).reshape(dims).astype(dt.newbyteorder("="))


def mnist_files(n_train: int = 3, n_test: int = 2, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    return {
        f"{FILES[0]}.gz": idx_bytes(rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
                                    gz=True),
        f"{FILES[1]}.gz": idx_bytes(rng.integers(0, 10, n_train).astype(np.uint8), gz=True),
        FILES[2]: idx_bytes(rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8)),
        FILES[3]: idx_bytes(rng.integers(0, 10, n_test).astype(np.uint8)),
    }


def events(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.empty(n, EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["p"], ev["t"] = rng.integers(0, 2, n), np.sort(rng.integers(0, 300_000, n))
    return ev


def nmnist_bin(n: int = 40, seed: int = 0) -> bytes:
    return encode_events(events(n, seed))


def reference_events(data: bytes) -> np.ndarray | None:
    """Decoded events by the documented layout, or None where the file is not valid."""
    if len(data) % 5:
        return None
    a = np.frombuffer(data, np.uint8).reshape(-1, 5).astype(np.int64)
    t = ((a[:, 2] & 0x7F) << 16) | (a[:, 3] << 8) | a[:, 4]
    if len(a) and (a[:, 0].max() >= 34 or a[:, 1].max() >= 34 or np.any(np.diff(t) < 0)):
        return None
    ev = np.empty(len(a), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"], ev["t"] = a[:, 0], a[:, 1], a[:, 2] >> 7, t
    return ev


def archive_tar(n_samples: int = 3, listing_header: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"NMNISTsmall/{name}")
            info.size = len(data)
            info.mtime = 0
            tf.addfile(info, io.BytesIO(data))

        for i in range(1, n_samples + 1):
            add(f"{i}.bs2", nmnist_bin(12, i))
        head = "#sample\t#class\n" if listing_header else ""
        add("train1K.txt", (head + "".join(f"{i}\t{i % 10}\n"
                                           for i in range(1, n_samples))).encode())
        add("test100.txt", (head + f"{n_samples}\t7\n").encode())
    return buf.getvalue()


def nmnist_zip(per_digit: int = 1, digits: int = 3) -> bytes:
    """A small ``Train.zip`` of the original N-MNIST layout: ``Train/<digit>/<n>.bin``."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for digit in range(digits):
            for k in range(per_digit):
                info = zipfile.ZipInfo(f"Train/{digit}/{k:05d}.bin", (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, nmnist_bin(12, 10 * digit + k))
    return buf.getvalue()


def archive_gz(n_samples: int = 3) -> bytes:
    return gzip.compress(archive_tar(n_samples), mtime=0)


def tar_fields(tar: bytes) -> tuple[tuple[int, int], ...]:
    """Offsets of each member header's size and type fields (octal text, but worth
    overwriting with boundary bytes too)."""
    out = []
    for pos in range(0, len(tar) - 512, 512):
        block = tar[pos:pos + 512]
        if block[257:262] == b"ustar":
            out += [(pos + 124, 4), (pos + 128, 4), (pos + 156, 1), (pos + 148, 4)]
    return tuple(out)


@cache
def shd_file(n: int = 4, seed: int = 0) -> bytes:
    import h5py

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shd.h5"
        with h5py.File(path, "w") as f:
            t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
            u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            for i in range(n):
                k = int(rng.integers(0, 6))
                t[i] = np.sort(rng.uniform(0, 1.2, k)).astype(np.float32)
                u[i] = rng.integers(0, 700, k).astype(np.uint16)
            f.create_dataset("labels", data=rng.integers(0, 20, n).astype(np.uint16))
        return path.read_bytes()


@cache
def checkpoint_file(epochs_done: int = 2, epochs: int = 3) -> bytes:
    """A training checkpoint of the tiny model of :func:`fuzz_targets.tiny_model` after
    ``epochs_done`` epochs of a ``epochs``-epoch run (made with a few Adam steps)."""
    from dataclasses import asdict

    import torch
    from fuzz_targets import tiny_model

    from spikewave.train.checkpoint import save_checkpoint
    from spikewave.train.loop import TrainConfig, _signature

    model = tiny_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        loss = model(torch.randn(8, 4, generator=gen)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    cfg = TrainConfig(epochs=epochs, batch_size=8, lr=1e-3, seed=0)
    history = [{"epoch": e + 1, "train_loss": 1.0, "train_accuracy": 0.5, "test_loss": 1.0,
                "test_accuracy": 0.5, "spikes_per_sample": 3.0, "epoch_s": 0.1,
                "lr": cfg.lr_at(e)} for e in range(epochs_done)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoint.pt"
        save_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                               "epoch": epochs_done - 1, "history": history,
                               "config": asdict(cfg), "model_signature": _signature(model)})
        return path.read_bytes()
