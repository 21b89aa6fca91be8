"""run.py in a real terminal (tmux, 80 columns): the status line stays one line, redrawn in place.

A status line wider than the terminal wraps, and every redraw (one a second) then leaves a copy of
its first part behind: the screen fills with stale lines. The demo songs' names with the time, the
phase and the mood keys are over 100 columns, so this catches it. Skipped without tmux or ../shared.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from emusify.desk.statustext import columns_of
from tests.test_e2e import ROOT, VIDEO, demo_songs

pytestmark = [pytest.mark.slow, pytest.mark.shared,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]
WIDTH = 80


def screen(session: str) -> list[str]:
    done = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True)
    return done.stdout.splitlines()


def test_the_status_line_fits_an_80_column_terminal_and_is_redrawn_in_place(tmp_path):
    if not VIDEO.exists():
        pytest.skip(f"{VIDEO} is missing")
    session = f"emusify-{os.getpid()}"
    command = [sys.executable, "run.py", "--source", str(VIDEO), "--window", "3", "--every", "0.3",
               "--cycles", "2", "--songs", str(demo_songs(tmp_path)), "--data", str(tmp_path / "data"),
               "--journal", str(tmp_path / "journal.sqlite")]
    env = {"SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1",
           "EMUSIFY_CONFIG": str(tmp_path / "none.cfg"), "TERM": "xterm-256color"}
    shell = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # the pane outlives run.py (sleep), so the screen can be read after it ends
    script = f"cd {shlex.quote(str(ROOT))} && env {shell} {shlex.join(command)}; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", "40", script],
                   check=True)
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until the player has waited between windows a few seconds
            seen = screen(session)
            if sum("next look in" in row for row in seen) and any("mood:" in r for r in seen):
                time.sleep(4)  # four redraws of the countdown
                seen = screen(session)
                break
            time.sleep(0.5)
        status = [row for row in seen if row.startswith("mood:")]
        assert status, "\n".join(seen)
        assert len(status) == 1, "\n".join(seen)  # one line, redrawn in place, not a copy per redraw
        assert columns_of(status[0]) < WIDTH
        assert "next look in" in status[0]
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
