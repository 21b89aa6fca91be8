"""run.py on a webcam stand-in whose window shows a mood without songs (issue 16): the window reads
that mood, journals it, and keeps the music instead of forcing it into a folder that has songs.

Built at test time in a temporary folder from ../shared photos of taiwanese_tcced report performers
(never committed): relaxed photos for the calibration shot, then surprised ones for the window.
The demo library has angry, happy, neutral and sad; surprise has no folder. Skipped without ../shared.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.test_shot_video import ROOT, clip

# One report performer (docs/results/moods.md) whose surprise the starter reads clearly on both
# backends (85% of the votes). Performer 02's surprise splits between surprise and fear on Holistic
# (69%, unsure): also not forced into a folder, but it would not show the journalled mood.
SURPRISED = {"05": ("surprise/0511g10.jpg", "surprise/0521g01.jpg", "surprise/0531g08.jpg")}
RELAXED_OF = {"05": ("neutral/0501a02.jpg", "neutral/0501a03.jpg")}
WITH_SONGS = ("angry", "happy", "neutral", "sad")

pytestmark = [pytest.mark.slow, pytest.mark.shared]


@pytest.mark.parametrize("person", sorted(SURPRISED))
def test_a_surprised_window_keeps_the_music_and_journals_surprise(tmp_path, person):
    from tests.test_e2e import demo_songs

    # The clip plays on like a webcam: the shot takes the relaxed start, the window the surprised rest
    video = clip(tmp_path / "surprised.mp4", [(RELAXED_OF[person], 5.0), (SURPRISED[person], 32.0)])
    journal = tmp_path / "journal.sqlite"
    config = tmp_path / "emusify.cfg"  # a new user: the starter model, no reference yet
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'none.npz'}\ndata = {tmp_path / 'data'}\n")
    command = [sys.executable, "run.py", "--source", str(video), "--window", "30", "--cycles", "1",
               "--journal", str(journal), "--songs", str(demo_songs(tmp_path)), "--calibrate"]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
               EMUSIFY_CONFIG=str(config))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with sqlite3.connect(journal) as db:
        windows = db.execute("SELECT mood, decision FROM windows").fetchall()
        started = [folder for (folder,) in db.execute("SELECT folder FROM songs WHERE event = 'start'")]
    (mood, decision), = windows
    assert mood == "surprise", (mood, done.stderr[-1500:])  # read as it is, never forced into a folder
    # nothing played yet, so the fallback (neutral) starts; never a folder of another mood
    assert decision in ("keep", "neutral") and set(started) <= {"neutral"}
