"""Learning a person from a few corrected windows: the relaxed face held, and the alternatives measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emusify.errors import ModelError
from emusify.reading.adapt import fit_last_layer, fit_prototypes
from emusify.reading.model import Model, sidecar_path
from emusify.reading.relearn import _taught
from emusify.sensing.features import LAYOUT

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "models" / "starter.npz"


def misread_face(starter: Model, mood: str, seed: int = 0) -> np.ndarray:
    """A seeded centred face vector the starter reads clearly as another mood than ``mood``."""
    rng = np.random.default_rng(seed)
    for _ in range(500):
        face = rng.normal(0.0, 1.0, LAYOUT.length) * starter.scaler_scale
        if starter.predict(face)[0] not in (mood, "neutral"):
            return face
    raise AssertionError("no misread face found")


def window(face: np.ndarray, frames: int, seed: int) -> np.ndarray:
    """A window's frames: the face with small frame-to-frame noise."""
    noise = np.random.default_rng(seed).normal(0.0, 0.05, (frames, LAYOUT.length))
    return face + noise * Model.load(STARTER).scaler_scale


def taught(starter: Model, face: np.ndarray, mood: str, windows: int = 2) -> Model:
    X = np.concatenate([window(face, 18, seed) for seed in range(windows)])
    ids = np.repeat(np.arange(windows), 18)
    return Model(starter.labels, starter.layout, starter.coefs, starter.intercepts, starter.scaler_mean,
                 starter.scaler_scale, calibration=starter.calibration, reference_mean=starter.reference_mean,
                 prototypes=fit_prototypes(starter, X, np.array([mood] * len(X)), ids))


def test_two_corrected_windows_teach_the_mood_on_a_later_day_and_the_relaxed_face_stays_neutral():
    starter = Model.load(STARTER)
    face = misread_face(starter, "sad")
    model = taught(starter, face, "sad")
    later = window(face, 18, seed=99)  # the same expression, other frames
    assert model.predict(later).count("sad") >= 16
    relaxed = np.random.default_rng(5).normal(0.0, 0.02, (18, LAYOUT.length)) * starter.scaler_scale
    assert starter.predict(relaxed).count("neutral") == 18  # what the test relies on
    assert model.predict(relaxed).count("neutral") == 18


def test_prototypes_survive_a_save_and_old_model_files_still_load(tmp_path):
    starter = Model.load(STARTER)  # a file without prototypes
    assert starter.prototypes is None
    model = taught(starter, misread_face(starter, "sad"), "sad")
    model.save(tmp_path / "m.npz")
    again = Model.load(tmp_path / "m.npz")
    faces = np.random.default_rng(3).normal(0.0, 1.0, (10, LAYOUT.length)) * starter.scaler_scale
    np.testing.assert_allclose(again.predict_proba(faces), model.predict_proba(faces))
    assert json.loads(sidecar_path(tmp_path / "m.npz").read_text())["prototypes"]["count"] == 3


def test_prototypes_that_do_not_fit_the_network_are_refused_on_load(tmp_path):
    starter = Model.load(STARTER)
    model = taught(starter, misread_face(starter, "sad"), "sad")
    model.save(tmp_path / "m.npz")
    side = sidecar_path(tmp_path / "m.npz")
    data = json.loads(side.read_text())
    data["prototypes"]["width"] = -1.0
    side.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="corrupt"):
        Model.load(tmp_path / "m.npz")


def test_the_last_layer_learns_a_corrected_mood_without_flipping_the_relaxed_face():
    starter = Model.load(STARTER)
    face = misread_face(starter, "angry", seed=7)
    X = window(face, 36, seed=1)
    W, b = fit_last_layer(starter, X, np.array(["angry"] * len(X)), alpha=0.1, steps=300)
    model = Model(starter.labels, starter.layout, [*starter.coefs[:-1], W], [*starter.intercepts[:-1], b],
                  starter.scaler_mean, starter.scaler_scale)
    assert model.predict(window(face, 18, seed=50)).count("angry") >= 16
    assert model.predict(np.zeros((1, LAYOUT.length)))[0] == "neutral"


def correction_near_the_relaxed_face(starter: Model, scale: float) -> np.ndarray:
    """A seeded window of a subtle expression (``scale`` of the starter's spread around the relaxed face)."""
    rng = np.random.default_rng(0)
    subtle = rng.normal(0, scale, LAYOUT.length) * starter.scaler_scale
    return subtle + rng.normal(0, 0.03, (36, LAYOUT.length)) * starter.scaler_scale


def test_the_default_update_learns_a_subtle_correction_and_keeps_the_relaxed_face_neutral():
    starter = Model.load(STARTER)
    X = correction_near_the_relaxed_face(starter, 0.3)
    assert starter.predict(X).count("sad") == 0
    model = _taught(starter, X, np.array(["sad"] * len(X)), np.zeros(len(X), int), "network", 512, 0, {})
    assert model.predict(X).count("sad") >= 30
    relaxed = np.random.default_rng(5).normal(0.0, 0.02, (18, LAYOUT.length)) * starter.scaler_scale
    assert model.predict(relaxed).count("neutral") == 18
    assert model.predict_proba(np.zeros((1, LAYOUT.length)))[0, starter.labels.index("neutral")] >= 0.75


def test_the_relaxed_face_rows_are_what_holds_it():
    starter = Model.load(STARTER)
    X = correction_near_the_relaxed_face(starter, 0.2)
    neutral = starter.labels.index("neutral")
    held = [_taught(starter, X, np.array(["sad"] * len(X)), np.zeros(len(X), int), "network", 512, 0,
                    {"relaxed_rows": rows}).predict_proba(np.zeros((1, LAYOUT.length)))[0, neutral]
            for rows in (0, 8)]
    assert held[1] >= held[0] + 0.05
