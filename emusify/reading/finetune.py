"""Fine-tune the starter model on a user's few recordings: the generic model as a prior.

Pure numpy. With one or two takes per emotion a network trained from scratch has too little to go
on; starting from the starter's weights and pulling every weight back towards them (an L2 penalty
on the difference, "L2-SP") keeps what the starter knows about faces and moves only as far as the
user's samples ask. The starter's scaler is kept. Measured on held-out people in
docs/results/accuracy.md; the settings below were chosen on jaffe and muxspace people, never on the
reported taiwanese_tcced protocol.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Sequence

import numpy as np

from emusify.reading.model import Model
from emusify.reading.provenance import model_meta
from emusify.reading.samples import Samples, reference_info
from emusify.reading.training import TrainOptions, cross_validate, emotions_of, training_side
from emusify.sensing.reference import NEUTRAL, reference_from_vectors

STEPS, LEARNING_RATE, ALPHA = 300, 3e-3, 1.0  # full-batch Adam steps, step size, pull to the prior
ANCHORS = 512  # distillation points holding the moods without recordings to the prior (as relearn.py's)


class Weights(NamedTuple):
    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]


def restricted(prior: Model, labels: Sequence[str]) -> Weights:
    """The prior's weights with its output layer cut down to ``labels`` (in that order).

    Raises:
        ValueError: a label the prior does not know, or a prior with a single logistic output.
    """
    unknown = [x for x in labels if x not in prior.labels]
    if unknown:
        raise ValueError(f"the starter model does not know {', '.join(unknown)}")
    if prior.output_activation != "softmax" or prior.hidden_activation != "relu":
        raise ValueError("the starter model is not a softmax network with relu units")
    columns = [prior.labels.index(x) for x in labels]
    coefs = [np.array(W, np.float64) for W in prior.coefs]
    intercepts = [np.array(b, np.float64) for b in prior.intercepts]
    coefs[-1], intercepts[-1] = coefs[-1][:, columns], intercepts[-1][columns]
    return Weights(coefs, intercepts)


def fine_tune(prior: Model, X: np.ndarray, y: np.ndarray, labels: Sequence[str],
              steps: int = STEPS, learning_rate: float = LEARNING_RATE, alpha: float = ALPHA,
              anchors: int = 0, seed: int = 0, dtype: Any = np.float64) -> Model:
    """A model for ``labels`` that starts at ``prior`` and is fitted to (X, y) (already calibrated).

    Class-balanced cross-entropy, full-batch Adam, plus alpha / (2 n) * ||W - W_prior||^2.
    ``anchors`` > 0 adds that many points drawn around the prior's training distribution (its
    scaler), where the model is held to the prior's own answers (distillation, weighing as much as
    the user's samples together): with samples of one or two moods only, the moods nobody showed
    keep their place instead of the network answering the shown mood everywhere.
    ``dtype`` np.float32 halves the time (run.py's background updates use it).
    The returned model has the prior's scaler, activations and layout, no calibration and no meta
    (the caller sets them).
    """
    start = restricted(prior, labels)
    Xs = (np.asarray(X, np.float64) - prior.scaler_mean) / prior.scaler_scale
    index = {label: i for i, label in enumerate(labels)}
    target = np.array([index[v] for v in np.asarray(y).tolist()])
    n, k = len(target), len(labels)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), target] = 1.0
    counts = np.bincount(target, minlength=k).astype(float)
    weight = (n / (np.count_nonzero(counts) * counts[target]))[:, None] / n  # each emotion weighs the same
    if anchors > 0:
        points = np.random.default_rng(seed).normal(size=(anchors, Xs.shape[1]))
        soft = _forward(points, start.coefs, start.intercepts)
        Xs, onehot = np.concatenate([Xs, points]), np.concatenate([onehot, soft])
        weight = np.concatenate([weight, np.full((anchors, 1), 1.0 / anchors)])
    Xs, onehot, weight = Xs.astype(dtype), onehot.astype(dtype), weight.astype(dtype)
    params = [p.astype(dtype) for p in start.coefs + start.intercepts]
    anchor = [p.copy() for p in params]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    layers = len(start.coefs)
    for step in range(1, steps + 1):
        grads = _gradients(Xs, onehot, weight, params[:layers], params[layers:], anchor[:layers], alpha / n)
        for j, g in enumerate(grads):
            m, v = moments[j]
            m[:] = 0.9 * m + 0.1 * g
            v[:] = 0.999 * v + 0.001 * g * g
            params[j] = params[j] - learning_rate * (m / (1 - 0.9**step)) / (
                np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return Model(tuple(labels), prior.layout, params[:layers], params[layers:], prior.scaler_mean,
                 prior.scaler_scale, prior.hidden_activation, "softmax")


def _forward(Xs: np.ndarray, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> np.ndarray:
    """Softmax probabilities of standardised rows."""
    a = Xs
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        a = a @ W + b
        a = np.maximum(a, 0.0) if i < len(coefs) - 1 else a
    z = np.exp(a - a.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _gradients(Xs: np.ndarray, onehot: np.ndarray, weight: np.ndarray, coefs: list[np.ndarray],
               intercepts: list[np.ndarray], anchor: list[np.ndarray], pull: float) -> list[np.ndarray]:
    """Gradients of the weighted cross-entropy plus the pull, weights first, then intercepts."""
    acts = [Xs]
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        z = acts[-1] @ W + b
        acts.append(np.maximum(z, 0.0) if i < len(coefs) - 1 else z)
    z = acts[-1] - acts[-1].max(axis=1, keepdims=True)
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    delta = (proba - onehot) * weight
    grad_w, grad_b = [np.empty(0)] * len(coefs), [np.empty(0)] * len(coefs)
    for i in range(len(coefs) - 1, -1, -1):
        grad_w[i] = acts[i].T @ delta + pull * (coefs[i] - anchor[i])
        grad_b[i] = delta.sum(axis=0)
        if i:
            delta = (delta @ coefs[i].T) * (acts[i] > 0)
    return grad_w + grad_b


def train_from_prior(samples: Samples, prior: Model, options: TrainOptions, progress: bool = True,
                     prior_name: str = "starter", keep_all: bool = True, anchors: int = ANCHORS) -> Model:
    """Validate and fit like :func:`emusify.reading.training.train`, but by fine-tuning ``prior``.

    ``keep_all``: the model reads every mood of the prior, those without recordings too (their
    answers held to the prior's by ``anchors`` distillation points, see :func:`fine_tune`), so a
    window led by a mood the user never recorded is read as that mood; False: only the recorded
    moods (before issue 23). Validation scores the recorded moods over every label the model reads.

    A "reference" prior (the starter) reads deviations from the person's relaxed face: the user's
    vectors are centred on :func:`emusify.sensing.reference.reference_from_vectors` of their neutral rows,
    or, without neutral rows, on the prior's ``reference_mean`` (what run.py uses for a new user
    before a calibration shot). The model keeps "reference" calibration with that vector as its
    ``reference_mean``. An older "session-mean" prior: centred on the user's own mean (the mean of
    the per-emotion means); run.py then starts its running mean from there. In validation the
    centre comes from the training folds only.

    Raises:
        DatasetError: fewer than two emotions.
    """
    recorded = emotions_of(samples)
    labels = list(prior.labels) if keep_all else recorded
    unrecorded = set(labels) - set(recorded)
    started = time.monotonic()
    mode = "reference" if prior.calibration == "reference" else "session-mean"

    def fit(rows: np.ndarray) -> tuple[Model, np.ndarray]:
        X, y = training_side(samples, rows)
        offset = user_centre(samples.X[rows], samples.y[rows], prior, mode)
        return fine_tune(prior, X - offset, y, labels, anchors=anchors if unrecorded else 0,
                         seed=options.seed), offset

    def fit_predict(train: np.ndarray, test: np.ndarray) -> list[str]:
        model, offset = fit(train)
        return model.predict(samples.X[test] - offset)

    validation = cross_validate(samples, labels, options, progress, fit_predict)
    model, offset = fit(np.arange(len(samples.y)))
    model.calibration, model.reference_mean = mode, offset
    model.meta = model_meta(samples, options, time.monotonic() - started, validation)
    model.meta["training"]["prior"] = _prior_summary(prior, prior_name)
    if mode == "reference":
        has_neutral = bool((samples.y == NEUTRAL).any())
        model.meta["reference"] = reference_info(samples, "recordings" if has_neutral else "prior")
    return model


def user_centre(X: np.ndarray, y: np.ndarray, prior: Model, mode: str) -> np.ndarray:
    """What the user's vectors are centred on before fine-tuning (see :func:`train_from_prior`)."""
    if mode == "session-mean":
        return own_mean(X, y)
    neutral = np.asarray(y) == NEUTRAL
    if neutral.any():
        return reference_from_vectors(X[neutral])
    assert prior.reference_mean is not None  # a "reference" model always has one
    return np.asarray(prior.reference_mean, dtype=np.float64)


def own_mean(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean of the per-emotion mean vectors."""
    return np.mean([X[y == label].mean(axis=0) for label in np.unique(y)], axis=0)


def _prior_summary(prior: Model, name: str) -> dict[str, Any]:
    return {"model": name, "labels": list(prior.labels), "created": prior.meta.get("created"),
            "steps": STEPS, "learning_rate": LEARNING_RATE, "alpha": ALPHA}
