"""For the front-end tests: a private D-Bus session bus, a fake core, a stand-in notification server,
stand-in screen savers and a stand-in logind (on a private "system" bus of its own).

The bus is a ``dbus-daemon --session`` of the test's own (skipped cleanly where dbus-daemon is not
installed); DBUS_SESSION_BUS_ADDRESS points at it while it runs, so nothing reaches the desktop's bus.
"""

import dataclasses
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional

import pytest
from dbus_fast import BusType, Message, MessageType, PropertyAccess
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, dbus_property, method, signal

from emusify.desk.aioloop import LoopThread
from emusify.desk.events import Command, Listeners, PlayerState

DBUS_DAEMON = shutil.which("dbus-daemon")
needs_bus = pytest.mark.skipif(DBUS_DAEMON is None, reason="needs dbus-daemon for a private session bus")

# D-Bus signatures as plain names (dbus-fast reads annotations)
STR, UINT, INT, STRINGS, DICT, UU, US, INFO = "s", "u", "i", "as", "a{sv}", "uu", "us", "ssss"
BOOL, PATH = "b", "o"


@contextmanager
def private_bus(variable: str = "DBUS_SESSION_BUS_ADDRESS") -> Iterator[str]:
    """A session bus of our own for the block; ``variable`` names it meanwhile (the system bus's
    DBUS_SYSTEM_BUS_ADDRESS for a stand-in logind)."""
    assert DBUS_DAEMON is not None
    daemon = subprocess.Popen([DBUS_DAEMON, "--session", "--nofork", "--nopidfile", "--print-address=1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    saved = os.environ.get(variable)
    try:
        address = daemon.stdout.readline().strip()  # type: ignore[union-attr]
        assert address, "dbus-daemon printed no address"
        os.environ[variable] = address
        yield address
    finally:
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved
        daemon.terminate()
        daemon.wait(5)
        daemon.stdout.close()  # type: ignore[union-attr]


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
            self._loop.run(leave(self._bus), 5.0)
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


class ScreenSaver(ServiceInterface):
    """A stand-in screen saver: owns ``name`` (org.freedesktop.ScreenSaver or org.gnome.ScreenSaver),
    answers GetActive and emits ActiveChanged(b) when told the screen locked or unlocked."""

    PATHS = {"org.freedesktop.ScreenSaver": "/org/freedesktop/ScreenSaver",
             "org.gnome.ScreenSaver": "/org/gnome/ScreenSaver"}

    def __init__(self, name: str = "org.freedesktop.ScreenSaver", active: bool = False) -> None:
        super().__init__(name)
        self.bus_name, self.active = name, active
        self.sent = 0.0  # perf_counter() when the last ActiveChanged left
        self._loop = LoopThread(f"stand-in {name}")
        self._bus: Optional[MessageBus] = None

    def start(self) -> "ScreenSaver":
        self._loop.start()
        self._loop.run(self._connect(), 5.0)
        return self

    async def _connect(self) -> None:
        self._bus = await MessageBus(bus_type=BusType.SESSION).connect()
        self._bus.export(self.PATHS[self.bus_name], self)
        await self._bus.request_name(self.bus_name)

    def set_active(self, active: bool) -> None:
        """The screen locks (True) or unlocks (False): ActiveChanged goes out on the bus."""
        self._loop.run(self._emit(active), 5.0)

    async def _emit(self, active: bool) -> None:
        self.active = active
        self.sent = time.perf_counter()
        self.ActiveChanged(active)

    def close(self) -> None:
        if self._bus is not None:
            self._loop.run(leave(self._bus), 5.0)
        self._loop.close()

    @method()
    def GetActive(self) -> BOOL:
        return self.active

    @signal()
    def ActiveChanged(self, active: bool) -> BOOL:
        return active


class Logind:
    """A stand-in logind on the current system bus (a private one): a Manager whose GetSession
    gives one session object, with LockedHint and the Lock/Unlock signals."""

    PATH = "/org/freedesktop/login1/session/_31"

    def __init__(self, locked: bool = False) -> None:
        self.manager, self.session = _LoginManager(self.PATH), _LoginSession(locked)
        self._loop = LoopThread("stand-in logind")
        self._bus: Optional[MessageBus] = None

    def start(self) -> "Logind":
        self._loop.start()
        self._loop.run(self._connect(), 5.0)
        return self

    async def _connect(self) -> None:
        self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self._bus.export("/org/freedesktop/login1", self.manager)
        self._bus.export(self.PATH, self.session)
        await self._bus.request_name("org.freedesktop.login1")

    def signal(self, member: str) -> None:
        """loginctl lock-session / unlock-session: the Lock or Unlock signal."""
        self._loop.call(getattr(self.session, member))

    def hint(self, locked: bool) -> None:
        """The screen locker sets LockedHint: PropertiesChanged goes out."""
        def change() -> None:
            self.session.locked = locked
            self.session.emit_properties_changed({"LockedHint": locked})
        self._loop.call(change)

    def close(self) -> None:
        if self._bus is not None:
            self._loop.run(leave(self._bus), 5.0)
        self._loop.close()


class _LoginManager(ServiceInterface):
    def __init__(self, path: str) -> None:
        super().__init__("org.freedesktop.login1.Manager")
        self.path = path
        self.asked: list[str] = []

    @method()
    def GetSession(self, session_id: STR) -> PATH:
        self.asked.append(session_id)
        return self.path


class _LoginSession(ServiceInterface):
    def __init__(self, locked: bool) -> None:
        super().__init__("org.freedesktop.login1.Session")
        self.locked = locked

    @dbus_property(access=PropertyAccess.READ)
    def LockedHint(self) -> BOOL:
        return self.locked

    @signal()
    def Lock(self):
        pass

    @signal()
    def Unlock(self):
        pass


def buttons(notification: dict) -> list[str]:
    """The titles of a notification's buttons (without the body's "default" action)."""
    actions = notification["actions"]
    return [actions[i + 1] for i in range(0, len(actions), 2) if actions[i] != "default"]


class RunPy:
    """``python run.py ...`` as a subprocess on the current (private) bus; its stderr lines collected."""

    def __init__(self, root: Any, args: list, env: dict) -> None:
        self.lines: list[str] = []
        env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1", **env)
        self.child = subprocess.Popen([sys.executable, "run.py", *map(str, args)], cwd=root, env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.child.stderr:  # type: ignore[union-attr]
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait(self, timeout: float) -> int:
        status = self.child.wait(timeout)
        self._reader.join(5)
        return status

    def stop(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(10)


class Seekeds:
    """The MPRIS Seeked signals a client hears: (perf_counter() at arrival, position in microseconds)."""

    def __init__(self, client: "MprisClient") -> None:
        self.heard: queue.Queue = queue.Queue()
        client._bus.add_message_handler(self._on)
        client.call("AddMatch", "org.freedesktop.DBus", "s", ("type='signal',member='Seeked'",),
                    destination="org.freedesktop.DBus")

    def _on(self, message: Any) -> None:
        if message.member == "Seeked":
            self.heard.put((time.perf_counter(), message.body[0]))

    def clear(self) -> None:
        while not self.heard.empty():
            self.heard.get_nowait()

    def next(self, timeout: float = 5.0) -> tuple[float, int]:
        return self.heard.get(timeout=timeout)


class MprisClient:
    """A blocking MPRIS client for tests and the benchmark: calls, reads, and waits for signals."""

    PLAYER = "org.mpris.MediaPlayer2.Player"

    def __init__(self, name: str = "org.mpris.MediaPlayer2.emusify") -> None:
        self.name = name
        self.changes: queue.Queue[tuple[float, dict]] = queue.Queue()  # (arrival time, changed properties)
        self.arrival = 0.0  # when the change wait_for returned came (time.perf_counter)
        self._loop = LoopThread("mpris test client")
        self._loop.start()
        self._bus: MessageBus = self._loop.run(self._connect(), 5.0)

    async def _connect(self) -> MessageBus:
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        bus.add_message_handler(self._on_message)
        rule = "type='signal',member='PropertiesChanged',path='/org/mpris/MediaPlayer2'"
        await bus.call(Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                               interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                               body=[rule]))
        return bus

    def _on_message(self, message: Any) -> None:
        if message.member == "PropertiesChanged" and message.body and message.body[0] == self.PLAYER:
            changed = {key: _plain(value.value) for key, value in message.body[1].items()}
            self.changes.put((time.perf_counter(), changed))

    def call(self, member: str, interface: str = PLAYER, signature: str = "", body: tuple = (),
             destination: Optional[str] = None) -> list:
        """Call a method; its reply's body. Raises AssertionError on a D-Bus error reply."""
        path = "/org/freedesktop/DBus" if destination == "org.freedesktop.DBus" else "/org/mpris/MediaPlayer2"
        message = Message(destination=destination or self.name, path=path, interface=interface,
                          member=member, signature=signature, body=list(body))
        reply = self._loop.run(self._bus.call(message), 5.0)
        assert reply.message_type == MessageType.METHOD_RETURN, f"{member}: {reply.body}"
        return reply.body

    def get(self, prop: str, interface: str = PLAYER) -> Any:
        return _plain(self.call("Get", "org.freedesktop.DBus.Properties", "ss", (interface, prop))[0].value)

    def present(self) -> bool:
        """Whether a player owns the name on the bus."""
        return self.call("NameHasOwner", "org.freedesktop.DBus", "s", (self.name,),
                         destination="org.freedesktop.DBus")[0]

    def wait_for(self, test: Any, timeout: float) -> dict:
        """The first PropertiesChanged (queued since the last call) for which ``test(changed)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no such PropertiesChanged within the time")
            try:
                arrival, changed = self.changes.get(timeout=left)
            except queue.Empty:
                continue
            if test(changed):
                self.arrival = arrival  # perf_counter() when it came
                return changed

    def close(self) -> None:
        self._loop.run(leave(self._bus), 5.0)
        self._loop.close()


async def leave(bus: MessageBus) -> None:
    """Disconnect and wait until the socket is closed."""
    bus.disconnect()
    await bus.wait_for_disconnect()


def _plain(value: Any) -> Any:
    """A D-Bus value without its Variant wrappers (Metadata becomes a dict of plain values)."""
    if isinstance(value, dict):
        return {key: _plain(getattr(item, "value", item)) for key, item in value.items()}
    return value
