"""The front-ends run.py starts beside the terminal: built from the settings, started by the core.

Each is optional. One whose library is missing becomes a stand-in whose ``start`` raises, so that
:func:`emusify.desk.events.start_frontends` reports it in one line like any other that cannot start.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable

from emusify.config import Settings
from emusify.errors import FrontEndError

log = logging.getLogger(__name__)
NO_DBUS = ("win32", "cygwin", "darwin")  # desktops that do not tell the screen's lock on D-Bus


def make_frontends(settings: Settings, platform: str = sys.platform) -> list[Any]:
    """The front-ends the settings ask for (``mpris``, ``notify``, ``on_lock``), not yet started."""
    frontends: list[Any] = []
    if settings.mpris:
        frontends.append(_optional("mpris", "dbus-fast", _mpris))
    if settings.notify != "off":
        frontends.append(_optional("notifications", "desktop-notifier",
                                   lambda: _notifier(settings.notify, settings.notify_every)))
    if settings.on_lock == "pause" and platform in NO_DBUS:
        frontends.append(NotHere("screen lock", "a locked screen is heard on D-Bus only (Linux and BSD "
                                                "desktops); the away check still pauses an empty desk"))
    elif settings.on_lock == "pause":  # keep: the lock changes nothing, nothing to listen to
        frontends.append(_optional("screen lock", "dbus-fast", _screen_lock))
    return frontends


def _mpris() -> Any:
    from emusify.desk.mpris import Mpris

    return Mpris()


def _screen_lock() -> Any:
    from emusify.desk.screenlock import ScreenLock

    return ScreenLock()


def _notifier(mode: str, every_minutes: float) -> Any:
    from emusify.desk.notify import Notifier

    return Notifier(mode=mode, every_minutes=every_minutes)


def _optional(name: str, package: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ImportError as exc:
        return Unavailable(name, f"it needs the Python package {package} ({exc}); "
                                 f"install it with pip, or turn it off in setup.cfg's [emusify]")


class Unavailable:
    """A front-end that cannot be built here: starting it raises the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason

    def start(self, core: Any) -> None:
        raise FrontEndError(self.reason)

    def close(self) -> None:
        """Nothing to close."""


class NotHere:
    """A front-end this platform has no means for: one line at start, then nothing."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason

    def start(self, core: Any) -> None:
        log.info("%s: %s", self.name, self.reason)

    def close(self) -> None:
        """Nothing to close."""
