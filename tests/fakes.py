"""Fakes for the runner's devices: no camera, no MediaPipe, no sound card and no real time.

A fake frame's ``image`` *is* its probability row (or None for "no face"): FakeExtractor passes it
through as the landmarks, ``fake_vectorize`` turns it into an array and FakePredictor returns it.
So a test scripts what each frame votes for directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from emusify.errors import CameraError, LibraryError

LABELS = ("angry", "happy", "neutral", "sad")


class Frame(NamedTuple):
    image: Any
    timestamp: float
    index: int
    name: str | None


class Song(NamedTuple):
    path: Path
    title: str
    artist: str | None
    duration: float | None
    folder: str


def probs(mood: str, confidence: float = 0.9, labels: Sequence[str] = LABELS) -> np.ndarray:
    """A probability row that puts ``confidence`` on ``mood`` and spreads the rest."""
    rest = (1.0 - confidence) / (len(labels) - 1)
    return np.array([confidence if label == mood else rest for label in labels], dtype=np.float32)


def frames(*parts: tuple[str | None, int], confidence: float = 0.9) -> list:
    """A frame script: ``frames(("happy", 10), (None, 3))`` -> 10 happy rows then 3 faceless frames."""
    script: list = []
    for mood, count in parts:
        script += [None if mood is None else probs(mood, confidence) for _ in range(count)]
    return script


class FakeClock:
    """now() and sleep() without waiting: sleep advances the time at once.

    ``monotonic()`` advances with every sleep too; :meth:`jump` moves only the wall clock, as a
    suspend (forward) or a time sync (back) does.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.start = self.t = start
        self.mono = 0.0
        self.slept = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.jumps: list[tuple[float, float]] = []  # (monotonic time, seconds): jump when it is reached
        self.mono_timers: list[tuple[float, Callable[[], None]]] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.mono

    def jump(self, seconds: float) -> None:
        """The wall clock jumps by ``seconds`` (a suspend of that long, or a time sync when < 0)."""
        self.t += seconds

    def jump_at(self, after: float, seconds: float) -> None:
        """Jump by ``seconds`` once ``after`` seconds of monotonic time have passed."""
        self.jumps.append((after, seconds))

    def at_monotonic(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` once ``seconds`` of monotonic time have passed (whatever the wall clock did)."""
        self.mono_timers.append((seconds, action))

    def at(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` once the clock passes ``start + seconds``."""
        self.timers.append((self.start + seconds, action))

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += seconds
        self.mono += seconds
        self.slept += seconds
        for jump in [j for j in self.jumps if j[0] <= self.mono]:
            self.jumps.remove(jump)
            self.jump(jump[1])
        for timer in [m for m in self.mono_timers if m[0] <= self.mono]:
            self.mono_timers.remove(timer)
            timer[1]()
        due = [timer for timer in self.timers if timer[0] <= self.t]
        self.timers = [timer for timer in self.timers if timer[0] > self.t]
        for _, action in due:
            action()


class FakeSource:
    """A frame source over a script; reading advances the clock like a live camera would."""

    def __init__(self, factory: FakeSources, script: list, die_after: int | None) -> None:
        self.factory, self.script, self.die_after = factory, script, die_after
        self.is_video = factory.is_video
        self.position = 0
        self.opened_at = factory.clock.now()
        self.closed_at: float | None = None

    def read(self) -> Frame | None:
        assert self.closed_at is None, "read after close"
        if self.die_after is not None and self.position >= self.die_after:
            raise CameraError("camera 0 disconnected: check the cable or use --source")
        if self.position >= len(self.script):
            return None
        step = 1.0 / self.factory.source_fps
        self.factory.clock.sleep(step)  # a live camera paces the reads
        frame = Frame(self.script[self.position], self.position * step, self.position, None)
        self.position += 1
        return frame

    def close(self) -> None:
        if self.closed_at is None:
            self.closed_at = self.factory.clock.now()

    def __enter__(self) -> FakeSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeSources:
    """``open_source`` stand-in: each call opens the next script (the last one repeats).

    ``missing``: opens that raise CameraError (by 0-based open number); ``die_after``: per open
    number, the frame count after which reading raises CameraError.
    """

    def __init__(self, clock: FakeClock, scripts: list[list], source_fps: float = 20.0,
                 is_video: bool = True, missing: Sequence[int] = (),
                 die_after: dict[int, int] | None = None) -> None:
        self.clock, self.scripts, self.source_fps, self.is_video = clock, scripts, source_fps, is_video
        self.missing, self.die_after = set(missing), die_after or {}
        self.attempts = 0
        self.opened: list[FakeSource] = []

    def __call__(self, spec: str) -> FakeSource:
        number = self.attempts
        self.attempts += 1
        if number in self.missing:
            raise CameraError(f"cannot open camera {spec}: use --source with a video file or folder")
        script = self.scripts[min(len(self.opened), len(self.scripts) - 1)]
        source = FakeSource(self, script, self.die_after.get(number))
        self.opened.append(source)
        return source


class FakeExtractor:
    """The fake image is its own landmarks; None means no face."""

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, image: Any) -> Any:
        self.calls += 1
        return image


def fake_vectorize(landmarks: Any) -> np.ndarray:
    return np.asarray(landmarks, dtype=np.float32)


class FakePredictor:
    """Returns its input: the scripted rows are already probabilities."""

    def __init__(self) -> None:
        self.rows = 0
        self.reference: np.ndarray | None = None  # what emusify.sensing.calibration sets

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        self.rows += len(vectors)
        return vectors


class FakePlayer:
    """Records what was played; ``finish()`` ends the current song; paths in ``bad`` will not play.

    Paths in ``late_bad`` fail like the real player's second half of a fade: ``fade_to`` accepts
    them, the next ``update()`` drops the song and calls ``on_error(path, reason)``.
    """

    def __init__(self, bad: Sequence[Path] = (), late_bad: Sequence[Path] = ()) -> None:
        self.bad, self.late_bad = set(bad), set(late_bad)
        self.on_error: Callable[[Path, str], None] | None = None
        self.current: Song | None = None
        self.busy = False
        self.paused = False
        self.position = 0.0
        self.volume = 1.0
        self.no_seek: set[Path] = set()  # songs that cannot seek
        self.events: list[tuple[str, Any]] = []
        self.updates = 0

    def play(self, song: Song, fade_in: float = 0.0, start: float = 0.0) -> None:
        if song.path in self.bad:
            raise LibraryError(f"{song.path.name}: unreadable audio; it was skipped")
        self.events.append(("play", song) if not start else ("play", song, start))
        self.current, self.busy, self.paused = song, True, False
        self.position = start if self.can_seek(song) else 0.0

    def set_volume(self, volume: float) -> None:
        self.events.append(("volume", volume))
        self.volume = min(max(volume, 0.0), 1.0)

    def can_seek(self, song: Song) -> bool:
        return song.path not in self.no_seek

    def seek(self, seconds: float) -> None:
        if self.current is None:
            return
        if not self.can_seek(self.current):
            raise LibraryError(f"{self.current.path.name} cannot seek")
        self.events.append(("seek", seconds))
        self.position = seconds

    def fade_to(self, song: Song, seconds: float) -> None:
        if song.path in self.bad:
            raise LibraryError(f"{song.path.name}: unreadable audio; it was skipped")
        self.events.append(("fade_to", song, seconds))
        self.current, self.busy, self.paused, self.position = song, True, False, 0.0

    def stop(self, fade_out: float = 0.0) -> None:
        self.events.append(("stop", fade_out))
        if fade_out == 0:
            self.current, self.busy = None, False

    def pause(self, fade_out: float = 0.0) -> None:
        self.events.append(("pause", fade_out) if fade_out else ("pause",))
        self.paused = True

    def resume(self) -> None:
        self.events.append(("resume",))
        self.paused = False

    def toggle_pause(self) -> None:
        self.events.append(("toggle_pause",))
        self.paused = not self.paused

    def update(self) -> None:
        self.updates += 1
        if self.current is not None and self.current.path in self.late_bad and self.on_error:
            failed, self.current, self.busy = self.current, None, False
            self.on_error(failed.path, "cannot play it")

    def finish(self) -> None:
        """The current song reaches its end."""
        self.busy = False
        self.current = None

    def played(self) -> list[str]:
        """Titles started, in order."""
        return [event[1].title for event in self.events if event[0] in ("play", "fade_to")]


class FakeLibrary:
    """Folders of fake songs, each folder played round-robin; bad songs never offered again."""

    def __init__(self, songs: dict[str, int]) -> None:
        self.songs = {
            folder: [Song(Path(f"/songs/{folder}/{folder}{i}.mp3"), f"{folder}{i}", "Band", 60.0, folder)
                     for i in range(count)]
            for folder, count in songs.items()
        }
        self.turn = dict.fromkeys(self.songs, 0)
        self.bad: dict[Path, str] = {}
        self.scans = 0

    def scan(self) -> None:
        self.scans += 1

    def folders(self) -> tuple[str, ...]:
        playable = (f for f, songs in self.songs.items() if any(s.path not in self.bad for s in songs))
        return tuple(sorted(playable))

    def next_song(self, folder: str) -> Song | None:
        songs = self.songs.get(folder, [])
        for _ in songs:
            song = songs[self.turn[folder] % len(songs)]
            self.turn[folder] += 1
            if song.path not in self.bad:
                return song
        return None

    def mark_bad(self, path: Path, reason: str) -> None:
        self.bad[path] = reason

    def rounds(self) -> dict[str, list[str]]:
        """Library.rounds(): here, how far each folder's turn has gone."""
        return {folder: [str(song.path) for song in songs[:self.turn[folder] % len(songs)]]
                for folder, songs in self.songs.items() if songs}

    def restore(self, rounds: dict[str, list[str]]) -> None:
        for folder, paths in rounds.items():
            if folder in self.turn:
                self.turn[folder] = len(paths)


class FakeJournal:
    def __init__(self) -> None:
        self.windows: list[tuple[float, Any, str]] = []
        self.songs: list[tuple[float, str, Any]] = []
        self.feedback_rows: list[Any] = []  # journal.FeedbackRow
        self.references: list[tuple[float, str, str | None, int, float]] = []
        self.desk_rows: list[tuple[float, str, float, str | None]] = []

    def window(self, when: float, result: Any, decision: str) -> None:
        self.windows.append((when, result, decision))

    def song(self, when: float, event: str, song: Any) -> None:
        self.songs.append((when, event, song))

    def feedback(self, row: Any) -> None:
        self.feedback_rows.append(row)

    def reference(self, when: float, event: str, source: str | None, frames: int, shift: float = 0.0) -> None:
        self.references.append((when, event, source, frames, shift))

    def desk(self, when: float, event: str, seconds: float = 0.0, detail: str | None = None) -> None:
        self.desk_rows.append((when, event, seconds, detail))

    def events(self) -> list[tuple[str, str]]:
        return [(event, song.title) for _, event, song in self.songs]


class FakeUI:
    """Keys pressed at given clock times; records every status shown."""

    def __init__(self, clock: FakeClock, presses: Sequence[tuple[float, str]] = ()) -> None:
        self.clock = clock
        self.presses = sorted(presses)
        self.shown: list[Any] = []

    def pressed(self) -> list[str]:
        due = [key for when, key in self.presses if when <= self.clock.now()]
        self.presses = [(when, key) for when, key in self.presses if when > self.clock.now()]
        return due

    def show(self, status: Any) -> None:
        self.shown.append(status)


def make_core(settings: Any, devices: Any, presses: Sequence[tuple[float, str]] = (),
              labels: Sequence[str] = LABELS, keys: Sequence[str] | None = None) -> Any:
    """A Core over ``devices`` with the terminal front-end on a FakeUI pressing ``presses``
    (seconds after the clock's start); the FakeUI is kept as ``devices.ui`` for the tests."""
    from emusify.desk.core import Core
    from emusify.desk.ui import Terminal
    from emusify.music.policy import parse_policy

    clock = devices.clock
    core = Core(settings, devices, labels, parse_policy(settings.policy), keys=keys)
    devices.ui = FakeUI(clock, [(clock.start + t, key) for t, key in presses])
    Terminal(devices.ui, clock.now).start(core)
    return core
