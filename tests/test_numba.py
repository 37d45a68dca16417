"""The compile wrapper: its error models, and the surrogate kernel compiled without zero tests."""

import numpy as np
import pytest
import torch

from spikewave._numba import njit
from spikewave.kernels._surrogate import sg_row
from spikewave.surrogate import ATan, Boxcar, FastSigmoid, Sigmoid, Triangle


def _ratio(a, b):
    return a / b


def _ratio_ieee(a, b):  # a function of its own: the disk cache is per function
    return a / b


def test_error_models():
    python_model = njit(_ratio)
    numpy_model = njit(error_model="numpy")(_ratio_ieee)
    assert python_model(3.0, 4.0) == numpy_model(3.0, 4.0) == 0.75
    with pytest.raises(ZeroDivisionError):
        python_model(1.0, 0.0)
    assert numpy_model(1.0, 0.0) == np.inf  # no test of the divisor: IEEE result
    with pytest.raises(ValueError, match="error_model"):
        njit(error_model="fast")


@pytest.mark.parametrize("kind", range(5))
def test_the_kernels_surrogate_row_is_the_class_derivative(kind):
    """The kernels' branch on the surrogate's number reaches that class's derivative, over
    the columns asked for, in the row's precision (vectorised without zero tests)."""
    surrogate = (FastSigmoid, ATan, Sigmoid, Triangle, Boxcar)[kind](5.0)
    u = np.random.default_rng(kind).standard_normal(1000).astype(np.float32) * 0.5
    out = np.empty(990, np.float32)
    sg_row(u, kind, 5.0, 5, 995, out, np.empty((0, 0), np.float32), 0)
    want = surrogate.derivative(torch.from_numpy(u[5:995])).numpy()
    assert want.dtype == np.float32 and np.abs(want).max() > 0
    np.testing.assert_allclose(out, want, rtol=2e-6, atol=1e-7)


def test_the_cache_stamp_follows_every_file_with_compiled_code(tmp_path):
    from spikewave import _numba

    (tmp_path / "kernels").mkdir()
    kernel = tmp_path / "kernels" / "a.py"
    helper = tmp_path / "b.py"
    plain = tmp_path / "c.py"
    kernel.write_text("@njit\ndef f(x):\n    return g(x)\n")
    helper.write_text("@intrinsic\ndef g(typingctx, x):\n    pass\n")
    plain.write_text("def h():\n    return 1\n")
    first = _numba.compiled_sources_digest(tmp_path)
    plain.write_text("def h():\n    return 2\n")  # no compiled code: no recompiling
    assert _numba.compiled_sources_digest(tmp_path) == first
    helper.write_text("@intrinsic\ndef g(typingctx, x):\n    return None\n")
    second = _numba.compiled_sources_digest(tmp_path)
    assert second != first  # a helper inlined from another file changed: recompile
    kernel.rename(tmp_path / "kernels" / "d.py")
    assert _numba.compiled_sources_digest(tmp_path) not in (first, second)


def test_kernels_are_cached_under_the_package_stamp():
    from spikewave import _numba

    locator = sg_row._cache._impl._locator
    file_stamp, package_stamp = locator.get_source_stamp()
    assert package_stamp == _numba.compiled_sources_digest()
    assert file_stamp  # Numba's own stamp of the defining file, kept beside it
