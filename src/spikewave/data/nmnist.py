"""N-MNIST event recordings (``.bin``; the same 5-byte layout as SLAYER's ``.bs2``).

Each event is 40 bits: ``x`` (byte 0), ``y`` (byte 1), polarity (bit 7 of byte 2, 1 = ON)
and a 23-bit timestamp in microseconds (the rest of byte 2, then bytes 3 and 4).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from spikewave._validation import ParameterError, check_int

SENSOR = 34
EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", np.int8), ("t_us", np.int64)])


def decode_events(raw: bytes, name: str = "recording") -> np.ndarray:
    """Decode N-MNIST bytes into a structured array ``(x, y, p, t_us)``."""
    if len(raw) % 5:
        raise ParameterError(f"{name}: {len(raw)} bytes is not a whole number of 5-byte "
                             "events (truncated file?)")
    a = np.frombuffer(raw, np.uint8).reshape(-1, 5).astype(np.int64)
    ev = np.empty(len(a), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = a[:, 0], a[:, 1], a[:, 2] >> 7
    ev["t_us"] = ((a[:, 2] & 0x7F) << 16) | (a[:, 3] << 8) | a[:, 4]
    if len(ev) and (ev["x"].max() >= SENSOR or ev["y"].max() >= SENSOR):
        raise ParameterError(f"{name}: event coordinates up to ({ev['x'].max()}, "
                             f"{ev['y'].max()}) exceed the {SENSOR}x{SENSOR} sensor")
    return ev


def encode_events(ev: np.ndarray) -> bytes:
    """Inverse of :func:`decode_events` (for tests and tools)."""
    out = np.empty((len(ev), 5), np.uint8)
    t = ev["t_us"].astype(np.int64)
    out[:, 0], out[:, 1] = ev["x"], ev["y"]
    out[:, 2] = (ev["p"].astype(np.int64) << 7) | ((t >> 16) & 0x7F)
    out[:, 3], out[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return out.tobytes()


def events_to_frames(ev: np.ndarray, time_steps: int, duration_us: int = 300_000) -> np.ndarray:
    """Bin events into ``[T, 2, 34, 34]`` spike counts (channel 0 OFF, 1 ON)."""
    t = check_int("time_steps", time_steps, 1)
    frames = np.zeros((t, 2, SENSOR, SENSOR), np.float32)
    keep = ev["t_us"] < duration_us
    e = ev[keep]
    b = (e["t_us"] * t // duration_us).astype(np.int64)
    np.add.at(frames, (b, e["p"].astype(np.int64), e["y"].astype(np.int64),
                       e["x"].astype(np.int64)), 1.0)
    return frames


def load_slayer_archive(path: str | Path, time_steps: int = 30):
    """The 1,000/100 N-MNIST recordings of ``nmnist_small_slayer.tar.gz`` as frames.

    Returns ``(x_train [N, T, 2, 34, 34], y_train, x_test, y_test)``.
    """
    p = Path(path)
    if not p.exists():
        raise ParameterError(f"N-MNIST archive not found: {p}")
    with tarfile.open(p) as tf:
        def split(listing: str):
            text = tf.extractfile(f"NMNISTsmall/{listing}").read().decode()
            rows = [r.split() for r in text.strip().splitlines()[1:] if r.strip()]
            xs, ys = [], []
            for sample, label in rows:
                raw = tf.extractfile(f"NMNISTsmall/{int(sample)}.bs2").read()
                xs.append(events_to_frames(decode_events(raw, sample), time_steps))
                ys.append(int(label))
            return np.stack(xs), np.asarray(ys, np.int64)

        x_tr, y_tr = split("train1K.txt")
        x_te, y_te = split("test100.txt")
    return x_tr, y_tr, x_te, y_te

