# `make train` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= cartpole

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,parity]'
	touch $@

.PHONY: setup train test test-slow lint
setup: $(VENV)/.installed

train: $(VENV)/.installed
	$(PY) -m motrix_jax.train --env $(ENV) $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check motrix_jax envs tests benchmarks
