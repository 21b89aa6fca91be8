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
from emusify.reading.model import Model, temp_beside
from emusify.sensing.reference import Reference, make_reference

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
                    reference: Reference | np.ndarray | None = None, moods: Sequence[str] | None = None,
                    progress: bool = True, extractor: Any = None, reader: Any = None,
                    vectorize: Any = None) -> dict[str, Any]:
    """Run camera.read_image -> landmarks -> features -> model over a labelled folder ``DIR/<label>/*``.

    The path run.py takes: the scored images never calibrate anything. A calibrated model reads
    ``vector - reference``, where the reference is ``reference`` (e.g. from
    :func:`reference_from_folder`, as a calibration shot makes it) or else the model's
    ``reference_mean`` (what run.py has before a calibration shot). ``moods`` restricts the
    answer to those of the model's moods, renormalized, as run.py does with the song folders;
    images of other moods are left out. Labels the model does not know are reported
    (``skipped_labels``) and left out.

    ``extractor``, ``reader`` and ``vectorize`` default to a static LandmarkExtractor,
    camera.read_image and features.face_vector (tests pass fakes).

    Raises:
        DatasetError: the folder does not exist or holds no images of a known label.
        UsageError: ``moods`` names a mood the model does not know, or fewer than two.
    """
    if not Path(folder).is_dir():
        raise DatasetError(f"{folder} is not a folder: pass DIR holding DIR/<label>/<image> files")
    labels = check_moods(moods, model.labels)
    images = labelled_images(folder, label_map)
    skipped = Counter(label for _, label in images if label not in labels)
    images = [(path, label) for path, label in images if label in labels]
    if skipped:
        log.warning("labels left out (not among the moods read): %s", ", ".join(sorted(skipped)))
    if not images:
        raise DatasetError(f"no images of the moods read ({', '.join(labels)}) under {folder}; "
                           "use --label-map to rename folders")
    vectors, truth, unreadable = _read_faces(images, extractor, reader, vectorize, progress)
    offset, used = _offset(model, reference)
    result: dict[str, Any] = {"folder": str(folder), "model": model.meta.get("created"),
                              "n_images": len(images), "n_faces": len(vectors), "unreadable": unreadable,
                              "skipped_labels": dict(skipped), "calibration": model.calibration,
                              "moods": list(labels), "reference": used}
    if vectors:
        proba = read_moods(model, np.asarray(vectors, dtype=np.float64), labels, offset)
        result.update(metrics(truth, [labels[i] for i in proba.argmax(axis=1)], labels))
    return result


def check_moods(moods: Sequence[str] | None, known: Sequence[str]) -> tuple[str, ...]:
    """The moods to read, in the model's order (all of them when ``moods`` is None).

    Raises:
        UsageError: a mood the model does not know, or fewer than two.
    """
    from emusify.errors import UsageError

    if moods is None:
        return tuple(known)
    unknown = [m for m in moods if m not in known]
    if unknown or len(set(moods)) < 2:
        what = f"unknown mood {', '.join(unknown)}" if unknown else "fewer than two moods"
        raise UsageError(f"--moods: {what}; give two or more of {','.join(known)}")
    return tuple(m for m in known if m in set(moods))


def read_moods(model: Model, X: np.ndarray, labels: Sequence[str], offset: np.ndarray | None) -> np.ndarray:
    """Probabilities over ``labels`` (renormalized) of ``X - offset``, as run.py's Predictor gives them."""
    proba = model.predict_proba(X - offset if offset is not None else X)
    kept = proba[:, [model.labels.index(x) for x in labels]]
    return kept / np.maximum(kept.sum(axis=1, keepdims=True), 1e-300)


def _offset(model: Model, reference: Reference | np.ndarray | None) -> tuple[np.ndarray | None, dict]:
    """The vector subtracted, and what the JSON says about it."""
    if model.calibration == "none":
        return None, {"source": "none (the model is not calibrated)"}
    if isinstance(reference, Reference):
        return reference.vector, {"source": reference.source, "frames": reference.frames,
                                  "layout": reference.layout}
    if reference is not None:
        return np.asarray(reference, dtype=np.float64), {"source": "given"}
    origin = model.meta.get("reference", {}).get("source", "model")
    return model.reference_mean, {"source": f"the model's reference_mean ({origin})"}


def reference_from_folder(folder: Path, progress: bool = True, extractor: Any = None, reader: Any = None,
                          vectorize: Any = None) -> Reference:
    """The reference of a folder of images of one person's relaxed face (``--reference REF``).

    Every image under ``folder`` (sub-folders too) goes through the same extractor and
    :func:`emusify.sensing.reference.make_reference` as run.py's calibration shot.

    Raises:
        DatasetError: not a folder, or no face in any of its images.
    """
    from emusify.sensing.features import LAYOUT

    if not Path(folder).is_dir():
        raise DatasetError(f"--reference {folder} is not a folder: pass a folder of relaxed-face images")
    images = [(p, "") for p in sorted(Path(folder).rglob("*"))
              if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    vectors, _, _ = _read_faces(images, extractor, reader, vectorize, progress) if images else ([], [], [])
    if not vectors:
        raise DatasetError(f"no face found in the images of --reference {folder}: "
                           "give clear photos of the same person's relaxed face")
    ref = make_reference(np.asarray(vectors), LAYOUT.name, source="shot")
    log.info("reference: %d face(s) of %d image(s) in %s", ref.frames, len(images), folder)
    return ref


def _read_faces(images: list[tuple[Path, str]], extractor: Any, reader: Any, vectorize: Any,
                progress: bool) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Feature vectors and labels of the images with a face, and the names of unreadable images."""
    from emusify.errors import CameraError

    if reader is None:
        from emusify.sensing.camera import read_image as reader
    if vectorize is None:
        from emusify.sensing.features import face_vector as vectorize
    if extractor is None:
        from emusify.sensing.landmarks import LandmarkExtractor

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
