"""One window's votes and its decision.

Each analysed frame either has no face (it does not vote), or a probability per emotion. A frame
votes for its most likely emotion only when that probability reaches ``min_confidence``. The
leading emotion wins the window only when it holds at least ``min_share`` of the votes, there are
at least ``min_face_frames`` votes, and no other emotion ties it; otherwise the window is unsure
(``mood`` is None) and the current music continues.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence


class WindowResult(NamedTuple):
    """What one window saw and decided."""

    frames: int  # frames analysed
    face_frames: int  # frames with a face
    votes: dict[str, int]  # confident votes per emotion
    mood: str | None  # None: unsure, the current music continues
    share: float  # the leading emotion's share of the votes (0 without votes)

    def summary(self) -> str:
        """One line for the log: counts, votes and the outcome."""
        voted = sum(self.votes.values())
        ranked = sorted(self.votes.items(), key=lambda item: (-item[1], item[0]))
        counts = ", ".join(f"{label} {count}" for label, count in ranked if count) or "none"
        outcome = self.mood if self.mood is not None else "unsure"
        return (
            f"{self.frames} frames, {self.face_frames} with a face, {voted} voted ({counts})"
            f" -> {outcome} ({self.share:.0%})"
        )


class Tally:
    """Collects the frames of one window and decides its mood."""

    def __init__(
        self,
        labels: Sequence[str],
        min_confidence: float = 0.5,
        min_share: float = 0.5,
        min_face_frames: int = 8,
    ) -> None:
        self.labels = tuple(labels)
        self.min_confidence = min_confidence
        self.min_share = min_share
        self.min_face_frames = min_face_frames
        self.frames = 0
        self.face_frames = 0
        self.votes = dict.fromkeys(self.labels, 0)

    def add(self, probs: Sequence[float] | None) -> str | None:
        """Count one frame; ``probs`` is None when the frame has no face.

        Returns:
            The emotion the frame voted for, or None when it did not vote.
        """
        self.frames += 1
        if probs is None:
            return None
        self.face_frames += 1
        if len(probs) != len(self.labels):
            raise ValueError(f"expected {len(self.labels)} probabilities, got {len(probs)}")
        best = max(range(len(probs)), key=lambda i: float(probs[i]))
        if float(probs[best]) < self.min_confidence:
            return None
        label = self.labels[best]
        self.votes[label] += 1
        return label

    def result(self) -> WindowResult:
        """The window's counts and decided mood."""
        votes = dict(self.votes)
        total = sum(votes.values())
        if total == 0:
            return WindowResult(self.frames, self.face_frames, votes, None, 0.0)
        top = max(votes.values())
        leaders = [label for label, count in votes.items() if count == top]
        share = top / total
        sure = len(leaders) == 1 and share >= self.min_share and total >= self.min_face_frames
        return WindowResult(self.frames, self.face_frames, votes, leaders[0] if sure else None, share)
