"""Figures of the STDP reproductions (Masquelier et al. 2008/2009, the STDP window)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.patches import Patch

from spikewave.plot import new_figure, save_figure
from spikewave.plot.raster import raster

PATTERN_COLOR = "C1"


def _shade_patterns(ax, onsets_ms, start, stop, pattern_ms=50.0, scale=1.0):
    for on in onsets_ms[(onsets_ms + pattern_ms > start) & (onsets_ms < stop)]:
        ax.axvspan(max(on, start) / scale, min(on + pattern_ms, stop) / scale,
                   color=PATTERN_COLOR, alpha=0.2, lw=0)


def _pattern_patch(pattern_ms: float = 50.0) -> Patch:
    """The legend entry of the shaded pattern periods."""
    return Patch(color=PATTERN_COLOR, alpha=0.2, lw=0,
                 label=f"pattern presented ({pattern_ms:g} ms)")


def _time_axis_log(ax, times_s, duration_s=None) -> None:
    """Time on a log axis from the first spike on: the search phase (first seconds) and the
    end of a several-minute run both stay readable; no empty negative region."""
    t = np.asarray(times_s, dtype=float)
    t = t[t > 0]
    lo = max(float(t.min()) if t.size else 0.01, 1e-3)
    hi = duration_s if duration_s is not None else (float(t.max()) if t.size else 1.0)
    ax.set_xscale("log")
    ax.set_xlim(lo * 0.9, hi * 1.05)


def membrane_panels_figure(run: Any, windows, threshold: float, path: Path) -> Path:
    """The lecture's three panels: potential at the start, during and after learning."""
    fig, axes = new_figure(1, 3, width=13, height=3.6, sharey=True)
    titles = ("beginning", "during learning", "after learning")
    for ax, (a, b), title in zip(axes, windows, titles, strict=True):
        sel = (run.record_times_ms >= a) & (run.record_times_ms < b)
        t = run.record_times_ms[sel]
        ax.plot(t / 1000.0, run.recorded_u[sel, 0], lw=0.6, color="k", label="potential u")
        ax.axhline(threshold, color="C3", ls="--", lw=0.8, label=f"threshold ({threshold:g})")
        _shade_patterns(ax, run.onsets_ms, a, b, scale=1000.0)
        ax.set(xlabel="time (s)", title=f"{title} ({a / 1000:.1f}-{b / 1000:.1f} s)")
    axes[0].set_ylabel("potential u (a.u.)")
    handles, _ = axes[0].get_legend_handles_labels()
    fig.legend(handles=[*handles, _pattern_patch()], loc="outside lower center", ncol=3,
               frameon=False)
    return save_figure(fig, path, caption=(
        "Membrane potential of the STDP neuron (arbitrary units) at the beginning, during "
        "and after learning, with the threshold (dashed) and the pattern presentations "
        "(shaded): at first it fires at random; after learning it fires only at the start "
        "of each pattern."))


def input_raster_figure(block: Any, start_ms: float, stop_ms: float, path: Path) -> Path:
    """Input raster with the pattern copies highlighted."""
    tr = block.trains
    lo, hi = np.searchsorted(tr.times_ms, [start_ms, stop_ms])
    fig, ax = new_figure(width=9, height=5)
    _shade_patterns(ax, block.pattern_onsets_ms, start_ms, stop_ms)
    raster(tr.times_ms[lo:hi], tr.afferents[lo:hi], ax, marker_size=2.0,
           highlight=block.is_pattern_spike[lo:hi], color="0.55")
    ax.set(ylabel="afferent", title="input: pattern copies in red (afferents "
           f"0-{block.n_pattern - 1} take part)")
    ax.legend(handles=[_pattern_patch(), Patch(color="C3", label="spike of a pattern copy"),
                       Patch(color="0.55", label="other input spike")],
              loc="upper right", fontsize=8, framealpha=0.9)
    return save_figure(fig, path, caption=(
        f"Input spike raster over {stop_ms - start_ms:g} ms: afferent index against time "
        "(ms). Spikes that belong to a copy of the repeating pattern are red; the pattern "
        "periods are shaded. The pattern is invisible in the rates: only its timing "
        "repeats."))


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
    return save_figure(fig, path, caption=(
        "After learning: final weight of each pattern afferent against the time (ms) of its "
        "first spike in the pattern, with the neuron's output latency (left); distribution "
        "of the final weights of pattern and other afferents (right, log counts): "
        "bimodal, the early pattern afferents near 1."))


def latency_over_time_figure(run: Any, path: Path) -> Path:
    """Output-spike latency after pattern onset against time (false alarms at the bottom)."""
    from spikewave.sim.analysis import spike_latencies_ms

    lat = spike_latencies_ms(run.spike_times_ms, run.onsets_ms)
    t = run.spike_times_ms / 1000.0
    fig, (ax_fa, ax) = new_figure(2, 1, width=9, height=4.6, sharex=True,
                                  gridspec_kw={"height_ratios": [1, 6]})
    fa = np.isnan(lat)
    ax.plot(t[~fa], lat[~fa], ".", ms=2, label="output spike in a pattern")
    ax_fa.plot(t[fa], np.zeros(fa.sum()), "|", color="C3", ms=8, label="false alarm")
    ev = run.evaluation
    if np.isfinite(ev.time_to_find_s):
        for a in (ax, ax_fa):
            a.axvline(ev.time_to_find_s, color="k", ls=":", lw=0.8,
                      label=f"pattern found at {ev.time_to_find_s:.1f} s" if a is ax else None)
    _time_axis_log(ax, t)
    ax.set(xlabel="time (s, log scale)", ylabel="latency after onset (ms)", ylim=(0, 50))
    ax_fa.set(yticks=[], ylabel="false\nalarms", title="postsynaptic latency over time")
    fig.legend(loc="outside lower center", ncol=3, frameon=False, markerscale=3)
    return save_figure(fig, path, caption=(
        "Latency (ms) of each output spike after the onset of the pattern it falls in, "
        "against time (s, log scale); spikes outside any pattern (false alarms) are marked "
        "in the strip above. Once the pattern is found the neuron stops firing outside it "
        "and its latency shrinks towards the pattern start."))


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
    ax.plot(values, paper, "s--", color="C2", label="authors' code, 100 seeds")
    ax.set(xlabel=name, ylabel="successful runs (%)", ylim=(-5, 105),
           title=f"robustness: {name}")
    ax.legend(frameon=False)
    return save_figure(fig, path, caption=(
        f"Robustness of pattern finding: percentage of successful runs ({runs} seeds per "
        f"value) against {name}, beside the authors' original code re-run by the ReScience "
        "replication (docs/references.md section 1.6)."))


def stdp_window_figure(dts, dw, window, p: Any, path: Path) -> Path:
    """Weight change per pairing against the spike-time difference: the simulated protocol
    (markers) against the rule's closed-form window (line)."""
    fig, ax = new_figure(width=6.5, height=4)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.plot(dts, window, color="C0", lw=1.2,
            label=f"window: +{p.a_plus:g} e^(-dt/{p.tau_plus_ms:g} ms), "
                  f"-{p.a_minus:.4g} e^(dt/{p.tau_minus_ms:g} ms)")
    ax.plot(dts, dw, "o", ms=3, mfc="none", color="k",
            label="simulated: 60 pairings at 1 Hz, mean change per pairing")
    ax.set(xlabel="t_post - t_pre (ms)", ylabel="weight change per pairing",
           title="STDP window with Bi & Poo's time constants")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return save_figure(fig, path, caption=(
        "STDP window: weight change per pre/post pairing against the spike-time difference "
        "t_post - t_pre (ms). Markers: the pairing protocol run through the event-driven "
        "rule; line: the rule's closed form, with the time constants Bi & Poo's data were "
        f"fitted with (tau+ = {p.tau_plus_ms:g} ms, tau- = {p.tau_minus_ms:g} ms). Bi & "
        "Poo's own data points are not drawn: no cited digitisation of them was found."))


def competition_figure(run: Any, onsets_ms, pattern_ids, record_times_ms, n_neurons: int,
                       threshold: float, path: Path) -> Path:
    """Competitive learning: each neuron's latency over time, and the potentials at the end."""
    from spikewave.sim.analysis import spike_latencies_ms

    fig, (ax_l, ax_u) = new_figure(2, 1, width=10, height=6.5)
    for k in range(n_neurons):
        s = run.spike_times_ms[run.spike_neurons == k]
        lat = spike_latencies_ms(s, onsets_ms)
        ax_l.plot(s / 1000.0, lat, ".", ms=2, color=f"C{k % 10}", label=f"neuron {k}")
    _time_axis_log(ax_l, run.spike_times_ms / 1000.0)
    ax_l.set(xlabel="time (s, log scale)", ylabel="latency in pattern (ms)",
             ylim=(0, 50), title="each neuron's latency after pattern onset")
    ax_l.legend(frameon=False, markerscale=4, fontsize=8,
                loc="upper left", bbox_to_anchor=(1.0, 1.0))
    a, b = record_times_ms[0], record_times_ms[-1]
    _shade_patterns(ax_u, onsets_ms, a, b)
    for k in range(n_neurons):
        ax_u.plot(record_times_ms, run.recorded_u[:, k], lw=0.7, color=f"C{k % 10}",
                  label=f"neuron {k}")
    ax_u.axhline(threshold, color="k", ls="--", lw=0.7, label="threshold")
    ax_u.set(xlabel="time (ms)", ylabel="potential (a.u.)",
             title="successive firing within pattern presentations (end of the run)")
    ax_u.legend(handles=[_pattern_patch(), *ax_u.get_legend_handles_labels()[0][-1:]],
                frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save_figure(fig, path, caption=(
        f"Competitive STDP with {n_neurons} neurons and lateral inhibition: latency (ms) of "
        "each neuron's spikes after the pattern onset against time (s, log scale; spikes "
        "outside a pattern are not drawn), and the neurons' potentials over the last "
        "presentations with the pattern periods shaded."))
