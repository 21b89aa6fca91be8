"""Is a calibration shot a relaxed face? And does a reference in use still look like one?

Pure numpy. A reference that is not the user's relaxed face (a smile for the camera, a frown, a
talking mouth) makes every later window read wrong: with a smiling reference relaxed faces read
sad or angry. Two checks, both chosen on development people (``benchmarks/shots.py``,
``docs/results/shots.md``):

- :func:`check_shot`, before a shot (or ``train.py --evaluate --reference``) is used: the shot's
  median face is compared with the population's relaxed faces (:class:`RelaxedFaces`, built by
  ``benchmarks/shots.py --build`` into ``models/shotcheck.npz`` from the labelled sets'
  landmarks). Per mood it measures how far the face lies along that mood's direction (the
  average move of the mood from a person's own relaxed face), in units of how far relaxed faces
  of different people spread along it (after whitening by that spread), and a logistic
  regression learnt on many people's faces says how far from relaxed it looks; beyond either
  limit (per landmark backend) it is refused. Reading the shot with the model against its
  ``reference_mean`` does not work: relaxed faces of unseen people rarely read neutral there
  (people differ more than expressions do).
- :class:`RunningCheck`, while running: a reference is doubted when it lies far from the median
  face of the last windows along a mood's direction (a person at a desk mostly shows their relaxed
  face; a reference taken while smiling lies along the smile from it). Counting windows that one
  non-neutral mood leads raised too many false alarms (``docs/results/shots.md``).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from emusify.config import NEUTRAL

log = logging.getLogger(__name__)

FORMAT = "emusify-shotcheck"
# What the user is told they seem to be doing, per mood the check refuses.
LOOKS = {"happy": "smiling", "angry": "frowning", "sad": "looking sad", "surprise": "raising your brows",
         "disgust": "wrinkling your nose", "fear": "tensing your face"}
RELAX = "relax your face and look at the screen"


def looks(mood: str | None) -> str:
    """``"smiling"`` for happy: what a shot of ``mood`` looks like, in words."""
    return LOOKS.get(str(mood), f"showing {mood}")


class ShotCheck(NamedTuple):
    """What :func:`check_shot` found."""

    ok: bool  # the shot may be used as it is
    mood: str | None  # the mood it most looks like (None: not checked, or refused along no one mood)
    score: float  # 1.0 is the limit: above it the shot is refused
    message: str  # one line for the user ("" when ok): "<why>: relax your face and look at the screen"

    @property
    def why(self) -> str:
        """The message's first half ("you seem to be smiling"), "" when ok."""
        return self.message.split(":")[0]


Limits = dict[str, tuple[float, float, float]]  # backend -> (plain, whitened, expressive) limits


def backend_of(detector: str | None) -> str | None:
    """The landmark backend ("holistic", "tasks") of a detector name (Landmarks.detector)."""
    name = str(detector or "")
    if name.startswith("tasks"):
        return "tasks"
    return "holistic" if name in ("holistic", "facemesh") else None


@dataclass(frozen=True, eq=False)
class RelaxedFaces:
    """Where relaxed faces lie in the feature space, each mood's direction away from them, and a
    linear test of relaxed against expressive faces.

    ``plain[k]`` and ``whitened[k]`` are weight vectors: ``(face - mean) @ plain[k]`` is how far
    the face lies along mood k's direction, in standard deviations of relaxed faces (of many
    people) along it; ``whitened`` does the same after removing what relaxed faces share (a
    ridge-regularized whitening by their spread). ``face @ expressive + bias`` is a logistic
    regression's score of "not relaxed" learnt on faces of many people (not centred on anyone).
    ``limits[backend]`` refuse a face beyond them (inf: that test is not used); a backend not
    listed gets the most lenient of them.
    """

    mean: np.ndarray  # (d,) the average relaxed face
    moods: tuple[str, ...]  # the non-neutral moods
    plain: np.ndarray  # (k, d)
    whitened: np.ndarray  # (k, d)
    expressive: np.ndarray  # (d,)
    bias: float
    limits: Limits
    layout: str

    def limit(self, backend: str | None) -> tuple[float, float, float]:
        """The limits for landmarks of ``backend`` (a detector name is fine too)."""
        known = self.limits.get(backend_of(backend) or str(backend))
        if known is not None:
            return known
        return tuple(float(x) for x in np.max(np.array(list(self.limits.values())), axis=0))  # type: ignore

    def scores(self, vector: np.ndarray, backend: str | None = None) -> np.ndarray:
        """(k,) per mood: the larger of the plain and whitened distances, each over its limit."""
        delta = np.asarray(vector, dtype=np.float64).reshape(-1) - self.mean
        plain, whitened, _ = self.limit(backend)
        return np.maximum(self.plain @ delta / plain, self.whitened @ delta / whitened)

    def excess(self, vector: np.ndarray, backend: str | None = None) -> float:
        """How far the expressive score lies beyond its limit (> 0: not a relaxed face)."""
        return float(np.asarray(vector, dtype=np.float64).reshape(-1) @ self.expressive + self.bias
                     - self.limit(backend)[2])

    def save(self, path: Path) -> None:
        """Write to ``path`` (an .npz of numbers: no image, no landmarks of anyone)."""
        names = sorted(self.limits)
        np.savez_compressed(path, format=FORMAT, mean=self.mean, moods=np.array(self.moods),
                            plain=self.plain, whitened=self.whitened, expressive=self.expressive,
                            bias=self.bias, backends=np.array(names),
                            limits=np.array([self.limits[n] for n in names]), layout=self.layout)

    @classmethod
    def load(cls, path: Path) -> RelaxedFaces:
        """Read what :meth:`save` wrote.

        Raises:
            OSError, ValueError, KeyError: missing or not such a file.
        """
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != FORMAT:
                raise ValueError(f"{path} is not an {FORMAT} file")
            rows = zip(data["backends"], data["limits"])
            limits = {str(n): tuple(float(x) for x in row) for n, row in rows}
            return cls(data["mean"], tuple(map(str, data["moods"])), data["plain"], data["whitened"],
                       data["expressive"], float(data["bias"]), limits, str(data["layout"]))  # type: ignore


def fit_relaxed_faces(X: np.ndarray, y: Sequence[str], unit: Sequence[str], layout: str,
                      ridge: float = 0.3) -> RelaxedFaces:
    """:class:`RelaxedFaces` from labelled face vectors; each ``unit`` (a person) needs neutral rows.

    A unit's relaxed face is the median of its neutral rows; a mood's direction is the average of
    its rows minus their unit's relaxed face. Units without neutral rows are left out. The
    expressive test is left off (zero weights, no limits): see benchmarks/shots.py for fitting it.
    """
    X, y, unit = np.asarray(X, dtype=np.float64), np.asarray(y), np.asarray(unit)
    refs, moves, labels = [], [], []
    for u in np.unique(unit):
        rows = unit == u
        calm = rows & (y == NEUTRAL)
        if calm.any():
            refs.append(np.median(X[calm], axis=0))
            moves.append(X[rows] - refs[-1])
            labels.append(y[rows])
    R, M, kinds = np.array(refs), np.concatenate(moves), np.concatenate(labels)
    mean = R.mean(axis=0)
    spread = (R - mean).T @ (R - mean) / len(R)
    ridged = spread + ridge * np.trace(spread) / len(spread) * np.eye(len(spread))
    moods = tuple(m for m in sorted(set(kinds.tolist())) if m != NEUTRAL)
    plain, whitened = [], []
    for mood in moods:
        direction = M[kinds == mood].mean(axis=0)
        for w, out in ((direction / np.linalg.norm(direction), plain),
                       (np.linalg.solve(ridged, direction), whitened)):
            out.append(w / max(math.sqrt(float(w @ spread @ w)), 1e-12))
    return RelaxedFaces(mean, moods, np.array(plain), np.array(whitened), np.zeros(len(mean)), 0.0,
                        {"any": (1.0, 1.0, math.inf)}, layout)


def check_shot(vectors: np.ndarray, faces: RelaxedFaces | None, backend: str | None = None) -> ShotCheck:
    """Does the shot (``(n, d)`` face vectors, or one reference vector) look like a relaxed face?

    Its median face is refused when it lies beyond a limit along some mood's direction, or when
    the expressive test says it is not relaxed; ``backend`` (of the landmarks) picks the limits.
    ``score`` is the mood-direction part (over 1.0: beyond the limit). Without ``faces`` (no check
    file), or for vectors of another length, the shot is not checked (ok, mood None).
    """
    X = np.asarray(vectors, dtype=np.float64)
    X = X.reshape(1, -1) if X.ndim == 1 else X
    if faces is None or not len(X) or X.shape[1] != faces.mean.size:
        return ShotCheck(True, None, 0.0, "")
    median = np.median(X, axis=0)
    scores = faces.scores(median, backend)
    top = int(np.argmax(scores))
    mood, score = faces.moods[top], float(scores[top])
    if score > 1.0:
        return ShotCheck(False, mood, score, f"you seem to be {looks(mood)}: {RELAX}")
    if faces.excess(median, backend) > 0.0:  # not relaxed, but along no one mood: name none
        return ShotCheck(False, None, score, f"your face does not look relaxed: {RELAX}")
    return ShotCheck(True, mood, score, "")


# Chosen on development people (benchmarks/shots.py, docs/results/shots.md)
DOUBT_SPAN = 4  # windows looked back over (20 minutes at the default cycle)
DOUBT_FACTOR = 0.75  # of the shot check's limits: the reference is doubted beyond it


@dataclass
class RunningCheck:
    """Doubts a reference that lies far from the face the windows show, in the direction of a mood.

    A person at a desk mostly shows their relaxed face, so the median of their last ``span``
    windows' median faces is close to it, whatever moods some windows show. :meth:`add` takes each
    window's median face and the reference in use; once ``span`` windows are in, the reference's
    offset from that typical face is scored like a shot (:meth:`RelaxedFaces.scores`, with the
    person's typical face in place of the population's): beyond ``factor`` for a mood, the
    reference looks like that mood (a smile for the camera), and :attr:`doubted` holds the mood
    until :meth:`reset` (a new shot). Without ``faces`` nothing is doubted.
    """

    faces: RelaxedFaces | None = None
    backend: str | None = None  # of the landmarks: picks the limits
    span: int = DOUBT_SPAN
    factor: float = DOUBT_FACTOR
    doubted: str | None = None
    recent: deque = field(default_factory=deque)

    def add(self, median: np.ndarray | None, reference: np.ndarray | None) -> bool:
        """Count one window (``median``: its median face, None without faces); True when this
        window made the reference doubted."""
        if median is None or reference is None or self.faces is None or self.doubted is not None:
            return False
        median = np.asarray(median, dtype=np.float64).reshape(-1)
        if median.size != self.faces.mean.size:
            return False
        self.recent.append(median)
        while len(self.recent) > self.span:
            self.recent.popleft()
        if len(self.recent) < self.span:
            return False
        typical = np.median(np.stack(self.recent), axis=0)
        offset = np.asarray(reference, dtype=np.float64).reshape(-1) - typical
        scores = self.faces.scores(self.faces.mean + offset, self.backend)
        if float(scores.max()) <= self.factor:
            return False
        self.doubted = self.faces.moods[int(np.argmax(scores))]
        return True

    def reset(self, backend: str | None = None) -> None:
        """A new reference (of landmarks of ``backend``): start counting again."""
        self.doubted, self.recent, self.backend = None, deque(), backend

    @property
    def message(self) -> str:
        """One line for the status line ("" when the reference is not doubted)."""
        if self.doubted is None:
            return ""
        return (f"the reference face does not look relaxed ({self.doubted}) next to your last {self.span} "
                "windows: press c to recalibrate")


SHOT_CHECK = "shotcheck.npz"  # beside the starter model


def load_relaxed_faces(path: Path, layout: str) -> RelaxedFaces | None:
    """The shot check's :class:`RelaxedFaces` at ``path``, or None (with one warning) when it is
    missing, unreadable or made for another feature layout: shots are then used unchecked."""
    try:
        faces = RelaxedFaces.load(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("the calibration shot is not checked: cannot read %s (%s)", path, exc)
        return None
    if faces.layout != layout:
        log.warning("the calibration shot is not checked: %s is for feature layout %s, not %s",
                    path, faces.layout, layout)
        return None
    return faces
