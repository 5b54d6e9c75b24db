# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint smoke bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Set up and run the whole portal: web, Celery worker and beat, Redis, the BMS sandbox, demo users.
run: $(STAMP)
	$(BIN)/python scripts/run_portal.py

## Set up and run the whole test suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set).
test: $(STAMP)
	bash scripts/ensure_test_tools.sh
	$(BIN)/python scripts/run_tests.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## The production smoke test: the wheel in a fresh virtual environment, PORTAL_ENV=production on
## PostgreSQL and Redis (DATABASE_URL, REDIS_URL: the server's; default this machine's), ~2 minutes.
smoke: $(STAMP)
	$(BIN)/python scripts/production_smoke.py

## Sync and page benchmarks against a large sandbox tenant (PostgreSQL: set DATABASE_URL).
bench: $(STAMP)
	$(BIN)/python scripts/run_tests.py --bench

clean:
	rm -rf $(VENV) var staticfiles test-artifacts
