"""The reference face estimated from the windows when there is no calibration shot."""

from __future__ import annotations

import numpy as np
import pytest

from emusify.sensing.passive import PassiveReference

LABELS = ("angry", "happy", "neutral", "sad")
CALM, SMILE = np.array([0.1, 0.1, 0.7, 0.1]), np.array([0.1, 0.7, 0.1, 0.1])


def window(face: float, count: int, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.full((count, 3), face), np.tile(probs, (count, 1))


def test_running_waits_for_its_windows_then_follows_the_median_of_the_last_ones():
    passive = PassiveReference(windows=2, rule="running", memory=3)
    assert passive.add(*window(1.0, 10, CALM), LABELS) is None and not passive.ready
    assert "1 done" in passive.status() and "music stays" in passive.status()
    assert passive.add(*window(5.0, 8, SMILE), LABELS).tolist() == [1.0] * 3  # most frames relaxed
    assert passive.add(*window(5.0, 8, SMILE), LABELS).tolist() == [5.0] * 3  # 16 of 26 frames now
    passive.add(*window(2.0, 30, CALM), LABELS)
    assert passive.vector.tolist() == [2.0] * 3 and passive.frames == 46  # the first window left memory


def test_once_rules_take_the_neutral_frames_or_all_and_do_not_move_after():
    neutral = PassiveReference(windows=2, rule="neutral", min_neutral=8)
    assert neutral.add(np.zeros((0, 3)), np.zeros((0, 4)), LABELS) is None and neutral.seen == 0
    neutral.add(*window(1.0, 10, CALM), LABELS)
    assert neutral.add(*window(5.0, 30, SMILE), LABELS).tolist() == [1.0] * 3 and neutral.frames == 10
    assert neutral.add(*window(9.0, 10, CALM), LABELS) is None and neutral.vector.tolist() == [1.0] * 3
    few = PassiveReference(windows=2, rule="neutral", min_neutral=8)
    few.add(*window(2.0, 20, SMILE), LABELS)
    assert few.add(*window(4.0, 21, SMILE), LABELS).tolist() == [4.0] * 3 and few.frames == 41
    everything = PassiveReference(windows=1, rule="all")
    assert everything.add(*window(3.0, 20, CALM), LABELS).tolist() == [3.0] * 3
    for bad in ({"windows": 0}, {"rule": "mean"}, {"windows": 5, "memory": 2}):
        with pytest.raises(ValueError):
            PassiveReference(**bad)
