"""One MNIST training epoch of the 784-512-512-10 LIF network of ``spikewave train --model
dense``, written in a peer library (snnTorch, SpikingJelly or Norse), run by
``benchmarks/train_epoch.py`` in the peers' Python. Prints one JSON line.

The same network and protocol as spikewave's: images scaled to [0, 1] fed as a constant
current at each of T steps (the first layer's product computed once per image, as spikewave
does), LIF neurons with beta = exp(-1 / 10), threshold 1, subtract reset, a fast-sigmoid
surrogate of slope 10 (SpikingJelly: ATan, it has no fast sigmoid), a leaky read-out of the
last layer's current (beta = exp(-1 / 10)), cross-entropy on its mean over time, Adam at
2e-3 (PyTorch's fused implementation, as spikewave's), batches of 128 in a seeded random
order. Each library in its fastest CPU way: its multi-step mode where it has one. Time
constants: trainable per neuron in snnTorch (``learn_beta`` with a per-neuron beta) and
Norse (a per-neuron ``tau_mem_inv`` parameter); trainable per layer in SpikingJelly
(``ParametricLIFNode``: one tau per layer).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

BETA = math.exp(-1 / 10)


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(folder: Path):
    def images(name):
        return torch.from_numpy(read_idx(folder / name).reshape(-1, 784) / 255.0).float()

    def labels(name):
        return torch.from_numpy(read_idx(folder / name).astype(np.int64))

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def readout(cur: torch.Tensor) -> torch.Tensor:
    """Leaky integrator over ``cur[T, B, 10]``, its mean over time."""
    v, total = torch.zeros_like(cur[0]), torch.zeros_like(cur[0])
    for c in cur:
        v = BETA * v + c
        total = total + v
    return total / len(cur)


class SnnTorchNet(nn.Module):
    def __init__(self, steps: int) -> None:
        super().__init__()
        import snntorch as snn
        from snntorch import surrogate

        self.steps = steps
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 512), nn.Linear(512, 512), nn.Linear(512, 10)
        grad = surrogate.fast_sigmoid(slope=10)
        self.lif1 = snn.Leaky(beta=torch.full((512,), BETA), learn_beta=True, spike_grad=grad,
                              reset_mechanism="subtract", reset_delay=False)
        self.lif2 = snn.Leaky(beta=torch.full((512,), BETA), learn_beta=True, spike_grad=grad,
                              reset_mechanism="subtract", reset_delay=False)

    def forward(self, x):
        cur1 = self.fc1(x)  # the same input at every step: one product
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for _ in range(self.steps):
            spk1, mem1 = self.lif1(cur1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return readout(self.fc3(torch.stack(out)))


class SpikingJellyNet(nn.Module):
    def __init__(self, steps: int) -> None:
        super().__init__()
        from spikingjelly.activation_based import layer, neuron, surrogate

        self.steps = steps
        self.fc1 = nn.Linear(784, 512)
        tau = 1 / (1 - BETA)  # decay_input=False: H = (1 - 1/tau) V + X
        kw = dict(init_tau=tau, decay_input=False, v_reset=None, step_mode="m",
                  surrogate_function=surrogate.ATan())
        self.lif1 = neuron.ParametricLIFNode(**kw)
        self.fc2 = layer.Linear(512, 512, step_mode="m")
        self.lif2 = neuron.ParametricLIFNode(**kw)
        self.fc3 = layer.Linear(512, 10, step_mode="m")

    def forward(self, x):
        from spikingjelly.activation_based import functional

        functional.reset_net(self)
        cur1 = self.fc1(x).unsqueeze(0).expand(self.steps, -1, -1)
        return readout(self.fc3(self.lif2(self.fc2(self.lif1(cur1)))))


class NorseNet(nn.Module):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 512), nn.Linear(512, 512), nn.Linear(512, 10)
        self.dt = 1e-3  # dt tau_mem_inv = 1 - beta; the input scaled by 1 / (1 - beta)
        self.tau_inv1 = nn.Parameter(torch.full((512,), (1 - BETA) / self.dt))
        self.tau_inv2 = nn.Parameter(torch.full((512,), (1 - BETA) / self.dt))

    def forward(self, x):
        import norse.torch as nt
        from norse.torch.functional.lif_box import lif_box_feed_forward_step
        from norse.torch.functional.reset import reset_subtract

        scale = 1 / (1 - BETA)
        p1, p2 = (nt.LIFBoxParameters(tau_mem_inv=t, v_th=torch.tensor(1.0),
                                      alpha=torch.tensor(10.0), reset_method=reset_subtract)
                  for t in (self.tau_inv1, self.tau_inv2))
        cur1 = self.fc1(x) * scale
        s1 = nt.LIFBoxFeedForwardState(v=torch.zeros(len(x), 512))
        s2 = nt.LIFBoxFeedForwardState(v=torch.zeros(len(x), 512))
        out = []
        for _ in range(self.steps):
            z1, s1 = lif_box_feed_forward_step(cur1, s1, p1, self.dt)
            z2, s2 = lif_box_feed_forward_step(self.fc2(z1) * scale, s2, p2, self.dt)
            out.append(z2)
        return readout(self.fc3(torch.stack(out)))


NETS = {"snntorch": SnnTorchNet, "spikingjelly": SpikingJellyNet, "norse": NorseNet}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=sorted(NETS))
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--time-steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-batches", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # this peer script's own initialisation (not spikewave code)
    x_tr, y_tr, x_te, y_te = load(args.data_dir)
    net = NETS[args.library](args.time_steps)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, fused=True)  # as spikewave train
    order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(0))
    batches = range(0, len(order), args.batch_size)
    if args.max_batches:
        batches = batches[:args.max_batches]
    net.train()
    t0 = time.perf_counter()
    for i in batches:
        idx = order[i:i + args.batch_size]
        loss = nn.functional.cross_entropy(net(x_tr[idx]), y_tr[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    epoch_s = time.perf_counter() - t0
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x_te), 1000):
            correct += (net(x_te[i:i + 1000]).argmax(1) == y_te[i:i + 1000]).sum().item()
    print(json.dumps({"epoch_s": epoch_s, "test_accuracy": correct / len(x_te),
                      "batches": len(batches)}))


if __name__ == "__main__":
    main()
