"""Run-time reading: :class:`Predictor` applies a model to a user's vectors, with their reference face.

:class:`emusify.reading.model.Model` is the network alone; the Predictor adds what run.py needs around it:
the per-person calibration (the user's reference face, or a running mean for older
``"session-mean"`` models) and reading only a subset of the moods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from emusify.reading.model import Model


class Predictor:
    """What run.py uses: probabilities for new vectors, with the per-person calibration applied.

    With ``calibration == "reference"`` each vector has ``reference`` subtracted (the user's relaxed
    face, from a calibration shot or their recordings), or the model's ``reference_mean`` while
    ``reference`` is None. Nothing changes inside :meth:`predict`: the caller sets
    :attr:`reference` after a calibration shot or a tracker update.

    With ``calibration == "session-mean"`` (older models) each call first adds its vectors to a
    running mean of everything this user has shown so far (starting from the model's reference
    mean, which weighs ``prior_frames`` frames), then subtracts that mean.

    ``labels`` (a subset of the model's, in its order) restricts the answer to those moods, the
    probabilities renormalized over them: run.py reads only the moods that have songs.

    Raises:
        ValueError: ``labels`` names a mood the model does not know, or fewer than two; a
            ``reference`` of the wrong length.
    """

    def __init__(self, model: Model, memory: int = 5000, labels: Sequence[str] | None = None,
                 reference: np.ndarray | None = None) -> None:
        self.model = model
        self.memory = memory  # past this many frames, old frames fade out (exponential forgetting)
        wanted = set(model.labels if labels is None else labels)
        if not wanted <= set(model.labels) or len(wanted) < 2:
            raise ValueError(f"cannot read {sorted(wanted)} with a model of {list(model.labels)}")
        self.labels = tuple(x for x in model.labels if x in wanted)
        self._columns = [model.labels.index(x) for x in self.labels]
        self.reference = reference
        self.reset()

    @property
    def reference(self) -> np.ndarray | None:
        """The user's reference face subtracted by a "reference" model (None: the model's own)."""
        return self._reference

    @reference.setter
    def reference(self, vector: np.ndarray | None) -> None:
        if vector is not None:
            vector = np.asarray(vector, dtype=np.float64).reshape(-1)
            if vector.shape != (self.model.layout.length,) or not np.isfinite(vector).all():
                raise ValueError(f"a reference of shape {vector.shape} does not fit this model "
                                 f"({self.model.layout.length} values)")
        self._reference = vector

    def reset(self) -> None:
        """Forget the user's running mean (session-mean models): it restarts from the reference mean."""
        ref = self.model.reference_mean
        self._count = float(self.model.prior_frames) if ref is not None else 0.0
        self._sum = ref * self._count if ref is not None else None

    @property
    def offset(self) -> np.ndarray | None:
        """The vector currently subtracted (None without calibration)."""
        if self.model.calibration == "reference":
            return self._reference if self._reference is not None else self.model.reference_mean
        if self.model.calibration == "none" or self._sum is None or self._count == 0:
            return None
        return self._sum / self._count

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """(n, d) feature vectors -> (n, k) probabilities in ``self.labels`` order."""
        X = np.asarray(vectors, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if self.model.calibration == "reference":
            X = X - self.offset
        elif self.model.calibration == "session-mean" and len(X):
            self._sum = X.sum(axis=0) + (self._sum if self._sum is not None else 0.0)
            self._count += len(X)
            if self._count > self.memory:
                self._sum = self._sum * (self.memory / self._count)
                self._count = float(self.memory)
            X = X - self._sum / self._count
        proba = self.model.predict_proba(X)
        if len(self._columns) == len(self.model.labels):
            return proba
        kept = proba[:, self._columns]
        return kept / np.maximum(kept.sum(axis=1, keepdims=True), 1e-300)
