"""For the front-end tests: a private D-Bus session bus, a fake core, a stand-in notification server.

The bus is a ``dbus-daemon --session`` of the test's own (skipped cleanly where dbus-daemon is not
installed); DBUS_SESSION_BUS_ADDRESS points at it while it runs, so nothing reaches the desktop's bus.
"""

import dataclasses
import os
import queue
import shutil
import subprocess
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import pytest
from dbus_fast import BusType
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

from emusify.desk.aioloop import LoopThread
from emusify.desk.events import Command, Listeners, PlayerState

DBUS_DAEMON = shutil.which("dbus-daemon")
needs_bus = pytest.mark.skipif(DBUS_DAEMON is None, reason="needs dbus-daemon for a private session bus")

# D-Bus signatures as plain names (dbus-fast reads annotations)
STR, UINT, INT, STRINGS, DICT, UU, US, INFO = "s", "u", "i", "as", "a{sv}", "uu", "us", "ssss"


@contextmanager
def private_bus() -> Iterator[str]:
    """A session bus of our own for the block; DBUS_SESSION_BUS_ADDRESS names it meanwhile."""
    assert DBUS_DAEMON is not None
    daemon = subprocess.Popen([DBUS_DAEMON, "--session", "--nofork", "--nopidfile", "--print-address=1"],
                              stdout=subprocess.PIPE, text=True)
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    try:
        address = daemon.stdout.readline().strip()  # type: ignore[union-attr]
        assert address, "dbus-daemon printed no address"
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        yield address
    finally:
        if saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved
        daemon.terminate()
        daemon.wait(5)


class FakeCore:
    """A CoreHandle: records the commands it is sent; the test sets its state and fires events."""

    def __init__(self, state: Optional[PlayerState] = None) -> None:
        self._state = state or PlayerState()
        self.commands: queue.Queue[Command] = queue.Queue()
        self.listeners = Listeners()
        self.heard = threading.Event()  # set by on_command, for timing

    @property
    def state(self) -> PlayerState:
        return self._state

    def send(self, command: Command) -> None:
        self.commands.put(command.check())
        self.heard.set()

    def add_listener(self, listener: Any) -> None:
        self.listeners.add(listener)

    def change(self, **changes: Any) -> PlayerState:
        self._state = dataclasses.replace(self._state, **changes)
        return self._state

    def fire(self, event: str, **values: Any) -> None:
        self.listeners.send(event, **values)

    def next_command(self, timeout: float = 5.0) -> Command:
        return self.commands.get(timeout=timeout)


class NotificationServer(ServiceInterface):
    """A stand-in org.freedesktop.Notifications: keeps what it is sent, presses buttons on request."""

    def __init__(self, capabilities: tuple[str, ...] = ("actions", "body")) -> None:
        super().__init__("org.freedesktop.Notifications")
        self.capabilities = list(capabilities)
        self.received: queue.Queue[dict] = queue.Queue()
        self.closed: list[int] = []
        self._ids = 0
        self._loop = LoopThread("stand-in notification server")
        self._bus: Optional[MessageBus] = None

    def start(self) -> "NotificationServer":
        """Take the name org.freedesktop.Notifications on the session bus."""
        self._loop.start()
        self._loop.run(self._connect(), 5.0)
        return self

    async def _connect(self) -> None:
        self._bus = await MessageBus(bus_type=BusType.SESSION).connect()
        self._bus.export("/org/freedesktop/Notifications", self)
        await self._bus.request_name("org.freedesktop.Notifications")

    def close(self) -> None:
        if self._bus is not None:
            self._loop.call(self._bus.disconnect)
        self._loop.close()

    def press(self, notification: dict, title: str) -> None:
        """The user presses the button titled ``title`` on ``notification``."""
        actions = notification["actions"]
        keys = {actions[i + 1]: actions[i] for i in range(0, len(actions), 2)}
        self._loop.call(self.ActionInvoked, notification["id"], keys[title])

    @method()
    def Notify(self, app_name: STR, replaces_id: UINT, app_icon: STR, summary: STR, body: STR,
               actions: STRINGS, hints: DICT, expire_timeout: INT) -> UINT:
        self._ids += 1
        self.received.put({"id": self._ids, "app": app_name, "summary": summary, "body": body,
                           "actions": list(actions)})
        return self._ids

    @method()
    def CloseNotification(self, id: UINT):
        self.closed.append(id)
        self.NotificationClosed(id, 3)

    @method()
    def GetCapabilities(self) -> STRINGS:
        return self.capabilities

    @method()
    def GetServerInformation(self) -> INFO:
        return ["stand-in", "emusify tests", "1.0", "1.2"]

    @signal()
    def ActionInvoked(self, id: int, key: str) -> US:
        return [id, key]

    @signal()
    def NotificationClosed(self, id: int, reason: int) -> UU:
        return [id, reason]


def buttons(notification: dict) -> list[str]:
    """The titles of a notification's buttons (without the body's "default" action)."""
    actions = notification["actions"]
    return [actions[i + 1] for i in range(0, len(actions), 2) if actions[i] != "default"]
