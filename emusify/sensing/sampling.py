"""Which frames of a source a window or the calibration shot analyses. Pure: no camera, no clock.

A camera or a video file gives frames faster than the landmarks can be read; both the window and
the shot analyse them ``fps`` a second by the frames' own timestamps, for ``seconds``. An image
folder (stills) has no time of its own: every image is analysed, and the shot stops after
``seconds * fps`` of them while a window reads the folder to its end.
"""

from __future__ import annotations

from dataclasses import dataclass

EPSILON = 1e-6  # timestamps are floats: a frame due at 0.25 s may say 0.2499999


@dataclass
class Sampling:
    """One window's (or shot's) progress through its source's frames.

    Call :meth:`over` with each frame's timestamp, then :meth:`due` to know whether to analyse it,
    and :meth:`took` after analysing one.
    """

    seconds: float
    fps: float
    is_video: bool
    count_stills: bool = False  # stills end after seconds * fps images (the shot), else at the end
    elapsed: float = 0.0  # seconds since the first frame (stills counted: images / fps)
    analysed: int = 0
    _first: float | None = None
    _next: float = 0.0

    def over(self, timestamp: float) -> bool:
        """Note the frame's time; True once ``seconds`` have been read (never for a window's stills)."""
        self._first = timestamp if self._first is None else self._first
        counted = not self.is_video and self.count_stills
        self.elapsed = self.analysed / self.fps if counted else timestamp - self._first
        return (self.is_video or self.count_stills) and self.elapsed >= self.seconds

    def due(self) -> bool:
        """Whether the frame just noted is analysed: video frames ``1 / fps`` apart, every still."""
        if not self.is_video:
            return True
        if self.elapsed + EPSILON < self._next:
            return False
        while self._next <= self.elapsed + EPSILON:
            self._next += 1.0 / self.fps
        return True

    def took(self) -> None:
        """One frame was analysed."""
        self.analysed += 1
