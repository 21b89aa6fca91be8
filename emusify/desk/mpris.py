"""MPRIS 2 on the session bus: the media keys and the desktop's now-playing widget steer Emusify.

Exports ``/org/mpris/MediaPlayer2`` under ``org.mpris.MediaPlayer2.emusify`` with the root and the
Player interfaces (https://specifications.freedesktop.org/mpris-spec/latest/). Methods become
commands to the core (``source="mpris"``); the core's events, handed over to this front-end's own
asyncio loop, become ``PropertiesChanged`` signals. The only module that imports dbus-fast for it.
"""

import asyncio
import logging
import os
from typing import Any, Optional

from dbus_fast import BusType, PropertyAccess, RequestNameReply, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import NameFlag
from dbus_fast.service import ServiceInterface, dbus_property, method, signal

from emusify.desk.aioloop import LoopThread
from emusify.desk.events import Command, CoreHandle, Listener, PlayerState
from emusify.desk.nowplaying import NowPlaying
from emusify.errors import FrontEndError

log = logging.getLogger(__name__)

BUS_NAME = "org.mpris.MediaPlayer2.emusify"
OBJECT_PATH = "/org/mpris/MediaPlayer2"

# D-Bus signatures as plain names: dbus-fast reads them from the annotations of the interfaces below,
# which is why this module does not use `from __future__ import annotations`.
STR, BOOL, DOUBLE, INT64, PATH, STRINGS, DICT = "s", "b", "d", "x", "o", "as", "a{sv}"


class Mpris(Listener):
    """The MPRIS front-end: owns the bus name while it runs (a :class:`~emusify.desk.events.FrontEnd`)."""

    name = "mpris"

    def __init__(self, bus_name: str = BUS_NAME, desktop_entry: str = "emusify",
                 timeout: float = 5.0) -> None:
        self.bus_name = bus_name
        self.desktop_entry = desktop_entry
        self.timeout = timeout
        self.core: Optional[CoreHandle] = None
        self.now = NowPlaying()  # what the bus shows, changed on the loop's thread only
        self._loop = LoopThread("emusify-mpris")
        self._bus: Optional[MessageBus] = None
        self._root = _Root(self)
        self._player = _Player(self)
        self._watch: Optional[asyncio.Future] = None  # waits for the bus to go away

    def start(self, core: CoreHandle) -> None:
        """Connect to the session bus, export the player, listen to the core.

        Raises:
            FrontEndError: no session bus (or dbus-fast cannot reach it).
        """
        self.core = core
        self._loop.start()
        try:
            self.bus_name = self._loop.run(self._connect(core.state), self.timeout)
        except Exception as exc:  # noqa: BLE001 - an unreachable bus has many faces
            self.close()
            raise FrontEndError(f"no D-Bus session bus ({type(exc).__name__}: {exc}); media keys and the "
                                "desktop's now-playing widget will not reach Emusify") from None
        core.add_listener(self)
        log.debug("MPRIS: %s on the session bus", self.bus_name)

    def close(self) -> None:
        """Leave the bus and stop the loop; idempotent, never raises."""
        bus, self._bus = self._bus, None
        if bus is not None:
            try:
                self._loop.run(self._disconnect(bus), 1.0)
            except Exception as exc:  # noqa: BLE001
                log.debug("MPRIS disconnect: %s", exc)
        self._loop.close()

    def on_event(self, event: str, /, **values: Any) -> None:
        """Called on the core's thread: hand the event to the bus loop and return at once."""
        self._loop.call(self._apply, event, values)

    def send(self, name: str, value: Optional[float] = None) -> None:
        """A method call from the bus becomes a command to the core."""
        if self.core is not None:
            self.core.send(Command(name, source="mpris", value=value))

    async def _connect(self, state: PlayerState) -> str:
        self._apply("state_changed", {"state": state})
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        self._bus = bus
        self._watch = asyncio.ensure_future(self._watch_bus(bus))
        bus.export(OBJECT_PATH, self._root)
        bus.export(OBJECT_PATH, self._player)
        # A second player of the same kind takes the spec's ".instance<pid>" name.
        for name in (self.bus_name, f"{self.bus_name}.instance{os.getpid()}"):
            if await bus.request_name(name, NameFlag.DO_NOT_QUEUE) == RequestNameReply.PRIMARY_OWNER:
                return name
        raise FrontEndError(f"{self.bus_name} is taken on the session bus")

    # -- on the loop's thread ------------------------------------------------------------------

    async def _disconnect(self, bus: MessageBus) -> None:
        bus.disconnect()
        await bus.wait_for_disconnect()
        if self._watch is not None:
            await asyncio.gather(self._watch, return_exceptions=True)  # it ends quietly: we left

    async def _watch_bus(self, bus: MessageBus) -> None:
        """One line when the session bus goes away under us (not on close); the player goes on."""
        try:
            await bus.wait_for_disconnect()
        except Exception as exc:  # noqa: BLE001 - how it went does not change what to say
            log.debug("MPRIS bus: %s", exc)
        if self._bus is bus:
            self._bus = None
            log.warning("the session bus went away: media keys and the now-playing widget no longer "
                        "reach Emusify (restart run.py to bring them back)")

    def _apply(self, event: str, values: dict) -> None:
        """Follow one core event and signal what a client sees change."""
        before = self._shown()
        self.now.apply(event, values)
        after = self._shown()
        changed = {key: value for key, value in after.items() if before[key] != value}
        if changed and self._bus is not None:
            self._player.emit_properties_changed(changed)
        if event == "seeked" and self._bus is not None:  # Position is never signalled: Seeked says it
            self._player.Seeked()

    def _shown(self) -> dict[str, Any]:
        return {"PlaybackStatus": self.now.status(), "Metadata": self.metadata(),
                "Volume": self.now.view.volume, "CanSeek": self.now.view.can_seek}

    def metadata(self) -> dict[str, Variant]:
        return {key: Variant(signature, value) for key, (signature, value) in self.now.metadata().items()}


class _Root(ServiceInterface):
    """org.mpris.MediaPlayer2: who we are; Quit ends run.py."""

    def __init__(self, front: Mpris) -> None:
        super().__init__("org.mpris.MediaPlayer2")
        self.front = front

    @method()
    def Raise(self):  # CanRaise is false: there is no window to raise
        pass

    @method()
    def Quit(self):
        self.front.send("quit")

    @dbus_property(access=PropertyAccess.READ)
    def CanQuit(self) -> BOOL:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanRaise(self) -> BOOL:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def HasTrackList(self) -> BOOL:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Identity(self) -> STR:
        return "Emusify"

    @dbus_property(access=PropertyAccess.READ)
    def DesktopEntry(self) -> STR:
        return self.front.desktop_entry

    @dbus_property(access=PropertyAccess.READ)
    def SupportedUriSchemes(self) -> STRINGS:
        return []  # OpenUri does nothing: the mood picks the music, not a URI

    @dbus_property(access=PropertyAccess.READ)
    def SupportedMimeTypes(self) -> STRINGS:
        return []


class _Player(ServiceInterface):
    """org.mpris.MediaPlayer2.Player: the controls a media key or a widget uses."""

    def __init__(self, front: Mpris) -> None:
        super().__init__("org.mpris.MediaPlayer2.Player")
        self.front = front

    @method()
    def Next(self):
        self.front.send("next")

    @method()
    def Previous(self):  # CanGoPrevious is false: the mood, not a history, picks the music
        pass

    @method()
    def Pause(self):
        self.front.send("pause")

    @method()
    def PlayPause(self):
        self.front.send("play_pause")

    @method()
    def Stop(self):
        self.front.send("stop")

    @method()
    def Play(self):
        self.front.send("play")

    @method()
    def Seek(self, offset: INT64):  # past the song's end: the next song (the core decides)
        if self.front.now.view.can_seek:
            self.front.send("seek", offset / 1_000_000)

    @method()
    def SetPosition(self, track_id: PATH, position: INT64):  # another track or out of range: ignored
        now = self.front.now
        if now.view.can_seek and track_id == now.trackid() and position >= 0:
            self.front.send("position", position / 1_000_000)

    @signal()
    def Seeked(self) -> INT64:
        return int(self.front.now.position() * 1_000_000)

    @method()
    def OpenUri(self, uri: STR):  # no URI schemes supported
        pass

    @dbus_property(access=PropertyAccess.READ)
    def PlaybackStatus(self) -> STR:
        return self.front.now.status()

    @dbus_property(access=PropertyAccess.READ)
    def Metadata(self) -> DICT:
        return self.front.metadata()

    @dbus_property(access=PropertyAccess.READ)
    def Position(self) -> INT64:
        return int(self.front.now.position() * 1_000_000)

    @dbus_property()
    def Rate(self) -> DOUBLE:
        return 1.0

    @Rate.setter
    def Rate(self, value: DOUBLE):  # one speed only; the spec lets a player ignore it
        pass

    @dbus_property()
    def Volume(self) -> DOUBLE:
        return self.front.now.view.volume

    @Volume.setter
    def Volume(self, value: DOUBLE):  # the change is signalled once the core has made it
        self.front.send("volume", min(max(value, 0.0), 1.0))

    @dbus_property(access=PropertyAccess.READ)
    def MinimumRate(self) -> DOUBLE:
        return 1.0

    @dbus_property(access=PropertyAccess.READ)
    def MaximumRate(self) -> DOUBLE:
        return 1.0

    @dbus_property(access=PropertyAccess.READ)
    def CanGoNext(self) -> BOOL:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanGoPrevious(self) -> BOOL:
        return False

    @dbus_property(access=PropertyAccess.READ)
    def CanPlay(self) -> BOOL:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanPause(self) -> BOOL:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def CanSeek(self) -> BOOL:
        return self.front.now.view.can_seek

    @dbus_property(access=PropertyAccess.READ)
    def CanControl(self) -> BOOL:
        return True
