"""The player core's vocabulary: commands in, events out (Mopidy's ``core`` and ``CoreListener``).

Front-ends (the terminal, MPRIS, notifications, the journal, the preview window) never reach into
the core (even the journal's rows are written by a listener, emusify.desk.journaling). They send
a :class:`Command` from any thread with ``core.send(...)``, which never blocks, and they hear
what happened as a :class:`Listener`: the core calls ``listener.on_event(name, **values)`` on its
own thread, in the order things happened, and ``on_event`` calls the method of that name. A
front-end living on another thread (an asyncio loop for D-Bus) hands the call over to its own
thread itself. A listener that raises is dropped with one log line; the player goes on.

Pure values only: this module imports nothing from the devices, so every front-end and the core
test against it without a camera, a sound card or a bus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple, Protocol, Sequence

log = logging.getLogger(__name__)

# What a command may ask. ``correct`` carries the mood; the others take none.
COMMANDS = (
    "next",  # the next song of the current folder (a skip early in a song)
    "play_pause",  # pause when playing, resume when paused, start when stopped
    "play",  # resume or start; nothing when playing
    "pause",  # pause; nothing when paused or stopped
    "stop",  # fade the music out; windows go on reading (and journalling) but start no music until play
    "correct",  # "my mood is <mood>": save the last window as it, move the music (a digit key)
    "confirm",  # "right": save the last window under the mood it read (y)
    "calibrate",  # take a new calibration shot before the next window (c)
    "quit",  # end run.py: fade out, release the camera, close the journal
    "skip_shot",  # end a running calibration shot without using it (s); nothing otherwise
    "screen_locked",  # the desktop locked the screen: fade to a pause, no windows (setting on_lock)
    "screen_unlocked",  # ... and unlocked it: resume what the lock paused, a window at once
    "volume",  # set the volume to ``value`` (0..1; MPRIS Volume)
    "louder",  # the volume up a step (+, or = on a keyboard without shift)
    "quieter",  # the volume down a step (-)
    "seek",  # move ``value`` seconds on (back when negative) in the song (MPRIS Seek)
    "position",  # go to ``value`` seconds into the song (MPRIS SetPosition)
)
VALUED = ("volume", "seek", "position")  # the commands that carry a ``value``

# The keys of the terminal and the preview window; a digit is "correct" with the mood of that number.
KEYS = {"n": "next", " ": "play_pause", "p": "play_pause", "q": "quit", "esc": "quit",
        "y": "confirm", "c": "calibrate", "s": "skip_shot"}
KEYS.update({"+": "louder", "=": "louder", "-": "quieter"})
CONFIRM_KEY = "y"


class Command(NamedTuple):
    """One request to the core, from any front-end."""

    name: str  # one of COMMANDS
    mood: str | None = None  # for "correct"
    source: str = ""  # the front-end that sent it ("terminal", "mpris", "notification", "signal")
    value: float | None = None  # for "volume", "seek" and "position"

    def check(self) -> Command:
        """The command itself; ValueError when it names no command or lacks (or wrongly has) a mood."""
        if self.name not in COMMANDS:
            raise ValueError(f"unknown command {self.name!r}; one of {', '.join(COMMANDS)}")
        if (self.name == "correct") != (self.mood is not None):
            raise ValueError("a mood goes with 'correct' and only with it")
        if (self.name in VALUED) != (self.value is not None):
            raise ValueError(f"a value goes with {', '.join(VALUED)} and only with them")
        return self


def mood_keys(moods: Sequence[str]) -> str:
    """The key legend of the moods: ``1 angry  2 happy  3 neutral  4 sad  y right``."""
    return "  ".join(f"{i} {m}" for i, m in enumerate(moods[:9], 1)) + f"  {CONFIRM_KEY} right"


def mood_for_key(key: str, moods: Sequence[str]) -> str | None:
    """The mood a digit stands for (1 = the first shown), None for another key or a digit out of range."""
    if len(key) != 1 or not key.isdigit():
        return None
    number = int(key)
    return moods[number - 1] if 1 <= number <= min(len(moods), 9) else None


def command_for_key(key: str | None, moods: Sequence[str], source: str) -> Command | None:
    """The command a key stands for (None: no command).

    Raises:
        ValueError: a digit no mood has (the message lists the mood keys).
    """
    if not key:
        return None
    if len(key) == 1 and key.isdigit():
        mood = mood_for_key(key, moods)
        if mood is None:
            raise ValueError(f"no mood has the key {key}: {mood_keys(moods)}")
        return Command("correct", mood, source)
    name = KEYS.get(key.lower())
    return Command(name, source=source) if name else None


@dataclass(frozen=True)
class PlayerState:
    """A snapshot of the player that any thread may read (``core.state``); replaced, never changed."""

    status: str = "stopped"  # "playing" | "paused" | "stopped" (MPRIS PlaybackStatus, lower case)
    song: Any = None  # emusify.music.library.Song or None
    folder: str | None = None  # the songs folder the music comes from
    position: float = 0.0  # seconds into the song when the snapshot was taken
    volume: float = 1.0  # the user's volume, 0..1 (fades go from silence to it)
    can_seek: bool = False  # the song can move to another position (its format seeks)
    mood: str | None = None  # the last window's mood (None: unsure or none yet)
    share: float = 0.0  # its share of the votes
    moods: tuple[str, ...] = ()  # the moods a correction may name, in key order (1, 2, ...)
    watching: bool = False  # a window (or the calibration shot) is running
    next_window: float | None = None  # clock time of the next window, while waiting
    time: float = 0.0  # clock time of the snapshot
    shot: bool = False  # the calibration shot is running (watching too)
    away_since: float | None = None  # clock time the user left the desk (None: at the desk)
    look_every: float = 0.0  # minutes between the short looks while away (0: not away)
    audio_down: bool = False  # the sound device is lost; playback retries every minute
    doubt: str = ""  # the reference face looks wrong: "... press c to recalibrate" ("" when fine)
    held: str = ""  # no reference yet, windows keep the music: "no shot: music stays 2 more windows; ..."
    locked_since: float | None = None  # clock time the screen locked (None: unlocked); no windows meanwhile


class Listener:
    """Base for everything that wants to hear the core. Override the events you need.

    Every method has a default that does nothing, so a front-end written today keeps working when
    the core learns new events. ``when`` is the core's clock time (epoch seconds).
    """

    def on_event(self, event: str, /, **values: Any) -> None:
        """Called by the core for each event; calls the method named ``event``."""
        getattr(self, event, _ignore)(**values)

    def started(self, state: PlayerState) -> None:
        """The core is running (devices open); ``state`` is the first snapshot."""

    def window_started(self, when: float, cycle: int) -> None:
        """The camera opened for window ``cycle`` (1, 2, ...)."""

    def window_read(self, when: float, result: Any, decision: str) -> None:
        """A window ended: ``result`` is its WindowResult, ``decision`` the folder chosen or "keep"."""

    def mood_changed(self, when: float, mood: str, share: float, folder: str, song: Any) -> None:
        """A window moved the music to ``folder`` for ``mood`` (read with ``share`` of the votes);
        ``song`` started (None if nothing could start). The moment to ask "right?"."""

    def song_started(self, when: float, song: Any) -> None:
        """``song`` began to play (or to fade in)."""

    def song_ended(self, when: float, song: Any, how: str) -> None:
        """``song`` stopped playing: ``how`` is "end", "skip", "next", "error" or "stop"."""

    def song_failed(self, when: float, song: Any, reason: str) -> None:
        """``song`` could not start (a corrupt or unreadable file); another one is tried."""

    def paused(self, when: float) -> None:
        """The music paused."""

    def resumed(self, when: float) -> None:
        """The music resumed (or started again after a stop)."""

    def music_stopped(self, when: float) -> None:
        """The music stopped on a stop command (windows go on)."""

    def volume_changed(self, when: float, volume: float) -> None:
        """The user's volume is now ``volume`` (0..1)."""

    def seeked(self, when: float, position: float) -> None:
        """The song jumped to ``position`` seconds (a seek, or a song resumed part-way at start)."""

    def reference_changed(self, when: float, event: str, source: str | None, frames: int = 0,
                          shift: float = 0.0) -> None:
        """The reference face: ``event`` "shot", "updated", "kept", "skipped", "refused" (a shot that
        is no relaxed face, taken again) or "doubted" (kept all the same, or the running check);
        ``source`` its origin ("shot", "passive", "model", ...), ``frames`` the faces it came from,
        ``shift`` how far it moved. A doubt also shows in ``PlayerState.doubt``."""

    def correction_saved(self, when: float, mood: str, kind: str, read: str | None, message: str,
                         window: float | None = None, frames: int = 0) -> None:
        """A correction ("correction") or confirmation ("confirmed") of the last window (read as
        ``read``, started at ``window``) was handled; ``frames`` face frames were saved as a
        recording (0: nothing saved, ``message`` says why); ``message`` is for the user."""

    def mood_doubted(self, when: float, window: float, mood: str | None) -> None:
        """A burst of early skips right after the window of ``window`` moved the music to ``mood``."""

    def model_updated(self, when: float, message: str) -> None:
        """A model the learner updated in the background is now in use."""

    def note(self, when: float, text: str) -> None:
        """A short message for the user (status line, notification body)."""

    def away(self, when: float, since: float) -> None:
        """No face for a few windows: the user left at ``since`` (with away = pause the music paused)."""

    def back(self, when: float, away_seconds: float) -> None:
        """A face is back after ``away_seconds`` away; the music paused by leaving resumes."""

    def screen_locked(self, when: float) -> None:
        """The screen locked: no windows until it unlocks (with on_lock = pause the music paused)."""

    def screen_unlocked(self, when: float, locked_seconds: float) -> None:
        """The screen unlocked after ``locked_seconds``: music the lock paused resumes, a window comes."""

    def clock_jumped(self, when: float, kind: str, seconds: float) -> None:
        """The wall clock jumped ``seconds``: ``kind`` "slept" (forward: a suspend) or "clock_back"."""

    def camera_unavailable(self, when: float, detail: str) -> None:
        """The camera could not be opened for a window (busy, gone): the window is skipped."""

    def audio_lost(self, when: float, detail: str) -> None:
        """The sound device failed; moods are still read and playback retries every minute."""

    def audio_back(self, when: float, seconds: float) -> None:
        """The sound device is back after ``seconds``."""

    def state_changed(self, state: PlayerState) -> None:
        """Something a front-end shows changed (song, status, mood, phase); ``state`` is the new one."""

    def stopped(self, when: float, reason: str) -> None:
        """The core ended (quit, Ctrl-C, SIGTERM, --cycles done); no more events follow."""


def _ignore(**values: Any) -> None:
    """An event this listener does not know (a newer core): nothing to do."""


class Listeners:
    """The core's list of listeners: tells each, drops one that raises (one log line)."""

    def __init__(self) -> None:
        self._items: list[Any] = []

    def add(self, listener: Any) -> None:
        self._items.append(listener)

    def remove(self, listener: Any) -> None:
        if listener in self._items:
            self._items.remove(listener)

    def __iter__(self):
        return iter(tuple(self._items))

    def send(self, event: str, /, **values: Any) -> None:
        """Tell every listener ``event``; a listener that raises is dropped, the others still hear it."""
        for listener in tuple(self._items):
            try:
                listener.on_event(event, **values)
            except Exception as exc:  # a front-end's bug must never stop the music
                log.warning("%s failed on %s (%s: %s); going on without it",
                            _name(listener), event, type(exc).__name__, exc)
                self.remove(listener)


def _name(listener: Any) -> str:
    return getattr(listener, "name", None) or type(listener).__name__


class CoreHandle(Protocol):
    """What a front-end may use of the core: send commands, read the state, listen."""

    @property
    def state(self) -> PlayerState: ...

    def send(self, command: Command) -> None: ...

    def add_listener(self, listener: Any) -> None: ...


class FrontEnd(Protocol):
    """A front-end (MPRIS, notifications, ...): started after the core's devices open, closed at the end."""

    name: str

    def start(self, core: CoreHandle) -> None:
        """Connect (to the bus, the notification server, ...) and ``core.add_listener(self)``.

        Raises anything when it cannot start: :func:`start_frontends` logs one line and goes on.
        """

    def close(self) -> None:
        """Disconnect; idempotent, never raises."""


def start_frontends(core: CoreHandle, frontends: Iterable[Any]) -> list[Any]:
    """Start each front-end; one that cannot start (no D-Bus, no notification server) is one log line.

    Returns:
        The front-ends that started, to be closed at the end.
    """
    started = []
    for frontend in frontends:
        try:
            frontend.start(core)
        except Exception as exc:  # noqa: BLE001 - any failure of an optional front-end is the same to us
            log.warning("%s is off: %s", _name(frontend), str(exc).splitlines()[0] if str(exc) else
                        type(exc).__name__)
            _close(frontend)
        else:
            started.append(frontend)
    return started


def close_frontends(frontends: Iterable[Any]) -> None:
    """Close each front-end, last started first; a failure to close is logged, never raised."""
    for frontend in reversed(list(frontends)):
        _close(frontend)


def _close(frontend: Any) -> None:
    try:
        frontend.close()
    except Exception as exc:  # noqa: BLE001
        log.debug("closing %s: %s", _name(frontend), exc)
