"""Fine-tuning a prior model on a user's few samples (emusify.reading.finetune), on synthetic vectors."""

from __future__ import annotations

import numpy as np
import pytest

from emusify.reading.finetune import fine_tune, own_mean, restricted, train_from_prior
from emusify.reading.model import Layout
from emusify.reading.samples import Samples
from emusify.reading.training import TrainOptions, fit_pipeline, model_from_pipeline

D = 12
LABELS = ("angry", "happy", "neutral", "sad")
LAYOUT = Layout("test", D)


def clusters(rng: np.random.Generator, centres: np.ndarray, per: int, spread: float = 0.3):
    X = np.concatenate([c + rng.normal(0, spread, (per, D)) for c in centres])
    return X, np.repeat(LABELS[: len(centres)], per)


@pytest.fixture(scope="module")
def prior():
    """A 4-mood network fitted on well separated synthetic moods."""
    rng = np.random.default_rng(0)
    X, y = clusters(rng, np.eye(4, D) * 3, 60)
    options = TrainOptions(hidden=(16,), max_steps=400)
    return model_from_pipeline(fit_pipeline(X, y, LABELS, options), LAYOUT, options)


def test_restricted_keeps_the_asked_labels_in_their_order(prior):
    weights = restricted(prior, ["sad", "happy"])
    full = prior.coefs[-1]
    np.testing.assert_array_equal(weights.coefs[-1], full[:, [3, 1]])
    np.testing.assert_array_equal(weights.intercepts[-1], prior.intercepts[-1][[3, 1]])
    with pytest.raises(ValueError, match="calm"):
        restricted(prior, ["happy", "calm"])


def test_no_steps_is_the_prior_on_its_labels(prior):
    X = np.random.default_rng(1).normal(size=(5, D))
    tuned = fine_tune(prior, X, ["happy"] * 5, ["happy", "sad"], steps=0)
    expected = prior.predict_proba(X)[:, [1, 3]]
    np.testing.assert_allclose(tuned.predict_proba(X), expected / expected.sum(axis=1, keepdims=True))


def test_a_user_whose_moods_look_different_is_learned(prior):
    """The user's happy and sad sit where the prior puts angry and neutral: a few samples fix that."""
    rng = np.random.default_rng(2)
    centres = np.eye(4, D)[[0, 2]] * 3  # the prior's angry and neutral places
    X, _ = clusters(rng, centres, 4)
    y = np.repeat(["happy", "sad"], 4)
    before = np.mean(np.array(fine_tune(prior, X, y, ["happy", "sad"], steps=0).predict(X)) == y)
    after = np.mean(np.array(fine_tune(prior, X, y, ["happy", "sad"]).predict(X)) == y)
    assert before <= 0.5 and after == 1.0


def test_the_pull_keeps_weights_near_the_prior(prior):
    rng = np.random.default_rng(3)
    X, y = clusters(rng, np.eye(4, D)[[0, 2]] * 3, 4)
    y = np.where(y == "angry", "happy", "sad")
    loose = fine_tune(prior, X, y, ["happy", "sad"], alpha=0.0)
    tight = fine_tune(prior, X, y, ["happy", "sad"], alpha=1e4)
    start = restricted(prior, ["happy", "sad"]).coefs[0]
    assert np.abs(tight.coefs[0] - start).max() < np.abs(loose.coefs[0] - start).max() / 5


def test_train_from_prior_validates_and_calibrates_on_the_users_mean(prior):
    rng = np.random.default_rng(4)
    offset = np.full(D, 0.7)  # this user's face sits elsewhere than the prior's people
    X, y = clusters(rng, np.eye(4, D) * 3 + offset, 10)
    groups = np.tile(np.repeat(["run0", "run1"], 5), 4)
    samples = Samples(X.astype(np.float32), y, groups, groups, np.zeros((0, D), np.float32),
                      np.zeros(0, int), np.zeros(0, str), [])
    model = train_from_prior(samples, prior, TrainOptions(calibration="session-mean"), progress=False)
    assert model.labels == LABELS and model.calibration == "session-mean"
    np.testing.assert_allclose(model.reference_mean, own_mean(X, y), rtol=1e-5)
    assert model.meta["validation"]["scheme"].startswith("leave-one-group-out")
    assert model.meta["validation"]["accuracy"] > 0.9
    assert model.meta["training"]["prior"]["labels"] == list(LABELS)


def test_anchors_keep_the_moods_nobody_showed(prior):
    """Samples of one mood only (a first correction): the anchors keep the prior's other moods."""
    rng = np.random.default_rng(5)
    X = np.eye(4, D)[1] * 3 + 0.8 + rng.normal(0, 0.3, (20, D))  # happy, a little off the prior's place
    y = ["happy"] * 20
    others = np.eye(4, D)[[0, 2, 3]] * 3  # the prior's angry, neutral and sad centres
    bare = fine_tune(prior, X, y, LABELS, steps=600, learning_rate=1e-2)
    anchored = fine_tune(prior, X, y, LABELS, steps=600, learning_rate=1e-2, anchors=512)
    assert anchored.predict(X) == ["happy"] * 20
    assert anchored.predict(others) == ["angry", "neutral", "sad"]
    assert bare.predict(others).count("happy") >= 2  # what the anchors prevent
    kept = anchored.predict_proba(others)[[0, 1, 2], [0, 2, 3]]
    assert kept.min() > 0.9


def test_a_reference_prior_centres_the_user_on_their_neutral_rows(prior):
    rng = np.random.default_rng(5)
    face = rng.normal(0, 2, D)  # this user's relaxed face, far from the prior's people
    X, y = clusters(rng, np.eye(4, D) * 3 + face, 8)
    ref_prior = model_from_pipeline(fit_pipeline(*clusters(rng, np.eye(4, D) * 3, 30), LABELS,
                                                 TrainOptions(hidden=(16,), max_steps=200)),
                                    LAYOUT, TrainOptions(calibration="reference"), np.eye(4, D)[2] * 3)
    samples = Samples(X.astype(np.float32), y, np.array([f"g{i % 2}" for i in range(len(y))]),
                      np.full(len(y), ""), np.zeros((0, D), np.float32), np.zeros(0, int),
                      np.zeros(0, str), [])
    model = train_from_prior(samples, ref_prior, TrainOptions(folds=2), progress=False)
    assert model.calibration == "reference"
    np.testing.assert_allclose(model.reference_mean, np.median(X[y == "neutral"], axis=0), rtol=1e-5)
    no_neutral = Samples(*(a[y != "neutral"] if i < 4 else a for i, a in enumerate(samples)))
    fallback = train_from_prior(no_neutral, ref_prior, TrainOptions(folds=2), progress=False)
    np.testing.assert_allclose(fallback.reference_mean, ref_prior.reference_mean)
