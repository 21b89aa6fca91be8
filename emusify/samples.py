"""Samples for training: feature vectors (and augmented copies) from recordings, and calibration.

Pure numpy. Each row keeps the key that must never cross a validation split (its group, or its
own id when the group is unknown) and its calibration unit.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, NamedTuple, Protocol, Sequence

import numpy as np

from emusify.errors import DatasetError

log = logging.getLogger(__name__)

AUGMENTATIONS = ("mirror", "jitter")


class SessionLike(Protocol):
    """What training needs of a recording (``emusify.dataset.Session`` fits)."""

    emotion: str
    session_id: str
    group: str | None  # None: unknown, each sample counts as independent

    def __len__(self) -> int: ...
    def landmarks(self) -> Iterable[Any]: ...


class Samples(NamedTuple):
    """Feature rows with their labels; ``split`` keys never cross a validation split."""

    X: np.ndarray  # (n, d) float32
    y: np.ndarray  # (n,) str
    split: np.ndarray  # (n,) str: group, or "<session>#<i>" when the group is unknown
    unit: np.ndarray  # (n,) str: calibration unit (the group; "" when unknown)
    aug_X: np.ndarray  # (m, d) augmented copies (training side only)
    aug_of: np.ndarray  # (m,) index of the original row
    aug_kind: np.ndarray  # (m,) str
    sessions: list[dict[str, Any]]  # per recording: id, emotion, group, samples


def samples_from_sessions(
    sessions: Sequence[SessionLike],
    augment: Sequence[str] = (),
    vectorize: Callable[[Any], np.ndarray] | None = None,
    augmenters: dict[str, Callable[[Any], Any]] | None = None,
    jitter: float = 0.02,
    seed: int = 0,
) -> Samples:
    """Feature vectors (and augmented copies) of every sample; bad landmarks are skipped with a warning."""
    if vectorize is None:
        from emusify.features import face_vector as vectorize
    if augmenters is None:
        augmenters = _default_augmenters(jitter, seed)
    unknown = set(augment) - set(augmenters)
    if unknown:
        raise DatasetError(f"unknown augmentation {', '.join(sorted(unknown))}; use {', '.join(augmenters)}")
    rows: list[np.ndarray] = []
    aug_rows: list[np.ndarray] = []
    meta: list[tuple[str, str, str]] = []  # emotion, split key, calibration unit
    aug_meta: list[tuple[int, str]] = []  # original row, kind
    listing: list[dict[str, Any]] = []
    bad = 0
    for s in sessions:
        count = 0
        for i, lm in enumerate(s.landmarks()):
            try:
                vector = vectorize(lm)
                extra = [(kind, vectorize(augmenters[kind](lm))) for kind in augment]
            except ValueError:
                bad += 1
                continue
            split = str(s.group) if s.group is not None else f"{s.session_id}#{i}"
            meta.append((s.emotion, split, "" if s.group is None else str(s.group)))
            aug_meta += [(len(rows), kind) for kind, _ in extra]
            aug_rows += [v for _, v in extra]
            rows.append(vector)
            count += 1
        listing.append({"id": s.session_id, "emotion": s.emotion, "group": s.group, "samples": count})
    if bad:
        log.warning("%d sample(s) with unusable landmarks were skipped", bad)
    return _as_samples(rows, meta, aug_rows, aug_meta, listing)


def _as_samples(rows: list, meta: list, aug_rows: list, aug_meta: list, listing: list) -> Samples:
    d = len(rows[0]) if rows else 0
    y, split, unit = (np.array([m[k] for m in meta], dtype=str) for k in range(3))
    return Samples(
        np.asarray(rows, np.float32).reshape(len(rows), d), y, split, unit,
        np.asarray(aug_rows, np.float32).reshape(len(aug_rows), d),
        np.array([a[0] for a in aug_meta], dtype=int), np.array([a[1] for a in aug_meta], dtype=str),
        listing,
    )


def _default_augmenters(sigma: float, seed: int) -> dict[str, Callable[[Any], Any]]:
    from emusify import features

    rng = np.random.default_rng(seed)
    return {"mirror": features.mirror, "jitter": lambda lm: features.jitter(lm, sigma, rng)}


def calibrate(samples: Samples) -> tuple[Samples, np.ndarray]:
    """Subtract each calibration unit's mean vector; returns the centred samples and the reference mean."""
    X, aug = samples.X.copy(), samples.aug_X.copy()
    means = []
    for unit in np.unique(samples.unit):
        rows = samples.unit == unit
        mean = X[rows].mean(axis=0)
        means.append(mean)
        X[rows] -= mean
        for kind in np.unique(samples.aug_kind):
            sel = (samples.aug_kind == kind) & rows[samples.aug_of]
            if sel.any():
                aug[sel] -= aug[sel].mean(axis=0)
        if len(set(samples.y[rows])) < 2:
            log.warning("calibration unit %r holds one emotion only: session-mean will erase it", unit)
    return samples._replace(X=X, aug_X=aug), np.mean(means, axis=0)
