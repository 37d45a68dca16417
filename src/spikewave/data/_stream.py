"""Bounded reading of raw and gzip files: the decompressed size never exceeds a cap.

``gzip.decompress`` inflates a whole file at once, so a small crafted file (a
"decompression bomb") can ask for gigabytes. Here decompression is streamed with
``zlib.decompressobj(...).decompress(data, max_length)``: the output is produced in pieces
and reading stops as soon as it would pass the cap, so memory stays bounded by the cap
whatever the file holds. Deflate cannot expand data more than about 1032 times, which
bounds what a file of a given size can honestly declare.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

from spikewave._validation import DataError, ParameterError, data_fail

GZIP_MAGIC = b"\x1f\x8b"
DEFLATE_MAX_RATIO = 1032  # the largest expansion deflate allows (RFC 1951: 258 bytes / 2 bits)
_CHUNK = 1 << 20


def open_checked(path: str | os.PathLike[str], what: str) -> tuple[Path, io.BufferedReader]:
    """Open ``path`` for reading; a missing file is a :class:`ParameterError`, any other
    problem (a folder, permissions) a :class:`DataError` naming the path."""
    p = Path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except FileNotFoundError:
        raise ParameterError(f"{what} not found: {p}") from None
    except OSError as exc:
        raise DataError(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    return p, fh


def max_gzip_output(compressed_bytes: int) -> int:
    """An upper bound of what ``compressed_bytes`` of gzip data can inflate to."""
    return DEFLATE_MAX_RATIO * compressed_bytes + 1024


class GzipStream(io.RawIOBase):
    """A read-only stream of the data inside a gzip file (one or more members, with the
    zero padding ``gzip`` tolerates), that raises :class:`DataError` once more than ``cap``
    bytes come out, on a corrupt or truncated stream (naming the compressed offset) and on
    trailing bytes that are not another gzip member."""

    def __init__(self, fh, name: str, cap: int) -> None:
        super().__init__()
        self._fh = fh
        self._name = name
        self._cap = cap
        self._out = 0
        self._d = zlib.decompressobj(31)
        self._pending = b""
        self._in_offset = 0  # compressed bytes read from the file so far
        self._done = False

    def readable(self) -> bool:
        return True

    @property
    def produced(self) -> int:
        """Decompressed bytes returned so far."""
        return self._out

    def _input(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        data = self._fh.read(_CHUNK)
        self._in_offset += len(data)
        return data

    def _next_member(self) -> bool:
        """After the end of a member: start the next one, or say that the file ended."""
        rest = self._d.unused_data
        while True:
            rest = rest.lstrip(b"\x00")
            if len(rest) >= 2:
                break
            more = self._input()
            if not more:
                if rest:
                    break
                return False
            rest += more
        if not rest.startswith(GZIP_MAGIC):
            raise data_fail(self._name, f"compressed offset {self._in_offset - len(rest)}",
                            "the end of the file or another gzip member",
                            f"{len(rest)} or more trailing bytes")
        self._pending = rest
        self._d = zlib.decompressobj(31)
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while piece := self.read(_CHUNK):
                chunks.append(piece)
            return b"".join(chunks)
        while not self._done:
            if self._d.eof:
                if not self._next_member():
                    self._done = True
                    break
                continue
            data = self._d.unconsumed_tail or self._input()
            if not data:
                raise data_fail(self._name, f"compressed offset {self._in_offset}",
                                "more gzip data", "the end of the file (it is truncated) after "
                                f"{self._out:,} decompressed bytes")
            limit = max(1, min(size, self._cap - self._out + 1))
            try:
                out = self._d.decompress(data, limit)
            except zlib.error as exc:
                raise data_fail(self._name, f"compressed offset near {self._in_offset}",
                                "a valid gzip stream", f"a corrupt one ({exc})") from None
            if out:
                self._out += len(out)
                if self._out > self._cap:
                    raise DataError(f"{self._name}: the decompressed data exceed {self._cap:,} "
                                    "bytes, the most this reader accepts here (the file is "
                                    "corrupt, or not the file it claims to be)")
                return out
        return b""

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def read_exactly(stream, n: int, name: str, what: str) -> bytes:
    """``n`` bytes from ``stream``, or a :class:`DataError` saying what was cut short."""
    parts, got = [], 0
    while got < n:
        piece = stream.read(n - got)
        if not piece:
            raise data_fail(name, what, f"{n:,} bytes", f"{got:,} (the file is truncated)")
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)
