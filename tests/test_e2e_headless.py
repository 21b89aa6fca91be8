"""End to end without a terminal: run.py from setsid with no TTY, and a second run.py while one plays."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_e2e import ROOT, VIDEO, demo_songs, tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.shared,
              pytest.mark.skipif(os.name == "nt", reason="POSIX sessions and signals")]

ENV = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")


def player(tmp_path: Path, data: Path, journal: Path, *extra: str) -> list[str]:
    """run.py on the face video with a small model (no calibration shot) and temporary folders."""
    return [sys.executable, "run.py", "--source", str(VIDEO), "--window", "3", "--data", str(data),
            "--journal", str(journal), "--songs", str(demo_songs(tmp_path)),
            "--model", str(tiny_model(tmp_path)), *extra]


def test_without_a_terminal_it_plays_shows_no_status_line_and_logs_to_a_private_file(tmp_path):
    data, journal = tmp_path / "data", tmp_path / "journal.sqlite"
    setsid = [shutil.which("setsid")] if shutil.which("setsid") else []  # a new session: no controlling TTY
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        done = subprocess.run([*setsid, *player(tmp_path, data, journal, "--cycles", "1")], cwd=ROOT, env=ENV,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=300,
                              start_new_session=not setsid)
    stdout, stderr = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    assert done.returncode == 0, stderr[-2000:]
    assert "\x1b" not in stdout and "\r" not in stdout and "mood:" not in stdout  # no status line at all
    assert "headless: no status line and no keys" in stderr
    log = data / "emusify.log"
    text = log.read_text()
    assert "emusify.desk.core: window 1:" in text and "emusify.desk.playback: playing " in text
    assert "stopped (--cycles 1 done)" in text
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)
    assert oct(data.stat().st_mode & 0o777) == oct(0o700)


def test_a_second_run_py_says_so_and_a_killed_one_leaves_nothing_in_the_way(tmp_path):
    data, journal = tmp_path / "data", tmp_path / "journal.sqlite"
    first = subprocess.Popen(player(tmp_path, data, journal, "--every", "5"), cwd=ROOT, env=ENV,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        for line in first.stderr:  # the first one plays
            if line.startswith("INFO: playing"):
                break
        other = tmp_path / "other.sqlite"
        second = subprocess.run(player(tmp_path, data, other, "--cycles", "1"), cwd=ROOT, env=ENV,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert second.stderr.startswith(f"error: Emusify is already running (pid {first.pid}")
        assert second.stderr.count("\n") == 1, second.stderr  # one line, nothing else logged
        assert not other.exists()  # it stopped before opening its journal
        first.send_signal(signal.SIGKILL)  # a crash: no clean-up runs, the lock file stays
        assert first.wait(timeout=30) == -signal.SIGKILL
    finally:
        first.kill()
        first.stderr.close()
    assert (data / "emusify.lock").is_file()
    third = subprocess.run(player(tmp_path, data, journal, "--cycles", "1"), cwd=ROOT, env=ENV,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]
    assert "window 1:" in third.stderr
