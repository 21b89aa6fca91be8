"""train.py --evaluate DIR: score a model on labelled photos the way run.py reads them.

The scored images never calibrate anything: the reference face is a separate folder (--reference)
or what run.py has before a calibration shot.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from emusify.cli.figures import format_metrics, write_json
from emusify.config import Settings
from emusify.errors import ExitStatus

log = logging.getLogger(__name__)


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """train.py's --evaluate DIR and the flags that only work with it."""
    p.add_argument("--evaluate", type=Path, metavar="DIR",
                   help="instead of training: test the model on labelled images DIR/<label>/*")
    p.add_argument("--label-map", metavar="MAP",
                   help="with --evaluate: rename folders to model labels, e.g. anger=angry,happiness=happy")
    p.add_argument("--reference", type=Path, metavar="REF",
                   help="with --evaluate: a folder of images of the same person's relaxed face, used as "
                        "run.py uses its calibration shot (default: what run.py has before a shot: the "
                        "stored <data>/reference.json or the model's own reference; never the scored images)")
    p.add_argument("--accept-reference", action="store_true",
                   help="with --reference: use REF even when it does not look like a relaxed face "
                        "(by default such a reference is refused, as run.py refuses such a shot)")
    p.add_argument("--moods", metavar="LIST",
                   help="with --evaluate: read only these moods, renormalized, as run.py does with the "
                        "song folders, e.g. angry,happy,neutral,sad (default: all the model's moods)")


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """--evaluate DIR: the model on a labelled image folder, printed and optionally written as JSON.

    The path run.py takes: the scored images never calibrate anything (see evaluate_folder).
    """
    from emusify.reading.evaluation import (
        check_moods,
        evaluate_folder,
        parse_label_map,
        reference_from_folder,
    )
    from emusify.reading.model import Model

    label_map = parse_label_map(args.label_map)
    path = settings.model
    if args.model is None and not path.is_file() and settings.starter_model.is_file():
        log.info("no model at %s: evaluating the starter model %s", path, settings.starter_model)
        path = settings.starter_model
    model = Model.load(path)
    from emusify.sensing.landmarks import open_extractor, resolve_backend

    moods = None
    if args.moods is not None:
        moods = check_moods([m.strip() for m in args.moods.split(",") if m.strip()], model.labels)
    with open_extractor(settings.backend, static=True) as extractor:
        if args.reference is not None:
            reference = reference_from_folder(args.reference, progress=not args.quiet, extractor=extractor)
            origin = f"{reference.frames} face(s) in {args.reference}"
            if model.calibration == "reference":
                check_reference(reference.vector, args.reference, settings, args.accept_reference,
                                resolve_backend(settings.backend))
        else:
            reference, origin = run_py_reference(settings, model)
        result = evaluate_folder(args.evaluate, model, label_map, reference=reference, moods=moods,
                                 progress=not args.quiet, extractor=extractor)
    result["model"] = str(path)
    result["reference"]["from"] = origin
    print(f"{args.evaluate}: {result['n_images']} images, faces found in {result['n_faces']}")
    print(f"reference face: {origin if model.calibration != 'none' else 'none (an uncalibrated model)'}")
    if result["skipped_labels"]:
        print("left out (labels not read): "
              + ", ".join(f"{k} ({v})" for k, v in sorted(result["skipped_labels"].items())))
    print(format_metrics({**result, "scheme": f"{path.name} on {args.evaluate}"}))
    if args.json is not None:
        write_json(args.json, result)
    return ExitStatus.OK


def check_reference(vector: Any, folder: Path, settings: Settings, accept: bool,
                    backend: str | None = None) -> None:
    """Refuse ``--reference`` photos that do not look like a relaxed face, as run.py refuses such a shot
    (``backend``: of their landmarks).

    Raises:
        CalibrationError: refused, and ``accept`` (--accept-reference) is not given.
    """
    from emusify.errors import CalibrationError
    from emusify.sensing.features import LAYOUT
    from emusify.sensing.shotcheck import SHOT_CHECK, check_shot, load_relaxed_faces

    faces = load_relaxed_faces(settings.starter_model.with_name(SHOT_CHECK), LAYOUT.name)
    check = check_shot(vector, faces, backend)
    if check.ok:
        return
    why = f"--reference {folder}: not a relaxed face ({check.why})"
    if accept:
        log.warning("%s; used anyway (--accept-reference)", why)
        return
    raise CalibrationError(f"{why}; give photos of the same person's relaxed face, "
                           "or pass --accept-reference to use them anyway")


def run_py_reference(settings: Settings, model: Any) -> tuple[Any, str]:
    """The reference run.py has before a calibration shot: the newer of the stored one and the
    model's own, else None (the model's reference_mean); and where it came from."""
    from emusify.sensing.calibration import choose_reference, model_reference
    from emusify.sensing.features import LAYOUT
    from emusify.sensing.reference import load_reference

    if model.calibration != "reference":
        return None, "the model's reference_mean"
    stored = load_reference(settings.reference_path, LAYOUT)
    reference, why = choose_reference(stored, model_reference(model), settings.reference_path)
    return reference, why
