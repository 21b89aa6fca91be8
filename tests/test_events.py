"""The core's vocabulary (emusify.desk.events): commands checked, listeners told, a failing one dropped."""

from __future__ import annotations

import logging

import pytest

from emusify.desk.events import Command, Listener, Listeners, PlayerState, close_frontends, start_frontends


class Heard(Listener):
    def __init__(self) -> None:
        self.heard: list[tuple[str, dict]] = []

    def paused(self, when: float) -> None:
        self.heard.append(("paused", {"when": when}))

    def song_started(self, when: float, song) -> None:
        self.heard.append(("song_started", {"when": when, "song": song}))


class Broken(Listener):
    name = "broken front-end"

    def paused(self, when: float) -> None:
        raise RuntimeError("bus went away")


def test_commands_are_checked():
    assert Command("correct", "happy", "mpris").check().mood == "happy"
    for bad in (Command("dance"), Command("correct"), Command("next", "sad")):
        with pytest.raises(ValueError):
            bad.check()


def test_listeners_hear_events_in_order_and_unknown_events_are_ignored():
    heard, listeners = Heard(), Listeners()
    listeners.add(heard)
    listeners.send("song_started", when=1.0, song="a")
    listeners.send("a_future_event", when=2.0)  # a newer core's event: no error
    listeners.send("paused", when=3.0)
    assert heard.heard == [("song_started", {"when": 1.0, "song": "a"}), ("paused", {"when": 3.0})]


def test_a_listener_that_raises_is_dropped_and_the_others_still_hear(caplog):
    heard, listeners = Heard(), Listeners()
    listeners.add(Broken())
    listeners.add(heard)
    with caplog.at_level(logging.WARNING):
        listeners.send("paused", when=1.0)
        listeners.send("paused", when=2.0)
    assert [v["when"] for _, v in heard.heard] == [1.0, 2.0]
    assert len([r for r in caplog.records if "broken front-end failed" in r.message]) == 1
    assert len(list(listeners)) == 1


class FrontEnd:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.closed = name, fail, 0

    def start(self, core) -> None:
        if self.fail:
            raise ConnectionError("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
        core.add_listener(self)

    def close(self) -> None:
        self.closed += 1


class Core:
    state = PlayerState()

    def __init__(self) -> None:
        self.listeners: list = []

    def send(self, command) -> None:
        pass

    def add_listener(self, listener) -> None:
        self.listeners.append(listener)


def test_a_front_end_that_cannot_start_is_one_line_and_the_rest_start(caplog):
    core, good, bad = Core(), FrontEnd("mpris"), FrontEnd("notifications", fail=True)
    with caplog.at_level(logging.WARNING):
        started = start_frontends(core, [bad, good])
    assert started == [good] and core.listeners == [good]
    assert [r.message for r in caplog.records] == [
        "notifications is off: no session bus (DBUS_SESSION_BUS_ADDRESS is not set)"]
    close_frontends(started)
    assert good.closed == 1 and bad.closed == 1  # a failed start is cleaned up too


def test_every_front_end_takes_every_value_the_core_tells():
    """A listener's method must accept all of an event's values (Listener's signature): one that
    does not raises TypeError on that event and is dropped from the player for good."""
    import inspect

    from emusify.desk import journaling, mpris, notify, ui

    events = {name: inspect.signature(method) for name, method in vars(Listener).items()
              if inspect.isfunction(method) and not name.startswith("_") and name != "on_event"}
    checked = 0
    for listener in (journaling.JournalWriter, mpris.Mpris, notify.Notifier, ui.Terminal):
        for name, told in events.items():
            own = getattr(listener, name)
            if own is getattr(Listener, name):
                continue  # not overridden: the base ignores any values
            takes = inspect.signature(own).parameters
            if any(p.kind is p.VAR_KEYWORD for p in takes.values()):
                continue
            missing = [v for v in told.parameters if v != "self" and v not in takes]
            assert not missing, f"{listener.__name__}.{name} does not take {missing}"
            checked += 1
    assert checked >= 10  # the front-ends do override events: the check above ran
