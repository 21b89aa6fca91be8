"""A part of the core: with no reference face at all (the shot skipped, none stored), windows keep the
music until a passive reference made from the first windows' faces stands in (sensing.passive).

Without it, half of the windows that committed were wrong on held-out people; with it, 0.97 of them
were right (docs/results/moods.md).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)


class StandIn:
    """Holds the music while no reference exists, and feeds each window's faces to the passive one."""

    def __init__(self, devices: Any, labels: Sequence[str], now: Callable[[], float],
                 tell: Callable[..., None]) -> None:
        self.dev, self.labels, self.now, self.tell = devices, tuple(labels), now, tell

    def active(self) -> bool:
        """True when a passive reference stands in: no shot, no stored or personal reference."""
        calibration, passive = self.dev.calibration, getattr(self.dev, "passive", None)
        return passive is not None and calibration is not None and calibration.reference is None

    def held(self) -> str | None:
        """Why windows may not change the music yet (the passive reference is not made), or None."""
        if not self.active() or self.dev.passive.ready:
            return None
        return self.dev.passive.status()

    def hint(self) -> str:
        """The status line's reminder while windows keep the music for want of a reference ("" when not)."""
        return self.dev.passive.hint() if self.held() else ""

    def learn(self, seen: Sequence[tuple[Any, Any]]) -> None:
        """This window's (vector, probabilities) go into the passive reference; a new one is used."""
        if not self.active() or not seen:
            return
        passive = self.dev.passive
        first = not passive.ready
        vectors, probs = zip(*seen)
        vector = passive.add(vectors, probs, self.labels)
        if vector is None:
            return
        self.dev.predictor.reference = vector
        self.tell("reference_changed", when=self.now(), event="updated", source="passive",
                  frames=passive.frames)
        if first:
            log.info("reference face estimated from the first %d windows (no calibration shot); "
                     "run.py --calibrate or c takes a better one", passive.windows)
            self.tell("note", when=self.now(),
                      text="reference face estimated from your first windows; c takes a better one")
