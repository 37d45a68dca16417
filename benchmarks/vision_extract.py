"""Feature-extraction throughput of the deep STDP network (Kheradpisheh et al. 2018, MNIST
architecture): spikewave's event-driven kernel, its dense reference, and SpykeTorch side by
side, with a parity check of the features.

    python benchmarks/vision_extract.py [--images 2000] [--repeats 5] [--data-dir D]
                                        [--spyketorch DIR] [--json]

Work per image: spike wave (15 steps, ON/OFF DoG of a 28x28 image) -> conv1 30 maps 5x5
(threshold 15) -> pointwise inhibition -> first-spike pooling 2x2 -> conv2 100 maps 5x5 ->
final potentials -> 3x3 grid max pooling (900 features). Same weights (the initial
N(0.8, 0.05) draw) and the same input time maps for every path; encoding is timed apart.
Timing in float32; the parity check runs all paths in float64 on the first 300 images
(float32 sums may land on either side of an integer threshold, float64 ones do not).

- ``ours``: :meth:`STDPConvNet.features`-style batches through the event-driven kernel.
- ``ours_dense``: the dense reference path (T-fold convolution), same batches.
- ``spyketorch``: SpykeTorch's own functions (``snn.Convolution``, ``sf.fire``,
  ``sf.pointwise_inhibition``, ``sf.pooling``), one image at a time as its examples do.
  It is not on PyPI; put its ``SpykeTorch`` package folder under DIR (e.g.
  ``git -C <mirror> archive HEAD SpykeTorch | tar -x -C DIR``). Its ``utils`` imports
  torchvision, which only its dataset helpers use; when torchvision is absent an empty
  stand-in module is registered so that ``snn`` and ``functional`` import. SpykeTorch fires
  on ``V > threshold`` where spikewave fires on ``V >= threshold``; it is given
  ``threshold - 1e-6`` so that both fire on the same spikes.

Images come from MNIST (``--data-dir`` or ``$SPIKEWAVE_DATA``) when found, else the
embedded digits upsampled to 28x28. Medians of ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types

import numpy as np
import torch
import torch.nn.functional as F

from spikewave.coding.latency import spike_wave
from spikewave.nn.stdp_net import STDPConvNet, mnist_architecture, upsample_digits

GRID = 3


def load_images(n: int, data_dir: str | None) -> tuple[torch.Tensor, str]:
    try:
        from spikewave.data.mnist import load_mnist
        d = load_mnist("mnist", data_dir)
        return torch.from_numpy(d.x_test[:n]), "MNIST test"
    except Exception:  # noqa: BLE001 - no MNIST here: fall back to the embedded digits
        from spikewave.data.digits import load_digits_split
        d = load_digits_split()
        x = upsample_digits(np.concatenate([d.x_train, d.x_test]))
        return x[:n], "embedded digits (28x28)"


def ours(net: STDPConvNet, times: torch.Tensor, batch: int = 256) -> np.ndarray:
    out = []
    for s in range(0, len(times), batch):
        t = net.propagate(times[s:s + batch], 1)
        pot = net.layers[1].final_potentials(t)
        out.append(F.adaptive_max_pool2d(pot, GRID).flatten(1).numpy())
    return np.concatenate(out)


def load_spyketorch(path: str):
    sys.path.insert(0, path)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        stub = types.ModuleType("torchvision")
        stub.transforms = types.ModuleType("torchvision.transforms")
        stub.datasets = types.ModuleType("torchvision.datasets")
        sys.modules.update({"torchvision": stub, "torchvision.transforms": stub.transforms,
                            "torchvision.datasets": stub.datasets})
    from SpykeTorch import functional as sf
    from SpykeTorch import snn
    return snn, sf


def spyketorch_features(snn, sf, net: STDPConvNet, times: torch.Tensor,
                        dtype: torch.dtype = torch.float32) -> np.ndarray:
    p1, p2 = net.arch.layers
    t_steps = net.arch.retina.time_steps
    conv1 = snn.Convolution(int(p1.in_maps), int(p1.out_maps), int(p1.kernel_size))
    conv2 = snn.Convolution(int(p2.in_maps), int(p2.out_maps), int(p2.kernel_size))
    conv1.weight.data = net.layers[0].weight.to(dtype)
    conv2.weight.data = net.layers[1].weight.to(dtype)
    pad1, pad2 = int(p1.padding), int(p2.padding)
    out = []
    with torch.no_grad():
        for i in range(len(times)):
            wave = spike_wave(times[i], int(t_steps), dtype)  # [T, C, H, W]: SpykeTorch's
            pot = conv1(sf.pad(wave, (pad1,) * 4))
            spk, pot = sf.fire(pot, p1.threshold - 1e-6, True)
            pot = sf.pointwise_inhibition(pot)
            spk = sf.pooling(pot.sign(), 2, 2)
            final = conv2(sf.pad(spk, (pad2,) * 4))[-1:]
            out.append(F.adaptive_max_pool2d(final, GRID).flatten(1).numpy())
    return np.concatenate(out)


def timed(fn, repeats: int) -> tuple[float, float, float, object]:
    result = fn()  # warm-up (compiles the kernels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--spyketorch", default=None, help="folder holding SpykeTorch/")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    images, source = load_images(args.images, args.data_dir)
    net = STDPConvNet(mnist_architecture(), seed=0)
    enc_med, _, _, times = timed(lambda: net.encode(images), args.repeats)
    n = len(images)
    rows = {}
    med, lo, hi, f_ours = timed(lambda: ours(net, times), args.repeats)
    rows["ours"] = (med, lo, hi)
    for layer in net.layers:
        layer.use_kernel = False
    med, lo, hi, f_dense = timed(lambda: ours(net, times), max(1, args.repeats // 2))
    for layer in net.layers:
        layer.use_kernel = True
    rows["ours_dense"] = (med, lo, hi)
    # parity in float64: float32 sums can land on either side of an integer threshold
    k = min(n, 300)
    net64 = STDPConvNet(mnist_architecture(), seed=0).double()
    f64 = ours(net64, times[:k].double())
    for layer in net64.layers:
        layer.use_kernel = False
    parity = {"ours_dense": float(np.abs(f64 - ours(net64, times[:k].double())).max())}
    del f_dense
    if args.spyketorch:
        snn, sf = load_spyketorch(args.spyketorch)
        k = min(n, 500)  # one image at a time: time a subset, report per image
        med, lo, hi, f_st = timed(lambda: spyketorch_features(snn, sf, net, times[:k]),
                                  max(1, args.repeats // 2))
        rows["spyketorch"] = (med * n / k, lo * n / k, hi * n / k)
        del f_st
        parity["spyketorch"] = float(np.abs(
            f64 - spyketorch_features(snn, sf, net64, times[:300].double(), torch.float64)
        ).max())
    print(f"{n} images ({source}); encoding (DoG + latency) {n / enc_med:,.0f} images/s")
    print(f"{'path':<12} {'images/s':>10} {'median s':>9} {'min-max s':>15} {'x ours':>7}")
    for name, (med, lo, hi) in rows.items():
        print(f"{name:<12} {n / med:>10,.0f} {med:>9.3f} {lo:>7.3f}-{hi:<7.3f} "
              f"{med / rows['ours'][0]:>7.1f}")
    print("feature parity, float64, first 300 images (max abs difference vs ours):", parity)
    if args.json:
        out = {"workload": "kheradpisheh_extract", "images": n,
               "ours_images_per_s": n / rows["ours"][0],
               "encode_images_per_s": n / enc_med,
               **{f"{k}_images_per_s": n / v[0] for k, v in rows.items() if k != "ours"},
               "parity_max_abs": parity}
        if "spyketorch" in rows:
            out["speedup_vs_spyketorch"] = rows["spyketorch"][0] / rows["ours"][0]
        print(json.dumps(out))


if __name__ == "__main__":
    main()
