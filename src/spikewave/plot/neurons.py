"""Figures of the single-neuron reproductions; each function saves one PNG and returns its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from spikewave.plot import new_figure, save_figure


def fi_curve_figure(currents, closed, exact, clock, rel_exact, rel_clock, firing, dt_ms,
                    path: Path) -> Path:
    """LIF f-I curve: closed form, exact and clock-driven paths, and their relative errors."""
    fig, (ax, ax_err) = new_figure(1, 2, width=10, height=4)
    fine = np.linspace(currents.min(), currents.max(), 400)
    ax.plot(currents, closed, "k-", lw=1, label="closed form")
    ax.plot(currents, exact, "o", mfc="none", ms=7, label="exact (event driven)")
    ax.plot(currents, clock, "x", ms=6, label=f"clock driven, dt = {dt_ms:g} ms")
    ax.set(xlabel="current I (nA)", ylabel="firing rate (Hz)", title="LIF f-I curve")
    onset = currents[firing].min() if firing.any() else fine[0]
    ax.axvline(onset, color="0.6", ls=":", lw=0.8, label=f"first current that fires, {onset:g} nA")
    ax.legend(frameon=False)
    floor = 1e-17
    ax_err.semilogy(currents[firing], np.maximum(rel_exact, floor), "o", mfc="none",
                    label="exact")
    ax_err.semilogy(currents[firing], np.maximum(rel_clock, floor), "x", label="clock driven")
    ax_err.axhline(5e-3, color="C1", ls="--", lw=0.8, label="0.5 % bound")
    ax_err.axhline(1e-9, color="C0", ls="--", lw=0.8, label="1e-9 bound")
    ax_err.set(xlabel="current I (nA)", ylabel="relative error of the rate",
               title="error against the closed form", ylim=(floor, 1e-1))
    ax_err.legend(frameon=False, fontsize=8)
    return save_figure(fig, path, caption=(
        "Left: firing rate (Hz) of a LIF neuron against a constant current (nA): closed "
        "form, exact event-driven simulation and clock-driven simulation "
        f"(dt = {dt_ms:g} ms). Right: relative error of each simulated rate against the "
        "closed form, with the bound each path must stay under."))


def lif_trace_figure(t_ms, v_mv, p: Any, current_na: float, path: Path) -> Path:
    """Membrane potential of a LIF neuron under constant current."""
    fig, ax = new_figure(width=7, height=3)
    ax.plot(t_ms, v_mv, lw=1)
    ax.axhline(p.v_th_mv, color="C3", ls="--", lw=0.8, label="threshold")
    ax.set(xlabel="time (ms)", ylabel="V (mV)",
           title=f"LIF under I = {current_na:g} nA (tau = {p.tau_m_ms:g} ms)")
    ax.legend(frameon=False, loc="lower right")
    return save_figure(fig, path, caption=(
        f"Membrane potential (mV) of a LIF neuron under a constant {current_na:g} nA current "
        "against time (ms): it charges towards E_L + R I, fires at threshold and resets."))


def coincidence_figure(d_grid, vt_grid, fire_map, thresholds, measured, tau_ms,
                       path: Path) -> Path:
    """Fire / no fire over (separation d, threshold V_t), with the closed-form boundary."""
    fig, ax = new_figure(width=7, height=4.5)
    extent = (d_grid[0], d_grid[-1], vt_grid[0], vt_grid[-1])
    ax.imshow(fire_map.astype(float), origin="lower", aspect="auto", extent=extent,
              cmap="Blues", vmin=0, vmax=1.6, interpolation="nearest")
    vt = np.linspace(1.0005, 2.0, 400)
    boundary = -tau_ms * np.log(vt - 1.0)
    for sign in (-1, 1):
        ax.plot(sign * boundary, vt, "k-", lw=1.2,
                label="|d| = -tau ln(V_t - 1)" if sign > 0 else None)
        ax.plot(sign * measured, thresholds, "o", color="C3", mfc="none", ms=5,
                label="bisection (exact sim.)" if sign > 0 else None)
    ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="input separation d (ms)",
           ylabel="threshold V_t", title="coincidence detection: shaded = output spike")
    ax.legend(frameon=False, loc="upper right", fontsize=8)
    return save_figure(fig, path, caption=(
        "Coincidence detection: whether two input spikes d ms apart make the neuron fire "
        "(shaded: fires) for each threshold V_t (in units of one input's jump), with the "
        "closed-form boundary |d| = -tau ln(V_t - 1) and the boundary found by bisection on "
        "exact simulations (circles)."))


def hh_spike_figure(run: Any, current: float, path: Path) -> Path:
    """Hodgkin-Huxley spike train: V and the gating variables m, h, n."""
    fig, (ax_v, ax_g) = new_figure(2, 1, width=7, height=5, sharex=True)
    ax_v.plot(run.t_ms, run.v_mv, lw=1)
    ax_v.axhline(0.0, color="0.6", ls=":", lw=0.8)
    ax_v.set(ylabel="V (mV)", title=f"Hodgkin-Huxley, I = {current:g} µA/cm² from rest")
    for name in ("m", "h", "n"):
        ax_g.plot(run.t_ms, getattr(run, name), lw=1, label=name)
    ax_g.set(xlabel="time (ms)", ylabel="gating variable (0-1)")
    ax_g.legend(frameon=False, ncol=3)
    return save_figure(fig, path, caption=(
        f"Hodgkin-Huxley neuron under a {current:g} µA/cm² current step from rest: membrane "
        "potential V (mV, dotted line at 0 mV, the spike-detection level) and the gating "
        "variables m, h, n against time (ms)."))


def hh_fi_figure(currents, rates, counts, step_ms, single, repetitive, path: Path) -> Path:
    """HH f-I curve (steady rate) and spike count per step, with the two thresholds."""
    fig, (ax, ax_n) = new_figure(1, 2, width=10, height=4)
    ax.plot(currents, rates, "o-", ms=3, label="steady rate")
    ax.set(xlabel="I (µA/cm²)", ylabel="steady firing rate (Hz)", title="HH f-I curve")
    ax_n.step(currents, counts, where="mid", label="spike count")
    ax_n.set(xlabel="I (µA/cm²)", ylabel=f"spikes in {step_ms:g} ms",
             title="spike count per step")
    for a in (ax, ax_n):
        a.axvline(single, color="C2", ls="--", lw=0.8, label=f"single spike {single:.3f}")
        a.axvline(repetitive, color="C3", ls="--", lw=0.8,
                  label=f"repetitive {repetitive:.3f}")
    ax.legend(frameon=False, fontsize=8)
    return save_figure(fig, path, caption=(
        "Hodgkin-Huxley f-I curve: steady firing rate (Hz, left) and number of spikes in a "
        f"{step_ms:g} ms step (right) against the step current (µA/cm²), with the "
        f"single-spike threshold ({single:.3f} µA/cm²) and the onset of repetitive firing "
        f"({repetitive:.3f} µA/cm²) found by bisection."))


def adaptation_figure(trace: Any, current, onset_ms: float, steady_isi_ms: float,
                      path: Path) -> Path:
    """Adaptive LIF: V and the threshold over time, and the instantaneous rate."""
    fig, (ax_v, ax_r) = new_figure(2, 1, width=8, height=5.5)
    window = trace.t_ms <= onset_ms + 300.0
    ax_v.plot(trace.t_ms[window], trace.v_mv[window], lw=0.8, label="V")
    ax_v.plot(trace.t_ms[window], trace.threshold_mv[window], lw=1.2, color="C3",
              label="threshold")
    ax_v.set(xlabel="time (ms)", ylabel="potential (mV)",
             title=f"adaptive-threshold LIF, current step of {current.max():g} nA")
    ax_v.legend(frameon=False, loc="lower right")
    s = trace.spike_times_ms
    ax_r.plot(s[1:], 1000.0 / np.diff(s), "o", ms=3, label="1 / ISI")
    ax_r.axhline(1000.0 / steady_isi_ms, color="k", ls="--", lw=0.8,
                 label="fixed-point steady rate")
    ax_r.set(xlabel="time (ms)", ylabel="instantaneous rate (Hz)")
    ax_r.legend(frameon=False)
    return save_figure(fig, path, caption=(
        "Adaptive-threshold LIF under a current step: membrane potential and threshold (mV) "
        "over the first 300 ms (top), and the instantaneous rate 1/ISI (Hz) falling to the "
        "steady rate of the fixed point (bottom)."))


def rate_vs_spike_figure(rates_in, measured, fine, mean_field, siegert, regime_start,
                         path: Path) -> Path:
    """Output rate of the spiking LIF (markers) against the two rate-level predictions."""
    fig, ax = new_figure(width=7, height=4.5)
    if regime_start is not None:
        ax.axvspan(regime_start, fine.max(), color="0.93", label="mean-field regime")
    ax.plot(fine, mean_field, "k-", lw=1.2, label="rate level: mean field (closed form)")
    ax.plot(fine, siegert, "C1--", lw=1.2, label="rate level: diffusion (Siegert)")
    ax.plot(rates_in, measured, "o", color="C0", ms=5, label="spike level: exact simulation")
    ax.set(xlabel="input rate per afferent (Hz)", ylabel="output rate (Hz)",
           title="two levels of description")
    ax.legend(frameon=False, fontsize=8)
    return save_figure(fig, path, caption=(
        "Output rate (Hz) of a LIF neuron driven by Poisson afferents against the input rate "
        "per afferent (Hz): the spiking simulation (markers) beside two rate-level "
        "descriptions, the mean-field closed form and the diffusion (Siegert) formula."))
