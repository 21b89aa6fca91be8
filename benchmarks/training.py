"""How long train.py's training takes on 10,000 samples (run benchmarks/extract.py first).

    OMP_NUM_THREADS=1 python benchmarks/training.py

The samples are real face vectors: the cached faces of the shared sets plus mirrored and jittered
copies, cut to 10,000, grouped by person, so the grouped 5-fold validation and the final fit run
exactly as `python train.py` runs them. Prints wall and CPU seconds; the target is well under a
minute on the 2-core development machine.
"""

from __future__ import annotations

import os
import time

import numpy as np
from extract import SETS, load_cache

from emusify.reading.samples import Samples
from emusify.reading.training import TrainOptions, train
from emusify.sensing import features
from emusify.sensing.landmarks import Landmarks

N = 10_000


def samples(n: int = N) -> Samples:
    """``n`` labelled face vectors (originals first, then mirrored and jittered copies)."""
    rng = np.random.default_rng(0)
    rows, labels, groups = [], [], []
    for dataset in SETS:
        cache = load_cache(dataset)
        faces = zip(cache["face"], cache["image_size"], cache["label"], cache["group"])
        for face, size, label, group in faces:
            lm = Landmarks(face, None, None, None, (int(size[0]), int(size[1])), "cache")
            for copy in (lm, features.mirror(lm), features.jitter(lm, 0.02, rng)):
                rows.append(features.face_vector(copy))
                labels.append(label)
                groups.append(f"{dataset}:{group or len(groups)}")
    copy_kind = np.tile([0, 1, 2], len(rows) // 3)  # 0 original, 1 mirrored, 2 jittered
    order = np.argsort(copy_kind, kind="stable")[:n]
    X, y, g = np.asarray(rows, np.float32)[order], np.asarray(labels)[order], np.asarray(groups)[order]
    return Samples(X, y, g, g, np.zeros((0, X.shape[1]), np.float32), np.zeros(0, int), np.zeros(0, str), [])


def main() -> None:
    data = samples()
    print(f"{len(data.y)} samples, {len(np.unique(data.y))} moods, {len(np.unique(data.split))} groups, "
          f"layout {features.LAYOUT.name}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    wall, cpu = time.monotonic(), time.process_time()
    model = train(data, features.LAYOUT, TrainOptions(), progress=False)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    print(f"train.py defaults (grouped 5-fold validation + final fit): {wall:.1f} s wall, {cpu:.1f} s CPU")
    validation = model.meta["validation"]
    print(f"validation: {validation['scheme']}, accuracy {validation['accuracy']:.3f}")


if __name__ == "__main__":
    main()
