"""Figures (matplotlib, Agg backend): one function per figure kind, each returning a Figure.

:func:`save_figure` writes a PNG atomically and closes the figure.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from spikewave._io import atomic_write_bytes  # noqa: E402


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 6.4, height: float = 4.0,
               **kwargs):
    """A figure and its axes, with the house style."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained",
                             **kwargs)
    return fig, axes


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Save ``fig`` as PNG at ``path`` (atomically) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


__all__ = ["new_figure", "save_figure"]
