"""The listener's word on the player's mood: corrections, confirmations and doubting skips.

While run.py runs, the face landmarks of the current window are kept in memory (never an image,
only frames with a face). When the listener presses a mood's digit ("my mood is this") or ``y``
("right"), :meth:`Feedback.save` writes the last window's landmarks as a recording of that mood
under the data folder (with :class:`emusify.storage.dataset.SessionWriter`, crash-safe like collect.py's),
its header marked as a correction or a confirmation, with the mood the window read and the
calibration offset the model used, and the :class:`~emusify.reading.learner.Learner` is poked to
update the model in the background. The core tells its listeners what was saved (the journal's
row comes from that event, emusify.desk.journaling).

:class:`SkipWatch` notices a burst of early skips right after a window changed the music: the
listener doubts that mood (the core tells it as ``mood_doubted``; the journal keeps it).
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np

from emusify.desk.events import CONFIRM_KEY, mood_for_key, mood_keys
from emusify.errors import DatasetError
from emusify.storage.dataset import SessionWriter, new_session_id

log = logging.getLogger(__name__)

MESSAGE_SECONDS = 8.0  # how long a feedback message stays on the status line
SKIP_SECONDS = 30.0  # n this early in a song is a skip; later it is a plain "next"
DOUBT_SKIPS = 2  # this many skips ...
DOUBT_SECONDS = 120.0  # ... within this long after a window changed the music: the mood is doubted
__all__ = ["CONFIRM_KEY", "Captured", "Feedback", "Saved", "SkipWatch", "mood_for_key", "mood_keys"]


class Captured(NamedTuple):
    """The last window, as far as feedback needs it."""

    when: float  # clock time the window started
    mood: str | None  # what it read (None: unsure)
    landmarks: tuple[Any, ...]  # Landmarks of the frames with a face
    offset: list[float] | None  # the calibration offset the model subtracted at the window's end


class Saved(NamedTuple):
    """What :meth:`Feedback.save` did: the message for the user and what was written."""

    message: str
    frames: int = 0  # face frames saved as a recording (0: nothing saved; the message says why)
    window: float | None = None  # clock time the saved window started


class Feedback:
    """Keeps the current window's landmarks and saves them when the listener corrects or confirms."""

    def __init__(self, data_dir: Any, layout: tuple[str, int], source: str, learner: Any = None,
                 backend: str | None = None) -> None:
        self.data_dir, self.layout, self.source = data_dir, (str(layout[0]), int(layout[1])), source
        self.backend = backend  # the landmark backend, noted in each saved recording
        self.learner = learner
        self.last: Captured | None = None
        self._frames: list[Any] = []

    def begin_window(self) -> None:
        """A window starts: forget the frames of the one before (the last Captured stays)."""
        self._frames = []

    def frame(self, landmarks: Any) -> None:
        """Keep one frame's landmarks (None: no face, nothing kept)."""
        if landmarks is not None:
            self._frames.append(landmarks)

    def end_window(self, when: float, mood: str | None, offset: Any = None) -> None:
        """The window is decided: it becomes the one a correction is about."""
        vector = None if offset is None else [float(v) for v in np.asarray(offset).ravel()]
        self.last = Captured(when, mood, tuple(self._frames), vector)
        self._frames = []

    def save(self, mood: str, kind: str) -> Saved:
        """Save the last window as a recording of ``mood``; ``kind`` is "correction" or "confirmed".

        Nothing is saved (and the message says why) when no window ran yet or it saw no face; a
        disk error is logged and reported, never raised.
        """
        last = self.last
        if last is None:
            return Saved("no window yet: a correction saves the faces of the last window")
        if not last.landmarks:
            return Saved("the last window saw no face: nothing to save", 0, last.when)
        try:
            saved = self._write(mood, kind, last)
        except DatasetError as exc:
            log.warning("the %s was not saved: %s", kind, exc)
            return Saved(f"could not save the {kind} (see the log)", 0, last.when)
        if self.learner is not None:
            self.learner.poke()
        what = "correction" if kind == "correction" else "confirmation"
        log.info("%s: %d face frame(s) of the last window saved as %s", what, saved, mood)
        return Saved(f"saved as {mood} ({what}); the model learns it in the background", saved, last.when)

    def _write(self, mood: str, kind: str, last: Captured) -> int:
        session_id = new_session_id()
        header = {"feedback": {"kind": kind, "read": last.mood, "window": last.when,
                               "offset": last.offset}}
        with SessionWriter(self.data_dir, mood, self.layout, source=f"run:{self.source}",
                           group=f"run-{session_id}", session_id=session_id, extra=header,
                           backend=self.backend,
                           chunk_samples=256) as writer:
            for i, landmarks in enumerate(last.landmarks):
                writer.append(landmarks, float(i))
            writer.flush()
            return writer.written


class SkipWatch:
    """Counts early skips after a window changed the music; a burst means the mood is doubted."""

    def __init__(self, skips: int = DOUBT_SKIPS, seconds: float = DOUBT_SECONDS) -> None:
        self.skips, self.seconds = skips, seconds
        self._changed: tuple[float, float, str | None] | None = None  # (at, window time, mood)
        self._count = 0

    def changed(self, now: float, window_time: float, mood: str | None) -> None:
        """A window changed the music to ``mood``'s folder."""
        self._changed, self._count = (now, window_time, mood), 0

    def skipped(self, now: float) -> tuple[float, str | None] | None:
        """An early skip; when it completes a burst, the doubted window's (start time, mood), once."""
        if self._changed is None or now - self._changed[0] > self.seconds:
            return None
        self._count += 1
        if self._count < self.skips:
            return None
        _, window_time, mood = self._changed
        log.info("%d skips right after the music moved to %s: a doubted mood", self._count, mood or "unsure")
        self._changed = None
        return window_time, mood
