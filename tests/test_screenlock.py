"""The screen lock heard on D-Bus (issue 22): stand-in screen savers and a stand-in logind on
private buses tell a lock and an unlock; the front-end sends the core one command for each.
"""

from __future__ import annotations

import logging
import queue

import pytest

pytest.importorskip("dbus_fast")

from emusify.desk.events import Command, start_frontends  # noqa: E402
from emusify.desk.screenlock import ScreenLock  # noqa: E402
from tests.busfix import FakeCore, Logind, ScreenSaver, needs_bus, private_bus  # noqa: E402

pytestmark = needs_bus
LOCKED = Command("screen_locked", source="screensaver")
UNLOCKED = Command("screen_unlocked", source="screensaver")


@pytest.fixture
def session(monkeypatch):
    """A private session bus, and no system bus at all (the desktop's logind is never asked)."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/emusify-test-system-bus")
    with private_bus() as address:
        yield address


def listening(core: FakeCore) -> ScreenLock:
    (front,) = start_frontends(core, [ScreenLock(timeout=5.0)])
    return front


def no_more(core: FakeCore, wait: float = 0.5) -> bool:
    with pytest.raises(queue.Empty):
        core.next_command(timeout=wait)
    return True


@pytest.mark.parametrize("name", ["org.freedesktop.ScreenSaver", "org.gnome.ScreenSaver"])
def test_active_changed_becomes_one_lock_and_one_unlock_command(session, name):
    saver, core = ScreenSaver(name).start(), FakeCore()
    front = listening(core)
    try:
        assert front.sources == [name]
        saver.set_active(True)
        assert core.next_command() == LOCKED
        saver.set_active(True)  # said again (GNOME and logind both speak at a lock): nothing new
        saver.set_active(False)
        assert core.next_command() == UNLOCKED
        assert no_more(core)
    finally:
        front.close()
        saver.close()


def test_a_screen_already_locked_at_start_is_told_at_once(session):
    saver, core = ScreenSaver(active=True).start(), FakeCore()
    front = listening(core)
    try:
        assert core.next_command() == LOCKED
    finally:
        front.close()
        saver.close()


def test_no_screen_saver_is_one_line_and_one_that_starts_later_is_heard(session, caplog):
    core = FakeCore()
    with caplog.at_level(logging.INFO, logger="emusify.desk.screenlock"):
        front = listening(core)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 1 and lines[0].startswith("no screen saver on the session bus")
    assert "the away check still pauses an empty desk" in lines[0]
    saver = ScreenSaver("org.gnome.ScreenSaver").start()
    try:
        saver.set_active(True)
        assert core.next_command() == LOCKED
    finally:
        front.close()
        saver.close()


def test_no_session_bus_is_one_line_and_the_front_end_is_off(monkeypatch, caplog):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/emusify-test-bus")
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/emusify-test-system-bus")
    assert start_frontends(FakeCore(), [ScreenLock(timeout=2.0)]) == []
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert line.startswith("screen lock is off: no D-Bus session bus")
    assert "the away check still pauses an empty desk" in line


def test_logind_lock_unlock_and_locked_hint_on_the_system_bus(session):
    with private_bus("DBUS_SYSTEM_BUS_ADDRESS"):
        logind, core = Logind().start(), FakeCore()
        front = listening(core)
        try:
            assert front.sources == ["logind"] and logind.manager.asked
            logind.signal("Lock")  # loginctl lock-session
            assert core.next_command() == LOCKED
            logind.hint(True)  # the locker confirms: nothing new
            logind.hint(False)  # unlocked by password
            assert core.next_command() == UNLOCKED
            logind.signal("Lock")
            assert core.next_command() == LOCKED
            logind.signal("Unlock")  # loginctl unlock-session
            assert core.next_command() == UNLOCKED
            assert no_more(core)
        finally:
            front.close()
            logind.close()


def test_a_session_locked_before_the_start_is_read_from_locked_hint(session):
    with private_bus("DBUS_SYSTEM_BUS_ADDRESS"):
        logind, core = Logind(locked=True).start(), FakeCore()
        front = listening(core)
        try:
            assert core.next_command() == LOCKED
        finally:
            front.close()
            logind.close()


def test_the_bus_going_away_while_locked_unlocks_so_the_music_is_not_stuck(monkeypatch, caplog):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/emusify-test-system-bus")
    core = FakeCore()
    with private_bus():
        saver = ScreenSaver().start()
        front = listening(core)
        saver.set_active(True)
        assert core.next_command() == LOCKED
        saver.close()
    try:  # the daemon is gone
        assert core.next_command() == UNLOCKED
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and warnings[0].startswith("the session bus went away")
    finally:
        front.close()
