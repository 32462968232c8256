# Two commands on a fresh machine (Python 3.11+ and make):  make run   |   make test
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test sysdeps lint typecheck check vectors bench bench-quick fuzz clean

$(STAMP): pyproject.toml client/pyproject.toml keys/pyproject.toml service/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e client -e keys -e "service[postgres]" --group dev
	touch $@

## run: the service on SQLite with a dev key; prints its URL and a dev token
run: $(STAMP)
	$(BIN)/sceau-service dev --host $(HOST) --port $(PORT)

## test: the whole test suite (SQLite and, when reachable, PostgreSQL)
test: $(STAMP) sysdeps
	$(BIN)/pytest

## sysdeps: SoftHSM2 and Chromium for the HSM and browser tests (apt, only when missing)
sysdeps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check client keys service tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## vectors: regenerate tests/vectors/*.json (deterministic)
vectors: $(STAMP)
	$(BIN)/python tests/vectors/generate.py

## bench: every benchmark; results are printed and written to bench/results/
bench: $(STAMP)
	$(BIN)/python -m bench.run_all

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run_all --quick

## fuzz: coverage-guided fuzzing of the media parsers (atheris, installed into the venv
## here only; the test suite runs hypothesis instead).  FUZZ_SECONDS=600 for longer runs.
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	$(BIN)/python -m pip install -q "atheris>=2.3"
	$(BIN)/python fuzz/fuzz_media.py fuzz/corpus -max_total_time=$(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
