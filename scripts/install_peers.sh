#!/usr/bin/env bash
# Installs the peer SNN libraries that spikewave's equivalence and conformance tests compare
# with -- snnTorch, SpikingJelly, Norse, Brian2, nir/nirtorch and NeuroBench -- into a
# virtual environment of their own, never into the project's.
#   usage: bash scripts/install_peers.sh [VENV_DIR]        (default: .peers-venv)
# The tests find it through SPIKEWAVE_PEERS_PYTHON=VENV_DIR/bin/python (or at
# ../.peers-venv beside the repository). torch stays at 2.13.0, the CPU build: every install
# below is constrained to it, so no package pulls a CUDA build. About 2 minutes, 1.4 GB.
set -euo pipefail
venv=${1:-.peers-venv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c \
    "import snntorch, spikingjelly, norse, brian2, nir, nirtorch, neurobench" 2>/dev/null; then
  echo "peers already installed in $venv"
  exit 0
fi
python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install -q --upgrade pip
"$pip" install -q torch==2.13.0
# Brian2 2.9 (the newest for Python 3.11) still calls ndarray.ptp, gone in NumPy 2.4.
# nir and nirtorch at the versions the project's NIR conventions are tested against
# (pyproject's nir extra): a newer major version of either may change the graph format.
printf "torch==2.13.0\nnumpy<2.4\nnir>=1.0.6,<1.1\nnirtorch>=2.4,<3\n" > "$venv/constraints.txt"
"$pip" install -q -c "$venv/constraints.txt" numpy scipy matplotlib psutil snntorch \
  spikingjelly brian2
# Norse's published wheel metadata may not resolve against torch 2.13; its sdist builds
# without a compiler, and its two runtime needs are added by hand.
"$pip" install -q -c "$venv/constraints.txt" norse \
  || { "$pip" install -q --no-deps --no-build-isolation norse \
       && "$pip" install -q -c "$venv/constraints.txt" nir nirtorch; }
# NIR (the neuromorphic interchange format) and NeuroBench (metric definitions).
"$pip" install -q -c "$venv/constraints.txt" nir nirtorch neurobench
"$venv/bin/python" - <<'PY'
import importlib
for m in ("torch", "snntorch", "spikingjelly", "norse", "brian2", "nir", "neurobench"):
    mod = importlib.import_module(m)
    print(f"{m:13s} {getattr(mod, '__version__', '?')}")
PY
echo "peers installed in $venv"
