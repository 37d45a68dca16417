"""Figures of the STDP reproductions (Masquelier et al. 2008/2009, the STDP window)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spikewave.plot import new_figure, save_figure
from spikewave.plot.raster import raster


def _shade_patterns(ax, onsets_ms, start, stop, pattern_ms=50.0, scale=1.0):
    for on in onsets_ms[(onsets_ms + pattern_ms > start) & (onsets_ms < stop)]:
        ax.axvspan(max(on, start) / scale, min(on + pattern_ms, stop) / scale,
                   color="C1", alpha=0.2, lw=0)


def membrane_panels_figure(run: Any, windows, threshold: float, path: Path) -> Path:
    """The lecture's three panels: potential at the start, during and after learning."""
    fig, axes = new_figure(1, 3, width=13, height=3.6, sharey=True)
    titles = ("beginning", "during learning", "after learning")
    for ax, (a, b), title in zip(axes, windows, titles, strict=True):
        sel = (run.record_times_ms >= a) & (run.record_times_ms < b)
        t = run.record_times_ms[sel]
        ax.plot(t / 1000.0, run.recorded_u[sel, 0], lw=0.6, color="k")
        ax.axhline(threshold, color="C3", ls="--", lw=0.8)
        _shade_patterns(ax, run.onsets_ms, a, b, scale=1000.0)
        ax.set(xlabel="time (s)", title=f"{title} ({a / 1000:.1f}-{b / 1000:.1f} s)")
    axes[0].set_ylabel("potential u (a.u.)")
    return save_figure(fig, path)


def input_raster_figure(block: Any, start_ms: float, stop_ms: float, path: Path) -> Path:
    """Input raster with the pattern copies highlighted."""
    tr = block.trains
    lo, hi = np.searchsorted(tr.times_ms, [start_ms, stop_ms])
    fig, ax = new_figure(width=9, height=5)
    _shade_patterns(ax, block.pattern_onsets_ms, start_ms, stop_ms)
    raster(tr.times_ms[lo:hi], tr.afferents[lo:hi], ax, marker_size=2.0,
           highlight=block.is_pattern_spike[lo:hi], color="0.55")
    ax.set(ylabel="afferent", title="input: pattern copies in red (afferents "
           f"0-{block.n_pattern - 1} take part), pattern periods shaded")
    return save_figure(fig, path)


def weights_vs_latency_figure(run: Any, block: Any, path: Path) -> Path:
    """Final weights against each afferent's first spike time in the pattern (bimodal)."""
    n_pat = block.n_pattern
    first = np.full(n_pat, np.nan)
    order = np.argsort(block.pattern_times_ms)
    for t, a in zip(block.pattern_times_ms[order], block.pattern_afferents[order], strict=True):
        if np.isnan(first[a]):
            first[a] = t
    w = run.final_weights
    fig, (ax, ax_h) = new_figure(1, 2, width=11, height=4)
    has = ~np.isnan(first)
    ax.plot(first[has], w[:n_pat][has], "o", ms=3, label="pattern afferents")
    ax.set(xlabel="afferent's first spike in the pattern (ms)", ylabel="final weight",
           title="weights after learning")
    lat = run.evaluation.latency_ms
    if np.isfinite(lat):
        ax.axvline(lat, color="C3", ls="--", lw=0.8, label=f"output latency {lat:.1f} ms")
    ax.legend(frameon=False)
    bins = np.linspace(0, 1, 41)
    ax_h.hist(w[:n_pat], bins, alpha=0.7, label="pattern afferents")
    ax_h.hist(w[n_pat:], bins, alpha=0.7, label="other afferents")
    ax_h.set(xlabel="final weight", ylabel="count", yscale="log", title="bimodal distribution")
    ax_h.legend(frameon=False)
    return save_figure(fig, path)


def latency_over_time_figure(run: Any, path: Path) -> Path:
    """Output-spike latency after pattern onset against time (false alarms at the bottom)."""
    from spikewave.sim.analysis import spike_latencies_ms

    lat = spike_latencies_ms(run.spike_times_ms, run.onsets_ms)
    t = run.spike_times_ms / 1000.0
    fig, ax = new_figure(width=9, height=4)
    fa = np.isnan(lat)
    ax.plot(t[~fa], lat[~fa], ".", ms=2, label="in a pattern")
    ax.plot(t[fa], np.full(fa.sum(), -2.0), "|", color="C3", ms=4, label="false alarm")
    ev = run.evaluation
    if np.isfinite(ev.time_to_find_s):
        ax.axvline(ev.time_to_find_s, color="k", ls=":", lw=0.8,
                   label=f"pattern found at {ev.time_to_find_s:.1f} s")
    ax.set(xscale="symlog", xlabel="time (s)", ylabel="latency (ms)", ylim=(-4, 52),
           title="postsynaptic latency over time")
    ax.legend(frameon=False, loc="upper right")
    return save_figure(fig, path)


def masquelier_figures(run: Any, windows, out_dir: Path) -> list[Path]:
    block = run.input_block
    out = Path(out_dir)
    first_on = block.pattern_onsets_ms[0]
    start = max(0.0, first_on - 100.0)
    return [
        membrane_panels_figure(run, windows, 0.5 * block.n_pattern, out / "potential.png"),
        input_raster_figure(block, start, start + 300.0, out / "input_raster.png"),
        weights_vs_latency_figure(run, block, out / "weights_vs_latency.png"),
        latency_over_time_figure(run, out / "latency_over_time.png"),
    ]


def sweep_figure(name: str, values, rates, paper, runs: int, path: Path) -> Path:
    """Success rate against a swept parameter, beside the original code's."""
    fig, ax = new_figure(width=6, height=4)
    ax.plot(values, np.asarray(rates) * 100.0, "o-", label=f"spikewave ({runs} seeds each)")
    ax.plot(values, paper, "s--", color="C2", label="original code (REFERENCES 1.6)")
    ax.set(xlabel=name, ylabel="successful runs (%)", ylim=(-5, 105),
           title=f"robustness: {name}")
    ax.legend(frameon=False)
    return save_figure(fig, path)


def stdp_window_figure(dts, dw, fit_plus, fit_minus, path: Path) -> Path:
    """Weight change per pairing against the spike-time difference, with exponential fits."""
    fig, ax = new_figure(width=6.5, height=4)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(dts, dw, "o", ms=3, color="k", label="rule, 60 pairings at 1 Hz")
    for (amp, tau), side, color in ((fit_plus, dts >= 0, "C3"), (fit_minus, dts < 0, "C0")):
        d = np.linspace(dts[side].min(), dts[side].max(), 200)
        ax.plot(d, amp * np.exp(-np.abs(d) / tau), color=color,
                label=f"fit: {amp:+.4f} exp(-|dt| / {tau:.1f} ms)")
    ax.set(xlabel="t_post - t_pre (ms)", ylabel="weight change per pairing",
           title="STDP window (Bi & Poo)")
    ax.legend(frameon=False, fontsize=8)
    return save_figure(fig, path)


def competition_figure(run: Any, onsets_ms, pattern_ids, record_times_ms, n_neurons: int,
                       threshold: float, path: Path) -> Path:
    """Competitive learning: each neuron's latency over time, and the potentials at the end."""
    from spikewave.sim.analysis import spike_latencies_ms

    fig, (ax_l, ax_u) = new_figure(2, 1, width=10, height=6.5)
    for k in range(n_neurons):
        s = run.spike_times_ms[run.spike_neurons == k]
        lat = spike_latencies_ms(s, onsets_ms)
        ax_l.plot(s / 1000.0, lat, ".", ms=2, color=f"C{k % 10}", label=f"neuron {k}")
    ax_l.set(xscale="symlog", xlabel="time (s)", ylabel="latency in pattern (ms)",
             ylim=(-2, 52), title="each neuron's latency after pattern onset")
    ax_l.legend(frameon=False, markerscale=4, ncol=min(n_neurons, 5), fontsize=8)
    a, b = record_times_ms[0], record_times_ms[-1]
    _shade_patterns(ax_u, onsets_ms, a, b)
    for k in range(n_neurons):
        ax_u.plot(record_times_ms, run.recorded_u[:, k], lw=0.7, color=f"C{k % 10}")
    ax_u.axhline(threshold, color="k", ls="--", lw=0.7)
    ax_u.set(xlabel="time (ms)", ylabel="potential (a.u.)",
             title="successive firing within pattern presentations (end of the run)")
    return save_figure(fig, path)
