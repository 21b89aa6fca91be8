"""Background learning from recordings: the starter fine-tuned on corrections, saved atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emusify.errors import DatasetError
from emusify.reading.learner import update_in_child
from emusify.reading.model import Model, backup_path
from emusify.reading.relearn import learn, session_offsets, update_model
from emusify.sensing.features import LAYOUT, face_vector
from emusify.sensing.reference import reference_from_vectors
from emusify.storage.dataset import SessionWriter, load_sessions
from tests.test_features import make_face

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "models" / "starter.npz"


def record(data: Path, emotion: str, seeds: range, feedback: dict | None = None,
           group: str = "run-a") -> None:
    """A recording of synthetic faces; ``feedback`` marks it as run.py's (header as Feedback writes it)."""
    extra = {"feedback": feedback} if feedback else None
    with SessionWriter(data, emotion, LAYOUT, "test", group=group, extra=extra) as writer:
        for i in seeds:
            writer.append(make_face(i), float(i))


def test_one_correction_of_one_mood_makes_a_model_of_every_starter_mood(tmp_path):
    offset = np.mean([face_vector(make_face(i)) for i in range(100, 140)], axis=0)
    record(tmp_path / "data", "happy", range(12),
           {"kind": "correction", "read": "sad", "window": 1.0, "offset": offset.tolist()})
    update = update_model(tmp_path / "data", STARTER, tmp_path / "models" / "emusify.npz")
    model = Model.load(tmp_path / "models" / "emusify.npz")
    starter = Model.load(STARTER)
    assert model.labels == starter.labels  # the moods nobody corrected are still there
    assert (update.corrections, update.confirmations, update.samples) == (1, 0, 12)
    assert update.message() == "model updated from 1 correction(s)"
    np.testing.assert_allclose(model.reference_mean, offset, rtol=1e-6)  # the offset the model saw
    happy = [face_vector(make_face(i)) - offset for i in range(12)]
    assert model.predict(np.array(happy)).count("happy") >= 10
    assert not backup_path(tmp_path / "models" / "emusify.npz").exists()


def test_a_second_update_keeps_the_previous_model_as_backup(tmp_path):
    data, path = tmp_path / "data", tmp_path / "emusify.npz"
    record(data, "happy", range(6), {"kind": "correction", "read": "sad", "window": 1.0, "offset": None})
    update_model(data, STARTER, path)
    first = path.read_bytes()
    record(data, "sad", range(20, 26), {"kind": "confirmed", "read": "sad", "window": 2.0, "offset": None},
           group="run-b")
    update = update_model(data, STARTER, path)
    assert backup_path(path).read_bytes() == first and path.read_bytes() != first
    assert update.message() == "model updated from 1 correction(s) and 1 confirmation(s)"


def test_run_py_updates_in_a_child_process_with_the_same_result_and_errors(tmp_path):
    """update_in_child (run.py's learner) gives what update_model gives, and its errors come back."""
    data = tmp_path / "data"
    with pytest.raises(DatasetError, match="no recordings"):  # raised in the child, one line here
        update_in_child(data, STARTER, tmp_path / "child.npz")
    record(data, "happy", range(6), {"kind": "correction", "read": "sad", "window": 1.0, "offset": None})
    here = update_model(data, STARTER, tmp_path / "here.npz")
    there = update_in_child(data, STARTER, tmp_path / "child.npz")
    assert there.message() == here.message() == "model updated from 1 correction(s)"
    assert there.model.labels == Model.load(tmp_path / "child.npz").labels == here.model.labels
    faces = np.array([face_vector(make_face(i)) for i in range(6)])
    assert there.model.predict(faces) == here.model.predict(faces)  # the same recipe, the same seed


def record_with_a_correction(folder: Path, first: str, second: str) -> np.ndarray:
    """Two collect.py recordings and an angry correction made against a stored offset (returned)."""
    stored = np.full(LAYOUT.length, 0.25)
    record(folder, first, range(4))
    record(folder, second, range(4, 8))
    record(folder, "angry", range(8, 10), {"kind": "correction", "read": "sad", "offset": stored.tolist()},
           group="run-c")
    return stored


def offsets_by_emotion(folder: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    sessions = load_sessions(folder)
    X = np.stack([face_vector(lm) for s in sessions for lm in s.landmarks()])
    y = np.array([s.emotion for s in sessions for _ in range(len(s))])
    offsets = session_offsets(Model.load(STARTER), sessions, X, y, [len(s) for s in sessions])
    return {s.emotion: o for s, o in zip(sessions, offsets)}, X, y


def test_recordings_from_collect_are_centred_on_the_relaxed_face_and_corrections_on_theirs(tmp_path):
    stored = record_with_a_correction(tmp_path, "happy", "neutral")
    by_emotion, X, y = offsets_by_emotion(tmp_path)
    relaxed = reference_from_vectors(X[y == "neutral"])
    np.testing.assert_allclose(by_emotion["angry"], stored)
    np.testing.assert_allclose(by_emotion["happy"], relaxed, rtol=1e-5)
    np.testing.assert_allclose(by_emotion["neutral"], relaxed, rtol=1e-5)


def test_without_neutral_recordings_the_reference_run_py_used_centres_them(tmp_path):
    stored = record_with_a_correction(tmp_path, "happy", "sad")
    by_emotion, _, _ = offsets_by_emotion(tmp_path)
    for mood in ("angry", "happy", "sad"):  # not the starter's average face
        np.testing.assert_allclose(by_emotion[mood], stored)


def test_a_mood_the_starter_does_not_know_is_a_clear_error(tmp_path):
    record(tmp_path, "calm", range(3), {"kind": "correction", "read": "sad", "offset": None})
    with pytest.raises(DatasetError, match="does not know calm"):
        learn(Model.load(STARTER), load_sessions(tmp_path))


def test_train_py_counts_corrections_like_any_recording(tmp_path, capsys):
    from emusify.cli import train

    data = tmp_path / "data"
    record(data, "happy", range(0, 30), group="run-a")
    record(data, "sad", range(30, 60), group="run-a")
    record(data, "happy", range(60, 70), {"kind": "correction", "read": "sad", "offset": None}, group="run-c")
    status = train.main(["--data", str(data), "--model", str(tmp_path / "m.npz"), "-q"])
    out = capsys.readouterr().out
    assert status == 0
    assert f"  {'happy':<12} {40:>7}" in out.splitlines()  # 30 recorded + 10 corrected frames
    assert "run-c" in out  # fine-tuned from the starter: every mood it reads is kept (issue 23)
    assert Model.load(tmp_path / "m.npz").labels == Model.load(STARTER).labels


def test_corrections_are_centred_on_the_newest_offset_the_player_had(tmp_path):
    old, new = np.full(LAYOUT.length, 0.1), np.full(LAYOUT.length, 0.3)
    record(tmp_path, "sad", range(0, 3), {"kind": "correction", "read": "happy", "window": 50.0,
                                          "offset": new.tolist()}, group="run-a")
    record(tmp_path, "happy", range(3, 6), {"kind": "correction", "read": "sad", "window": 10.0,
                                            "offset": old.tolist()}, group="run-b")
    sessions = load_sessions(tmp_path)  # happy/ sorts first: the order on disk is not the time order
    X = np.stack([face_vector(lm) for s in sessions for lm in s.landmarks()])
    y = np.array([s.emotion for s in sessions for _ in range(len(s))])
    counts = [len(s) for s in sessions]
    starter = Model.load(STARTER)
    latest = session_offsets(starter, sessions, X, y, counts, "latest")
    stored = session_offsets(starter, sessions, X, y, counts, "stored")
    np.testing.assert_allclose(latest, [new, new])
    np.testing.assert_allclose(stored, [old, new])
