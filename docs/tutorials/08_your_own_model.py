# %% [markdown]
# # 8. Writing your own neuron model or reproduction
#
# The house rules, in code: a frozen parameter record that validates its fields with units
# in their names, a pure step function on explicit state, a thin PyTorch module around it,
# tests against a reference; and a reproduction is a function that returns its figures of
# merit beside the reference, registered by one line.

# %%
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikewave.plot import new_figure, save_figure

QUICK = os.environ.get("SPIKEWAVE_DOCS_QUICK") == "1"
OUT = Path(os.environ.get("SPIKEWAVE_TUTORIAL_OUT", "tutorial_figures"))

# %% [markdown]
# ## A neuron model: the quadratic integrate-and-fire neuron
#
# `tau dV/dt = (V - V_rest)(V - V_crit) / delta_v + R I`, reset to `V_reset` when `V`
# reaches `V_peak`. Parameters are a frozen dataclass deriving from
# `spikewave._validation.Params`; each field declares its range with `param`, and
# `_check_consistency` checks the rules that involve several fields. A bad value raises a
# `ParameterError` that names the parameter, the value and what is allowed.

# %%
from spikewave import ParameterError
from spikewave._validation import POSITIVE, REAL, Params, fail, param


@dataclass(frozen=True)
class QIFParams(Params):
    """Quadratic integrate-and-fire neuron (Latham et al. 2000)."""

    tau_m_ms: float = param(10.0, POSITIVE, "membrane time constant (ms)")
    v_rest_mv: float = param(-65.0, REAL, "resting potential (mV)")
    v_crit_mv: float = param(-50.0, REAL, "critical potential, the unstable fixed point (mV)")
    delta_v_mv: float = param(15.0, POSITIVE, "curvature scale (mV)")
    v_peak_mv: float = param(20.0, REAL, "spike cut-off (mV)")
    v_reset_mv: float = param(-70.0, REAL, "reset potential (mV)")
    r_mohm: float = param(10.0, POSITIVE, "membrane resistance (MOhm)")

    def _check_consistency(self) -> None:
        if self.v_crit_mv <= self.v_rest_mv:
            raise fail("v_crit_mv", self.v_crit_mv, f"above v_rest_mv = {self.v_rest_mv:g}",
                       "QIFParams")


try:
    QIFParams(tau_m_ms=-1.0)
except ParameterError as err:
    print(err)

# %% [markdown]
# The dynamics are one pure function of the state and the parameters, written once and used
# by every simulation path; here a forward-Euler step on NumPy arrays or torch tensors.

# %%
def qif_step(v, current_na, p: QIFParams, dt_ms: float):
    """One Euler step of ``dt_ms``; returns ``(spiked, v_next)``."""
    dv = ((v - p.v_rest_mv) * (v - p.v_crit_mv) / p.delta_v_mv + p.r_mohm * current_na)
    v = v + dt_ms / p.tau_m_ms * dv
    spiked = v >= p.v_peak_mv
    return spiked, np.where(spiked, p.v_reset_mv, v) if isinstance(v, np.ndarray) else \
        torch.where(spiked, torch.full_like(v, p.v_reset_mv), v)


def simulate_qif(p: QIFParams, current_na: float, duration_ms: float, dt_ms: float = 0.01):
    v = np.array([p.v_rest_mv])
    trace, spikes = [], []
    for n in range(int(round(duration_ms / dt_ms))):
        spiked, v = qif_step(v, current_na, p, dt_ms)
        trace.append(v[0])
        if spiked[0]:
            spikes.append((n + 1) * dt_ms)
    return np.array(spikes), np.array(trace)


p = QIFParams()
spikes_ms, trace = simulate_qif(p, current_na=1.0, duration_ms=200.0)
print(f"{spikes_ms.size} spikes in 200 ms")

# %% [markdown]
# ## Test it against a reference
#
# For constant input above rheobase and an infinite peak and reset, the QIF interspike
# interval has a closed form,
# `T = pi tau / sqrt(R I / delta_v - ((V_crit - V_rest) / (2 delta_v))^2)`: with a large
# peak and a low reset, the simulated interval should approach it as `dt` shrinks. A test
# in your suite would assert the relative error; here we print it.

# %%
def qif_period_ms(p: QIFParams, current_na: float) -> float:
    a = p.r_mohm * current_na / p.delta_v_mv - ((p.v_crit_mv - p.v_rest_mv)
                                                 / (2 * p.delta_v_mv)) ** 2
    return math.pi * p.tau_m_ms / math.sqrt(a)


far = QIFParams(v_peak_mv=1e4, v_reset_mv=-1e4)
for dt in ((0.01,) if QUICK else (0.01, 0.001)):
    s, _ = simulate_qif(far, 1.0, 400.0, dt_ms=dt)
    err = abs(np.diff(s).mean() - qif_period_ms(far, 1.0)) / qif_period_ms(far, 1.0)
    print(f"dt = {dt} ms: period {np.diff(s).mean():.3f} ms against the closed form "
          f"{qif_period_ms(far, 1.0):.3f} ms (relative error {err:.1e})")

# %% [markdown]
# ## A PyTorch layer around it
#
# For surrogate-gradient training, the step runs on tensors `[T, B, n]` with a surrogate
# in place of the threshold's derivative. The module holds only the parameters; the
# dynamics are the same function.

# %%
from spikewave.nn import FastSigmoid


class QIF(nn.Module):
    """Quadratic integrate-and-fire neurons on ``[T, B, n]`` input currents (nA)."""

    def __init__(self, p: QIFParams, dt_ms: float = 1.0, surrogate=None):
        super().__init__()
        self.p, self.dt_ms = p, dt_ms
        self.surrogate = FastSigmoid(0.5) if surrogate is None else surrogate

    def forward(self, current_na: torch.Tensor) -> torch.Tensor:
        p = self.p
        v = torch.full_like(current_na[0], p.v_rest_mv)
        out = []
        for i_t in current_na:
            dv = (v - p.v_rest_mv) * (v - p.v_crit_mv) / p.delta_v_mv + p.r_mohm * i_t
            v = (v + self.dt_ms / p.tau_m_ms * dv).clamp(max=p.v_peak_mv)
            s = self.surrogate(v - p.v_peak_mv)
            v = s * p.v_reset_mv + (1 - s) * v          # reset through the spike
            out.append(s)
        return torch.stack(out)


gen = torch.Generator().manual_seed(0)
current = (2.0 * torch.rand(50, 4, 3, generator=gen)).requires_grad_()
spk = QIF(p)(current)
spk.sum().backward()
print(f"{int(spk.sum())} spikes; gradient reaches the input: {current.grad.abs().sum() > 0}")

fig, ax = new_figure(width=7, height=3)
ax.plot(np.arange(trace.size) * 0.01, trace, lw=0.8)
ax.set(xlabel="time (ms)", ylabel="V (mV)", title="quadratic integrate-and-fire, 1 nA")
save_figure(fig, OUT / "08_qif.png", caption=(
    "Membrane potential (mV) of the quadratic integrate-and-fire neuron under a 1 nA step "
    "against time (ms): slow approach past the critical potential, then a runaway upstroke "
    "cut at the peak and reset."))

# %% [markdown]
# ![QIF trace](figures/08_qif.png)
#
# ## A reproduction
#
# A reproduction is a module with a `run(ctx, **options)` that returns a `Result`: its
# figures of merit (`Metric`, or the helpers `within_rel` and `below`), each beside its
# reference and the criterion applied, and the figures it drew. A shortfall that is
# understood and documented is declared as a `KnownPartial`, so that it reads as such, not
# as a failure. The project's reproductions are registered by one line each in
# `spikewave/experiments/__init__.py` (`"name": "module path"`); `spikewave reproduce NAME`
# then runs it, prints its table and writes its figures.

# %%
from spikewave.experiments.registry import Reproduction, Result, RunContext, within_rel
from spikewave.report import format_table


def run(ctx: RunContext, current_na: float = 1.0) -> Result:
    far = QIFParams(v_peak_mv=1e4, v_reset_mv=-1e4)
    s, _ = simulate_qif(far, current_na, 300.0, dt_ms=0.01 if ctx.quick else 0.001)
    fig, ax = new_figure(width=5, height=3)
    ax.plot(np.diff(s), "o")
    ax.set(xlabel="interval index", ylabel="interspike interval (ms)")
    path = save_figure(fig, ctx.figure_path("qif_isi.png"))
    metric = within_rel("period_ms", float(np.diff(s).mean()), qif_period_ms(far, current_na),
                        0.01, "ms", "closed form")
    return Result("qif", "QIF period against its closed form", [metric], [path],
                  config={"current_na": current_na})


qif = Reproduction(name="qif", title="QIF period against its closed form", run=run)
with tempfile.TemporaryDirectory() as out_dir:
    result = qif.execute(RunContext(quick=True, out_dir=Path(out_dir), progress=False))
    print(format_table([result]))
    print(f"status: {result.status}; command: {result.command}")
