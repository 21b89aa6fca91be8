"""The loop of run.py: watch for a window, decide the mood, play; wait with the camera off; repeat.

Every device comes in as an argument (:class:`Devices`), so the loop runs in tests with fakes and a
clock that does not really sleep. The music never blocks the camera: the player is driven by
``update()`` between frames and between the short sleeps of the wait.

Reading a window (frames, votes, the calibration shot) lives in the ``WindowReader`` methods of
:mod:`emusify.desk.window`. Listener feedback (see :mod:`emusify.desk.feedback`,
:mod:`emusify.reading.learner`) lives in the
``ListenerKeys`` methods the Runner inherits: digit keys correct the last window's mood, ``y``
confirms it, ``n`` early in a song is a skip, and a model updated in the background is swapped in
at the start of the next window.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from emusify.config import Settings
from emusify.desk.feedback import ListenerKeys, SkipWatch
from emusify.desk.ui import Status
from emusify.desk.window import WindowReader
from emusify.errors import ExitStatus, LibraryError
from emusify.music.policy import Policy
from emusify.reading.tally import WindowResult

log = logging.getLogger(__name__)

TICK = 0.2  # seconds between music/status/keys checks while waiting
EXIT_FADE = 1.5  # longest fade-out on quit, Ctrl-C or SIGTERM
MAX_TRIES = 10  # songs tried in a row before giving up on starting one


class SystemClock:
    """Wall-clock time (journal rows carry it) and real sleeps."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Devices:
    """What the runner drives. Nothing here is opened or closed by the runner except the sources."""

    open_source: Callable[[str], Any]  # spec -> FrameSource (context manager)
    extractor: Any  # .extract(image) -> Landmarks | None
    vectorize: Callable[[Any], Any]  # Landmarks -> feature vector (features.face_vector)
    predictor: Any  # .predict((n, d)) -> (n, k) probabilities
    player: Any
    library: Any
    journal: Any
    clock: Any = None  # .now(), .sleep(seconds); SystemClock when None
    ui: Any = None  # .show(Status), .pressed() -> list[str] of keys; optional
    preview: Callable[[], Any] | None = None  # -> context manager with .show(...) -> key
    feedback: Any = None  # emusify.desk.feedback.Feedback: digit/y keys save the last window; optional
    learner: Any = None  # emusify.reading.learner.Learner: background model updates; optional
    make_predictor: Callable[[Any], Any] | None = None  # Model -> predictor, for a swapped-in model
    calibration: Any = None  # calibration.Calibration: the reference face (shot, tracker); optional


class Runner(WindowReader, ListenerKeys):
    """Runs windows and music until --cycles is reached, q is pressed or a stop is requested.

    Reading one window (and the calibration shot) are :class:`WindowReader`'s methods
    (emusify.desk.window); the listener's keys (mood digits, y, n as a skip) and the model swap are
    :class:`ListenerKeys`' methods (emusify.desk.feedback); the loop calls them at its hooks.
    """

    def __init__(self, settings: Settings, devices: Devices, labels: Sequence[str], policy: Policy) -> None:
        self.settings = settings
        self.dev = devices
        self.clock = devices.clock or SystemClock()
        self.labels = tuple(labels)
        self.policy = policy
        self.cycle = 0
        self.folder: str | None = None  # the folder songs come from now
        self.song: Any = None  # the Song started last
        self.paused = False
        self.needs_song = False  # the song that was to start failed: start another at the next tick
        self.last: WindowResult | None = None
        self.stop_reason: str | None = None
        self._window_left = 0.0
        self._next_window = 0.0
        self._shown_at = float("-inf")
        self.skip_watch = SkipWatch(devices.journal)
        self._song_at = 0.0  # clock time the current song started
        self._message: tuple[str, float] | None = None  # (text, shown until)
        self._seen: list[tuple[Any, Any]] = []  # this window's (face vector, probabilities), for the tracker

    def song_failed(self, path: Any, reason: str) -> None:
        """The player could not start a song after a fade (its ``on_error``): skip it, go on."""
        self.dev.library.mark_bad(path, reason)
        if self.song is not None and str(self.song.path) == str(path):
            self.dev.journal.song(self.clock.now(), "error", self.song)
            self.song = None
        self.needs_song = True

    def request_stop(self, reason: str) -> None:
        """Ask the loop to end at the next frame or tick (signal handlers call this)."""
        self.stop_reason = self.stop_reason or reason

    def run(self) -> int:
        """Run cycles until done. Returns the exit status (130 on Ctrl-C).

        Raises:
            CameraError: the source cannot be opened for the first window.
        """
        status = ExitStatus.OK
        try:
            self.calibration_shot()
            while self.stop_reason is None:
                self._cycle()
        except KeyboardInterrupt:
            self.request_stop("Ctrl-C")
            status = ExitStatus.INTERRUPTED
        finally:
            self._shutdown()
        log.info("stopped (%s) after %d window(s)", self.stop_reason, self.cycle)
        return int(status)

    def _cycle(self) -> None:
        self.dev.library.scan()
        started = self.clock.now()
        result = self.watch()
        if self.stop_reason is not None:
            return
        self.cycle += 1
        self.decide(result, started)
        self._track_reference()
        if self.settings.cycles and self.cycle >= self.settings.cycles:
            self._let_song_start()
            self.request_stop(f"--cycles {self.settings.cycles} done")
            return
        self.wait(self.clock.now() + self.settings.every * 60.0)

    # The decision -------------------------------------------------------------------------------

    def decide(self, result: WindowResult, when: float) -> None:
        """Log and journal the window, then keep the music or move to the chosen folder."""
        self.last = result
        log.info("window %d: %s", self.cycle, result.summary())
        playing = self.folder if self.song is not None else None
        choice = self.policy.choose(result.mood, playing, self.dev.library.folders())
        log.info("decision: %s", choice.reason)
        self.dev.journal.window(when, result, choice.folder or "keep")
        self._end_window(result, when)
        if choice.folder is None:
            return
        self.skip_watch.changed(self.clock.now(), when, result.mood)
        if self.paused:
            self.folder = choice.folder
            log.info("paused: the next song will come from %s", choice.folder)
            return
        self._start(choice.folder, fade=self.settings.fade, ended="end")

    def _start(self, folder: str, fade: float, ended: str) -> bool:
        """Start the next song of ``folder`` (or another folder if it has none that plays)."""
        folders = [folder] + [f for f in self.dev.library.folders() if f != folder]
        tries = 0
        for candidate in folders:
            while tries < MAX_TRIES:
                song = self.dev.library.next_song(candidate)
                if song is None:
                    break
                tries += 1
                if self._play(song, fade, ended):
                    if candidate != folder:
                        log.warning("no playable song in %s; playing from %s", folder, candidate)
                    self.folder = candidate
                    return True
        log.error("no song could be started from %s; check the files in the songs folder", folder)
        return False

    def _play(self, song: Any, fade: float, ended: str) -> bool:
        player, now = self.dev.player, self.clock.now()
        try:
            if fade > 0 and self.song is not None and player.busy:
                player.fade_to(song, fade)
            else:
                player.play(song)
        except LibraryError as exc:
            log.warning("cannot play %s (%s); trying the next song", song.path.name, exc)
            self.dev.library.mark_bad(song.path, str(exc))
            self.dev.journal.song(now, "error", song)
            return False
        if self.song is not None:
            self.dev.journal.song(now, ended, self.song)
        self.song, self._song_at = song, now
        self.dev.journal.song(now, "start", song)
        log.info("playing %s (%s)", _song_name(song), song.folder)
        return True

    # Between frames and while waiting -----------------------------------------------------------

    def wait(self, until: float) -> None:
        """Keep the music going with the camera off until ``until`` (clock time)."""
        self._next_window = until
        while self.stop_reason is None and self.clock.now() < until:
            self._tick()
            self._show(watching=False)
            self.clock.sleep(min(TICK, max(until - self.clock.now(), 0.0)))

    def _tick(self) -> None:
        """Drive fades, follow a finished song with the next one, and obey keys."""
        self.dev.player.update()
        if self.song is not None and not self.paused and not self.dev.player.busy:
            self.dev.journal.song(self.clock.now(), "end", self.song)
            log.info("%s finished", _song_name(self.song))
            self.song, self.needs_song = None, True
        if self.needs_song and self.folder is not None:
            self.needs_song = False
            self._start(self.folder, fade=0.0, ended="end")
        if self.dev.learner is not None:
            self.dev.learner.poll()
        if self.dev.ui is not None:
            for key in self.dev.ui.pressed():
                self._key(key)

    def _act(self, action: str | None) -> None:
        if action == "quit":
            self.request_stop("q")
        elif action == "pause" and self.song is not None:
            self.dev.player.toggle_pause()
            self.paused = not self.paused
            log.info("paused" if self.paused else "resumed")
        elif action == "skip" and self.folder is not None:
            if self.paused:
                self.dev.player.resume()
                self.paused = False
            self._start(self.folder, fade=0.0, ended=self._skip_event())

    def _show(self, watching: bool) -> None:
        now = self.clock.now()
        if self.dev.ui is None or now - self._shown_at < TICK:
            return
        self._shown_at = now
        song, last = self.song, self.last
        seconds = self._window_left if watching else max(self._next_window - now, 0.0)
        self.dev.ui.show(Status(
            mood=last.mood if last else None, share=last.share if last else 0.0,
            artist=getattr(song, "artist", None), title=getattr(song, "title", None),
            position=self.dev.player.position if song is not None else 0.0,
            duration=getattr(song, "duration", None), paused=self.paused,
            watching=watching, seconds=seconds, keys=self._legend(),
            message=self._current_message(now) or getattr(self.dev.calibration, "doubt", None) or None,
        ))

    # Ending -------------------------------------------------------------------------------------

    def _let_song_start(self) -> None:
        """After the last window, drive the player until the chosen song has really started."""
        deadline = self.clock.now() + self.settings.fade + 1.0
        while self.clock.now() < deadline:
            self._tick()  # a song failing at the end of the fade is replaced here too
            if self.song is None or self.dev.player.current == self.song:
                return
            self.clock.sleep(TICK / 4)

    def _shutdown(self) -> None:
        """Fade the music out and journal the song that was playing."""
        player = self.dev.player
        fade = min(self.settings.fade, EXIT_FADE)
        try:
            if self.song is not None and player.busy:
                player.stop(fade_out=fade)
                deadline = self.clock.now() + fade
                while self.clock.now() < deadline and player.busy:
                    player.update()
                    self.clock.sleep(TICK / 4)
                player.stop()
        except KeyboardInterrupt:
            player.stop()
        if self.song is not None:
            self.dev.journal.song(self.clock.now(), "end", self.song)
            self.song = None


def _song_name(song: Any) -> str:
    return f"{song.artist} - {song.title}" if song.artist else song.title
