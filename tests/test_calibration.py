"""Which reference face run.py starts from, and the shot over a source of stills
(emusify.sensing.calibration)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from emusify.sensing.calibration import Calibration, model_reference, take_shot
from emusify.sensing.reference import Reference, load_reference, save_reference
from tests.fakes import FakeClock, FakeExtractor, FakePredictor, FakeSources, fake_vectorize

LAYOUT = ("fake", 3)


def reference(value: float, when: float, source: str = "shot") -> Reference:
    return Reference(np.full(3, value), 10, when, when, "fake", None, source)


def personal_model(value: float, trained: float, source: str = "recordings", people: int = 1):
    meta = {"reference": {"source": source, "people": people, "frames": 40, "taken": trained}}
    return SimpleNamespace(calibration="reference", reference_mean=np.full(3, value), meta=meta,
                           layout=SimpleNamespace(name="fake"))


def keeper(tmp_path, stored=None, own=None, force=False) -> Calibration:
    path = tmp_path / "reference.json"
    if stored is not None:
        save_reference(path, stored)
    return Calibration(path, LAYOUT, FakePredictor(), own=own, force_shot=force)


@pytest.mark.parametrize("stored, own, expect, shot", [
    (None, None, None, True),  # starter, nothing stored: take a shot
    (reference(0.2, 500.0), None, 0.2, False),  # stored shot
    (None, reference(0.7, 800.0, "recordings"), 0.7, False),  # a personal model's neutral recordings
    (reference(0.2, 500.0), reference(0.7, 800.0, "recordings"), 0.7, False),  # retrained after the shot
    (reference(0.2, 900.0), reference(0.7, 800.0, "recordings"), 0.2, False),  # shot after training
])
def test_the_newer_of_the_stored_shot_and_the_models_own_reference_wins(tmp_path, stored, own, expect, shot):
    cal = keeper(tmp_path, stored, own)
    assert cal.needs_shot == shot
    if expect is None:
        assert cal.predictor.reference is None and cal.reference is None
    else:
        np.testing.assert_allclose(cal.predictor.reference, np.full(3, expect))


def test_calibrate_asks_for_a_shot_but_keeps_the_old_reference_until_it_succeeds(tmp_path):
    cal = keeper(tmp_path, reference(0.2, 500.0), force=True)
    assert cal.needs_shot
    np.testing.assert_allclose(cal.predictor.reference, np.full(3, 0.2))


def test_a_stored_reference_of_another_layout_asks_for_a_new_shot(tmp_path, caplog):
    other = Reference(np.zeros(3), 10, 1.0, 1.0, "face-v0", None, "shot")
    with caplog.at_level(logging.WARNING):
        cal = keeper(tmp_path, other)
    assert cal.needs_shot and "face-v0" in caplog.text


def test_only_a_one_person_model_from_recordings_counts_as_the_users_own():
    own = model_reference(personal_model(0.5, 700.0))
    assert own is not None and own.source == "recordings" and own.updated == 700.0
    assert model_reference(personal_model(0.5, 700.0, people=12)) is None  # the starter's average
    assert model_reference(personal_model(0.5, 700.0, source="prior")) is None
    old = personal_model(0.5, 700.0)
    old.calibration = "session-mean"
    assert model_reference(old) is None


def test_a_shot_over_stills_uses_seconds_times_fps_images(tmp_path):
    clock = FakeClock()
    face = [np.array([0.1, 0.2, 0.3])] * 30
    sources = FakeSources(clock, [face[:3] + [None] + face[3:]], is_video=False)
    with sources("folder") as source:
        shot = take_shot(source, FakeExtractor(), fake_vectorize, seconds=2, fps=4)
    assert shot.frames == 8 and len(shot.vectors) == 7 and not shot.skipped
    cal = keeper(tmp_path)
    made = cal.use_shot(shot, when=1234.0)
    assert made is not None and made.frames == 7
    assert load_reference(tmp_path / "reference.json", LAYOUT).taken == 1234.0
    assert cal.take_changes() == [(1234.0, "shot", "shot", 7, 0.0)]
    assert cal.take_changes() == []  # each change is given once


def test_a_reference_that_cannot_be_saved_is_still_used(tmp_path, caplog):
    (tmp_path / "blocked").write_text("a file where the folder should be")
    cal = Calibration(tmp_path / "blocked" / "reference.json", LAYOUT, FakePredictor())
    shot = SimpleNamespace(vectors=np.ones((6, 3)), frames=6, skipped=False, backend="holistic")
    with caplog.at_level(logging.WARNING):
        cal.use_shot(shot, when=5.0)
    np.testing.assert_allclose(cal.predictor.reference, np.ones(3))
    assert "cannot save the reference face" in caplog.text


# The checked shot (Calibration.run_shot) and the running check --------------------------------------

SMILE = np.array([1.0, 0.0, 0.0])


def relaxed_faces():
    """What relaxed faces look like to the check: around 0, a smile moves the first coordinate."""
    from emusify.sensing.shotcheck import RelaxedFaces

    return RelaxedFaces(np.zeros(3), ("happy",), SMILE.reshape(1, 3) / 0.1, SMILE.reshape(1, 3) / 0.1,
                        np.zeros(3), 0.0, {"any": (3.0, 3.0, np.inf)}, "fake")


def checked(tmp_path) -> Calibration:
    return Calibration(tmp_path / "reference.json", LAYOUT, FakePredictor(),
                       relaxed=relaxed_faces())


def taker(*faces: np.ndarray):
    """A take_once that gives the shots of ``faces`` in turn and notes what it was asked."""
    asked: list[str] = []

    def take_once(request: str):
        asked.append(request)
        face = faces[min(len(asked) - 1, len(faces) - 1)]
        return SimpleNamespace(vectors=np.tile(face, (20, 1)), frames=20, skipped=False, backend="tasks")
    return take_once, asked


def events(cal: Calibration) -> list[str]:
    return [change.event for change in cal.take_changes()]


def test_a_relaxed_shot_is_used_at_once(tmp_path):
    cal = checked(tmp_path)
    take_once, asked = taker(np.array([0.05, 0.2, 0.3]))
    made = cal.run_shot(take_once, lambda: 10.0)
    assert made is not None and len(asked) == 1 and events(cal) == ["shot"] and cal.doubt == ""
    assert asked[0].startswith("relax your face")


def test_a_smiling_shot_is_refused_retried_then_kept_with_a_warning(tmp_path, caplog):
    cal = checked(tmp_path)
    smiling = np.array([0.6, 0.2, 0.3])
    take_once, asked = taker(smiling, smiling)
    with caplog.at_level(logging.WARNING):
        made = cal.run_shot(take_once, lambda: 10.0)
    assert asked[1] == "you seem to be smiling: relax your face and look at the screen"
    assert events(cal) == ["refused", "refused", "shot", "doubted"]
    assert made is not None  # kept: better than none, but doubted
    np.testing.assert_allclose(cal.predictor.reference, smiling)
    assert "press c to recalibrate" in cal.doubt and "smiling" in cal.doubt
    assert "using it anyway" in caplog.text


def test_a_smile_then_a_relaxed_face_is_accepted_on_the_retry(tmp_path):
    cal = checked(tmp_path)
    relaxed = np.array([0.0, 0.2, 0.3])
    take_once, asked = taker(np.array([0.6, 0.2, 0.3]), relaxed)
    cal.run_shot(take_once, lambda: 10.0)
    assert len(asked) == 2 and events(cal) == ["refused", "shot"] and cal.doubt == ""
    np.testing.assert_allclose(cal.predictor.reference, relaxed)


def test_a_skipped_shot_is_not_checked_or_retried(tmp_path):
    cal = checked(tmp_path)
    asked = []

    def take_once(request):
        asked.append(request)
        return SimpleNamespace(vectors=np.zeros((0, 0)), frames=3, skipped=True, backend=None)
    assert cal.run_shot(take_once, lambda: 10.0) is None
    assert len(asked) == 1 and events(cal) == ["skipped"]


def test_a_reference_far_from_the_windows_faces_along_a_smile_is_doubted_until_a_new_shot(tmp_path):
    from emusify.sensing.shotcheck import DOUBT_SPAN

    smiling, relaxed = np.array([0.6, 0.2, 0.3]), np.array([0.0, 0.2, 0.3])
    labels = ("angry", "happy", "neutral", "sad")
    proba = np.tile([0.1, 0.1, 0.2, 0.6], (20, 1))  # a relaxed face read against a smile: sad
    for stored, doubted in ((relaxed, False), (smiling, True)):
        path = tmp_path / f"{doubted}.json"
        save_reference(path, Reference(stored, 20, 2.0, 2.0, "fake", None, "shot"))  # an old shot
        cal = Calibration(path, LAYOUT, FakePredictor(), relaxed=relaxed_faces())
        for when in range(DOUBT_SPAN + 2):
            cal.after_window(np.tile(relaxed, (20, 1)), proba, labels, float(when))
        assert ("press c to recalibrate" in cal.doubt) == doubted
        assert events(cal).count("doubted") == int(doubted)
    cal.run_shot(taker(relaxed)[0], lambda: 30.0)  # c: a new shot
    assert cal.doubt == ""
