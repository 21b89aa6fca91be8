"""train.py: fit the mood model on your recordings, validate it honestly and save it."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from emusify.cli.common import make_parser, run_main, settings_from
from emusify.config import Settings
from emusify.errors import DatasetError, ExitStatus, UsageError
from emusify.model import backup_path, temp_beside

log = logging.getLogger(__name__)

DESCRIPTION = """\
Train the mood model on every recording under the data folder (made with collect.py): feature
vectors from face landmarks, a small dense network (scikit-learn), validated so that frames of one
recording session (or one subject of an imported set) are never on both sides of a split.
Prints samples per emotion and session, accuracy, macro-F1, per-class precision/recall and the
confusion matrix; saves FILE.npz + FILE.json and FILE.confusion.png (the previous model is kept
as FILE.bak.npz/.json). While some emotion has fewer than three recording sessions, the starter
model is fine-tuned on your recordings instead of training from scratch (--prior)."""

EPILOG = """\
examples:
  python train.py                                   datasets/ -> models/emusify.npz
  python train.py --augment mirror --calibration session-mean --prior none
  python train.py --evaluate photos/ --label-map anger=angry,happiness=happy --json eval.json
"""

SESSION_LINES = 40  # more sessions than this: listed per group instead
PRIOR_BELOW = 3  # --prior auto fine-tunes the starter while some emotion has fewer sessions than this


def build_parser() -> argparse.ArgumentParser:
    """The train.py command line; every option shows its default."""
    p = make_parser("train.py", DESCRIPTION, EPILOG)
    p.add_argument("--also", type=Path, action="append", default=[], metavar="DIR",
                   help="another recordings folder to train on jointly, e.g. an imported set (repeatable)")
    p.add_argument("--estimator", choices=("mlp", "logistic"), default="mlp",
                   help="mlp: dense network; logistic: no hidden layer (default: mlp)")
    p.add_argument("--hidden", default="64", metavar="SIZES",
                   help="hidden layer sizes of the mlp, comma-separated (default: 64)")
    p.add_argument("--alpha", type=float, default=1.0, metavar="L2", help="L2 penalty (default: 1.0)")
    p.add_argument("--calibration", choices=("none", "session-mean"), default="none",
                   help="session-mean: learn on each session's deviations from its own mean vector; "
                        "run.py then subtracts your running mean (default: none)")
    p.add_argument("--augment", default="none", metavar="LIST",
                   help="landmark-space augmentation of the training side: none, mirror, jitter, "
                        "or a comma list (default: none)")
    p.add_argument("--prior", choices=("auto", "starter", "none"), default="auto",
                   help="start from the starter model (its network, with session-mean calibration) and "
                        "fine-tune it on your recordings; auto: when some emotion has fewer than "
                        f"{PRIOR_BELOW} recording sessions and --estimator/--hidden/--alpha/--also are "
                        "not given (default: auto)")
    p.add_argument("--balance", choices=("oversample", "none"), default="oversample",
                   help="oversample rarer emotions to the size of the largest (default: oversample)")
    p.add_argument("--folds", type=int, default=5, metavar="N",
                   help="validation folds; fewer groups than N: leave-one-group-out (default: 5)")
    p.add_argument("--max-steps", type=int, default=1500, metavar="N",
                   help="mini-batch updates per fit at most (default: 1500)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    p.add_argument("--evaluate", type=Path, metavar="DIR",
                   help="instead of training: test the model on labelled images DIR/<label>/*")
    p.add_argument("--label-map", metavar="MAP",
                   help="with --evaluate: rename folders to model labels, e.g. anger=angry,happiness=happy")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the metrics as JSON to OUT")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of train.py and emusify-train."""
    return run_main(build_parser(), command, argv)


def command(args: argparse.Namespace) -> int:
    """Train (default) or evaluate (--evaluate DIR)."""
    settings = settings_from(args)
    if args.json is not None and args.json.suffix == ".json" and args.json.resolve() in {
        p.with_suffix(".json").resolve() for p in (settings.model, backup_path(settings.model))
    }:
        raise UsageError(f"--json {args.json} would overwrite the model's sidecar; pick another file")
    if args.evaluate is not None:
        return evaluate(args, settings)
    from emusify.dataset import load_sessions
    from emusify.evaluation import save_confusion_png
    from emusify.features import LAYOUT
    from emusify.samples import samples_from_sessions
    from emusify.training import train

    options = options_from(args)
    sessions = []
    for folder in [settings.data, *args.also]:
        sessions += _sessions_in(folder, load_sessions)
    prior = choose_prior(args, settings, sessions, options)
    if prior is not None:  # the measured fine-tuning recipe: calibrated, with mirrored and jittered copies
        options = dataclasses.replace(options, calibration="session-mean",
                                      augment=tuple(dict.fromkeys(options.augment + ("mirror", "jitter"))))
    samples = samples_from_sessions(sessions, options.augment, jitter=options.jitter, seed=options.seed)
    if not len(samples.y):
        raise DatasetError(f"no usable samples under {settings.data}/: record faces with collect.py first")
    print(format_samples(samples.sessions))
    if prior is not None:
        from emusify.finetune import train_from_prior

        model = train_from_prior(samples, prior, options, progress=not args.quiet,
                                 prior_name=str(settings.starter_model))
    else:
        model = train(samples, LAYOUT, options, progress=not args.quiet)
    model.meta["backend"] = backend_of_sessions(sessions)
    validation = model.meta["validation"]
    print(format_metrics(validation))
    model.save(settings.model)
    print(f"model saved: {settings.model} (+ {settings.model.with_suffix('.json').name})")
    if "confusion" in validation:
        png = save_confusion_png(validation["confusion"], confusion_png(settings.model),
                                 f"validation: {validation['scheme']}")
        print(f"confusion matrix: {png}")
    if args.json is not None:
        write_json(args.json, {"training": model.meta["training"], "validation": validation})
    return ExitStatus.OK


def backend_of_sessions(sessions: list) -> str:
    """The landmark backend of the recordings ("holistic", "tasks"), "mixed", or "unknown"."""
    found = {getattr(s, "backend", None) or "unknown" for s in sessions}
    return found.pop() if len(found) == 1 else "mixed"


def options_from(args: argparse.Namespace) -> Any:
    """TrainOptions from the flags; UsageError for a malformed value."""
    from emusify.samples import AUGMENTATIONS
    from emusify.training import TrainOptions

    try:
        hidden = tuple(int(x) for x in args.hidden.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--hidden {args.hidden!r}: give sizes such as 128 or 128,64 "
                         "(see train.py --help)") from None
    augment = tuple(x.strip() for x in args.augment.split(",") if x.strip() and x.strip() != "none")
    bad = [x for x in augment if x not in AUGMENTATIONS]
    if bad or not hidden or min(hidden) < 1 or args.folds < 2 or args.max_steps < 1:
        what = f"--augment {','.join(bad)}" if bad else "--hidden, --folds (2 or more) or --max-steps"
        raise UsageError(f"bad value for {what}; see train.py --help")
    return TrainOptions(estimator=args.estimator, hidden=hidden, alpha=args.alpha,
                        calibration=args.calibration, augment=augment, balance=args.balance,
                        folds=args.folds, max_steps=args.max_steps, seed=args.seed)


def choose_prior(args: argparse.Namespace, settings: Settings, sessions: list, options: Any) -> Any:
    """The starter model to fine-tune, or None to train from scratch (--prior; see PRIOR_BELOW).

    Raises:
        UsageError: --prior starter, and the starter cannot serve (missing, other layout or labels).
    """
    from emusify.errors import ModelError
    from emusify.model import Model
    from emusify.training import TrainOptions

    if args.prior == "none":
        return None
    per_emotion = Counter(s.emotion for s in sessions if len(s))
    fewest, count = min(per_emotion.items(), key=lambda kv: kv[1]) if per_emotion else ("", 0)
    d, o = TrainOptions(), options
    own_network = (o.estimator, o.hidden, o.alpha) != (d.estimator, d.hidden, d.alpha)
    if args.prior == "starter" and own_network:
        raise UsageError("--prior starter fine-tunes the starter's own network: drop --estimator, "
                         "--hidden and --alpha, or use --prior none")
    if args.prior == "auto" and (count >= PRIOR_BELOW or args.also or own_network):
        return None
    try:
        prior = Model.load(settings.starter_model)
        unknown = sorted(set(per_emotion) - set(prior.labels))
        if unknown:
            raise ModelError(f"it does not know {', '.join(unknown)}")
    except ModelError as exc:
        if args.prior == "starter":
            raise UsageError(f"--prior starter: cannot use {settings.starter_model}: {exc}") from None
        print(f"prior: none, training from scratch ({settings.starter_model}: {exc})")
        return None
    print(f"prior: fine-tuning the starter model {settings.starter_model}"
          + (f" ('{fewest}' has {count} recording session(s); from {PRIOR_BELOW} on, train.py "
             "trains from scratch)" if args.prior == "auto" else ""))
    return prior


def _sessions_in(folder: Path, load_sessions: Any) -> list:
    if not Path(folder).is_dir():
        raise DatasetError(f"no recordings: {folder}/ does not exist; record faces with collect.py first")
    sessions = list(load_sessions(folder))
    if not sessions:
        raise DatasetError(f"no recordings under {folder}/: record faces with collect.py first")
    return sessions


def confusion_png(model: Path) -> Path:
    """models/emusify.npz -> models/emusify.confusion.png."""
    return Path(model).with_suffix(".confusion.png")


def format_samples(sessions: list[dict[str, Any]]) -> str:
    """Samples per emotion, then per recording session (per group when there are many)."""
    per_class: Counter[str] = Counter()
    for s in sessions:
        per_class[s["emotion"]] += s["samples"]
    lines = ["samples per emotion:"]
    lines += [f"  {label:<12} {n:>7}" for label, n in sorted(per_class.items())]
    lines.append(f"  {'total':<12} {sum(per_class.values()):>7}")
    if len(sessions) <= SESSION_LINES:
        lines.append(f"samples per recording session ({len(sessions)}):")
        lines += [f"  {s['id']:<28} {s['emotion']:<10} group {s['group'] or '-':<16} {s['samples']:>6}"
                  for s in sessions]
    else:
        groups: Counter[str] = Counter()
        for s in sessions:
            groups[str(s["group"] or "-")] += s["samples"]
        lines.append(f"samples per group ({len(sessions)} sessions in {len(groups)} groups):")
        lines += [f"  {g:<28} {n:>7}" for g, n in sorted(groups.items())]
    return "\n".join(lines)


def format_metrics(result: dict[str, Any]) -> str:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix as text."""
    head = f"validation: {result.get('scheme', 'none')}"
    if "accuracy" not in result:
        return "\n".join([head, "  no validation figures (see the warnings above)"])
    lines = [head, f"  accuracy {result['accuracy']:.3f}   macro-F1 {result['macro_f1']:.3f}   "
                   f"({result['n']} samples)",
             f"  {'class':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
    for label, c in result["per_class"].items():
        lines.append(f"  {label:<12} {c['precision']:>9.3f} {c['recall']:>7.3f} {c['f1']:>6.3f} "
                     f"{c['support']:>8}")
    labels, matrix = result["confusion"]["labels"], result["confusion"]["matrix"]
    width = max(7, *(len(x) + 1 for x in labels))
    lines.append("confusion matrix (rows: true, columns: predicted):")
    lines.append(" " * 14 + "".join(f"{x:>{width}}" for x in labels))
    for label, row in zip(labels, matrix):
        lines.append(f"  {label:<12}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """--evaluate DIR: the model on a labelled image folder, printed and optionally written as JSON."""
    from emusify.evaluation import evaluate_folder, parse_label_map
    from emusify.model import Model

    label_map = parse_label_map(args.label_map)
    path = settings.model
    if args.model is None and not path.is_file() and settings.starter_model.is_file():
        log.info("no model at %s: evaluating the starter model %s", path, settings.starter_model)
        path = settings.starter_model
    model = Model.load(path)
    from emusify.landmarks import open_extractor

    with open_extractor(settings.backend, static=True) as extractor:
        result = evaluate_folder(args.evaluate, model, label_map, progress=not args.quiet,
                                 extractor=extractor)
    result["model"] = str(path)
    print(f"{args.evaluate}: {result['n_images']} images, faces found in {result['n_faces']}")
    if result["skipped_labels"]:
        print("left out (labels the model does not know): "
              + ", ".join(f"{k} ({v})" for k, v in sorted(result["skipped_labels"].items())))
    print(format_metrics({**result, "scheme": f"{path.name} on {args.evaluate}"}))
    if args.json is not None:
        write_json(args.json, result)
    return ExitStatus.OK


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"metrics written: {path}")
