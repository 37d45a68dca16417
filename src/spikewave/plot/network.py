"""Figures of recurrent networks; each function saves one PNG and returns its path.

- :func:`network_activity_figure` -- raster over population rate (and, when given, the
  distribution of ISI CVs beside them);
- :func:`regimes_figure` -- one column per dynamical regime: raster of a few neurons,
  population rate, and the rate's power spectrum.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spikewave.plot import new_figure, save_figure


def network_activity_figure(spike_times_ms, spike_neurons, rate_t_ms, rate_hz, title: str,
                            path: Path, cv=None, reference_cv: float | None = None,
                            n_shown: int | None = None) -> Path:
    """Raster (neurons below ``n_shown``) above the population rate; ISI CVs on the right."""
    t = np.asarray(spike_times_ms)
    k = np.asarray(spike_neurons)
    if n_shown is not None:
        keep = k < n_shown
        t, k = t[keep], k[keep]
    with_cv = cv is not None
    fig, axes = new_figure(2, 2 if with_cv else 1, width=11 if with_cv else 8, height=5.5,
                           gridspec_kw={"height_ratios": [3, 1],
                                        **({"width_ratios": [3, 1]} if with_cv else {})})
    axes = np.atleast_2d(axes)
    if not with_cv:
        axes = axes.T
    ax_r, ax_p = axes[0, 0], axes[1, 0]
    ax_r.plot(t, k, ",k", rasterized=True)
    ax_r.set(ylabel="neuron", title=title, xlim=(rate_t_ms[0], rate_t_ms[-1]))
    ax_p.plot(rate_t_ms, rate_hz, lw=0.7)
    ax_p.set(xlabel="time (ms)", ylabel="rate (Hz)", xlim=(rate_t_ms[0], rate_t_ms[-1]))
    if with_cv:
        values = np.asarray(cv)
        values = values[np.isfinite(values)]
        axes[0, 1].hist(values, bins=40, color="0.4")
        if reference_cv is not None:
            axes[0, 1].axvline(reference_cv, color="C3", ls="--", lw=1, label="Brian2 mean")
            axes[0, 1].legend(frameon=False, fontsize=8)
        axes[0, 1].set(xlabel="CV of ISI", ylabel="neurons", title="irregularity")
        axes[1, 1].axis("off")
    return save_figure(fig, path)


def regimes_figure(panels: Sequence[dict], path: Path) -> Path:
    """One column per regime. Each panel: ``name``, ``title``, ``spike_times_ms``,
    ``spike_neurons`` (already restricted to the neurons shown), ``rate_t_ms``,
    ``rate_hz``, ``window_ms`` (the stretch shown), ``freqs_hz``, ``psd``,
    ``dominant_hz``."""
    cols = len(panels)
    fig, axes = new_figure(3, cols, width=3.6 * cols, height=7.5,
                           gridspec_kw={"height_ratios": [3, 1.3, 1.3]})
    axes = np.asarray(axes).reshape(3, cols)
    for c, panel in enumerate(panels):
        lo, hi = panel["window_ms"]
        t = np.asarray(panel["spike_times_ms"])
        k = np.asarray(panel["spike_neurons"])
        shown = (t >= lo) & (t < hi)
        ax = axes[0, c]
        ax.plot(t[shown], k[shown], "|", ms=3, color="k")
        ax.set(title=panel["title"], xlim=(lo, hi), yticks=[])
        if c == 0:
            ax.set_ylabel("neurons")
        rt = np.asarray(panel["rate_t_ms"])
        sel = (rt >= lo) & (rt < hi)
        axes[1, c].plot(rt[sel], np.asarray(panel["rate_hz"])[sel], lw=0.6)
        axes[1, c].set(xlim=(lo, hi), xlabel="time (ms)")
        if c == 0:
            axes[1, c].set_ylabel("population rate (Hz)")
        f, p = np.asarray(panel["freqs_hz"]), np.asarray(panel["psd"])
        band = (f > 0) & (f <= 1000)
        axes[2, c].semilogy(f[band], np.maximum(p[band], 1e-12), lw=0.8)
        axes[2, c].axvline(panel["dominant_hz"], color="C3", ls="--", lw=0.8)
        axes[2, c].set(xlabel="frequency (Hz)")
        if c == 0:
            axes[2, c].set_ylabel("power spectrum")
    return save_figure(fig, path)
