"""What the player core drives, each typed by the little it must do (small Protocols).

Nothing here is opened or closed by the core except the frame sources of its windows; run.py
opens the devices (emusify.cli.run) and tests pass fakes (tests/fakes.py) and a clock that does not
really sleep.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence


class Frame(Protocol):
    image: Any
    timestamp: float


class FrameSource(Protocol):
    """A camera, a video file or a folder of stills, opened for one window (a context manager)."""

    is_video: bool

    def read(self) -> Frame | None: ...

    def __enter__(self) -> FrameSource: ...

    def __exit__(self, *exc: object) -> Any: ...


class Extractor(Protocol):
    def extract(self, image: Any) -> Any: ...  # Landmarks | None


class Predictor(Protocol):
    def predict(self, vectors: Any) -> Any: ...  # (n, d) -> (n, k) probabilities


class Player(Protocol):
    """emusify.music.player.Player: one song at a time, fades driven by ``update()``."""

    busy: bool
    current: Any
    position: float
    volume: float  # the user's volume, 0..1

    def play(self, song: Any, fade_in: float = 0.0, start: float = 0.0) -> None: ...

    def set_volume(self, volume: float) -> None: ...

    def seek(self, seconds: float) -> None: ...  # LibraryError: this song cannot seek

    def can_seek(self, song: Any) -> bool: ...

    def fade_to(self, song: Any, seconds: float) -> None: ...

    def stop(self, fade_out: float = 0.0) -> None: ...

    def pause(self, fade_out: float = 0.0) -> None: ...

    def resume(self) -> None: ...

    def update(self) -> None: ...


class Library(Protocol):
    """emusify.music.library.Library: the songs folders."""

    def scan(self) -> None: ...

    def folders(self) -> Sequence[str]: ...

    def next_song(self, folder: str) -> Any: ...

    def mark_bad(self, path: Any, reason: str) -> None: ...


class Journal(Protocol):
    """emusify.storage.journal.Journal: the rows run.py keeps."""

    def window(self, when: float, result: Any, decision: str) -> None: ...

    def song(self, when: float, event: str, song: Any) -> None: ...

    def feedback(self, row: Any) -> None: ...

    def reference(self, when: float, event: str, source: str | None, frames: int,
                  shift: float = 0.0) -> None: ...

    def desk(self, when: float, event: str, seconds: float = 0.0, detail: str | None = None) -> None: ...


class Clock(Protocol):
    """Epoch time (journal rows carry it) and sleeps; tests pass one that does not really sleep.

    A clock may also have ``monotonic()`` (seconds a time sync never moves; the core measures its
    waits with it, emusify.desk.clockwatch) and ``wait(seconds, wake)`` (a sleep a command ends).
    """

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class Preview(Protocol):
    """The preview window of one window: ``show`` returns the key pressed (or None)."""

    def show(self, image: Any, landmarks: Any, probabilities: Any) -> str | None: ...

    def close(self) -> None: ...


class Learner(Protocol):
    """emusify.reading.learner.Learner: updates the model in the background."""

    def poll(self) -> None: ...

    def take(self) -> Any: ...  # an update (``.model``, ``.message()``) or None


class Feedback(Protocol):
    """emusify.desk.feedback.Feedback: keeps the last window's faces, saves corrections."""

    last: Any

    def begin_window(self) -> None: ...

    def frame(self, landmarks: Any) -> None: ...

    def end_window(self, when: float, mood: str | None, offset: Any = None) -> None: ...

    def save(self, mood: str, kind: str) -> Any: ...  # emusify.desk.feedback.Saved


class Calibration(Protocol):
    """emusify.sensing.calibration.Calibration: the reference face (shot, tracker)."""

    needs_shot: bool

    def use_shot(self, shot: Any, when: float) -> Any: ...

    def run_shot(self, take_once: Callable[[str], Any], now: Callable[[], float],
                 stopped: Callable[[], bool]) -> Any: ...  # the checked shot: may take it twice

    def after_window(self, vectors: Any, proba: Any, labels: Any, when: float) -> None: ...

    def take_changes(self) -> list[Any]: ...  # sensing.calibration.ReferenceChange, told by the core


class CommandSource(Protocol):
    """A front-end the core polls on its own thread between frames and ticks (the terminal's keys)."""

    def poll(self) -> list[Any]: ...  # events.Command


class SystemClock:
    """Wall-clock time and real sleeps; ``wait`` ends early when ``wake`` is set (a command came)."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(seconds)


@dataclass
class Devices:
    """What the core drives. ``clock`` defaults to SystemClock; the others marked optional may be None."""

    open_source: Callable[[str], FrameSource]
    extractor: Extractor
    vectorize: Callable[[Any], Any]  # Landmarks -> feature vector (features.face_vector)
    predictor: Predictor
    player: Player
    library: Library
    journal: Journal
    clock: Clock | None = None
    preview: Callable[[], Preview] | None = None  # opened for each window; its keys are commands
    feedback: Feedback | None = None  # digit/y save the last window; optional
    learner: Learner | None = None  # background model updates; optional
    make_predictor: Callable[[Any], Predictor] | None = None  # Model -> predictor, for a swapped-in model
    calibration: Calibration | None = None  # the reference face; optional
    passive: Any = None  # sensing.passive.PassiveReference: stands in while there is no reference face
