"""run.py whose calibration shot is a smiling clip: refused, retried, kept with a warning (issue 16).

There are no labelled face videos, so each test builds a stand-in webcam clip in a temporary folder
from ../shared photos of one taiwanese_tcced report performer (never committed): a few seconds of
one mood (the shot), then relaxed photos (the window). The clip plays on like a webcam (in real
time), so a shot taken again sees the next seconds. Skipped without ../shared.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TCCED = ROOT.parent / "shared" / "data" / "taiwanese_tcced"
SMILING = ("happy/0211b02.jpg", "happy/0221b01.jpg")
RELAXED = ("neutral/0201a09.jpg", "neutral/0201a11.jpg")
FPS = 10

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def clip(path: Path, parts: list[tuple[tuple[str, ...], float]]) -> Path:
    """A video of ``parts``: (photos shown in turn one second each, seconds)."""
    import cv2  # comes with mediapipe

    images = {name: cv2.imread(str(TCCED / name)) for photos, _ in parts for name in photos}
    height, width = next(iter(images.values())).shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    try:
        for photos, seconds in parts:
            for i in range(int(seconds * FPS)):
                writer.write(cv2.resize(images[photos[(i // FPS) % len(photos)]], (width, height)))
    finally:
        writer.release()
    return path


def run_py(tmp_path: Path, video: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """run.py --calibrate on ``video`` for one short window; the journal's reference events."""
    journal = tmp_path / "journal.sqlite"
    config = tmp_path / "emusify.cfg"  # a new user: the starter model, no reference yet
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'none.npz'}\ndata = {tmp_path / 'data'}\n")
    command = [sys.executable, "run.py", "--source", str(video), "--window", "2", "--cycles", "1",
               "--journal", str(journal), "--calibrate"]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
               EMUSIFY_CONFIG=str(config))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    with sqlite3.connect(journal) as db:
        events = [e for (e,) in db.execute("SELECT event FROM reference_events ORDER BY time, rowid")]
    return done, events


def test_a_smiling_shot_is_refused_twice_then_kept_with_a_warning(tmp_path):
    video = clip(tmp_path / "smiling.mp4", [(SMILING, 11.0), (RELAXED, 4.0)])  # two shots of 5 s
    done, events = run_py(tmp_path, video)
    assert done.returncode == 0, done.stderr[-2000:]
    # "you seem to be smiling" on Holistic; on Tasks its disgust direction scores highest (shots.md)
    assert "calibration shot refused: " in done.stderr and "relax your face" in done.stderr
    assert "using it anyway" in done.stderr
    assert events[:4] == ["refused", "refused", "shot", "doubted"]


def test_a_relaxed_shot_is_accepted_at_once(tmp_path):
    video = clip(tmp_path / "relaxed.mp4", [(RELAXED, 10.0)])
    done, events = run_py(tmp_path, video)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused" not in done.stderr and events[0] == "shot"
    assert "refused" not in events and "doubted" not in events  # later: "updated" by the tracker
