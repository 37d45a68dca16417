"""Retina front end: difference-of-Gaussians (DoG) ON/OFF filters and local normalisation.

A DoG kernel of odd size ``s`` is ``G(sigma_center) - G(sigma_surround)`` on the ``s x s``
grid centred on 0, each Gaussian normalised to unit sum over the grid, then made exactly
zero-mean and scaled so that its largest absolute entry is 1 (as in SpykeTorch's
``DoGKernel``). An ON-centre cell responds to ``(image * k)``, the OFF-centre cell at the same
place to ``-(image * k)``; each keeps only its positive part above ``threshold``. So a
uniform patch gives no response, and a bright spot on a dark surround drives ON cells only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from spikewave._validation import NON_NEGATIVE, POSITIVE, check_int, check_number, fail


def dog_kernel(size: int, sigma_center: float, sigma_surround: float) -> np.ndarray:
    """The ``size x size`` zero-mean, max-abs-normalised DoG kernel (float64)."""
    n = check_int("size", size, 1)
    if n % 2 == 0:
        raise fail("size", size, "an odd integer >= 1 (the kernel has a centre pixel)")
    s1 = check_number("sigma_center", sigma_center, POSITIVE)
    s2 = check_number("sigma_surround", sigma_surround, POSITIVE)
    if s1 == s2:
        raise fail("sigma_surround", sigma_surround, f"different from sigma_center = {s1:g}")
    r = np.arange(n) - n // 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    g1 = np.exp(-d2 / (2 * s1 * s1))
    g2 = np.exp(-d2 / (2 * s2 * s2))
    k = g1 / g1.sum() - g2 / g2.sum()
    k -= k.mean()
    return k / np.abs(k).max()


def dog_filter(images: torch.Tensor, kernels: Sequence[tuple[int, float, float]] = ((7, 1.0, 2.0),),
               padding: int | None = None, threshold: float = 0.0) -> torch.Tensor:
    """ON/OFF DoG responses of ``images`` ``[B, H, W]``: ``[B, 2 * len(kernels), H', W']``.

    Channel ``2 i`` is the ON response of kernel ``i`` (``size, sigma_center,
    sigma_surround``), channel ``2 i + 1`` its OFF response. ``padding`` defaults to
    ``size // 2`` of the largest kernel (same-size output); responses ``<= threshold`` are 0.
    """
    if images.ndim != 3:
        raise fail("images", f"a tensor of shape {tuple(images.shape)}", "shape [B, H, W]")
    if not torch.isfinite(images).all():
        raise fail("images", "a tensor with NaN or inf", "finite intensities")
    if not kernels:
        raise fail("kernels", "an empty list", "at least one (size, sigma_center, sigma_surround)")
    check_number("threshold", threshold, NON_NEGATIVE)
    big = max(check_int("size", k[0], 1) for k in kernels)
    pad = big // 2 if padding is None else check_int("padding", padding, 0)
    if min(images.shape[1:]) + 2 * pad < big:
        raise fail("kernels", f"a kernel of size {big}", f"at most the padded image size "
                   f"{min(images.shape[1:]) + 2 * pad} (image {tuple(images.shape[1:])}, "
                   f"padding {pad})")
    bank = np.zeros((len(kernels), 1, big, big))
    for i, (size, s1, s2) in enumerate(kernels):
        off = (big - size) // 2
        bank[i, 0, off:off + size, off:off + size] = dog_kernel(size, s1, s2)
    weight = torch.as_tensor(bank, dtype=images.dtype, device=images.device)
    resp = F.conv2d(images.unsqueeze(1), weight, padding=pad)
    on_off = torch.stack([resp, -resp], dim=2).flatten(1, 2)
    return torch.where(on_off > threshold, on_off, torch.zeros_like(on_off))


def local_normalization(x: torch.Tensor, radius: int, eps: float = 1e-12) -> torch.Tensor:
    """Divide each value of ``x`` ``[B, C, H, W]`` by the mean over channels and a
    ``(2 radius + 1)^2`` window around it (SpykeTorch's ``local_normalization``)."""
    r = check_int("radius", radius, 0)
    if x.ndim != 4:
        raise fail("x", f"a tensor of shape {tuple(x.shape)}", "shape [B, C, H, W]")
    k = 2 * r + 1
    mean = F.avg_pool2d(x.mean(1, keepdim=True), k, stride=1, padding=r,
                        count_include_pad=True)
    return x / (mean + eps)
