"""A personal model made from recordings of the demo library's 4 moods only: does it keep reading the
starter's other moods, and does it read the 4 recorded ones as well as before? (issue 23, item 2)

    python benchmarks/extract.py --backend tasks taiwanese_tcced      # once: landmarks -> .cache/
    OMP_NUM_THREADS=1 python benchmarks/unrecorded.py                 # about 5 minutes on 2 shared cores

Per taiwanese_tcced performer (all 14): their theatrical and FACS photos of angry, happy, sad and two
of their neutral photos are written as collect.py recordings (benchmarks/accuracy.py's personal
protocol, cut to the 4 moods), and `python train.py` runs on them with its defaults, which fine-tune
the starter: once as before issue 23 (the model reads the 4 recorded moods only) and once as now (it
reads every mood of the starter; moods without recordings are held to the starter's answers by
distillation points). Scored through run.py's reader (Predictor, every label of the model):
- recorded moods: their personal-event photos of the 4 moods and their third neutral photo, accuracy;
- unrecorded moods: every disgust, fear and surprise photo of theirs (none was recorded), the share
  read as a mood without songs (the music stays) and the share read right;
- the starter alone, reading against their two recorded neutral photos (a calibration shot), for scale.
The prior is the shipped starter, which learned from every tcced performer's photos: absolute
figures are optimistic; the two variants share the prior, so their difference is the measure.
Tasks landmarks (the default backend).
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
from accuracy import train_py
from extract import load_cache
from faces import FOUR, TCCED, load_faces
from sklearn.exceptions import ConvergenceWarning

import emusify.reading.finetune as finetune
from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.sensing.landmarks import Landmarks
from emusify.sensing.reference import reference_from_vectors

ROOT = Path(__file__).resolve().parents[1]
UNRECORDED = ("disgust", "fear", "surprise")


def read(model: Model, X: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """run.py's reading: the top mood among every label of the model."""
    predictor = Predictor(model, reference=reference)
    return np.array(predictor.labels)[predictor.predict(X).argmax(axis=1)]


def score(model: Model, mine, reference: np.ndarray | None = None) -> dict[str, list[bool]]:
    test = mine.take(np.isin(mine.y, FOUR) & ((mine.session == "3") | ((mine.y == "neutral") & ~mine.calib)))
    other = mine.take(np.isin(mine.y, UNRECORDED))
    guess = read(model, other.X, reference)
    return {"recorded right": list(read(model, test.X, reference) == test.y),
            "unrecorded keep music": list(~np.isin(guess, FOUR)),
            "unrecorded right": list(guess == other.y)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--performers", nargs="*", help="tcced performers (default: all 14)")
    parser.add_argument("--anchors", type=int, nargs="*", default=[finetune.ANCHORS], metavar="N",
                        help=f"distillation points of the 'now' variant (default: {finetune.ANCHORS})")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    started = time.monotonic()
    faces = load_faces((TCCED,), backend="tasks")
    faces = faces.take(faces.dataset == TCCED)
    cache = load_cache(TCCED, "tasks")
    lms = {(TCCED, str(name)): Landmarks(face, None, None, None, (int(size[0]), int(size[1])), str(detector))
           for name, face, size, detector in zip(cache["name"], cache["face"], cache["image_size"],
                                                 cache["detector"])}
    starter = Model.load(ROOT / "models" / "starter.npz")
    performers = args.performers or sorted({p.split(":")[1] for p in faces.person})
    original = finetune.train_from_prior
    totals: dict[str, dict[str, list[bool]]] = {}
    for performer in performers:
        mine = faces.take(faces.person == f"{TCCED}:{performer}")
        recorded = mine.take(np.isin(mine.y, FOUR))  # train.py sees these moods only
        shot = reference_from_vectors(mine.X[mine.calib])  # the starter alone, with a calibration shot
        for key, hits in score(starter, mine, shot).items():
            totals.setdefault("starter alone (shot: 2 neutral photos)", {}).setdefault(key, []).extend(hits)
        variants = [("before: 4 moods", False, 0)] + [
            (f"now: every starter mood ({n} anchors)", True, n) for n in args.anchors]
        for variant, keep_all, anchors in variants:
            finetune.train_from_prior = partial(original, keep_all=keep_all, anchors=anchors)
            try:
                model = train_py(recorded, lms, starter)
            finally:
                finetune.train_from_prior = original
            for key, hits in score(model, mine).items():
                totals.setdefault(variant, {}).setdefault(key, []).extend(hits)
        print(f"  performer {performer} done ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"\n{len(performers)} tcced performers, Tasks landmarks, the shipped starter as prior\n")
    keys = ("recorded right", "unrecorded keep music", "unrecorded right")
    print("| train.py | 4 recorded moods read right | disgust/fear/surprise: music stays | read right |")
    print("|---|---|---|---|")
    for variant, hits in totals.items():
        cells = " | ".join(f"{np.mean(hits[k]):.2f} ({len(hits[k])})" for k in keys)
        print(f"| {variant} | {cells} |")
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
