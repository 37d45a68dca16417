# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install, and run every reproduction (quick) -> report/index.html
#   make test   create .venv if missing, and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.spikewave-installed

.PHONY: demo test test-all lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, from the pinned CPU build, so nothing pulls CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spikewave reproduce all --quick --out report

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) report build src/*.egg-info .pytest_cache

# NIR round trips and the cross-library conformance tests (snnTorch, Norse: skipped without
# ../.peers-venv, made by bash ../shared/peers/install.sh), slow ones included.
.PHONY: conformance
conformance: $(STAMP)
	$(BIN)/python -m pytest -q -m '' tests/nir tests/nn/test_peer_equivalence.py
