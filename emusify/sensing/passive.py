"""A reference face estimated from the first windows, for a user who has none (the shot skipped).

Without a reference, the starter reads every face against the average relaxed face of the people it
learned from, and a person's own resting face then pushes whole windows into one wrong mood (on
held-out people about half of the windows that committed were wrong). A person at a desk shows
their relaxed face most of the time, so the first windows themselves tell it: :class:`PassiveReference`
collects the face frames of the first ``windows`` windows, and then offers the median of those the
model reads as neutral (all of them when too few are). Until then, windows do not change the music.

The rule and its settings were chosen on development people by benchmarks/moods.py
(docs/results/moods.md). Pure numpy: the runner feeds it each window's vectors and probabilities.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emusify.sensing.reference import NEUTRAL, reference_from_vectors

WINDOWS = 2  # windows the estimate is made from
MIN_NEUTRAL = 8  # fewer frames read as neutral than this: the median of all the frames


class PassiveReference:
    """Collects the first windows' face frames and makes a reference of them.

    Args:
        windows: how many windows (with at least one face frame) to collect before the estimate.
        neutral_only: take the frames whose most likely mood is neutral (read against the model's
            average face), falling back to all frames when fewer than ``min_neutral``.
        min_neutral: see ``neutral_only``.
    """

    def __init__(
        self, windows: int = WINDOWS, neutral_only: bool = True, min_neutral: int = MIN_NEUTRAL
    ) -> None:
        if windows < 1:
            raise ValueError("a passive reference needs at least one window")
        self.windows, self.neutral_only, self.min_neutral = windows, neutral_only, min_neutral
        self._vectors: list[np.ndarray] = []
        self._calm: list[np.ndarray] = []
        self.seen = 0  # windows collected
        self.vector: np.ndarray | None = None  # the estimate, once made
        self.frames = 0  # face frames the estimate was made from

    @property
    def ready(self) -> bool:
        return self.vector is not None

    def add(
        self, vectors: Sequence[np.ndarray], proba: Sequence[np.ndarray], labels: Sequence[str]
    ) -> np.ndarray | None:
        """One window's face vectors and their probabilities (read without a reference).

        Returns:
            The reference vector when this window completes the estimate, else None.
        """
        if self.ready or not len(vectors):
            return None
        X, P = np.asarray(vectors, dtype=np.float64), np.asarray(proba, dtype=np.float64)
        self._vectors.append(X)
        if NEUTRAL in labels:
            self._calm.append(X[P.argmax(axis=1) == list(labels).index(NEUTRAL)])
        self.seen += 1
        if self.seen < self.windows:
            return None
        calm = np.concatenate(self._calm) if self._calm else np.zeros((0, X.shape[1]))
        chosen = (
            calm if self.neutral_only and len(calm) >= self.min_neutral else np.concatenate(self._vectors)
        )
        self.vector, self.frames = reference_from_vectors(chosen), len(chosen)
        self._vectors, self._calm = [], []
        return self.vector

    def status(self) -> str:
        """What the status line says while the estimate is not made yet."""
        return (
            f"no reference face yet: learning your relaxed face from the first {self.windows} windows "
            f"({self.seen} done), the music stays until then; run.py --calibrate takes a 5 s shot"
        )
