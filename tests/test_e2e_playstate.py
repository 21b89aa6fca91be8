"""End to end (issue 22): run.py killed and started again resumes the song where it was, at the
volume last set, over a private bus steered by playerctl; a damaged state file and a song removed
between runs are one line each."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("dbus_fast")

from tests.busfix import MprisClient, RunPy, needs_bus, private_bus  # noqa: E402
from tests.test_e2e import ROOT, VIDEO, demo_songs  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared, needs_bus]
PLAYERCTL = shutil.which("playerctl")
needs_playerctl = pytest.mark.skipif(PLAYERCTL is None, reason="needs playerctl (Debian's package)")


@pytest.fixture(scope="module")
def bus():
    with private_bus() as address:
        yield address


def start(tmp_path: Path, songs: Path) -> RunPy:
    """run.py on the face video, a window a minute: the music is what a restart left, then the window's."""
    config = tmp_path / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'not_trained_yet.npz'}\nmpris = true\nnotify = off\n")
    args = ["--source", VIDEO, "--window", "4", "--every", "1", "--data", tmp_path / "data",
            "--songs", songs, "--headless", "-v"]
    return RunPy(ROOT, args, {"EMUSIFY_CONFIG": str(config)})


def playing(client: MprisClient, run: RunPy, timeout: float = 120) -> dict:
    """Metadata once run.py plays (fails at once when it ends first)."""
    deadline = time.monotonic() + timeout
    while True:
        assert run.child.poll() is None, f"run.py ended:\n{run.log[-3000:]}"
        assert time.monotonic() < deadline, f"no music within {timeout:g} s:\n{run.log[-3000:]}"
        try:
            if client.present() and client.get("PlaybackStatus") == "Playing":
                return client.get("Metadata")
        except AssertionError:  # the name came and the object is not exported yet
            pass
        time.sleep(0.1)


def playerctl(*args: str) -> str:
    done = subprocess.run([PLAYERCTL, "-p", "emusify", *args], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_playerctl
def test_a_killed_player_resumes_the_song_position_and_volume_and_a_stopped_one_too(bus, tmp_path):
    songs = demo_songs(tmp_path)
    client = MprisClient()
    try:
        run = start(tmp_path, songs)
        first = playing(client, run)
        playerctl("volume", "0.4")
        client.wait_for(lambda c: c.get("Volume") == 0.4, 5)
        playerctl("position", "10")
        time.sleep(6)  # past a periodic write
        before = client.get("Position") / 1e6
        run.child.send_signal(signal.SIGKILL)
        run.wait(10)

        run = start(tmp_path, songs)
        again = playing(client, run)
        log = run.log
        assert again["xesam:url"] == first["xesam:url"]
        resumed = client.get("Position") / 1e6
        assert before - 5 <= resumed <= before + 3, (before, resumed)
        assert client.get("Volume") == 0.4
        assert "resuming " in log and "window 1" not in log.split("resuming ")[0]  # before any window
        time.sleep(2)
        before = client.get("Position") / 1e6
        run.child.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0, run.log[-3000:]

        run = start(tmp_path, songs)
        third = playing(client, run)
        assert third["xesam:url"] == first["xesam:url"]
        assert abs(client.get("Position") / 1e6 - before) <= 5
        run.child.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0
    finally:
        run.stop()
        client.close()


def test_a_damaged_state_file_and_a_song_gone_are_one_line_each(bus, tmp_path):
    songs = copy_songs(tmp_path)
    state = tmp_path / "data" / "playstate.json"
    state.parent.mkdir(mode=0o700)
    state.write_text('{"format": "emusify-playstate-1", "song": "/x.ogg", "posi')
    client = MprisClient()
    try:
        run = start(tmp_path, songs)
        playing(client, run)
        run.child.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0
        assert run.log.count("is damaged") == 1 and "starting afresh" in run.log
        assert len(list(state.parent.glob("playstate.json.corrupt-*"))) == 1
        gone = Path(json.loads(state.read_text())["song"])
        gone.unlink()

        run = start(tmp_path, songs)
        playing(client, run)
        run.child.send_signal(signal.SIGTERM)
        assert run.wait(30) == 0
        assert run.log.count(f"the song that played last ({gone.name}) is gone") == 1
        assert "resuming " not in run.log
    finally:
        run.stop()
        client.close()


def copy_songs(tmp_path: Path) -> Path:
    """A songs folder of the test's own (one song is removed from it)."""
    source = demo_songs(tmp_path)
    if source.parent == tmp_path:
        return source
    return Path(shutil.copytree(source, tmp_path / "songs"))
