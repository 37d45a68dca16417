#!/usr/bin/env bash
# Build the wheel and the sdist, install each in a clean virtual environment (torch first,
# the CPU build, so that no CUDA packages are pulled) and run a smoke test from outside the
# source tree. Usage: scripts/check_package.sh BUILD_PYTHON [PYTHON]
#   BUILD_PYTHON: a Python with the `build` package (the project's .venv/bin/python)
#   PYTHON: the base Python of the clean environments (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_PY="$1"
PY="${2:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
rm -rf dist
"$BUILD_PY" -m build --outdir dist . > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; exit 1; }
ls dist
wheel=$(ls dist/*.whl)
sdist=$(ls dist/*.tar.gz)
# the wheel holds the package, its marker for type checkers, and no tests or docs
"$PY" - "$wheel" <<'PYEOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
assert "spikewave/py.typed" in names, "py.typed missing from the wheel"
assert any(n.endswith("/LICENSE") for n in names), "LICENSE missing from the wheel"
assert not any(n.startswith(("tests/", "docs/", "benchmarks/")) for n in names), names
print(f"wheel: {len(names)} files")
PYEOF
venv="$WORK/venv"
"$PY" -m venv "$venv"
"$venv/bin/pip" install --quiet torch==2.13.0      # torch first: the CPU build, no CUDA
for artefact in "$wheel" "$sdist"; do
    "$venv/bin/pip" uninstall --quiet --yes spikewave > /dev/null 2>&1 || true
    "$venv/bin/pip" install --quiet "$artefact"
    (
        cd "$WORK"
        "$venv/bin/spikewave" --version
        "$venv/bin/spikewave" list > /dev/null
        "$venv/bin/spikewave" reproduce coincidence --quick --json --out "$WORK/out" | tail -1 \
            | "$venv/bin/python" -c "import json, sys; r = json.load(sys.stdin); \
assert r['status'] == 'pass', r; print('smoke test:', r['name'], r['status'])"
        "$venv/bin/python" -c "import spikewave, spikewave.nn, torch; \
print('import from', spikewave.__file__)"
    )
done
echo "package check passed: $(basename "$wheel"), $(basename "$sdist")"
