"""A part of the core: the reference face at the desk, the calibration shot and the tracker.

The shot runs before a window when the calibration keeper needs one (first start, --calibrate) or a
``calibrate`` command came (c, or a front-end). It is a few seconds of the relaxed face, read
through the core's WindowReader; nothing votes and the music goes on. After each window the
window's confident-neutral faces keep the reference current. Everything that happens to the
reference (emusify.sensing.calibration.ReferenceChange) is told as ``reference_changed``, and a
reference the checks doubt is told once as a note ending "press c to recalibrate".
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from emusify.desk.devices import Devices
from emusify.desk.window import WindowReader


class ShotPart:
    """Takes the calibration shot and follows the reference face after each window."""

    def __init__(self, devices: Devices, reader: WindowReader, labels: Sequence[str],
                 now: Callable[[], float], tell: Callable[..., None], between: Callable[[], None],
                 stopped: Callable[[], bool]) -> None:
        self.dev, self.reader, self.labels, self.now = devices, reader, tuple(labels), now
        self.tell, self.between, self.stopped = tell, between, stopped
        self.due = False  # a calibrate command came (the keeper's needs_shot asks too)
        self.skip = False  # a skip_shot command came during the shot
        self.running = False  # the shot is running now
        self.doubt = ""  # the reference's doubt last told ("" when nothing doubts it)
        self._said = ""  # the shot's request last told

    def needed(self) -> bool:
        calibration = self.dev.calibration
        return self.due or (calibration is not None and calibration.needs_shot)

    def take(self) -> None:
        """The shot (checked; the keeper may ask twice). Raises CameraError when the camera fails."""
        calibration = self.dev.calibration
        asked, self.due, self.skip, self._said = self.due, False, False, ""
        self.running = calibration is not None  # the core shows it from before this call
        if calibration is None:
            return
        shots: list[Any] = []

        def take_once(request: str) -> Any:
            self.tell_changes()  # a shot refused before this one is told (and journaled) now
            shots.append(self.reader.shot(self._keys, self._request, request))
            return shots[-1]

        try:
            calibration.run_shot(take_once, self.now, stopped=self.stopped)
        finally:
            self.running = False
            self.tell_changes()
            self.due = asked and self.stopped()  # cut short (the screen locked): asked again later
        if not self.stopped() and shots:
            self.say_doubt()

    def track(self) -> None:
        """After a window: its confident-neutral frames keep the reference current."""
        if self.dev.calibration is None or not self.reader.seen:
            return
        vectors, probs = zip(*self.reader.seen)
        self.reader.seen = []
        self.dev.calibration.after_window(vectors, probs, self.labels, self.now())
        self.tell_changes()
        self.say_doubt()

    def tell_changes(self) -> None:
        """Tell what happened to the reference face (shot, refused, updated, doubted, ...)."""
        if self.dev.calibration is None:
            return
        for change in self.dev.calibration.take_changes():
            self.tell("reference_changed", **change._asdict())

    def say_doubt(self) -> None:
        """A reference the shot check or the running check doubts: "... press c to recalibrate"."""
        doubt = getattr(self.dev.calibration, "doubt", "")
        if doubt and doubt != self.doubt:
            self.tell("note", when=self.now(), text=doubt)
        self.doubt = doubt

    def _request(self, text: str) -> None:
        """The shot's request ("relax your face ..., 4 s"), told as a note when its text changes."""
        if text != self._said:
            self._said = text
            self.tell("note", when=self.now(), text=text)

    def _keys(self) -> list[str]:
        """What the shot asks between frames: "s" once a skip_shot command came."""
        self.between()
        return ["s"] if self.skip else []
