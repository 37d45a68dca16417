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

# mutation testing of the core (scripts/mutation.py; docs/dev/mutation.md): a seeded 6 %
# sample of every module's mutants by default, hours on 2 cores; MUTATION_ARGS= runs all
.PHONY: mutation
MUTATION_ARGS ?= --sample 0.06 --min-per-module 6 --seed 1
mutation: $(STAMP)
	nice -n 10 $(BIN)/python scripts/mutation.py --known-bugs
	nice -n 10 $(BIN)/python scripts/mutation.py $(MUTATION_ARGS)

lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) report build src/*.egg-info .pytest_cache

# the fuzz suite run long: 10,000 cases per reader, checkpoints and command lines
.PHONY: fuzz
fuzz: $(STAMP)
	SPIKEWAVE_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -q -m '' -p no:cacheprovider tests/fuzz

.PHONY: docs results package-check

# the documentation site into site/: render the generated pages from the committed JSON,
# then build with --strict (a broken link or reference fails)
docs: $(STAMP)
	$(BIN)/python docs/tools/render.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

# run every reproduction's full command and every tutorial again (hours), then render
results: $(STAMP)
	$(BIN)/python docs/tools/render.py results
	$(BIN)/python docs/tools/render.py tutorials

# the wheel and the sdist install in a clean venv and pass a smoke test
package-check: $(STAMP)
	scripts/check_package.sh $(BIN)/python $(PYTHON)
