"""The mood model: numpy-only prediction, `.npz` weights plus a JSON sidecar, atomic save with backup.

This module never imports scikit-learn (``training`` does) and never unpickles: weights load with
``allow_pickle=False`` and everything else is plain JSON, checked on load.

``Model.predict_proba`` is the network alone (scaler, dense layers, softmax) on the vectors it is
given. With ``calibration == "reference"`` the network expects ``vector - reference``, the person's
relaxed face (``emusify.sensing.reference``); :class:`~emusify.reading.predictor.Predictor` subtracts
the user's reference, or ``reference_mean`` while the user has none. With the older
``"session-mean"`` the network expects vectors from which the person's mean vector was
subtracted; :class:`Predictor` keeps a running mean for those, warmed up from ``reference_mean``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from emusify.errors import ModelError
from emusify.reading.adapt import Prototypes, blend, checked, hidden, prototype_arrays, prototypes_from
from emusify.storage.model_files import RETRAIN as RETRAIN
from emusify.storage.model_files import backup_path as backup_path
from emusify.storage.model_files import read_sidecar, read_weights, sha256, write_pair
from emusify.storage.model_files import sidecar_path as sidecar_path
from emusify.storage.model_files import temp_beside as temp_beside

log = logging.getLogger(__name__)

FORMAT = "emusify-model"
FORMAT_VERSION = 1
CALIBRATIONS = ("none", "session-mean", "reference")
HIDDEN_ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
OUTPUT_ACTIVATIONS = ("softmax", "logistic")


class Layout(NamedTuple):
    """Same fields as ``features.FeatureLayout`` (kept here so loading needs no features import)."""

    name: str
    length: int


@dataclass(eq=False)
class Model:
    """A trained dense network and everything needed to use it on new feature vectors."""

    labels: tuple[str, ...]
    layout: Layout
    coefs: list[np.ndarray]  # (d_in, d_out) per layer
    intercepts: list[np.ndarray]  # (d_out,) per layer
    scaler_mean: np.ndarray  # (d,)
    scaler_scale: np.ndarray  # (d,)
    hidden_activation: str = "relu"
    output_activation: str = "softmax"
    calibration: str = "none"
    # (d,): "reference": the reference used while the user has none (starter: the mean of the training
    # people's references; a personal model: the user's own); "session-mean": where the running mean starts
    reference_mean: np.ndarray | None = None
    prior_frames: int = 60  # how many frames the reference mean weighs in the running mean
    meta: dict[str, Any] = field(default_factory=dict)
    # a person's corrected windows (emusify.reading.adapt), blended with the network's answer; None: none
    prototypes: Prototypes | None = None

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        self.layout = Layout(str(self.layout[0]), int(self.layout[1]))
        self._check()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in ``labels`` order: (n, d) -> (n, len(labels))."""
        a = np.asarray(X, dtype=np.float64)
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or a.shape[1] != self.layout.length:
            raise ModelError(
                f"feature vectors of shape {a.shape} do not fit this model "
                f"({self.layout.name}, {self.layout.length} values): {RETRAIN}"
            )
        if self.prototypes is not None:
            return blend(self._network(a), hidden(self, a, self.prototypes.layer), self.prototypes)
        return self._network(a)

    def _network(self, a: np.ndarray) -> np.ndarray:
        """The network's probabilities of checked (n, d) rows."""
        a = (a - self.scaler_mean) / self.scaler_scale
        last = len(self.coefs) - 1
        for i, (W, b) in enumerate(zip(self.coefs, self.intercepts)):
            a = a @ W + b
            if i < last:
                a = _ACTIVATIONS[self.hidden_activation](a)
        if self.output_activation == "logistic":  # two classes, one output unit (sklearn's way)
            p = _logistic(a[:, :1])
            return np.hstack([1.0 - p, p])
        return _softmax(a)

    def predict(self, X: np.ndarray) -> list[str]:
        """The most likely label of each row."""
        return [self.labels[i] for i in np.argmax(self.predict_proba(X), axis=1)]

    def save(self, path: Path) -> None:
        """Write ``path`` (.npz) and its sidecar atomically; the previous pair becomes FILE.bak.npz/.json.

        Crash-safe: both files are on disk (fsynced, 0600) before the sidecar, then the weights,
        are renamed over the old pair, whose copy is already the backup. A crash between the two
        renames leaves a pair that does not match, which :meth:`load` answers with the backup (or,
        on a first save, no weights under ``path`` at all: the starter keeps playing).

        Raises:
            ModelError: the folder cannot be written or the disk is full (the old pair stays).
        """
        path = Path(path)
        arrays = {f"coef_{i}": W for i, W in enumerate(self.coefs)}
        arrays.update({f"intercept_{i}": b for i, b in enumerate(self.intercepts)})
        arrays.update(prototype_arrays(self.prototypes))
        try:
            write_pair(path, arrays, self._sidecar, _whole)
        except OSError as exc:
            reason = exc.strerror or exc
            raise ModelError(f"cannot write the model {path}: {reason}; "
                             "free disk space or check the folder") from None
        log.debug("model saved: %s (+ %s)", path, sidecar_path(path).name)

    @classmethod
    def load(cls, path: Path, expected: Sequence | None = None) -> Model:
        """Read a model and check it fits ``expected`` (default: the current ``features.LAYOUT``).

        A pair left half-replaced by a crash (or otherwise damaged) is answered with its backup
        (FILE.bak.npz, kept by :meth:`save`) and one warning line, when the backup is whole.

        Raises:
            ModelError: missing, corrupt or truncated files (and no whole backup), or another layout.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"no model at {path}: record faces with collect.py, then run train.py")
        try:
            model = cls._load_pair(path)
        except ModelError as damaged:
            bak = backup_path(path)
            if path.name.endswith(".bak.npz") or not bak.is_file():
                raise
            try:
                model = cls._load_pair(bak)
            except ModelError:
                raise damaged from None
            log.warning("%s; using its backup %s (the model before the last update)", damaged, bak.name)
        want = Layout(*expected) if expected is not None else _current_layout()
        if model.layout != want:
            raise ModelError(
                f"{path} was made for feature layout {model.layout.name} ({model.layout.length} values), "
                f"this version uses {want.name} ({want.length}): {RETRAIN}"
            )
        return model

    @classmethod
    def _load_pair(cls, path: Path) -> Model:
        """The model of one weights + sidecar pair, checked against each other (no layout check)."""
        if not path.is_file():
            raise ModelError(f"no model at {path}: record faces with collect.py, then run train.py")
        sidecar = read_sidecar(path)
        arrays = read_weights(path)
        if sidecar.get("weights_sha256") != sha256(path):
            raise ModelError(f"{path} does not match its sidecar (half-written or mixed up): {RETRAIN}")
        try:
            return cls._from_parts(sidecar, arrays)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path} is corrupt ({exc}): {RETRAIN}") from None

    @classmethod
    def _from_parts(cls, sidecar: dict[str, Any], arrays: dict[str, np.ndarray]) -> Model:
        if sidecar.get("format") != FORMAT or int(sidecar.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} sidecar")
        net, cal = sidecar["network"], sidecar["calibration"]
        n = int(net["layers"])
        ref = cal.get("reference_mean")
        return cls(
            labels=tuple(str(label) for label in sidecar["labels"]),
            layout=Layout(sidecar["layout"]["name"], sidecar["layout"]["length"]),
            coefs=[arrays[f"coef_{i}"] for i in range(n)],
            intercepts=[arrays[f"intercept_{i}"] for i in range(n)],
            scaler_mean=np.asarray(sidecar["scaler"]["mean"], dtype=np.float64),
            scaler_scale=np.asarray(sidecar["scaler"]["scale"], dtype=np.float64),
            hidden_activation=net["hidden_activation"],
            output_activation=net["output_activation"],
            calibration=cal["mode"],
            reference_mean=None if ref is None else np.asarray(ref, dtype=np.float64),
            prior_frames=int(cal.get("prior_frames", 60)),
            meta={k: v for k, v in sidecar.items() if k not in _PARSED_KEYS},
            prototypes=prototypes_from(sidecar.get("prototypes"), arrays),
        )

    def _sidecar(self, digest: str) -> dict[str, Any]:
        ref = None if self.reference_mean is None else self.reference_mean.tolist()
        extra = {k: v for k, v in self.meta.items() if k not in _PARSED_KEYS}
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "layout": {"name": self.layout.name, "length": self.layout.length},
            "network": {
                "layers": len(self.coefs),
                "sizes": [int(W.shape[1]) for W in self.coefs],
                "hidden_activation": self.hidden_activation,
                "output_activation": self.output_activation,
            },
            "scaler": {"mean": self.scaler_mean.tolist(), "scale": self.scaler_scale.tolist()},
            "calibration": {
                "mode": self.calibration, "reference_mean": ref, "prior_frames": self.prior_frames,
            },
            "weights_sha256": digest,
            **({} if self.prototypes is None else {"prototypes": self.prototypes.settings()}),
            **extra,
        }

    def _check(self) -> None:
        """Shapes chain from the layout length to the labels; values are finite."""
        hidden, out = self.hidden_activation, self.output_activation
        if hidden not in HIDDEN_ACTIVATIONS or out not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"unknown activation {self.hidden_activation}/{self.output_activation}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.calibration!r}; known: {', '.join(CALIBRATIONS)}")
        if not self.coefs or len(self.coefs) != len(self.intercepts) or len(set(self.labels)) < 2:
            raise ValueError("need at least one layer and two distinct labels")
        self.coefs = [np.asarray(W, dtype=np.float64) for W in self.coefs]
        self.intercepts = [np.asarray(b, dtype=np.float64) for b in self.intercepts]
        width = self.layout.length
        for W, b in zip(self.coefs, self.intercepts):
            if W.ndim != 2 or W.shape[0] != width or b.shape != (W.shape[1],):
                raise ValueError(f"layer shapes {W.shape}/{b.shape} do not chain from width {width}")
            width = W.shape[1]
        outputs = 1 if self.output_activation == "logistic" else len(self.labels)
        if width != outputs or (outputs == 1 and len(self.labels) != 2):
            raise ValueError(f"{width} outputs for {len(self.labels)} labels")
        vectors = [self.scaler_mean, self.scaler_scale]
        if self.calibration != "none":
            if self.reference_mean is None:
                raise ValueError("calibration needs a reference mean")
            vectors.append(self.reference_mean)
        for v in vectors:
            if v.shape != (self.layout.length,):
                raise ValueError(f"a vector of shape {v.shape}, expected ({self.layout.length},)")
        if self.prototypes is not None:
            if self.output_activation != "softmax" or self.hidden_activation != "relu":
                raise ValueError("prototypes need a softmax network with relu units")
            width = self.coefs[-1].shape[0] if self.prototypes.layer else self.layout.length
            self.prototypes = checked(self.prototypes, width, len(self.labels))
        parts = [*self.coefs, *self.intercepts, *vectors]
        if not all(np.isfinite(p).all() for p in parts) or not (self.scaler_scale > 0).all():
            raise ValueError("weights hold NaN, infinity or a zero scale")


def _whole(path: Path) -> bool:
    """The pair at ``path`` loads (a save copies only a whole pair to the backup)."""
    try:
        Model._load_pair(path)
    except ModelError:
        return False
    return True


def _current_layout() -> Layout:
    from emusify.sensing.features import LAYOUT

    return Layout(LAYOUT.name, LAYOUT.length)


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _logistic(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(a, -500.0, 500.0)))


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


_ACTIVATIONS = {"relu": _relu, "tanh": np.tanh, "logistic": _logistic, "identity": lambda a: a}
_PARSED_KEYS = {"format", "format_version", "labels", "layout", "network", "scaler", "calibration",
                "weights_sha256", "prototypes"}
