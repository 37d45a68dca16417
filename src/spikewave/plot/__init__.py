"""Figures (matplotlib, Agg backend): one function per figure kind.

:func:`save_figure` writes a PNG atomically and closes the figure. Each figure carries its
caption inside the PNG (the standard ``Description`` text chunk), so that the HTML report
and the documentation show a descriptive caption and alt text without a separate table;
:func:`figure_caption` reads it back.
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


def _titles_caption(fig: Figure) -> str:
    titles = [t for t in [fig.get_suptitle(), *(ax.get_title() for ax in fig.axes)] if t]
    return "; ".join(dict.fromkeys(titles))


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110,
                caption: str | None = None) -> Path:
    """Save ``fig`` as PNG at ``path`` (atomically) and close it.

    ``caption`` (one or two sentences: what is plotted, in which units, what to look for) is
    stored in the PNG's ``Description`` chunk; by default it is made of the axes' titles.
    """
    text = caption if caption is not None else _titles_caption(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Description": text, "Software":
                                                      "spikewave"})
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def figure_caption(path: str | os.PathLike[str]) -> str:
    """The caption stored in a PNG by :func:`save_figure` ('' if it has none)."""
    from PIL import Image

    with Image.open(path) as img:
        return str(getattr(img, "text", {}).get("Description", ""))


__all__ = ["figure_caption", "new_figure", "save_figure"]
