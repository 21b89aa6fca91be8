"""End to end through the player core: run.py plays a face video and is steered over a private bus.

An MPRIS client pauses, resumes, skips and quits it; a stand-in notification server receives the
mood notification and presses a mood button, and the correction lands where the digit key puts it.
These need the core (emusify/desk/core.py) and run.py starting emusify.desk.frontends.make_frontends.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

pytest.importorskip("dbus_fast")
pytest.importorskip("emusify.desk.core", reason="needs the core: emusify/desk/core.py and run.py wiring "
                                                "make_frontends (branch core)")

from tests.busfix import MprisClient, NotificationServer, RunPy, buttons, needs_bus, private_bus  # noqa: E402
from tests.test_e2e import ROOT, VIDEO, demo_songs  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.shared, needs_bus]
FOLDERS = ("angry", "happy", "neutral", "sad")


@pytest.fixture(scope="module")
def bus():
    with private_bus() as address:
        yield address


def start(tmp_path: Path, cycles: int, every: float, notify: str = "changes") -> RunPy:
    config = tmp_path / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'not_trained_yet.npz'}\nmpris = true\n"
                      f"notify = {notify}\nnotify_every = 0\n")
    args = ["--source", VIDEO, "--window", "4", "--every", every, "--cycles", cycles,
            "--journal", tmp_path / "journal.sqlite", "--data", tmp_path / "data",
            "--songs", demo_songs(tmp_path)]
    return RunPy(ROOT, args, {"EMUSIFY_CONFIG": str(config)})


def wait_until(test, run: RunPy, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert run.child.poll() is None, f"run.py ended before {what}:\n{run.log[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:g} s:\n{run.log[-3000:]}"
        time.sleep(0.2)


def received(server: NotificationServer, run: RunPy, timeout: float) -> dict:
    """The first notification the stand-in server got; fails at once when run.py ends first."""
    box: list[dict] = []

    def arrived() -> bool:
        if not server.received.empty():
            box.append(server.received.get_nowait())
        return bool(box)

    wait_until(arrived, run, timeout, "notification")
    return box[0]


def test_an_mpris_client_pauses_resumes_skips_and_quits_run_py(bus, tmp_path):
    run = start(tmp_path, cycles=2, every=1.0, notify="off")  # a minute between windows: time to steer
    client = MprisClient()
    try:
        wait_until(client.present, run, 120, "MPRIS name on the bus")
        wait_until(lambda: client.get("PlaybackStatus") == "Playing", run, 120, "music")
        metadata = client.get("Metadata")
        assert metadata["xesam:title"] and metadata["xesam:genre"][0] in FOLDERS + ("neutral",)
        assert metadata["xesam:url"].startswith("file:///") and metadata["mpris:trackid"] != "/"
        client.call("PlayPause")
        client.wait_for(lambda c: c.get("PlaybackStatus") == "Paused", 5)
        client.call("PlayPause")
        client.wait_for(lambda c: c.get("PlaybackStatus") == "Playing", 5)
        client.call("Next")
        changed = client.wait_for(lambda c: "Metadata" in c, 15)
        assert changed["Metadata"]["mpris:trackid"] != metadata["mpris:trackid"]
        client.call("Quit", "org.mpris.MediaPlayer2")
        assert run.wait(60) == 0, run.log[-3000:]
    finally:
        client.close()
        run.stop()
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        starts = db.execute("SELECT path FROM songs WHERE event = 'start'").fetchall()
        windows = db.execute("SELECT count(*) FROM windows").fetchone()[0]
    assert len(starts) >= 2  # the first song and the one Next started
    assert windows == 1  # Quit ended it before the second window, a minute later


def test_a_mood_button_on_the_notification_saves_the_correction_and_moves_the_music(bus, tmp_path):
    server = NotificationServer().start()
    run = start(tmp_path, cycles=3, every=0.1, notify="every")
    try:
        shown = received(server, run, 180)
        assert shown["app"] == "Emusify"
        assert re.match(r"(\w+ \(\d+%\)|unsure): (playing \S|nothing to play)", shown["summary"]), shown
        read = shown["summary"].split(" ", 1)[0].rstrip(":")  # "sad (78%): ..." or "unsure: ..."
        mood = next(title for title in buttons(shown) if title not in ("right", read))
        time.sleep(0.5)  # a person reads it first (and run.py has taken the notification's id)
        pressed = time.time()
        server.press(shown, mood)
        assert run.wait(180) == 0, run.log[-3000:]
    finally:
        run.stop()
        server.close()
    (recording,) = (tmp_path / "data" / mood).glob("*.emrec")
    from emusify.storage.dataset import read_session

    assert read_session(recording).header["feedback"]["kind"] == "correction"
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        feedback = db.execute("SELECT corrected, kind FROM feedback").fetchall()
        moved = db.execute("SELECT folder FROM songs WHERE event = 'start' AND time >= ?",
                           (pressed - 1,)).fetchall()
    assert feedback == [(mood, "correction")]
    assert (mood,) in moved  # the music went to the corrected mood's folder (policy match)
