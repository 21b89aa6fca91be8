"""run.py on a stand-in video of a person who changes mood: the video plays on like a webcam, so
later windows see later parts of it (issue 23, item 4). Before, every window read the clip's first
seconds again.

Built at test time in a temporary folder from ../shared photos of one taiwanese_tcced report
performer (never committed): relaxed photos (the calibration shot), then happy ones, then surprised
ones. Real time: about 30 s. Skipped without ../shared.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.test_shot_video import ROOT, clip
from tests.test_songless_video import RELAXED_OF, SURPRISED

HAPPY = ("happy/0511b02.jpg", "happy/0521b01.jpg", "happy/0531b02.jpg")

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def test_windows_of_a_standin_video_see_the_person_change_mood(tmp_path):
    from tests.test_e2e import demo_songs

    # shot [0, 5) relaxed; window 1 at ~5 s for 4 s: happy; 9 s later window 2 at ~18 s: surprised
    video = clip(tmp_path / "day.mp4", [(RELAXED_OF["05"], 5.0), (HAPPY, 10.0), (SURPRISED["05"], 14.0)])
    journal = tmp_path / "journal.sqlite"
    config = tmp_path / "emusify.cfg"  # a new user: the starter model, no reference yet
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'none.npz'}\ndata = {tmp_path / 'data'}\n")
    command = [sys.executable, "run.py", "--source", str(video), "--window", "4", "--every", "0.15",
               "--cycles", "2", "--journal", str(journal), "--songs", str(demo_songs(tmp_path)),
               "--calibrate", "--no-headless"]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
               EMUSIFY_CONFIG=str(config))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(journal) as db:
        moods = [mood for (mood,) in db.execute("SELECT mood FROM windows ORDER BY time")]
    assert len(moods) == 2 and moods[1] == "surprise", (moods, done.stderr[-1500:])
    assert moods[0] != "surprise"  # the first window saw the happy part, not the same seconds
