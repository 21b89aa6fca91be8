"""Would the Tasks FaceLandmarker's 52 blendshapes make a better starter? Layouts on development people.

    python benchmarks/extract.py && python benchmarks/extract.py --backend tasks   # the landmark caches
    OMP_NUM_THREADS=1 python benchmarks/blendshapes.py           # 2 min to extract once, 1-2 min a layout
    OMP_NUM_THREADS=1 python benchmarks/blendshapes.py --report  # adds the report performers (for the record)

Issue 16 suggested a Tasks-only starter that reads face-local-v1 plus the blendshape scores. This
measures it before anything is built: the desk protocol of benchmarks/accuracy.py (the starter
recipe rebuilt without the person, two of their neutral photos as the calibration shot, never scored,
read by run.py's Predictor with that reference), Tasks landmarks scored, 7 moods and the demo's 4.
The blendshapes are extracted once with the product's own Tasks extractor (still images) into
.cache/blendshapes-<set>-tasks.npz; like every other vector they are read against the person's relaxed
face. Layouts:

- ``fl``: face-local-v1, learning from Tasks landmarks only;
- ``fl+bs``: the same plus the 52 scores; ``fl+logit``: plus their logits (the scores crowd near 0);
- ``bs``: the scores alone;
- ``fl mixed``: face-local-v1 from both backends' landmarks (benchmarks/starter.py, the shipped recipe);
- ``fl+bs mixed``: the same plus the scores (Holistic rows carry the Tasks scores of the same photo).

People: the development performers of taiwanese_tcced (each left out in turn) and jaffe (leave one
person out); the choice is made on these. ``--report`` adds the report performers, for the record only.
The last columns give the gain over ``fl`` with a 90% interval from resampling people (paired).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: reproducible weights

import numpy as np
from extract import CACHE, labelled_files, load_cache, read_image
from faces import DEV_PERFORMERS, FOUR, REPORT_PERFORMERS, SEVEN, TCCED
from sklearn.exceptions import ConvergenceWarning
from starter import MIN_EMOTIONS, fit_only

from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.reading.samples import Samples, subset
from emusify.sensing import features
from emusify.sensing.landmarks import Landmarks
from emusify.sensing.reference import reference_from_vectors

SETS = ("taiwanese_tcced", "jaffe", "ckplus48", "muxspace_facial_expressions", "yalefaces")
LAYOUTS = ("fl", "fl+bs", "fl+logit", "bs", "fl mixed", "fl+bs mixed")
SHAPES = 52


def blendshapes(dataset: str) -> dict[str, np.ndarray]:
    """{photo name: (52,) scores} of one set, extracted once with the Tasks backend (still images)."""
    path = CACHE / f"blendshapes-{dataset}-tasks.npz"
    if not path.exists():
        from emusify.sensing.landmarks import open_extractor  # slow: mediapipe

        names, scores = [], []
        with open_extractor("tasks", static=True) as extractor:
            for label, photo in labelled_files(dataset):
                image = read_image(photo)
                found = None if image is None else extractor.extract(image)
                if found is not None and found.blendshapes is not None:
                    names.append(f"{label}/{photo.name}")
                    scores.append(found.blendshapes)
        np.savez(path, name=np.array(names, dtype=str),
                 blendshapes=np.array(scores, np.float32).reshape(-1, SHAPES))
    with np.load(path) as data:
        return dict(zip(data["name"].tolist(), data["blendshapes"]))


def load(dataset: str, backend: str, shapes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One set's faces on one backend (contempt and photos without scores left out), by column."""
    cache = load_cache(dataset, backend)
    keep = np.array([label != "contempt" and str(name) in shapes
                     for label, name in zip(cache["label"], cache["name"])], bool)
    fl = np.stack([features.face_vector(Landmarks(f, None, None, None, (int(s[0]), int(s[1])), "cache"))
                   for f, s in zip(cache["face"][keep], cache["image_size"][keep])])
    group = cache["group"][keep]
    return {"fl": fl, "bs": np.stack([shapes[str(n)] for n in cache["name"][keep]]),
            "y": cache["label"][keep],
            "person": np.array([f"{dataset}:{g}" if g else f"{dataset}:#{i}" for i, g in enumerate(group)]),
            "name": cache["name"][keep], "known": np.array((group != "").all())}


def vectors(faces: dict[str, np.ndarray], layout: str) -> np.ndarray:
    """The rows of ``faces`` in ``layout`` (its "mixed" part only says where training rows come from)."""
    kind = layout.replace(" mixed", "")
    if kind == "fl":
        return faces["fl"]
    if kind == "bs":
        return faces["bs"]
    scores = faces["bs"] if kind == "fl+bs" else _logit(faces["bs"])
    return np.hstack([faces["fl"], scores])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def training_rows(data: dict[str, dict], layout: str) -> Samples:
    """Every known person's faces as starter.py keeps them, one calibration unit per person and backend."""
    parts = []
    for backend in ("tasks", "holistic") if layout.endswith("mixed") else ("tasks",):
        for faces in data[backend].values():
            if not faces["known"]:
                continue
            for person in np.unique(faces["person"]):
                rows = faces["person"] == person
                shown = set(faces["y"][rows].tolist()) & set(SEVEN)
                if "neutral" in shown or len(shown) >= MIN_EMOTIONS:
                    rows &= np.isin(faces["y"], SEVEN)
                    parts.append((vectors(faces, layout)[rows], faces["y"][rows], faces["person"][rows],
                                  backend))
    X = np.vstack([p[0] for p in parts]).astype(np.float32)
    split = np.concatenate([p[2] for p in parts])
    unit = np.concatenate([np.char.add(p[2], f"|{p[3]}") for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return Samples(X, y, split, unit, np.zeros((0, X.shape[1]), np.float32), np.zeros(0, int),
                   np.zeros(0, str), [])


def fit_without(samples: Samples, people: list[str]) -> Model:
    """starter.py's recipe (its fit_only) on every row but ``people``'s."""
    kept = subset(samples, ~np.isin(samples.split, people))
    return fit_only(kept, layout=("benchmark", samples.X.shape[1]))


def desk(model: Model, faces: dict[str, np.ndarray], layout: str, person: str) -> dict[int, np.ndarray]:
    """{moods: hits} of one unseen person: two neutral photos are the shot (never scored), the rest read."""
    rows = np.flatnonzero(faces["person"] == person)
    neutral = rows[faces["y"][rows] == "neutral"]
    if len(neutral) < 3:
        return {}
    shot = neutral[np.argsort(faces["name"][neutral])][:2]
    X, y = vectors(faces, layout), faces["y"]
    scored = np.setdiff1d(rows, shot)
    found = {}
    for n, moods in ((7, SEVEN), (4, FOUR)):
        read = scored[np.isin(y[scored], moods)]
        predictor = Predictor(model, labels=moods, reference=reference_from_vectors(X[shot]))
        found[n] = np.array(predictor.labels)[predictor.predict(X[read]).argmax(axis=1)] == y[read]
    return found


def people_of(data: dict[str, dict], report: bool) -> list[tuple[str, str, str]]:
    """(row, set, person) of everyone scored."""
    chosen = [("tcced dev", TCCED, f"{TCCED}:{p}") for p in DEV_PERFORMERS]
    chosen += [("jaffe", "jaffe", p) for p in np.unique(data["tasks"]["jaffe"]["person"])]
    if report:
        chosen += [("tcced report", TCCED, f"{TCCED}:{p}") for p in REPORT_PERFORMERS]
    return chosen


def gain(hits: dict, base: dict, row: str, n: int, rng: np.random.Generator) -> str:
    """Pooled accuracy gain over ``base`` and its 90% interval, people resampled (paired)."""
    people = [p for (r, p) in hits if r == row]
    pairs = [(hits[row, p][n], base[row, p][n]) for p in people]
    diff = np.mean(np.concatenate([a for a, _ in pairs])) - np.mean(np.concatenate([b for _, b in pairs]))
    boot = []
    for _ in range(2000):
        pick = rng.integers(len(pairs), size=len(pairs))
        a = np.concatenate([pairs[i][0] for i in pick])
        b = np.concatenate([pairs[i][1] for i in pick])
        boot.append(a.mean() - b.mean())
    low, high = np.percentile(boot, [5, 95])
    return f"{diff:+.3f} [{low:+.2f}, {high:+.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", default=",".join(LAYOUTS),
                        help=f"comma-separated of {', '.join(LAYOUTS)}")
    parser.add_argument("--report", action="store_true",
                        help="also score the report performers (never to choose)")
    args = parser.parse_args()
    layouts = [name.strip() for name in args.layouts.split(",")]
    if set(layouts) - set(LAYOUTS) or "fl" not in layouts:
        parser.error(f"--layouts takes names from {', '.join(LAYOUTS)} and must include fl (the baseline)")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.monotonic()
    shapes = {dataset: blendshapes(dataset) for dataset in SETS}
    backends = ("tasks", "holistic") if any(name.endswith("mixed") for name in layouts) else ("tasks",)
    data = {b: {d: load(d, b, shapes[d]) for d in SETS} for b in backends}
    everyone = people_of(data, args.report)
    results = {}
    for layout in layouts:
        samples = training_rows(data, layout)
        found = {(row, person): desk(fit_without(samples, [person]), data["tasks"][dataset], layout, person)
                 for row, dataset, person in everyone}
        results[layout] = {key: hits for key, hits in found.items() if hits}
        print(f"{layout}: {samples.X.shape[1]} values, {len(samples.y)} training rows "
              f"({time.monotonic() - start:.0f} s)", flush=True)
    rows = list(dict.fromkeys(row for row, _, _ in everyone))
    rng = np.random.default_rng(0)
    print("\ndesk, Tasks landmarks scored; cells: accuracy 7 / 4 moods, then the gain over fl at 7 / 4 "
          "with a 90% interval from resampling people\n")
    print("| layout | " + " | ".join(rows) + " | " + " | ".join(f"gain, {r}" for r in rows) + " |")
    print("|---|" + "---:|" * (2 * len(rows)))
    for layout in layouts:
        hits = results[layout]
        cells = []
        for row in rows:
            pooled = {n: np.concatenate([h[n] for (r, _), h in hits.items() if r == row]) for n in (7, 4)}
            cells.append(f"{pooled[7].mean():.3f} / {pooled[4].mean():.3f} "
                         f"({len(pooled[7])} / {len(pooled[4])})")
        gains = ["-" if layout == "fl" else
                 f"{gain(hits, results['fl'], row, 7, rng)} / {gain(hits, results['fl'], row, 4, rng)}"
                 for row in rows]
        print(f"| {layout} | " + " | ".join(cells + gains) + " |")
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
