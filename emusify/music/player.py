"""Music playback with pygame's streaming mixer, and fades that never block.

pygame itself stays in :mod:`emusify.music.mixer` (opened lazily). Fades are volume steps applied
by :meth:`Player.update` against a monotonic clock (pygame's own ``music.fadeout`` blocks in some
versions), so the camera loop that calls ``update()`` between frames is never frozen. A mood change
fades the current song out over the first half of the fade and the new one in over the second half.

Tests pass a fake ``backend`` (an object with pygame.mixer.music's methods) and a fake clock.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable

from emusify.errors import AudioError, LibraryError
from emusify.music.mixer import SEEKABLE, close_pygame, device_errors, output_gone, pygame_music

log = logging.getLogger(__name__)


class _Fade:
    """A volume ramp from ``start`` to ``end``; ``then`` runs once it is done."""

    def __init__(self, began: float, seconds: float, start: float, end: float,
                 then: Callable[[], None] | None = None) -> None:
        self.began, self.seconds, self.start, self.end, self.then = began, seconds, start, end, then

    def volume(self, now: float) -> float:
        done = 1.0 if self.seconds <= 0 else min(max((now - self.began) / self.seconds, 0.0), 1.0)
        return self.start + (self.end - self.start) * done

    def over(self, now: float) -> bool:
        return now - self.began >= self.seconds


class Player:
    """Plays one song at a time; the runner calls :meth:`update` often."""

    def __init__(self, backend: Any = None, clock: Callable[[], float] = time.monotonic,
                 volume: float = 1.0, on_error: Callable[[Path, str], None] | None = None,
                 required: bool = True) -> None:
        """Open the audio output (pygame's mixer unless ``backend`` is given).

        With ``required=False`` a player without an output is made anyway: every song raises
        AudioError until :meth:`reopen` finds the sound device.

        Args:
            on_error: called with (path, reason) when a song fails to start inside ``update()``
                (the second half of :meth:`fade_to`), e.g. ``library.mark_bad``.

        Raises:
            AudioError: no audio output (names SDL_AUDIODRIVER).
        """
        self._owns_mixer = backend is None
        self._music: Any = None
        self.error = ""  # why there is no audio output (required=False and none could be opened)
        try:
            self._music = backend if backend is not None else pygame_music()
        except AudioError as exc:
            if required:
                raise
            self.error = str(exc)
        self._clock = clock
        self.volume = min(max(volume, 0.0), 1.0)
        self.on_error = on_error
        self.gain: Callable[[Any], float] | None = None  # a song's volume factor (emusify.music.loudness)
        self._gain = 1.0  # the current song's, taken when it starts
        self._current: Any = None
        self._fade: _Fade | None = None
        self._paused = False
        self._started = 0.0  # clock time the current song started, shifted by pauses
        self._paused_at = 0.0
        self._closed = False
        self._no_seek: set[str] = set()  # songs whose seek failed: CanSeek says no for them

    # Properties ---------------------------------------------------------------------------------

    @property
    def current(self) -> Any:
        """The song playing (or paused, or fading), None when nothing is."""
        return self._current

    @property
    def busy(self) -> bool:
        """A song is loaded and has not finished (paused counts as busy)."""
        if self._current is None:
            return False
        return self._paused or self._fade is not None or bool(self._out().get_busy())

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def position(self) -> float:
        """Seconds into the current song (0 when nothing plays)."""
        if self._current is None:
            return 0.0
        now = self._paused_at if self._paused else self._clock()
        return max(now - self._started, 0.0)

    # Commands -----------------------------------------------------------------------------------

    def play(self, song: Any, fade_in: float = 0.0, start: float = 0.0) -> None:
        """Start ``song`` at once (the current one stops), ``start`` seconds in, fading in over ``fade_in``.

        A song that cannot start at ``start`` starts from its beginning (one line).

        Raises:
            LibraryError: the file will not load or play (the caller skips it).
        """
        self._fade = None
        self._start(song, start if self.can_seek(song) else 0.0)
        if fade_in > 0:
            self._ramp(fade_in, 0.0, self._level())

    def fade_to(self, song: Any, seconds: float) -> None:
        """Fade the current song out, then ``song`` in; ``seconds`` covers both halves.

        Raises:
            LibraryError: nothing was playing and ``song`` will not play.
        """
        if self._current is None or self._paused or seconds <= 0:
            self.play(song, fade_in=seconds / 2)
            return
        self._ramp(seconds / 2, self._out().get_volume(), 0.0,
                   then=lambda: self._switch(song, seconds / 2))

    def stop(self, fade_out: float = 0.0) -> None:
        """Stop the music, at once or after fading out over ``fade_out`` seconds."""
        with device_errors():
            if self._current is None:
                self._fade = None
                return
            if fade_out > 0 and not self._paused:
                self._ramp(fade_out, self._out().get_volume(), 0.0, then=self._halt)
            else:
                self._halt()

    def pause(self, fade_out: float = 0.0) -> None:
        """Pause, at once or after fading out over ``fade_out`` seconds (driven by :meth:`update`).

        A fade in progress completes at once first (a fade_to switches to its new song).
        """
        with device_errors():
            if self._current is None or self._paused:
                return
            while self._fade is not None:  # a fade_to's fade-out is followed by the new song's fade-in
                self._finish_fade()
            if self._current is None:  # the fade was a fade-out to silence
                return
            if fade_out > 0:
                self._ramp(fade_out, self._out().get_volume(), 0.0, then=self._pause_now)
            else:
                self._pause_now()

    def _pause_now(self) -> None:
        self._out().pause()
        self._paused, self._paused_at = True, self._clock()

    def resume(self) -> None:
        """Continue a paused song (or one fading out to a pause) at full volume."""
        with device_errors():
            fade = self._fade
            if fade is not None and fade.then == self._pause_now:
                self._fade = None
                self._out().set_volume(self._level())
                return
            if not self._paused:
                return
            self._out().set_volume(self._level())
            self._out().unpause()
            self._started += self._clock() - self._paused_at
            self._paused = False

    def set_volume(self, volume: float) -> None:
        """The user's volume (0..1) from now on; a fade under way is rescaled to end at it."""
        volume, old = min(max(float(volume), 0.0), 1.0), self.volume
        self.volume = volume
        fade = self._fade
        with device_errors():
            if fade is not None:
                if old > 0:
                    fade.start, fade.end = fade.start * volume / old, fade.end * volume / old
                elif fade.then is None:  # a fade-in from silence at volume 0: to the new level
                    fade.end = self._level()
                self._out().set_volume(fade.volume(self._clock()))
            elif self._current is not None and not self._paused:
                self._out().set_volume(self._level())

    def can_seek(self, song: Any) -> bool:
        """Whether ``song`` can start anywhere but its beginning (its format, and no seek failed on it)."""
        path = Path(song.path) if song is not None else Path()
        return path.suffix.lower() in SEEKABLE and str(path) not in self._no_seek

    def seek(self, seconds: float) -> None:
        """Go to ``seconds`` into the current song (paused or playing).

        Raises:
            LibraryError: the song cannot seek (remembered: :meth:`can_seek` says no from then on).
        """
        song, seconds = self._current, max(float(seconds), 0.0)
        if song is None:
            return
        if not self.can_seek(song):
            raise LibraryError(f"{Path(song.path).name} cannot seek")
        try:
            self._out().set_pos(seconds)
        except Exception as exc:  # pygame.error: "Position not implemented for music type"
            if output_gone(exc):
                raise AudioError(f"the sound device is gone ({exc})") from None
            self._no_seek.add(str(song.path))
            raise LibraryError(f"{Path(song.path).name} cannot seek ({exc})") from None
        self._started = (self._paused_at if self._paused else self._clock()) - seconds

    def toggle_pause(self) -> None:
        """Pause when playing, resume when paused."""
        if self._paused:
            self.resume()
        else:
            self.pause()

    def update(self) -> None:
        """Move a fade one step on and notice the end of the song; cheap, never waits."""
        with device_errors():
            fade = self._fade
            if self._paused:
                return
            if fade is None:
                if self._current is not None and not self._out().get_busy():
                    log.debug("%s ended", Path(self._current.path).name)
                    self._current = None
                return
            now = self._clock()
            self._out().set_volume(fade.volume(now))
            if fade.over(now):
                self._fade = None
                if fade.then is not None:
                    fade.then()

    def reopen(self) -> None:
        """Open the audio output again (after a sound device was lost or was missing at start).

        Raises:
            AudioError: still no audio output.
        """
        self._current, self._paused, self._fade = None, False, None
        if not self._owns_mixer:
            return
        self._music = None
        try:
            close_pygame()
        except Exception as exc:  # noqa: BLE001 - a mixer that died may fail to close; opening decides
            log.debug("closing the lost audio output: %s", exc)
        self._music = pygame_music()
        self.error = ""

    # Internals ----------------------------------------------------------------------------------

    def _out(self) -> Any:
        """The mixer's music; AudioError when there is no audio output."""
        if self._music is None:
            raise AudioError(self.error or "no audio output")
        return self._music

    def _start(self, song: Any, start: float = 0.0) -> None:
        self._halt()
        music = self._out()
        try:
            music.load(str(song.path))
        except Exception as exc:  # pygame.error, or OSError for a vanished file
            if output_gone(exc):
                raise AudioError(f"the sound device is gone ({exc})") from None
            raise LibraryError(f"{Path(song.path).name}: cannot play it ({exc}); it was skipped") from None
        self._gain = self._song_gain(song)
        try:
            music.set_volume(self._level())
            start = self._play_from(music, song, start)
        except Exception as exc:  # the file loaded: the output failed  # noqa: BLE001
            raise AudioError(f"the sound device failed ({exc})") from None
        self._current, self._started = song, self._clock() - start

    def _play_from(self, music: Any, song: Any, start: float) -> float:
        """Play from ``start`` s (from the beginning when the song refuses); where it started."""
        if start > 0:
            try:
                music.play(start=start)
                return start
            except Exception as exc:  # noqa: BLE001 - pygame.error: the decoder cannot seek this file
                if output_gone(exc):
                    raise
                self._no_seek.add(str(song.path))
                log.warning("%s cannot start %.0f s in (%s); it starts from its beginning",
                            Path(song.path).name, start, exc)
        music.play()
        return 0.0

    def _level(self) -> float:
        """Full level for the current song: the player's volume times the song's gain."""
        return self.volume * self._gain

    def _song_gain(self, song: Any) -> float:
        if self.gain is None:
            return 1.0
        try:
            return min(max(float(self.gain(song)), 0.0), 1.0)
        except Exception as exc:  # noqa: BLE001 - a gain that fails plays the song as it is
            log.warning("no loudness gain for %s (%s); it plays as it is", Path(song.path).name, exc)
            return 1.0

    def _switch(self, song: Any, fade_in: float) -> None:
        """Second half of fade_to: runs inside update(), so a bad file is logged, not raised."""
        try:
            self.play(song, fade_in=fade_in)
        except LibraryError as exc:
            log.warning("%s", exc)
            if self.on_error is not None:
                self.on_error(Path(song.path), str(exc))

    def _ramp(self, seconds: float, start: float, end: float, then: Callable[[], None] | None = None) -> None:
        self._fade = _Fade(self._clock(), seconds, start, end, then)
        self._out().set_volume(start)

    def _finish_fade(self) -> None:
        fade, self._fade = self._fade, None
        if fade is not None:
            self._out().set_volume(fade.end)
            if fade.then is not None:
                fade.then()

    def _halt(self) -> None:
        self._fade = None
        loaded = self._current is not None or self._paused
        self._current, self._paused = None, False
        if loaded and self._music is not None:
            try:
                self._music.stop()
            except Exception as exc:  # noqa: BLE001 - a lost device cannot stop; it is silent anyway
                log.debug("stopping on a lost audio output: %s", exc)

    # Context manager ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the music and release the audio output; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._halt()
        if self._owns_mixer:
            close_pygame()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
