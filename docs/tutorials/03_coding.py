# %% [markdown]
# # 3. Coding: rate, latency, spike waves, the DoG retina
#
# How an image becomes spikes. A rate code draws spikes with a probability set by the
# intensity; a latency code sends one spike per input, earlier for a stronger one, so the
# whole image arrives as a wave of first spikes. Before that, a retina of ON- and
# OFF-centre difference-of-Gaussians filters keeps the contrast, not the raw intensity.

# %%
import os
from pathlib import Path

import numpy as np
import torch

from spikewave.plot import new_figure, save_figure

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))

# %% [markdown]
# ## Rate coding
#
# `bernoulli_spikes(x, T)` makes `[T, *x.shape]` spikes, each 1 with probability `x`
# (intensities in [0, 1]); randomness comes from an explicit generator.

# %%
from spikewave.coding.rate import bernoulli_spikes
from spikewave.data.digits import load_digits_split

digits = load_digits_split()
image = torch.as_tensor(digits.x_train[0], dtype=torch.float32)   # 8x8, in [0, 1]
gen = torch.Generator().manual_seed(0)
spikes = bernoulli_spikes(image, time_steps=100, generator=gen)
print(f"image {tuple(image.shape)}, label {digits.y_train[0]}; spikes {tuple(spikes.shape)}")
print(f"mean spike count per pixel against intensity: correlation "
      f"{np.corrcoef(spikes.sum(0).flatten(), image.flatten())[0, 1]:.3f}")

# %% [markdown]
# ## The retina: ON and OFF difference of Gaussians
#
# A DoG kernel (a narrow Gaussian minus a wider one) responds to local contrast: the ON
# channel to a bright centre on a dark surround, the OFF channel to the reverse.

# %%
from spikewave.coding.retina import dog_filter
from spikewave.nn.stdp_net import upsample_digits

big = upsample_digits(digits.x_train[:4])                 # 28x28, like MNIST
on_off = dog_filter(big, kernels=((7, 1.0, 2.0),))        # [B, 2, H, W]
print(f"DoG responses {tuple(on_off.shape)}; ON active {(on_off[:, 0] > 0).float().mean():.2f},"
      f" OFF active {(on_off[:, 1] > 0).float().mean():.2f}")
fig, axes = new_figure(1, 3, width=8, height=2.9)
for ax, data, title, cmap in zip(axes, (big[0], on_off[0, 0], on_off[0, 1]),
                                 ("image", "ON-centre DoG", "OFF-centre DoG"),
                                 ("gray", "Reds", "Blues"), strict=True):
    ax.imshow(data.numpy(), cmap=cmap)
    ax.set_title(title)
    ax.set_axis_off()
save_figure(fig, OUT / "03_dog.png", caption=(
    "A digit (28x28) and its ON-centre and OFF-centre difference-of-Gaussians responses "
    "(7x7 kernel, sigma 1 and 2 pixels), rectified."))

# %% [markdown]
# ![DoG](figures/03_dog.png)
#
# ## Latency coding and the spike wave
#
# `intensity_to_latency` gives each input its first-spike time in `0 .. T-1` (`inf`: it
# never fires). With `mode="rank"` the positive responses are sorted and split into `T`
# bins of equal count; with `"linear"` the latency falls linearly with intensity. The
# spike wave `S[t] = (time <= t)` is what a non-leaky integrate-and-fire layer sees: a
# neuron that fired stays counted.

# %%
from spikewave.coding.latency import intensity_to_latency, spike_wave

T = 15
times = intensity_to_latency(on_off, T, mode="rank")      # [B, 2, H, W]
wave = spike_wave(times, T)                               # [T, B, 2, H, W]
fired = torch.isfinite(times[0])
print(f"{int(fired.sum())} of {fired.numel()} inputs fire, at most once each; "
      f"the wave grows from {int(wave[0, 0].sum())} to {int(wave[-1, 0].sum())} spikes")
fig, axes = new_figure(1, 5, width=10, height=2.3)
for ax, step in zip(axes, np.linspace(0, T - 1, 5).round().astype(int), strict=True):
    rgb = np.ones((*times.shape[2:], 3))
    rgb[(times[0, 0] <= step).numpy()] = (0.85, 0.15, 0.1)
    rgb[(times[0, 1] <= step).numpy()] = (0.1, 0.3, 0.85)
    ax.imshow(rgb)
    ax.set_title(f"step {step}")
    ax.set_axis_off()
save_figure(fig, OUT / "03_wave.png", caption=(
    f"The spike wave of one digit over {T} time steps: the ON (red) and OFF (blue) inputs "
    "that have fired by each step; the strongest contrasts fire first."))

# %% [markdown]
# ![spike wave](figures/03_wave.png)
#
# Thorpe's argument for such codes: a visual decision takes about 100-150 ms across some
# ten processing stages, time for about one spike per neuron per stage
# ([references section 7](../references.md)). Tutorial 5 builds on this wave.
