"""Run by a Python that has snnTorch and NeuroBench 2.x (not by pytest): builds the test
networks of ``tests/test_metrics_neurobench.py`` in snnTorch (or plain PyTorch) with the
weights saved there, runs NeuroBench's workload and static metrics on the inputs saved
there, and writes NeuroBench's results and the networks' output spikes.

    python neurobench_counts.py INPUT.pt OUTPUT.pt

``INPUT.pt`` holds, per network name, ``{"weights": {...}, "x": [T, B, ...] or [B, ...],
"beta": float, "threshold": float}``. snnTorch neurons, with ``reset_delay=False`` (the
reset in the step that fires, as spikewave's LIF) and stepped one time step per call by
NeuroBench's ``SNNTorchModel``: ``Leaky`` with the reset to zero, ``RLeaky`` with the
subtract reset (its reset to zero evaluates the recurrent layer twice a step, which
NeuroBench would count twice). snnTorch's subtract reset with ``reset_delay=False`` matches
spikewave's only while the potential stays below twice the threshold: a potential still
above threshold after its reset is not reset again.
"""

import sys
import warnings

import torch
from torch import nn

warnings.filterwarnings("ignore")


def _leaky(beta: float, threshold: float, output: bool = False):
    import snntorch as snn

    return snn.Leaky(beta=torch.tensor(beta), threshold=threshold, init_hidden=True,
                     output=output, reset_mechanism="zero", reset_delay=False)


def _load(module: nn.Module, weights: dict, prefix: str) -> None:
    with torch.no_grad():
        module.weight.copy_(weights[prefix + ".weight"])
        if module.bias is not None:
            bias = weights.get(prefix + ".bias")
            module.bias.copy_(bias if bias is not None else torch.zeros_like(module.bias))


def dense_net(spec: dict) -> nn.Module:
    """Linear -> Leaky -> Linear -> RLeaky -> Linear -> Leaky."""
    import snntorch as snn

    w, beta, thr = spec["weights"], spec["beta"], spec["threshold"]
    fc1, fc2, fc3 = nn.Linear(20, 16), nn.Linear(16, 12), nn.Linear(12, 8)
    rec = snn.RLeaky(beta=torch.tensor(beta), threshold=thr, linear_features=12,
                     init_hidden=True, reset_mechanism="subtract", reset_delay=False)
    _load(fc1, w, "fc1")
    _load(fc2, w, "fc2")
    _load(fc3, w, "fc3")
    _load(rec.recurrent, w, "rec")
    return nn.Sequential(fc1, _leaky(beta, thr), fc2, rec, fc3, _leaky(beta, thr, True))


def conv_net(spec: dict) -> nn.Module:
    """Conv2d -> Leaky -> MaxPool -> Flatten -> Linear -> Leaky -> Linear -> Leaky."""
    w, beta, thr = spec["weights"], spec["beta"], spec["threshold"]
    conv, fc1, fc2 = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(64, 10), nn.Linear(10, 6)
    _load(conv, w, "conv")
    _load(fc1, w, "fc1")
    _load(fc2, w, "fc2")
    return nn.Sequential(conv, _leaky(beta, thr), nn.MaxPool2d(2), nn.Flatten(), fc1,
                         _leaky(beta, thr), fc2, _leaky(beta, thr, True))


def ann(spec: dict) -> nn.Module:
    """Conv2d -> ReLU -> MaxPool -> Flatten -> Linear -> Sigmoid -> Linear -> ReLU ->
    Linear (no neuron state)."""
    w = spec["weights"]
    conv, fc1, fc2, fc3 = (nn.Conv2d(1, 4, 3, padding=1), nn.Linear(64, 16),
                           nn.Linear(16, 12), nn.Linear(12, 6))
    for module, name in ((conv, "conv"), (fc1, "fc1"), (fc2, "fc2"), (fc3, "fc3")):
        _load(module, w, name)
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), fc1, nn.Sigmoid(),
                         fc2, nn.ReLU(), fc3)


def run(name: str, spec: dict) -> dict:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import Footprint
    from neurobench.metrics.workload import (
        ActivationSparsity,
        MembraneUpdates,
        SynapticOperations,
    )
    from neurobench.models import SNNTorchModel, TorchModel

    x = spec["x"]
    if name == "ann":
        net, data, wrap = ann(spec), x, TorchModel
    else:
        net = dense_net(spec) if name == "dense" else conv_net(spec)
        data, wrap = x.transpose(0, 1).contiguous(), SNNTorchModel  # [B, T, ...]
    model = wrap(net)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data, torch.zeros(len(data))), batch_size=4)
    bench = Benchmark(model, loader, [], [], [[Footprint],
                      [SynapticOperations, ActivationSparsity, MembraneUpdates]])
    results = bench.run(quiet=True)
    out = {"results": {k: (v if not isinstance(v, dict) else dict(v))
                       for k, v in results.items()}}
    if name != "ann":  # the output spikes, for a check that both networks agree
        with torch.no_grad():
            out["spikes"] = model(data).transpose(0, 1)  # [T, B, out]
    return out


def main() -> None:
    specs = torch.load(sys.argv[1])
    torch.save({name: run(name, spec) for name, spec in specs.items()}, sys.argv[2])


if __name__ == "__main__":
    main()
