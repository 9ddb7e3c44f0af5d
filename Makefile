# The two documented entry points (see README): `make generate` and `make test`.
# Both create .venv and install what they need, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CATALOG ?= catalog.yaml
OUT ?= build

.PHONY: generate test test-fast test-faults test-deps lint bench clean

$(BIN)/fleetform: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: $(BIN)/fleetform
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The main job on the bundled catalog: validate, check ports, render every service's
# repository into build/services/<repo> (a preview workspace) and the port table.
generate: $(BIN)/fleetform
	mkdir -p $(OUT)
	$(BIN)/fleetform validate -c $(CATALOG)
	$(BIN)/fleetform ports check -c $(CATALOG)
	$(BIN)/fleetform ports table -c $(CATALOG) > $(OUT)/PORT_ALLOCATION.md
	$(BIN)/fleetform generate -c $(CATALOG) -o $(OUT)/services
	@echo "wrote $(OUT)/PORT_ALLOCATION.md and $(OUT)/services/"

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian packages the tests use (strace for the fault injection), installed when missing.
test-deps:
	scripts/test-deps.sh

# Engine tests need a Docker engine: scripts/engine.sh installs Debian's docker.io when
# dockerd is missing, starts it for the run (only if none answers) and stops what it started.
# Two workers (the machine has 2 cores); `--dist loadgroup` keeps each module on one worker
# and every engine test on one worker in order (tests/conftest.py makes the groups).
XDIST := -n 2 --dist loadgroup

test: lint test-deps
	scripts/engine.sh run $(BIN)/pytest -q $(XDIST)

# The tests that need neither a Docker engine nor the external validators (a minute or two).
test-fast: $(VENV)/.test-deps test-deps
	$(BIN)/pytest -q $(XDIST) -m "not engine and not slow"

# Every spawn point of the fault injection, for both signals (make test samples them).
test-faults: $(VENV)/.test-deps test-deps
	FLEETFORM_FAULTS=all $(BIN)/pytest -q tests/fleet/test_faults.py

# benchmarks/campaign.py: FLEETFORM_BENCH_N=200 make bench for a quicker campaign figure.
bench: $(VENV)/.test-deps
	$(BIN)/python benchmarks/catalog.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/campaign.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
