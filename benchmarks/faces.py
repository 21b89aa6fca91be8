"""The cached labelled faces as face vectors, with who they are and which are calibration shots.

Shared by benchmarks/anchors.py, accuracy.py and windows.py (run benchmarks/extract.py first).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from extract import CACHE, SETS, load_cache

from emusify.sensing import features
from emusify.sensing.landmarks import Landmarks

SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
FOUR = ("angry", "happy", "neutral", "sad")
TCCED = "taiwanese_tcced"
# Fixed before any figure was seen: every other performer in sorted order is for development.
DEV_PERFORMERS = ("01", "03", "06", "08", "10", "12", "14")
REPORT_PERFORMERS = ("02", "05", "07", "09", "11", "13", "15")


class Faces(NamedTuple):
    """One row per cached face."""

    X: np.ndarray  # (n, d) face vectors
    y: np.ndarray  # emotion
    person: np.ndarray  # "<set>:<person>", "<set>:#<i>" when unknown
    dataset: np.ndarray
    session: np.ndarray  # tcced elicitation type (0 neutral, 1 theatrical, 2 FACS, 3 personal event)
    name: np.ndarray
    calib: np.ndarray  # one of the person's two calibration neutrals (first two by file name)

    def take(self, mask: np.ndarray) -> Faces:
        return Faces(*(field[mask] for field in self))


def cached_vectors(dataset: str, backend: str = "holistic") -> dict[str, np.ndarray]:
    """Face vectors of one cached set (contempt dropped) on one backend, cached beside the landmarks."""
    tail = "" if backend == "holistic" else f"-{backend}"
    path = CACHE / f"vectors-{dataset}-{features.LAYOUT.name}{tail}.npz"
    if path.exists():
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    cache = load_cache(dataset, backend)
    keep = cache["label"] != "contempt"
    X = np.stack([features.face_vector(Landmarks(f, None, None, None, (int(s[0]), int(s[1])), "cache"))
                  for f, s in zip(cache["face"][keep], cache["image_size"][keep])])
    out = {"X": X, **{k: cache[k][keep] for k in ("label", "group", "session", "name")}}
    np.savez(path, **out)
    return out


def load_faces(sets: tuple[str, ...] = SETS, transform: Callable[[dict, str], np.ndarray] | None = None,
               backend: str = "holistic") -> Faces:
    """Every cached face (contempt left out) of ``sets``; ``transform(vectors, set)`` may replace X.

    ``backend``: whose landmarks (Holistic's landmarks-<set>.npz or Tasks' landmarks-<set>-tasks.npz).

    Each person with three or more neutral photos has their first two (by file name) marked as the
    calibration shot (``calib``): never scored, in any protocol.
    """
    parts = []
    for dataset in sets:
        v = cached_vectors(dataset, backend)
        if transform is not None:
            v["X"] = transform(v, dataset)
        person = np.array([f"{dataset}:{g}" if g else f"{dataset}:#{i}" for i, g in enumerate(v["group"])])
        parts.append(Faces(v["X"], v["label"], person, np.full(len(person), dataset), v["session"],
                           v["name"], np.zeros(len(person), bool)))
    faces = Faces(*(np.concatenate(f) for f in zip(*parts)))
    for p in np.unique(faces.person):
        neutral = np.flatnonzero((faces.person == p) & (faces.y == "neutral"))
        if len(neutral) >= 3:  # two for the shot, at least one left to score
            faces.calib[neutral[np.argsort(faces.name[neutral])][:2]] = True
    return faces
