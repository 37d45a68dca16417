"""Random connectivity from a seed: the rules' statistics, their invariants and their errors."""

import numpy as np
import pytest

from spikewave._validation import ParameterError
from spikewave.sim.connectivity import Connectivity, bernoulli, csr_order, fixed_indegree


def _pairs(c: Connectivity) -> np.ndarray:
    return np.stack([c.pre, c.post], axis=1)


def test_bernoulli_count_rows_and_seed():
    n_pre, n_post, p = 300, 400, 0.05
    c = bernoulli(n_pre, n_post, p, 7)
    mean, sd = n_pre * n_post * p, np.sqrt(n_pre * n_post * p * (1 - p))
    assert abs(c.n_synapses - mean) < 4 * sd
    # rows in increasing order, no duplicate pair
    keys = c.pre.astype(np.int64) * n_post + c.post
    assert np.all(np.diff(keys) > 0)
    assert np.array_equal(_pairs(c), _pairs(bernoulli(n_pre, n_post, p, 7)))
    assert not np.array_equal(c.post[:50], bernoulli(n_pre, n_post, p, 8).post[:50])


def test_bernoulli_is_uniform_over_pairs():
    # every pair has the same probability: the counts per post and per pre are binomial
    c = bernoulli(200, 200, 0.1, 1)
    for counts in (c.in_degree(), c.out_degree()):
        assert abs(counts.mean() - 20) < 1.0
        assert abs(counts.var() - 18) < 6.0  # var of Binomial(200, 0.1) = 18


def test_bernoulli_edges_and_autapses():
    assert bernoulli(5, 6, 0.0, 0).n_synapses == 0
    full = bernoulli(5, 6, 1.0, 0)
    assert full.n_synapses == 30 and np.array_equal(full.out_degree(), np.full(5, 6))
    c = bernoulli(50, 50, 0.5, 3, autapses=False)
    assert not np.any(c.pre == c.post)
    shifted = bernoulli(50, 80, 0.9, 3, autapses=False, self_offset=30)
    assert not np.any(shifted.post == shifted.pre + 30)
    with pytest.raises(ParameterError, match="'p'"):
        bernoulli(5, 5, 1.5)


def test_fixed_indegree_exact_distinct_and_seeded():
    c = fixed_indegree(100, 80, 10, 2)
    assert np.array_equal(c.in_degree(), np.full(80, 10))
    pairs = _pairs(c)
    assert np.unique(pairs, axis=0).shape[0] == pairs.shape[0]  # no multapse
    assert np.array_equal(pairs, _pairs(fixed_indegree(100, 80, 10, 2)))
    # presynaptic neurons chosen uniformly: out-degrees ~ Binomial(80, 0.1), mean 8
    big = fixed_indegree(50, 2000, 5, 4)
    assert abs(big.out_degree().mean() - 200) < 1e-9
    assert big.out_degree().std() < 3 * np.sqrt(200 * 0.9)


def test_fixed_indegree_without_autapses():
    c = fixed_indegree(20, 20, 19, 0, autapses=False)
    assert not np.any(c.pre == c.post)
    assert np.array_equal(c.in_degree(), np.full(20, 19))
    with pytest.raises(ParameterError, match="'indegree'"):
        fixed_indegree(20, 20, 20, 0, autapses=False)
    with pytest.raises(ParameterError, match="'indegree'"):
        fixed_indegree(1000, 10, 600, 0)  # dense rows: bernoulli's job


def test_from_pairs_and_csr_order_match_a_sort():
    rng = np.random.default_rng(0)
    pre, post = rng.integers(0, 30, 500), rng.integers(0, 40, 500)
    c = Connectivity.from_pairs(pre, post, 30, 40)
    order = np.lexsort((post, pre))
    assert np.array_equal(c.pre, pre[order]) and np.array_equal(c.post, post[order])
    indptr, got = csr_order(pre, post, 30, 40)
    assert np.array_equal(got, order)  # stable: equal pairs keep their order
    assert np.array_equal(indptr, c.indptr)
    with pytest.raises(ParameterError, match="'post'"):
        Connectivity.from_pairs([0, 1], [0, 40], 30, 40)
    with pytest.raises(ParameterError, match="'indptr'"):
        Connectivity(2, 2, np.array([0, 2, 1]), np.array([0, 1], np.int32))
