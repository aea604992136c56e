# Two commands for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
CORES ?= all
BIN := $(VENV)/bin

.PHONY: help demo test test-fast lint env allensdk-env clean-results

## help: list these commands, one line each
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /make /'

# The environment is rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import nidecode, torch, torchvision, snakemake"
	touch $@

## env: create .venv and install the package, its pinned dependencies and the dev tools
env: $(VENV)/.installed

## demo: install, then run the main job on the embedded default (simulated sessions)
demo: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

## test: install if needed, then run every test (slow ones included, as CI does)
# Two pytest workers (pytest-xdist), each test file on one of them, so that a file's shared
# fixtures (one tiny workflow run read by many tests) are built once; TEST_WORKERS=0 runs in
# one process.
TEST_WORKERS ?= 2
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## test-fast: the tests not marked slow (no workflow runs, environments or cluster), same workers
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow"

## lint: ruff on the package and tests, and snakemake --lint on the workflow
lint: $(VENV)/.installed
	$(BIN)/ruff check workflow tests benchmarks
	$(BIN)/snakemake --lint

## allensdk-env: the separate AllenSDK environment used by the download rules
allensdk-env:
	test -x .venv-allensdk/bin/python || $(PYTHON) -m venv .venv-allensdk
	.venv-allensdk/bin/pip install --quiet -r envs/allensdk-requirements.txt

## clean-results: delete results/ and Snakemake's metadata (resources/ caches stay)
clean-results:
	rm -rf results/* .snakemake
