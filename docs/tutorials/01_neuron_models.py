# %% [markdown]
# # 1. Neuron models
#
# From the leaky integrate-and-fire neuron, solved exactly and stepped in discrete time, to
# the Hodgkin-Huxley equations, a threshold that adapts, and the spike response model.
# Every model is a function on explicit parameters and state; parameter records carry their
# units in their names (`tau_m_ms`, `current_na`) and check their values when built.

# %%
import os
from pathlib import Path

import numpy as np

from spikewave.plot import new_figure, save_figure

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"  # small sizes, for the test suite
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))

# %% [markdown]
# ## The leaky integrate-and-fire neuron, exactly
#
# Between spikes the membrane potential obeys
# `tau_m dV/dt = -(V - E_L) + R I`. Under a constant current it relaxes towards
# `E_L + R I`; if that lies above threshold the neuron fires, resets and stays refractory
# for `t_ref`. The interspike interval is then known in closed form,
# `T = t_ref + tau_m ln((R I) / (R I - (V_th - E_L)))` (with reset to `E_L`), and so is the
# firing rate. `simulate_lif_exact` is event driven: it jumps from event to event with
# the closed-form solution, so its spike times are exact to rounding.

# %%
from spikewave.neurons import LIFParams, lif_rate_hz, simulate_lif_clock, simulate_lif_exact

p = LIFParams(tau_m_ms=10.0, e_l_mv=-65.0, r_mohm=10.0, v_th_mv=-50.0, v_reset_mv=-65.0,
              t_ref_ms=2.0)
print(f"rheobase (V_th - E_L) / R = {p.rheobase_na:.2f} nA")
spikes_ms = simulate_lif_exact(p, duration_ms=500.0, current_na=3.0)
rate = 1000.0 / np.diff(spikes_ms).mean()
print(f"{spikes_ms.size} spikes, rate {rate:.4f} Hz, closed form {lif_rate_hz(3.0, p):.4f} Hz")

# %% [markdown]
# A clock-driven simulation steps the same equation on a grid of `dt`; its spikes fall on
# the grid, so its rate is off by up to about `dt / T`. The f-I curve below compares both
# with the closed form.

# %%
currents = np.linspace(0.0, 6.0, 13 if QUICK else 49)
exact = [1000.0 / np.diff(s).mean() if (s := simulate_lif_exact(p, 1000.0, i)).size > 1
         else 0.0 for i in currents]
clock = simulate_lif_clock(p, 1000.0, currents, dt_ms=0.5)
clock_rate = [1000.0 / np.diff(s).mean() if s.size > 1 else 0.0 for s in clock.spike_times_ms]
fig, ax = new_figure(width=6, height=3.8)
fine = np.linspace(0.0, 6.0, 400)
ax.plot(fine, lif_rate_hz(fine, p), "k-", lw=1, label="closed form")
ax.plot(currents, exact, "o", mfc="none", label="exact (event driven)")
ax.plot(currents, clock_rate, "x", label="clock driven, dt = 0.5 ms")
ax.axvline(p.rheobase_na, color="0.6", ls=":", label=f"rheobase {p.rheobase_na:g} nA")
ax.set(xlabel="current I (nA)", ylabel="firing rate (Hz)", title="LIF f-I curve")
ax.legend(frameon=False)
save_figure(fig, OUT / "01_lif_fi.png", caption=(
    "LIF firing rate (Hz) against a constant current (nA): closed form, exact event-driven "
    "simulation and clock-driven simulation with dt = 0.5 ms, whose spikes fall on the grid."))

# %% [markdown]
# ![LIF f-I curve](figures/01_lif_fi.png)
#
# ## The discrete-time LIF of deep learning
#
# Sampled every `dt`, with the input given as a charge per step, the same neuron becomes
# `V[n+1] = beta V[n] + sum_j w_j S_j[n]` with `beta = exp(-dt / tau_m)`: the form every
# spiking deep-learning library steps. `lif_discrete_run` runs it over the leading time
# axis of NumPy arrays or torch tensors of any shape, with reset to zero or by
# subtraction (which keeps the charge above threshold).

# %%
from spikewave.neurons import lif_discrete_run
from spikewave.neurons.discrete_lif import beta_from_tau

beta = beta_from_tau(tau_ms=10.0, dt_ms=1.0)
drive = np.full((100, 1), 0.4)                            # [T, neurons]: a constant input
spikes_zero, v_zero = lif_discrete_run(drive, beta, threshold=1.0, reset="zero")
spikes_sub, v_sub = lif_discrete_run(drive, beta, threshold=1.0, reset="subtract")
print(f"beta = {beta:.4f}; spikes in 100 steps: reset to zero {int(spikes_zero.sum())}, "
      f"by subtraction {int(spikes_sub.sum())}")
fig, ax = new_figure(width=7, height=3)
ax.plot(v_zero[:, 0], label="reset to zero")
ax.plot(v_sub[:, 0], label="reset by subtraction")
ax.axhline(1.0, color="C3", ls="--", lw=0.8, label="threshold")
ax.set(xlabel="time step n", ylabel="V[n] (threshold = 1)", title="discrete-time LIF")
ax.legend(frameon=False, loc="lower right")
save_figure(fig, OUT / "01_discrete_lif.png", caption=(
    "Potential of the discrete-time LIF (beta = exp(-1/10)) under a constant input of "
    "0.4 per step, with reset to zero and reset by subtraction, against the time step."))

# %% [markdown]
# ![discrete LIF](figures/01_discrete_lif.png)
#
# ## Hodgkin-Huxley
#
# The squid-axon model: sodium and potassium conductances gated by `m`, `h`, `n`, each
# relaxing towards a voltage-dependent value (parameters in
# [references section 6.2](../references.md)). A step of 10 µA/cm² from rest gives a
# regular train of spikes at about 68 Hz.

# %%
from spikewave.neurons import HHParams, simulate_hh

run = simulate_hh(HHParams(), current_ua_cm2=10.0, duration_ms=60.0 if QUICK else 100.0,
                  record=True)
print(f"{run.spike_times_ms.size} spikes; first at {run.spike_times_ms[0]:.2f} ms")
fig, (ax_v, ax_g) = new_figure(2, 1, width=7, height=4.6, sharex=True)
ax_v.plot(run.t_ms, run.v_mv, lw=1)
ax_v.set(ylabel="V (mV)", title="Hodgkin-Huxley, 10 µA/cm² from rest")
for gate in ("m", "h", "n"):
    ax_g.plot(run.t_ms, getattr(run, gate), lw=1, label=gate)
ax_g.set(xlabel="time (ms)", ylabel="gating variable")
ax_g.legend(frameon=False, ncol=3)
save_figure(fig, OUT / "01_hh.png", caption=(
    "Hodgkin-Huxley neuron under a 10 µA/cm² step: membrane potential (mV) and the gating "
    "variables m, h, n against time (ms)."))

# %% [markdown]
# ![Hodgkin-Huxley](figures/01_hh.png)
#
# ## An adaptive threshold
#
# Each spike raises the threshold by `theta_jump_mv`, which then relaxes back with
# `tau_theta_ms`: the neuron fires fast at the onset of a step, then slows to a steady rate
# (spike-frequency adaptation).

# %%
from spikewave.neurons import ALIFParams, simulate_alif_clock

alif = ALIFParams(lif=p, theta_jump_mv=3.0, tau_theta_ms=100.0)
trace = simulate_alif_clock(alif, 3.0, duration_ms=300.0, dt_ms=0.05 if QUICK else 0.01)
isi = np.diff(trace.spike_times_ms)
print(f"first ISI {isi[0]:.2f} ms, last ISI {isi[-1]:.2f} ms")
fig, ax = new_figure(width=7, height=3.2)
ax.plot(trace.t_ms, trace.v_mv, lw=0.8, label="V")
ax.plot(trace.t_ms, trace.threshold_mv, color="C3", label="threshold")
ax.set(xlabel="time (ms)", ylabel="potential (mV)", title="adaptive-threshold LIF, 3 nA")
ax.legend(frameon=False, loc="lower right")
save_figure(fig, OUT / "01_adaptive.png", caption=(
    "Adaptive-threshold LIF under a 3 nA step: the potential (mV) and the threshold, which "
    "jumps at each spike and relaxes back, against time (ms); the interspike interval grows "
    "to a steady value."))

# %% [markdown]
# ![adaptive threshold](figures/01_adaptive.png)
#
# ## The spike response model
#
# The SRM writes the potential as a sum of kernels: each input spike adds a weighted
# EPSP `eps(s) = K (exp(-s / tau_m) - exp(-s / tau_s))`, and the neuron's own last spike
# adds the after-potential `eta(s)`, a reset followed by a negative dip (Masquelier et al.
# 2008; [references section 1.2](../references.md)). This is the neuron of the STDP
# tutorials.

# %%
from spikewave.neurons import SRMParams
from spikewave.neurons.srm import epsp_kernel, eta_kernel

srm = SRMParams()
s = np.linspace(0.0, 60.0, 600)
print(f"EPSP peak at {srm.epsp_peak_ms:.2f} ms, K = {srm.epsp_norm:.4f}")
fig, (ax_e, ax_n) = new_figure(1, 2, width=9, height=3.2)
ax_e.plot(s, epsp_kernel(s, srm))
ax_e.axvline(srm.epsp_peak_ms, color="0.6", ls=":", label=f"peak {srm.epsp_peak_ms:.2f} ms")
ax_e.set(xlabel="time since the input spike (ms)", ylabel="EPSP (peak 1)", title="eps(s)")
ax_e.legend(frameon=False)
ax_n.plot(s, eta_kernel(s, srm) / srm.threshold)
ax_n.axhline(0.0, color="0.7", lw=0.8)
ax_n.set(xlabel="time since the output spike (ms)", ylabel="eta / threshold",
         title="after-potential eta(s)")
save_figure(fig, OUT / "01_srm.png", caption=(
    "Spike response model kernels: the EPSP of one input spike, normalised to a peak of 1 "
    "(left), and the after-potential of an output spike in units of the threshold (right), "
    "against time (ms)."))

# %% [markdown]
# ![SRM kernels](figures/01_srm.png)
#
# The reproductions `lif`, `hh` and `adaptive` check these models against their closed
# forms and reference integrations: see their [results pages](../results/index.md).
