"""Training: grouped validation, the final fit and the numpy-only model it exports.

The only module that imports scikit-learn (and, for the PNG, matplotlib). The fitted network is
exported to a numpy-only :class:`emusify.reading.model.Model`.

Honest validation: frames of one group (a collect.py run, or a subject of an imported set) are never
on both sides of a split; augmented copies join the training side only.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from emusify.errors import DatasetError
from emusify.reading.evaluation import metrics
from emusify.reading.model import Layout, Model
from emusify.reading.provenance import model_meta
from emusify.reading.samples import NEUTRAL, Samples, calibrate, reference_info, with_neutral

log = logging.getLogger(__name__)

EPOCH_BY_EPOCH = 2000  # samples from which the MLP trains epoch by epoch (progress shown)
SMALL_CLASS = 30  # fewer samples than this in some emotion: validation is weak


@dataclass(frozen=True)
class TrainOptions:
    """How to train; the defaults are what ``python train.py`` does."""

    estimator: str = "mlp"  # "mlp" (dense net) or "logistic" (no hidden layer)
    hidden: tuple[int, ...] = (64,)  # with alpha: fixed before benchmarks/accuracy.py measured them
    alpha: float = 1.0  # L2 penalty
    calibration: str = "none"  # "reference": subtract each person's relaxed (neutral) face;
    # "session-mean": subtract each calibration unit's mean vector
    missing: str = "drop"  # "reference" and a person without neutral rows: "drop" them or "offset"
    augment: tuple[str, ...] = ()  # landmark-space: "mirror", "jitter"
    jitter: float = 0.02  # noise in inter-ocular distances for "jitter"
    balance: str = "oversample"  # or "none"
    folds: int = 5
    max_steps: int = 1500  # mini-batch updates at most (epochs = steps / batches per epoch)
    patience: int = 8  # stop after this many epochs without a training-loss gain
    seed: int = 0


def make_splits(samples: Samples, folds: int, seed: int = 0) -> tuple[str, list, list[str]]:
    """The validation scheme, its (train, test) index pairs and the warnings to show the user.

    Groups never straddle a split. With one group only, a clearly labelled within-session split
    (the last quarter of each emotion held out) or none at all.
    """
    keys, y = samples.split, samples.y
    notes: list[str] = []
    n_groups = len(np.unique(keys))
    per_class = Counter(y.tolist())
    if min(per_class.values()) < SMALL_CLASS:
        label, n = min(per_class.items(), key=lambda kv: kv[1])
        notes.append(f"small dataset ({len(y)} samples, only {n} for '{label}'): validation is weak; "
                     "record more with collect.py")
    if n_groups >= 2:
        # A fold needs a group of each emotion to hold out: never more folds than the emotion
        # spread over the most groups has groups (two photos per mood: two folds).
        spread = {label: len(np.unique(keys[y == label])) for label in per_class}
        depth = max(spread.values())
        for label in sorted(per_class):
            if spread[label] < 2:
                notes.append(f"'{label}' comes from one session/group only: it cannot be validated "
                             "on another; record it again in a new collect.py session")
        across = sorted(label for label, groups in spread.items() if groups >= 2)
        if len(across) == 1:  # e.g. one collect.py run and a correction: the held-out side is one mood
            notes.append(f"only '{across[0]}' was recorded in two sessions/groups: a score across "
                         "sessions would test that one mood")
            return _within_session(y, per_class, notes)
        k = min(folds, n_groups, depth)
        splits = _grouped_folds(samples, k, seed) if k >= 2 else []
        if splits:
            known = all(s["group"] is not None for s in samples.sessions if s["samples"])
            how = "leave-one-group-out" if k == n_groups else f"grouped {k}-fold"
            scheme = f"{how} over {n_groups} groups" if known else f"{k}-fold over samples (no group ids)"
            if not known:
                notes.append("some recordings carry no group id: their frames count as independent and "
                             "validation is optimistic")
            return scheme, splits, notes
        notes.append("no emotion was recorded in two sessions/groups: validation across sessions "
                     "is impossible")
        return _within_session(y, per_class, notes)
    notes.append("only one session/group: validation across sessions is impossible")
    return _within_session(y, per_class, notes)


def _grouped_folds(samples: Samples, k: int, seed: int) -> list:
    """StratifiedGroupKFold's splits, fewer folds while it cannot make ``k`` (tiny classes)."""
    for n in range(k, 1, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                cv = StratifiedGroupKFold(n_splits=n, shuffle=True, random_state=seed)
                splits = list(cv.split(samples.X, samples.y, samples.split))
        except ValueError:
            continue
        if all(len(test) for _, test in splits):
            return splits
    return []


def _within_session(y: np.ndarray, per_class: Counter, notes: list[str]) -> tuple[str, list, list[str]]:
    """The last quarter of each emotion's frames held out, or no split when an emotion has one frame."""
    if min(per_class.values()) < 2:
        notes.append("cannot validate yet (an emotion has a single sample): the model is saved "
                     "unvalidated; record more with collect.py")
        return "none", [], notes
    test = np.concatenate([np.flatnonzero(y == c)[-max(1, round(0.25 * n)):] for c, n in per_class.items()])
    train = np.setdiff1d(np.arange(len(y)), test)
    notes.append("falling back to a within-session split (last quarter of each emotion held out): "
                 "neighbouring frames are near-duplicates, so this is optimistic")
    return "within-session (optimistic)", [(train, np.sort(test))], notes


def fit_pipeline(X: np.ndarray, y: np.ndarray, labels: Sequence[str], options: TrainOptions,
                 bar: Any = None) -> Pipeline:
    """Standardize, then fit the estimator; the MLP runs epoch by epoch with ``bar`` showing the loss."""
    X, y = _balanced(np.asarray(X, np.float32), y, options)  # float32: the MLP runs twice as fast
    scaler = StandardScaler().fit(X)
    Xs = scaler.transform(X)
    if options.estimator == "logistic":
        clf: Any = LogisticRegression(C=1.0 / max(options.alpha, 1e-12), max_iter=2000)
        clf.fit(Xs, y)
    elif options.estimator == "mlp":
        clf = _fit_mlp(Xs, y, labels, options, bar)
    else:
        raise DatasetError(f"unknown estimator {options.estimator!r}; use mlp or logistic")
    return Pipeline([("scale", scaler), ("net", clf)])


def _balanced(X: np.ndarray, y: np.ndarray, options: TrainOptions) -> tuple[np.ndarray, np.ndarray]:
    """Oversample every emotion (with replacement, seeded) up to the largest one."""
    if options.balance == "none":
        return X, y
    rng = np.random.default_rng(options.seed)
    counts = Counter(y.tolist())
    top = max(counts.values())
    extra = [rng.choice(np.flatnonzero(y == c), top - n) for c, n in counts.items() if n < top]
    index = np.concatenate([np.arange(len(y)), *extra]).astype(int)
    return X[index], y[index]


def _fit_mlp(X: np.ndarray, y: np.ndarray, labels: Sequence[str], options: TrainOptions,
             bar: Any) -> MLPClassifier:
    """Adam on mini-batches until the training loss stalls; epoch by epoch (shown on ``bar``) for big sets."""
    batch = min(200, len(X))
    epochs = int(np.clip(np.ceil(options.max_steps * batch / len(X)), 10, 2000))
    clf = MLPClassifier(hidden_layer_sizes=options.hidden, alpha=options.alpha, batch_size=batch,
                        random_state=options.seed, max_iter=epochs, n_iter_no_change=options.patience)
    if len(X) < EPOCH_BY_EPOCH:  # small: one call (partial_fit costs ~10 ms a call in overhead)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return clf.fit(X, y)
    best, stale = np.inf, 0
    for epoch in range(epochs):
        clf.partial_fit(X, y, classes=np.asarray(labels))
        loss = clf.loss_curve_[-1]
        if bar is not None:
            bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {loss:.3f}")
        best, stale = (loss, 0) if loss < best - clf.tol else (best, stale + 1)
        if stale > options.patience:
            break
    return clf


def model_from_pipeline(pipe: Pipeline, layout: Sequence, options: TrainOptions,
                        reference_mean: np.ndarray | None = None, meta: dict | None = None) -> Model:
    """The numpy-only Model of a fitted pipeline; its predict_proba equals the pipeline's."""
    scaler, clf = pipe.named_steps["scale"], pipe.named_steps["net"]
    labels = tuple(str(c) for c in clf.classes_)
    if isinstance(clf, MLPClassifier):
        coefs, intercepts = list(clf.coefs_), list(clf.intercepts_)
        hidden, out = clf.activation, clf.out_activation_
    else:
        coefs, intercepts = [clf.coef_.T], [clf.intercept_]
        hidden, out = "identity", "logistic" if len(labels) == 2 else "softmax"
    return Model(labels, Layout(*layout), coefs, intercepts, scaler.mean_, scaler.scale_, hidden, out,
                 options.calibration, reference_mean if options.calibration != "none" else None,
                 meta=meta or {})


def cross_validate(samples: Samples, labels: Sequence[str], options: TrainOptions, progress: bool = True,
                   fit_predict: Callable[[np.ndarray, np.ndarray], list] | None = None) -> dict[str, Any]:
    """Out-of-fold predictions over the grouped splits, summed up by :func:`metrics`.

    ``fit_predict(train_rows, test_rows)`` fits on the training rows (and their augmented copies)
    and returns the test rows' labels, None for a row it must not score (a held-out person's
    calibration shot); by default :func:`fit_pipeline` does the fitting.
    """
    scheme, splits, notes = make_splits(samples, options.folds, options.seed)
    for note in notes:
        log.warning(note)
    result: dict[str, Any] = {"scheme": scheme, "folds": len(splits), "warnings": notes}
    if not splits:
        return result
    truth, guess = [], []
    with tqdm(splits, desc="validating", unit="fold", disable=not progress, leave=False) as bar:
        for train, test in bar:
            if len(set(samples.y[train].tolist())) < 2:
                log.warning("a fold holds one emotion only in training; skipped")
                continue
            if fit_predict is None:
                pipe = fit_pipeline(*training_side(samples, train), labels, options, bar)
                guess += pipe.predict(samples.X[test]).tolist()
                truth += samples.y[test].tolist()
            else:  # None: a row it did not score (a held-out person's calibration shot)
                pairs = [(t, g) for t, g in zip(samples.y[test].tolist(), fit_predict(train, test))
                         if g is not None]
                truth += [t for t, _ in pairs]
                guess += [g for _, g in pairs]
    result.update(metrics(truth, guess, labels) if truth else {})
    return result


def training_side(samples: Samples, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.zeros(len(samples.y), bool)
    keep[train] = True
    aug = keep[samples.aug_of] if len(samples.aug_of) else np.zeros(0, bool)
    X = np.concatenate([samples.X[keep], samples.aug_X[aug]])
    y = np.concatenate([samples.y[keep], samples.y[samples.aug_of[aug]]])
    return X, y


def train(samples: Samples, layout: Sequence, options: TrainOptions | None = None,
          progress: bool = True) -> Model:
    """Validate honestly, then fit on everything; the summary and metrics go into ``model.meta``.

    With ``calibration="reference"`` every calibration unit (a person) is centred on the
    reference of its neutral rows (:func:`emusify.reading.samples.calibrate`) and the model's
    ``reference_mean`` is the mean of those references: for one person (train.py on a user's
    recordings) that is the user's own reference.

    Raises:
        DatasetError: no samples, fewer than two emotions, or reference calibration without
            neutral rows.
    """
    options = options or TrainOptions()
    labels = emotions_of(samples)
    started = time.monotonic()
    if options.calibration == "reference":
        if options.missing == "drop":
            samples = with_neutral(samples)
            labels = emotions_of(samples)  # dropping people without neutral rows may drop an emotion
        fit_predict = _fold_references(samples, labels, options)
        validation = cross_validate(samples, labels, options, progress, fit_predict)
        samples, reference = calibrate(samples, "reference", options.missing)
    else:
        if options.calibration == "session-mean":
            samples, reference = calibrate(samples, "session-mean")
        else:
            reference = None
        validation = cross_validate(samples, labels, options, progress)
    with tqdm(total=1, desc="final fit", disable=not progress, leave=False) as bar:
        pipe = fit_pipeline(*training_side(samples, np.arange(len(samples.y))), labels, options, bar)
        bar.update()
    meta = model_meta(samples, options, time.monotonic() - started, validation)
    if options.calibration == "reference":
        meta["reference"] = reference_info(samples)
    return model_from_pipeline(pipe, layout, options, reference, meta)


def _fold_references(samples: Samples, labels: Sequence[str],
                     options: TrainOptions) -> Callable[[np.ndarray, np.ndarray], list]:
    """Validation that never makes a reference from the rows it scores: each person's reference
    comes from their neutral rows on the fold's training side; a person held out entirely gives
    the first half of their neutral rows as a calibration shot, and those rows are not scored
    (None), as run.py never scores its shot."""
    def fit_predict(train: np.ndarray, test: np.ndarray) -> list:
        fit = np.zeros(len(samples.y), bool)
        fit[train] = True
        shot = _shot_rows(samples, fit, test)
        centred, _ = calibrate(samples, "reference", options.missing, fit_rows=fit | shot)
        pipe = fit_pipeline(*training_side(centred, train), labels, options)
        guess = pipe.predict(centred.X[test]).tolist()
        return [None if shot[i] else g for i, g in zip(test, guess)]

    return fit_predict


def _shot_rows(samples: Samples, fit: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The first half (at least one) of the neutral test rows of each person with no neutral row in
    ``fit``: the calibration shot a held-out person gives."""
    shot = np.zeros(len(samples.y), bool)
    neutral = samples.y == NEUTRAL
    for unit in np.unique(samples.unit[test]):
        rows = samples.unit == unit
        if (rows & neutral & fit).any():
            continue
        candidates = np.intersect1d(np.flatnonzero(rows & neutral), test)
        shot[candidates[: (len(candidates) + 1) // 2]] = True
    return shot


def emotions_of(samples: Samples) -> list[str]:
    """The sorted emotions of ``samples``.

    Raises:
        DatasetError: fewer than two.
    """
    labels = sorted(set(samples.y.tolist()))
    if len(labels) < 2:
        have = labels[0] if labels else "none"
        raise DatasetError(f"need recordings of at least two emotions (have: {have}); "
                           "record more with collect.py")
    return labels
