"""run.py's front-ends from the settings, and two of them steering one core at once."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from emusify.config import Settings
from emusify.desk.events import Command, PlayerState, close_frontends, start_frontends
from emusify.desk.frontends import Unavailable, make_frontends


def test_the_settings_choose_the_front_ends():
    names = [f.name for f in make_frontends(Settings(mpris=True, notify="changes"))]
    assert names == ["mpris", "notifications", "screen lock"]  # on_lock = pause by default
    keep = {"on_lock": "keep"}  # a lock changes nothing: nothing listens for it
    names = [f.name for f in make_frontends(Settings(mpris=False, notify="every", **keep))]
    assert names == ["notifications"]
    assert make_frontends(Settings(mpris=False, notify="off", **keep)) == []
    assert [f.name for f in make_frontends(Settings(mpris=False, notify="off"))] == ["screen lock"]


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_where_no_desktop_tells_the_lock_on_d_bus_it_is_one_line_not_a_warning(platform, caplog):
    (frontend,) = make_frontends(Settings(mpris=False, notify="off"), platform=platform)
    with caplog.at_level("INFO"):
        assert start_frontends(object(), [frontend]) == [frontend]
    (record,) = caplog.records
    assert record.levelname == "INFO" and "the away check still pauses an empty desk" in record.getMessage()


def test_a_missing_library_is_one_line_at_start_not_an_import_error(monkeypatch, caplog):
    for module in ("emusify.desk.mpris", "dbus_fast", "dbus_fast.aio"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, "dbus_fast", None)  # as if it were not installed
    (frontend,) = make_frontends(Settings(mpris=True, notify="off", on_lock="keep"))
    assert isinstance(frontend, Unavailable)
    assert start_frontends(object(), [frontend]) == []
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("mpris is off: it needs the Python package dbus-fast")


try:
    from tests.busfix import FakeCore, NotificationServer, leave, needs_bus, private_bus
except ImportError:
    needs_bus = pytest.mark.skip(reason="needs dbus-fast for a private session bus")


@needs_bus
def test_a_media_key_and_a_notification_button_at_once_both_reach_the_core():
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    from tests.test_notify import SONG, posted

    with private_bus():
        server = NotificationServer().start()
        core = FakeCore(PlayerState(status="playing", song=SONG, folder="sad", moods=("happy", "sad")))
        settings = Settings(mpris=True, notify="changes", notify_every=0, on_lock="keep")
        frontends = start_frontends(core, make_frontends(settings))
        try:
            assert [f.name for f in frontends] == ["mpris", "notifications"]
            core.fire("mood_changed", when=1.0, mood="sad", share=0.9, folder="sad", song=SONG)
            shown = server.received.get(timeout=5)
            posted(frontends[1], 1)

            async def media_key():
                bus = await MessageBus(bus_type=BusType.SESSION).connect()
                await bus.call(Message(destination="org.mpris.MediaPlayer2.emusify",
                                       path="/org/mpris/MediaPlayer2", member="PlayPause",
                                       interface="org.mpris.MediaPlayer2.Player"))
                await leave(bus)

            key = threading.Thread(target=asyncio.run, args=(media_key(),))
            key.start()
            server.press(shown, "happy")
            key.join(5)
            got = {core.next_command(), core.next_command()}
            assert got == {Command("play_pause", None, "mpris"), Command("correct", "happy", "notification")}
        finally:
            close_frontends(frontends)
            server.close()


def test_every_listener_takes_an_event_whose_own_value_is_named_event():
    """reference_changed carries a value named ``event``: an on_event whose name parameter is not
    positional-only raises TypeError on it, and the front-end is dropped (MPRIS once was)."""
    import inspect

    from emusify.desk import events, mpris, notify, ui

    classes = [events.Listener, mpris.Mpris, notify.Notifier, ui.Terminal]
    for cls in classes:
        first = list(inspect.signature(cls.on_event).parameters.values())[1]
        assert first.kind is inspect.Parameter.POSITIONAL_ONLY, cls.__name__
