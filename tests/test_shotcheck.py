"""The shot check and the running check (emusify.sensing.shotcheck) on synthetic faces."""

from __future__ import annotations

import logging
import math
from dataclasses import replace

import numpy as np
import pytest

from emusify.sensing.shotcheck import (
    RelaxedFaces,
    RunningCheck,
    check_shot,
    fit_relaxed_faces,
    load_relaxed_faces,
)

D = 12
SMILE = np.zeros(D)
SMILE[:3] = 1.0  # a smile moves these coordinates
FROWN = np.zeros(D)
FROWN[3:6] = 1.0


def person(rng: np.random.Generator) -> np.ndarray:
    """A relaxed face: people differ in every coordinate, a little less than expressions move it."""
    return rng.normal(0.0, 0.3, D)


def people_faces(rng: np.random.Generator, n: int = 60):
    """Labelled rows of ``n`` people: a few relaxed, happy and angry faces each."""
    X, y, unit = [], [], []
    for p in range(n):
        relaxed = person(rng)
        for mood, move in (("neutral", 0.0), ("happy", SMILE), ("angry", FROWN)):
            for _ in range(3):
                X.append(relaxed + move + rng.normal(0.0, 0.02, D))
                y.append(mood)
                unit.append(f"p{p}")
    return np.array(X), np.array(y), np.array(unit)


@pytest.fixture(scope="module")
def faces() -> RelaxedFaces:
    rng = np.random.default_rng(0)
    return replace(fit_relaxed_faces(*people_faces(rng), layout="fake"), limits={"any": (4.0, 4.0, math.inf)})


def shot(rng: np.random.Generator, face: np.ndarray, frames: int = 20) -> np.ndarray:
    return face + rng.normal(0.0, 0.02, (frames, D))


def test_a_new_persons_relaxed_shot_is_accepted_and_their_smile_refused(faces):
    rng = np.random.default_rng(1)
    accepted, refused = [], []
    for _ in range(40):
        relaxed = person(rng)
        accepted.append(check_shot(shot(rng, relaxed), faces).ok)
        smiling = check_shot(shot(rng, relaxed + SMILE), faces)
        refused.append(not smiling.ok and smiling.mood == "happy")
    assert np.mean(accepted) >= 0.95 and np.mean(refused) >= 0.95
    smile = check_shot(shot(rng, person(rng) + 1.5 * SMILE), faces)
    assert smile.message == "you seem to be smiling: relax your face and look at the screen"
    assert smile.score > 1.0


def test_a_frown_is_refused_as_frowning(faces):
    check = check_shot(shot(np.random.default_rng(2), faces.mean + 1.5 * FROWN), faces)
    assert not check.ok and check.mood == "angry" and "frowning" in check.message


def test_each_backend_has_its_limits_and_an_unknown_one_the_most_lenient(faces):
    strict = replace(faces, limits={"tasks": (1.0, 1.0, math.inf), "holistic": (4.0, 4.0, math.inf)})
    face = faces.mean + 0.3 * SMILE
    assert not check_shot(face, strict, "tasks-crop").ok  # a detector name of the tasks backend
    assert check_shot(face, strict, "facemesh").ok and check_shot(face, strict, None).ok


def test_the_expressive_test_refuses_on_its_own(faces):
    tense = replace(faces, expressive=np.eye(D)[8], bias=0.0, limits={"any": (4.0, 4.0, 0.5)})
    face = faces.mean.copy()
    face[8] += 1.0  # along no mood's direction, but "not relaxed" to the expressive test
    assert check_shot(face, faces).ok
    refused = check_shot(face, tense)
    assert not refused.ok and refused.mood is None
    assert refused.message == "your face does not look relaxed: relax your face and look at the screen"


def test_one_vector_is_checked_like_a_shot_of_it(faces):
    smiling = faces.mean + 1.5 * SMILE
    assert check_shot(smiling, faces) == check_shot(smiling.reshape(1, -1), faces)


def test_without_the_check_file_or_for_another_layout_a_shot_is_not_checked(faces):
    smiling = shot(np.random.default_rng(3), faces.mean + 2 * SMILE)
    assert check_shot(smiling, None).ok and check_shot(smiling, None).mood is None
    assert check_shot(np.ones((5, D + 1)), faces).ok


def test_the_check_file_round_trips_and_a_bad_one_only_warns(tmp_path, faces, caplog):
    faces.save(tmp_path / "check.npz")
    again = load_relaxed_faces(tmp_path / "check.npz", "fake")
    smiling = faces.mean + 1.5 * SMILE
    assert again is not None and again.moods == faces.moods
    np.testing.assert_allclose(again.scores(smiling), faces.scores(smiling))
    with caplog.at_level(logging.WARNING):
        assert load_relaxed_faces(tmp_path / "check.npz", "face-other") is None
        assert load_relaxed_faces(tmp_path / "missing.npz", "fake") is None
    assert caplog.text.count("not checked") == 2


def desk_day(rng: np.random.Generator, relaxed: np.ndarray, windows: int = 24) -> list[np.ndarray]:
    """Median faces of a desk day's windows: mostly relaxed, now and then a smile or a frown."""
    moves = [0.0, 0.0, 0.0, SMILE, FROWN]
    return [relaxed + moves[rng.integers(len(moves))] + rng.normal(0.0, 0.02, D) for _ in range(windows)]


def test_a_relaxed_reference_is_not_doubted_on_a_desk_day(faces):
    rng = np.random.default_rng(4)
    for _ in range(20):
        relaxed = person(rng)
        check = RunningCheck(faces, span=6, factor=1.0)
        assert not any(check.add(median, relaxed) for median in desk_day(rng, relaxed))
        assert check.doubted is None and check.message == ""


def test_a_smiling_reference_is_doubted_after_span_windows_until_reset(faces):
    rng = np.random.default_rng(5)
    relaxed = person(rng)
    check = RunningCheck(faces, span=6, factor=1.0)
    made = [check.add(median, relaxed + 1.5 * SMILE) for median in desk_day(rng, relaxed, 8)]
    assert made[:5] == [False] * 5 and made.count(True) == 1  # said once, from the 6th window on
    assert check.doubted == "happy" and "press c to recalibrate" in check.message
    check.reset()
    assert check.doubted is None and check.message == "" and not check.recent


def test_windows_without_faces_or_a_check_file_doubt_nothing(faces):
    smiling = faces.mean + 2 * SMILE
    check = RunningCheck(faces, span=2)
    assert not any(check.add(None, smiling) for _ in range(5))
    blind = RunningCheck(None, span=2)
    assert not any(blind.add(faces.mean, smiling) for _ in range(5))
