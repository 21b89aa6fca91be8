"""run.py's reference face: which one to start from, the calibration shot, and keeping it current.

A model with "reference" calibration reads deviations from the user's relaxed face
(:mod:`emusify.sensing.reference`). Which reference run.py uses, in order:

1. ``run.py --calibrate``: a new calibration shot, always.
2. The newer of the stored reference (``<data>/reference.json``: a shot, kept current by the
   tracker) and a personal model's own reference (the median of the user's neutral recordings,
   written by train.py). Retraining after recording neutral again makes the model's win; a shot
   taken after training wins over the model's.
3. Neither (the starter, or a personal model without neutral recordings): a calibration shot
   before the first window; skipping it (``s``) leaves the model's ``reference_mean`` (the
   average of the training people's relaxed faces) in use until the next start.

A shot is checked before it is used (:mod:`emusify.sensing.shotcheck`): one that does not look like
a relaxed face is refused with one line, taken again once, and after a second refusal kept with a
warning, the reference then doubted. After every window, frames read as neutral with high
confidence move the reference slowly (:class:`emusify.sensing.reference.ReferenceTracker`); each
change is saved and journaled. A reference far from the face the windows show, in the direction of a
mood, is doubted too (:class:`emusify.sensing.shotcheck.RunningCheck`): :attr:`Calibration.doubt`
says so ("press c to recalibrate") until a new shot is taken.
Pure logic: no device library is imported here, frames come from the caller's source.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from emusify.errors import CameraError
from emusify.sensing.reference import (
    Reference,
    ReferenceTracker,
    load_reference,
    make_reference,
    save_reference,
)
from emusify.sensing.sampling import Sampling
from emusify.sensing.shotcheck import RELAX, RelaxedFaces, RunningCheck, check_shot

log = logging.getLogger(__name__)

SHOT_MIN_FRAMES = 5  # fewer face frames than this: the shot is not used
SKIP_KEYS = {"s", "S"}


def shot_text(seconds_left: float, request: str = RELAX) -> str:
    """What the status line and the preview say during the shot (``request``: what to do)."""
    return f"{request}, {math.ceil(max(seconds_left, 0.0))} s; s skips"


class ShotResult(NamedTuple):
    """What a calibration shot saw."""

    vectors: np.ndarray  # (n, d) face vectors of the frames with a face
    frames: int  # frames analysed
    skipped: bool  # the user pressed s
    backend: str | None  # the landmark detector of most face frames


def take_shot(source: Any, extractor: Any, vectorize: Callable[[Any], np.ndarray], seconds: float,
              fps: float, *, keys: Callable[[], list[str]] = list,
              on_key: Callable[[str], None] | None = None,
              show: Callable[[str], None] | None = None, preview: Any = None,
              stopped: Callable[[], bool] = lambda: False, request: str = RELAX) -> ShotResult:
    """Read ``seconds`` of frames (sampled at ``fps``) and keep their face vectors.

    ``keys()`` gives the keys pressed since the last call: ``s`` skips, others go to ``on_key``
    (the runner's quit, pause...). ``show(text)`` draws the status line; ``preview`` (with
    ``.show(image, landmarks, lines)``) shows the camera. A source of stills (not ``is_video``)
    gives ``seconds * fps`` images. A camera that stops ends the shot with what it has.
    ``request`` is what the user is asked to do (a refused shot's retry says why).
    """
    shot = _Shot(Sampling(seconds, fps, bool(source.is_video), count_stills=True))
    while not stopped():
        if _skip(keys(), on_key):
            return shot.result(True)
        try:
            frame = source.read()
        except CameraError as exc:
            log.warning("camera stopped during the calibration shot (%s)", exc)
            break
        if frame is None or shot.sampling.over(frame.timestamp):
            break
        if not shot.sampling.due():
            continue
        landmarks = extractor.extract(frame.image)
        shot.add(landmarks, vectorize)
        text = shot_text(seconds - shot.sampling.elapsed, request)
        if show is not None:
            show(text)
        if preview is not None:
            lines = [text, "face found" if landmarks is not None else "NO FACE - look at the screen"]
            key = preview.show(frame.image, landmarks, lines)
            if _skip([key] if key else [], on_key):
                return shot.result(True)
    return shot.result(False)


def _skip(keys: list[str], on_key: Callable[[str], None] | None) -> bool:
    """True when ``s`` is among ``keys``; the other keys go to ``on_key``."""
    for key in keys:
        if key in SKIP_KEYS:
            return True
        if on_key is not None:
            on_key(key)
    return False


@dataclass
class _Shot:
    """The shot's progress: which frames it samples (as a window does), and the face vectors kept."""

    sampling: Sampling
    vectors: list = field(default_factory=list)
    backends: Counter = field(default_factory=Counter)

    def add(self, landmarks: Any, vectorize: Callable[[Any], np.ndarray]) -> None:
        self.sampling.took()
        if landmarks is not None:
            self.vectors.append(np.asarray(vectorize(landmarks), dtype=np.float64))
            self.backends[str(getattr(landmarks, "detector", None))] += 1

    def result(self, skipped: bool) -> ShotResult:
        X = np.asarray(self.vectors, dtype=np.float64) if self.vectors else np.zeros((0, 0))
        top = self.backends.most_common(1)[0][0] if self.backends else None
        return ShotResult(X, self.sampling.analysed, skipped, top)


class ReferenceChange(NamedTuple):
    """One thing that happened to the reference face (the core tells it as ``reference_changed``)."""

    when: float
    event: str  # "shot", "updated", "kept", "skipped", "refused" or "doubted"
    source: str | None  # where the reference in use came from ("shot", "model", "passive", ...)
    frames: int  # the faces it was made (or refused) from
    shift: float = 0.0  # how far it moved (see _shift)


@dataclass
class Calibration:
    """The reference face run.py uses: chosen at start, replaced by a shot, tracked, saved.

    ``predictor.reference`` is set whenever the reference changes; each change is kept as a
    :class:`ReferenceChange` until :meth:`take_changes` (the core tells its listeners, and the
    journal keeps them). ``own`` is a personal model's reference (see :func:`model_reference`); ``relaxed``
    what relaxed faces look like (``models/shotcheck.npz``; None: shots are not checked).
    """

    path: Path
    layout: Any  # (name, length) of the feature layout
    predictor: Any  # has a settable ``reference``
    own: Reference | None = None
    force_shot: bool = False  # run.py --calibrate
    relaxed: RelaxedFaces | None = None
    tracker: ReferenceTracker | None = field(default=None, init=False)
    needs_shot: bool = field(default=False, init=False)
    running: RunningCheck = field(default_factory=RunningCheck, init=False)
    _doubt: str = field(default="", init=False)
    _changes: list[ReferenceChange] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        reference, why = choose_reference(load_reference(self.path, self.layout), self.own, self.path)
        self._use(reference)
        self.running = RunningCheck(self.relaxed, reference.backend if reference is not None else None)
        self.needs_shot = self.force_shot or reference is None
        if reference is not None:
            log.info("reference face: %s%s", why, "; --calibrate takes a new one" if self.force_shot else "")

    @property
    def reference(self) -> Reference | None:
        """The user's reference in use (None: the model's reference_mean)."""
        return self.tracker.reference if self.tracker is not None else None

    @property
    def doubt(self) -> str:
        """Why the reference in use may not be a relaxed face, ending "press c to recalibrate"
        (for the status line and the front-ends); "" when nothing doubts it."""
        return self._doubt or self.running.message

    def run_shot(self, take_once: Callable[[str], ShotResult], now: Callable[[], float],
                 stopped: Callable[[], bool] = lambda: False) -> Reference | None:
        """The calibration shot, checked: ``take_once(request)`` takes one shot asking ``request``.

        A shot that does not look like a relaxed face is refused (journal "refused", one warning)
        and taken once more, asking with the reason; refused again, it is used anyway with a
        warning and the reference is doubted (journal "doubted"). Skipped shots and shots with
        too few faces go to :meth:`use_shot` unchecked. Nothing is used once ``stopped()``.
        """
        request = RELAX
        for attempt in (1, 2):
            shot = take_once(request)
            if stopped():
                return None
            if shot.skipped or len(shot.vectors) < SHOT_MIN_FRAMES:
                return self.use_shot(shot, now())
            check = check_shot(shot.vectors, self.relaxed, shot.backend)
            if check.ok:
                return self.use_shot(shot, now())
            self._changed(now(), "refused", "shot", len(shot.vectors))
            if attempt == 1:
                log.warning("calibration shot refused: %s (once more)", check.message)
                request = check.message
        log.warning("calibration shot: again %s; using it anyway, so moods may read wrong. "
                    "Press c (or run.py --calibrate) to take it again", check.why)
        made = self.use_shot(shot, now())
        self._doubt = f"calibration shot: {check.why}; press c to recalibrate"
        self._changed(now(), "doubted", "shot", len(shot.vectors))
        return made

    def use_shot(self, shot: ShotResult, when: float) -> Reference | None:
        """Make, save and use the reference of a shot; keep the old one when it has too few faces."""
        self.needs_shot = False
        source = self.reference.source if self.reference is not None else None
        if shot.skipped:
            log.info("calibration shot skipped: %s", self._current())
            self._changed(when, "skipped", source, len(shot.vectors))
            return None
        if len(shot.vectors) < SHOT_MIN_FRAMES:
            log.warning("calibration shot: a face in %d of %d frames (need %d); keeping %s. "
                        "Face the camera in good light and run run.py --calibrate", len(shot.vectors),
                        shot.frames, SHOT_MIN_FRAMES, self._current())
            self._changed(when, "kept", source, len(shot.vectors))
            return None
        reference = make_reference(shot.vectors, str(self.layout[0]), "shot", shot.backend, when)
        old = self.reference
        self._use(reference)
        self._doubt = ""
        self.running.reset(reference.backend)
        self._save(reference)
        self._changed(when, "shot", "shot", reference.frames, _shift(old, reference))
        log.info("calibration shot: reference face from %d frames, saved to %s", reference.frames, self.path)
        return reference

    def after_window(self, vectors: Any, proba: Any, labels: Any, when: float) -> None:
        """Let confident-neutral frames of a window move the reference (saved and journaled), and
        doubt a reference far from the face the last windows show, in the direction of a mood.

        ``vectors`` (n, d) and ``proba`` (n, len(labels)): the window's face frames as read.
        """
        if self.tracker is None or not len(vectors):
            return
        vectors, proba = np.asarray(vectors, dtype=np.float64), np.asarray(proba, dtype=np.float64)
        if not self._doubt and self.running.add(np.median(vectors, axis=0), self.tracker.reference.vector):
            log.warning("reference face doubted: %s", self.running.message)
            self._changed(when, "doubted", self.tracker.reference.source, len(vectors))
        old = self.tracker.reference
        moved = self.tracker.observe(vectors, proba, labels, when)
        if moved is None:
            return
        self.predictor.reference = moved.vector
        self._save(moved)
        self._changed(when, "updated", moved.source, moved.frames - old.frames, _shift(old, moved))
        log.debug("reference face updated from %d neutral frames", moved.frames - old.frames)

    def take_changes(self) -> list[ReferenceChange]:
        """The changes since the last call, oldest first (each is given once)."""
        changes, self._changes = self._changes, []
        return changes

    def _changed(self, when: float, event: str, source: str | None, frames: int, shift: float = 0.0) -> None:
        self._changes.append(ReferenceChange(when, event, source, int(frames), float(shift)))

    def _use(self, reference: Reference | None) -> None:
        self.tracker = ReferenceTracker(reference) if reference is not None else None
        self.predictor.reference = reference.vector if reference is not None else None

    def _save(self, reference: Reference) -> None:
        try:
            save_reference(self.path, reference)
        except OSError as exc:
            log.warning("cannot save the reference face to %s (%s); it is used until the player stops",
                        self.path, exc.strerror or exc)

    def _current(self) -> str:
        if self.reference is None:
            return "the model's average relaxed face"
        return f"the reference of {_when(self.reference.updated)} ({self.reference.source})"


def choose_reference(stored: Reference | None, own: Reference | None,
                     path: Path | None = None) -> tuple[Reference | None, str]:
    """The newer of a stored reference and a personal model's own one, and a few words on which."""
    if own is not None and (stored is None or own.updated > stored.updated):
        return own, "your neutral recordings (in the model)"
    if stored is not None:
        what = (f"the calibration shot of {_when(stored.taken)}" if stored.source == "shot"
                else f"your stored reference ({stored.source})")
        if stored.updated > stored.taken:
            what += f", kept current until {_when(stored.updated)}"
        return stored, what + (f" ({path})" if path else "")
    return None, "the model's average relaxed face"


def model_reference(model: Any) -> Reference | None:
    """A personal model's own reference: its ``reference_mean`` when train.py made it from the
    neutral recordings of one person (sidecar ``reference``: source "recordings", people 1)."""
    info = model.meta.get("reference") if isinstance(model.meta, dict) else None
    if model.calibration != "reference" or not isinstance(info, dict) or model.reference_mean is None:
        return None
    if info.get("source") != "recordings" or info.get("people") != 1:
        return None
    taken = float(info.get("taken", 0.0))
    return Reference(model.reference_mean, int(info.get("frames", 0)), taken, taken, model.layout.name,
                     info.get("backend"), "recordings")


def _shift(old: Reference | None, new: Reference) -> float:
    if old is None or old.vector.shape != new.vector.shape:
        return 0.0
    return float(np.linalg.norm(new.vector - old.vector))


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))
