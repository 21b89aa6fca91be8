"""Face (and body) landmarks from MediaPipe, through one of two backends; see docs/DESIGN.md.

* ``holistic`` (:mod:`emusify.sensing.landmarks.holistic`): MediaPipe Holistic with a FaceMesh fallback,
  from ``mediapipe.solutions``, which only mediapipe 0.10.21 has (Python <= 3.12).
* ``tasks`` (:mod:`emusify.sensing.landmarks.tasks`): the Tasks API's FaceLandmarker (with blendshapes) and,
  for far faces, PoseLandmarker, on the ``.task`` models shipped in ``models/mediapipe/``. Every
  mediapipe from 0.10 on has it; mediapipe 1.2.x (Python 3.13+) has nothing else.

``auto`` picks Tasks on every Python (issue 16: it reads moods better on unseen people, costs about a
third of Holistic's CPU per frame and finds faces down to 28 px); Holistic stays a choice
(``--backend holistic``) where mediapipe 0.10.21 is installed. Both give the same
:class:`Landmarks` record. This package is the only place that imports mediapipe, and only when an
extractor is opened, so importing :class:`Landmarks` (as features, dataset and model do) stays cheap.

The returned x and y are normalized by the width and height of the image passed to ``extract()``,
z by its width, and ``image_size`` is that image's (width, height).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from emusify.errors import LandmarkError
from emusify.sensing.landmarks.image import MIN_SIDE, UPSCALE_TO, Prepared, prepare, resize_bilinear

__all__ = ["BACKENDS", "FACE_POINTS", "MIN_SIDE", "UPSCALE_TO", "LandmarkExtractor", "Landmarks",
           "Prepared", "available", "open_extractor", "prepare", "resize_bilinear", "resolve_backend"]

log = logging.getLogger(__name__)

FACE_POINTS = 468
BACKENDS = ("auto", "holistic", "tasks")
# detector name -> backend that produces it ("cache": the benchmarks' landmark caches)
DETECTOR_BACKEND = {"holistic": "holistic", "facemesh": "holistic", "tasks": "tasks", "tasks-crop": "tasks"}


class Landmarks(NamedTuple):
    """What MediaPipe found in one image; see docs/DESIGN.md."""

    face: np.ndarray  # (468, 3) float32: x, y normalized by width, height; z by width
    pose: np.ndarray | None  # (33, 4) float32: x, y, z, visibility; None when no pose was run or found
    left_hand: np.ndarray | None  # (21, 3) float32
    right_hand: np.ndarray | None  # (21, 3) float32
    image_size: tuple[int, int]  # (width, height) of the image given to extract()
    detector: str  # "holistic", "facemesh" (holistic backend), "tasks", "tasks-crop" (tasks backend)
    blendshapes: np.ndarray | None = None  # (52,) float32 scores from the Tasks FaceLandmarker


def holistic_importable() -> bool:
    """True when this mediapipe has ``mediapipe.solutions`` (Holistic): mediapipe 0.10.21 and older."""
    try:
        with quiet_native_logs():
            importlib.import_module("mediapipe.python.solutions.holistic")
    except Exception:  # noqa: BLE001 - ImportError, or a broken install: either way not usable
        return False
    return True


def resolve_backend(requested: str, holistic_available: Callable[[], bool] = holistic_importable) -> str:
    """The backend to use for the setting ``requested`` (auto, holistic or tasks): auto is tasks.

    Raises:
        LandmarkError: an unknown name, or holistic asked for where mediapipe has no solutions.
    """
    if requested not in BACKENDS:
        raise LandmarkError(f"unknown landmark backend {requested!r}; use one of {', '.join(BACKENDS)}")
    if requested != "holistic":
        return "tasks"
    if holistic_available():
        return "holistic"
    raise LandmarkError("the holistic backend needs mediapipe 0.10.21 (Python 3.9-3.12), which is not "
                        "installed here; use --backend tasks (or auto)")


def available() -> tuple[str, ...]:
    """The backends this installation can run."""
    return ("holistic", "tasks") if holistic_importable() else ("tasks",)


def open_extractor(backend: str = "auto", static: bool = False, fallback: bool = True,
                   **options: Any) -> Any:
    """A started landmark extractor (context manager with ``extract(image_bgr)`` and ``close()``).

    Args:
        backend: auto, holistic or tasks (the ``backend`` setting, ``--backend``).
        static: True for independent stills, False for a video stream (tracking between frames).
        fallback: let the backend try harder when its first model misses (Holistic: FaceMesh;
            Tasks: the face through the body pose, on an upscaled crop).
        options: backend-specific keyword arguments (e.g. ``pad``).
    Raises:
        LandmarkError: the backend cannot be imported or started.
    """
    name = resolve_backend(backend)
    log.debug("landmark backend: %s (asked for %s)", name, backend)
    if name == "holistic":
        from emusify.sensing.landmarks.holistic import HolisticExtractor

        return HolisticExtractor(static=static, fallback=fallback, **options)
    from emusify.sensing.landmarks.tasks import TasksExtractor

    return TasksExtractor(static=static, fallback=fallback, **options)


def LandmarkExtractor(static: bool = False, fallback: bool = True, **options: Any) -> Any:  # noqa: N802
    """What callers used before there were two backends: :func:`open_extractor` with ``backend``."""
    return open_extractor(options.pop("backend", "auto"), static=static, fallback=fallback, **options)


def backend_of(detectors: Any) -> str | None:
    """The backend that made samples with these detector names; None when unknown or mixed."""
    found = {DETECTOR_BACKEND.get(str(d)) for d in detectors}
    return found.pop() if len(found) == 1 and None not in found else None


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 points at the null device for the duration (C++ writes go there too)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (e.g. a GUI launcher): nothing to silence
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.close(null)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


_user_glog: list[bool] = []  # whether GLOG_minloglevel was set by the user, read once per process


def quiet_requested() -> bool:
    """Set MediaPipe's log levels; True unless the user set GLOG_minloglevel (then they see everything)."""
    if not _user_glog:
        _user_glog.append("GLOG_minloglevel" in os.environ)
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return not _user_glog[0]


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Native stderr silenced unless the user asked to see MediaPipe's logs."""
    with native_stderr_silenced() if quiet_requested() else contextlib.nullcontext():
        yield
