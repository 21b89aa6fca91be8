"""Learning one person from a few corrected windows, on top of the starter: numpy only.

Two alternatives to the learner's default (the whole network fine-tuned with the relaxed face held
as neutral, :mod:`emusify.reading.relearn`); measured against it in docs/results/corrections.md
and not chosen, they stay selectable with ``learn(method=...)``. Both work in the
reference-centred space the starter reads (a vector minus the person's relaxed face):

- :func:`fit_prototypes`: each corrected window becomes a prototype (the mean of its frames in the
  network's last hidden layer), and the relaxed face itself (the zero vector) is always one of
  neutral. A new face votes for the moods of the prototypes near it (a Gaussian kernel whose width
  scales with how far the corrections lie from the relaxed face) and the votes are blended with the
  network's probabilities (:func:`blend`). The further a face lies from every correction (against
  the kernel's width) the less it changes, and a relaxed face keeps reading neutral.
- :func:`fit_last_layer`: only the output layer is refitted (the hidden layers are the starter's),
  pulled to the starter's weights and held to its answers on anchor points, with the relaxed face
  as a neutral example.

The prototypes live in the model (:attr:`emusify.reading.model.Model.prototypes`); the last layer is
baked into the weights.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from emusify.config import NEUTRAL

STRENGTH = 1.0  # how much a prototype right on the face weighs against the network (1 beat 2 and 4 on dev)
WIDTH = 0.5  # kernel width, as a fraction of the mean squared distance of the corrections to the relaxed face


class Prototypes(NamedTuple):
    """Corrected windows of one person in the network's last hidden layer."""

    vectors: np.ndarray  # (p, m) points in the last hidden layer
    labels: np.ndarray  # (p,) index into the model's labels
    width: float  # squared distance at which a prototype's vote falls to 1/e
    strength: float  # weight of a prototype right on the face against the network (sum 1)
    angle: float = 0.0  # > 0: corrections vote by direction from the relaxed face, 1 - cosine at 1/e
    layer: int = -1  # where they live: -1 the last hidden layer, 0 the scaled input

    def settings(self) -> dict[str, Any]:
        """What the model's sidecar keeps of them (the vectors and labels go in the .npz)."""
        return {"count": len(self.labels), "width": self.width, "strength": self.strength,
                "angle": self.angle, "layer": self.layer}


def prototype_arrays(found: Prototypes | None) -> dict[str, np.ndarray]:
    """The arrays the model's .npz keeps of them (none without prototypes)."""
    return {} if found is None else {"prototype_vectors": found.vectors, "prototype_labels": found.labels}


def prototypes_from(settings: dict[str, Any] | None, arrays: dict[str, np.ndarray]) -> Prototypes | None:
    """The prototypes of a model file (None in files without them, e.g. older ones).

    Raises:
        KeyError, TypeError, ValueError: a sidecar entry without its arrays, or malformed.
    """
    if settings is None:
        return None
    return Prototypes(arrays["prototype_vectors"], arrays["prototype_labels"], float(settings["width"]),
                      float(settings["strength"]), float(settings.get("angle", 0.0)),
                      int(settings.get("layer", -1)))


def checked(found: Prototypes, width: int, labels: int) -> Prototypes:
    """``found`` with clean types, checked against a layer of ``width`` units and ``labels`` moods.

    Raises:
        ValueError: shapes, labels or settings that do not fit.
    """
    vectors, owners = np.asarray(found.vectors, np.float64), np.asarray(found.labels)
    if vectors.ndim != 2 or vectors.shape[1] != width or not np.isfinite(vectors).all():
        raise ValueError(f"prototypes of shape {vectors.shape} do not fit a layer of {width}")
    if owners.shape != (len(vectors),) or owners.dtype.kind not in "iu" or not (
            (owners >= 0) & (owners < labels)).all():
        raise ValueError("prototype labels are not indices of the model's labels")
    knobs = np.array([found.width, found.strength, found.angle], np.float64)
    if not np.isfinite(knobs).all() or knobs[0] <= 0 or (knobs[1:] < 0).any() or found.layer not in (0, -1):
        raise ValueError(f"prototype settings {found.settings()} out of range")
    return Prototypes(vectors, owners.astype(np.int64), *map(float, knobs), int(found.layer))


def hidden(model, X: np.ndarray, layer: int = -1) -> np.ndarray:
    """The last hidden layer's activations of (already centred) rows (``layer`` 0: the scaled input)."""
    a = (np.asarray(X, np.float64) - model.scaler_mean) / model.scaler_scale
    for W, b in list(zip(model.coefs[:-1], model.intercepts[:-1]))[:len(model.coefs) - 1 if layer else 0]:
        a = np.maximum(a @ W + b, 0.0)
    return a


def fit_prototypes(model, X: np.ndarray, y: np.ndarray, window: np.ndarray,
                   strength: float = STRENGTH, width: float = WIDTH, pool: str = "window",
                   angle: float = 0.0, layer: int = -1, relaxed: bool = True) -> Prototypes:
    """Prototypes of centred rows ``X`` (labels ``y``), one per ``window`` id (``pool="class"``: one
    per mood), plus the relaxed face (zero vector) as neutral.

    Raises:
        ValueError: a label the model does not know, or the model has no neutral.
    """
    labels = list(model.labels)
    if NEUTRAL not in labels or not set(np.asarray(y).tolist()) <= set(labels):
        raise ValueError(f"cannot learn {sorted(set(np.asarray(y).tolist()))} with a model of {labels}")
    H = hidden(model, X, layer)
    keys = {"class": np.asarray(y), "frame": np.arange(len(y))}.get(pool, np.asarray(window))
    vectors, owners = [hidden(model, np.zeros((1, X.shape[1])), layer)[0]], [labels.index(NEUTRAL)]
    spread_from = vectors[0]
    if not relaxed:  # the relaxed face only measures the width
        vectors, owners = [], []
    for key in dict.fromkeys(keys.tolist()):
        rows = keys == key
        vectors.append(H[rows].mean(axis=0))
        owners.append(labels.index(str(np.asarray(y)[rows][0])))
    P = np.stack(vectors)
    spread = float(np.mean(((P[1 if relaxed else 0:] - spread_from) ** 2).sum(axis=1))) if len(P) > 1 else 1.0
    return Prototypes(P, np.array(owners), max(width * spread, 1e-9), float(strength), float(angle), layer)


def blend(network: np.ndarray, H: np.ndarray, found: Prototypes) -> np.ndarray:
    """The network's probabilities (n, k) moved towards the moods of the prototypes near ``H`` (n, m)."""
    d2 = ((H[:, None, :] - found.vectors[None, :, :]) ** 2).sum(axis=2)
    near = np.exp(-d2 / found.width)  # (n, p)
    if found.angle > 0 and len(found.vectors) > 1:  # corrections by direction, the relaxed face by distance
        u, q = H - found.vectors[0], found.vectors[1:] - found.vectors[0]
        size, reach = np.linalg.norm(u, axis=1)[:, None], np.linalg.norm(q, axis=1)[None, :]
        cosine = (u @ q.T) / np.maximum(size * reach, 1e-12)
        strong = size**2 / (size**2 + (0.25 * reach) ** 2)  # faces far weaker than the correction count less
        near[:, 1:] = np.exp(-(1.0 - cosine) / found.angle) * strong
    votes = np.zeros_like(network)
    np.add.at(votes.T, found.labels, near.T)
    votes = votes / np.maximum(votes.sum(axis=1, keepdims=True), 1e-300)
    weight = found.strength * near.max(axis=1, keepdims=True)
    return (network + weight * votes) / (1.0 + weight)


def fit_last_layer(model, X: np.ndarray, y: np.ndarray, alpha: float = 1.0, steps: int = 200,
                   learning_rate: float = 1e-2, anchors: int = 512, neutral: float = 1.0,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The output layer (W, b) refitted to centred rows (X, y); the hidden layers stay.

    Class-balanced cross-entropy, the relaxed face (zero vector) as a neutral example weighing
    ``neutral`` times one mood, ``anchors`` points where the starter's answers are kept (weighing
    as much as the corrections), plus alpha / 2 * ||W - W_starter||^2.
    """
    labels = list(model.labels)
    W0, b0 = np.asarray(model.coefs[-1], np.float64), np.asarray(model.intercepts[-1], np.float64)
    H = hidden(model, np.concatenate([X, np.zeros((1, X.shape[1]))]))
    target = np.array([labels.index(v) for v in np.asarray(y).tolist()] + [labels.index(NEUTRAL)])
    k = len(labels)
    counts = np.bincount(target[:-1], minlength=k).astype(float)
    moods = np.count_nonzero(counts)
    weight = np.concatenate([1.0 / (moods * counts[target[:-1]]), [neutral / moods]])
    onehot = np.eye(k)[target]
    if anchors:
        points = np.random.default_rng(seed).normal(size=(anchors, model.scaler_mean.shape[0]))
        Ha = points.copy()
        for Wl, bl in zip(model.coefs[:-1], model.intercepts[:-1]):
            Ha = np.maximum(Ha @ Wl + bl, 0.0)
        H = np.concatenate([H, Ha])
        onehot = np.concatenate([onehot, _softmax(Ha @ W0 + b0)])
        weight = np.concatenate([weight, np.full(anchors, weight.sum() / anchors)])
    weight = weight / weight.sum()
    W, b = W0.copy(), b0.copy()
    m = [np.zeros_like(W), np.zeros_like(b)]
    v = [np.zeros_like(W), np.zeros_like(b)]
    for step in range(1, steps + 1):
        delta = (_softmax(H @ W + b) - onehot) * weight[:, None]
        grads = [H.T @ delta + alpha * (W - W0) / len(H), delta.sum(axis=0)]
        for j, (p, g) in enumerate(zip((W, b), grads)):
            m[j] = 0.9 * m[j] + 0.1 * g
            v[j] = 0.999 * v[j] + 0.001 * g * g
            p -= learning_rate * (m[j] / (1 - 0.9**step)) / (np.sqrt(v[j] / (1 - 0.999**step)) + 1e-8)
    return W, b


def window_ids(counts: Sequence[int]) -> np.ndarray:
    """One id per row: the index of the recording it came from."""
    return np.repeat(np.arange(len(counts)), counts)


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
