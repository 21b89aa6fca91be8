"""The model file: numpy-only prediction equal to sklearn's, safe loading, atomic save with backup."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from emusify.errors import ModelError
from emusify.reading.model import Model, backup_path, sidecar_path
from emusify.reading.predictor import Predictor
from emusify.reading.training import TrainOptions, model_from_pipeline
from emusify.sensing.features import LAYOUT

ROOT = Path(__file__).resolve().parents[1]
D = LAYOUT.length


def data(k: int = 3, n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = rng.normal(0, 1, (n, D)) + rng.normal(0, 2, (k, D))[y]
    return X.astype(np.float32), np.array(["angry", "happy", "sad", "neutral"])[y]


@functools.cache
def fitted(kind: str = "relu", k: int = 3) -> Pipeline:
    """A small fitted pipeline, cached: ``kind`` is an MLP activation or "logistic"."""
    X, y = data(k)
    if kind == "logistic":
        estimator = LogisticRegression(max_iter=300)
    else:
        estimator = MLPClassifier(hidden_layer_sizes=(16, 8), activation=kind, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Pipeline([("scale", StandardScaler()), ("net", estimator)]).fit(X, y)


def mlp(k: int = 3) -> Model:
    return model_from_pipeline(fitted("relu", k), LAYOUT, TrainOptions())


@pytest.fixture
def model() -> Model:
    return model_from_pipeline(fitted(), LAYOUT, TrainOptions(), meta={"training": {"samples": 150}})


@pytest.mark.parametrize("kind, k", [("relu", 3), ("relu", 2), ("tanh", 4), ("logistic", 3), ("logistic", 2)])
def test_predict_proba_matches_sklearn_after_a_round_trip(tmp_path, kind, k):
    pipe = fitted(kind, k)
    path = tmp_path / "m.npz"
    model_from_pipeline(pipe, LAYOUT, TrainOptions()).save(path)
    loaded = Model.load(path)
    X, _ = data(k, n=40, seed=1)
    np.testing.assert_allclose(loaded.predict_proba(X), pipe.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert loaded.labels == tuple(pipe.classes_)
    assert loaded.predict(X) == list(pipe.predict(X))


def test_sidecar_names_labels_layout_scaler_versions(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    side = json.loads(sidecar_path(path).read_text())
    assert side["labels"] == list(model.labels)
    assert side["layout"] == {"name": LAYOUT.name, "length": LAYOUT.length}
    assert len(side["scaler"]["mean"]) == D and side["calibration"]["mode"] == "none"
    assert side["training"] == {"samples": 150}
    assert Model.load(path).meta["training"] == {"samples": 150}


def test_model_module_never_imports_sklearn():
    code = "import sys, emusify.reading.model; sys.exit('sklearn' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_other_layout_is_rejected_with_retrain_hint(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    with pytest.raises(ModelError, match="face-v0.*train.py"):
        Model.load(path, expected=("face-v0", D))


def test_missing_model_names_collect_and_train(tmp_path):
    with pytest.raises(ModelError, match="collect.py.*train.py"):
        Model.load(tmp_path / "none.npz")


def test_missing_sidecar(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    sidecar_path(path).unlink()
    with pytest.raises(ModelError, match="sidecar.*missing.*train.py"):
        Model.load(path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_or_truncated_npz(tmp_path, model, damage):
    path = tmp_path / "m.npz"
    model.save(path)
    raw = path.read_bytes()
    damaged = {"garbage": b"not a zip file" * 50, "truncated": raw[: len(raw) // 2], "empty": b""}
    path.write_bytes(damaged[damage])
    with pytest.raises(ModelError, match="corrupt or truncated.*train.py"):
        Model.load(path)


def test_truncated_sidecar(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    text = sidecar_path(path).read_text()
    sidecar_path(path).write_text(text[: len(text) // 2])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        Model.load(path)


def test_weights_from_another_save_are_rejected(tmp_path, model):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    model.save(a)
    mlp(2).save(b)
    b.replace(a)  # a's sidecar with b's weights
    with pytest.raises(ModelError, match="does not match its sidecar"):
        Model.load(a)


def test_pickled_arrays_are_never_loaded(tmp_path, model):
    path = tmp_path / "m.npz"
    model.save(path)
    side = json.loads(sidecar_path(path).read_text())
    np.savez(path, coef_0=np.array([object()], dtype=object), intercept_0=np.zeros(1))
    side["weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar_path(path).write_text(json.dumps(side))
    with pytest.raises(ModelError, match="corrupt"):
        Model.load(path)


def test_resave_keeps_previous_model_as_backup(tmp_path, model):
    path = tmp_path / "models" / "m.npz"
    model.save(path)
    first = path.read_bytes()
    newer = mlp(2)
    newer.save(path)
    assert backup_path(path).read_bytes() == first
    assert Model.load(backup_path(path)).labels == model.labels
    assert Model.load(path).labels == newer.labels
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.bak.json", "m.bak.npz", "m.json", "m.npz"]


def test_failed_save_leaves_the_old_model_and_no_temp_files(tmp_path, model, monkeypatch):
    path = tmp_path / "m.npz"
    model.save(path)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("emusify.reading.model.np.savez", disk_full)
    with pytest.raises(ModelError, match="No space left"):
        model.save(path)
    assert Model.load(path).labels == model.labels
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]


def test_wrong_vector_length_is_a_model_error(model):
    with pytest.raises(ModelError, match="retrain"):
        model.predict_proba(np.zeros((2, D + 1)))


def test_predictor_subtracts_a_running_mean_warmed_from_the_reference(model):
    reference = np.full(D, 0.5)
    cal = Model(model.labels, model.layout, model.coefs, model.intercepts, model.scaler_mean,
                model.scaler_scale, calibration="session-mean", reference_mean=reference, prior_frames=10)
    predictor = Predictor(cal)
    np.testing.assert_allclose(predictor.offset, reference)
    x = np.full((1, D), 1.5)
    got = predictor.predict(x)
    expected_mean = (10 * reference + x[0]) / 11
    np.testing.assert_allclose(predictor.offset, expected_mean)
    np.testing.assert_allclose(got, cal.predict_proba(x - expected_mean))
    for _ in range(50):
        predictor.predict(np.repeat(x, 20, axis=0))
    assert np.abs(predictor.offset - 1.5).max() < 0.02  # the user's own mean takes over
    predictor.reset()
    np.testing.assert_allclose(predictor.offset, reference)


def test_predictor_without_calibration_is_the_model(model):
    X, _ = data(n=5, seed=3)
    np.testing.assert_allclose(Predictor(model).predict(X), model.predict_proba(X))
    assert Predictor(model).offset is None


def reference_model(model: Model, reference_mean: np.ndarray) -> Model:
    return Model(model.labels, model.layout, model.coefs, model.intercepts, model.scaler_mean,
                 model.scaler_scale, calibration="reference", reference_mean=reference_mean)


def test_predictor_subtracts_the_users_reference_or_else_the_models(model):
    cal = reference_model(model, np.full(D, 0.5))
    X, _ = data(n=6, seed=4)
    predictor = Predictor(cal)
    np.testing.assert_allclose(predictor.predict(X), cal.predict_proba(X - 0.5))
    np.testing.assert_allclose(predictor.predict(X), cal.predict_proba(X - 0.5))  # no running update
    mine = np.linspace(-1, 1, D)
    predictor.reference = mine  # after a calibration shot
    np.testing.assert_allclose(predictor.offset, mine)
    np.testing.assert_allclose(predictor.predict(X), cal.predict_proba(X - mine))
    given = Predictor(cal, reference=mine, labels=["angry", "sad"])
    kept = cal.predict_proba(X - mine)[:, [0, 2]]
    np.testing.assert_allclose(given.predict(X), kept / kept.sum(axis=1, keepdims=True))
    with pytest.raises(ValueError, match="does not fit"):
        predictor.reference = np.zeros(D + 1)


def test_a_reference_model_survives_save_and_load(tmp_path, model):
    cal = reference_model(model, np.full(D, 0.25))
    cal.save(tmp_path / "m.npz")
    back = Model.load(tmp_path / "m.npz")
    assert back.calibration == "reference"
    np.testing.assert_allclose(back.reference_mean, np.full(D, 0.25))
    with pytest.raises(ValueError, match="reference mean"):
        reference_model(model, None)
