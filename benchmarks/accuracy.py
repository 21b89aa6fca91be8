"""Accuracy of face_vector + scikit-learn on the cached shared sets (run benchmarks/extract.py first).

    python benchmarks/accuracy.py            # the full table (about 40 minutes on 2 cores)
    python benchmarks/accuracy.py --quick    # logistic regression only
    python benchmarks/accuracy.py --mlp-only --only "grouped,leave-one"   # some rows, MLP only

The MLP is train.py's own (emusify.training.fit_pipeline with the TrainOptions defaults: one
hidden layer of 64, alpha 1.0, classes balanced by oversampling). Hyper-parameters: logistic
regression's C is chosen by an inner subject-grouped 3-fold search on the training side only
(nested) for generic rows; personal rows use C=0.1 and the MLP its defaults, all fixed in advance.
Nothing is chosen on a reported test set. Set OMP_NUM_THREADS=1: threaded BLAS makes these small
fits several times slower on 2 cores.
Calibration images (each person's first two neutral images) are never tested on, in any row.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from extract import SETS, load_cache
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emusify import features
from emusify.finetune import fine_tune, own_mean
from emusify.landmarks import Landmarks
from emusify.training import TrainOptions, fit_pipeline, model_from_pipeline

CLASSES = {7: ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
           4: ("angry", "happy", "neutral", "sad")}
TCCED = "taiwanese_tcced"
WEIGHT = 5  # the person's own samples count this many times next to the generic prior
PRIOR_FRAMES = 5  # the running mean starts from the training mean with this weight
COPIES = 2  # augmented copies per face


class Data(NamedTuple):
    X: np.ndarray  # (n, d) face vectors
    aug: np.ndarray  # (n, COPIES, d): mirrored and jittered copies (train.py --augment mirror,jitter)
    y: np.ndarray
    group: np.ndarray  # "<set>:<person>", or "<set>:#<i>" when unknown
    session: np.ndarray
    calib: np.ndarray  # True: a calibration image (first two neutrals of a person), never tested


def vectors(face: np.ndarray, size: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The face vector of one cached face and its augmented copies.

    No turned copy: face3d-v1 aligns the face in 3-D, so a turned head gives the same vector.
    """
    lm = Landmarks(face, None, None, None, (int(size[0]), int(size[1])), "cache")
    copies = [features.mirror(lm), features.jitter(lm, 0.02, rng)]
    return features.face_vector(lm), np.stack([features.face_vector(c) for c in copies])


def load(dataset: str) -> Data:
    """Vectors of one cached set (contempt dropped)."""
    cache, rng = load_cache(dataset), np.random.default_rng(0)
    keep = cache["label"] != "contempt"
    pairs = [vectors(f, s, rng) for f, s in zip(cache["face"][keep], cache["image_size"][keep])]
    group = np.array([f"{dataset}:{g}" if g else f"{dataset}:#{i}"
                      for i, g in enumerate(cache["group"][keep])])
    y, names = cache["label"][keep], cache["name"][keep]
    calib = np.zeros(len(y), bool)
    for g in np.unique(group):
        neutral = np.flatnonzero((group == g) & (y == "neutral"))
        calib[neutral[np.argsort(names[neutral])][:2]] = len(neutral) >= 2
    return Data(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), y, group,
                cache["session"][keep], calib)


def take(d: Data, mask: np.ndarray) -> Data:
    return Data(*(field[mask] for field in d))


def join(parts: list[Data]) -> Data:
    return Data(*(np.concatenate(fields) for fields in zip(*parts)))


class Trainer:
    """The MLP exactly as train.py fits it (emusify.training.fit_pipeline with its defaults)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> Trainer:
        labels = sorted(set(y.tolist()))
        self.pipe = fit_pipeline(X, y, labels, TrainOptions())
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.pipe.predict(X)


def estimator(kind: str, grouped: bool) -> object:
    """A fresh pipeline; grouped=True wraps logistic regression in a nested C search."""
    if kind == "mlp":
        return Trainer()
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    if not grouped:
        return pipe
    return GridSearchCV(pipe, {"logisticregression__C": [0.01, 0.1, 1.0]}, cv=GroupKFold(3))


def fit(kind: str, train: Data, weight: np.ndarray | None = None, augment: bool = False,
        grouped: bool = False) -> object:
    """Fit on ``train`` (rows repeated ``weight`` times; augmented copies added when asked)."""
    X, y, g = train.X, train.y, train.group
    if augment:
        X = np.concatenate([X, train.aug.reshape(-1, X.shape[1])])
        y, g = np.concatenate([y, np.repeat(y, COPIES)]), np.concatenate([g, np.repeat(g, COPIES)])
    if weight is not None:
        reps = np.concatenate([weight, np.repeat(weight, COPIES)]) if augment else weight
        X, y, g = np.repeat(X, reps, axis=0), np.repeat(y, reps), np.repeat(g, reps)
    model = estimator(kind, grouped and len(np.unique(g)) >= 3)
    return model.fit(X, y, groups=g) if isinstance(model, GridSearchCV) else model.fit(X, y)


def calibrated(d: Data, mode: str) -> Data:
    """Each person's vectors minus the mean of their calibration neutrals ("neutral") or of all ("mean").

    People without a reference (no calibration neutrals; fewer than 3 images) are dropped.
    """
    X, aug, keep = d.X.copy(), d.aug.copy(), np.zeros(len(d.y), bool)
    for g in np.unique(d.group):
        mine = d.group == g
        ref = mine & d.calib if mode == "neutral" else mine
        if ref.sum() < (2 if mode == "neutral" else 3):
            continue
        offset = d.X[ref].mean(axis=0)
        X[mine] -= offset
        aug[mine] -= offset
        keep |= mine
    return take(d._replace(X=X, aug=aug), keep)


def running(d: Data, start: np.ndarray, seed: int = 0) -> Data:
    """Each person's frames minus the causal running mean of their frames in a random order."""
    X, rng = d.X.copy(), np.random.default_rng(seed)
    for g in np.unique(d.group):
        rows = rng.permutation(np.flatnonzero(d.group == g))
        sums = np.cumsum(d.X[rows], axis=0) + start * PRIOR_FRAMES
        X[rows] = d.X[rows] - sums / (np.arange(1, len(rows) + 1) + PRIOR_FRAMES)[:, None]
    return d._replace(X=X)


def evaluate(kind: str, train: Data, test: Data, calibration: str = "none", **options) -> tuple[float, int]:
    """(accuracy, images scored) on ``test`` (calibration images not scored), with a calibration mode.

    calibration: "none"; "neutral" (a short neutral recording per person); "running" (training people
    minus their mean, test people minus the running mean of their unlabelled frames).
    """
    weight = options.pop("weight", None)
    if weight is not None:  # per-row weights travel with the rows through calibration
        train = train._replace(session=np.char.add(train.session, np.char.mod("|%d", weight)))
    if calibration == "neutral":
        train, test = calibrated(train, "neutral"), calibrated(test, "neutral")
    elif calibration == "running":
        test = running(test, train.X.mean(axis=0))
        train = calibrated(train, "mean")
    if weight is not None:
        options["weight"] = np.array([int(s.rsplit("|", 1)[1]) for s in train.session])
    test = take(test, ~test.calib)
    if not len(test.y) or not len(train.y):
        return float("nan"), 0
    model = fit(kind, train, **options)
    return float(np.mean(model.predict(test.X) == test.y)), len(test.y)


def restrict(d: Data, labels: tuple[str, ...]) -> Data:
    return take(d, np.isin(d.y, labels))


def first_per_emotion(d: Data, n: int | None) -> Data:
    """The first ``n`` training images of each emotion (the calibration neutrals always stay)."""
    if n is None:
        return d
    keep = d.calib.copy()
    for label in np.unique(d.y):
        keep[np.flatnonzero((d.y == label) & ~d.calib)[:n]] = True
    return take(d, keep)


def personal(sets: dict[str, Data], kind: str, labels: tuple[str, ...], calibration: str = "none",
             prior: bool = False, per_emotion: int | None = None, augment: bool = False) -> float:
    """Mean over tcced performers: train on types 1+2, test on type 3 and the third neutral.

    calibration "own": everyone minus their own mean; the performer's mean is taken over their
    training images only (their recordings), and the same offset is applied to their test images.
    """
    t = restrict(sets[TCCED], labels)
    others = [restrict(sets[s], labels) for s in sets if s != TCCED]
    scores = []
    for g in np.unique(t.group):
        mine = t.group == g
        train = first_per_emotion(take(t, mine & (np.isin(t.session, ["1", "2"]) | t.calib)), per_emotion)
        test = take(t, mine & ((t.session == "3") | (t.y == "neutral")))
        weight, pool, mode = None, join([take(t, ~mine)] + others), calibration
        if calibration == "own":
            offset = train.X.mean(axis=0)
            train = train._replace(X=train.X - offset, aug=train.aug - offset)
            test = test._replace(X=test.X - offset)
            pool, mode = calibrated(pool, "mean"), "none"
        if prior:
            weight = np.concatenate([np.full(len(train.y), WEIGHT), np.ones(len(pool.y), int)])
            train = join([train, pool])
        scores.append(evaluate(kind, train, test, mode, weight=weight, augment=augment)[0])
    return float(np.nanmean(scores))


_GENERIC: dict[tuple[str, tuple[str, ...]], object] = {}


def generic_without(sets: dict[str, Data], person: str, labels: tuple[str, ...]):
    """The starter recipe (train.py's MLP; people with 3+ moods, minus their own mean) without ``person``."""
    key = (person, labels)
    if key not in _GENERIC:
        pool = restrict(join([take(d, d.group != person) for d in sets.values()]), labels)
        varied = [g for g in np.unique(pool.group) if len(set(pool.y[pool.group == g].tolist())) >= 3]
        pool = calibrated(take(pool, np.isin(pool.group, varied)), "mean")
        options = TrainOptions()  # the pool is centred already; fine-tuning centres the performer
        pipe = fit_pipeline(pool.X, pool.y, sorted(set(pool.y.tolist())), options)
        _GENERIC[key] = model_from_pipeline(pipe, (features.LAYOUT.name, features.LAYOUT.length), options)
    return _GENERIC[key]


def fine_tuned(sets: dict[str, Data], kind: str, labels: tuple[str, ...],
               per_emotion: int | None = None) -> float:
    """Personal later-session with train.py's --prior starter: the starter recipe, minus the performer,
    fine-tuned on the performer's own (augmented, own-mean centred) training images. MLP only."""
    if kind != "mlp":
        return float("nan")
    t = restrict(sets[TCCED], labels)
    scores = []
    for g in np.unique(t.group):
        mine = t.group == g
        train = first_per_emotion(take(t, mine & (np.isin(t.session, ["1", "2"]) | t.calib)), per_emotion)
        test = take(t, mine & ((t.session == "3") | (t.y == "neutral")) & ~t.calib)
        offset = own_mean(train.X, train.y)
        X = np.concatenate([train.X, train.aug.reshape(-1, train.X.shape[1])]) - offset
        y = np.concatenate([train.y, np.repeat(train.y, COPIES)])
        model = fine_tune(generic_without(sets, g, labels), X, y, sorted(set(train.y.tolist())))
        scores.append(np.mean(np.array(model.predict(test.X - offset)) == test.y))
    return float(np.mean(scores))


def read_as(sets: dict[str, Data], name: str, kind: str, labels: tuple[str, ...],
            restrict_to: bool = True) -> float:
    """Grouped CV with running calibration of a 7-mood MLP, scored on faces of ``labels``: its answer
    restricted to ``labels`` (what run.py does when only those moods have songs), or, with
    ``restrict_to=False``, any other answer counted as neutral (where its music would fall back to).
    MLP only."""
    if kind != "mlp":
        return float("nan")
    d = restrict(sets[name], CLASSES[7])
    hits = []
    for tr, te in GroupKFold(7).split(d.X, d.y, d.group):
        train, test = take(d, np.isin(np.arange(len(d.y)), tr)), take(d, np.isin(np.arange(len(d.y)), te))
        test, train = running(test, train.X.mean(axis=0)), calibrated(train, "mean")
        test = take(test, ~test.calib & np.isin(test.y, labels))
        pipe = fit_pipeline(train.X, train.y, sorted(set(train.y.tolist())), TrainOptions())
        classes = list(pipe.classes_)
        proba = pipe.predict_proba(test.X)
        if restrict_to:
            guess = np.array(labels)[proba[:, [classes.index(c) for c in labels]].argmax(axis=1)]
        else:
            guess = np.array(classes)[proba.argmax(axis=1)]
            guess = np.where(np.isin(guess, labels), guess, "neutral")
        hits += list(guess == test.y)
    return float(np.mean(hits))


def grouped(sets: dict[str, Data], name: str, kind: str, labels: tuple[str, ...], calibration: str = "none",
            augment: bool = False) -> float:
    """Subject-grouped cross-validation within one set (7 folds)."""
    d = restrict(sets[name], labels)
    results = [evaluate(kind, take(d, np.isin(d.group, d.group[tr]) & ~np.isin(np.arange(len(d.y)), te)),
                        take(d, np.isin(np.arange(len(d.y)), te)), calibration, grouped=True, augment=augment)
               for tr, te in GroupKFold(7).split(d.X, d.y, d.group)]
    return _pooled(results)


def leave_out(sets: dict[str, Data], name: str, kind: str, labels: tuple[str, ...],
              calibration: str = "none") -> float:
    """Train on every other set, test on ``name``."""
    train = join([restrict(sets[s], labels) for s in sets if s != name])
    return _pooled([evaluate(kind, train, restrict(sets[name], labels), calibration, grouped=True)])


def _pooled(results: list[tuple[float, int]]) -> float:
    counts = sum(n for _, n in results)
    return sum(a * n for a, n in results if n) / counts if counts else float("nan")


def rows() -> list[tuple[str, Callable[..., float]]]:
    """(row name, function(sets, kind, labels) -> accuracy) in table order."""
    table: list[tuple[str, Callable[..., float]]] = [
        ("personal later-session, own data only", lambda s, k, c: personal(s, k, c)),
        ("personal + generic prior", lambda s, k, c: personal(s, k, c, prior=True)),
        ("personal + prior, neutral calibration", lambda s, k, c: personal(s, k, c, "neutral", True)),
        ("personal + prior, running calibration", lambda s, k, c: personal(s, k, c, "running", True)),
        ("personal + prior, own-mean calibration", lambda s, k, c: personal(s, k, c, "own", True)),
        ("personal, starter fine-tuned (train.py --prior)", lambda s, k, c: fine_tuned(s, k, c)),
        ("personal own only, augmented", lambda s, k, c: personal(s, k, c, augment=True)),
    ]
    for n in (1, 2, 4):
        table.append((f"personal own only, {n} img/emotion",
                      lambda s, k, c, n=n: personal(s, k, c, per_emotion=n)))
        table.append((f"personal + prior, {n} img/emotion",
                      lambda s, k, c, n=n: personal(s, k, c, prior=True, per_emotion=n)))
        table.append((f"personal + prior, own-mean calibration, {n} img/emotion",
                      lambda s, k, c, n=n: personal(s, k, c, "own", True, per_emotion=n)))
        table.append((f"personal, starter fine-tuned (train.py --prior), {n} img/emotion",
                      lambda s, k, c, n=n: fine_tuned(s, k, c, per_emotion=n)))
    for cal in ("none", "neutral", "running"):
        table.append((f"tcced grouped, calibration {cal}",
                      lambda s, k, c, cal=cal: grouped(s, TCCED, k, c, cal)))
    table.append(("tcced grouped, augmented", lambda s, k, c: grouped(s, TCCED, k, c, augment=True)))
    table.append(("tcced grouped, running, 7-mood model, other moods as neutral",
                  lambda s, k, c: read_as(s, TCCED, k, c, restrict_to=False)))
    table.append(("tcced grouped, running, 7-mood model read as these moods",
                  lambda s, k, c: read_as(s, TCCED, k, c)))
    for cal in ("none", "running"):
        table.append((f"ckplus48 grouped, calibration {cal}",
                      lambda s, k, c, cal=cal: grouped(s, "ckplus48", k, c, cal)))
    for cal in ("none", "neutral", "running"):
        table.append((f"jaffe leave-one-dataset-out, calibration {cal}",
                      lambda s, k, c, cal=cal: leave_out(s, "jaffe", k, c, cal)))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="logistic regression only")
    parser.add_argument("--mlp-only", action="store_true", help="the MLP columns only")
    parser.add_argument("--only", metavar="TEXT", help="only rows whose name contains one of TEXT,TEXT...")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # fixed budgets, chosen in advance
    start = time.monotonic()
    sets = {name: load(name) for name in SETS}
    kinds = ("lr",) if args.quick else ("mlp",) if args.mlp_only else ("lr", "mlp")
    columns = [(k, n) for n in (7, 4) for k in kinds]
    print(f"layout {features.LAYOUT.name} ({features.LAYOUT.length}); "
          f"{sum(len(d.y) for d in sets.values())} faces from {len(sets)} sets\n")
    print("| row | " + " | ".join(f"{k.upper()} {n}-class" for k, n in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, run in rows():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        cells = [run(sets, k, CLASSES[n]) for k, n in columns]
        shown = ("n/a" if np.isnan(a) else f"{a:.2f}" for a in cells)
        print(f"| {name} | " + " | ".join(shown) + " |", flush=True)
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
