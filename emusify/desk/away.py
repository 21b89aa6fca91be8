"""Away from the desk: no face for a few windows pauses the music and the camera takes short looks.

Setting ``away``: ``pause`` (the default) fades the music out to a pause after ``away_after``
windows in a row that saw frames but no face, then takes a look of ``away_look`` seconds every
``away_every`` minutes instead of full windows, until a look sees a face: the music resumes and
full windows come back. ``keep`` plays on to the empty room (the behaviour before issue 15). A
window the camera could not deliver (no frames at all) says nothing about the user and counts
neither way. Told as the events "away" and "back" (the journal keeps them as desk events).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from emusify.desk.devices import Clock

log = logging.getLogger(__name__)


class AwayWatch:
    """Counts faceless windows; pauses and resumes ``music`` (emusify.desk.playback.Music)."""

    def __init__(self, settings: Any, music: Any, clock: Clock, tell: Callable[..., None]) -> None:
        self.settings, self.music, self.clock, self.tell = settings, music, clock, tell
        self.faceless = 0  # windows in a row with frames and no face
        self.since: float | None = None  # when the user left (None: at the desk)
        self._paused_music = False  # the music was paused by leaving (not by the user)

    @property
    def away(self) -> bool:
        return self.since is not None

    @property
    def on(self) -> bool:
        return self.settings.away == "pause" and self.settings.away_after > 0

    def window_seconds(self) -> float:
        """How long the next window watches: a short look while away."""
        return min(self.settings.away_look, self.settings.window) if self.away else self.settings.window

    def wait_seconds(self) -> float:
        """Seconds from the end of this window to the next one."""
        return (self.settings.away_every if self.away else self.settings.every) * 60.0

    def status(self) -> str:
        """What the status line says while away: ``away: paused, looking every 1 min``."""
        if not self.away:
            return ""
        music = "paused" if self._paused_music else self.music.status
        return f"away: {music}, looking every {self.settings.away_every:g} min"

    def after_window(self, result: Any, started: float) -> None:
        """Follow a window's result (``frames``, ``face_frames``); ``started`` is when it began."""
        if not self.on or result.frames == 0:
            return
        if result.face_frames > 0:
            self.faceless = 0
            if self.away:
                self._back()
            return
        self.faceless += 1
        if not self.away and self.faceless >= self.settings.away_after:
            self._leave(started)

    def _leave(self, started: float) -> None:
        now = self.clock.now()
        self.since = started  # the first look of this window already saw nobody
        self._paused_music = self.music.fade_pause(self.settings.fade)
        log.info("no face for %d windows: away%s; looking for %.0f s every %g min", self.faceless,
                 ", music paused" if self._paused_music else "", self.window_seconds(),
                 self.settings.away_every)
        self.tell("away", when=now, since=started)

    def _back(self) -> None:
        now, since = self.clock.now(), self.since or self.clock.now()
        self.since = None
        seconds = max(now - since, 0.0)
        if self._paused_music and self.music.status == "paused":
            self.music.resume()
        self._paused_music = False
        log.info("a face is back after %.0f min away%s", seconds / 60,
                 "; the music resumes" if self.music.status == "playing" else "")
        self.tell("back", when=now, away_seconds=seconds)
