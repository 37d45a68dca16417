# %% [markdown]
# # 6. Surrogate-gradient training
#
# A spike is a step function of the membrane potential: its derivative is zero almost
# everywhere, so backpropagation through time gets no signal. Surrogate-gradient learning
# keeps the step in the forward pass and uses the derivative of a smooth function in the
# backward pass (Neftci, Mostafa & Zenke 2019). With it, spiking layers train like any
# PyTorch network: dense, convolutional, recurrent, with synaptic delays, trainable time
# constants and activity regularisation. Layers take `[T, B, ...]` tensors, time first.

# %%
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))
gen = torch.Generator().manual_seed(0)

# %% [markdown]
# ## The surrogates
#
# Each surrogate is a small immutable value: `surrogate(x)` returns `H(x)` (a spike when
# `x = V - threshold >= 0`) and backpropagates `grad * P'(x)`, the derivative of its
# primitive `P`. `scale` sets the steepness.

# %%
from spikewave.nn import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle
from spikewave.plot.training import surrogate_derivatives_figure

x = torch.linspace(-1.0, 1.0, 5, requires_grad=True)
spikes = FastSigmoid(scale=10.0)(x)
spikes.sum().backward()
print(f"x = {x.tolist()}\nspikes = {spikes.tolist()}\ngradient = "
      f"{[round(g, 4) for g in x.grad.tolist()]}")
surrogate_derivatives_figure({"FastSigmoid (SuperSpike)": FastSigmoid(), "ATan": ATan(),
                              "Sigmoid": Sigmoid(), "Triangle": Triangle(),
                              "Boxcar": Boxcar()}, OUT / "06_surrogates.png")

# %% [markdown]
# ![surrogate derivatives](figures/06_surrogates.png)
#
# ## A dense spiking network on the digits
#
# `TimeDistributed` applies an ordinary layer at every step; `LIF` integrates and fires,
# here with a per-neuron time constant that is trained too (`learn_beta=True`);
# `LeakyReadout` integrates the output layer without spiking. The loss is the
# cross-entropy of the time-averaged readout. The image is presented as a constant input
# current for 16 steps.

# %%
from spikewave.data.digits import load_digits_split
from spikewave.nn import LIF, LeakyReadout, TimeDistributed

d = load_digits_split()
n = 256 if QUICK else len(d.x_train)                  # quick: a few batches only
x_train = torch.as_tensor(d.x_train[:n], dtype=torch.float32).flatten(1)  # [N, 64]
y_train = torch.as_tensor(d.y_train[:n])
x_test = torch.as_tensor(d.x_test, dtype=torch.float32).flatten(1)
y_test = torch.as_tensor(d.y_test)
T = 16


class DenseSNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = TimeDistributed(nn.Linear(64, 128))
        self.lif1 = LIF(tau_steps=10.0, surrogate=FastSigmoid(10.0), learn_beta=True,
                        n_neurons=128)
        self.fc2 = TimeDistributed(nn.Linear(128, 10))
        self.readout = LeakyReadout(tau_steps=10.0)

    def forward(self, x):                            # x: [T, B, 64]
        hidden = self.lif1(self.fc1(x))              # spikes [T, B, 128]
        return self.readout(self.fc2(hidden)), hidden


def init_linear_(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of the linear layers, drawn from ``generator``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = m.in_features ** -0.5
            nn.init.uniform_(m.weight, -bound, bound, generator=generator)
            nn.init.uniform_(m.bias, -bound, bound, generator=generator)


net = DenseSNN()
init_linear_(net, gen)
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for _epoch in range(1 if QUICK else 20):
    order = torch.randperm(len(x_train), generator=gen)
    for start in range(0, len(order), 64):
        idx = order[start:start + 64]
        inputs = x_train[idx].expand(T, -1, -1)      # direct current: the same input each step
        v, hidden = net(inputs)
        loss = nn.functional.cross_entropy(v.mean(0), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
with torch.no_grad():
    v, hidden = net(x_test.expand(T, -1, -1))
    acc = (v.mean(0).argmax(1) == y_test).float().mean().item()
tau = -1.0 / torch.log(net.lif1.decay.beta())
print(f"test accuracy {acc:.1%}; {hidden.sum(0).mean().item():.1f} hidden spikes per "
      f"sample; trained time constants {tau.min().item():.1f}-{tau.max().item():.1f} steps")

# %% [markdown]
# The library's training loop does the same with checkpoints, a cosine learning-rate
# schedule and a training curve; `spikewave train` and the `surrogate` reproduction call
# it. A recurrent network from its recipes, for example:

# %%
import dataclasses
import shutil

from spikewave.train.loop import TrainConfig, fit
from spikewave.train.recipes import build

recipe = build("digits", "recurrent", time_steps=8 if QUICK else 16, seed=0)
if QUICK:                                             # a few batches only
    recipe.data = dataclasses.replace(recipe.data, x_train=recipe.data.x_train[:256],
                                      y_train=recipe.data.y_train[:256],
                                      x_test=recipe.data.x_test[:128],
                                      y_test=recipe.data.y_test[:128])
with tempfile.TemporaryDirectory() as run_dir:
    result = fit(recipe.model, recipe.data, recipe.encode,
                 TrainConfig(epochs=1 if QUICK else 10, batch_size=64, lr=2e-3, seed=0),
                 Path(run_dir), progress=False)
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(run_dir) / "training_curve.png", OUT / "06_training_curve.png")
print(f"{recipe.description}: test accuracy {result.test_accuracy:.1%} after "
      f"{result.epochs} epochs")

# %% [markdown]
# ![training curve](figures/06_training_curve.png)
#
# ## Convolutions, recurrence, delays
#
# Any module runs per step inside `TimeDistributed`, convolutions included. `RecurrentLIF`
# adds all-to-all recurrent weights; `DelayedLinear` gives each synapse a fixed delay in
# steps and `LearnableDelayLinear` learns the delays (Hammouamri et al. 2024: a Gaussian
# kernel over delays whose width shrinks during training).

# %%
from spikewave.nn import DelayedLinear, LearnableDelayLinear, RecurrentLIF

images = torch.as_tensor(d.x_train[:8], dtype=torch.float32).unsqueeze(1)   # [B, 1, 8, 8]
conv = nn.Sequential(
    TimeDistributed(nn.Conv2d(1, 8, 3, padding=1)),
    LIF(tau_steps=5.0),
    TimeDistributed(nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))),
)
out = conv(images.expand(T, -1, -1, -1, -1))
print(f"conv: input {tuple(images.expand(T, -1, -1, -1, -1).shape)} -> {tuple(out.shape)}")

recurrent = RecurrentLIF(32, rec_std=0.5, seed=0, tau_steps=10.0)
spk = recurrent(torch.rand(T, 4, 32, generator=gen))
print(f"recurrent: {int(spk.sum())} spikes; recurrent weights {tuple(recurrent.w_rec.shape)}")

delays = torch.randint(0, 5, (3, 6), generator=gen)
fixed = DelayedLinear(6, 3, delays)
pulse = torch.zeros(10, 1, 6)
pulse[0, 0, 0] = 1.0                                    # one spike on input 0 at step 0
print(f"fixed delays of input 0: {delays[:, 0].tolist()}; output steps where it arrives: "
      f"{[int(fixed(pulse)[:, 0, j].nonzero()[0]) for j in range(3)]}")

learnable = LearnableDelayLinear(6, 3, max_delay=8, seed=0)
learnable(torch.rand(20, 2, 6, generator=gen)).sum().backward()
print(f"learnable delays: gradient reaches the positions {learnable.position.grad.abs().sum() > 0}")

# %% [markdown]
# ## Regularising the activity
#
# Penalties on spike counts keep the network sparse (Zenke & Vogels 2021):
# `spike_count_l2` on the counts per sample, `rate_bounds` on each neuron's mean count.

# %%
from spikewave.nn.regularization import rate_bounds, spike_count_l2

v, hidden = net(x_train[:64].expand(T, -1, -1))
loss = nn.functional.cross_entropy(v.mean(0), y_train[:64])
penalty = 1e-4 * spike_count_l2(hidden) + rate_bounds(hidden, low=0.1, high=8.0)
(loss + penalty).backward()
print(f"loss {loss.item():.3f}, activity penalty {penalty.item():.4f}")
