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

import numpy as np
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


def test_the_blendshape_benchmark_learns_and_reads_each_layout(monkeypatch):
    """benchmarks/blendshapes.py's pieces on made-up people whose moods move both parts of the vector."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import blendshapes as bench
    from faces import SEVEN

    rng = np.random.default_rng(0)
    moves = {mood: rng.normal(0.0, 1.0, 372 + 52) for mood in SEVEN}
    people = [f"taiwanese_tcced:{p:02d}" for p in range(1, 7)]
    rows = [(person, mood, k) for person in people for mood in SEVEN for k in range(3)]
    faces = {person: rng.normal(0.0, 1.0, 372 + 52) for person in people}  # each their own relaxed face
    X = np.array([faces[person] + (mood != "neutral") * moves[mood] + rng.normal(0.0, 0.1, 372 + 52)
                  for person, mood, _ in rows])
    made_up = {"fl": X[:, :372], "bs": X[:, 372:], "y": np.array([mood for _, mood, _ in rows]),
               "person": np.array([person for person, _, _ in rows]),
               "name": np.array([f"{mood}/{k}.jpg" for _, mood, k in rows]), "known": np.array(True)}
    data = {"tasks": {"taiwanese_tcced": made_up}}
    for layout, width in (("fl", 372), ("fl+bs", 424), ("fl+logit", 424), ("bs", 52)):
        samples = bench.training_rows(data, layout)
        assert samples.X.shape == (len(rows), width)
        hits = bench.desk(bench.fit_without(samples, [people[0]]), made_up, layout, people[0])
        assert len(hits[7]) == 6 * 3 + 1 and len(hits[4]) == 3 * 3 + 1  # two neutrals are the shot
        assert hits[7].mean() > 0.8, layout  # the person was never learned from
