"""``spikewave data download mnist|fashion``: fetch the IDX files on a machine with internet.

Each of the four gzip files is downloaded to a temporary file, checked by reading it as IDX
(:func:`spikewave.data.idx.read_idx`: magic number, header and length), then renamed into
place; a file already present and valid is kept. Nothing here runs in the tests or the demo
with the network: they pass a ``file://`` base URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from spikewave._validation import ParameterError, check_choice
from spikewave.data.idx import read_idx
from spikewave.data.mnist import FILES, SUBFOLDERS

MIRRORS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


def download(kind: str, data_dir: str | os.PathLike[str] | None = None,
             base_url: str | None = None, timeout_s: float = 60.0) -> list[Path]:
    """Download ``kind``'s four files into ``data_dir/<subfolder>``; returns their paths."""
    check_choice("dataset", kind, SUBFOLDERS)
    root = Path(data_dir or os.environ.get("SPIKEWAVE_DATA") or "data")
    folder = root / SUBFOLDERS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    base = base_url or MIRRORS[kind]
    if not base.endswith("/"):
        base += "/"
    paths = []
    for name in FILES:
        target = folder / f"{name}.gz"
        if target.exists():
            try:
                read_idx(target)
                paths.append(target)
                continue
            except ParameterError:
                pass  # corrupt: fetch again
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, \
                    urllib.request.urlopen(base + f"{name}.gz", timeout=timeout_s) as src:
                shutil.copyfileobj(src, out)
            read_idx(tmp)
            os.replace(tmp, target)
        except (urllib.error.URLError, OSError) as exc:
            Path(tmp).unlink(missing_ok=True)
            raise ParameterError(f"could not download {base}{name}.gz: {exc}") from None
        except ParameterError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise ParameterError(f"downloaded {name}.gz is not a valid IDX file ({exc})") from None
        paths.append(target)
    return paths
