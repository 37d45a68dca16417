"""The compiled R-STDP weight update is the ordinal STDP rule without stabiliser."""

import numpy as np
import pytest
import torch

from spikewave.plasticity.reward import rstdp_weight
from spikewave.plasticity.stdp import ordinal_stdp_update


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rstdp_weight_equals_the_ordinal_rule_to_the_bit(dtype):
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 0.9, 500).astype(dtype)
    fired = rng.random(500) < 0.4
    real = np.dtype(dtype).type
    for a_pre, a_other in ((0.004, -0.003), (-0.004, 0.0005), (0.3, -0.4)):
        want = ordinal_stdp_update(torch.from_numpy(w), torch.from_numpy(fired), a_pre,
                                   a_other, stabilizer=False, w_min=0.2, w_max=0.8).numpy()
        got = np.array([rstdp_weight(w[i], fired[i], real(a_pre), real(a_other), real(0.2),
                                     real(0.8)) for i in range(len(w))], dtype)
        np.testing.assert_array_equal(got, want)
        assert ((got == 0.2) | (got == 0.8)).any() or abs(a_pre) < 0.1
