"""The benchmarks still run the real player, in short: they follow run.py's wiring as it changes.

benchmarks/day.py: a day of 8 windows of 1 s with a correction every 4th, the overnight sleep and
the time sync; every correction leads to a model update, both clock jumps reach the journal, and
the table is printed. benchmarks/runner.py: per-frame cost and a cycle's CPU with the real core.
Skipped without ../shared (its face video is the webcam).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.test_shot_video import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def test_a_short_day_runs_the_real_player_and_learns_each_correction():
    env = dict(os.environ, SDL_AUDIODRIVER="dummy")
    done = subprocess.run([sys.executable, "benchmarks/day.py", "--cycles", "8", "--window", "1",
                           "--correct-every", "4"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exit status 0; 2 model update(s) from 2 correction(s)" in done.stdout
    assert "('slept', 28800)" in done.stdout and "('clock_back', 3600)" in done.stdout
    assert "| tenth | windows | RSS MB |" in done.stdout


def user_data() -> dict[str, float]:
    """The project's own data folder (the user's recordings, reference, journal): name -> mtime."""
    return {p.name: p.stat().st_mtime for p in (ROOT / "datasets").iterdir()}


def test_the_runner_benchmark_times_frames_and_a_cycle_with_the_real_core():
    env = dict(os.environ, SDL_AUDIODRIVER="dummy")
    before = user_data()
    done = subprocess.run([sys.executable, "benchmarks/runner.py", "--skip-subprocess", "--backends", "tasks",
                           "--frames", "5", "--idle", "1"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[tasks] cycle CPU (in-process, real devices" in done.stdout
    assert "| average CPU over a default cycle |" in done.stdout
    assert user_data() == before  # a benchmark works in a temporary data folder, never the user's
