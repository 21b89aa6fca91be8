"""Samples for training: feature vectors (and augmented copies) from recordings, and calibration.

Pure numpy. Each row keeps the key that must never cross a validation split (its group, or its
own id when the group is unknown) and its calibration unit.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, NamedTuple, Protocol, Sequence

import numpy as np

from emusify.config import NEUTRAL
from emusify.errors import DatasetError

log = logging.getLogger(__name__)

AUGMENTATIONS = ("mirror", "jitter")


class SessionLike(Protocol):
    """What training needs of a recording (``emusify.storage.sessions.Session`` fits)."""

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
    unit_of: Callable[[Any], str] | None = None,
) -> Samples:
    """Feature vectors (and augmented copies) of every sample; bad landmarks are skipped with a warning.

    ``unit_of(session)`` names the calibration unit (the person) of a recording; by default its
    group ("" when unknown). train.py makes all of a user's own recordings one unit.
    """
    if vectorize is None:
        from emusify.sensing.features import face_vector as vectorize
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
            unit = unit_of(s) if unit_of is not None else ("" if s.group is None else str(s.group))
            meta.append((s.emotion, split, unit))
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
    from emusify.sensing import features

    rng = np.random.default_rng(seed)
    return {"mirror": features.mirror, "jitter": lambda lm: features.jitter(lm, sigma, rng)}


CALIBRATION_MODES = ("session-mean", "reference")
MISSING = ("drop", "offset")


def calibrate(samples: Samples, mode: str = "session-mean", missing: str = "drop",
              fit_rows: np.ndarray | None = None) -> tuple[Samples, np.ndarray]:
    """Centre every calibration unit (a person) on its own reference; returns the samples and the mean one.

    ``mode="session-mean"``: subtract each unit's mean vector. ``mode="reference"``: subtract the
    unit's relaxed face, :func:`emusify.sensing.reference.reference_from_vectors` of its rows labelled
    neutral (augmented copies: of their own kind's neutral copies, so a mirrored face is centred
    on its mirrored reference). A unit without neutral rows is dropped (``missing="drop"``, one
    warning naming how many) or centred on an estimate (``missing="offset"``: its mean of
    per-emotion means, minus the average gap between that mean and the neutral reference over
    the units that have neutral rows).

    ``fit_rows`` (reference mode, a boolean mask): make each unit's reference from its neutral
    rows among these only (a validation fold's training side), falling back to all its neutral
    rows for a unit held out entirely (a new person's relaxed face, as run.py's shot gives it).

    Returns:
        The centred samples and the mean of the units' references (what a model stores as
        ``reference_mean``; in reference mode over the units with neutral rows only).

    Raises:
        DatasetError: an unknown mode, or reference mode without any neutral rows.
    """
    if mode not in CALIBRATION_MODES or missing not in MISSING:
        raise DatasetError(f"unknown calibration {mode!r}/{missing!r}; use {', '.join(CALIBRATION_MODES)}")
    if mode == "session-mean":
        return _session_mean(samples)
    return _reference(samples, missing, fit_rows)


def with_neutral(samples: Samples) -> Samples:
    """The samples of the calibration units that have neutral rows (others dropped, one warning).

    Raises:
        DatasetError: no neutral rows at all.
    """
    neutral = samples.y == NEUTRAL
    if not neutral.any():
        raise DatasetError("reference calibration needs neutral recordings: record neutral with collect.py")
    lacking = sorted(set(samples.unit.tolist()) - set(samples.unit[neutral].tolist()))
    if not lacking:
        return samples
    log.warning("%d calibration unit(s) without neutral rows left out (%d rows): %s", len(lacking),
                int(np.isin(samples.unit, lacking).sum()), ", ".join(map(repr, lacking[:5])))
    return subset(samples, ~np.isin(samples.unit, lacking))


def _session_mean(samples: Samples) -> tuple[Samples, np.ndarray]:
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


def _reference(samples: Samples, missing: str, fit_rows: np.ndarray | None) -> tuple[Samples, np.ndarray]:
    from emusify.sensing.reference import reference_from_vectors

    if missing == "drop":
        samples = with_neutral(samples)
    neutral = samples.y == NEUTRAL
    if not neutral.any():
        raise DatasetError("reference calibration needs neutral recordings: record neutral with collect.py")
    fit = np.ones(len(samples.y), bool) if fit_rows is None else np.asarray(fit_rows, bool)
    units = np.unique(samples.unit)
    have = [u for u in units if (neutral & (samples.unit == u)).any()]
    X, aug = samples.X.astype(np.float64), samples.aug_X.astype(np.float64)
    aug_y = samples.y[samples.aug_of] if len(samples.aug_of) else np.zeros(0, str)
    aug_fit = fit[samples.aug_of] if len(samples.aug_of) else np.zeros(0, bool)
    kinds = np.unique(samples.aug_kind)
    refs, gaps = [], []
    for unit in have:
        rows = samples.unit == unit
        basis = rows & neutral & fit if (rows & neutral & fit).any() else rows & neutral
        ref = reference_from_vectors(X[basis])
        refs.append(ref)
        gaps.append(_mean_of_means(X[rows], samples.y[rows]) - ref)
        X[rows] -= ref
        for kind in kinds:
            sel = (samples.aug_kind == kind) & rows[samples.aug_of]
            base = sel & (aug_y == NEUTRAL)
            base = base & aug_fit if (base & aug_fit).any() else base
            if sel.any():
                aug[sel] -= reference_from_vectors(aug[base]) if base.any() else ref
    gap = np.mean(gaps, axis=0)
    lacking = [u for u in units if u not in have]  # missing == "offset"
    for unit in lacking:
        rows = samples.unit == unit
        X[rows] -= _mean_of_means(X[rows], samples.y[rows]) - gap
        for kind in kinds:
            sel = (samples.aug_kind == kind) & rows[samples.aug_of]
            if sel.any():
                aug[sel] -= _mean_of_means(aug[sel], aug_y[sel]) - gap
    if lacking:
        log.info("%d calibration unit(s) without neutral rows centred on an estimate", len(lacking))
    centred = samples._replace(X=X.astype(np.float32), aug_X=aug.astype(np.float32))
    return centred, np.mean(refs, axis=0)


def reference_info(samples: Samples, source: str = "recordings") -> dict[str, Any]:
    """What a model's sidecar says about its reference (key "reference"): where it came from,
    how many people and neutral frames made it, and when (epoch seconds; run.py compares it
    with a stored calibration shot: the newer wins)."""
    import time

    neutral = samples.y == NEUTRAL
    people = len(np.unique(samples.unit[neutral])) if source == "recordings" else 0
    return {"source": source, "people": people, "frames": int(neutral.sum()) if people else 0,
            "taken": round(time.time(), 3)}


def _mean_of_means(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean of the per-emotion mean vectors (an emotion recorded longer does not pull it)."""
    return np.mean([X[y == label].mean(axis=0) for label in np.unique(y)], axis=0)


def subset(samples: Samples, keep: np.ndarray) -> Samples:
    """The rows where ``keep`` is True, with their augmented copies (re-indexed)."""
    keep = np.asarray(keep, bool)
    new_index = np.cumsum(keep) - 1
    aug = keep[samples.aug_of] if len(samples.aug_of) else np.zeros(0, bool)
    return samples._replace(X=samples.X[keep], y=samples.y[keep], split=samples.split[keep],
                            unit=samples.unit[keep], aug_X=samples.aug_X[aug],
                            aug_of=new_index[samples.aug_of[aug]].astype(int), aug_kind=samples.aug_kind[aug])
