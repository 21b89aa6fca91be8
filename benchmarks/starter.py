"""Build the starter model (models/starter.npz + .json) from the shared labelled sets.

    python benchmarks/extract.py     # once: landmarks of ../shared/data into .cache/ (about 4 minutes)
    python benchmarks/starter.py     # about 2 minutes on 2 cores; or: make starter

The model is trained with Emusify's own training code (emusify.reading.training.train), so its file, its
validation (grouped by person: nobody is on both sides of a split) and its sidecar are exactly what
train.py produces for a user. Only landmarks go into it; the images stay in ../shared/data.
Every face is read as its deviation from the person's relaxed (neutral) face ("reference"
calibration); people without a neutral image (all of ckplus48, some muxspace identities) are
centred on an estimate ("offset": their mean of per-emotion means minus the average gap between
that mean and the neutral face of the people who have one), if they show at least three emotions.
Sets without person ids (fer2013_sample) are left out: the anchor needs the person.
Every image is used twice, with the landmarks of each backend (.cache/landmarks-<set>.npz from
Holistic, landmarks-<set>-tasks.npz from Tasks): each person-and-backend is its own calibration unit
(centred on that backend's relaxed face), while validation keeps each person, both backends, on
one side of a split. So the model reads either backend's landmarks (docs/results/backends.md) and
its sidecar says backend "mixed" (run.py warns on neither).
These choices were made on development protocols only (benchmarks/anchors.py; models/STARTER.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

# Before numpy: with threaded BLAS the sums, and so the weights, differ from run to run.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from extract import SETS, load_cache

from emusify.reading.evaluation import save_confusion_png
from emusify.reading.model import Model
from emusify.reading.samples import Samples, calibrate, samples_from_sessions
from emusify.reading.training import (
    TrainOptions,
    emotions_of,
    fit_pipeline,
    model_from_pipeline,
    train,
    training_side,
)
from emusify.sensing.features import LAYOUT
from emusify.sensing.landmarks import Landmarks

ROOT = Path(__file__).resolve().parents[1]
SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
FOUR = ("angry", "happy", "neutral", "sad")
# Chosen on held-out people/sets, never on a reported test set: see models/STARTER.md.
OPTIONS = TrainOptions(calibration="reference", missing="offset")  # train.py's MLP, per-person anchor
MIN_EMOTIONS = 3  # without a neutral image, a person needs this many emotions for the offset estimate
BACKENDS = ("holistic", "tasks")  # both backends' landmarks of every image (docs/results/backends.md)

log = logging.getLogger(__name__)


class CachedSession:
    """The faces of one person and emotion from the landmark cache, shaped like a recording."""

    def __init__(self, dataset: str, group: str, emotion: str, faces: np.ndarray, sizes: np.ndarray,
                 backend: str = "holistic") -> None:
        self.emotion, self.group, self.backend = emotion, f"{dataset}:{group}", backend
        self.session_id = f"{dataset}-{group}-{emotion}-{backend}"
        self._faces, self._sizes = faces, sizes

    def __len__(self) -> int:
        return len(self._faces)

    def landmarks(self):
        for face, size in zip(self._faces, self._sizes):
            yield Landmarks(face, None, None, None, (int(size[0]), int(size[1])), "cache")


def unit_of(session: CachedSession) -> str:
    """The calibration unit of a cached session: its person on its backend."""
    return f"{session.group}|{session.backend}"


def sessions(labels: tuple[str, ...], min_emotions: int = MIN_EMOTIONS, sets: tuple[str, ...] = SETS,
             backends: tuple[str, ...] = BACKENDS) -> list[CachedSession]:
    """One CachedSession per (set, person, emotion, backend) of the cached sets that know the person.

    People with a neutral image are kept; people without one only with ``min_emotions`` or more
    emotions: the estimate of their relaxed face from a single expression (most muxspace identities
    have one photo) would erase it.
    """
    return [s for backend in backends for dataset in sets
            for s in _sessions(dataset, backend, labels, min_emotions)]


def _sessions(dataset: str, backend: str, labels: tuple[str, ...], min_emotions: int) -> list[CachedSession]:
    """The CachedSessions of one set on one backend (none when the set has no person ids)."""
    cache = load_cache(dataset, backend)
    if not (cache["group"] != "").all():
        log.info("%s: no person ids, left out", dataset)
        return []
    found = []
    for group in np.unique(cache["group"]):
        shown = set(cache["label"][cache["group"] == group]) & set(labels)
        if "neutral" not in shown and len(shown) < min_emotions:
            continue
        for emotion in labels:
            rows = (cache["group"] == group) & (cache["label"] == emotion)
            if rows.any():
                found.append(CachedSession(dataset, str(group), emotion, cache["face"][rows],
                                           cache["image_size"][rows], backend))
    return found


def starter_samples(labels: tuple[str, ...] = SEVEN, backends: tuple[str, ...] = BACKENDS,
                    options: TrainOptions = OPTIONS, min_emotions: int = MIN_EMOTIONS) -> Samples:
    """The training samples: split (validation) by person, calibrated per person and backend."""
    return samples_from_sessions(sessions(labels, min_emotions, backends=backends), options.augment,
                                 jitter=options.jitter, unit_of=unit_of)


def build(labels: tuple[str, ...] = SEVEN, backends: tuple[str, ...] = BACKENDS) -> Model:
    """The starter model, validated (grouped by person) as train.py validates a user's model."""
    samples = starter_samples(labels, backends)
    model = train(samples, LAYOUT, OPTIONS)
    model.meta["backend"] = backends[0] if len(backends) == 1 else "mixed"
    # people, not (person, backend) units: reference_mean averages each person once per backend
    model.meta["reference"]["people"] = len(np.unique(samples.split[samples.y == "neutral"]))
    return model


def fit_only(samples: Samples, options: TrainOptions = OPTIONS,
             layout: tuple[str, int] = (LAYOUT.name, LAYOUT.length)) -> Model:
    """The same recipe without the validation: train()'s final fit (for leave-people-out benchmarks).

    ``layout``: what the samples' vectors are (another only for benchmarks/blendshapes.py's trials).
    """
    centred, reference = calibrate(samples, options.calibration, options.missing)
    labels = emotions_of(centred)
    pipe = fit_pipeline(*training_side(centred, np.arange(len(centred.y))), labels, options)
    return model_from_pipeline(pipe, layout, options, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, choices=(7, 4), default=7,
                        help="7: the basic emotions; 4: angry, happy, neutral, sad (default: 7)")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "starter.npz",
                        help="where to write it (default: models/starter.npz)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    labels = SEVEN if args.classes == 7 else FOUR
    model = build(labels)
    model.meta["training"]["sources"] = ("ckplus48, jaffe, taiwanese_tcced, muxspace_facial_expressions, "
                                         "yalefaces (../shared/data; research / non-commercial terms)")
    count = len(model.meta["training"]["sessions"])
    model.meta["training"]["sessions"] = f"{count} (set, person, emotion, backend)"
    model.save(args.model)
    validation = model.meta["validation"]
    png = save_confusion_png(validation["confusion"], args.model.with_suffix(".png"),
                             f"starter, validation: {validation['scheme']}")
    print(json.dumps({k: model.meta["training"][k] for k in ("samples", "per_class", "groups")}))
    print(f"{validation['scheme']}: accuracy {validation['accuracy']:.3f}, "
          f"macro-F1 {validation['macro_f1']:.3f}")
    print(f"saved {args.model} (+ {args.model.with_suffix('.json').name}, {png.name})")


if __name__ == "__main__":
    main()
