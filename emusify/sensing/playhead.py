"""Where a video standing in for a webcam has got to: it plays on with the clock. Pure: no OpenCV.

A webcam shows what happens now; a video file opened afresh for every window would show its first
seconds again and again. A :class:`Playhead` shared by every opening of the video
(:class:`emusify.sensing.camera.VideoSource`) makes it play on in time: an opening starts at the
clock's seconds since the playhead's first use, frames come no sooner than their time (a quicker
reader waits), and the video loops at its end, or, with ``loop=False``, ends for good (one log
line, then no frames). A reader slower than real time is given every frame all the same (unlike a
camera, which drops them): a window then reads exactly its seconds of video, as many frames on a
busy machine as on an idle one, and the next opening catches up with the clock.

The clock is injectable: :class:`VirtualClock` moves only when slept on, so a video on it is read
as fast as it is decoded while still playing on across openings (tests and benchmarks wait no
real time).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

log = logging.getLogger(__name__)

EPSILON = 1e-6  # a frame due at 0.3 s may be computed as 0.29999999


class PlayClock(Protocol):
    """What a playhead needs of a clock (emusify.desk.devices.SystemClock has both)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Monotonic time and real sleeps."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


class VirtualClock:
    """A clock that moves only when slept on: a video on it is read as fast as it decodes."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start

    def monotonic(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += max(seconds, 0.0)


class Playhead:
    """The seconds a video has played since it was first opened in this run, by ``clock``.

    Share one between every opening of a video (run.py and collect.py do); a fresh playhead starts
    the video from its first frame. ``tell_end``: say in one log line when a video that does not loop
    has played to its end.
    """

    def __init__(self, clock: PlayClock | None = None, loop: bool = True, tell_end: bool = True) -> None:
        self.clock = clock if clock is not None else RealClock()
        self.loop, self.tell_end = loop, tell_end
        self._start: float | None = None
        self.ended = False  # set once a video that does not loop has played to its end

    def elapsed(self) -> float:
        """Seconds played so far; the first call starts the playhead at 0."""
        now = self.clock.monotonic()
        if self._start is None:
            self._start = now
        return now - self._start

    def wait(self, until: float) -> None:
        """Sleep until ``elapsed()`` reaches ``until`` (a frame's time)."""
        left = until - self.elapsed()
        if left > EPSILON:
            self.clock.sleep(left)

    def place(self, played: float, duration: float) -> tuple[float, int] | None:
        """(position in the file in seconds, lap) of ``played`` seconds of a ``duration`` s video.

        None once a video that does not loop is past its end; ``duration`` is ``math.inf`` while
        the video's length is not known.
        """
        if math.isinf(duration) or duration <= 0:
            return (max(played, 0.0), 0)
        lap = int((played + EPSILON) // duration)
        if lap and not self.loop:
            return None
        return (max(played - lap * duration, 0.0), lap)


class Move(NamedTuple):
    """How a video file gets to the frame playing now: decode ``grab`` frames, or seek to ``seek``."""

    grab: int = 0
    seek: int | None = None


@dataclass
class Cursor:
    """One opening of a video file: the frame it reads next and when that frame plays."""

    playhead: Playhead
    fps: float
    frame_count: int  # 0 while unknown
    name: str = "video"
    next: int = 0  # the file's frame read next
    lap_start: float = 0.0  # seconds played when this lap's first frame plays

    SEEK_AFTER = 2.0  # seconds ahead in the file from which a seek beats decoding frame by frame

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.frame_count > 0 else math.inf

    def due(self) -> float:
        """When the frame read next plays (seconds since the playhead started): its timestamp."""
        return self.lap_start + self.next / self.fps

    def move(self, played: float) -> Move | None:
        """Go to the frame playing at ``played`` s; None when a video that does not loop is over."""
        placed = self.playhead.place(played, self.duration)
        if placed is None:
            return None
        position, lap = placed
        index = int(position * self.fps + EPSILON)
        lap_start = 0.0 if math.isinf(self.duration) else lap * self.duration
        ahead = index - self.next
        same_lap = abs(lap_start - self.lap_start) < EPSILON
        self.next, self.lap_start = index, lap_start
        if same_lap and 0 <= ahead <= self.SEEK_AFTER * self.fps:
            return Move(grab=ahead)
        return Move(seek=index)

    def lap_over(self) -> bool:
        """The file ended before frame ``next``: True when it plays again from its first frame."""
        if self.next == 0:
            return False
        if self.next < self.frame_count - 1:
            log.warning("%s ended after %d of %d frames (truncated or damaged?)",
                        self.name, self.next, self.frame_count)
        self.frame_count = self.next  # a damaged or unsized file: its real length from now on
        if not self.playhead.loop:
            return False
        log.info("%s played to its end (%.0f s); it plays again from the start", self.name, self.duration)
        self.next, self.lap_start = 0, self.lap_start + self.duration
        return True

    def ended(self) -> None:
        """No more frames: says so once when a video that does not loop has played to its end."""
        if not self.playhead.loop and not self.playhead.ended:
            self.playhead.ended = True
            if self.playhead.tell_end:
                log.warning("%s played to its end (%.0f s): no more frames", self.name, self.duration)
