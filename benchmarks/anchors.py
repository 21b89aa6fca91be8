"""Development study for the starter (issue 9): which anchor to learn on, and what to do without neutral.

    OMP_NUM_THREADS=1 python benchmarks/anchors.py              # the anchor study, about 5 minutes
    OMP_NUM_THREADS=1 python benchmarks/anchors.py --product    # starter variants via the product's code
    OMP_NUM_THREADS=1 python benchmarks/anchors.py --personal   # train.py variants, personal protocol

Development protocols ONLY (nothing here is scored on the people docs/results/accuracy.md reports):
- tcced-dev: the seven development performers of taiwanese_tcced (DEV_PERFORMERS), one left out at a
  time; the seven report performers are neither trained on nor scored.
- jaffe: leave-one-dataset-out (trained on every other set, the tcced report performers excluded).
- ckplus48: grouped 5-fold by subject (no neutral images: first use only).
Per test person, "desk" subtracts the median of two of their neutral images (the calibration shot,
never scored); "first" subtracts the training people's mean reference (no calibration).
7 moods, and 4 (angry, happy, neutral, sad) read from the same 7-mood network restricted to those
moods and renormalized (as run.py does), scored on faces of those four.
The network is train.py's (emusify.reading.training.fit_pipeline with the TrainOptions defaults unless a
row says otherwise).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from extract import CACHE, load_cache
from faces import DEV_PERFORMERS, FOUR, REPORT_PERFORMERS, SEVEN, TCCED, Faces, load_faces
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold

from emusify.reading.training import TrainOptions, fit_pipeline
from emusify.sensing import features
from emusify.sensing.landmarks import Landmarks


def aligned_points(dataset: str) -> np.ndarray:
    """(n, 468, 3) faces after features.normalize (contempt dropped), cached beside the landmarks."""
    path = CACHE / f"aligned-{dataset}.npy"
    if path.exists():
        return np.load(path)
    cache = load_cache(dataset)
    keep = cache["label"] != "contempt"
    P = np.stack([features.normalize(features.face_points(
        Landmarks(f, None, None, None, (int(s[0]), int(s[1])), "cache")))
        for f, s in zip(cache["face"][keep], cache["image_size"][keep])]).astype(np.float32)
    np.save(path, P)
    return P


VARIANTS = {
    "face-local-v1": lambda v, d: v["X"],
    "face-local-v1, x and y only": lambda v, d: v["X"].reshape(len(v["X"]), -1, 3)[:, :, :2].reshape(
        len(v["X"]), -1),
    "aligned 468 points, x y z": lambda v, d: aligned_points(d).reshape(len(v["X"]), -1),
    "aligned 468 points, x y": lambda v, d: aligned_points(d)[:, :, :2].reshape(len(v["X"]), -1),
    "face-local-v1 + aligned 468 x y": lambda v, d: np.hstack(
        [v["X"], aligned_points(d)[:, :, :2].reshape(len(v["X"]), -1)]),
}


def load_variant(variant: str = "face-local-v1") -> Faces:
    return load_faces(transform=VARIANTS[variant])


@dataclass(frozen=True)
class Recipe:
    """How the training side is centred."""

    anchor: str = "neutral"  # "neutral": minus the person's neutral median; "mean": minus their mean
    missing: str = "drop"  # people without neutral: "drop" or "offset" (mean-offset estimate)
    sets: tuple[str, ...] = ("ckplus48", "jaffe", TCCED, "muxspace_facial_expressions", "yalefaces")
    min_emotions: int = 3  # "mean" anchor: people with fewer emotions are left out (it would erase them)
    hidden: tuple[int, ...] = (64,)
    alpha: float = 1.0
    seed: int = 0
    mix: bool = False  # also train on every face minus the mean reference (robust to no calibration)


def balanced_mean(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.mean([X[y == label].mean(axis=0) for label in np.unique(y)], axis=0)


def centred(train: Faces, recipe: Recipe) -> tuple[Faces, np.ndarray]:
    """The training faces minus each person's anchor, and the mean reference (for first use)."""
    X, keep, refs = train.X.copy(), np.zeros(len(train.y), bool), {}
    missing = []
    for p in np.unique(train.person):
        mine = train.person == p
        if recipe.anchor == "mean":
            if len(set(train.y[mine].tolist())) >= recipe.min_emotions:
                refs[p] = train.X[mine].mean(axis=0)
        elif (mine & (train.y == "neutral")).any():
            refs[p] = np.median(train.X[mine & (train.y == "neutral")], axis=0)
        elif recipe.missing == "offset" and len(set(train.y[mine].tolist())) >= 3:
            missing.append(p)
    if missing:
        gap = np.mean([balanced_mean(train.X[train.person == p], train.y[train.person == p]) - r
                       for p, r in refs.items()], axis=0)
    mean_ref = np.mean(list(refs.values()), axis=0)
    for p in missing:
        mine = train.person == p
        refs[p] = balanced_mean(train.X[mine], train.y[mine]) - gap
    for p, r in refs.items():
        mine = train.person == p
        X[mine] -= r
        keep |= mine
    return train._replace(X=X).take(keep), mean_ref


class Scores(NamedTuple):
    desk7: list
    desk4: list
    first7: list
    first4: list


def fit(train: Faces, recipe: Recipe):
    options = TrainOptions(hidden=recipe.hidden, alpha=recipe.alpha, seed=recipe.seed)
    c, mean_ref = centred(train.take(np.isin(train.y, SEVEN)), recipe)
    if recipe.mix:
        raw = train.take(np.isin(train.y, SEVEN) & np.isin(train.person, c.person))
        c = Faces(*(np.concatenate(f) for f in zip(c, raw._replace(X=raw.X - mean_ref))))
    return fit_pipeline(c.X, c.y, sorted(set(c.y.tolist())), options), mean_ref


def score(pipe, mean_ref: np.ndarray, test: Faces, out: Scores) -> None:
    """Append per-face hits of one fitted model on test people (desk and first use, 7 and 4 moods)."""
    classes = list(pipe.classes_)
    four = [classes.index(c) for c in FOUR]
    for p in np.unique(test.person):
        mine = test.take(test.person == p)
        scored = mine.take(~mine.calib)
        refs = {"first": mean_ref}
        if mine.calib.sum() == 2:
            refs["desk"] = np.median(mine.X[mine.calib], axis=0)
        for how, ref in refs.items():
            proba = pipe.predict_proba(scored.X - ref)
            getattr(out, how + "7").extend(np.array(classes)[proba.argmax(axis=1)] == scored.y)
            sel = np.isin(scored.y, FOUR)
            guess = np.array(FOUR)[proba[sel][:, four].argmax(axis=1)]
            getattr(out, how + "4").extend(guess == scored.y[sel])


def dev_protocols(faces: Faces, recipe: Recipe) -> dict[str, Scores]:
    usable = faces.take(np.isin(faces.dataset, recipe.sets) & np.isin(faces.y, SEVEN)
                        & ~np.isin(faces.person, [f"{TCCED}:{p}" for p in REPORT_PERFORMERS]))
    results = {}
    out = Scores([], [], [], [])
    for p in DEV_PERFORMERS:
        test_mask = usable.person == f"{TCCED}:{p}"
        pipe, mean_ref = fit(usable.take(~test_mask), recipe)
        score(pipe, mean_ref, usable.take(test_mask), out)
    results["tcced-dev"] = out
    out = Scores([], [], [], [])
    jaffe = faces.dataset == "jaffe"
    pipe, mean_ref = fit(usable.take(usable.dataset != "jaffe"), recipe)
    score(pipe, mean_ref, faces.take(jaffe), out)
    results["jaffe"] = out
    out = Scores([], [], [], [])
    ck = usable.dataset == "ckplus48"
    people = np.unique(usable.person[ck])
    for _, test_people in GroupKFold(5).split(people, groups=people):
        test_mask = np.isin(usable.person, people[test_people])
        pipe, mean_ref = fit(usable.take(~test_mask), recipe)
        score(pipe, mean_ref, usable.take(test_mask), out)
    results["ckplus48"] = out
    return results


RECIPES = {
    "old: balanced mean (all people, 3+ moods)": Recipe(anchor="mean", missing="drop"),
    "neutral, no-neutral people dropped": Recipe(),
    "neutral, no-neutral people mean-offset": Recipe(missing="offset"),
    "neutral, offset, without muxspace": Recipe(missing="offset", sets=("ckplus48", "jaffe", TCCED,
                                                                         "yalefaces")),
    "neutral, drop, without muxspace": Recipe(sets=("ckplus48", "jaffe", TCCED, "yalefaces")),
    "neutral, offset, seed 1": Recipe(missing="offset", seed=1),
    "neutral, offset, seed 2": Recipe(missing="offset", seed=2),
    "neutral, drop, seed 1": Recipe(seed=1),
    "neutral, offset, plus rows minus the mean reference": Recipe(missing="offset", mix=True),
    "neutral, offset, hidden 128 alpha 1": Recipe(missing="offset", hidden=(128,)),
    "neutral, offset, hidden 64 alpha 3": Recipe(missing="offset", alpha=3.0),
    "neutral, offset, hidden 64 alpha 0.3": Recipe(missing="offset", alpha=0.3),
}


PRODUCT_RECIPES = {  # benchmarks/starter.py's recipe with one change (TrainOptions fields)
    "starter.py as shipped": {},
    "mirrored copies": {"augment": ("mirror",)},
    "mirrored and jittered copies": {"augment": ("mirror", "jitter")},
    "hidden 128": {"hidden": (128,)},
    "alpha 3": {"alpha": 3.0},
    "no oversampling": {"balance": "none"},
}


def product_dev(faces: Faces, only: str | None) -> None:
    """Starter recipes through the product's code (starter.fit_only), scored on development people.

    Each development person is scored by a model built without them and without the report performers.
    """
    import dataclasses

    from accuracy import desk_and_first
    from people import Starters
    from starter import OPTIONS

    report = [f"{TCCED}:{p}" for p in REPORT_PERFORMERS]
    people = [f"{TCCED}:{p}" for p in DEV_PERFORMERS] + sorted(set(faces.person[faces.dataset == "jaffe"]))
    print("| recipe | tcced-dev desk 7 / 4 | tcced-dev first 7 / 4 | jaffe desk 7 / 4 | jaffe first 7 / 4 |")
    print("|---|---|---|---|---|")
    for name, change in PRODUCT_RECIPES.items():
        if only and only not in name:
            continue
        starters = Starters(dataclasses.replace(OPTIONS, **change))
        hits = {"tcced": defaultdict(list), "jaffe": defaultdict(list)}
        for person in people:
            model = starters.without([person] + report)
            desk_and_first(faces, person, model, hits[person.split(":")[0].replace(TCCED, "tcced")])
        t, j = hits["tcced"], hits["jaffe"]
        print(f"| {name} | " + " | ".join(f"{cell(h['desk', 7])} / {cell(h['desk', 4])} | "
                                          f"{cell(h['first', 7])} / {cell(h['first', 4])}" for h in (t, j))
              + " |", flush=True)


# train.py flags, and fine-tuning settings (emusify.reading.finetune.fine_tune's defaults)
PERSONAL_VARIANTS = {
    "train.py defaults": ((), None),
    "--prior none": (("--prior", "none"), None),
    "fine-tune alpha 0.3": ((), {"alpha": 0.3}),
    "fine-tune alpha 3": ((), {"alpha": 3.0}),
    "fine-tune 600 steps": ((), {"steps": 600}),
    "fine-tune 100 steps": ((), {"steps": 100}),
}


def personal_dev(faces: Faces, only: str | None) -> None:
    """The personal protocol on the development performers (priors built without the report performers)."""
    from accuracy import personal
    from people import Starters

    from emusify.reading import finetune

    starters, report = Starters(), tuple(f"{TCCED}:{p}" for p in REPORT_PERFORMERS)
    defaults = finetune.fine_tune.__defaults__
    names = finetune.fine_tune.__code__.co_varnames[4:7]  # steps, learning_rate, alpha
    print("| variant | tcced-dev personal 7 / 4 | train.py chose |\n|---|---|---|")
    for name, (argv, change) in PERSONAL_VARIANTS.items():
        if only and only not in name:
            continue
        if change:
            finetune.fine_tune.__defaults__ = tuple(change.get(k, v) for k, v in zip(names, defaults))
        try:
            rows = personal(faces, starters, DEV_PERFORMERS, argv, report)
        finally:
            finetune.fine_tune.__defaults__ = defaults
        h = rows["taiwanese_tcced, dev performers (7)"]
        print(f"| {name} | {cell(h['personal', 7])} / {cell(h['personal', 4])} "
              f"| {', '.join(sorted(set(h['prior', 7])))} |", flush=True)


def cell(hits: list) -> str:
    return f"{np.mean(hits):.2f}" if hits else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="TEXT", help="only recipes whose name contains TEXT")
    parser.add_argument("--product", action="store_true",
                        help="starter recipes through the product's code (PRODUCT_RECIPES) instead")
    parser.add_argument("--personal", action="store_true",
                        help="the personal protocol's variants (PERSONAL_VARIANTS) instead")
    parser.add_argument("--features", choices=VARIANTS, default="face-local-v1",
                        help="the face vector (default: face-local-v1, the product's)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.monotonic()
    faces = load_variant(args.features)
    if args.personal:
        personal_dev(faces, args.only)
        return
    if args.product:
        product_dev(faces, args.only)
        return
    print(f"features {args.features} ({faces.X.shape[1]}); {len(faces.y)} faces; "
          f"dev performers {', '.join(DEV_PERFORMERS)}\n")
    print("| recipe | tcced-dev desk 7/4 | tcced-dev first 7/4 | jaffe desk 7/4 | jaffe first 7/4 "
          "| ckplus48 first 7/4 |")
    print("|---|---|---|---|---|---|")
    for name, recipe in RECIPES.items():
        if args.only and args.only not in name:
            continue
        r = dev_protocols(faces, recipe)
        t, j, c = r["tcced-dev"], r["jaffe"], r["ckplus48"]
        print(f"| {name} | {cell(t.desk7)} / {cell(t.desk4)} | {cell(t.first7)} / {cell(t.first4)} "
              f"| {cell(j.desk7)} / {cell(j.desk4)} | {cell(j.first7)} / {cell(j.first4)} "
              f"| {cell(c.first7)} / {cell(c.first4)} |", flush=True)
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
