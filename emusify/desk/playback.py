"""The core's music part: which folder plays, which song, paused or stopped, and a sound device lost.

Every song event goes to ``tell`` (the core's listeners: song_started, song_ended, song_failed,
audio_lost, audio_back); the journal's song rows come from those events (emusify.desk.journaling).
The player is driven by :meth:`Music.tick`, which the core calls between frames and between the
short waits, so the music never waits for the camera.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from emusify.desk.clockwatch import monotonic
from emusify.desk.devices import Clock, Library, Player
from emusify.errors import AudioError, LibraryError

log = logging.getLogger(__name__)

MAX_TRIES = 10  # songs tried in a row before giving up on starting one
EXIT_FADE = 1.5  # longest fade-out on quit, Ctrl-C or SIGTERM
AUDIO_RETRY = 60.0  # seconds between tries to reopen a lost sound device


class Music:
    """Starts, follows, pauses and stops songs; ``tell(event, **values)`` hears what happened."""

    def __init__(self, player: Player, library: Library, clock: Clock, tell: Callable[..., None]) -> None:
        self.player, self.library, self.clock, self.tell = player, library, clock, tell
        self.folder: str | None = None  # the folder songs come from now
        self.song: Any = None  # the Song started last
        self.paused = False
        self.stopped = False  # a stop command: no music until play
        self.needs_song = False  # the song that was to start failed: start another at the next tick
        self.song_at = 0.0  # clock time the current song started
        self.audio_down: float | None = None  # clock time the sound device was lost (None: it plays)
        self._retry_at = 0.0  # monotonic time of the next try to reopen it
        self._retrying = False

    @property
    def status(self) -> str:
        """"playing", "paused" or "stopped" (MPRIS's PlaybackStatus, lower case)."""
        if self.song is None or self.stopped:
            return "stopped"
        return "paused" if self.paused else "playing"

    def song_failed(self, path: Any, reason: str) -> None:
        """The player could not start a song after a fade (its ``on_error``): skip it, go on."""
        self.library.mark_bad(path, reason)
        if self.song is not None and str(self.song.path) == str(path):
            self._ended("error")
        self.needs_song = True

    def start(self, folder: str, fade: float, ended: str) -> bool:
        """Start the next song of ``folder`` (or another folder if it has none that plays)."""
        folders = [folder] + [f for f in self.library.folders() if f != folder]
        tries = 0
        for candidate in folders:
            while tries < MAX_TRIES:
                if self.audio_down is not None:  # no sound device: no song can start, none is to blame
                    self.folder = folder  # where the music starts once the device is back
                    return False
                song = self.library.next_song(candidate)
                if song is None:
                    break
                tries += 1
                if self._play(song, fade, ended):
                    if candidate != folder:
                        log.warning("no playable song in %s; playing from %s", folder, candidate)
                    self.folder = candidate
                    return True
        if self.audio_down is None:
            log.error("no song could be started from %s; check the files in the songs folder", folder)
        return False

    def _play(self, song: Any, fade: float, ended: str) -> bool:
        now = self.clock.now()
        try:
            if fade > 0 and self.song is not None and self.player.busy:
                self.player.fade_to(song, fade)
            else:
                self.player.play(song)
        except AudioError as exc:
            self.lost(exc)
            return False
        except LibraryError as exc:
            log.warning("cannot play %s (%s); trying the next song", song.path.name, exc)
            self.library.mark_bad(song.path, str(exc))
            self.tell("song_failed", when=now, song=song, reason=str(exc))
            return False
        if self.song is not None:
            self._ended(ended)
        self.song, self.song_at, self.stopped = song, now, False
        self.tell("song_started", when=now, song=song)
        log.info("playing %s (%s)", song_name(song), song.folder)
        return True

    def _ended(self, how: str) -> None:
        song, now = self.song, self.clock.now()
        self.song = None
        self.tell("song_ended", when=now, song=song, how=how)

    def tick(self) -> None:
        """Drive fades and follow a finished song with the next one; retry a lost sound device."""
        if self.audio_down is not None:
            self._retry_audio()
            return
        try:
            self.player.update()
        except AudioError as exc:
            self.lost(exc)
            return
        if self.song is not None and not self.paused and not self.player.busy:
            log.info("%s finished", song_name(self.song))
            self._ended("end")
            self.needs_song = not self.stopped
        if self.needs_song and self.folder is not None and not self.stopped:
            self.needs_song = False
            self.start(self.folder, fade=0.0, ended="end")

    # The desktop's slider and progress bar (issue 22) ------------------------------------------

    def set_volume(self, volume: float) -> float:
        """The user's volume (clamped to 0..1) from now on, fades included; told as volume_changed."""
        try:
            self.player.set_volume(min(max(volume, 0.0), 1.0))
        except AudioError as exc:  # kept all the same: the next song plays at it
            self.lost(exc)
        volume = self.player.volume
        self.tell("volume_changed", when=self.clock.now(), volume=volume)
        return volume

    def seek(self, seconds: float) -> bool:
        """Go to ``seconds`` into the song (paused or playing); told as seeked. False when it cannot."""
        if self.status == "stopped" or self.audio_down is not None:
            return False
        try:
            self.player.seek(max(seconds, 0.0))
        except LibraryError as exc:
            log.info("%s", exc)
            self.tell("note", when=self.clock.now(), text=f"{exc}: it plays on")
            return False
        except AudioError as exc:
            self.lost(exc)
            return False
        self.tell("seeked", when=self.clock.now(), position=self.player.position)
        return True

    def resume_song(self, song: Any, folder: str, position: float, fade: float) -> bool:
        """Start ``song`` ``position`` s in, fading in (the song a restart resumes); False if it cannot."""
        now = self.clock.now()
        try:
            self.player.play(song, fade_in=fade, start=position)
        except AudioError as exc:
            self.lost(exc)
            self.folder = folder
            return False
        except LibraryError as exc:
            log.warning("cannot resume %s (%s)", song.path.name, exc)
            return False
        # song_at as if it started from its beginning: n on a resumed song is no early skip
        self.folder, self.song, self.song_at, self.stopped = folder, song, now - self.player.position, False
        self.tell("song_started", when=now, song=song)
        if self.player.position > 0:
            self.tell("seeked", when=now, position=self.player.position)
        log.info("resuming %s (%s) at %.0f s", song_name(song), folder, self.player.position)
        return True

    def fade_pause(self, fade: float) -> bool:
        """Fade a playing song out to a pause (away from the desk); False when nothing plays."""
        return self.pause(fade)

    def pause(self, fade: float = 0.0) -> bool:
        """Pause a playing song (after fading out over ``fade`` s); False when nothing plays."""
        if self.status != "playing":
            return False
        try:
            self.player.pause(fade)
        except AudioError as exc:
            self.lost(exc)
        self.paused = True
        log.info("paused")
        self.tell("paused", when=self.clock.now())
        return True

    def resume(self) -> bool:
        """Resume a paused song, or start one after a stop; False when there is nothing to play."""
        if self.status == "paused":
            self.paused = False
            try:
                self.player.resume()
            except AudioError as exc:
                self.lost(exc)
            log.info("resumed")
        elif self.stopped or (self.song is None and self.folder is not None):
            if self.folder is None or not self.start(self.folder, fade=0.0, ended="end"):
                return False
            log.info("playing again after a stop")
        else:
            return False
        self.tell("resumed", when=self.clock.now())
        return True

    def stop(self, fade: float) -> None:
        """Fade the music out and start none until :meth:`resume` (windows go on)."""
        if self.stopped:
            return
        if self.paused:
            self.player.resume()
            self.paused = False
        self.stopped, self.needs_song = True, False
        if self.song is not None:
            self.player.stop(fade_out=fade)
            self._ended("end")
        log.info("music stopped; windows go on (play starts it again)")
        self.tell("music_stopped", when=self.clock.now())

    def move(self, folder: str, fade: float, ended: str = "end") -> None:
        """Play from ``folder`` now; paused or stopped, only remember it for the next song."""
        if self.paused or self.stopped or self.audio_down is not None:
            self.folder = folder
            log.info("%s: the next song will come from %s", "paused" if self.paused else "stopped", folder)
            return
        self.start(folder, fade=fade, ended=ended)

    def shutdown(self, fade: float) -> None:
        """Fade the music out and journal the song that was playing."""
        fade = min(fade, EXIT_FADE)
        if self.audio_down is not None:
            return
        try:
            if self.song is not None and self.player.busy:
                self.player.stop(fade_out=fade)
                deadline = monotonic(self.clock) + fade
                while monotonic(self.clock) < deadline and self.player.busy:
                    self.player.update()
                    self.clock.sleep(0.05)
                self.player.stop()
        except KeyboardInterrupt:
            self.player.stop()
        except AudioError as exc:
            log.debug("the sound device failed while fading out: %s", exc)
        if self.song is not None:
            self._ended("end")

    # A sound device that comes and goes ---------------------------------------------------------

    def lost(self, exc: Exception) -> None:
        """The sound device failed: one line, the song ends, moods go on; retried every minute.

        A song the user had paused is not started again by itself: play starts it.
        """
        now = self.clock.now()
        self._retry_at = monotonic(self.clock) + AUDIO_RETRY
        if self.song is not None:
            self._ended("end")
        if self.paused:
            self.paused, self.stopped = False, True
        self.needs_song = not self.stopped
        first = self.audio_down is None and not self._retrying
        self.audio_down = self.audio_down or now
        if not first:
            log.debug("still no sound: %s", exc)
            return
        log.warning("no sound (%s); moods are still read, playback retries every %.0f s",
                    exc, AUDIO_RETRY)
        self.tell("audio_lost", when=now, detail=str(exc))
        self.tell("note", when=now, text=f"no sound: {exc}; retrying every minute")

    def _retry_audio(self) -> None:
        """Reopen the sound device once a retry is due; the song starts again where it can."""
        if monotonic(self.clock) < self._retry_at:
            return
        down, self.audio_down, self._retrying = self.audio_down, None, True
        try:
            reopen = getattr(self.player, "reopen", None)
            if reopen is not None:
                reopen()
            if self.folder is not None and not self.stopped and not self.paused:
                self.needs_song = False
                self.start(self.folder, fade=0.0, ended="end")
        except AudioError as exc:
            self.lost(exc)
        finally:
            self._retrying = False
        if self.audio_down is not None:  # still none: keep the time it was first lost
            self.audio_down = down
            return
        now = self.clock.now()
        gone = now - (down if down is not None else now)
        log.info("sound is back after %.0f s", gone)
        self.tell("audio_back", when=now, seconds=gone)
        self.tell("note", when=now, text="sound is back")


def song_name(song: Any) -> str:
    return f"{song.artist} - {song.title}" if song.artist else song.title
