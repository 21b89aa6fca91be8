"""The reference face: a person's relaxed (neutral) face as one feature vector, stored and kept current.

Pure numpy. A model with ``calibration == "reference"`` reads ``vector - reference``: deviations
from the person's own relaxed face, the face they show at a desk most of the time. The same
:func:`reference_from_vectors` makes every reference: per person from their neutral rows in
training, from run.py's calibration shot, and from ``train.py --evaluate --reference REF``.

The stored reference (``<data>/reference.json``) holds the vector and a few numbers about it,
never an image; it is the person's alone (0600, :mod:`emusify.storage.private`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emusify.config import NEUTRAL
from emusify.storage import private

log = logging.getLogger(__name__)

FORMAT = "emusify-reference"
FORMAT_VERSION = 1
SOURCES = ("shot", "recordings", "model")
MAX_BYTES = 4 << 20  # a reference is a few kB of JSON; anything this big is not one (never read)


def reference_from_vectors(X: np.ndarray) -> np.ndarray:
    """The reference of (n, d) face vectors of a relaxed face: their coordinate-wise median.

    The median, not the mean: a blink or a turned head in a few frames does not move it.

    Raises:
        ValueError: no rows, or not a 2-D array.
    """
    a = np.asarray(X, dtype=np.float64)
    if a.ndim == 1 and a.size:
        a = a.reshape(1, -1)
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"a reference needs at least one face vector, got shape {a.shape}")
    return np.median(a, axis=0)


@dataclass(frozen=True, eq=False)
class Reference:
    """A stored reference face and where it came from."""

    vector: np.ndarray  # (d,), features.LAYOUT
    frames: int  # face vectors it was made from
    taken: float  # epoch seconds when it was first made
    updated: float  # epoch seconds of the last change (the tracker moves it)
    layout: str  # feature layout name
    backend: str | None = None  # landmark detector that made the vectors, when known
    source: str = "shot"  # "shot" (run.py's calibration shot), "recordings" (collect.py neutral), "model"

    def __post_init__(self) -> None:
        object.__setattr__(self, "vector", np.asarray(self.vector, dtype=np.float64).reshape(-1))
        if self.source not in SOURCES:
            raise ValueError(f"unknown reference source {self.source!r}; known: {', '.join(SOURCES)}")
        if not np.isfinite(self.vector).all() or not self.vector.size:
            raise ValueError("a reference vector must be non-empty and finite")

    def to_json(self) -> dict[str, Any]:
        """The stored form (plain JSON)."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "layout": self.layout,
                "length": int(self.vector.size), "backend": self.backend, "source": self.source,
                "frames": int(self.frames), "taken": float(self.taken), "updated": float(self.updated),
                "vector": self.vector.tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reference:
        """The inverse of :meth:`to_json`.

        Raises:
            ValueError, KeyError, TypeError: not a reference of this format.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT \
                or int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} file")
        vector = np.asarray(data["vector"], dtype=np.float64)
        if vector.size != int(data["length"]):
            raise ValueError(f"{vector.size} values, the file says {data['length']}")
        return cls(vector, int(data["frames"]), float(data["taken"]), float(data["updated"]),
                   str(data["layout"]), data.get("backend"), str(data.get("source", "shot")))


def make_reference(X: np.ndarray, layout: str, source: str = "shot", backend: str | None = None,
                   when: float | None = None) -> Reference:
    """A new :class:`Reference` from relaxed-face vectors (see :func:`reference_from_vectors`)."""
    when = time.time() if when is None else when
    vectors = np.asarray(X, dtype=np.float64)
    return Reference(reference_from_vectors(vectors), len(vectors.reshape(len(vectors), -1)), when, when,
                     layout, backend, source)


def load_reference(path: Path, layout: Sequence | str) -> Reference | None:
    """The stored reference at ``path`` for feature ``layout`` (a name, or ``(name, length)``).

    None when the file is missing. A corrupt file or one for another layout is logged as a
    warning and also gives None (a new calibration shot replaces it); it never stops the player.
    """
    path = Path(path)
    name, length = (layout, None) if isinstance(layout, str) else (str(layout[0]), int(layout[1]))
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path.stat().st_size} bytes, a reference is far smaller")
        ref = Reference.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the stored reference %s (%s); a new calibration shot replaces it", path, exc)
        return None
    if ref.layout != name or (length is not None and ref.vector.size != length):
        log.warning("ignoring the stored reference %s: made for feature layout %s, this version uses %s; "
                    "a new calibration shot replaces it", path, ref.layout, name)
        return None
    return ref


def save_reference(path: Path, ref: Reference) -> None:
    """Write ``ref`` to ``path`` atomically (fsynced 0600 temp file, then rename; new folders 0700).

    Raises:
        OSError: the folder cannot be written or the disk is full (callers turn it into a one-line
            message); the old file is left intact.
    """
    private.write_atomic(Path(path), (json.dumps(ref.to_json()) + "\n").encode("utf-8"))


@dataclass
class ReferenceTracker:
    """Keeps a reference current from frames read as neutral with high confidence.

    After each window, :meth:`observe` takes the window's face vectors and their probabilities.
    When at least ``min_frames`` of them are read as neutral with probability ``confidence`` or
    more, the reference moves a step ``rate`` of the way towards their median. The median (not
    the mean) and the minimum count keep one odd window from pulling it far; the small rate keeps
    it slow: a lasting change of the relaxed face (new glasses, another desk light) is followed
    over ten or so windows, a single window of a misread expression moves it a tenth.
    """

    reference: Reference
    confidence: float = 0.8
    min_frames: int = 8
    rate: float = 0.1

    def observe(self, vectors: np.ndarray, proba: np.ndarray, labels: Sequence[str],
                when: float | None = None) -> Reference | None:
        """Update from one window. Returns the new reference when it moved (to persist and journal)."""
        labels = list(labels)
        if NEUTRAL not in labels or not len(vectors):
            return None
        X, P = np.asarray(vectors, dtype=np.float64), np.asarray(proba, dtype=np.float64)
        column = labels.index(NEUTRAL)
        calm = (P.argmax(axis=1) == column) & (P[:, column] >= self.confidence)
        if int(calm.sum()) < self.min_frames:
            return None
        old = self.reference
        target = reference_from_vectors(X[calm])
        when = time.time() if when is None else when
        self.reference = replace(old, vector=old.vector + self.rate * (target - old.vector),
                                 frames=old.frames + int(calm.sum()), updated=when)
        return self.reference
