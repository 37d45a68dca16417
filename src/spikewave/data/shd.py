"""Spiking Heidelberg Digits (SHD) from its HDF5 files, validated on read.

Layout (Cramer et al. 2020): ``spikes/times`` (per sample, seconds), ``spikes/units``
(per sample, channel ids 0..699) and ``labels``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikewave._validation import POSITIVE, ParameterError, check_int, check_number

N_CHANNELS = 700


def read_shd(path: str | Path) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """``(times_s per sample, units per sample, labels)``; a malformed file raises one error."""
    import h5py

    p = Path(path)
    if not p.exists():
        raise ParameterError(f"SHD file not found: {p}")
    try:
        with h5py.File(p, "r") as f:
            missing = [k for k in ("spikes/times", "spikes/units", "labels") if k not in f]
            if missing:
                raise ParameterError(f"{p} is not an SHD file: missing {', '.join(missing)}")
            times = [np.asarray(t, np.float64) for t in f["spikes/times"]]
            units = [np.asarray(u, np.int64) for u in f["spikes/units"]]
            labels = np.asarray(f["labels"], np.int64)
    except OSError as exc:
        raise ParameterError(f"{p} is not a readable HDF5 file: {exc}") from None
    if not len(times) == len(units) == len(labels):
        raise ParameterError(f"{p}: {len(times)} time lists, {len(units)} unit lists and "
                             f"{len(labels)} labels (they must match)")
    for i, (t, u) in enumerate(zip(times, units, strict=True)):
        if t.shape != u.shape:
            raise ParameterError(f"{p}: sample {i} has {t.size} times but {u.size} units")
        if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
            raise ParameterError(f"{p}: sample {i} has negative or non-finite spike times")
        if u.size and (u.min() < 0 or u.max() >= N_CHANNELS):
            raise ParameterError(f"{p}: sample {i} has units outside 0..{N_CHANNELS - 1}")
    return times, units, labels


def spikes_to_frames(times_s: np.ndarray, units: np.ndarray, time_steps: int,
                     duration_s: float = 1.4, n_channels: int = N_CHANNELS) -> np.ndarray:
    """Bin one sample into ``[T, n_channels]`` spike counts over ``[0, duration_s)``."""
    t = check_int("time_steps", time_steps, 1)
    d = check_number("duration_s", duration_s, POSITIVE)
    frames = np.zeros((t, n_channels), np.float32)
    keep = times_s < d
    np.add.at(frames, ((times_s[keep] * t / d).astype(np.int64), units[keep]), 1.0)
    return frames
