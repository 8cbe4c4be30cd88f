# spinlens — the two README commands: `make demo` and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
STAMP   := $(VENV)/.installed
# The versions CI last passed on (pip constraints); `make test CONSTRAINTS=` installs the newest instead.
CONSTRAINTS ?= constraints.txt
PIN     := $(if $(CONSTRAINTS),-c $(CONSTRAINTS),)

.PHONY: demo test test-slow test-unpinned lock lint typecheck bench docs clean venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned, so that nothing pulls a CUDA build.
$(STAMP): $(BIN)/python pyproject.toml $(CONSTRAINTS)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q $(PIN) -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/spinlens demo --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=10

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# The test suite against the newest release of every dependency (a throw-away venv); reports, never fails.
test-unpinned:
	bash tools/unpinned.sh

# Refresh constraints.txt: newest versions in a fresh venv, the test suite must pass, then freeze.
lock:
	bash tools/unpinned.sh --write-lock

clean:
	rm -rf $(VENV) .venv-unpinned runs site test-artifacts .pytest_cache .mypy_cache .ruff_cache
