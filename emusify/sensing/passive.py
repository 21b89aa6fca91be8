"""A reference face estimated from the windows themselves, for a user who has none (the shot skipped).

Without a reference, the starter reads every face against the average relaxed face of the people it
learned from, and a person's own resting face then pushes whole windows into one wrong mood (on
held-out people about half of the windows that committed were wrong). A person at a desk shows
their relaxed face most of the time, so their windows tell it: :class:`PassiveReference` collects
the face frames of the windows, and from the ``windows``-th on offers the coordinate-wise median of
them. Until then, windows do not change the music.

Rules (``rule``): "running" re-estimates after every window from the frames of the last ``memory``
windows; "all" takes the median of the first ``windows`` windows once; "neutral" the median of
those frames the model reads as neutral (all of them when fewer than ``min_neutral``), once.
Which rule and how many windows were chosen on development people by benchmarks/moods.py
(docs/results/moods.md). Pure numpy: the runner feeds it each window's vectors and probabilities.
"""

from __future__ import annotations

from collections import deque
from typing import Sequence

import numpy as np

from emusify.sensing.reference import NEUTRAL, reference_from_vectors

RULES = ("running", "all", "neutral")
RULE = "running"
WINDOWS = 3  # windows before the first estimate
MEMORY = 14  # "running": windows of frames kept (about 1,000 frames; an hour at the default cycle)
MIN_NEUTRAL = 8  # "neutral": fewer frames read as neutral than this -> all frames


class PassiveReference:
    """Collects windows' face frames and makes a reference of them.

    Raises:
        ValueError: an unknown rule, or fewer than one window.
    """

    def __init__(
        self, windows: int = WINDOWS, rule: str = RULE, memory: int = MEMORY, min_neutral: int = MIN_NEUTRAL
    ) -> None:
        if rule not in RULES or windows < 1 or memory < windows:
            raise ValueError(
                f"a passive reference needs a rule of {', '.join(RULES)} and 1 <= windows <= memory"
            )
        self.windows, self.rule, self.min_neutral = windows, rule, min_neutral
        self._kept: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=memory)  # (frames, read neutral)
        self.seen = 0  # windows collected
        self.vector: np.ndarray | None = None  # the estimate, once made
        self.frames = 0  # face frames the estimate was made from

    @property
    def ready(self) -> bool:
        return self.vector is not None

    def add(
        self, vectors: Sequence[np.ndarray], proba: Sequence[np.ndarray], labels: Sequence[str]
    ) -> np.ndarray | None:
        """One window's face vectors and their probabilities (as the model read them then).

        Returns:
            The new reference vector when this window made or moved it, else None.
        """
        if (self.ready and self.rule != "running") or not len(vectors):
            return None
        X, P = np.asarray(vectors, dtype=np.float64), np.asarray(proba, dtype=np.float64)
        calm = (
            P.argmax(axis=1) == list(labels).index(NEUTRAL) if NEUTRAL in labels else np.zeros(len(X), bool)
        )
        self._kept.append((X, calm))
        self.seen += 1
        if self.seen < self.windows:
            return None
        frames = np.concatenate([x for x, _ in self._kept])
        if self.rule == "neutral":
            neutral = np.concatenate([x[c] for x, c in self._kept])
            frames = neutral if len(neutral) >= self.min_neutral else frames
        self.vector, self.frames = reference_from_vectors(frames), len(frames)
        if self.rule != "running":
            self._kept.clear()
        return self.vector

    def hint(self) -> str:
        """The status line's short form of :meth:`status`, shown until the estimate is made."""
        left = max(self.windows - self.seen, 1)
        return f"no shot: music stays {left} more window{'s' if left > 1 else ''}; c takes a shot"

    def status(self) -> str:
        """What the log and the journal's decision say while the estimate is not made yet."""
        return (
            f"no reference face yet: learning your relaxed face from the first {self.windows} windows "
            f"({self.seen} done), the music stays until then; run.py --calibrate takes a 5 s shot"
        )
