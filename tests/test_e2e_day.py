"""run.py for real without a sound device: one line, moods read all the same, exit 0 (issue 15)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.test_e2e import ROOT, VIDEO, demo_songs, tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def test_run_py_without_a_sound_device_reads_moods_and_says_so_once(tmp_path):
    if not VIDEO.is_file():
        pytest.skip("needs ../shared/data/face_videos")
    journal = tmp_path / "journal.sqlite"
    command = [
        sys.executable, "run.py", "--source", str(VIDEO), "--window", "2", "--every", "0", "--cycles", "2",
        "--journal", str(journal), "--songs", str(demo_songs(tmp_path)), "--model", str(tiny_model(tmp_path)),
        "--data", str(tmp_path / "data"),
    ]
    env = dict(os.environ, SDL_AUDIODRIVER="no-such-driver", PYGAME_HIDE_SUPPORT_PROMPT="1")
    done = subprocess.run(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    warnings = [line for line in done.stderr.splitlines() if "no sound" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING"), done.stderr[-2000:]
    with sqlite3.connect(journal) as db:
        windows = db.execute("SELECT COUNT(*) FROM windows").fetchone()[0]
        desk = [row[0] for row in db.execute("SELECT event FROM desk_events")]
        songs = db.execute("SELECT COUNT(*) FROM songs").fetchone()[0]
    assert windows == 2 and desk == ["audio_lost"] and songs == 0
