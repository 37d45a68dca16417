"""MNIST and Fashion-MNIST from local IDX files.

The folder is ``data_dir``, else the ``SPIKEWAVE_DATA`` environment variable (with a
``mnist/`` or ``fashion-mnist/`` subfolder, or the files directly in it). No download
happens here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from spikewave._validation import ParameterError, check_choice
from spikewave.data.digits import Split
from spikewave.data.idx import read_idx

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")
SUBFOLDERS = {"mnist": "mnist", "fashion": "fashion-mnist"}


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
            hit = next((c for c in cands if c.exists()), None)
            if hit is None:
                break
            found.append(hit)
        if len(found) == len(FILES):
            return found
    raise ParameterError(f"{kind} files not found in {' or '.join(map(str, tried))}: expected "
                         f"{', '.join(f + '[.gz]' for f in FILES)}")


def load_mnist(kind: str = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Split:
    """Images as float32 in [0, 1] ``[N, 28, 28]``, labels int64; 60,000 train, 10,000 test."""
    paths = find_files(kind, data_dir)
    x_tr, y_tr, x_te, y_te = (read_idx(p) for p in paths)
    for x, y, name in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ParameterError(f"{kind} {name} files disagree: images {x.shape}, "
                                 f"labels {y.shape}")
        if y.size and y.max() > 9:
            raise ParameterError(f"{kind} {name} labels go up to {y.max()}, expected 0..9")
    return Split((x_tr / 255.0).astype(np.float32), y_tr.astype(np.int64),
                 (x_te / 255.0).astype(np.float32), y_te.astype(np.int64), 10)
