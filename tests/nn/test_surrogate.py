"""Surrogate contract: Heaviside forward, derivative of the stated primitive backward."""

import pickle

import pytest
import torch

from spikewave import ParameterError
from spikewave.nn import SURROGATES

ALL = [cls(scale) for cls in SURROGATES.values() for scale in (0.5, 1.0, 5.0)]


@pytest.mark.parametrize("sg", ALL, ids=repr)
def test_forward_is_heaviside_with_tie_firing(sg):
    x = torch.tensor([-1.0, -1e-9, 0.0, 1e-9, 2.0], dtype=torch.float64)
    out = sg(x)
    assert out.dtype == torch.float64
    assert out.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert sg(x.float()).dtype == torch.float32


@pytest.mark.parametrize("sg", ALL, ids=repr)
def test_backward_is_the_derivative_of_the_primitive(sg):
    x = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    # stay off the kinks of the piecewise primitives, where no derivative exists
    kinks = torch.tensor([-1.0 / sg.scale, 0.0, 1.0 / sg.scale], dtype=torch.float64)
    x = x[(x[:, None] - kinks[None, :]).abs().min(1).values > 1e-3]
    x.requires_grad_(True)
    sg(x).backward(torch.ones_like(x))
    h = 1e-6
    fd = (sg.primitive(x.detach() + h) - sg.primitive(x.detach() - h)) / (2 * h)
    torch.testing.assert_close(x.grad, fd, rtol=1e-6, atol=1e-7)
    # each derivative integrates to 1 over the real line (a proper smoothed step)
    grid = torch.linspace(-200, 200, 2_000_001, dtype=torch.float64)
    assert torch.trapezoid(sg.derivative(grid), grid).item() == pytest.approx(
        1.0 if type(sg).__name__ != "FastSigmoid" else 2.0 / sg.scale, rel=2e-2)


def test_surrogates_are_immutable_values():
    sg = SURROGATES["atan"](2.0)
    assert pickle.loads(pickle.dumps(sg)) == sg
    with pytest.raises(AttributeError):
        sg.scale = 3.0  # type: ignore[misc]
    with pytest.raises(ParameterError, match="scale"):
        SURROGATES["boxcar"](0.0)
