"""Sleep and wake: durations on a monotonic clock, and the wall clock's jumps noticed.

The core waits --every minutes with :func:`monotonic` (which a time sync never moves) and stamps
journal rows with the wall clock (``clock.now()``). When the two disagree by more than
:data:`JUMP_SECONDS` between two looks, the wall clock jumped: forward is taken as a sleep
(a suspended PC: on Linux the monotonic clock stands still while suspended, the wall clock does
not), back as the clock set back (a time sync). :class:`ClockWatch` says which, and by how much.
Where the monotonic clock counts the sleep too (Windows' GetTickCount64), no jump is seen, but the
wait has run out all the same: still one window at wake, only the journal row is missing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

JUMP_SECONDS = 30.0  # the wall and monotonic clocks may drift apart by this much without it being a jump


class Jump(NamedTuple):
    """The wall clock jumped between two looks."""

    when: float  # wall-clock time it was noticed
    kind: str  # "slept" (forward) or "clock_back"
    seconds: float  # how far it jumped (positive)


def monotonic(clock: Any) -> float:
    """The clock's monotonic seconds; a clock without one (an older fake) counts its wall time."""
    read = getattr(clock, "monotonic", None)
    return read() if read is not None else clock.now()


class ClockWatch:
    """Compares the wall clock with the monotonic one each time it is asked."""

    def __init__(self, clock: Any, threshold: float = JUMP_SECONDS) -> None:
        self.clock, self.threshold = clock, threshold
        self._wall, self._mono = clock.now(), monotonic(clock)

    def check(self) -> Jump | None:
        """The jump since the last check, or None when the two clocks went on together."""
        wall, mono = self.clock.now(), monotonic(self.clock)
        gap = (wall - self._wall) - (mono - self._mono)
        self._wall, self._mono = wall, mono
        if abs(gap) <= self.threshold:
            return None
        return Jump(wall, "slept" if gap > 0 else "clock_back", abs(gap))
