# `make train` and `make test` set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= go1_rough
# pytest processes for `make test` (pytest-xdist; whole test files per process, so module
# fixtures are built once). 2 fits the 2-core CI machine; `TEST_WORKERS=0` runs serially.
TEST_WORKERS ?= 2

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,parity]'
	touch $@

.PHONY: setup train play tensorboard test test-slow lint
setup: $(VENV)/.installed

train: $(VENV)/.installed
	$(PY) -m motrix_jax.train --env $(ENV) $(ARGS)

# make play RUN=runs/cartpole/<timestamp> [ARGS="--episodes 20 --video out.mp4"]
play: $(VENV)/.installed
	$(PY) -m motrix_jax.play --run $(RUN) $(ARGS)

tensorboard: $(VENV)/.installed
	$(VENV)/bin/tensorboard --logdir runs

# The viewer test runs MuJoCo's window on a virtual X server (Debian's xvfb); where it
# cannot be installed (no root), that test is skipped and says why.
XVFB_INSTALL := apt-get install -y -qq xvfb >/dev/null 2>&1 || \
	(apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq xvfb >/dev/null 2>&1)

test: $(VENV)/.installed
	@command -v Xvfb >/dev/null || $(XVFB_INSTALL) || \
		echo "note: could not install xvfb: the viewer test will be skipped"
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -m slow

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check motrix_jax envs tests benchmarks
