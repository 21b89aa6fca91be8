"""What the window and accuracy benchmarks share: starters rebuilt without some people, and the
landmarks of each cached face (so windows can be made of noisy copies of a person's photos).

benchmarks/accuracy.py, windows.py, moods.py and backends.py import these from here; none of them
imports another benchmark's entry module, so there is no import circle.
"""

from __future__ import annotations

import numpy as np
from extract import load_cache
from faces import SEVEN, TCCED
from starter import BACKENDS, OPTIONS, fit_only, starter_samples

from emusify.reading.model import Model
from emusify.reading.samples import Samples, subset
from emusify.reading.training import TrainOptions
from emusify.sensing.landmarks import Landmarks


class Starters:
    """Starter models rebuilt without some people, on both backends' landmarks (cached per left-out set)."""

    def __init__(self, options: TrainOptions = OPTIONS, backends: tuple[str, ...] = BACKENDS) -> None:
        self.options = options
        self.samples: Samples = starter_samples(SEVEN, backends, options)
        self._models: dict[frozenset, Model] = {}

    def without(self, people) -> Model:
        """The starter without ``people`` ("<set>:<person>"; every backend's landmarks of them)."""
        key = frozenset(people)
        if key not in self._models:
            kept = subset(self.samples, ~np.isin(self.samples.split, list(key)))
            self._models[key] = fit_only(kept, self.options)
        return self._models[key]


def faces_landmarks(backend: str = "holistic") -> dict[tuple[str, str], Landmarks]:
    """Landmarks of every cached face (``backend``'s cache), by (set, file name)."""
    found = {}
    for dataset in (TCCED, "jaffe"):
        cache = load_cache(dataset, backend)
        for name, face, size, detector in zip(cache["name"], cache["face"], cache["image_size"],
                                              cache["detector"]):
            found[dataset, str(name)] = Landmarks(face, None, None, None, (int(size[0]), int(size[1])),
                                                  str(detector))
    return found
