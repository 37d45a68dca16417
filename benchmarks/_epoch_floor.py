"""The floor of one training batch of the 784-512-512-10 LIF network of
``benchmarks/train_epoch.py`` on this machine, run by it in a process of its own. Prints one
JSON line.

The floor is the work that every implementation of BPTT for this network does, each part at
the speed of PyTorch's own dense kernels here (BLAS products, fused Adam, copies) -- a lower
bound of a batch's time, not an estimate of it:

- ``first_layer_forward``: the first layer's product, once per image (the input is the same
  at every step), ``x[B, 784] @ W1.T`` with the bias;
- ``first_layer_weight_grad``: its weight gradient, ``g1[B, 512].T @ x`` (the gradient
  summed over the steps);
- ``hidden_input_grad``: the gradient to the first layer's spikes, ``g2[T B, 512] @ W2``;
  dense because the surrogate gradient is nowhere zero;
- ``adam``: one fused Adam step over the network's parameters;
- ``state_pass``: the spikes and membrane potentials of the two hidden layers
  (``4 T B 512`` numbers) written once and read once, timed as copies.

Counted as free: everything whose one operand is the binary spikes (the hidden layer's
forward product and its weight gradient, the read-out's products, which an event-driven
implementation sums over the active inputs), the neurons' arithmetic, the loss, the data and
the interpreter. ``batches`` batches of ``batch_size`` make the epoch's floor.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch


def median_ms(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after three warm-up calls, ms."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def floor_parts(batch: int, steps: int, n_in: int, hidden: int, n_out: int,
                repeats: int) -> dict[str, float]:
    """Median ms of each part of the floor (module docstring) for one batch."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.rand(shape, generator=gen)

    x, w1, b1 = rand(batch, n_in), rand(hidden, n_in), rand(hidden)
    g1 = rand(batch, hidden)
    g2, w2 = rand(steps * batch, hidden), rand(hidden, hidden)
    params = [torch.nn.Parameter(p) for p in (w1, b1, w2, rand(hidden), rand(n_out, hidden),
                                              rand(n_out), rand(hidden), rand(hidden))]
    for p in params:
        p.grad = torch.rand(p.shape, generator=gen)
    adam = torch.optim.Adam(params, lr=1e-6, fused=True)
    state = [rand(steps, batch, hidden) for _ in range(4)]
    copies = [torch.empty_like(s) for s in state]

    def state_pass():
        for dst, src in zip(copies, state, strict=True):
            dst.copy_(src)

    return {
        "first_layer_forward": median_ms(lambda: torch.addmm(b1, x, w1.T), repeats),
        "first_layer_weight_grad": median_ms(lambda: g1.T @ x, repeats),
        "hidden_input_grad": median_ms(lambda: g2 @ w2, repeats),
        "adam": median_ms(adam.step, repeats),
        "state_pass": median_ms(state_pass, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--time-steps", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts = floor_parts(args.batch_size, args.time_steps, 784, 512, 10, args.repeats)
    batch_ms = sum(parts.values())
    batches = math.ceil(args.train_size / args.batch_size)
    print(json.dumps({"floor_parts_ms": {k: round(v, 3) for k, v in parts.items()},
                      "floor_batch_ms": round(batch_ms, 3), "batches": batches,
                      "floor_s": round(batch_ms * batches / 1e3, 3)}))


if __name__ == "__main__":
    main()
