# Emusify set-up: `make run` plays music, `make test` runs the checks.
# Each target creates .venv with a Python the pins support (3.9-3.12) and installs into it when
# setup.cfg or pyproject.toml changed. Windows without make: see README.md.

VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
# The first Python 3.9-3.12 on PATH (mediapipe 0.10.21 has no wheels for 3.13 or later).
PYTHON ?= $(shell for p in python3.12 python3.11 python3.10 python3.9 python3 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: run test lint bench starter clean

run: $(VENV)/.installed
	$(BIN)/python run.py $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/detection.py
	$(BIN)/python benchmarks/extract.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/runner.py

# The starter model from the labelled sets in ../shared/data (landmarks cached in .cache/ first).
starter: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/starter.py

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "error: Emusify needs Python 3.9-3.12 (mediapipe 0.10.21 has no wheels for newer ones); install python3.11 (e.g. 'apt install python3.11 python3.11-venv' or python.org) and run make again" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "error: could not create $(VENV); install the venv module (e.g. 'apt install python3-venv') and run make again" >&2; exit 1; }

$(VENV)/.installed: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
