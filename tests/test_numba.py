"""The compile wrapper: its error models, and the surrogate kernel compiled without zero tests."""

import numpy as np
import pytest

from spikewave._numba import njit
from spikewave.kernels.lif_fused import _sg_row


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
def test_surrogate_row_matches_its_python_source(kind):
    u = np.random.default_rng(kind).standard_normal(1000).astype(np.float32)
    fast, slow = np.empty(990, np.float32), np.empty(990, np.float32)
    _sg_row(u, kind, 5.0, 5, 995, fast)
    _sg_row.py_func(u, kind, 5.0, 5, 995, slow)
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=0)


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

    locator = _sg_row._cache._impl._locator
    file_stamp, package_stamp = locator.get_source_stamp()
    assert package_stamp == _numba.compiled_sources_digest()
    assert file_stamp  # Numba's own stamp of the defining file, kept beside it
