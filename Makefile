# Emusify set-up: `make run` plays music, `make test` runs the checks.
# Each target creates $(VENV) with the newest Python 3.9-3.14 that runs and installs into it when
# setup.cfg or pyproject.toml changed. Python <= 3.12 gets mediapipe 0.10.21 (Tasks API and Holistic),
# 3.13 and 3.14 get mediapipe 1.2.x (Tasks API only); Tasks is the default on both (see setup.cfg).
# Windows without make: see README.md.
# Override either: `make test PYTHON=python3.13 VENV=.venv313`.

VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=
# The newest Python 3.9-3.14 that actually runs: each candidate is run, not just looked up, because a
# pyenv shim for a version that is not selected exists on PATH but fails.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 python3.11 python3.10 python3.9 python3 python; do \
	$$p -c 'import sys; sys.exit(not (3, 9) <= sys.version_info[:2] <= (3, 14))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)

.PHONY: run test lint bench starter clean

run: $(VENV)/.installed
	$(BIN)/python run.py $(ARGS)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# On Python <= 3.12 every benchmark runs both landmark backends; on 3.13+ the tasks backend alone.
# Each prints its figures (docs/results/ holds the last ones and how they were made); several
# minutes each on 2 cores. frontends.py needs a D-Bus session daemon (dbus-daemon);
# without one it fails and the rest go on (so do listening_state.py and listening_lock.py).
# frontends_cycle.py (~15 min) and anchors.py run by hand.
bench: $(VENV)/.installed-dev
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/detection.py
	$(BIN)/python benchmarks/extract.py
	$(BIN)/python benchmarks/extract.py --backend tasks
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/backends.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/blendshapes.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/accuracy.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/moods.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/shots.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/corrections.py --shot
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/personal.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/unrecorded.py
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/tracking.py
	$(BIN)/python benchmarks/training.py
	SDL_AUDIODRIVER=dummy OMP_NUM_THREADS=1 $(BIN)/python benchmarks/runner.py
	SDL_AUDIODRIVER=dummy $(BIN)/python benchmarks/day.py
	-SDL_AUDIODRIVER=dummy $(BIN)/python benchmarks/frontends.py --run-py
	SDL_AUDIODRIVER=dummy $(BIN)/python benchmarks/listening.py
	-SDL_AUDIODRIVER=dummy $(BIN)/python benchmarks/listening_state.py
	-SDL_AUDIODRIVER=dummy $(BIN)/python benchmarks/listening_lock.py

# The starter model from the labelled sets in ../shared/data: both backends' landmarks are cached in
# .cache/ first (a set already cached is skipped). Extracting the Holistic ones needs a Python 3.9-3.12;
# once both caches exist, `make starter` runs on Python 3.13 too (models/STARTER.md).
starter: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/extract.py --backend holistic
	$(BIN)/python benchmarks/extract.py --backend tasks
	$(BIN)/python benchmarks/starter.py

$(VENV)/bin/python:
	@test -n "$(PYTHON)" || { echo "error: Emusify needs Python 3.9-3.14 and none runs here; install python3.13 (e.g. 'apt install python3.13 python3.13-venv', or from python.org) and run make again" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "error: could not create $(VENV); install the venv module (e.g. 'apt install python3-venv') and run make again" >&2; exit 1; }

$(VENV)/.installed: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
