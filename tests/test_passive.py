"""The reference face estimated from the first windows when there is no calibration shot."""

from __future__ import annotations

import numpy as np
import pytest

from emusify.sensing.passive import PassiveReference

LABELS = ("angry", "happy", "neutral", "sad")
CALM, SMILE = np.array([0.1, 0.1, 0.7, 0.1]), np.array([0.1, 0.7, 0.1, 0.1])


def window(face: float, count: int, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.full((count, 3), face), np.tile(probs, (count, 1))


def test_the_estimate_comes_after_the_set_windows_from_the_frames_read_neutral():
    passive = PassiveReference(windows=2, min_neutral=8)
    assert passive.add(*window(1.0, 10, CALM), LABELS) is None and not passive.ready
    assert "1 done" in passive.status() and "music stays" in passive.status()
    vector = passive.add(*window(5.0, 30, SMILE), LABELS)  # a smiling window does not pull it
    assert passive.ready and vector.tolist() == [1.0, 1.0, 1.0] and passive.frames == 10
    assert passive.add(*window(9.0, 10, CALM), LABELS) is None  # made once; later windows do not move it
    assert passive.vector.tolist() == [1.0, 1.0, 1.0]


def test_too_few_neutral_frames_take_the_median_of_all_and_empty_windows_do_not_count():
    passive = PassiveReference(windows=2, min_neutral=8)
    assert passive.add(np.zeros((0, 3)), np.zeros((0, 4)), LABELS) is None and passive.seen == 0
    passive.add(*window(2.0, 20, SMILE), LABELS)
    vector = passive.add(*window(4.0, 21, SMILE), LABELS)
    assert vector.tolist() == [4.0, 4.0, 4.0] and passive.frames == 41
    everything = PassiveReference(windows=1, neutral_only=False)
    assert everything.add(*window(3.0, 20, CALM), LABELS).tolist() == [3.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        PassiveReference(windows=0)
