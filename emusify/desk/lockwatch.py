"""The screen locked: the music fades to a pause and the camera stays off until it is unlocked.

The desktop says when the screen locks (emusify.desk.screenlock hears it on D-Bus and sends the
commands ``screen_locked`` / ``screen_unlocked``); nobody is listening or looking at a locked
screen, so with the setting ``on_lock = pause`` (the default) the core takes no window, no short
look and no calibration shot while it is locked, and the music playing fades out to a pause.
Unlocked, music this part paused resumes and a window comes at once. Music the listener paused
(or stopped) before or during the lock stays as they left it. ``keep`` changes nothing (the
behaviour before issue 22: the listener is not started). Told as the events ``screen_locked`` and
``screen_unlocked``; the journal keeps them as desk events.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from emusify.desk.devices import Clock

log = logging.getLogger(__name__)

LOCK_COMMANDS = ("screen_locked", "screen_unlocked")
# The listener's own say over the music: after one of these, an unlock leaves the music as it is.
STEERING = ("play_pause", "play", "pause", "stop", "next", "correct")


class LockWatch:
    """Follows the screen's lock; pauses and resumes ``music`` (emusify.desk.playback.Music)."""

    def __init__(self, settings: Any, music: Any, clock: Clock, tell: Callable[..., None]) -> None:
        self.settings, self.music, self.clock, self.tell = settings, music, clock, tell
        self.since: float | None = None  # when the screen locked (None: unlocked)
        self._paused_music = False  # the music was paused by the lock (not by the listener)

    @property
    def locked(self) -> bool:
        """The screen is locked and the setting says to pause for it: no windows meanwhile."""
        return self.since is not None

    def status(self) -> str:
        """What the status line says while locked: ``locked: paused``."""
        return f"locked: {self.music.status}" if self.locked else ""

    def follow(self, command: str) -> None:
        """A command: ``screen_locked``/``screen_unlocked`` move the lock; the listener's own
        play, pause, stop, next or correction take the music out of the lock's hands."""
        if command == "screen_locked":
            self._lock()
        elif command == "screen_unlocked":
            self._unlock()
        elif command in STEERING and self.locked:
            self._paused_music = False

    def _lock(self) -> None:
        if self.locked or self.settings.on_lock != "pause":
            return
        now = self.clock.now()
        self.since = now
        self._paused_music = self.music.fade_pause(self.settings.fade)
        log.info("the screen is locked%s; no windows until it is unlocked",
                 ": the music pauses" if self._paused_music else "")
        self.tell("screen_locked", when=now)

    def _unlock(self) -> None:
        if not self.locked:
            return
        now, since = self.clock.now(), self.since or self.clock.now()
        self.since = None
        if self._paused_music and self.music.status == "paused":
            self.music.resume()
        self._paused_music = False
        log.info("the screen is unlocked after %.0f min%s; a window comes now", max(now - since, 0.0) / 60,
                 ": the music resumes" if self.music.status == "playing" else "")
        self.tell("screen_unlocked", when=now, locked_seconds=max(now - since, 0.0))
