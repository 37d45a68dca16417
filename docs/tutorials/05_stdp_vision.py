# %% [markdown]
# # 5. STDP vision and reward-modulated STDP
#
# Kheradpisheh et al. (2018) stacked the pieces of tutorials 3 and 4: a DoG retina and a
# latency code, then convolutional layers of non-leaky integrate-and-fire neurons that fire
# at most once per image and learn by STDP, one image at a time, with winner-take-all
# competition. A linear classifier reads the last layer. Mozafari et al. (2019) replaced
# that classifier by a spiking decision layer trained by reward-modulated STDP (R-STDP):
# the first neuron to fire is the decision, and a right decision is rewarded with STDP, a
# wrong one punished with anti-STDP. Here both run on the small 8x8 digits shipped with
# scikit-learn, scaled to 28x28.

# %%
import os
from pathlib import Path

import numpy as np
import torch

from spikewave.plot import new_figure, save_figure

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))
torch.set_num_threads(min(2, os.cpu_count() or 1))

# %%
from spikewave.data.digits import load_digits_split
from spikewave.nn.stdp_net import STDPConvNet, mnist_architecture, upsample_digits

d = load_digits_split()
n_train, n_test = (60, 30) if QUICK else (len(d.x_train), len(d.x_test))
x_train, y_train = upsample_digits(d.x_train[:n_train]), d.y_train[:n_train]
x_test, y_test = upsample_digits(d.x_test[:n_test]), d.y_test[:n_test]
print(f"{len(x_train)} training and {len(x_test)} test images of {tuple(x_train.shape[1:])}")

# %% [markdown]
# ## Layer-wise STDP
#
# Each layer learns alone, unsupervised, until its weights have converged to near 0 or 1
# (`C = mean w(1 - w) < 0.01`, or a budget of images). The learnt first-layer features are
# oriented edges.

# %%
from spikewave.plot.vision import first_layer_features

net = STDPConvNet(mnist_architecture(time_steps=15), seed=0)
untrained = STDPConvNet(mnist_architecture(time_steps=15), seed=0)
budget = 30 if QUICK else 1500
for layer in range(2):
    history = net.train_layer(layer, x_train, max_images=budget)
    print(f"layer {layer + 1}: C = {history[-1][1]:.4f} after {history[-1][0]} images")
features = first_layer_features(net.layers[0].weight)
fig, axes = new_figure(3, 10, width=8, height=2.7)
for ax, f in zip(axes.flat, features, strict=True):
    ax.imshow(f, cmap="RdBu_r", vmin=-np.abs(f).max(), vmax=np.abs(f).max())
    ax.set_axis_off()
save_figure(fig, OUT / "05_features.png", caption=(
    "The 30 first-layer features learnt by STDP, in pixel space (ON minus OFF weights; red "
    "positive, blue negative)."))

# %% [markdown]
# ![first-layer features](figures/05_features.png)
#
# ## A linear readout
#
# The last layer's potentials, max-pooled over a 3x3 grid of positions, are the features
# of a linear SVM. The same readout on the initial (untrained) weights shows what STDP adds.

# %%
from spikewave.train.readout import LinearReadout

for name, model in (("STDP", net), ("untrained", untrained)):
    readout = LinearReadout(c=0.1).fit(model.features(x_train, grid=3), y_train)
    print(f"{name} features: test accuracy "
          f"{readout.score(model.features(x_test, grid=3), y_test):.1%}")

# %% [markdown]
# ## A decision layer trained by R-STDP
#
# Mozafari's network: a retina of six DoG maps, two STDP layers, then a decision layer of
# 20 maps per digit. Each image is presented once per epoch; the rates of reward and
# punishment adapt to the fraction of hits and misses. On these small images the
# pointwise inhibition also thins the spikes passed on to the next layer (as the
# `mozafari2019` reproduction does for them), so that the decision layer sees which
# features fired first, not all of them.

# %%
import dataclasses

from spikewave.nn.decision import RSTDPDecision
from spikewave.nn.stdp_net import mozafari_architecture

arch = dataclasses.replace(mozafari_architecture(time_steps=15), forward_inhibition=True)
deep = STDPConvNet(arch, seed=0)
for layer in range(2):
    deep.train_layer(layer, x_train, max_images=20 if QUICK else 1000)
fired_train = torch.isfinite(deep.layer_inputs(x_train, 2))
fired_test = torch.isfinite(deep.layer_inputs(x_test, 2))
decision = RSTDPDecision(int(arch.layers[-1].out_maps), n_classes=10, maps_per_class=20,
                         kernel_size=5, padding=2, seed=0)
rng = np.random.default_rng(0)
curve = [float(np.mean(decision.decide(fired_test) == y_test))]
for _epoch in range(1 if QUICK else 10):
    order = rng.permutation(len(fired_train))
    for start in range(0, len(order), 100):
        idx = order[start:start + 100]
        decision.learn_batch(fired_train[idx], y_train[idx])
    curve.append(float(np.mean(decision.decide(fired_test) == y_test)))
print(f"test accuracy before R-STDP {curve[0]:.1%}, after {len(curve) - 1} epochs "
      f"{curve[-1]:.1%}")
fig, ax = new_figure(width=6, height=3.4)
ax.plot(range(len(curve)), [100 * c for c in curve], "o-")
ax.axhline(10.0, color="0.6", ls=":", label="chance")
ax.set(xlabel="R-STDP epoch", ylabel="test accuracy (%)", title="decision layer")
ax.xaxis.get_major_locator().set_params(integer=True)
ax.legend(frameon=False)
save_figure(fig, OUT / "05_rstdp.png", caption=(
    "Test accuracy (%) of the R-STDP decision layer after each epoch (epoch 0: initial "
    "weights), no classifier involved."))

# %% [markdown]
# ![R-STDP](figures/05_rstdp.png)
#
# On MNIST these networks reach 98.6 % (STDP features and a linear SVM; the paper 98.4 %)
# and 95.3 % (R-STDP after 117 epochs; the paper 97.2 %): see the
# [kheradpisheh2018](../results/kheradpisheh2018.md) and
# [mozafari2019](../results/mozafari2019.md) pages.
