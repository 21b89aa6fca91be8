"""The listener's word on the player's mood: corrections, confirmations and doubting skips.

While run.py runs, the face landmarks of the current window are kept in memory (never an image,
only frames with a face). When the listener presses a mood's digit ("my mood is this") or ``y``
("right"), :meth:`Feedback.save` writes the last window's landmarks as a recording of that mood
under the data folder (with :class:`emusify.storage.dataset.SessionWriter`, crash-safe like collect.py's),
its header marked as a correction or a confirmation, with the mood the window read and the
calibration offset the model used; the journal gets a row, and the :class:`~emusify.reading.learner.Learner`
is poked to update the model in the background.

:class:`SkipWatch` notices a burst of early skips right after a window changed the music: the
listener doubts that mood, and the journal says so.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple, Sequence

import numpy as np

from emusify.desk.ui import action_for
from emusify.errors import DatasetError
from emusify.storage.dataset import SessionWriter, new_session_id
from emusify.storage.journal import FeedbackRow

log = logging.getLogger(__name__)

MESSAGE_SECONDS = 8.0  # how long a feedback message stays on the status line
SKIP_SECONDS = 30.0  # n this early in a song is a skip; later it is a plain "next"
DOUBT_SKIPS = 2  # this many skips ...
DOUBT_SECONDS = 120.0  # ... within this long after a window changed the music: the mood is doubted
CONFIRM_KEY = "y"


class Captured(NamedTuple):
    """The last window, as far as feedback needs it."""

    when: float  # clock time the window started
    mood: str | None  # what it read (None: unsure)
    landmarks: tuple[Any, ...]  # Landmarks of the frames with a face
    offset: list[float] | None  # the calibration offset the model subtracted at the window's end


class Feedback:
    """Keeps the current window's landmarks and saves them when the listener corrects or confirms."""

    def __init__(self, data_dir: Any, layout: tuple[str, int], source: str, journal: Any,
                 learner: Any = None, backend: str | None = None) -> None:
        self.data_dir, self.layout, self.source = data_dir, (str(layout[0]), int(layout[1])), source
        self.backend = backend  # the landmark backend, noted in each saved recording
        self.journal, self.learner = journal, learner
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

    def save(self, mood: str, kind: str, now: float) -> str:
        """Save the last window as a recording of ``mood``; returns the status message to show.

        ``kind`` is "correction" or "confirmed". Nothing is saved (and the message says why) when
        no window ran yet or it saw no face; a disk error is logged and reported, never raised.
        """
        last = self.last
        if last is None:
            return "no window yet: a correction saves the faces of the last window"
        if not last.landmarks:
            return "the last window saw no face: nothing to save"
        try:
            saved = self._write(mood, kind, last)
        except DatasetError as exc:
            log.warning("the %s was not saved: %s", kind, exc)
            return f"could not save the {kind} (see the log)"
        self.journal.feedback(FeedbackRow(now, last.when, last.mood, mood, kind, saved))
        if self.learner is not None:
            self.learner.poke()
        what = "correction" if kind == "correction" else "confirmation"
        log.info("%s: %d face frame(s) of the last window saved as %s", what, saved, mood)
        return f"saved as {mood} ({what}); the model learns it in the background"

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

    def __init__(self, journal: Any, skips: int = DOUBT_SKIPS, seconds: float = DOUBT_SECONDS) -> None:
        self.journal, self.skips, self.seconds = journal, skips, seconds
        self._changed: tuple[float, float, str | None] | None = None  # (at, window time, mood)
        self._count = 0

    def changed(self, now: float, window_time: float, mood: str | None) -> None:
        """A window changed the music to ``mood``'s folder."""
        self._changed, self._count = (now, window_time, mood), 0

    def skipped(self, now: float) -> bool:
        """An early skip; True when it completes a burst (the doubt is journalled once)."""
        if self._changed is None or now - self._changed[0] > self.seconds:
            return False
        self._count += 1
        if self._count < self.skips:
            return False
        _, window_time, mood = self._changed
        self.journal.feedback(FeedbackRow(now, window_time, mood, None, "doubted", 0))
        log.info("%d skips right after the music moved to %s: journalled as a doubted mood",
                 self._count, mood or "unsure")
        self._changed = None
        return True


def mood_keys(moods: Sequence[str]) -> str:
    """The status line's key legend: ``1 angry  2 happy  3 neutral  4 sad  y right``."""
    return "  ".join(f"{i} {m}" for i, m in enumerate(moods[:9], 1)) + f"  {CONFIRM_KEY} right"


def mood_for_key(key: str, moods: Sequence[str]) -> str | None:
    """The mood a digit stands for (1 = the first shown), None for another key or a digit out of range."""
    if len(key) != 1 or not key.isdigit():
        return None
    number = int(key)
    return moods[number - 1] if 1 <= number <= min(len(moods), 9) else None


class ListenerKeys:
    """The runner's side of listener feedback, kept apart from the loop (a mixin of ``Runner``).

    Uses the runner's ``dev`` (Devices: feedback, learner, make_predictor, player, library),
    ``clock``, ``keys``, ``policy``, ``settings``, ``folder``, ``song``, ``paused``, ``_song_at``,
    ``_shown_at``, ``skip_watch``, ``_message`` and its ``_start``/``_act`` methods.
    """

    dev: Any
    clock: Any
    keys: tuple[str, ...]  # the moods a digit names (those with songs, and neutral)
    policy: Any
    settings: Any
    folder: str | None
    song: Any
    paused: bool
    skip_watch: SkipWatch
    _song_at: float
    _shown_at: float
    _message: tuple[str, float] | None

    def _start(self, folder: str, fade: float, ended: str) -> bool:
        raise NotImplementedError("the Runner's")

    def _act(self, action: str | None) -> None:
        raise NotImplementedError("the Runner's")

    def _key(self, key: str | None) -> None:
        """A key from the terminal or the preview: a mood digit, y, or a player key."""
        if key is None:
            return
        if self.dev.feedback is not None and key.isdigit():
            mood = mood_for_key(key, self.keys)
            if mood is None:
                self._say(f"no mood has the key {key}: {mood_keys(self.keys)}")
            else:
                self._correct(mood)
        elif self.dev.feedback is not None and key.lower() == CONFIRM_KEY:
            self._confirm()
        else:
            self._act(action_for(key))

    def _correct(self, mood: str) -> None:
        """"My mood is ``mood``": save the last window as it, and move the music there now."""
        self._say(self.dev.feedback.save(mood, "correction", self.clock.now()))
        if self.dev.feedback.last is None:  # no window yet: nothing to correct
            return
        folder = self.policy.folder_for(mood, self.dev.library.folders())
        if folder is None or (folder == self.folder and self.song is not None):
            return
        log.info("corrected to %s: playing from %s", mood, folder)
        if self.paused:
            self.dev.player.resume()
            self.paused = False
        self._start(folder, fade=self.settings.fade, ended="end")

    def _confirm(self) -> None:
        """"Right": save the last window under the mood it read."""
        last = self.dev.feedback.last
        if last is None or last.mood is None:
            why = "no window yet" if last is None else "the last window was unsure"
            self._say(f"nothing to confirm: {why}")
            return
        self._say(self.dev.feedback.save(last.mood, "confirmed", self.clock.now()))

    def _skip_event(self) -> str:
        """``skip`` within SKIP_SECONDS of the song's start, else ``next``; a skip burst is a doubt."""
        now = self.clock.now()
        if self.song is None or now - self._song_at >= SKIP_SECONDS:
            return "next"
        if self.skip_watch.skipped(now):
            self._say("skipping after a mood change: noted as a doubted mood (a digit corrects it)")
        return "skip"

    def _begin_window(self) -> None:
        """Swap in a model the learner finished, then start keeping this window's landmarks."""
        update = self.dev.learner.take() if self.dev.learner is not None else None
        if update is not None and self.dev.make_predictor is not None:
            try:
                self.dev.predictor = self.dev.make_predictor(update.model)
            except ValueError as exc:  # e.g. the new model lacks a mood being read
                log.warning("the updated model cannot be used (%s); the current one stays", exc)
            else:
                self._say(update.message())
        if self.dev.feedback is not None:
            self.dev.feedback.begin_window()

    def _end_window(self, result: Any, when: float) -> None:
        if self.dev.feedback is not None:
            self.dev.feedback.end_window(when, result.mood, getattr(self.dev.predictor, "offset", None))

    def _legend(self) -> str:
        return mood_keys(self.keys) if self.dev.feedback is not None else ""

    def _say(self, text: str) -> None:
        self._message = (text, self.clock.now() + MESSAGE_SECONDS)
        self._shown_at = float("-inf")  # show it at once

    def _current_message(self, now: float) -> str | None:
        if self._message is None or now > self._message[1]:
            return None
        return self._message[0]
