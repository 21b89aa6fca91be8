"""One window of run.py's watching: open the source, read frames at --fps for --window seconds,
let each face vote; and the reference face around it (the calibration shot before the first
window, the tracker after each one, see :mod:`emusify.sensing.calibration`).

:class:`WindowReader` is a mixin of :class:`emusify.desk.runner.Runner`, as
:class:`emusify.desk.feedback.ListenerKeys` is: the loop (music, keys, status line) stays in the runner,
and the window calls back into it between frames so the music never waits for the camera.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from emusify.desk.ui import Status, action_for
from emusify.errors import CameraError
from emusify.reading.tally import Tally, WindowResult

log = logging.getLogger(__name__)


class WindowReader:
    """The Runner's window and reference-face methods (a mixin of ``Runner``).

    Uses the runner's ``settings``, ``dev`` (Devices: open_source, extractor, vectorize, predictor,
    preview, feedback, calibration, ui), ``clock``, ``labels``, ``cycle``, ``stop_reason``,
    ``paused``, ``_seen``, ``_window_left`` and its ``_tick``/``_show``/``_key``/``_act``/
    ``_begin_window`` methods.
    """

    settings: Any
    dev: Any
    clock: Any
    labels: tuple[str, ...]
    cycle: int
    stop_reason: str | None
    paused: bool
    _seen: list[tuple[Any, Any]]
    _window_left: float

    if TYPE_CHECKING:  # the Runner's and ListenerKeys' (no stubs at run time: they would shadow them)
        def _tick(self) -> None: ...
        def _show(self, watching: bool) -> None: ...
        def _key(self, key: str | None) -> None: ...
        def _act(self, action: str | None) -> None: ...
        def _begin_window(self) -> None: ...

    # The window ---------------------------------------------------------------------------------

    def watch(self) -> WindowResult:
        """Open the source, analyse frames for one window, close it. The music goes on meanwhile."""
        tally = Tally(self.labels, self.settings.min_confidence, self.settings.min_share,
                      self.settings.min_face_frames)
        spec = self.settings.source
        try:
            source = self.dev.open_source(spec)
        except CameraError as exc:
            if self.cycle == 0:
                raise
            log.warning("camera unavailable (%s); the music continues, retrying next cycle", exc)
            return tally.result()
        log.info("window %d: watching %s for %.0f s", self.cycle + 1, spec, self.settings.window)
        self._begin_window()
        self._seen = []
        preview = self.dev.preview() if self.dev.preview else None
        try:
            with source:
                self._read_window(source, tally, preview)
        finally:
            if preview is not None:
                preview.close()
        return tally.result()

    def _read_window(self, source: Any, tally: Tally, preview: Any) -> None:
        window, step = self.settings.window, 1.0 / self.settings.fps
        first: float | None = None
        next_sample = 0.0
        while self.stop_reason is None:
            self._tick()
            try:
                frame = source.read()
            except CameraError as exc:
                log.warning("camera stopped (%s); the window ends with %d frames", exc, tally.frames)
                return
            if frame is None:
                self._ended_early(spec=self.settings.source, frames=tally.frames)
                return
            first = frame.timestamp if first is None else first
            elapsed = frame.timestamp - first
            if source.is_video:
                if elapsed >= window:
                    return
                if elapsed + 1e-6 < next_sample:
                    continue
                while next_sample <= elapsed + 1e-6:
                    next_sample += step
            self._window_left = max(window - elapsed, 0.0)
            self._analyse(frame, tally, preview)
            self._show(watching=True)

    def _ended_early(self, spec: str, frames: int) -> None:
        if spec.strip().isdigit():
            log.warning("the camera stopped delivering frames; the window ends with %d frames", frames)
        else:
            log.info("%s ended; the window ends with %d frames", spec, frames)

    def _analyse(self, frame: Any, tally: Tally, preview: Any) -> None:
        landmarks = self.dev.extractor.extract(frame.image)
        if self.dev.feedback is not None:
            self.dev.feedback.frame(landmarks)
        probs = None
        if landmarks is not None:
            vector = self.dev.vectorize(landmarks)
            probs = self.dev.predictor.predict(vector.reshape(1, -1))[0]
            if self.dev.calibration is not None:
                self._seen.append((vector, probs))
        tally.add(probs)
        if preview is not None:
            shown = dict(zip(self.labels, map(float, probs))) if probs is not None else None
            self._key(preview.show(frame.image, landmarks, shown))

    # The reference face (emusify.sensing.calibration) ----------------------------------------------------

    def calibration_shot(self) -> None:
        """Before the first window, when needed: a few seconds of the relaxed face (s skips).

        Not a window: nothing votes and the music does not change. A shot that does not look like
        a relaxed face is taken once more (see Calibration.run_shot).

        Raises:
            CameraError: the source cannot be opened (as for the first window).
        """
        calibration = self.dev.calibration
        if calibration is None or not calibration.needs_shot or self.stop_reason is not None:
            return
        calibration.run_shot(self._take_shot, self.clock.now, stopped=lambda: self.stop_reason is not None)

    def _take_shot(self, request: str) -> Any:
        """One calibration shot asking ``request`` (emusify.sensing.calibration.take_shot)."""
        from emusify.sensing.calibration import take_shot

        source = self.dev.open_source(self.settings.source)
        preview = self.dev.preview() if self.dev.preview else None
        log.info("calibration shot: %s for %.0f s (s skips)", request, self.settings.calibrate_seconds)
        try:
            with source:
                return take_shot(
                    source, self.dev.extractor, self.dev.vectorize, self.settings.calibrate_seconds,
                    self.settings.fps, keys=self.dev.ui.pressed if self.dev.ui else list,
                    on_key=lambda key: self._act(action_for(key)), show=self._show_note,
                    preview=preview, stopped=lambda: self.stop_reason is not None, request=request)
        finally:
            if preview is not None:
                preview.close()

    def _show_note(self, text: str) -> None:
        if self.dev.ui is not None:
            self.dev.ui.show(Status(None, 0.0, None, None, 0.0, None, self.paused, True, 0.0, note=text))

    def _track_reference(self) -> None:
        """After a window: its confident-neutral frames keep the reference current."""
        if self.dev.calibration is None or not self._seen:
            return
        vectors, probs = zip(*self._seen)
        self._seen = []
        self.dev.calibration.after_window(vectors, probs, self.labels, self.clock.now())
