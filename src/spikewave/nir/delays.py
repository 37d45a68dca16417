"""Per-synapse delays as NIR nodes, and back.

spikewave's :class:`~spikewave.nn.DelayedLinear` delays each synapse on its own::

    y[t, o] = sum_i W[o, i] x[t - d[o, i], i] + b[o]

NIR's ``Delay`` node delays each channel (``y_c(t) = x_c(t - delay_c)``). The same sum is a
three-node subgraph over the channels ``c = (i, k)``, one for each input ``i`` and each delay
``k`` that one of its synapses has:

- ``expand``: a ``Linear`` with one 1 per row, ``e[c] = x[i]`` (a copy of the input);
- ``delay``: a ``Delay`` of ``k dt`` seconds on channel ``c``;
- ``sum``: an ``Affine`` (a ``Linear`` without bias) whose weight ``A[o, (i, k)]`` is ``W[o, i]``
  where ``d[o, i] = k`` and 0 elsewhere.

Its size is the number of distinct ``(input, delay)`` pairs (at most ``in x (max_delay +
1)``), not the number of synapses.
"""

from __future__ import annotations

import numpy as np

from spikewave.nir.conventions import NIRError


def split(weight: np.ndarray, delays: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(expand[C, in], delay_steps[C], weight_sum[out, C])`` for ``weight[out, in]`` and
    integer ``delays[out, in]``; the channels ``(i, k)`` in increasing order of ``i`` then
    ``k``."""
    n_out, n_in = weight.shape
    inputs = np.broadcast_to(np.arange(n_in), (n_out, n_in))
    pairs = np.unique(np.stack([inputs.ravel(), delays.ravel()], axis=1), axis=0)
    channel = {(int(i), int(k)): c for c, (i, k) in enumerate(pairs)}
    expand = np.zeros((len(pairs), n_in), dtype=weight.dtype)
    expand[np.arange(len(pairs)), pairs[:, 0]] = 1
    summed = np.zeros((n_out, len(pairs)), dtype=weight.dtype)
    cols = np.array([channel[(i, int(delays[o, i]))] for o in range(n_out) for i in range(n_in)])
    summed[np.repeat(np.arange(n_out), n_in), cols] = weight.ravel()
    return expand, pairs[:, 1].astype(np.int64), summed


def join(expand: np.ndarray, delay_steps: np.ndarray, summed: np.ndarray, where: str
         ) -> tuple[np.ndarray, np.ndarray]:
    """``(weight[out, in], delays[out, in])`` back from the three nodes (``where`` names them
    in errors). A synapse of weight 0 has no delay in the graph; it gets its input's largest
    delay, so that the longest delay (the kernel's span) is kept."""
    ones = expand == 1
    if expand.ndim != 2 or not np.all(ones | (expand == 0)) or not np.all(ones.sum(1) == 1):
        raise NIRError(f"{where}: the Linear before the Delay must copy its input (one 1 per "
                       "row, zeros elsewhere) for the three nodes to be a layer of "
                       "per-synapse delays")
    source = ones.argmax(1)  # the input of each channel
    n_out, n_in = summed.shape[0], expand.shape[1]
    weight = np.zeros((n_out, n_in), dtype=summed.dtype)
    delays = np.zeros((n_out, n_in), dtype=np.int64)
    for i in range(n_in):
        chans = np.flatnonzero(source == i)
        if len(chans) == 0:
            continue
        block = summed[:, chans]
        used = block != 0
        if np.any(used.sum(1) > 1):
            raise NIRError(f"{where}: a synapse from input {i} has weights on two delays; "
                           "spikewave's DelayedLinear has one delay per synapse")
        weight[:, i] = block.sum(1)
        longest = chans[np.argmax(delay_steps[chans])]
        delays[:, i] = np.where(used.any(1), delay_steps[chans][used.argmax(1)],
                                delay_steps[longest])
    return weight, delays
