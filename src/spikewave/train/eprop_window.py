"""e-prop's traces advanced a window of steps at a time, event-driven on sparse input.

Every trace of :mod:`spikewave.train.eprop_traces` -- the eligibility vector of a synapse
and what is accumulated from it (the filtered eligibility trace, the gradient) -- is a
linear recurrence whose coefficients belong to the *postsynaptic* neuron and whose drive is
the *presynaptic* input::

    X_ji[t] = A_j[t] X_ji[t-1] + c_j[t] p_i[t]          X_ji: a vector of D numbers

Over a window of ``W`` steps this unrolls to

    X_ji[t1] = Phi_j X_ji[t0] + sum_t K_j[t] p_i[t],
    Phi_j = A_j[t1] ... A_j[t0+1],   K_j[t] = A_j[t1] ... A_j[t+1] c_j[t],

where ``Phi`` and ``K`` are products over the neurons alone (``W n`` small matrices). The
synapses are then touched once per window (``Phi X``) plus once per non-zero input
(``X_ji += p_i[t] K_j[t]``, ``n D`` numbers per input event): the work follows the input's
events, not ``steps x inputs``. Dense input takes one batched matrix product
(``p^T K``) instead, and an input held constant over the window (a stride-0 view) one outer
product. The products run forward in time and never divide (no inverse powers of the
decays), so a window of any length is as accurate as stepping.

The state ``X`` of a synapse holds the eligibility vector (1 number for a LIF neuron, 2
for an ALIF) and the accumulators:

- ``"mean"`` (a loss of the time-averaged readout): ``G[t] = G[t-1] + w[t] e[t]``, with
  ``w[t]`` the weight of step ``t`` in the readout's time average;
- ``"per_step"`` (a loss at every step): the filtered trace ``ebar[t] = kappa ebar[t-1] +
  e[t]`` and ``acc[t] = acc[t-1] + L[t] ebar[t]``, the gradient so far.

Tested against the per-step rules of :mod:`spikewave.train.eprop_traces`.
"""

from __future__ import annotations

import numpy as np
import torch

from spikewave._numba import njit
from spikewave.kernels._threads import parallel_for, split_range
from spikewave.neurons.specs import ALIFSpec, LIFSpec

# Input density (non-zero entries / entries) up to which the synapses are advanced event by
# event; denser input takes the batched matrix product. Both do the same multiply-adds per
# non-zero input, the product over every entry but at the rate of a BLAS kernel, some 10-20
# times that of the event loop: the crossover lies near 0.05-0.1 (set from that count, to
# be measured on a quiet machine; spikewave.kernels.use(max_density=...) overrides it).
EVENT_DENSITY = 0.05


def leaky_window(x: torch.Tensor, beta: torch.Tensor | float, v0: torch.Tensor
                 ) -> torch.Tensor:
    """The leaky integrator ``v[t] = beta v[t-1] + x[t]`` over a window ``x [W, B, n]``
    from ``v0 [B, n]`` (``beta`` a number or ``[n]``): the values of
    :func:`spikewave.kernels.multistep.leaky` in one compiled pass on the CPU, elsewhere as
    one product with the matrix ``beta^(t-s)`` (``s <= t``) instead of ``W`` steps."""
    steps = x.shape[0]
    b = torch.as_tensor(beta, dtype=x.dtype, device=x.device)
    if compiles(x) and v0.dtype == x.dtype:
        out = torch.empty(x.shape, dtype=x.dtype)
        b_n = torch.broadcast_to(b.detach(), x.shape[2:]).contiguous().numpy()
        _parallel(_leaky_rows, (x.detach().contiguous().numpy(), b_n,
                                v0.detach().contiguous().numpy(), out.numpy()),
                  split_range(x.shape[1]))
        return out
    lag = torch.arange(steps, dtype=x.dtype, device=x.device)
    lags = lag[:, None] - lag[None, :]
    if b.dim() == 0:
        powers = torch.where(lags >= 0, b ** lags.clamp(min=0), 0.0)
        v = (powers @ x.reshape(steps, -1)).view_as(x)
        return v + (b ** (lag + 1))[:, None, None] * v0
    powers = torch.where(lags >= 0, b[:, None, None] ** lags.clamp(min=0), 0.0)  # [n, W, W]
    v = torch.einsum("jts,sbj->tbj", powers, x)
    return v + b ** (lag + 1)[:, None, None] * v0


@njit
def _leaky_rows(x, beta, v0, out, b0, b1):  # pragma: no cover - compiled
    """Samples ``b0..b1`` of :func:`leaky_window`: ``out[t] = beta out[t-1] + x[t]``."""
    steps, n = x.shape[0], x.shape[2]
    for b in range(b0, b1):
        for j in range(n):
            out[0, b, j] = beta[j] * v0[b, j] + x[0, b, j]
        for t in range(1, steps):
            for j in range(n):
                out[t, b, j] = beta[j] * out[t - 1, b, j] + x[t, b, j]


def compiles(t: torch.Tensor) -> bool:
    """Whether the compiled loops take a tensor like ``t`` (CPU, float32 or float64)."""
    return t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64)


def neuron_transitions(psi: torch.Tensor, spikes: torch.Tensor, beta: torch.Tensor,
                       spec: LIFSpec) -> tuple[torch.Tensor, ...]:
    """The eligibility vector's recurrence over a window, per neuron and step:
    ``(A [W, B, n, d, d], c [W, B, n, d], q [W, B, n, d], h [W, B, n])`` with ``eps[t] =
    A eps[t-1] + c p[t]`` and the eligibility trace ``e[t] = q . eps[t-1] + h p[t]``
    (``d`` = 1 for a LIF neuron, 2 for an ALIF). ``psi``, ``spikes``: ``[W, B, n]``."""
    b = torch.broadcast_to(beta, psi.shape)
    one = torch.ones_like(psi)
    if not isinstance(spec, ALIFSpec):
        return (b[..., None, None], one[..., None], (psi * b)[..., None], psi)
    ba = spec.adaptation
    a = torch.stack([torch.stack([b, -spikes * ba], -1),
                     torch.stack([psi * b, spec.rho - psi * ba], -1)], -2)
    return a, torch.stack([one, psi], -1), torch.stack([psi * b, -psi * ba], -1), psi


def mean_transitions(parts: tuple[torch.Tensor, ...], weight_t: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, c)`` of the state ``(eps, G)``: ``G[t] = G[t-1] + w[t] e[t]``; ``weight_t
    [W]``."""
    a_eps, c_eps, q, h = parts
    w = weight_t[:, None, None]
    d = a_eps.shape[-1]
    a = a_eps.new_zeros(*a_eps.shape[:3], d + 1, d + 1)
    a[..., :d, :d] = a_eps
    a[..., d, :d] = w[..., None] * q
    a[..., d, d] = 1.0
    c = torch.cat([c_eps, (w * h)[..., None]], -1)
    return a, c


def per_step_transitions(parts: tuple[torch.Tensor, ...], kappa: float,
                         signal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, c)`` of the state ``(eps, ebar, acc)``: ``ebar[t] = kappa ebar[t-1] + e[t]``,
    ``acc[t] = acc[t-1] + L[t] ebar[t]``; ``signal`` is ``L [W, B, n]``."""
    a_eps, c_eps, q, h = parts
    d = a_eps.shape[-1]
    a = a_eps.new_zeros(*a_eps.shape[:3], d + 2, d + 2)
    a[..., :d, :d] = a_eps
    a[..., d, :d] = q
    a[..., d, d] = kappa
    a[..., d + 1, :d] = signal[..., None] * q
    a[..., d + 1, d] = signal * kappa
    a[..., d + 1, d + 1] = 1.0
    c = torch.cat([c_eps, h[..., None], (signal * h)[..., None]], -1)
    return a, c


def window_products(a: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Phi [B, n, D, D]`` (the window's transition) and ``K [W, B, n, D]`` (what an input
    of step t adds at the window's end) from ``A [W, B, n, D, D]`` and ``c [W, B, n, D]``."""
    steps = a.shape[0]
    r = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a[0])
    k = torch.empty_like(c)
    for t in range(steps - 1, -1, -1):
        k[t] = (r @ c[t, ..., None])[..., 0]
        r = r @ a[t]
    return r.contiguous(), k


def compiled_window_products(psi: torch.Tensor, spikes: torch.Tensor, beta: torch.Tensor,
                             spec: LIFSpec, weight_t: torch.Tensor | None, kappa: float,
                             signal: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Phi, K)`` of :func:`window_products` for the transitions of
    :func:`neuron_transitions` with :func:`mean_transitions` (``weight_t`` given) or
    :func:`per_step_transitions` (``signal`` given), in one compiled pass over the
    neurons (CPU, float32 or float64): no ``[W, B, n, D, D]`` tensor is made."""
    steps, batch, n = psi.shape
    alif = isinstance(spec, ALIFSpec)
    d = 2 if alif else 1
    dim = d + (1 if weight_t is not None else 2)
    np_dtype = psi.numpy().dtype
    b_n = torch.broadcast_to(beta.detach().to(psi.dtype), (n,)).contiguous().numpy()
    w = (weight_t if weight_t is not None else psi.new_zeros(steps)).to(psi.dtype)
    sig = signal if signal is not None else psi.new_zeros(1, 1, 1)
    phi = np.empty((batch, n, dim, dim), np_dtype)
    k = np.empty((steps, batch, n, dim), np_dtype)
    ps, ss = psi.contiguous().numpy(), spikes.contiguous().numpy()
    ws, gs = w.contiguous().numpy(), sig.to(psi.dtype).contiguous().numpy()
    ba = spec.adaptation if alif else 0.0
    rho = spec.rho if alif else 0.0
    per_step = weight_t is None
    _parallel(_products_rows, (ps, ss, b_n, ws, gs, kappa, ba, rho, d, per_step, phi, k),
              split_range(batch))
    return torch.from_numpy(phi), torch.from_numpy(k)


@njit
def _fill_transition(psi, s, beta, w, sig, kappa, ba, rho, d, per_step, a,
                     c):  # pragma: no cover - compiled
    """``A`` and ``c`` of one neuron at one step (the rules of :func:`neuron_transitions`
    and :func:`mean_transitions` / :func:`per_step_transitions`); sets every entry that
    is not always zero (``a`` starts zeroed)."""
    # the eligibility vector: eps = A_eps eps + c_eps p; e = q . eps + h p
    a[0, 0] = beta
    c[0] = 1.0
    q0 = psi * beta
    q1 = 0.0
    if d == 2:
        a[0, 1] = -s * ba
        a[1, 0] = psi * beta
        a[1, 1] = rho - psi * ba
        c[1] = psi
        q1 = -psi * ba
    if per_step:
        # ebar = kappa ebar + e; acc = acc + L ebar
        a[d, 0] = q0
        a[d + 1, 0] = sig * q0
        if d == 2:
            a[d, 1] = q1
            a[d + 1, 1] = sig * q1
        a[d, d] = kappa
        a[d + 1, d] = sig * kappa
        a[d + 1, d + 1] = 1.0
        c[d] = psi
        c[d + 1] = sig * psi
    else:
        # G = G + w e
        a[d, 0] = w * q0
        if d == 2:
            a[d, 1] = w * q1
        a[d, d] = 1.0
        c[d] = w * psi


@njit
def _products_rows(psi, spikes, beta, w, sig, kappa, ba, rho, d, per_step, phi, k, b0,
                   b1):  # pragma: no cover - compiled
    """Samples ``b0..b1`` of :func:`compiled_window_products`: backward over the steps,
    every neuron's running product ``R = A[t1] ... A[t+1]`` kept in ``phi``."""
    steps, n = psi.shape[0], psi.shape[2]
    dim = phi.shape[2]
    a = np.zeros((dim, dim), phi.dtype)
    c = np.zeros(dim, phi.dtype)
    tmp = np.empty((dim, dim), phi.dtype)
    for b in range(b0, b1):
        r = phi[b]
        r[:, :, :] = 0.0
        for j in range(n):
            for e in range(dim):
                r[j, e, e] = 1.0
        for t in range(steps - 1, -1, -1):
            for j in range(n):
                g = sig[t, b, j] if per_step else 0.0
                _fill_transition(psi[t, b, j], spikes[t, b, j], beta[j], w[t], g, kappa,
                                 ba, rho, d, per_step, a, c)
                for e in range(dim):
                    acc = 0.0
                    for f in range(dim):
                        acc += r[j, e, f] * c[f]
                    k[t, b, j, e] = acc
                for e in range(dim):
                    for f in range(dim):
                        acc = 0.0
                        for m in range(dim):
                            acc += r[j, e, m] * a[m, f]
                        tmp[e, f] = acc
                for e in range(dim):
                    for f in range(dim):
                        r[j, e, f] = tmp[e, f]


def advance_neurons(x: torch.Tensor, phi: torch.Tensor, k: torch.Tensor, pre: torch.Tensor,
                    zero: bool = False) -> torch.Tensor:
    """The state ``[B, n, D']`` of a per-neuron parameter (input ``pre [W, B, n]``) after
    the window (``zero``: as for :func:`advance_synapses`)."""
    drive = torch.einsum("tbjd,tbj->bjd", k[..., k.shape[-1] - x.shape[-1]:], pre)
    return drive if zero else (phi @ x[..., None])[..., 0] + drive


def advance_synapses(x: torch.Tensor, phi: torch.Tensor, k: torch.Tensor, pre: torch.Tensor,
                     max_density: float = EVENT_DENSITY, zero: bool = False,
                     compiled: bool | None = None) -> str:
    """Advance the synapses' state ``x [B, n_pre, D', n]`` (contiguous, in place; the
    state's components before the neurons, so that the loops over the neurons are
    contiguous) over a window with presynaptic input ``pre [W, B, n_pre]``, from ``Phi
    [B, n, D, D]`` and ``K [W, B, n, D]`` (:func:`window_products`); returns the path
    taken: ``"constant"`` (the input a stride-0 view over time, or one step), ``"event"``
    (at most ``max_density`` of the inputs non-zero) or ``"dense"``. On the CPU (float32
    or float64) the synapses are visited by compiled loops, elsewhere (or with
    ``compiled=False``) by PyTorch.

    ``zero``: ``x`` is all zeros (the first window), so ``Phi x`` is skipped and only the
    synapses with input are touched; ``x`` may then hold only the last ``D' < D``
    components of the state (the accumulators, when this window is also the last)."""
    steps, batch, n_pre = pre.shape
    kept = x.shape[2]
    if kept != k.shape[-1] and not zero:
        raise ValueError("a partial state can only start from zero")
    k = k[..., k.shape[-1] - kept:].transpose(2, 3).contiguous()  # [W, B, D', n]
    phi = phi.permute(0, 2, 3, 1)                                  # [B, D, D, n]
    constant = pre.stride(0) == 0 or steps == 1
    if not (compiles(x) if compiled is None else compiled):
        if not zero:
            x.copy_(torch.einsum("bdej,biej->bidj", phi, x))
        if constant:
            x.add_(pre[0][:, :, None, None] * k.sum(0)[:, None])
            return "constant"
        x.add_(_dense_drive(pre, k, x.dtype).view(x.shape))
        return "dense"
    xs = x.numpy()
    if constant:
        const_pre, const_k = pre[0].to(x.dtype).contiguous(), k.sum(0).contiguous()
        ph = phi.contiguous().numpy() if not zero else np.zeros((batch, 0, 0, 0), xs.dtype)
        arrays = (xs, ph, const_pre.numpy(), const_k.numpy())
        _parallel(_transform_rows, arrays, split_range(batch))
        return "constant"
    if not zero:
        none = np.zeros((batch, 0), xs.dtype)
        arrays = (xs, phi.contiguous().numpy(), none, none[..., None])
        _parallel(_transform_rows, arrays, split_range(batch))
    flat = pre.reshape(steps * batch, n_pre)
    if int(torch.count_nonzero(flat)) > max_density * flat.numel():
        x.add_(_dense_drive(pre, k, x.dtype).view(x.shape))
        return "dense"
    nz = flat.nonzero()
    rows, cols = nz[:, 0], nz[:, 1]
    ptr = torch.zeros(steps * batch + 1, dtype=torch.int64)
    ptr[1:] = torch.cumsum(torch.bincount(rows, minlength=steps * batch), 0)
    arrays = (xs.reshape(batch, n_pre, -1), k.reshape(steps, batch, -1).numpy(),
              ptr.numpy(), cols.contiguous().numpy(),
              flat[rows, cols].to(x.dtype).contiguous().numpy())
    _parallel(_scatter_rows, arrays, split_range(batch))
    return "event"


@njit
def _transform_rows(x, phi, const_pre, const_k, b0, b1):  # pragma: no cover - compiled
    """Samples ``b0..b1``: every synapse ``x[b, i, :, j] = Phi[b, :, :, j] x[b, i, :, j]``
    (``x [B, n_pre, D, n]``, ``Phi [B, D, D, n]``; no ``Phi``, shape ``[B, 0, 0, 0]``:
    ``x`` is zero), plus ``p[b, i] Ksum[b, :, j]`` for a constant input ``const_pre [B,
    n_pre]`` (``[B, 0]``: none). The innermost loops run over the neurons."""
    n_pre, dim, n = x.shape[1], x.shape[2], x.shape[3]
    constant = const_pre.shape[1] > 0
    transform = phi.shape[1] > 0
    new = np.empty((dim, n), x.dtype)
    for b in range(b0, b1):
        for i in range(n_pre):
            row = x[b, i]
            p = const_pre[b, i] if constant else 0.0
            for d in range(dim):
                out = new[d]
                if constant:
                    ck = const_k[b, d]
                    for j in range(n):
                        out[j] = p * ck[j]
                else:
                    out[:] = 0.0
                if transform:
                    for e in range(dim):
                        ph = phi[b, d, e]
                        xe = row[e]
                        for j in range(n):
                            out[j] += ph[j] * xe[j]
            row[:, :] = new


@njit
def _scatter_rows(x, k, ptr, idx, vals, b0, b1):  # pragma: no cover - compiled
    """Samples ``b0..b1``: for each non-zero input ``(t, b, i)`` (CSR rows ``t * B + b``)
    ``x[b, i, :] += p K[t, b, :]`` (``x [B, n_pre, D n]``, ``K [W, B, D n]``)."""
    steps, batch, width = k.shape[0], k.shape[1], k.shape[2]
    for b in range(b0, b1):
        for t in range(steps):
            r = t * batch + b
            kt = k[t, b]
            for m in range(ptr[r], ptr[r + 1]):
                row = x[b, idx[m]]
                v = vals[m]
                for q in range(width):
                    row[q] += v * kt[q]


def contract(x: torch.Tensor, signal: torch.Tensor | None, compiled: bool | None = None
             ) -> torch.Tensor:
    """``sum_b L[b, j] x[b, i, -1, j]`` (``signal`` L ``[B, n]``; None: ``sum_b x[b, i,
    -1, j]``) as ``[n, n_pre]``: the gradient of a weight matrix from its accumulated
    traces (``x [B, n_pre, D, n]``)."""
    acc = x[:, :, -1]
    if not (compiles(x) if compiled is None else compiled):
        return (acc.sum(0) if signal is None else (acc * signal[:, None, :]).sum(0)).T
    batch, n_pre, n = acc.shape
    sig = (x.new_ones(batch, n) if signal is None else signal.to(x.dtype)).contiguous()
    out = x.new_empty(n_pre, n)
    xs, ss, os_ = x.numpy(), sig.numpy(), out.numpy()
    _parallel(_contract_rows, (xs, ss, os_), split_range(n_pre, 16))
    return out.T


@njit
def _contract_rows(x, signal, out, i0, i1):  # pragma: no cover - compiled
    """Rows ``i0..i1`` of :func:`contract`."""
    batch, last, n = x.shape[0], x.shape[2] - 1, x.shape[3]
    for i in range(i0, i1):
        o = out[i]
        o[:] = 0.0
        for b in range(batch):
            xr = x[b, i, last]
            sr = signal[b]
            for j in range(n):
                o[j] += sr[j] * xr[j]


def _parallel(kernel, args: tuple, ranges: list[tuple[int, int]]) -> None:
    """``kernel(*args, start, stop)`` over ``ranges`` on the kernels' threads. The
    arguments are reached through a holder emptied afterwards, so that nothing the call
    left behind (a pool thread's last job) keeps the arrays alive."""
    holder = [args]
    parallel_for(lambda r: kernel(*holder[0], r[0], r[1]), ranges)
    holder.clear()


def _dense_drive(pre: torch.Tensor, k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``sum_t p[t, b, i] K[t, b]`` as a batched matrix product ``[B, n_pre, D n]`` (``K
    [W, B, D, n]``)."""
    steps, batch, _ = pre.shape
    return torch.bmm(pre.permute(1, 2, 0).to(dtype),
                     k.permute(1, 0, 2, 3).reshape(batch, steps, -1))


__all__ = ["EVENT_DENSITY", "advance_neurons", "advance_synapses", "compiled_window_products",
           "compiles", "contract", "leaky_window", "mean_transitions", "neuron_transitions",
           "per_step_transitions", "window_products"]
