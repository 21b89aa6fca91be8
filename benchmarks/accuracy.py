"""Mood accuracy along run.py's path on the cached shared sets (issue 9's protocols).

    python benchmarks/extract.py                                  # once: landmarks -> .cache/
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py               # 1-5 minutes on 2 shared cores
    OMP_NUM_THREADS=1 python benchmarks/accuracy.py --skip-personal --skip-windows   # a quicker part

Every figure is what emusify.reading.model.Predictor (run.py's reader) answers, with the reference run.py
would have, and never a reference taken from the images it scores:
- desk, new user: the starter rebuilt without the person (benchmarks/starter.py's recipe, the
  product's own calibrate/fit code), reference = reference_from_vectors of two of the person's
  neutral images (the calibration shot, never scored); every other image of theirs is scored.
- first use: the same model and images, no reference (the model's reference_mean).
- personal, later day (taiwanese_tcced): per performer, their theatrical and FACS images and two of
  their three neutral ones are written as collect.py recordings (one run per elicitation type) and
  train.py runs on them with its defaults (--prior auto, the starter rebuilt without them as the
  prior); scored: their personal-event images and the third neutral, reference = the model's own
  (from their neutral recordings).
7 moods, and 4 (angry, happy, neutral, sad: the demo library) read by the same 7-mood model as
run.py reads them (Predictor(labels=...)), scored on faces of those moods. Accuracy is pooled over
images. Development performers (chosen for benchmarks/anchors.py before any figure) and report
performers of taiwanese_tcced are shown apart; nothing is tuned here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from faces import DEV_PERFORMERS, FOUR, REPORT_PERFORMERS, SEVEN, TCCED, Faces, load_faces
from people import Starters, faces_landmarks
from sklearn.exceptions import ConvergenceWarning
from starter import BACKENDS
from windows import report as windows_report

from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.sensing.features import LAYOUT
from emusify.sensing.reference import reference_from_vectors

MOODS = {7: SEVEN, 4: FOUR}
ROWS = ("taiwanese_tcced, report performers (7)", "taiwanese_tcced, all 14 performers",
        "taiwanese_tcced, dev performers (7)", "jaffe, leave-one-person-out", "jaffe, leave-one-dataset-out",
        "ckplus48, 5 folds of people")
PEER = {7: 0.48, 4: 0.70}  # FER2013 CNN of the peer apps on taiwanese_tcced images (issue 9), not re-measured


def read(model: Model, X: np.ndarray, moods: tuple[str, ...], reference: np.ndarray | None) -> np.ndarray:
    """What run.py's Predictor answers for each vector (restricted to ``moods``)."""
    predictor = Predictor(model, labels=moods, reference=reference)
    return np.array(predictor.labels)[predictor.predict(X).argmax(axis=1)]


def desk_and_first(faces: Faces, person: str, model: Model, hits: dict) -> None:
    """Score one unseen person: desk (their calibration shot) and first use (none)."""
    mine = faces.take(faces.person == person)
    scored = mine.take(~mine.calib)
    shot = reference_from_vectors(mine.X[mine.calib]) if mine.calib.sum() == 2 else None
    for n, moods in MOODS.items():
        sel = np.isin(scored.y, moods)
        if shot is not None:
            guess = read(model, scored.X[sel], moods, shot)
            hits["desk", n] += list(guess == scored.y[sel])
            hits["desk guesses", n] += list(zip(scored.y[sel], guess, scored.session[sel]))
        hits["first", n] += list(read(model, scored.X[sel], moods, None) == scored.y[sel])


def generic(faces: Faces, starters: Starters) -> dict[str, dict]:
    """Desk and first use on every protocol's people: {row: {(protocol, moods): hits}}."""
    rows: dict[str, dict] = {name: defaultdict(list) for name in ROWS}
    for performer in DEV_PERFORMERS + REPORT_PERFORMERS:
        person = f"{TCCED}:{performer}"
        half = "report" if performer in REPORT_PERFORMERS else "dev"
        for row in (f"taiwanese_tcced, {half} performers (7)", "taiwanese_tcced, all 14 performers"):
            desk_and_first(faces, person, starters.without([person]), rows[row])
    jaffe = np.unique(faces.person[faces.dataset == "jaffe"])
    for person in jaffe:
        desk_and_first(faces, person, starters.without([person]), rows["jaffe, leave-one-person-out"])
    for person in jaffe:
        desk_and_first(faces, person, starters.without(jaffe), rows["jaffe, leave-one-dataset-out"])
    ck = np.unique(faces.person[faces.dataset == "ckplus48"])
    for fold in np.array_split(ck, 5):  # 5 folds of people (sorted ids)
        for person in fold:
            desk_and_first(faces, person, starters.without(fold), rows["ckplus48, 5 folds of people"])
    return rows


def record(data: Path, mine: Faces, lms: dict) -> None:
    """The performer's training images as collect.py recordings: one run per elicitation type."""
    from emusify.storage.dataset import SessionWriter

    calib = np.flatnonzero(mine.calib)
    run_of = {i: ("1", "2")[k] for k, i in enumerate(calib)}  # one calibration neutral per run
    run_of.update({i: mine.session[i] for i in np.flatnonzero(np.isin(mine.session, ["1", "2"]))})
    for run in ("1", "2"):
        for emotion in SEVEN:
            rows = [i for i, r in run_of.items() if r == run and mine.y[i] == emotion]
            if not rows:
                continue
            with SessionWriter(data, emotion, (LAYOUT.name, LAYOUT.length), "import", group=f"run-{run}",
                               session_id=f"run{run}-{emotion}") as writer:
                for k, i in enumerate(rows):
                    writer.append(lms[TCCED, str(mine.name[i])], float(k), str(mine.name[i]))


def train_py(mine: Faces, lms: dict, prior: Model, argv: tuple[str, ...] = ()) -> Model:
    """What `python train.py` makes of one performer's training images (recorded as collect.py runs)."""
    from emusify.cli.train import main as train_main

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prior.save(root / "starter.npz")
        (root / "emusify.cfg").write_text(f"[emusify]\nstarter_model = {root / 'starter.npz'}\n")
        record(root / "data", mine, lms)
        os.environ["EMUSIFY_CONFIG"] = str(root / "emusify.cfg")
        try:
            with contextlib.redirect_stdout(io.StringIO()) as out:
                status = train_main(["--data", str(root / "data"), "--model", str(root / "me.npz"), "-qq",
                                     *argv])
        finally:
            del os.environ["EMUSIFY_CONFIG"]
        if status != 0:
            raise SystemExit(f"train.py failed:\n{out.getvalue()}")
        return Model.load(root / "me.npz")


def personal(faces: Faces, starters: Starters,
             performers: tuple[str, ...] = DEV_PERFORMERS + REPORT_PERFORMERS,
             argv: tuple[str, ...] = (), also_without: tuple[str, ...] = (),
             backend: str = "holistic") -> dict[str, dict]:
    """Personal later day: train.py (defaults, or ``argv``) on each performer's recordings, read by run.py.

    The prior is the starter rebuilt without the performer (and ``also_without``); ``backend``: whose
    landmarks are recorded (the same as ``faces``').
    """
    lms, rows = faces_landmarks(backend), {name: defaultdict(list) for name in ROWS[:3]}
    for performer in performers:
        person = f"{TCCED}:{performer}"
        mine = faces.take(faces.person == person)
        model = train_py(mine, lms, starters.without([person, *also_without]), argv)
        test = mine.take((mine.session == "3") | ((mine.y == "neutral") & ~mine.calib))
        half = "report" if performer in REPORT_PERFORMERS else "dev"
        prior = "fine-tuned starter" if "prior" in model.meta.get("training", {}) else "from scratch"
        for row in (f"taiwanese_tcced, {half} performers (7)", "taiwanese_tcced, all 14 performers"):
            rows[row]["prior", 7] = rows[row]["prior", 7] + [f"{prior} ({model.calibration})"]
            for n, moods in MOODS.items():
                sel = np.isin(test.y, moods) & np.isin(test.y, model.labels)
                rows[row]["personal", n] += list(read(model, test.X[sel], moods, None) == test.y[sel])
    return rows


def print_detail(guesses: list) -> None:
    """Desk, 7 moods: accuracy per elicitation type and the confusion matrix (what limits it)."""
    truth, guess, kind = (np.array(x) for x in zip(*guesses))
    names = {"0": "neutral", "1": "theatrical", "2": "FACS", "3": "personal event"}
    print("\ndesk, 7 moods, all 14 taiwanese_tcced performers, by elicitation type: " + ", ".join(
        f"{names[k]} {np.mean(truth[kind == k] == guess[kind == k]):.2f} ({int((kind == k).sum())})"
        for k in sorted(set(kind.tolist()))))
    print("\n| true \\ read | " + " | ".join(SEVEN) + " |\n|---|" + "---:|" * len(SEVEN))
    for t in SEVEN:
        print(f"| {t} | " + " | ".join(str(int(((truth == t) & (guess == g)).sum())) for g in SEVEN) + " |")


def cell(hits: list) -> str:
    return f"{np.mean(hits):.2f} ({len(hits)})" if hits else "-"


def print_table(rows: dict[str, dict], protocols: tuple[str, ...]) -> None:
    head = " | ".join(f"{p} {n}" for p in protocols for n in MOODS)
    print(f"| people | {head} |\n|---|" + "---:|" * (len(protocols) * len(MOODS)))
    for name, hits in rows.items():
        print(f"| {name} | " + " | ".join(cell(hits[p, n]) for p in protocols for n in MOODS) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-generic", action="store_true", help="leave out desk and first use")
    parser.add_argument("--skip-personal", action="store_true", help="leave out the personal protocol")
    parser.add_argument("--skip-windows", action="store_true", help="leave out the window level")
    parser.add_argument("--backend", choices=BACKENDS, default="holistic",
                        help="whose landmarks of the scored faces (default: holistic)")
    parser.add_argument("--train", choices=(*BACKENDS, "both"), default="both",
                        help="whose landmarks the starters learn from (default: both, as starter.py)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.monotonic()
    faces = load_faces(backend=args.backend)
    starters = Starters(backends=BACKENDS if args.train == "both" else (args.train,))
    print(f"layout {LAYOUT.name} ({LAYOUT.length}); {len(faces.y)} faces, {args.backend} landmarks; "
          f"starters learn from {args.train} landmarks; starter recipe: "
          f"benchmarks/starter.py; development performers {', '.join(DEV_PERFORMERS)}, "
          f"report performers {', '.join(REPORT_PERFORMERS)}")
    print("cells: accuracy (images scored); 4 = angry, happy, neutral, sad (ckplus48: no neutral)\n")
    if not args.skip_generic:
        rows = generic(faces, starters)
        print_table(rows, ("desk", "first"))
        print_detail(rows["taiwanese_tcced, all 14 performers"]["desk guesses", 7])
    print(f"\nFER2013 CNN of the peer apps, taiwanese_tcced images (issue 9, not re-measured): "
          f"{PEER[7]:.2f} / {PEER[4]:.2f}\n")
    if not args.skip_personal:
        rows = personal(faces, starters, backend=args.backend)
        print_table(rows, ("personal",))
        for name, hits in rows.items():
            print(f"{name}: train.py chose {', '.join(sorted(set(hits['prior', 7])))}")
    if not args.skip_windows:
        windows_report(faces, starters, args.backend)
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
