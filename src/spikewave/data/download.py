"""``spikewave data download mnist|fashion``: fetch the IDX files on a machine with internet.

Each of the four gzip files is downloaded to a temporary file, checked against its
published checksum (:mod:`spikewave.data.checksums`; ``verify=False`` skips that for a
mirror of custom data) and by reading it as IDX (:func:`spikewave.data.idx.read_idx`:
header, length, gzip stream), then renamed into place with the usual file mode; a file
already present and valid is kept, an invalid one fetched again. Whatever fails, no
temporary file is left. Nothing here runs in the tests or the demo with the network: they
pass a ``file://`` base URL.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from spikewave._io import default_file_mode
from spikewave._validation import DataError, ParameterError, check_choice, fail
from spikewave.data import checksums
from spikewave.data.idx import read_idx
from spikewave.data.mnist import FILES, SUBFOLDERS

MIRRORS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
SCHEMES = ("http", "https", "file")


def check_base_url(base_url: str) -> str:
    """``base_url`` ending in ``/``, after checking it is an http(s) or file URL."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in SCHEMES or (parts.scheme != "file" and not parts.netloc):
        raise fail("base_url", base_url, "an http://, https:// or file:// URL of a folder "
                   "holding the four .gz files")
    return base_url if base_url.endswith("/") else base_url + "/"


def _valid(path: Path, kind: str, name: str, verify: bool) -> None:
    if verify:
        checksums.verify(path, kind, name)
    read_idx(path)


def download(kind: str, data_dir: str | os.PathLike[str] | None = None,
             base_url: str | None = None, timeout_s: float = 60.0,
             verify: bool = True) -> list[Path]:
    """Download ``kind``'s four files into ``data_dir/<subfolder>``; returns their paths."""
    check_choice("dataset", kind, SUBFOLDERS)
    base = check_base_url(base_url or MIRRORS[kind])
    root = Path(data_dir or os.environ.get("SPIKEWAVE_DATA") or "data")
    folder = root / SUBFOLDERS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FILES:
        target = folder / f"{name}.gz"
        if target.exists():
            try:
                _valid(target, kind, name, verify)
                paths.append(target)
                continue
            except (DataError, ParameterError):
                pass  # corrupt or another file: fetch again
        tmp = folder / f".{name}.{os.getpid()}.part"
        url = base + f"{name}.gz"
        try:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as src:
                shutil.copyfileobj(src, out)
                os.fchmod(out.fileno(), default_file_mode())
            _valid(tmp, kind, name, verify)
            os.replace(tmp, target)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if isinstance(exc, DataError):
                raise DataError(f"downloaded {url} is not valid: {exc}") from None
            raise ParameterError(f"could not download {url}: {exc}") from None
        finally:
            tmp.unlink(missing_ok=True)
        paths.append(target)
    return paths
