"""Notifications with mood buttons: when they come, what they say, what a button sends."""

from __future__ import annotations

import logging
import queue
import time
from pathlib import Path

import pytest

pytest.importorskip("desktop_notifier")

from emusify.desk.events import Command, PlayerState, start_frontends  # noqa: E402
from emusify.desk.notify import Notifier, NotifyPolicy, choices, headline  # noqa: E402
from emusify.reading.tally import WindowResult  # noqa: E402
from tests.fakes import Song  # noqa: E402

SONG = Song(Path("/music/sad/rain.ogg"), "Rain", "Ada", 212.5, "sad")
MOODS = ("angry", "happy", "neutral", "sad")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_headline_names_the_mood_its_share_and_the_song():
    assert headline("sad", 0.78, SONG) == "sad (78%): playing Rain - Ada"
    assert headline(None, 0.4, SONG._replace(artist=None)) == "unsure: playing Rain"
    assert headline("happy", 1.0, None) == "happy (100%): nothing to play"


def test_a_button_per_other_mood_and_right_send_what_the_keys_send():
    buttons = choices("sad", MOODS)
    assert [title for title, _ in buttons] == ["angry", "happy", "neutral", "right"]
    assert buttons[1][1] == Command("correct", "happy", "notification")
    assert buttons[-1][1] == Command("confirm", None, "notification")
    assert [title for title, _ in choices(None, MOODS)] == list(MOODS)  # unsure: nothing to confirm


@pytest.mark.parametrize(("mode", "changed", "kept"), [("changes", True, False), ("every", True, True),
                                                        ("off", False, False)])
def test_the_mode_says_which_windows_notify(mode, changed, kept):
    assert NotifyPolicy(mode, gap=0.0).due(changed=True) is changed
    assert NotifyPolicy(mode, gap=0.0).due(changed=False) is kept


def test_the_rate_limit_keeps_notifications_apart():
    clock = Clock()
    policy = NotifyPolicy("every", gap=60.0, clock=clock)
    assert policy.due(changed=True)
    clock.now = 59.0
    assert not policy.due(changed=True)  # too soon: skipped, and it does not restart the wait
    clock.now = 60.0
    assert policy.due(changed=False)
    with pytest.raises(ValueError):
        NotifyPolicy("sometimes", gap=0.0)


def posted(notifier: Notifier, count: int) -> None:
    """Wait until ``count`` notifications are handed over (a user presses a button after seeing it)."""
    deadline = time.monotonic() + 5
    while notifier.posted < count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert notifier.posted == count


# -- on a private session bus with a stand-in notification server ---------------------------------

try:  # the bus tests need dbus-fast (Linux) and a dbus-daemon; the tests above run anywhere
    from tests.busfix import FakeCore, NotificationServer, buttons, needs_bus, private_bus
except ImportError:
    needs_bus = pytest.mark.skip(reason="needs dbus-fast for a private session bus")


@pytest.fixture(scope="module")
def bus():
    with private_bus() as address:
        yield address


@pytest.fixture
def server(bus):
    server = NotificationServer().start()
    yield server
    server.close()


def started(mode: str = "changes", minutes: float = 0.0):
    core = FakeCore(PlayerState(status="playing", song=SONG, folder="sad", moods=MOODS))
    notifier = Notifier(mode=mode, every_minutes=minutes)
    assert start_frontends(core, [notifier]) == [notifier]
    return core, notifier


@needs_bus
def test_a_mood_change_notifies_and_a_mood_button_corrects_it(server):
    core, notifier = started()
    try:
        core.fire("window_read", when=1.0, result=WindowResult(72, 70, {"sad": 39}, "sad", 0.78),
                  decision="sad")
        core.fire("mood_changed", when=1.0, mood="sad", share=0.78, folder="sad", song=SONG)
        shown = server.received.get(timeout=5)
        assert shown["summary"] == "sad (78%): playing Rain - Ada" and shown["app"] == "Emusify"
        assert buttons(shown) == ["angry", "happy", "neutral", "right"]
        assert server.received.empty()  # one notification for the window, not two
        posted(notifier, 1)
        server.press(shown, "happy")
        assert core.next_command() == Command("correct", "happy", "notification")
    finally:
        notifier.close()


@needs_bus
def test_run_py_headless_at_a_first_start_says_how_to_start_the_set_up_in_a_notification(server):
    from emusify.cli.guided import HEADLESS_HINT, announce

    core, notifier = started()
    try:
        announce([notifier], HEADLESS_HINT)
        shown = server.received.get(timeout=5)
        assert "run `python run.py --setup` in a terminal" in shown["summary"] and buttons(shown) == []
    finally:
        notifier.close()


@needs_bus
def test_a_correction_by_key_closes_the_notification(server):
    core, notifier = started()
    try:
        core.fire("mood_changed", when=1.0, mood="sad", share=0.78, folder="sad", song=SONG)
        shown = server.received.get(timeout=5)
        posted(notifier, 1)
        core.fire("correction_saved", when=2.0, mood="happy", kind="correction", read="sad", message="saved")
        deadline = time.monotonic() + 5
        while shown["id"] not in server.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.closed == [shown["id"]]
    finally:
        notifier.close()


@needs_bus
def test_right_confirms_the_window(server):
    core, notifier = started()
    try:
        core.fire("mood_changed", when=1.0, mood="neutral", share=0.7, folder="neutral", song=SONG)
        shown = server.received.get(timeout=5)
        posted(notifier, 1)
        server.press(shown, "right")
        assert core.next_command() == Command("confirm", None, "notification")
    finally:
        notifier.close()


@needs_bus
def test_a_new_window_closes_the_stale_notification_and_unsure_offers_every_mood(server):
    core, notifier = started(mode="every")
    try:
        core.fire("window_read", when=1.0, result=WindowResult(72, 70, {"happy": 50}, "happy", 0.9),
                  decision="keep")
        first = server.received.get(timeout=5)
        assert first["summary"].startswith("happy (90%): playing Rain")
        core.fire("window_started", when=2.0, cycle=2)  # its buttons would now act on another window
        core.fire("window_read", when=3.0, result=WindowResult(72, 3, {}, None, 0.0), decision="keep")
        second = server.received.get(timeout=5)
        assert first["id"] in server.closed
        assert second["summary"] == "unsure: playing Rain - Ada"
        assert buttons(second) == list(MOODS)
        posted(notifier, 2)
        server.press(second, "neutral")
        assert core.next_command() == Command("correct", "neutral", "notification")
    finally:
        notifier.close()


@needs_bus
def test_changes_mode_stays_quiet_on_a_kept_window_and_the_limit_holds(server):
    core, notifier = started(mode="changes", minutes=10.0)
    try:
        core.fire("window_read", when=1.0, result=WindowResult(72, 70, {"sad": 50}, "sad", 0.9),
                  decision="keep")
        core.fire("mood_changed", when=2.0, mood="happy", share=0.8, folder="happy", song=SONG)
        assert server.received.get(timeout=5)["summary"].startswith("happy (80%)")
        core.fire("mood_changed", when=3.0, mood="sad", share=0.8, folder="sad", song=SONG)  # within 10 min
        with pytest.raises(queue.Empty):
            server.received.get(timeout=0.5)
    finally:
        notifier.close()


@needs_bus
def test_no_notification_server_is_one_line_and_the_player_goes_on(bus, caplog):
    core = FakeCore()
    with caplog.at_level(logging.WARNING):
        assert start_frontends(core, [Notifier(timeout=3.0)]) == []
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("notifications is off: no notification server")
    assert not list(core.listeners)


@needs_bus
def test_no_session_bus_at_all_is_one_line(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    with caplog.at_level(logging.WARNING):
        assert start_frontends(FakeCore(), [Notifier(timeout=3.0)]) == []
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("notifications is off: no notification server") and "\n" not in line
