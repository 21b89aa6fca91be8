"""End to end (issue 22): run.py plays a face video on a private bus; a stand-in screen saver locks
the screen: MPRIS shows Paused and no window comes; the unlock: Playing, and a window at once.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("dbus_fast")

from tests.busfix import MprisClient, RunPy, ScreenSaver, needs_bus, private_bus  # noqa: E402
from tests.test_e2e import ROOT, VIDEO, demo_songs  # noqa: E402
from tests.test_e2e_frontends import wait_until  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared, needs_bus]
NO_SYSTEM_BUS = "unix:path=/nonexistent/emusify-test-system-bus"  # the desktop's logind is never asked


def start_run_py(tmp_path: Path, cycles: int, every: float, on_lock: str = "pause") -> RunPy:
    """run.py on the face video: 4 s windows ``every`` minutes apart, MPRIS on, no notifications."""
    config = tmp_path / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'not_trained_yet.npz'}\nmpris = true\n"
                      f"notify = off\non_lock = {on_lock}\n")
    args = ["--source", VIDEO, "--window", "4", "--every", every, "--cycles", cycles,
            "--journal", tmp_path / "journal.sqlite", "--data", tmp_path / "data",
            "--songs", demo_songs(tmp_path)]
    return RunPy(ROOT, args, {"EMUSIFY_CONFIG": str(config), "DBUS_SYSTEM_BUS_ADDRESS": NO_SYSTEM_BUS})


def windows_begun(run: RunPy) -> int:
    return run.log.count(": watching ")  # "window N: watching <source> for 4 s"


def test_a_locked_screen_pauses_run_py_keeps_the_camera_off_and_the_unlock_plays_and_looks(tmp_path):
    with private_bus():
        saver = ScreenSaver().start()
        run = start_run_py(tmp_path, cycles=2, every=1.0)  # a minute between windows
        client = MprisClient()
        try:
            wait_until(client.present, run, 120, "MPRIS name on the bus")
            wait_until(lambda: client.get("PlaybackStatus") == "Playing", run, 120, "music")
            assert windows_begun(run) == 1
            saver.set_active(True)
            client.wait_for(lambda c: c.get("PlaybackStatus") == "Paused", 5)
            time.sleep(3)
            assert client.get("PlaybackStatus") == "Paused" and windows_begun(run) == 1
            saver.set_active(False)
            client.wait_for(lambda c: c.get("PlaybackStatus") == "Playing", 5)
            unlocked = time.monotonic()
            wait_until(lambda: windows_begun(run) == 2, run, 15, "a window after the unlock")
            assert time.monotonic() - unlocked < 10  # not the minute --every would have waited
            assert run.wait(120) == 0, run.log[-3000:]  # --cycles 2 done
        finally:
            client.close()
            run.stop()
            saver.close()
    assert "the screen is locked: the music pauses" in run.log
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        rows = db.execute("SELECT event, seconds FROM desk_events ORDER BY time").fetchall()
    assert [event for event, _ in rows] == ["locked", "unlocked"]
    assert 2.5 < rows[1][1] < 30  # the time it was locked


def test_no_screen_saver_is_one_line_and_run_py_plays_on(tmp_path):
    with private_bus():
        run = start_run_py(tmp_path, cycles=1, every=0.0)
        try:
            assert run.wait(180) == 0, run.log[-3000:]
        finally:
            run.stop()
    lines = [line for line in run.lines if "screen saver" in line or "screen lock" in line]
    assert len(lines) == 1 and "no screen saver on the session bus" in lines[0], lines
    assert "the away check still pauses an empty desk" in lines[0]


def test_the_lock_benchmark_runs_on_the_real_player():
    env = dict(os.environ, SDL_AUDIODRIVER="dummy")
    done = subprocess.run([sys.executable, "benchmarks/listening_lock.py", "--locks", "2"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("lock -> Paused", "unlock -> Playing", "unlock -> window", "lock -> camera off"):
        assert f"{name:18} median" in done.stdout, done.stdout
