"""Run by a Python that has snnTorch, SpikingJelly and Norse (not by pytest): reads an input
current tensor ``[T, B, N]`` saved with torch.save, writes each library's LIF spikes.

    python peer_lif_spikes.py INPUT.pt OUTPUT.pt BETA

Configurations (all threshold 1):
- snnTorch ``Leaky(beta, reset_mechanism="subtract", reset_delay=False)``
- SpikingJelly ``LIFNode(tau = 1 / (1 - beta), decay_input=False, v_reset=None)`` (soft reset)
- Norse 1.1 ``LIF`` with ``dt = 1e-3``, ``tau_mem_inv = (1 - beta) / dt``,
  ``tau_syn_inv = 1 / dt`` (the input jumps into the synaptic current, which the step then
  empties), ``v_reset = 0``: its potential obeys ``v[t] = beta v[t-1] + (1 - beta) x[t]``
  with a reset to zero; it is fed ``x / (1 - beta)``, so its membrane sees ``x[t]``.
"""

import sys
import warnings

import torch

warnings.filterwarnings("ignore")


def main() -> None:
    x = torch.load(sys.argv[1])
    beta = float(sys.argv[3])
    out = {}
    from snntorch import Leaky
    lif = Leaky(beta=beta, threshold=1.0, reset_mechanism="subtract", reset_delay=False)
    mem = lif.init_leaky()
    spikes = []
    for x_t in x:
        spk, mem = lif(x_t, mem)
        spikes.append(spk)
    out["snntorch"] = torch.stack(spikes)

    from spikingjelly.activation_based import functional, neuron
    node = neuron.LIFNode(tau=1.0 / (1.0 - beta), decay_input=False, v_reset=None,
                          v_threshold=1.0, step_mode="m")
    functional.reset_net(node)
    out["spikingjelly"] = node(x)

    import norse.torch as nt
    dt = 1e-3
    p = nt.LIFParameters(tau_syn_inv=torch.tensor(1.0 / dt),
                         tau_mem_inv=torch.tensor((1.0 - beta) / dt),
                         v_leak=torch.tensor(0.0), v_th=torch.tensor(1.0),
                         v_reset=torch.tensor(0.0))
    z, _ = nt.LIF(p, dt=dt)(x / (1.0 - beta))  # its membrane sees x[t]
    out["norse"] = z
    torch.save({k: v.detach() for k, v in out.items()}, sys.argv[2])


if __name__ == "__main__":
    main()
