"""The full N-MNIST in its original layout: ``Train/`` and ``Test/`` folders holding one
folder per digit (``0`` .. ``9``) of ``.bin`` recordings, or the original archives
``Train.zip`` and ``Test.zip`` that hold those folders (Orchard et al. 2015; 60,000 and
10,000 recordings).

:class:`NMNISTDataset` indexes the recordings once and reads each one when it is asked for,
so the 70,000 recordings never sit in memory together. Items are ``(events, label)`` with
the events in tonic's layout (:data:`spikewave.data.nmnist.EVENT_DTYPE`); a ``transform``
(for example ``tonic.transforms.ToFrame``) is applied to the events, as tonic's datasets do.

Reading is bounded like the other readers: each recording at most ``max_recording_bytes``
(checked from the folder's file size or the archive's declared size before it is read, and
again while reading), at most ``max_files`` recordings, and only regular files; an
archive's central directory (which zipfile reads whole, making an object per entry) is
bounded by ``max_files`` before zipfile reads it. An
archive's member names are checked before anything is read: an absolute name, a ``..``
component, a backslash or a NUL byte (a member that would escape the folder if extracted)
refuses the archive; so do encrypted members, compression other than stored or deflate,
and declared sizes that deflate cannot produce from the compressed size (a zip bomb's
signature). Members are never extracted to disk.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spikewave._validation import DataError, ParameterError, check_int, data_fail, fail
from spikewave.data._stream import DEFLATE_MAX_RATIO
from spikewave.data.nmnist import (
    MAX_FRAMES_BYTES,
    MAX_RECORDING_BYTES,
    N_CLASSES,
    SENSOR,
    decode_events,
    events_to_frames,
    read_events,
)

SPLITS = {"train": "Train", "test": "Test"}
MAX_FILES = 200_000  # N-MNIST holds 60,000 + 10,000 recordings
ZIP_MAGIC = b"PK\x03\x04"
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class NMNISTDataset:
    """N-MNIST recordings of one split as a map-style dataset of ``(events, label)``.

    ``path`` is one of: a folder holding ``Train/`` and ``Test/`` (or ``Train.zip`` and
    ``Test.zip``, names matched without regard to case), a split's own folder (holding
    ``0/`` .. ``9/``), or a zip archive holding ``<Split>/<digit>/<name>.bin`` members
    (possibly under one more leading folder). ``split`` is ``"train"`` or ``"test"``.
    Recordings are ordered by digit, then by file name (the order of tonic's ``NMNIST``).

    Works with :class:`torch.utils.data.DataLoader` (also with worker processes: an archive
    is opened again in each process) and with :func:`spikewave.train.fit`.
    """

    def __init__(self, path: str | os.PathLike[str], split: str = "train",
                 transform: Callable[[np.ndarray], object] | None = None,
                 max_recording_bytes: int = MAX_RECORDING_BYTES,
                 max_files: int = MAX_FILES) -> None:
        if split not in SPLITS:
            raise fail("split", split, "'train' or 'test'", "NMNISTDataset")
        if transform is not None and not callable(transform):
            raise fail("transform", transform, "a callable applied to the events, or None",
                       "NMNISTDataset")
        self.split = split
        self.transform = transform
        self.max_recording_bytes = check_int("max_recording_bytes", max_recording_bytes, 1)
        self.max_files = check_int("max_files", max_files, 1)
        self.source, self.is_zip = _locate(Path(path), SPLITS[split])
        if self.is_zip:
            self._names, labels = _zip_index(self.source, SPLITS[split],
                                             self.max_recording_bytes, self.max_files)
        else:
            self._names, labels = _folder_index(self.source, self.max_files)
        self.labels = np.asarray(labels, np.int64)
        self._zip: zipfile.ZipFile | None = None
        self._zip_file: _CappedReads | None = None
        self._zip_pid = -1

    def __len__(self) -> int:
        return len(self._names)

    def __getitem__(self, index: int) -> tuple[object, int]:
        n = len(self._names)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not -n <= index < n:
            raise IndexError(f"index {index!r} out of range for {n} N-MNIST recordings")
        i = int(index) % n
        ev = self.events(i)
        return (ev if self.transform is None else self.transform(ev)), int(self.labels[i])

    def events(self, index: int) -> np.ndarray:
        """The events of recording ``index`` (no transform)."""
        name = self._names[index]
        if not self.is_zip:
            return read_events(self.source / name, self.max_recording_bytes)
        return decode_events(self._read_member(name), f"{self.source}:{name}")

    def frames(self, time_steps: int, duration_us: int = 300_000,
               max_frames_bytes: int = MAX_FRAMES_BYTES) -> tuple[np.ndarray, np.ndarray]:
        """Every recording binned by :func:`~spikewave.data.nmnist.events_to_frames`:
        ``(x [N, T, 2, 34, 34] float32, y [N])``, the memory checked against
        ``max_frames_bytes`` before it is spent."""
        t = check_int("time_steps", time_steps, 1)
        need = len(self) * t * 2 * SENSOR * SENSOR * 4
        if need > max_frames_bytes:
            raise DataError(f"{self.source}: {len(self):,} recordings of {t} steps need "
                            f"{need:,} bytes of frames, more than the limit of "
                            f"{max_frames_bytes:,} (max_frames_bytes); use fewer time steps, "
                            "raise the limit, or train on the dataset itself")
        x = np.empty((len(self), t, 2, SENSOR, SENSOR), np.float32)
        for i in range(len(self)):
            x[i] = events_to_frames(self.events(i), t, duration_us)
        return x, self.labels.copy()

    def _read_member(self, name: str) -> bytes:
        if self._zip is None or self._zip_pid != os.getpid():
            self.close()  # in a forked worker: its copy of the parent's file, not shared
            self._zip, self._zip_file = _open_zip(self.source, self.max_files)
            self._zip_pid = os.getpid()
        where = f"{self.source}:{name}"
        try:
            info = self._zip.getinfo(name)
            _check_member(info, where, self.max_recording_bytes)
            with self._zip.open(info) as fh:
                raw = fh.read(self.max_recording_bytes + 1)
        except DataError:
            raise
        except KeyError:
            raise data_fail(where, "member", "a member of the archive (it changed since it "
                            "was indexed)", "none") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
                RuntimeError, ValueError) as exc:
            raise DataError(f"{where}: cannot read the recording ({type(exc).__name__}: "
                            f"{exc})") from None
        if len(raw) > self.max_recording_bytes:
            raise DataError(f"{where}: more than {self.max_recording_bytes:,} bytes, the limit "
                            "for one recording (max_recording_bytes)")
        if len(raw) != info.file_size or zlib.crc32(raw) != info.CRC:
            # zipfile checks the CRC only where the compressed stream ends with the data
            raise data_fail(where, "member data", f"{info.file_size:,} bytes with the CRC-32 "
                            f"{info.CRC:08x}", f"{len(raw):,} bytes with {zlib.crc32(raw):08x}")
        return raw

    def close(self) -> None:
        """Close the archive, if one is open (it is opened again when needed)."""
        if self._zip is not None:
            self._zip.close()
            self._zip_file.close()
            self._zip = self._zip_file = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_zip"] = state["_zip_file"] = None  # reopened in the receiving process
        state["_zip_pid"] = -1
        return state

    def __del__(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self.close()


def _child(folder: Path, name: str) -> Path | None:
    """``folder``'s entry called ``name``, matched without regard to case."""
    if (folder / name).exists():
        return folder / name
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries]
    except OSError:
        return None
    return next((folder / n for n in names if n.lower() == name.lower()), None)


def _locate(p: Path, folder: str) -> tuple[Path, bool]:
    """The split's folder or archive under ``p``; ``(path, is_zip)``."""
    if not p.exists():
        raise ParameterError(f"N-MNIST data not found: {p}")
    if p.is_file():
        return p, True
    if not p.is_dir():
        raise DataError(f"{p}: not a folder or a file (N-MNIST data)")
    if all((p / str(d)).is_dir() for d in range(N_CLASSES)):
        return p, False
    sub = _child(p, folder)
    if sub is not None and sub.is_dir():
        return sub, False
    archive = _child(p, folder + ".zip")
    if archive is not None and archive.is_file():
        return archive, True
    raise ParameterError(f"N-MNIST data not found in {p}: expected a folder {folder}/ (with "
                         f"the folders 0 .. 9 of .bin files) or the archive {folder}.zip")


def _folder_index(root: Path, max_files: int) -> tuple[list[str], list[int]]:
    names: list[str] = []
    labels: list[int] = []
    for digit in range(N_CLASSES):
        sub = root / str(digit)
        if not sub.is_dir():
            raise data_fail(root, f"folder {digit}/", "a folder of .bin recordings per digit "
                            "0 .. 9", "none")
        try:
            with os.scandir(sub) as it:
                entries = sorted(e.name for e in it
                                 if e.name.endswith(".bin") and not e.name.startswith("."))
        except OSError as exc:
            raise DataError(f"{sub}: cannot list the N-MNIST folder: "
                            f"{exc.strerror or exc}") from None
        for name in entries:
            if not (sub / name).is_file():  # follows links; refuses FIFOs, devices, folders
                raise data_fail(sub / name, "file type", "a regular file", "something else")
            names.append(f"{digit}/{name}")
            labels.append(digit)
            if len(names) > max_files:
                raise DataError(f"{root}: more than {max_files:,} recordings, the limit "
                                "(max_files)")
    if not names:
        raise data_fail(root, "folders 0 .. 9", "at least one .bin recording", "none")
    return names, labels


def _member_budget(max_files: int) -> int:
    """The most members an archive of ``max_files`` recordings may hold (its folders and
    notes included)."""
    return 2 * max_files + 100


class _CappedReads:
    """``fh`` whose single reads may not exceed ``cap`` bytes while ``cap`` is set: zipfile
    reads an archive's central directory in one read of the size the archive declares, then
    builds an object per entry, so the cap bounds both before the work is done."""

    def __init__(self, fh, cap: int, path: Path) -> None:
        self.fh, self.cap, self.path = fh, cap, path
        self.size = os.fstat(fh.fileno()).st_size

    def read(self, n: int | None = -1) -> bytes:
        if self.cap is not None:
            want = self.size - self.fh.tell() if n is None or n < 0 else n
            if want > self.cap:
                raise DataError(f"{self.path}: a central directory of {want:,} bytes, more "
                                f"than the {self.cap:,} that the limit of recordings allows "
                                "(max_files); raise it if the archive is genuine")
        return self.fh.read(n)

    def seek(self, *args) -> int:
        return self.fh.seek(*args)

    def tell(self) -> int:
        return self.fh.tell()

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self.fh.close()


def _open_zip(path: Path, max_files: int) -> tuple[zipfile.ZipFile, _CappedReads]:
    """The archive, and the file under it (zipfile leaves a file it was given open)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise DataError(f"{path}: cannot read N-MNIST archive: {exc.strerror or exc}") \
            from None
    try:
        head = fh.read(4)
        if head != ZIP_MAGIC:
            raise data_fail(path, "byte 0", "a zip archive (Train.zip / Test.zip)",
                            f"the bytes {head!r}")
        capped = _CappedReads(fh, max(_member_budget(max_files) * 512, 1 << 17), path)
        zf = zipfile.ZipFile(capped)
        capped.cap = None  # the members' own reads are bounded per recording
        return zf, capped
    except DataError:
        fh.close()
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError) as exc:
        fh.close()
        raise DataError(f"{path}: not a readable zip archive of N-MNIST recordings "
                        f"({type(exc).__name__}: {exc})") from None


def _unsafe_name(name: str) -> bool:
    parts = name.split("/")
    return (name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts
            or (len(name) > 1 and name[1] == ":"))


def _check_member(info: zipfile.ZipInfo, where: str, cap: int) -> None:
    if info.flag_bits & 0x1:
        raise data_fail(where, "flags", "an unencrypted member", "an encrypted one")
    if info.compress_type not in _ZIP_METHODS:
        raise data_fail(where, "compression method", "stored (0) or deflate (8)",
                        info.compress_type)
    if info.file_size > cap:
        raise DataError(f"{where}: {info.file_size:,} bytes, more than the limit of {cap:,} "
                        "for one recording (max_recording_bytes); raise it if the archive is "
                        "genuine")
    most = info.compress_size if info.compress_type == zipfile.ZIP_STORED else \
        DEFLATE_MAX_RATIO * info.compress_size + 1024
    if info.file_size > most:
        raise data_fail(where, "declared size", f"at most {most:,} bytes from "
                        f"{info.compress_size:,} compressed", f"{info.file_size:,}")


def _zip_index(path: Path, folder: str, cap: int,
               max_files: int) -> tuple[list[str], list[int]]:
    zf, fh = _open_zip(path, max_files)
    infos = zf.infolist()
    zf.close()
    fh.close()
    if len(infos) > _member_budget(max_files):
        raise DataError(f"{path}: {len(infos):,} members, more than the "
                        f"{_member_budget(max_files):,} that the limit of {max_files:,} "
                        "recordings allows (max_files)")
    found: list[tuple[int, str, str]] = []
    for info in infos:
        name = info.filename
        if _unsafe_name(name):
            raise data_fail(f"{path}:{name!r}", "member name", "a relative name inside the "
                            "archive (no '/' at the start, no '..', no '\\\\', no NUL)",
                            "a name that would escape the folder it is extracted to")
        parts = name.split("/")
        if (len(parts) < 3 or len(parts) > 4 or parts[-3].lower() != folder.lower()
                or parts[-1].startswith(".") or not parts[-1].endswith(".bin")
                or parts[-2] not in {str(d) for d in range(N_CLASSES)}):
            continue
        if info.is_dir():
            raise data_fail(f"{path}:{name}", "member", "a regular file", "a folder")
        _check_member(info, f"{path}:{name}", cap)
        found.append((int(parts[-2]), parts[-1], name))
        if len(found) > max_files:
            raise DataError(f"{path}: more than {max_files:,} recordings, the limit "
                            "(max_files)")
    if not found:
        raise data_fail(path, "members", f"{folder}/<digit>/<name>.bin recordings", "none")
    found.sort()
    if len({name for *_, name in found}) != len(found):
        raise data_fail(path, "members", "each recording once", "a repeated member name")
    return [name for *_, name in found], [digit for digit, *_ in found]
