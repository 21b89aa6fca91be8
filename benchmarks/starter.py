"""Build the starter model (models/starter.npz + .json) from the shared labelled sets.

    python benchmarks/extract.py     # once: landmarks of ../shared/data into .cache/ (about 4 minutes)
    python benchmarks/starter.py     # about 2 minutes on 2 cores; or: make starter

The model is trained with Emusify's own training code (emusify.training.train), so its file, its
validation (grouped by person: nobody is on both sides of a split) and its sidecar are exactly what
train.py produces for a user. Only landmarks go into it; the images stay in ../shared/data.
Sets without person ids (fer2013_sample) are left out: per-person calibration needs the person.
The options below were chosen on held-out people and data sets (see models/STARTER.md).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
from extract import SETS, load_cache

from emusify.features import LAYOUT
from emusify.landmarks import Landmarks
from emusify.samples import samples_from_sessions
from emusify.training import TrainOptions, train

ROOT = Path(__file__).resolve().parents[1]
SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
FOUR = ("angry", "happy", "neutral", "sad")
# Chosen on held-out people/sets, never on a reported test set: see models/STARTER.md.
OPTIONS = TrainOptions(calibration="session-mean")  # train.py's MLP, with per-person calibration

log = logging.getLogger(__name__)


class CachedSession:
    """The faces of one person and emotion from the landmark cache, shaped like a recording."""

    def __init__(self, dataset: str, group: str, emotion: str, faces: np.ndarray, sizes: np.ndarray) -> None:
        self.emotion, self.group = emotion, f"{dataset}:{group}"
        self.session_id = f"{dataset}-{group}-{emotion}"
        self._faces, self._sizes = faces, sizes

    def __len__(self) -> int:
        return len(self._faces)

    def landmarks(self):
        for face, size in zip(self._faces, self._sizes):
            yield Landmarks(face, None, None, None, (int(size[0]), int(size[1])), "cache")


def sessions(labels: tuple[str, ...], min_emotions: int = 1,
             sets: tuple[str, ...] = SETS) -> list[CachedSession]:
    """One CachedSession per (set, person, emotion) of the cached sets that know the person.

    People with fewer than ``min_emotions`` emotions are left out: subtracting the mean of one
    person's single expression (most muxspace identities have one photo) would erase it.
    """
    found = []
    for dataset in sets:
        cache = load_cache(dataset)
        if not (cache["group"] != "").all():
            log.info("%s: no person ids, left out", dataset)
            continue
        for group in np.unique(cache["group"]):
            if len(set(cache["label"][cache["group"] == group]) & set(labels)) < min_emotions:
                continue
            for emotion in labels:
                rows = (cache["group"] == group) & (cache["label"] == emotion)
                if rows.any():
                    found.append(CachedSession(dataset, str(group), emotion, cache["face"][rows],
                                               cache["image_size"][rows]))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, choices=(7, 4), default=7,
                        help="7: the basic emotions; 4: angry, happy, neutral, sad (default: 7)")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "starter.npz",
                        help="where to write it (default: models/starter.npz)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    labels = SEVEN if args.classes == 7 else FOUR
    samples = samples_from_sessions(sessions(labels, 3 if OPTIONS.calibration != "none" else 1))
    model = train(samples, LAYOUT, OPTIONS)
    model.meta["training"]["sources"] = ("ckplus48, jaffe, taiwanese_tcced, muxspace_facial_expressions, "
                                         "yalefaces (../shared/data; research / non-commercial terms)")
    model.meta["training"]["sessions"] = f"{len(model.meta['training']['sessions'])} (set, person, emotion)"
    model.save(args.model)
    validation = model.meta["validation"]
    print(json.dumps({k: model.meta["training"][k] for k in ("samples", "per_class", "groups")}))
    print(f"{validation['scheme']}: accuracy {validation['accuracy']:.3f}, "
          f"macro-F1 {validation['macro_f1']:.3f}")
    print(f"saved {args.model}")


if __name__ == "__main__":
    main()
