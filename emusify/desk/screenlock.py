"""The desktop's screen lock, heard on D-Bus: a lock and an unlock become commands to the core.

On the session bus, ``ActiveChanged(b)`` of ``org.freedesktop.ScreenSaver`` (KDE, Xfce, Cinnamon,
MATE, light-locker, ...) and of ``org.gnome.ScreenSaver`` (GNOME), the signals Quod Libet's
screensaver plugin pauses on; where a system bus is there, logind's own session too: its ``Lock``
and ``Unlock`` signals and its ``LockedHint`` property. A desktop tells several of them at each
lock, so whichever spoke last is believed (no source is left waiting for another's unlock). Each
change is sent once as ``screen_locked`` / ``screen_unlocked`` (source "screensaver"); what they
do is the core's (emusify.desk.lockwatch). Listening costs nothing between signals: the asyncio
loop (emusify.desk.aioloop) waits on the bus sockets.

dbus-fast is imported here and in emusify.desk.mpris, the two D-Bus front-ends: all this one needs
is a connection, a match rule and two method calls, and a shared bus module would mean reworking
MPRIS for that; dbus-fast stays out of the core and of every other module all the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from emusify.desk.aioloop import LoopThread
from emusify.desk.events import Command, CoreHandle
from emusify.errors import FrontEndError

log = logging.getLogger(__name__)

# The screen savers' bus names (also their interfaces) and the paths GetActive may live at.
SAVERS = {"org.freedesktop.ScreenSaver": ("/org/freedesktop/ScreenSaver", "/ScreenSaver"),
          "org.gnome.ScreenSaver": ("/org/gnome/ScreenSaver",)}
LOGIN = "org.freedesktop.login1"
SESSION = "org.freedesktop.login1.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
NO_LOCK = "a locked screen is not noticed (the away check still pauses an empty desk)"


class ScreenLock:
    """A front-end (:class:`~emusify.desk.events.FrontEnd`) that tells the core the screen's lock."""

    name = "screen lock"

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.core: CoreHandle | None = None
        self.sources: list[str] = []  # who tells the lock here: bus names, "logind"
        self.locked = False  # what the core was last told
        self._loop = LoopThread("emusify-screenlock")
        self._session: MessageBus | None = None
        self._system: MessageBus | None = None
        self._session_path: str | None = None  # logind's object of this login session
        self._watch: asyncio.Future | None = None

    def start(self, core: CoreHandle) -> None:
        """Listen on the session bus (and logind's, where there is a system bus).

        Raises:
            FrontEndError: no session bus.
        """
        self.core = core
        self._loop.start()
        try:
            self._loop.run(self._listen_session(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - an unreachable bus has many faces
            self.close()
            raise FrontEndError(f"no D-Bus session bus ({type(exc).__name__}: {exc}); {NO_LOCK}") from None
        try:
            self._loop.run(self._listen_logind(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - no system bus, no logind, not in a session: all the same
            log.debug("screen lock: no logind session (%s: %s)", type(exc).__name__, exc)
            self._drop_system()
        if not self.sources:
            log.info("no screen saver on the session bus (%s) and no logind session: %s until one starts",
                     " or ".join(SAVERS), NO_LOCK)
        else:
            log.debug("screen lock: listening to %s", ", ".join(self.sources))

    def close(self) -> None:
        """Leave the buses and stop the loop; idempotent, never raises."""
        buses = (self._session, self._system)
        self._session = self._system = None  # we leave: the watch says nothing
        for bus in buses:
            if bus is not None:
                try:
                    self._loop.run(_leave(bus), 1.0)
                except Exception as exc:  # noqa: BLE001
                    log.debug("screen lock: disconnect: %s", exc)
        self._loop.close()

    # -- on the loop's thread ------------------------------------------------------------------

    async def _listen_session(self) -> None:
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        self._session = bus
        bus.add_message_handler(self._on_session)
        for name in SAVERS:
            await _call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                        "AddMatch", "s", [f"type='signal',interface='{name}',member='ActiveChanged'"])
        self._watch = asyncio.ensure_future(self._watch_bus(bus))
        for name, paths in SAVERS.items():
            if not (await _call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                "NameHasOwner", "s", [name]) or [False])[0]:
                continue
            self.sources.append(name)
            for path in paths:  # already locked at start (run.py started by hand on a locked screen)
                active = await _call(bus, name, path, name, "GetActive")
                if active is not None:
                    self._set(bool(active[0]), name)
                    break

    async def _listen_logind(self) -> None:
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        self._system = bus
        session = os.environ.get("XDG_SESSION_ID") or "auto"
        reply = await _call(bus, LOGIN, "/org/freedesktop/login1", f"{LOGIN}.Manager", "GetSession", "s",
                            [session])
        if reply is None:
            raise FrontEndError(f"logind knows no session {session!r}")
        self._session_path = reply[0]
        bus.add_message_handler(self._on_system)
        await _call(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch",
                    "s", [f"type='signal',sender='{LOGIN}',path='{self._session_path}'"])
        self.sources.append("logind")
        hint = await _call(bus, LOGIN, self._session_path, PROPERTIES, "Get", "ss", [SESSION, "LockedHint"])
        if hint is not None and hint[0].value:
            self._set(True, "logind")

    def _on_session(self, message: Message) -> None:
        if (message.message_type == MessageType.SIGNAL and message.member == "ActiveChanged"
                and message.interface in SAVERS and message.signature == "b"):
            self._set(bool(message.body[0]), message.interface)

    def _on_system(self, message: Message) -> None:
        if message.message_type != MessageType.SIGNAL or message.path != self._session_path:
            return
        if message.interface == SESSION and message.member in ("Lock", "Unlock"):
            self._set(message.member == "Lock", "logind")
        elif (message.interface == PROPERTIES and message.member == "PropertiesChanged"
              and message.body and message.body[0] == SESSION and "LockedHint" in message.body[1]):
            self._set(bool(message.body[1]["LockedHint"].value), "logind")

    def _set(self, locked: bool, source: str) -> None:
        """The screen is (un)locked, says ``source``: tell the core when that changes anything."""
        if locked == self.locked:
            return
        self.locked = locked
        log.debug("screen lock: %s says %s", source, "locked" if locked else "unlocked")
        if self.core is not None:
            self.core.send(Command("screen_locked" if locked else "screen_unlocked", source="screensaver"))

    async def _watch_bus(self, bus: MessageBus) -> None:
        """The session bus going away under us (not on close): one line, and no lock left standing."""
        try:
            await bus.wait_for_disconnect()
        except Exception as exc:  # noqa: BLE001 - how it went does not change what to say
            log.debug("screen lock bus: %s", exc)
        if self._session is bus:
            self._session = None
            log.warning("the session bus went away: %s (restart run.py to hear it again)", NO_LOCK)
            self._set(False, "the lost bus")  # never stuck paused with no unlock to come

    def _drop_system(self) -> None:
        bus, self._system = self._system, None
        if bus is not None:
            bus.disconnect()


async def _call(bus: MessageBus, destination: str, path: str, interface: str, member: str,
                signature: str = "", body: list[Any] | None = None) -> list[Any] | None:
    """A method call's reply body; None for an error reply (no such object, method or name)."""
    reply = await bus.call(Message(destination=destination, path=path, interface=interface, member=member,
                                   signature=signature, body=body or []))
    if reply is None or reply.message_type != MessageType.METHOD_RETURN:
        return None
    return reply.body


async def _leave(bus: MessageBus) -> None:
    bus.disconnect()
    await bus.wait_for_disconnect()
