"""train.py: fit the mood model on your recordings, validate it honestly and save it."""

from __future__ import annotations

import argparse
import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from emusify.cli.common import make_parser, run_main, settings_from
from emusify.cli.evaluate import add_evaluate_arguments, evaluate
from emusify.cli.figures import confusion_png, format_metrics, format_samples, reference_line, write_json
from emusify.config import Settings
from emusify.errors import DatasetError, ExitStatus, UsageError
from emusify.reading.model import backup_path

DESCRIPTION = """\
Train the mood model on every recording under the data folder (made with collect.py): feature
vectors from face landmarks, a small dense network (scikit-learn), validated so that frames of one
recording session (or one subject of an imported set) are never on both sides of a split.
Prints samples per emotion and session, accuracy, macro-F1, per-class precision/recall and the
confusion matrix; saves FILE.npz + FILE.json and FILE.confusion.png (the previous model is kept
as FILE.bak.npz/.json). Your moods are learned as deviations from your relaxed face: the median of
your neutral recordings, kept in the model (python collect.py records neutral first). While some
mood the starter model reads has fewer than three recording sessions (or none), the starter is
fine-tuned on your recordings instead of training from scratch, and the model keeps reading every
mood the starter reads, those you did not record too (--prior). --evaluate DIR scores a model on labelled
photos the way run.py reads them (never calibrated on the scored photos)."""

EPILOG = """\
examples:
  python train.py                                   datasets/ -> models/emusify.npz
  python train.py --augment mirror --prior none
  python train.py --evaluate photos/ --label-map anger=angry,happiness=happy --json eval.json
  python train.py --evaluate photos/ --reference relaxed/ --moods angry,happy,neutral,sad
"""

PRIOR_BELOW = 3  # --prior auto fine-tunes the starter while some mood it reads has fewer sessions than this


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
    p.add_argument("--calibration", choices=("auto", "reference", "none", "session-mean"), default="auto",
                   help="reference: learn on deviations from your relaxed face (the median of your neutral "
                        "recordings; stored in the model for run.py); auto: reference when neutral is "
                        "recorded, else none; session-mean: deviations from each person's mean vector "
                        "(older models) (default: auto)")
    p.add_argument("--augment", default="none", metavar="LIST",
                   help="landmark-space augmentation of the training side: none, mirror, jitter, "
                        "or a comma list (default: none)")
    p.add_argument("--prior", choices=("auto", "starter", "none"), default="auto",
                   help="start from the starter model (its network and its calibration: your "
                        "neutral recordings become the reference face) and fine-tune it on your "
                        "recordings, keeping every mood it reads; auto: when some mood it reads "
                        f"has fewer than {PRIOR_BELOW} recording sessions (none counts) and "
                        "--estimator/--hidden/--alpha/--also are not given (default: auto)")
    p.add_argument("--balance", choices=("oversample", "none"), default="oversample",
                   help="oversample rarer emotions to the size of the largest (default: oversample)")
    p.add_argument("--folds", type=int, default=5, metavar="N",
                   help="validation folds; fewer groups than N: leave-one-group-out; fewer when an "
                        "emotion has fewer recordings, none when it cannot be validated yet (default: 5)")
    p.add_argument("--max-steps", type=int, default=1500, metavar="N",
                   help="mini-batch updates per fit at most (default: 1500)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    add_evaluate_arguments(p)
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
    if args.reference is not None or args.moods is not None:
        raise UsageError("--reference and --moods work with --evaluate DIR only")
    return train_and_save(args, settings)


def train_and_save(args: argparse.Namespace, settings: Settings) -> int:
    """Train on the recordings, print the figures, save the model (and its confusion PNG, --json)."""
    from emusify.reading.evaluation import save_confusion_png

    model = fit_model(args, settings)
    print(reference_line(model))
    validation = model.meta["validation"]
    print(format_metrics(validation))
    model.save(settings.model)
    print(f"model saved: {settings.model} (+ {settings.model.with_suffix('.json').name})")
    if "confusion" in validation:
        png = save_confusion_png(validation["confusion"], confusion_png(settings.model),
                                 f"validation: {validation['scheme']}")
        print(f"confusion matrix: {png}")
    if args.json is not None:
        write_json(args.json, {"training": model.meta["training"], "validation": validation,
                               "reference": model.meta.get("reference")})
    return ExitStatus.OK


def fit_model(args: argparse.Namespace, settings: Settings) -> Any:
    """The model trained (or fine-tuned from the starter) on every recording; prints the samples.

    Raises:
        DatasetError: no recordings, or none with usable samples.
    """
    from emusify.reading.samples import samples_from_sessions
    from emusify.reading.training import train
    from emusify.sensing.features import LAYOUT
    from emusify.storage.sessions import backend_of_sessions, load_sessions

    options = options_from(args)
    sessions = _sessions_in(settings.data, load_sessions)
    n_own = len(sessions)  # the user's own recordings: one person (see person_of)
    for folder in args.also:
        sessions += _sessions_in(folder, load_sessions)
    prior = choose_prior(args, settings, sessions, options)
    if prior is not None:  # the measured fine-tuning recipe: calibrated, with mirrored and jittered copies
        augment = tuple(dict.fromkeys(options.augment + ("mirror", "jitter")))
        options = dataclasses.replace(options, augment=augment)
    own = {id(s) for s in sessions[:n_own]}
    samples = samples_from_sessions(sessions, options.augment, jitter=options.jitter, seed=options.seed,
                                    unit_of=lambda s: person_of(s, id(s) in own))
    if not len(samples.y):
        raise DatasetError(f"no usable samples under {settings.data}/: record faces with collect.py first")
    print(format_samples(samples.sessions))
    options = choose_calibration(options, samples, prior)
    if prior is not None:
        from emusify.reading.finetune import train_from_prior

        model = train_from_prior(samples, prior, options, progress=not args.quiet,
                                 prior_name=str(settings.starter_model))
    else:
        model = train(samples, LAYOUT, options, progress=not args.quiet)
    model.meta["backend"] = backend_of_sessions(sessions)
    return model


def options_from(args: argparse.Namespace) -> Any:
    """TrainOptions from the flags; UsageError for a malformed value."""
    from emusify.reading.samples import AUGMENTATIONS
    from emusify.reading.training import TrainOptions

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
    from emusify.reading.model import Model
    from emusify.reading.training import TrainOptions

    if args.prior == "none":
        return None
    per_emotion = Counter(s.emotion for s in sessions if len(s))
    fewest, count = min(per_emotion.items(), key=lambda kv: kv[1]) if per_emotion else ("", 0)
    d, o = TrainOptions(), options
    own_network = (o.estimator, o.hidden, o.alpha) != (d.estimator, d.hidden, d.alpha)
    if args.prior == "starter" and own_network:
        raise UsageError("--prior starter fine-tunes the starter's own network: drop --estimator, "
                         "--hidden and --alpha, or use --prior none")
    if args.prior == "auto" and (args.also or own_network):
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
    unrecorded = [label for label in prior.labels if per_emotion[label] == 0]
    if args.prior == "auto" and count >= PRIOR_BELOW and not unrecorded:
        return None
    print(f"prior: fine-tuning the starter model {settings.starter_model}" + _why_prior(
        args.prior, unrecorded, fewest, count))
    return prior


def _why_prior(prior: str, unrecorded: list[str], fewest: str, count: int) -> str:
    """Why --prior auto fine-tunes (empty for --prior starter)."""
    if prior != "auto":
        return ""
    why = [f"'{fewest}' has {count} recording session(s)"] if count < PRIOR_BELOW else []
    if unrecorded:
        why.append(f"it keeps reading {', '.join(unrecorded)}, which you did not record")
    return (f" ({'; '.join(why)}; once every mood it reads has {PRIOR_BELOW} recording sessions, "
            "train.py trains from scratch)")


def person_of(session: Any, own: bool) -> str:
    """The calibration unit (person) of a recording: all the user's own recordings are one person
    ("you"); recordings imported with a group id (``--group-regex``) or from ``--also`` folders
    are the person of their group."""
    imported = str(getattr(session, "header", {}).get("source", "")).startswith("import:")
    if own and not (imported and session.group is not None):
        return "you"
    return "" if session.group is None else str(session.group)


def choose_calibration(options: Any, samples: Any, prior: Any) -> Any:
    """--calibration auto: "reference" when neutral is recorded, else "none" (and say how to get it).

    With the starter as prior the prior decides (its calibration is kept).

    Raises:
        DatasetError: --calibration reference without neutral recordings.
    """
    has_neutral = bool((samples.y == "neutral").any())
    if prior is not None:
        return dataclasses.replace(options, calibration=prior.calibration)
    if options.calibration == "reference" and not has_neutral:
        raise DatasetError("--calibration reference needs neutral recordings: record your relaxed face "
                           "with 'python collect.py neutral', or use --calibration none")
    if options.calibration != "auto":
        return options
    if not has_neutral:
        print("no neutral recordings: training without a reference face; record your relaxed face with "
              "'python collect.py neutral' and train again to calibrate")
    return dataclasses.replace(options, calibration="reference" if has_neutral else "none")


def _sessions_in(folder: Path, load_sessions: Any) -> list:
    if not Path(folder).is_dir():
        raise DatasetError(f"no recordings: {folder}/ does not exist; record faces with collect.py first")
    sessions = list(load_sessions(folder))
    if not sessions:
        raise DatasetError(f"no recordings under {folder}/: record faces with collect.py first")
    return sessions
