# %% [markdown]
# # 2. Coincidence detection; rate and spike descriptions
#
# A leaky neuron forgets: two inputs that each fall short of threshold make it fire only if
# they arrive close enough together. And when many inputs arrive at random, the same neuron
# can be described by its rates alone, or not, depending on how far above threshold the
# mean drive sits.

# %%
import os
from pathlib import Path

import numpy as np

from spikewave.plot import new_figure, save_figure

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))

# %% [markdown]
# ## Coincidence detection
#
# Take `tau dV/dt = -V` with rest and reset at 0 and a threshold `V_t` between 1 and 2, and
# two input spikes that each raise `V` by 1, `d` ms apart. After the second one
# `V = 1 + exp(-d / tau)`, so the neuron fires if and only if `|d| < -tau ln(V_t - 1)`: the
# window of coincidence shrinks as the threshold rises. The exact event-driven simulation
# finds the same boundary by bisection.

# %%
from spikewave.experiments.coincidence import (
    boundary_closed_form_ms,
    coincidence_params,
    fires,
    measure_boundary_ms,
)

tau_ms = 10.0
for v_t in (1.2, 1.5, 1.8):
    p = coincidence_params(tau_ms, v_t)
    print(f"V_t = {v_t}: fires up to |d| = {measure_boundary_ms(p):.6f} ms "
          f"(closed form {boundary_closed_form_ms(tau_ms, v_t):.6f} ms)")

d_grid = np.linspace(-25.0, 25.0, 41 if QUICK else 101)
vt_grid = np.linspace(1.02, 1.98, 25 if QUICK else 60)
fire_map = np.array([[fires(coincidence_params(tau_ms, v), d) for d in d_grid]
                     for v in vt_grid])
fig, ax = new_figure(width=6.5, height=4)
ax.imshow(fire_map, origin="lower", aspect="auto", cmap="Blues", vmin=0, vmax=1.6,
          extent=(d_grid[0], d_grid[-1], vt_grid[0], vt_grid[-1]))
vt = np.linspace(1.001, 1.98, 300)
ax.plot(-tau_ms * np.log(vt - 1), vt, "k-", label="|d| = -tau ln(V_t - 1)")
ax.plot(tau_ms * np.log(vt - 1), vt, "k-")
ax.set(xlim=(d_grid[0], d_grid[-1]), xlabel="separation of the two inputs d (ms)",
       ylabel="threshold V_t (input jumps)", title="shaded: the neuron fires")
ax.legend(frameon=False, loc="upper right")
save_figure(fig, OUT / "02_coincidence.png", caption=(
    "Coincidence detection: whether two unit inputs d ms apart make a LIF neuron "
    "(tau = 10 ms) fire, for thresholds V_t between 1 and 2 (shaded: fires), with the "
    "closed-form boundary."))

# %% [markdown]
# ![coincidence map](figures/02_coincidence.png)
#
# ## Many inputs: rates or spikes?
#
# Now `N = 1000` afferents fire as independent Poisson processes at `nu` Hz each, every
# spike a jump of `w = 0.1` mV. The mean-field description replaces the input by its mean
# drive `mu = tau w N nu` and predicts the closed-form LIF rate. It is right when `mu` is
# well above threshold; near threshold the neuron still fires, on the fluctuations, which
# the diffusion (Siegert) formula keeps. A raster of a few such neurons first:

# %%
from spikewave.neurons import LIFParams, simulate_lif_exact
from spikewave.plot.raster import raster
from spikewave.sim.spiketrains import as_generator

p = LIFParams()
rng = as_generator(1)
times, neurons = [], []
for i in range(20):
    inputs = np.sort(rng.uniform(0.0, 500.0, rng.poisson(1000 * 18.0 * 0.5)))  # 18 Hz each
    out = simulate_lif_exact(p, 500.0, input_times_ms=inputs, input_weights_mv=0.1)
    times.append(out)
    neurons.append(np.full(out.size, i))
ax = raster(np.concatenate(times), np.concatenate(neurons))
ax.set(title="20 LIF neurons, 1000 Poisson inputs at 18 Hz each")
save_figure(ax.figure, OUT / "02_raster.png", caption=(
    "Spike raster of 20 LIF neurons, each driven by its own 1000 Poisson afferents at "
    "18 Hz (0.1 mV per input spike): neuron index against time (ms)."))

# %% [markdown]
# ![raster](figures/02_raster.png)

# %%
from spikewave.experiments.rate_vs_spike import (
    mean_field_rate_hz,
    measured_rate_hz,
    siegert_rate_hz,
)

n_inputs, w_mv = 1000, 0.1
rates_in = np.linspace(5.0, 40.0, 6 if QUICK else 15)
duration_ms = 2000.0 if QUICK else 10_000.0
measured = [measured_rate_hz(p, n_inputs, w_mv, r, duration_ms, rng) for r in rates_in]
fine = np.linspace(rates_in[0], rates_in[-1], 200)
fig, ax = new_figure(width=6.5, height=4)
ax.plot(fine, mean_field_rate_hz(p, n_inputs, w_mv, fine), "k-", label="mean field")
ax.plot(fine, [siegert_rate_hz(p, n_inputs, w_mv, r) for r in fine], "C1--",
        label="diffusion (Siegert)")
ax.plot(rates_in, measured, "o", label="spiking simulation")
ax.set(xlabel="input rate per afferent (Hz)", ylabel="output rate (Hz)",
       title="rate and spike descriptions")
ax.legend(frameon=False)
save_figure(fig, OUT / "02_rate_vs_spike.png", caption=(
    "Output rate (Hz) of a LIF neuron with 1000 Poisson afferents against their rate (Hz): "
    "exact spiking simulation, the mean-field closed form and the Siegert formula."))
for r, m in zip(rates_in[::3], measured[::3], strict=False):
    print(f"nu = {r:5.1f} Hz: simulated {m:6.2f} Hz, mean field "
          f"{float(mean_field_rate_hz(p, n_inputs, w_mv, r)):6.2f} Hz, Siegert "
          f"{siegert_rate_hz(p, n_inputs, w_mv, r):6.2f} Hz")

# %% [markdown]
# ![rate vs spike](figures/02_rate_vs_spike.png)
#
# Below about 15 Hz per input the mean drive stays under threshold and the mean field
# predicts silence, while the neuron fires on fluctuations; well above it the two
# descriptions agree. The `coincidence` and `rate-vs-spike` reproductions check both
# results: see the [results](../results/index.md).
