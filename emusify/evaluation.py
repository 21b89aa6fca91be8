"""Scoring a model: metrics, the confusion-matrix PNG, and ``train.py --evaluate DIR``.

Plain numpy and matplotlib: scoring never needs scikit-learn, which stays in ``training``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from emusify.errors import DatasetError
from emusify.model import Model, temp_beside

log = logging.getLogger(__name__)


def metrics(truth: Sequence[str], guess: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 (over labels present in ``truth``), per-class figures, confusion matrix.

    Plain numpy, so that scoring a model never needs scikit-learn.
    """
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, g in zip(truth, guess):
        if t in index and g in index:
            matrix[index[t], index[g]] += 1
    hits = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    per_class = {c: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                     "f1": round(float(f1[i]), 4), "support": int(support[i])} for i, c in enumerate(labels)}
    present = support > 0
    n = len(truth)
    correct = sum(t == g for t, g in zip(truth, guess))
    return {
        "n": n,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "macro_f1": round(float(f1[present].mean()), 4) if present.any() else 0.0,
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def save_confusion_png(confusion: dict[str, Any], path: Path, title: str = "confusion matrix") -> Path:
    """Draw ``{"labels", "matrix"}`` (rows true, columns predicted) to a PNG, atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    labels, matrix = confusion["labels"], np.asarray(confusion["matrix"])
    size = 1.6 + 0.7 * len(labels)
    fig = Figure(figsize=(size + 1.2, size))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title=title)
    ax.tick_params(axis="x", labelrotation=45)
    for (i, j), value in np.ndenumerate(matrix):
        dark = value > matrix.max() / 2
        ax.text(j, i, str(value), ha="center", va="center", color="white" if dark else "black")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".pgm", ".ppm"}


def parse_label_map(text: str | None) -> dict[str, str]:
    """``"anger=angry,happiness=happy"`` -> ``{"anger": "angry", "happiness": "happy"}``.

    Raises:
        UsageError: an item without ``=``.
    """
    from emusify.errors import UsageError

    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        source, sep, target = (x.strip() for x in item.partition("="))
        if not sep or not source or not target:
            raise UsageError(f"--label-map item {item!r} is not FOLDER=LABEL, e.g. anger=angry")
        mapping[source] = target
    return mapping


def labelled_images(folder: Path, label_map: dict[str, str] | None = None) -> list[tuple[Path, str]]:
    """``(image, label)`` for every image in ``folder/<label>/``, labels renamed by ``label_map``."""
    label_map = label_map or {}
    found = []
    for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                found.append((path, label_map.get(sub.name, sub.name)))
    return found


def evaluate_folder(folder: Path, model: Model, label_map: dict[str, str] | None = None,
                    progress: bool = True, extractor: Any = None, reader: Any = None,
                    vectorize: Any = None) -> dict[str, Any]:
    """Run camera.read_image -> landmarks -> features -> model over a labelled folder ``DIR/<label>/*``.

    Labels the model does not know are reported (``skipped_labels``) and left out. With
    session-mean calibration the mean of all the folder's face vectors is subtracted first.

    ``extractor``, ``reader`` and ``vectorize`` default to a static LandmarkExtractor,
    camera.read_image and features.face_vector (tests pass fakes).

    Raises:
        DatasetError: the folder does not exist or holds no images of a known label.
    """
    if reader is None:
        from emusify.camera import read_image as reader
    if vectorize is None:
        from emusify.features import face_vector as vectorize

    if not Path(folder).is_dir():
        raise DatasetError(f"{folder} is not a folder: pass DIR holding DIR/<label>/<image> files")
    images = labelled_images(folder, label_map)
    skipped = Counter(label for _, label in images if label not in model.labels)
    images = [(path, label) for path, label in images if label in model.labels]
    if skipped:
        log.warning("labels the model does not know, left out: %s", ", ".join(sorted(skipped)))
    if not images:
        raise DatasetError(f"no images of the model's labels ({', '.join(model.labels)}) under {folder}; "
                           "use --label-map to rename folders")
    vectors, truth, unreadable = _read_faces(images, extractor, reader, vectorize, progress)
    result: dict[str, Any] = {"folder": str(folder), "model": model.meta.get("created"),
                              "n_images": len(images), "n_faces": len(vectors), "unreadable": unreadable,
                              "skipped_labels": dict(skipped), "calibration": model.calibration}
    if vectors:
        X = np.asarray(vectors, dtype=np.float64)
        if model.calibration == "session-mean":
            X = X - X.mean(axis=0)
        result.update(metrics(truth, model.predict(X), model.labels))
    return result


def _read_faces(images: list[tuple[Path, str]], extractor: Any, reader: Any, vectorize: Any,
                progress: bool) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Feature vectors and labels of the images with a face, and the names of unreadable images."""
    from emusify.errors import CameraError

    if extractor is None:
        from emusify.landmarks import LandmarkExtractor

        context: Any = LandmarkExtractor(static=True)
    else:
        context = nullcontext(extractor)
    vectors, truth, unreadable = [], [], []
    with context as ex:
        for path, label in tqdm(images, desc="evaluating", unit="image", disable=not progress):
            try:
                image = reader(path)
            except CameraError:
                image = None
            if image is None:
                unreadable.append(path.name)
                continue
            lm = ex.extract(image)
            if lm is not None:
                vectors.append(vectorize(lm))
                truth.append(label)
    return vectors, truth, unreadable
