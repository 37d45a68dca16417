"""N-MNIST event recordings (``.bin``; the same 5-byte layout as SLAYER's ``.bs2``).

Each event is 40 bits: ``x`` (byte 0), ``y`` (byte 1), polarity (bit 7 of byte 2, 1 = ON)
and a 23-bit timestamp in microseconds (the rest of byte 2, then bytes 3 and 4)
(Orchard et al. 2015). A recording is validated on decoding: whole events, coordinates on
the 34x34 sensor, timestamps that never decrease.

Events are the structured arrays of tonic (the event-data library most SNN code reads
with): the fields ``x, y, t, p`` in that order, each a 64-bit integer (tonic's
``NMNIST.dtype``), ``t`` in microseconds from the start of the recording and ``p`` 1 for ON,
0 for OFF. Every tonic transform (``ToFrame``, ``Denoise``, ``DropEvent``, ...) applies to
them as they are. Arrays of the older layout, with the time field named ``t_us``, are still
accepted by :func:`events_to_frames` and :func:`encode_events` (see :func:`as_events`).

:func:`load_slayer_archive` reads the 1,000/100 samples of SLAYER's ``NMNISTsmall``
archive in one streamed pass with budgets: each recording at most
:data:`MAX_RECORDING_BYTES`, the whole archive at most :data:`MAX_ARCHIVE_BYTES`
decompressed (a small archive that inflates to gigabytes is refused as soon as it passes
the cap), the listings ``#sample #class`` rows of two integers with labels in 0..9.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

import numpy as np

from spikewave._validation import DataError, ParameterError, check_int, data_fail, fail
from spikewave.data import checksums
from spikewave.data._stream import GZIP_MAGIC, GzipStream, open_checked

SENSOR = 34
N_CLASSES = 10
EVENT_BYTES = 5
# tonic's N-MNIST event layout (``tonic.datasets.NMNIST.dtype``): field order and types
EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
LEGACY_TIME_FIELD = "t_us"
MAX_RECORDING_BYTES = 16 << 20   # 3.3 M events; N-MNIST's longest has about 7,000
MAX_ARCHIVE_BYTES = 1 << 30      # the archive of 1,100 recordings holds 22.6 MB
MAX_LISTING_BYTES = 1 << 20
MAX_FRAMES_BYTES = 4 << 30       # the frames returned: 1,100 samples x 30 steps take 305 MB
ARCHIVE_NAME = "nmnist_small_slayer.tar.gz"
FOLDER = "NMNISTsmall"
LISTINGS = ("train1K.txt", "test100.txt")


def decode_events(raw: bytes, name: str = "recording") -> np.ndarray:
    """Decode N-MNIST bytes into a structured array of :data:`EVENT_DTYPE` (``x, y, t, p``).

    Raises :class:`DataError` naming ``name`` and the event at fault for a length that is
    not whole events, coordinates off the 34x34 sensor or a timestamp that goes back.
    """
    if len(raw) % EVENT_BYTES:
        raise data_fail(name, f"byte {len(raw) - len(raw) % EVENT_BYTES}",
                        "whole 5-byte events (the file is truncated?)",
                        f"{len(raw)} bytes, {len(raw) % EVENT_BYTES} left over")
    a = np.frombuffer(raw, np.uint8).reshape(-1, EVENT_BYTES).astype(np.int64)
    ev = np.empty(len(a), EVENT_DTYPE)
    ev["x"], ev["y"], ev["p"] = a[:, 0], a[:, 1], a[:, 2] >> 7
    ev["t"] = ((a[:, 2] & 0x7F) << 16) | (a[:, 3] << 8) | a[:, 4]
    if len(ev):
        off = (ev["x"] >= SENSOR) | (ev["y"] >= SENSOR)
        if off.any():
            i = int(np.argmax(off))
            raise data_fail(name, f"event {i} (byte {EVENT_BYTES * i})",
                            f"coordinates on the {SENSOR}x{SENSOR} sensor (0..{SENSOR - 1})",
                            f"(x, y) = ({ev['x'][i]}, {ev['y'][i]}) (event coordinates up to "
                            f"({ev['x'].max()}, {ev['y'].max()}) exceed the sensor)")
        back = np.diff(ev["t"]) < 0
        if back.any():
            i = int(np.argmax(back)) + 1
            raise data_fail(name, f"event {i} (byte {EVENT_BYTES * i})",
                            "timestamps that never decrease",
                            f"{ev['t'][i]} us after {ev['t'][i - 1]} us")
    return ev


def as_events(ev: np.ndarray, name: str = "events") -> np.ndarray:
    """``ev`` as an array of :data:`EVENT_DTYPE`: tonic's layout is returned as it is, an
    array of the older layout (time named ``t_us``) or another integer layout with the
    fields ``x, y, p`` and ``t`` or ``t_us`` is converted (a copy).

    Raises :class:`ParameterError` naming ``name`` for anything else.
    """
    names = getattr(getattr(ev, "dtype", None), "names", None) or ()
    if getattr(ev, "dtype", None) == EVENT_DTYPE:
        return ev
    time = "t" if "t" in names else LEGACY_TIME_FIELD
    if not {"x", "y", "p", time} <= set(names):
        got = f"an array with the fields {names}" if names else type(ev).__name__
        raise fail(name, got, "a structured event array with the fields x, y, t, p "
                   "(spikewave.data.nmnist.EVENT_DTYPE, tonic's N-MNIST layout)")
    out = np.empty(len(ev), EVENT_DTYPE)
    for field, src in (("x", "x"), ("y", "y"), ("t", time), ("p", "p")):
        out[field] = ev[src]
    return out


def encode_events(ev: np.ndarray) -> bytes:
    """Inverse of :func:`decode_events` (for tests and tools)."""
    ev = as_events(ev)
    out = np.empty((len(ev), EVENT_BYTES), np.uint8)
    t = ev["t"].astype(np.int64)
    out[:, 0], out[:, 1] = ev["x"], ev["y"]
    out[:, 2] = (ev["p"].astype(np.int64) << 7) | ((t >> 16) & 0x7F)
    out[:, 3], out[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return out.tobytes()


def read_events(path: str | os.PathLike[str],
                max_bytes: int = MAX_RECORDING_BYTES) -> np.ndarray:
    """One N-MNIST recording (``.bin`` / ``.bs2``) from a file, size checked before reading."""
    cap = check_int("max_bytes", max_bytes, 1)
    p, fh = open_checked(path, "N-MNIST recording")
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if size > cap:
                raise DataError(f"{p}: {size:,} bytes, more than the limit of {cap:,} for one "
                                "recording (max_bytes); raise it if the file is genuine")
            raw = fh.read(cap + 1)
        except OSError as exc:
            raise DataError(f"{p}: cannot read N-MNIST recording: {exc.strerror or exc}") \
                from None
    return decode_events(raw, str(p))


def events_to_frames(ev: np.ndarray, time_steps: int, duration_us: int = 300_000) -> np.ndarray:
    """Bin events into ``[T, 2, 34, 34]`` spike counts (channel 0 OFF, 1 ON; ``[t, p, y, x]``).

    Event ``k`` goes to step ``floor(t_k T / D)`` for ``0 <= t_k < D`` (``D`` =
    ``duration_us``); later events are left out. When ``D`` is a multiple of ``T`` these are
    the frames of tonic's ``ToFrame(sensor_size=(34, 34, 2), time_window=D // T,
    start_time=0, end_time=D)``: windows ``[k D/T, (k+1) D/T)``, counts per polarity and
    pixel.
    """
    t = check_int("time_steps", time_steps, 1)
    d = check_int("duration_us", duration_us, 1)
    ev = as_events(ev)
    frames = np.zeros((t, 2, SENSOR, SENSOR), np.float32)
    keep = (ev["t"] >= 0) & (ev["t"] < d)
    e = ev[keep]
    if len(e) and (min(e["x"].min(), e["y"].min()) < 0
                   or max(e["x"].max(), e["y"].max()) >= SENSOR
                   or not np.isin(e["p"], (0, 1)).all()):
        raise fail("ev", "events off the sensor", f"coordinates in 0..{SENSOR - 1} and "
                   "polarities 0 or 1 (N-MNIST's 34x34 sensor)")
    b = (e["t"] * t // d).astype(np.int64)
    np.add.at(frames, (b, e["p"].astype(np.int64), e["y"].astype(np.int64),
                       e["x"].astype(np.int64)), 1.0)
    return frames


_ROW = re.compile(r"^\s*([+-]?\d+)\s+([+-]?\d+)\s*$")


def parse_listing(text_bytes: bytes, name: str) -> list[tuple[int, int]]:
    """Rows ``sample class`` of a SLAYER listing; lines starting with ``#`` are comments."""
    try:
        text = text_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise data_fail(name, f"byte {exc.start}", "UTF-8 text", "undecodable bytes") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ROW.match(line)
        if m is None:
            raise data_fail(name, f"line {number}", "two integers, '<sample> <class>'",
                            repr(line[:80]))
        sample, label = int(m.group(1)), int(m.group(2))
        if sample < 1:
            raise data_fail(name, f"line {number}", "a sample number >= 1", sample)
        if not 0 <= label < N_CLASSES:
            raise data_fail(name, f"line {number}", f"a class in 0..{N_CLASSES - 1}", label)
        rows.append((sample, label))
    if not rows:
        raise data_fail(name, "content", "at least one '<sample> <class>' row", "none")
    return rows


def _archive_members(p: Path, max_archive_bytes: int,
                     max_recording_bytes: int) -> dict[str, bytes | str]:
    """Every member of the archive's folder by name, read in one streamed pass: the bytes
    of a regular file, or a string saying what else it is (a link, a folder)."""
    _, fh = open_checked(p, "N-MNIST archive")
    members: dict[str, bytes | str] = {}
    with fh:
        try:
            gz = fh.read(2) == GZIP_MAGIC
            fh.seek(0)
            src = GzipStream(fh, str(p), max_archive_bytes) if gz else fh
            with tarfile.open(fileobj=src, mode="r|") as tf:
                total = 0
                for info in tf:
                    name = info.name.removeprefix("./")
                    if not name.startswith(FOLDER + "/"):
                        continue
                    short = name[len(FOLDER) + 1:]
                    if not info.isreg():
                        members[short] = "a folder" if info.isdir() else "a link or a device"
                        continue
                    limit = MAX_LISTING_BYTES if short.endswith(".txt") else max_recording_bytes
                    if info.size > limit:
                        raise DataError(f"{p}:{name}: {info.size:,} bytes, more than the limit "
                                        f"of {limit:,} for this member; raise max_bytes if the "
                                        "archive is genuine")
                    total += info.size
                    if total > max_archive_bytes:
                        raise DataError(f"{p}: more than {max_archive_bytes:,} bytes of "
                                        "members, the limit (max_archive_bytes)")
                    f = tf.extractfile(info)
                    data = f.read() if f is not None else b""
                    if len(data) != info.size:
                        raise data_fail(f"{p}:{name}", "member data", f"{info.size:,} bytes",
                                        f"{len(data):,} (the archive is truncated)")
                    members[short] = data
            if gz:  # to the end of the gzip stream: its CRC covers every member's data
                while src.read(1 << 20):
                    pass
        except DataError:
            raise
        except (tarfile.TarError, EOFError, OSError, UnicodeError, ValueError) as exc:
            raise DataError(f"{p}: not a readable tar archive of N-MNIST recordings "
                            f"({type(exc).__name__}: {exc})") from None
    return members


def load_slayer_archive(path: str | Path, time_steps: int = 30, verify: bool = True,
                        max_archive_bytes: int = MAX_ARCHIVE_BYTES,
                        max_recording_bytes: int = MAX_RECORDING_BYTES,
                        max_frames_bytes: int = MAX_FRAMES_BYTES):
    """The 1,000/100 N-MNIST recordings of ``nmnist_small_slayer.tar.gz`` as frames.

    Returns ``(x_train [N, T, 2, 34, 34], y_train, x_test, y_test)``. ``verify`` checks the
    archive against its known SHA-256 (pass False for a custom archive of the same layout:
    ``NMNISTsmall/<sample>.bs2`` plus the listings ``train1K.txt`` and ``test100.txt``).
    The ``max_*`` budgets bound the archive's decompressed size, each recording, and the
    frames returned; all are checked before the memory is spent.
    """
    t = check_int("time_steps", time_steps, 1)
    cap = check_int("max_archive_bytes", max_archive_bytes, 1)
    rec_cap = check_int("max_recording_bytes", max_recording_bytes, 1)
    p = Path(path)
    if not p.exists():
        raise ParameterError(f"N-MNIST archive not found: {p}")
    if verify:
        checksums.verify(p, "nmnist", ARCHIVE_NAME)
    members = _archive_members(p, cap, rec_cap)

    def member(short: str) -> bytes:
        data = members.get(short)
        if data is None:
            raise data_fail(p, f"member {FOLDER}/{short}", "a file in the archive", "none")
        if isinstance(data, str):
            raise data_fail(p, f"member {FOLDER}/{short}", "a regular file", data)
        return data

    frame_bytes = t * 2 * SENSOR * SENSOR * 4
    listed = {name: parse_listing(member(name), f"{p}:{FOLDER}/{name}") for name in LISTINGS}
    n_rows = sum(len(rows) for rows in listed.values())
    if n_rows * frame_bytes > max_frames_bytes:
        raise DataError(f"{p}: {n_rows:,} listed samples of {t} steps need "
                        f"{n_rows * frame_bytes:,} bytes of frames, more than the limit of "
                        f"{max_frames_bytes:,} (max_frames_bytes); use fewer time steps or "
                        "raise the limit")

    def split(listing: str):
        rows = listed[listing]
        xs = [events_to_frames(decode_events(member(f"{s}.bs2"), f"{p}:{FOLDER}/{s}.bs2"), t)
              for s, _ in rows]
        return np.stack(xs), np.asarray([lab for _, lab in rows], np.int64)

    x_tr, y_tr = split(LISTINGS[0])
    x_te, y_te = split(LISTINGS[1])
    return x_tr, y_tr, x_te, y_te
