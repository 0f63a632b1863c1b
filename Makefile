# The two commands: `make rehearse` runs a full rehearsal against the lab; `make test` runs the tests.
# Both set themselves up on a fresh machine (Debian packages, virtual environment); both need root.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: rehearse test setup lint format lab-up lab-down lab-status bench

rehearse: setup
	$(BIN)/python -m runbooklib.rehearse

test: setup lint
	$(BIN)/pytest tests/ -n 2 --dist loadgroup --durations=15

setup: $(VENV)/.installed
	@bash lab/install-packages

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lab-up: setup
	$(BIN)/python -m lab up

lab-down: $(VENV)/.installed
	$(BIN)/python -m lab down

lab-status: $(VENV)/.installed
	$(BIN)/python -m lab status

bench: setup
	$(BIN)/python -m bench
