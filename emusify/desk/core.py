"""The player core: windows, the decision, the music, the shot and the learner, steered by commands.

In the spirit of Mopidy's core and its CoreListener: front-ends (the terminal, the preview, MPRIS,
notifications) send :class:`~emusify.desk.events.Command` values from any thread with
:meth:`Core.send`, which never blocks, and hear what happened as listeners
(:class:`~emusify.desk.events.Listener`). The core imports no front-end; its one listener of its
own is the journal's (emusify.desk.journaling), added first, so every row is written from the
same events the front-ends hear and before they hear them.

The loop runs on the thread that calls :meth:`Core.run`: a calibration shot when needed, then
windows every --every minutes with the camera off between them. Commands are handled between
frames and between the short waits; a command ends the wait at once (the clock's ``wait`` wakes on
it), so a media key reaches the player within a tick of the camera's frame at most.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Sequence

from emusify.config import Settings
from emusify.desk.away import AwayWatch
from emusify.desk.clockwatch import ClockWatch, monotonic
from emusify.desk.commands import handle
from emusify.desk.devices import CommandSource, Devices, SystemClock
from emusify.desk.events import Command, Listeners, PlayerState, command_for_key
from emusify.desk.feedback import SkipWatch
from emusify.desk.journaling import JournalWriter
from emusify.desk.lockwatch import LockWatch
from emusify.desk.playback import Music
from emusify.desk.shot import ShotPart
from emusify.desk.standin import StandIn
from emusify.desk.window import WindowReader
from emusify.errors import CameraError, ExitStatus
from emusify.music.policy import Policy
from emusify.reading.tally import WindowResult

log = logging.getLogger(__name__)

TICK = 0.2  # longest wait between music/learner/front-end checks while waiting


class Core:
    """Runs windows and music until --cycles is reached, a quit command or :meth:`request_stop`."""

    def __init__(self, settings: Settings, devices: Devices, labels: Sequence[str], policy: Policy,
                 keys: Sequence[str] | None = None) -> None:
        self.settings, self.dev, self.policy = settings, devices, policy
        self.clock = devices.clock or SystemClock()
        self.labels = tuple(labels)  # the moods read (the predictor's: all the model's)
        self.keys = tuple(keys) if keys is not None else self.labels  # moods a digit corrects to
        self.listeners = Listeners()
        self.listeners.add(JournalWriter(devices.journal))
        self.music = Music(devices.player, devices.library, self.clock, self._tell)
        self.reader = WindowReader(settings, devices, self.labels, self._between,
                                   self._halted, self._key, self._begin_window,
                                   self._tell, self.clock.now)
        self.skip_watch = SkipWatch()
        self.away = AwayWatch(settings, self.music, self.clock, self._tell)
        self.lock = LockWatch(settings, self.music, self.clock, self._tell)  # the screen locked
        self.clock_watch = ClockWatch(self.clock)
        self._woke = False  # the wall clock jumped forward (a sleep) during the wait
        self.cycle = 0
        self.last: WindowResult | None = None
        self.stop_reason: str | None = None
        self._inbox: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._sources: list[CommandSource] = []
        self._watching = False
        self._next_window: float | None = None
        self._planned: float | None = None  # when the window after the current wait is due
        self.standin = StandIn(devices, self.labels, self.clock.now, self._tell)
        self.shot = ShotPart(devices, self.reader, self.labels, self.clock.now, self._tell, self._between,
                             self._halted)
        self._state = PlayerState(moods=self.keys, time=self.clock.now())
        self._shown: tuple[Any, ...] = ()
        self.resume_from: tuple[Any, str, float] | None = None  # (song, folder, seconds) a restart resumes

    # The front-ends' side -----------------------------------------------------------------------

    @property
    def state(self) -> PlayerState:
        """The latest snapshot (any thread may read it; it is replaced, never changed)."""
        return self._state

    def add_listener(self, listener: Any) -> None:
        """``listener.on_event(name, **values)`` hears every event from now on (on the core's thread)."""
        self.listeners.add(listener)

    def add_source(self, source: CommandSource) -> None:
        """``source.poll()`` is asked for commands on the core's thread between frames and ticks."""
        self._sources.append(source)

    def send(self, command: Command) -> None:
        """Queue ``command`` for the core (any thread; never blocks).

        Raises:
            ValueError: not a valid command (see events.COMMANDS).
        """
        self._inbox.put(command.check())
        self._wake.set()

    def request_stop(self, reason: str) -> None:
        """End the loop at the next frame or tick; safe in a signal handler (it only sets a value)."""
        self.stop_reason = self.stop_reason or reason

    def song_failed(self, path: Any, reason: str) -> None:
        """The player's ``on_error``: a song failing inside a fade is skipped."""
        self.music.song_failed(path, reason)

    # The loop -----------------------------------------------------------------------------------

    def run(self) -> int:
        """Run cycles until done. Returns the exit status (130 on Ctrl-C).

        A camera that cannot be opened (busy, gone) skips its window with one line, every time:
        run.py checks --source once before any music, and once running the player never exits
        over the camera.
        """
        status = ExitStatus.OK
        self._tell("started", state=self._snapshot())
        try:
            if self.resume_from is not None:  # before any shot or window: the song that played goes on
                self.music.resume_song(*self.resume_from, fade=self.settings.fade / 2)
                self._refresh()
            while self.stop_reason is None:
                self._cycle()
        except KeyboardInterrupt:
            self.request_stop("Ctrl-C")
            status = ExitStatus.INTERRUPTED
        finally:
            self.music.shutdown(self.settings.fade)
            log.info("stopped (%s) after %d window(s)", self.stop_reason, self.cycle)
            self._refresh()
            self._tell("stopped", when=self.clock.now(), reason=self.stop_reason or "error")
        return int(status)

    def _cycle(self) -> None:
        self._sent()  # a lock already said (run.py started on a locked screen) counts at once
        if self.lock.locked:  # no shot, no window, no look: the camera stays off until unlocked
            self._wait_locked()
            return
        if self.shot.needed():
            self._watching = self.shot.running = True
            self._refresh()
            try:
                self.shot.take()
            except CameraError as exc:  # still needed: the shot comes again before the next window
                log.warning("no calibration shot this time (%s); trying again next window", exc)
            finally:
                self._watching = False
        if self._halted():
            return
        self.dev.library.scan()
        started = self.clock.now()
        self._watching, self._next_window = True, None
        self._refresh()
        self.reader.window = self.away.window_seconds()
        result = self.reader.read()
        self._watching = False
        if self._halted():  # a window the lock cut short is not used
            if self.stop_reason is None:  # benchmarks/listening_lock.py reads this line
                log.info("window %d: the screen locked; the camera is off, the window is not used",
                         self.cycle + 1)
            return
        self.cycle += 1
        self.away.after_window(result, started)  # back: the music resumes, then the mood moves it
        self._decide(result, started)
        self._refresh()
        self.standin.learn(self.reader.seen)
        self.shot.track()
        if self.settings.cycles and self.cycle >= self.settings.cycles:
            self._let_song_start()
            self.request_stop(f"--cycles {self.settings.cycles} done")
            return
        self._wait(self.away.wait_seconds())

    def _decide(self, result: WindowResult, when: float) -> None:
        """Log and tell the window, then keep the music or move to the chosen folder."""
        self.last = result
        log.info("window %d: %s", self.cycle, result.summary())
        music = self.music
        playing = music.folder if music.song is not None else None
        held = self.standin.held()  # no reference face yet: the window may not move the music
        choice = self.policy.choose(None if held else result.mood, playing, self.dev.library.folders())
        if held:  # the log and the journal say why at length; the status line holds a short hint
            choice = choice._replace(reason=f"{held} ({choice.reason})")
        log.info("decision: %s", choice.reason)
        if self.dev.feedback is not None:
            self.dev.feedback.end_window(when, result.mood, getattr(self.dev.predictor, "offset", None))
        self._tell("window_read", when=when, result=result, decision=choice.folder or "keep")
        if choice.folder is None:
            return
        self.skip_watch.changed(self.clock.now(), when, result.mood)
        music.move(choice.folder, self.settings.fade)
        self._tell("mood_changed", when=self.clock.now(), mood=result.mood or "unsure",
                   share=result.share, folder=choice.folder, song=music.song)

    def _begin_window(self) -> None:
        """The source is open: swap in a model the learner finished, keep this window's landmarks."""
        log.info("window %d: watching %s for %.0f s%s", self.cycle + 1, self.settings.source,
                 self.reader.window, " (away: a short look)" if self.away.away else "")
        if self._planned is not None:  # benchmarks/frontends_cycle.py reads this (run.py -v)
            log.debug("window %d: began %.3f s after its time", self.cycle + 1,
                      self.clock.now() - self._planned)
        self._tell("window_started", when=self.clock.now(), cycle=self.cycle + 1)
        self._take_update()
        if self.dev.feedback is not None:
            self.dev.feedback.begin_window()

    def _take_update(self) -> None:
        """Swap in a model the learner finished (at a window's start, or during the wait after one)."""
        update = self.dev.learner.take() if self.dev.learner is not None else None
        if update is not None and self.dev.make_predictor is not None:
            try:
                self.dev.predictor = self.dev.make_predictor(update.model)
            except ValueError as exc:  # e.g. the new model lacks a mood being read
                log.warning("the updated model cannot be used (%s); the current one stays", exc)
            else:
                log.info("%s", update.message())
                self._tell("model_updated", when=self.clock.now(), message=update.message())
                self._note(update.message())

    def _wait(self, seconds: float) -> None:
        """Keep the music going with the camera off for ``seconds``; a command ends a wait at once.

        Measured on the monotonic clock, so a clock set back never lengthens it; a sleep (the wall
        clock jumped forward) ends it: one window at once, never a burst of missed ones.
        """
        self._next_window = self._planned = self.clock.now() + seconds
        deadline = monotonic(self.clock) + seconds
        wait = getattr(self.clock, "wait", None)
        self._woke = False
        while not self._halted() and not self._woke and monotonic(self.clock) < deadline:
            self._between()
            self._take_update()  # the set-up's model takes over as soon as it is trained
            pause = min(TICK, max(deadline - monotonic(self.clock), 0.0))
            if self._woke or pause <= 0:
                break
            if wait is not None:
                wait(pause, self._wake)
            else:
                self.clock.sleep(pause)

    def _wait_locked(self) -> None:
        """The screen is locked: the music goes on as the lock left it, the camera stays off."""
        self._next_window = None
        wait = getattr(self.clock, "wait", None)
        while self.stop_reason is None and self.lock.locked:
            self._between()
            if wait is not None:
                wait(TICK, self._wake)
            else:
                self.clock.sleep(TICK)

    def _halted(self) -> bool:
        """The core is ending, or the screen locked: a window or the shot stops reading."""
        return self.stop_reason is not None or self.lock.locked

    def _check_clock(self) -> None:
        """A jump of the wall clock: told with its length (and journaled), and a sleep ends the wait."""
        jump = self.clock_watch.check()
        if jump is None:
            return
        hours = jump.seconds / 3600
        waiting = self._next_window is not None
        if jump.kind == "slept":
            log.info("the computer slept for %.1f h (the clock jumped forward)%s", hours,
                     "; a window comes now" if waiting else "")
            self._woke = True
            if waiting:
                self._next_window = jump.when
        else:
            log.info("the clock was set back by %.1f h; waits go on by the monotonic clock", hours)
            if waiting:
                self._next_window -= jump.seconds
        self._tell("clock_jumped", when=jump.when, kind=jump.kind, seconds=jump.seconds)

    def _between(self) -> None:
        """Between frames and ticks: drive the music, the learner, the commands; refresh the state."""
        self._check_clock()
        self.music.tick()
        if self.dev.learner is not None:
            self.dev.learner.poll()
        self._wake.clear()
        for source in tuple(self._sources):
            for command in source.poll():
                self._handle(command)
        self._sent()
        self._refresh()

    def _sent(self) -> None:
        """Handle the commands sent from other threads (core.send), in their order."""
        while True:
            try:
                command = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._handle(command)

    def _let_song_start(self) -> None:
        """After the last window, drive the player until the chosen song has really started."""
        deadline = monotonic(self.clock) + self.settings.fade + 1.0
        while monotonic(self.clock) < deadline:
            self._between()  # a song failing at the end of the fade is replaced here too
            if self.music.song is None or self.dev.player.current == self.music.song:
                return
            self.clock.sleep(TICK / 4)

    # Commands -----------------------------------------------------------------------------------

    def _key(self, key: str | None) -> None:
        """A key of the preview window (or the shot's): the command it stands for."""
        try:
            command = command_for_key(key, self.keys, "preview")
        except ValueError as exc:
            self._note(str(exc))
            return
        if command is not None:
            self._handle(command)

    def _handle(self, command: Command) -> None:
        handle(self, command)

    # Telling the listeners ----------------------------------------------------------------------

    def _tell(self, name: str, /, **values: Any) -> None:
        self.listeners.send(name, **values)

    def _note(self, text: str) -> None:
        self._tell("note", when=self.clock.now(), text=text)

    def _snapshot(self) -> PlayerState:
        music, last = self.music, self.last
        return PlayerState(
            status=music.status, song=music.song, folder=music.folder,
            position=self.dev.player.position if music.song is not None else 0.0,
            volume=self.dev.player.volume,
            can_seek=music.song is not None and self.dev.player.can_seek(music.song),
            mood=last.mood if last else None, share=last.share if last else 0.0, moods=self.keys,
            watching=self._watching, next_window=None if self._watching else self._next_window,
            time=self.clock.now(), shot=self.shot.running, away_since=self.away.since, doubt=self.shot.doubt,
            held=self.standin.hint(),
            look_every=self.settings.away_every if self.away.away else 0.0,
            audio_down=music.audio_down is not None,
            locked_since=self.lock.since)

    def _refresh(self) -> None:
        """Replace the state; tell the listeners when something other than the clock changed."""
        state = self._snapshot()
        self._state = state
        shown = (state.status, state.song, state.folder, state.mood, state.share, state.watching,
                 state.next_window, state.away_since, state.audio_down, state.locked_since)
        shown += (state.volume, state.can_seek)
        if shown != self._shown:
            self._shown = shown
            self._tell("state_changed", state=state)

    @property
    def window_left(self) -> float:
        """Seconds left in the window being read (for a status line)."""
        return self.reader.left

    def __repr__(self) -> str:
        return f"Core(cycle={self.cycle}, status={self._state.status!r})"

