"""Random connectivity drawn from a seed, stored presynaptic-major (CSR).

:class:`Connectivity` lists the synapses of one projection from ``n_pre`` to ``n_post``
neurons: the targets of presynaptic neuron ``i`` are ``post[indptr[i]:indptr[i + 1]]``,
in increasing order. That is the order a spike is propagated in (one contiguous row per
spike), as in Brian2's and NEST's synapse stores.

Two random rules, each drawing from a ``numpy.random.Generator`` (or a seed):

- :func:`bernoulli` -- every pair ``(i, j)`` is connected independently with probability
  ``p`` (Brian2's ``connect(p=...)``; the CUBA benchmark). The pairs are found by
  geometric skips over the ``n_pre x n_post`` grid, so the cost is the number of synapses,
  not of pairs.
- :func:`fixed_indegree` -- every postsynaptic neuron receives exactly ``indegree``
  synapses from distinct presynaptic neurons chosen uniformly (Brunel 2000: "each neuron
  receives C_E connections from excitatory neurons"; NEST's ``fixed_indegree`` without
  multapses).

Autapses (a neuron onto itself) only make sense when the two sides are the same
population: ``self_offset`` says that presynaptic ``i`` is postsynaptic ``i + self_offset``;
with ``autapses=False`` those pairs are never drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikewave._numba import njit
from spikewave._validation import check_int, check_number, fail
from spikewave.sim.fastrng import seed_state, xoshiro_uniform
from spikewave.sim.spiketrains import RandomLike, as_generator


@dataclass(frozen=True)
class Connectivity:
    """Synapses from ``n_pre`` to ``n_post`` neurons in presynaptic-major CSR order."""

    n_pre: int
    n_post: int
    indptr: np.ndarray   # int64 [n_pre + 1]
    post: np.ndarray     # int32 [n_synapses], sorted within each row

    def __post_init__(self) -> None:
        n_pre = check_int("n_pre", self.n_pre, 1, owner="Connectivity")
        n_post = check_int("n_post", self.n_post, 1, owner="Connectivity")
        indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        post = np.ascontiguousarray(self.post, dtype=np.int32)
        if indptr.shape != (n_pre + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0) \
                or indptr[-1] != post.size:
            raise fail("indptr", f"array of shape {indptr.shape}", f"{n_pre + 1} non-"
                       f"decreasing offsets from 0 to the number of synapses ({post.size})",
                       "Connectivity")
        if post.size and (post.min() < 0 or post.max() >= n_post):
            raise fail("post", f"indices in [{post.min()}, {post.max()}]",
                       f"indices in [0, {n_post})", "Connectivity")
        object.__setattr__(self, "n_pre", n_pre)
        object.__setattr__(self, "n_post", n_post)
        object.__setattr__(self, "indptr", indptr)
        object.__setattr__(self, "post", post)

    @property
    def n_synapses(self) -> int:
        return int(self.post.size)

    @property
    def pre(self) -> np.ndarray:
        """The presynaptic neuron of each synapse (int32, in storage order)."""
        return np.repeat(np.arange(self.n_pre, dtype=np.int32), np.diff(self.indptr))

    def out_degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    def in_degree(self) -> np.ndarray:
        return np.bincount(self.post, minlength=self.n_post)

    @classmethod
    def from_pairs(cls, pre, post, n_pre: int, n_post: int) -> Connectivity:
        """The synapses ``(pre[k], post[k])`` in CSR order (duplicates are kept)."""
        pre = np.asarray(pre, dtype=np.int64).ravel()
        post = np.asarray(post, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise fail("post", f"array of shape {post.shape}", f"the shape of pre, {pre.shape}")
        if pre.size and (pre.min() < 0 or pre.max() >= n_pre):
            raise fail("pre", f"indices in [{pre.min()}, {pre.max()}]", f"indices in [0, {n_pre})")
        if post.size and (post.min() < 0 or post.max() >= n_post):
            raise fail("post", f"indices in [{post.min()}, {post.max()}]",
                       f"indices in [0, {n_post})")
        indptr, order = csr_order(pre, post, n_pre, n_post)
        return cls(n_pre, n_post, indptr, post[order].astype(np.int32))


@njit
def _counting_order(keys, n_keys):  # pragma: no cover - compiled
    """The stable order that sorts ``keys`` (in ``[0, n_keys)``), and the row offsets."""
    offsets = np.zeros(n_keys + 1, np.int64)
    for k in keys:
        offsets[k + 1] += 1
    for k in range(n_keys):
        offsets[k + 1] += offsets[k]
    fill = offsets[:-1].copy()
    order = np.empty(keys.shape[0], np.int64)
    for e in range(keys.shape[0]):
        k = keys[e]
        order[fill[k]] = e
        fill[k] += 1
    return order, offsets


@njit
def _csr_order(pre, post, n_pre, n_post):  # pragma: no cover - compiled
    by_post, _ = _counting_order(post, n_post)
    by_pre, indptr = _counting_order(pre[by_post], n_pre)
    order = np.empty(post.shape[0], np.int64)
    for e in range(post.shape[0]):
        order[e] = by_post[by_pre[e]]
    return indptr, order


def csr_order(pre: np.ndarray, post: np.ndarray, n_pre: int, n_post: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, order)``: ``order`` sorts the pairs by pre, then post (a stable radix
    sort, linear in the number of pairs); ``indptr`` are the row offsets by pre."""
    return _csr_order(np.ascontiguousarray(pre, np.int64), np.ascontiguousarray(post, np.int64),
                      n_pre, n_post)


def bernoulli(n_pre: int, n_post: int, p: float, rng: RandomLike = None, *,
              autapses: bool = True, self_offset: int = 0) -> Connectivity:
    """Each pair connected independently with probability ``p`` (see the module docstring)."""
    n_pre = check_int("n_pre", n_pre, 1)
    n_post = check_int("n_post", n_post, 1)
    p = check_number("p", p)
    if not 0.0 <= p <= 1.0:
        raise fail("p", p, "a probability in [0, 1]")
    gen = as_generator(rng)
    total = n_pre * n_post
    if p == 0.0:
        flat = np.empty(0, np.int64)
    elif p == 1.0:
        flat = np.arange(total, dtype=np.int64)
    else:
        # the gaps between successive connected pairs of the flattened grid are geometric
        chunks, position = [], -1
        expected = total * p
        while True:
            size = int(expected + 6.0 * np.sqrt(expected * (1 - p)) + 16)
            gaps = gen.geometric(p, size=size).astype(np.int64)
            flat = position + np.cumsum(gaps)
            keep = flat < total
            chunks.append(flat[keep])
            if not keep.all():
                break
            position = int(flat[-1])
            expected = (total - 1 - position) * p
        flat = np.concatenate(chunks)
    pre, post = np.divmod(flat, n_post)
    if not autapses:
        keep = post != pre + self_offset
        pre, post = pre[keep], post[keep]
    indptr = np.zeros(n_pre + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
    return Connectivity(n_pre, n_post, indptr, post.astype(np.int32))  # already row-sorted


@njit
def _draw_indegree(n_pre, n_post, indegree, state, forbid_offset, forbid
                   ):  # pragma: no cover - compiled
    """For each post ``j``, ``indegree`` distinct pres drawn uniformly (rejection against a
    per-post mark); returns the pre of each synapse, post-major."""
    pres = np.empty(n_post * indegree, np.int32)
    mark = np.full(n_pre, -1, np.int64)
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    k = 0
    for j in range(n_post):
        if forbid:
            own = j - forbid_offset
            if 0 <= own < n_pre:
                mark[own] = j
        got = 0
        while got < indegree:
            u, s0, s1, s2, s3 = xoshiro_uniform(s0, s1, s2, s3)
            i = int(u * n_pre)
            if mark[i] != j:
                mark[i] = j
                pres[k] = i
                k += 1
                got += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return pres


def fixed_indegree(n_pre: int, n_post: int, indegree: int, rng: RandomLike = None, *,
                   autapses: bool = True, self_offset: int = 0) -> Connectivity:
    """Each postsynaptic neuron gets ``indegree`` synapses from distinct presynaptic neurons."""
    n_pre = check_int("n_pre", n_pre, 1)
    n_post = check_int("n_post", n_post, 1)
    own_in_range = (not autapses) and any(0 <= j - self_offset < n_pre for j in (0, n_post - 1))
    available = n_pre - (1 if own_in_range else 0)
    indegree = check_int("indegree", indegree, 0, available)
    if indegree > 0.5 * n_pre and indegree > 64:
        # rejection sampling slows down near the full row; such dense draws are not this
        # rule's use (Brunel: 10 %), so they are refused rather than done slowly
        raise fail("indegree", indegree, f"at most half the presynaptic population "
                   f"({n_pre // 2}); use bernoulli for dense connectivity")
    state = seed_state(as_generator(rng))
    pres = _draw_indegree(n_pre, n_post, indegree, state, self_offset, not autapses)
    indptr, post = _transpose_post_major(pres, n_pre, indegree)
    return Connectivity(n_pre, n_post, indptr, post)


@njit
def _transpose_post_major(pres, n_pre, indegree):  # pragma: no cover - compiled
    """CSR by pre of synapses listed post-major (``indegree`` per post, in post order): a
    counting sort, which keeps each row's posts in increasing order."""
    indptr = np.zeros(n_pre + 1, np.int64)
    for i in pres:
        indptr[i + 1] += 1
    for i in range(n_pre):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    post = np.empty(pres.shape[0], np.int32)
    for e in range(pres.shape[0]):
        i = pres[e]
        post[fill[i]] = e // indegree
        fill[i] += 1
    return indptr, post
