# %% [markdown]
# # 7. Speed and memory: event-driven layers and checkpointing
#
# Spikes are binary and sparse: a layer that receives 2 % active inputs need not multiply
# by the 98 % zeros. And backpropagation through time keeps every step's state, so memory
# grows with the number of steps. This tutorial measures both effects on this machine, and
# when each pays.

# %%
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikewave.plot import new_figure, save_figure

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))
gen = torch.Generator().manual_seed(0)

# %% [markdown]
# ## Event-driven layers
#
# `LinearLIF(n_in, n_out)` is `TimeDistributed(nn.Linear)` followed by `LIF`, with the same
# spikes and gradients. For sparse binary input on the CPU it sums, for each row, the
# weight rows of the active inputs and steps the neurons in the same pass; its backward
# pass builds the weight gradient from the inputs that fired. For dense input it falls
# back to the matrix product. `SpikeLinear` is the event-driven `nn.Linear` alone.

# %%
from spikewave.nn import LIF, LinearLIF, TimeDistributed


def step_ms(layer: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median time (ms) of a forward and backward pass."""
    times = []
    for _ in range(repeats + 1):                      # the first pass warms up, not timed
        start = time.perf_counter()
        layer(x).sum().backward()
        times.append(1000.0 * (time.perf_counter() - start))
    return float(np.median(times[1:]))


T, B, N = (20, 8, 256) if QUICK else (100, 32, 1024)
repeats = 1 if QUICK else 7
event = LinearLIF(N, N, tau_steps=20.0)
dense = nn.Sequential(TimeDistributed(nn.Linear(N, N)), LIF(tau_steps=20.0))
with torch.no_grad():                                 # the same weights in both
    dense[0].module.weight.copy_(event.weight)
    dense[0].module.bias.copy_(event.bias)
rows = []
for density in (0.02, 0.1, 0.3) if QUICK else (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5):
    x = (torch.rand(T, B, N, generator=gen) < density).float()
    same = torch.equal(event(x), dense(x))
    rows.append((density, step_ms(dense, x, repeats), step_ms(event, x, repeats), same))
print(f"T={T}, B={B}, N={N}: forward + backward, ms (median of {repeats})")
for density, t_dense, t_event, same in rows:
    print(f"  {density:4.0%} active: Linear + LIF {t_dense:7.1f}   LinearLIF {t_event:7.1f}"
          f"   ({t_dense / t_event:4.1f}x; same spikes: {same})")
fig, ax = new_figure(width=6, height=3.6)
dens = [r[0] * 100 for r in rows]
ax.plot(dens, [r[1] for r in rows], "s-", label="Linear + LIF (dense product)")
ax.plot(dens, [r[2] for r in rows], "o-", label="LinearLIF (event driven)")
ax.set(xlabel="input spikes active (%)", ylabel="forward + backward (ms)", xscale="log",
       title=f"one layer, T={T}, B={B}, N={N}")
ax.legend(frameon=False)
save_figure(fig, OUT / "07_event_driven.png", caption=(
    "Time (ms) of a forward and backward pass through one spiking layer against the "
    "fraction of active input spikes (%): the dense product against the event-driven "
    "LinearLIF, measured on the machine that ran this page."))

# %% [markdown]
# ![event-driven timing](figures/07_event_driven.png)
#
# How much the event-driven path gains depends on the CPU (its vector units and the speed
# of its matrix product) and on what else runs on it. The layer takes the event-driven path
# up to a fixed fraction of active inputs (20 % by default), or up to the crossover that
# `spikewave.kernels.calibrate()` measured and stored for this machine; `kernels.explain`
# says which path a layer takes and why (the guide [Which kernels
# run](../guide/kernels.md)). The timings above come from the run this page was made from,
# whose machine and load are stated at the top; on a quiet machine the gain grows as the
# input gets sparser (see the [performance page](../performance.md), measured with nothing
# else running).
#
# ## Checkpointing over time
#
# `LinearLIF(..., chunk_steps=20)` keeps, for the backward pass, only the membrane state at
# the start of each chunk of 20 steps, and recomputes the chunk when the gradient comes
# back: the state kept from the forward pass is `T / 20` potentials `[B, N]` instead of a
# current and a potential for every step. The spikes and the gradients are the same.

# %%
x = (torch.rand(5 * T, B, N, generator=gen) < 0.1).float()
plain = LinearLIF(N, N, tau_steps=20.0)
chunked = LinearLIF(N, N, tau_steps=20.0, chunk_steps=20)
with torch.no_grad():
    chunked.weight.copy_(plain.weight)
    chunked.bias.copy_(plain.bias)
out_plain, out_chunked = plain(x), chunked(x)
out_plain.sum().backward()
out_chunked.sum().backward()
diff = float((plain.weight.grad - chunked.weight.grad).abs().max())
print(f"T={5 * T}: same spikes {torch.equal(out_plain, out_chunked)}; weight gradients agree "
      f"to {diff:.1e} (largest difference: float32 sums in another order)")
mb = 4 * B * N / 1e6                                    # one float32 [B, N] state, in MB
print(f"state kept for the backward pass: {2 * 5 * T * mb:.0f} MB per step-by-step layer "
      f"(a current and a potential per step), {5 * T // 20 * mb:.2f} MB with chunks of 20")

# %% [markdown]
# ## When each pays
#
# - **Sparse binary input, CPU**: the event-driven path, by default; the sparser, the
#   larger the gain. Dense or analogue input (the first layer of an image, say) takes the
#   matrix product.
# - **Long sequences or large batches**: `chunk_steps`, when memory bounds the batch or
#   the sequence; it costs one more forward pass over the layer.
# - **GPU**: the dense path (the event-driven kernels are CPU code).
#
# The [performance page](../performance.md) compares these layers with snnTorch,
# SpikingJelly and Norse on the same workloads.
