"""The core's window part: open the source, read frames at --fps for --window seconds, let each
face vote; and the calibration shot (a few seconds of the relaxed face, see
:mod:`emusify.sensing.calibration`).

:class:`WindowReader` is held by :class:`emusify.desk.core.Core`. Between frames it calls the
core's ``between`` (music, commands, status), so the music never waits for the camera, and it stops
reading as soon as ``stopped()`` says the core is ending.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

from emusify.config import Settings
from emusify.desk.devices import Devices, FrameSource, Preview
from emusify.errors import CameraError
from emusify.reading.tally import Tally, WindowResult
from emusify.sensing.sampling import Sampling

log = logging.getLogger(__name__)


class WindowReader:
    """Reads one window (or the calibration shot) from ``devices``; keeps the frames the tracker needs."""

    def __init__(self, settings: Settings, devices: Devices, labels: Sequence[str],
                 between: Callable[[], None], stopped: Callable[[], bool],
                 on_key: Callable[[str | None], None], begin: Callable[[], None],
                 tell: Callable[..., None], now: Callable[[], float] = time.time) -> None:
        self.settings, self.dev, self.labels = settings, devices, tuple(labels)
        self.between, self.stopped, self.on_key, self.begin = between, stopped, on_key, begin
        self.tell, self.now = tell, now  # the core's listeners and clock
        self.seen: list[tuple[Any, Any]] = []  # this window's (face vector, probabilities), for the tracker
        self.left = 0.0  # seconds left in the window being read
        self.window = settings.window  # seconds the next window watches (a short look while away)

    def read(self) -> WindowResult:
        """Open the source, analyse frames for one window (``self.window`` s), close it.

        The music goes on meanwhile. ``begin()`` runs once the source is open. A window whose source
        cannot be opened (busy in another program, unplugged, stale after a sleep) reads nothing: an
        unsure result with no frames, one log line and a "camera_unavailable" event; the next
        window opens it afresh.
        """
        tally = Tally(self.labels, self.settings.min_confidence, self.settings.min_share,
                      self.settings.min_face_frames)
        try:
            source = self.dev.open_source(self.settings.source)
        except CameraError as exc:
            log.warning("camera unavailable (%s); the music continues, retrying next window", exc)
            self.tell("camera_unavailable", when=self.now(), detail=str(exc))
            return tally.result()
        self.begin()
        self.seen = []
        preview = self.dev.preview() if self.dev.preview else None
        try:
            with source:
                self._frames(source, tally, preview)
        finally:
            if preview is not None:
                preview.close()
        return tally.result()

    def _frames(self, source: FrameSource, tally: Tally, preview: Preview | None) -> None:
        sampling = Sampling(self.window, self.settings.fps, bool(source.is_video))  # as the shot samples
        while not self.stopped():
            self.between()
            try:
                frame = source.read()
            except CameraError as exc:
                log.warning("camera stopped (%s); the window ends with %d frames", exc, tally.frames)
                return
            if frame is None:
                self._ended_early(tally.frames)
                return
            if sampling.over(frame.timestamp):
                return
            if not sampling.due():
                continue
            self.left = max(self.window - sampling.elapsed, 0.0)
            self._analyse(frame, tally, preview)
            sampling.took()

    def _ended_early(self, frames: int) -> None:
        spec = self.settings.source
        if spec.strip().isdigit():
            log.warning("the camera stopped delivering frames; the window ends with %d frames", frames)
        else:
            log.info("%s ended; the window ends with %d frames", spec, frames)

    def _analyse(self, frame: Any, tally: Tally, preview: Preview | None) -> None:
        landmarks = self.dev.extractor.extract(frame.image)
        if self.dev.feedback is not None:
            self.dev.feedback.frame(landmarks)
        probs = None
        if landmarks is not None:
            vector = self.dev.vectorize(landmarks)
            probs = self.dev.predictor.predict(vector.reshape(1, -1))[0]
            if self.dev.calibration is not None:
                self.seen.append((vector, probs))
        tally.add(probs)
        if preview is not None:
            shown = dict(zip(self.labels, map(float, probs))) if probs is not None else None
            self.on_key(preview.show(frame.image, landmarks, shown))

    def shot(self, keys: Callable[[], list[str]], show: Callable[[str], None],
             request: str | None = None) -> Any:
        """The calibration shot: a few seconds of the relaxed face (``keys()`` giving "s" skips).

        Not a window: nothing votes and the music does not change. ``request`` is what the shot
        asks of the user (the check's reason on a retry). Returns the ShotResult.

        Raises:
            CameraError: the source cannot be opened.
        """
        from emusify.sensing.calibration import RELAX, take_shot

        request = request or RELAX
        source = self.dev.open_source(self.settings.source)
        preview = self.dev.preview() if self.dev.preview else None
        log.info("calibration shot: %s for %.0f s (s skips)", request, self.settings.calibrate_seconds)
        try:
            with source:
                return take_shot(
                    source, self.dev.extractor, self.dev.vectorize, self.settings.calibrate_seconds,
                    self.settings.fps, keys=keys, on_key=self.on_key, show=show, preview=preview,
                    stopped=self.stopped, request=request)
        finally:
            if preview is not None:
                preview.close()
