"""The reference face: made robustly, stored atomically, loaded safely, kept current by the tracker."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from emusify.sensing.reference import (
    Reference,
    ReferenceTracker,
    load_reference,
    make_reference,
    reference_from_vectors,
    save_reference,
)

D = 6
LABELS = ("angry", "happy", "neutral", "sad")


def ref(vector=None, **changes) -> Reference:
    values = dict(vector=np.zeros(D) if vector is None else vector, frames=20, taken=100.0, updated=100.0,
                  layout="test-v1", backend="holistic", source="shot")
    values.update(changes)
    return Reference(**values)


def test_reference_is_the_median_so_a_blink_does_not_move_it():
    face = np.tile(np.arange(D, dtype=float), (20, 1))
    blinks = face.copy()
    blinks[:3] += 50.0  # three odd frames: a blink, a turned head
    np.testing.assert_allclose(reference_from_vectors(blinks), np.arange(D))
    np.testing.assert_allclose(reference_from_vectors(np.arange(D)), np.arange(D))  # one vector


def test_reference_needs_at_least_one_vector():
    with pytest.raises(ValueError, match="at least one"):
        reference_from_vectors(np.zeros((0, D)))


def test_save_and_load_round_trip_with_its_metadata(tmp_path):
    path = tmp_path / "data" / "reference.json"
    made = make_reference(np.ones((7, D)), "test-v1", source="shot", backend="holistic", when=123.0)
    save_reference(path, made)
    back = load_reference(path, ("test-v1", D))
    assert back is not None
    np.testing.assert_allclose(back.vector, np.ones(D))
    assert (back.frames, back.taken, back.updated, back.layout, back.backend, back.source) == \
        (7, 123.0, 123.0, "test-v1", "holistic", "shot")
    assert [p.name for p in path.parent.iterdir()] == ["reference.json"]  # no temp file left
    assert load_reference(tmp_path / "none.json", "test-v1") is None


@pytest.mark.parametrize("text", ["{not json", '{"format": "other"}', "[1, 2]", ""])
def test_a_corrupt_file_warns_and_gives_none(tmp_path, caplog, text):
    path = tmp_path / "reference.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        assert load_reference(path, "test-v1") is None
    assert "reference.json" in caplog.text and "calibration shot" in caplog.text


def test_another_layout_warns_and_gives_none(tmp_path, caplog):
    path = tmp_path / "reference.json"
    save_reference(path, ref())
    with caplog.at_level(logging.WARNING):
        assert load_reference(path, "face-v2") is None
        assert load_reference(path, ("test-v1", D + 1)) is None
    assert "face-v2" in caplog.text
    data = json.loads(path.read_text())
    data["vector"] = data["vector"][:-1]  # length no longer matches what the file says
    path.write_text(json.dumps(data))
    assert load_reference(path, "test-v1") is None


def proba_rows(mood: str, confidence: float, n: int) -> np.ndarray:
    rest = (1 - confidence) / 3
    return np.tile([confidence if m == mood else rest for m in LABELS], (n, 1))


def test_tracker_moves_slowly_towards_confident_neutral_frames():
    tracker = ReferenceTracker(ref(), confidence=0.8, min_frames=8, rate=0.1)
    moved = tracker.observe(np.full((10, D), 1.0), proba_rows("neutral", 0.9, 10), LABELS, when=200.0)
    assert moved is not None and moved is tracker.reference
    np.testing.assert_allclose(moved.vector, np.full(D, 0.1))  # a tenth of the way
    assert moved.updated == 200.0 and moved.taken == 100.0 and moved.frames == 30
    for _ in range(40):
        tracker.observe(np.full((10, D), 1.0), proba_rows("neutral", 0.9, 10), LABELS)
    assert np.abs(tracker.reference.vector - 1.0).max() < 0.02  # a lasting change is followed


@pytest.mark.parametrize("mood, confidence, n", [
    ("happy", 0.95, 20),  # confident, but not neutral
    ("neutral", 0.6, 20),  # neutral, but unsure
    ("neutral", 0.95, 5),  # too few frames
])
def test_tracker_ignores_frames_that_are_not_confidently_neutral(mood, confidence, n):
    tracker = ReferenceTracker(ref(), confidence=0.8, min_frames=8)
    assert tracker.observe(np.full((n, D), 5.0), proba_rows(mood, confidence, n), LABELS) is None
    np.testing.assert_allclose(tracker.reference.vector, np.zeros(D))


def test_tracker_uses_only_the_neutral_frames_of_a_mixed_window():
    tracker = ReferenceTracker(ref(), rate=1.0)
    X = np.concatenate([np.full((10, D), 1.0), np.full((10, D), 9.0)])
    P = np.concatenate([proba_rows("neutral", 0.9, 10), proba_rows("happy", 0.9, 10)])
    np.testing.assert_allclose(tracker.observe(X, P, LABELS).vector, np.ones(D))


def test_tracker_without_a_neutral_column_does_nothing():
    tracker = ReferenceTracker(ref())
    assert tracker.observe(np.ones((20, D)), np.tile([0.9, 0.1], (20, 1)), ("happy", "sad")) is None
