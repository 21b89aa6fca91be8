"""Notifications that take a correction: "sad (78%): playing <title> - <artist>" with mood buttons.

When a window moves the music (``mood_changed``; with ``notify = every`` also a window that keeps
it), one desktop notification names the mood read and the song, with a button per other mood and
one "right". A button sends the same command as the mood's digit or ``y`` on the terminal. A new
window closes the notification still shown (its buttons would act on a window it does not show),
and so does a correction saved by any front-end (the question is answered).
The only module that imports desktop-notifier (D-Bus on Linux, the Notification Center on macOS,
WinRT on Windows); it runs on its own asyncio loop thread, as the D-Bus backend needs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any, Callable, Optional

from desktop_notifier import Button, Capability, DesktopNotifier

from emusify.desk.aioloop import LoopThread
from emusify.desk.events import Command, CoreHandle, Listener
from emusify.errors import FrontEndError

log = logging.getLogger(__name__)

MODES = ("changes", "every", "off")


class NotifyPolicy:
    """When to notify: ``mode`` (changes, every, off) and at least ``gap`` seconds between two."""

    def __init__(self, mode: str, gap: float, clock: Callable[[], float] = time.monotonic) -> None:
        if mode not in MODES:
            raise ValueError(f"notify must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode, self.gap, self.clock = mode, gap, clock
        self._last: Optional[float] = None

    def due(self, changed: bool) -> bool:
        """Whether a window (that moved the music when ``changed``) gets a notification; counts it if so."""
        wanted = self.mode == "every" or (self.mode == "changes" and changed)
        now = self.clock()
        if not wanted or (self._last is not None and now - self._last < self.gap):
            return False
        self._last = now
        return True


def headline(mood: Optional[str], share: float, song: Any) -> str:
    """"sad (78%): playing <title> - <artist>" (or "unsure: ..." / "... nothing to play")."""
    read = f"{mood} ({share:.0%})" if mood else "unsure"
    if song is None:
        return f"{read}: nothing to play"
    artist = f" - {song.artist}" if getattr(song, "artist", None) else ""
    return f"{read}: playing {song.title}{artist}"


def choices(mood: Optional[str], moods: tuple[str, ...]) -> list[tuple[str, Command]]:
    """The buttons: (title, command) for each other mood, then "right" when a mood was read."""
    buttons = [(other, Command("correct", other, "notification")) for other in moods if other != mood]
    if mood is not None:
        buttons.append(("right", Command("confirm", source="notification")))
    return buttons


class Notifier(Listener):
    """The notification front-end (a :class:`~emusify.desk.events.FrontEnd`)."""

    name = "notifications"

    def __init__(self, mode: str = "changes", every_minutes: float = 1.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = NotifyPolicy(mode, every_minutes * 60.0, clock)
        self.timeout = timeout
        self.core: Optional[CoreHandle] = None
        self._loop = LoopThread("emusify-notify")
        self._notifier: Optional[DesktopNotifier] = None
        self._shown: Optional[str] = None  # the identifier of the notification on screen
        self._lock: Optional[asyncio.Lock] = None  # one notification job at a time, in order
        self.posted = 0  # notifications handed to the server so far (their buttons now answer)

    def start(self, core: CoreHandle) -> None:
        """Reach the notification server and listen to the core.

        Raises:
            FrontEndError: no notification server (or no session bus).
        """
        self.core = core
        self._loop.start()
        self._notifier = DesktopNotifier(app_name="Emusify", app_icon=None)
        try:
            capabilities = self._loop.run(self._notifier.get_capabilities(), self.timeout)
        except Exception as exc:  # noqa: BLE001 - no bus, no server, a server that does not answer
            self.close()
            raise FrontEndError(f"no notification server ({type(exc).__name__}: {exc}); correct the mood "
                                "with the keys in run.py's terminal") from None
        if Capability.BUTTONS not in capabilities:
            log.warning("the notification server shows no buttons: notifications only say what plays")
        core.add_listener(self)

    def close(self) -> None:
        """Leave the bus and stop the loop; idempotent, never raises. Notifications shown stay."""
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            try:
                self._loop.run(_disconnect(notifier), 1.0)
            except Exception as exc:  # noqa: BLE001
                log.debug("closing notifications: %s", exc)
        self._loop.close()

    def announce(self, text: str) -> None:
        """One notification without buttons (e.g. how to start the set-up when run.py is headless)."""
        self._loop.submit(self._send(text, []))

    # -- on the core's thread: decide, then hand over ------------------------------------------

    def window_started(self, when: float, cycle: int) -> None:
        self._loop.submit(self._clear())  # its buttons would act on a window it does not show

    def correction_saved(self, when: float, mood: str, kind: str, read: Optional[str], message: str,
                         window: Optional[float] = None, frames: int = 0) -> None:
        self._loop.submit(self._clear())  # answered (by a key or a button): no second answer

    def window_read(self, when: float, result: Any, decision: str) -> None:
        if decision == "keep" and self.policy.due(changed=False):
            state = self.core.state if self.core is not None else None
            self._post(result.mood, result.share, state.song if state is not None else None)

    def mood_changed(self, when: float, mood: str, share: float, folder: str, song: Any) -> None:
        if self.policy.due(changed=True):
            self._post(mood, share, song)

    def _post(self, mood: Optional[str], share: float, song: Any) -> None:
        moods = self.core.state.moods if self.core is not None else ()
        self._loop.submit(self._send(headline(mood, share, song), choices(mood, moods)))

    # -- on the loop's thread -------------------------------------------------------------------

    async def _send(self, title: str, buttons: list[tuple[str, Command]]) -> None:
        async with self._serial():
            if self._notifier is None:  # closed meanwhile
                return
            await self._drop_shown()
            self._shown = await self._notifier.send(
                title=title, message="Wrong mood? Press the right one." if buttons else "",
                buttons=[Button(title=text, on_pressed=functools.partial(self._pressed, command))
                         for text, command in buttons])
            self.posted += 1
        log.debug("notified: %s", title)

    async def _clear(self) -> None:
        async with self._serial():
            await self._drop_shown()

    def _serial(self) -> asyncio.Lock:
        if self._lock is None:  # made on the loop's thread, where it is used
            self._lock = asyncio.Lock()
        return self._lock

    async def _drop_shown(self) -> None:
        shown, self._shown = self._shown, None
        if shown is not None and self._notifier is not None:
            try:
                await self._notifier.clear(shown)
            except Exception as exc:  # noqa: BLE001 - already closed by the user or the server
                log.debug("clearing notification: %s", exc)

    def _pressed(self, command: Command) -> None:
        self._shown = None
        if self.core is not None:
            self.core.send(command)


async def _disconnect(notifier: DesktopNotifier) -> None:
    """Close the D-Bus connection desktop-notifier opened (it has no public close; Linux only)."""
    bus = getattr(getattr(notifier, "_backend", None), "bus", None)
    if bus is not None:
        bus.disconnect()
        await bus.wait_for_disconnect()
