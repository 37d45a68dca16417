"""MNIST and Fashion-MNIST from local IDX files, verified and validated.

The folder is ``data_dir``, else the ``SPIKEWAVE_DATA`` environment variable (with a
``mnist/`` or ``fashion-mnist/`` subfolder, or the files directly in it). No download
happens here. Each file is checked against its published checksum (``verify=False`` skips
that, for custom data in the same format), then read with the budgets of
:func:`~spikewave.data.idx.read_idx`, then validated: images ``uint8 [N, 28, 28]``, labels
``uint8 [N]`` in 0..9, as many labels as images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikewave._validation import ParameterError, check_choice, data_fail
from spikewave.data import checksums
from spikewave.data.digits import Split
from spikewave.data.idx import read_idx

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")
SUBFOLDERS = {"mnist": "mnist", "fashion": "fashion-mnist"}
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


def find_files(kind: str, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    """The four IDX files of ``kind``; a clear error says where they were looked for."""
    check_choice("dataset", kind, SUBFOLDERS)
    base = data_dir or os.environ.get("SPIKEWAVE_DATA")
    if base is None:
        raise ParameterError(f"no folder for {kind}: give --data-dir or set SPIKEWAVE_DATA to "
                             f"a folder holding {', '.join(f + '.gz' for f in FILES)}")
    tried = [Path(base) / SUBFOLDERS[kind], Path(base)]
    for folder in tried:
        found = []
        for name in FILES:
            cands = [folder / (name + ".gz"), folder / name]
            hit = next((c for c in cands if c.is_file()), None)
            if hit is None:
                break
            found.append(hit)
        if len(found) == len(FILES):
            return found
    raise ParameterError(f"{kind} files not found in {' or '.join(map(str, tried))}: expected "
                         f"{', '.join(f + '[.gz]' for f in FILES)}")


def _check_images(x: np.ndarray, path: Path) -> None:
    if x.dtype != np.uint8:
        raise data_fail(path, "header byte 2 (type)", "unsigned bytes (0x08) for pixels",
                        f"{x.dtype}")
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise data_fail(path, "header (dimensions)", "images of [N, 28, 28]",
                        f"dimensions {x.shape}")


def _check_labels(y: np.ndarray, path: Path, n_images: int, images: Path) -> None:
    if y.dtype != np.uint8:
        raise data_fail(path, "header byte 2 (type)", "unsigned bytes (0x08) for labels",
                        f"{y.dtype}")
    if y.ndim != 1:
        raise data_fail(path, "header (dimensions)", "one dimension [N]", f"{y.shape}")
    if len(y) != n_images:
        raise data_fail(path, "header (dimensions)", f"{n_images} labels, one per image of "
                        f"{images.name} (the files disagree)", len(y))
    if y.size and y.max() >= N_CLASSES:
        i = int(np.argmax(y >= N_CLASSES))
        raise data_fail(path, f"label {i} (byte {8 + i})", f"a class in 0..{N_CLASSES - 1}",
                        int(y[i]))


def load_mnist(kind: str = "mnist", data_dir: str | os.PathLike[str] | None = None,
               verify: bool = True) -> Split:
    """Images as float32 in [0, 1] ``[N, 28, 28]``, labels int64; 60,000 train, 10,000 test.

    ``verify`` checks each file against the published checksum of ``kind``'s file (a
    swapped, truncated or corrupted file is named); pass False for custom data in the same
    format.
    """
    paths = find_files(kind, data_dir)
    if verify:
        for path, name in zip(paths, FILES, strict=True):
            checksums.verify(path, kind, name)
    x_tr, y_tr, x_te, y_te = (read_idx(p) for p in paths)
    for x, y, px, py in ((x_tr, y_tr, paths[0], paths[1]), (x_te, y_te, paths[2], paths[3])):
        _check_images(x, px)
        _check_labels(y, py, len(x), px)
    return Split((x_tr / 255.0).astype(np.float32), y_tr.astype(np.int64),
                 (x_te / 255.0).astype(np.float32), y_te.astype(np.int64), N_CLASSES)
