"""The personal (set-up) path on people the project never saw (issue 23): record, learn, read a later day.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/personal.py        # about 80 s on 2 shared cores
    ... personal.py --today                                            # + main's train.py: about 7 minutes
    ... personal.py --people 01,02 --folds 2                           # a quick look

Per taiwanese_tcced performer (the starter rebuilt without them: FOLDS groups of performers, each
starter trained on the other people of every set, both backends, by benchmarks/starter.py's recipe):

1. The set-up, through the product's own code. A stand-in video per mood, 20 s at 10 frames per second
   (collect.py's defaults), cycles through the performer's posed photos of that mood (elicitation types
   1 and 2; neutral: the two photos that are also the calibration shot) with fresh landmark noise per
   frame. emusify.sensing.recorder.walk_through / record_session write it with SessionWriter, neutral
   first, as collect.py and the set-up do. Two set-ups: the 4 moods with demo songs ("songs"), or every
   mood ("every"). The personal model is emusify.reading.relearn.update_model on that folder (the
   starter fine-tuned on every recording, all starter moods kept), saved and loaded as run.py loads it.
2. The later session: windows of 72 frames (18 s at 4 fps) cycling through the performer's
   personal-event photos (type 3, the subtler faces; neutral: their neutral photos that are not the
   shot) of one mood, PER_MOOD windows per mood, each frame through run.py's Predictor (every mood,
   the shot as the reference) and Tally with the shipped min_confidence / min_share. A window led by
   a mood without songs keeps the music.
3. Baseline: the starter with the calibration shot on the same windows; and on "photo stand-ins"
   (windows of all the performer's photos but the shot's, as benchmarks/moods.py) its coverage and
   precision on the 4 song folders; and frames (each later photo once) at 7 and 4 moods.

Trials (chosen on the development half only; none is in the product): --learn, --starter
(benchmarks/personal_trials.py), --blend (each personal model averaged with its starter) and
--thresholds (the windows' min_confidence, min_share).

Landmarks: Tasks (run.py's default), from .cache/ (benchmarks/extract.py --backend tasks; the
starter also needs the Holistic caches). Figures per mood, per performer, and for the development
and report halves of benchmarks/faces.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
from corrections import Face, performers, split, take_shot
from faces import DEV_PERFORMERS, FOUR, SEVEN, TCCED
from personal_trials import trial_starters
from sklearn.exceptions import ConvergenceWarning

from emusify.config import Settings
from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.reading.relearn import update_model
from emusify.reading.tally import Tally
from emusify.sensing import features
from emusify.sensing.camera import Frame
from emusify.sensing.recorder import guided_order, record_session, walk_through
from emusify.storage.dataset import SessionWriter

SONGS = FOUR  # the demo library's folders
SONGLESS = tuple(m for m in SEVEN if m not in SONGS)
SIGMA = 0.005  # landmark noise per frame (benchmarks/windows.py, moods.py)
VIDEO_FPS = 10.0  # the stand-in video's frame rate: collect.py's --rate 10 analyses every frame
PER_MOOD = 3  # windows per performer and mood
FOLDS = 7  # groups of performers left out together (each starter is fitted FOLDS times)
SETUPS = {"songs": SONGS, "every": SEVEN}  # the moods a set-up records (neutral first)
THRESHOLDS: tuple[float, float] | None = None  # --thresholds (a trial): min_confidence, min_share
TODAY = False  # --today: also train.py's model before issue 23 (the recorded moods only)
BLEND = False  # --blend (a trial): also each personal model averaged with its starter, frame by frame
Decided = list[tuple[str, "str | None"]]  # (truth, the window's mood; None: unsure)


class Person(NamedTuple):
    """One performer's photos (landmarks), split as the set-up and a later day see them."""

    name: str  # "<set>:<performer>"
    posed: dict[str, list[Any]]  # mood -> the set-up session's photos (neutral: the shot's)
    later: dict[str, list[Any]]  # mood -> the later session's photos
    every: dict[str, list[Any]]  # mood -> all photos but the shot's (the "photo stand-ins")
    shot: np.ndarray  # the calibration shot's reference vector


def plan(people: Sequence[str], folds: int = FOLDS) -> dict[str, frozenset[str]]:
    """Person -> the people the starter that scores them is trained without (their fold, themselves
    included): person i of the sorted list is in fold i % folds."""
    ordered = sorted(people)
    groups = [frozenset(ordered[i::folds]) for i in range(min(folds, len(ordered)))]
    return {p: next(g for g in groups if p in g) for p in ordered}


def person_of(name: str, faces: list[Face]) -> Person:
    """A tcced performer as the benchmark sees them (types 1+2 posed, type 3 later, 2 neutrals the shot)."""
    recorded, later = split(faces)
    shot, rest = take_shot(recorded)
    shot_names = {f.name for f in recorded} - {f.name for f in rest}

    def by_mood(chosen: list[Face]) -> dict[str, list[Any]]:
        return {m: [f.landmarks for f in chosen if f.label == m] for m in SEVEN
                if any(f.label == m for f in chosen)}

    posed = [f for f in recorded if f.label != "neutral" or f.name in shot_names]
    every = [f for f in faces if f.name not in shot_names]
    return Person(f"{TCCED}:{name}", by_mood(posed), by_mood(later), by_mood(every), shot)


class StandInVideo:
    """A video file stand-in: frames whose "image" is a photo's landmarks with fresh noise."""

    is_video = True

    def __init__(self, photos: list[Any], seconds: float, rng: np.random.Generator) -> None:
        self.photos, self.frames, self.rng = photos, int(seconds * VIDEO_FPS) + 1, rng
        self._count = 0

    def read(self) -> Frame | None:
        count = self._count
        if count >= self.frames:
            return None
        self._count = count + 1
        photo = self.photos[self.rng.integers(len(self.photos))]
        return Frame(features.jitter(photo, SIGMA, self.rng), count / VIDEO_FPS, count, "standin.mp4")


class PassThrough:
    """The landmark extractor of a stand-in video: its frames are (Tasks) landmarks already."""

    backend = "tasks"

    def extract(self, image: Any) -> Any:
        return image._replace(detector=self.backend)  # the cache says "cache"; a recording names it


def record_setup(person: Person, moods: Sequence[str], data: Path, rng: np.random.Generator) -> int:
    """The set-up's recordings of ``moods`` (neutral first) under ``data``; returns the samples kept."""
    settings = Settings()

    def record(emotion: str):
        source = StandInVideo(person.posed[emotion], settings.record_seconds, rng)
        with SessionWriter(data, emotion, (features.LAYOUT.name, features.LAYOUT.length), "standin.mp4",
                           f"setup-{person.name}", backend=PassThrough.backend) as writer:
            return record_session(source, PassThrough(), writer, seconds=settings.record_seconds,
                                  samples=settings.record_samples, countdown=settings.countdown,
                                  rate=VIDEO_FPS, show_progress=False)

    todo = tuple(m for m in guided_order(tuple(moods)) if m in person.posed)
    return sum(r.kept for r in walk_through(todo, record, lambda _: None))


def personal_model(starter: Model, person: Person, moods: Sequence[str], seed: int,
                   today: bool = False) -> Model | tuple[Model, Model]:
    """What the set-up leaves: recordings of ``moods``, then relearn.update_model (saved and loaded).

    ``today``: also (second) what train.py makes of the same recordings before issue 23 (its
    default ``--prior auto``: the starter fine-tuned on the recorded moods only, train_from_prior).
    """
    with tempfile.TemporaryDirectory(prefix="emusify-personal-") as tmp:
        root = Path(tmp)
        starter.save(root / "starter.npz")
        record_setup(person, moods, root / "data", np.random.default_rng(seed))
        update_model(root / "data", root / "starter.npz", root / "model.npz")
        learned = Model.load(root / "model.npz")
        return (learned, train_py_today(starter, root / "data")) if today else learned


def train_py_today(starter: Model, data: Path) -> Model:
    """train.py's fit_model with its defaults on ``data``: one person, the starter as prior."""
    from emusify.reading.finetune import train_from_prior
    from emusify.reading.samples import samples_from_sessions
    from emusify.reading.training import TrainOptions
    from emusify.storage.sessions import load_sessions

    options = TrainOptions()
    options = dataclasses.replace(options, augment=("mirror", "jitter"), calibration=starter.calibration)
    samples = samples_from_sessions(list(load_sessions(data)), options.augment, jitter=options.jitter,
                                    seed=options.seed, unit_of=lambda s: "you")
    return train_from_prior(samples, starter, options, progress=False)


def windows(photos: dict[str, list[Any]], per_mood: int,
            rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """[(mood, (frames, d) vectors)]: ``per_mood`` windows of each mood, cycling through its photos."""
    settings = Settings()
    frames = int(settings.window * settings.fps)
    found = []
    for mood, pool in photos.items():
        for _ in range(per_mood):
            order = rng.permutation(len(pool))
            shown = [features.jitter(pool[order[i % len(pool)]], SIGMA, rng) for i in range(frames)]
            found.append((mood, np.stack([features.face_vector(lm) for lm in shown])))
    return found


def decide(model: Model, reference: np.ndarray, shown: list[tuple[str, np.ndarray]],
           blend: Model | None = None) -> Decided:
    """Each window's mood as run.py decides it: every mood read, the shipped thresholds.

    ``blend`` (a trial): the frame's probabilities are the mean of both models' (same moods).
    """
    settings, predictor = Settings(), Predictor(model, reference=reference)
    other = None if blend is None else Predictor(blend, reference=reference)
    found = []
    for truth, X in shown:
        tally = Tally(predictor.labels, *(THRESHOLDS or (settings.min_confidence, settings.min_share)),
                      settings.min_face_frames)
        probs = predictor.predict(X)
        for p in probs if other is None else (probs + other.predict(X)) / 2:
            tally.add(p)
        found.append((truth, tally.result().mood))
    return found


def figures(decided: Decided) -> dict[str, tuple[int, int]]:
    """(count, of) pairs: windows right at 4 moods / every mood; songless windows playing a song
    folder; windows of the 4 moods committed to a song folder (coverage) and right among them."""
    four = [(t, m) for t, m in decided if t in SONGS]
    songless = [m for t, m in decided if t in SONGLESS]
    sure = [(t, m) for t, m in four if m in SONGS]
    return {"right4": (sum(t == m for t, m in four), len(four)),
            "right7": (sum(t == m for t, m in decided), len(decided)),
            "songless plays": (sum(m in SONGS for m in songless), len(songless)),
            "songless changes": (sum(m in SONGS and m != "neutral" for m in songless), len(songless)),
            "coverage": (len(sure), len(four)), "precision": (sum(t == m for t, m in sure), len(sure))}


def frame_hits(model: Model, reference: np.ndarray, photos: dict[str, list[Any]]) -> dict[int, list[bool]]:
    """Each later photo read once (top mood), at 7 moods and at the 4 song moods (restricted)."""
    hits: dict[int, list[bool]] = {7: [], 4: []}
    for labels in (SEVEN, SONGS):
        predictor = Predictor(model, labels=labels, reference=reference)
        for mood, pool in photos.items():
            if mood in labels:
                X = np.stack([features.face_vector(lm) for lm in pool])
                hits[len(labels)] += [predictor.labels[i] == mood for i in predictor.predict(X).argmax(1)]
    return hits


class Scored(NamedTuple):
    """One performer's results: decided windows per reader, frame hits of the starter."""

    person: str
    later: dict[str, Decided]  # "starter", "songs", "every" -> the later session's windows
    photos: Decided  # the starter on the photo stand-ins
    frames: dict[int, list[bool]]


def score(person: Person, starter_without: Callable[[frozenset], Model], left_out: frozenset,
          per_mood: int, seed: int) -> Scored:
    """One performer through the set-up and a later session; the starter never saw ``left_out``."""
    if person.name not in left_out:
        raise ValueError(f"{person.name} would be scored by a starter trained on them")
    starter = starter_without(left_out)
    rng = np.random.default_rng(seed)
    later, stand_ins = windows(person.later, per_mood, rng), windows(person.every, per_mood, rng)
    read = {"starter": decide(starter, person.shot, later)}
    for setup, moods in SETUPS.items():
        mine = personal_model(starter, person, moods, seed, today=TODAY)
        if TODAY:
            mine, today = mine
            read[f"{setup} today"] = decide(today, person.shot, later)
        read[setup] = decide(mine, person.shot, later)
        if BLEND:
            read[f"{setup}+starter"] = decide(mine, person.shot, later, blend=starter)
    return Scored(person.name, read, decide(starter, person.shot, stand_ins),
                  frame_hits(starter, person.shot, person.later))


def run(people: Sequence[Person], starter_without: Callable[[frozenset], Model], folds: int = FOLDS,
        per_mood: int = PER_MOOD, everyone: Sequence[str] = (), seed: int = 0) -> Iterator[Scored]:
    """Every performer scored by the starter of their fold (:func:`plan` of ``everyone``, default
    ``people``: a part of the performers is scored by the same starters as in a run of all)."""
    left_out = plan(list(everyone) or [p.name for p in people], folds)
    for person in sorted(people, key=lambda p: p.name):
        mine = seed + sum(map(ord, person.name))
        yield score(person, starter_without, left_out[person.name], per_mood, seed=mine)


# Report ---------------------------------------------------------------------------------------------

READERS = [("starter", "starter + shot"), ("songs", "set-up of the 4 song moods"),
           ("every", "set-up of every mood")]
TODAYS = [("songs today", "train.py before issue 23, 4 song moods recorded"),
          ("every today", "train.py before issue 23, every mood recorded")]
BLENDED = [("songs+starter", "set-up of the 4 song moods, blended with the starter"),
           ("every+starter", "set-up of every mood, blended with the starter")]

ROWS = (("right4", "4 moods with songs: windows right"), ("right7", "every mood: windows right"),
        ("songless plays", "songless windows that play a song folder"),
        ("songless changes", "... a folder other than neutral"))


def ratio(pair: tuple[int, int]) -> str:
    return f"{pair[0]} of {pair[1]} ({pair[0] / pair[1]:.2f})" if pair[1] else "-"


def total(scored: Sequence[Scored], reader: str, key: str) -> tuple[int, int]:
    pairs = [figures(s.photos if reader == "photos" else s.later[reader])[key] for s in scored]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def report(scored: list[Scored]) -> None:
    """The target table per group, then per mood and per performer."""
    dev = {f"{TCCED}:{p}" for p in DEV_PERFORMERS}
    groups = {"all": scored, "development": [s for s in scored if s.person in dev],
              "report": [s for s in scored if s.person not in dev]}
    print("\n| later session (personal-event photos), run.py's windows | "
          + " | ".join(f"{g} ({len(v)} performers)" for g, v in groups.items()) + " |")
    print("|---|" + "---:|" * len(groups))
    for reader, name in READERS:
        for key, what in ROWS:
            print(f"| {name}: {what} | " + " | ".join(ratio(total(v, reader, key)) for v in groups.values())
                  + " |")
    for key in ("coverage", "precision"):
        print(f"| starter + shot, photo stand-ins, 4 song folders: {key} | "
              + " | ".join(ratio(total(v, "photos", key)) for v in groups.values()) + " |")
    for n in (7, 4):
        cells = [[hit for s in v for hit in s.frames[n]] for v in groups.values()]
        print(f"| starter + shot, later photos as frames, {n} moods | "
              + " | ".join(f"{np.mean(c):.2f} ({len(c)})" if c else "-" for c in cells) + " |")
    print("\nper mood, all performers: windows read as their own mood (songless: played a song folder)\n")
    print("| reader | " + " | ".join(SEVEN) + " |\n|---|" + "---:|" * len(SEVEN))
    for reader, name in READERS:
        cells = []
        for mood in SEVEN:
            got = [m for s in scored for t, m in s.later[reader] if t == mood]
            plays = f", {sum(m in SONGS for m in got)} play" if mood in SONGLESS else ""
            cells.append(f"{got.count(mood)}/{len(got)}{plays}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    confusions(scored)
    per_person(scored, dev)


def confusions(scored: list[Scored]) -> None:
    """Per reader, what each mood's windows read (all performers)."""
    for reader, name in READERS:
        print(f"\n{name}, all performers: what each mood's windows read (keep: unsure)\n")
        print("| true \\ read | " + " | ".join(SEVEN) + " | keep |\n|---|" + "---:|" * (len(SEVEN) + 1))
        for mood in SEVEN:
            got = [m for s in scored for t, m in s.later[reader] if t == mood]
            print(f"| {mood} | " + " | ".join(str(got.count(m)) for m in (*SEVEN, None)) + " |")


def per_person(scored: list[Scored], dev: set[str]) -> None:
    """Per performer: the three window figures of each reader."""
    print("\nper performer: 4 moods right / every mood right / songless windows playing a song folder\n")
    print("| performer | group | " + " | ".join(n for _, n in READERS) + " |")
    print("|---|---|" + "---|" * len(READERS))
    for s in scored:
        cells = []
        for reader, _ in READERS:
            f = figures(s.later[reader])
            cells.append(" / ".join(f"{f[k][0]}/{f[k][1]}" for k in ("right4", "right7", "songless plays")))
        group = "development" if s.person in dev else "report"
        print(f"| {s.person} | {group} | " + " | ".join(cells) + " |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", help="only these performers, e.g. 01,02 (default: all)")
    parser.add_argument("--folds", type=int, default=FOLDS, help=f"groups of performers (default {FOLDS})")
    parser.add_argument("--per-mood", type=int, default=PER_MOOD,
                        help=f"windows per mood (default {PER_MOOD})")
    parser.add_argument("--group", choices=("all", "development", "report"), default="all",
                        help="performers (benchmarks/faces.py's halves; choose on development)")
    parser.add_argument("--learn", default="", metavar="K=V,...",
                        help="trial: relearn.learn keywords (alpha, learning_rate, steps, anchors, "
                             "method; subtle=LOW: subtler copies)")
    parser.add_argument("--seed", type=int, default=0,
                        help="added to each performer's seed (other noise and photo orders; default 0)")
    parser.add_argument("--thresholds", metavar="CONFIDENCE,SHARE",
                        help="trial: the windows' min_confidence and min_share (default: run.py's)")
    parser.add_argument("--today", action="store_true",
                        help="also train.py's model as it was before issue 23 (recorded moods only)")
    parser.add_argument("--blend", action="store_true",
                        help="trial: also each personal model averaged with its starter")
    parser.add_argument("--starter", default="", metavar="K=V,...",
                        help="trial: the starters' TrainOptions (alpha, hidden, augment as a|b; subtle=LOW)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    started = time.monotonic()
    faces = performers(TCCED, "tasks")
    dev = args.group == "development"
    wanted = args.people.split(",") if args.people else [
        p for p in sorted(faces) if args.group == "all" or (p in DEV_PERFORMERS) == dev]
    people = [person_of(p, faces[p]) for p in wanted]
    global BLEND, THRESHOLDS, TODAY
    BLEND, TODAY = args.blend, args.today
    if TODAY:
        READERS.extend(TODAYS)
    if args.thresholds:
        THRESHOLDS = tuple(float(x) for x in args.thresholds.split(","))
    if BLEND:
        READERS.extend(BLENDED)
    starters = trial_starters(args)
    scored = []
    for s in run(people, starters.without, args.folds, args.per_mood, [f"{TCCED}:{p}" for p in faces],
                 args.seed):
        scored.append(s)
        print(f"  {s.person}: " + ", ".join(f"{r} {figures(s.later[r])['right4'][0]}/"
                                            f"{figures(s.later[r])['right4'][1]}" for r, _ in READERS),
              flush=True)
    settings = Settings()
    if THRESHOLDS:
        settings = dataclasses.replace(settings, min_confidence=THRESHOLDS[0], min_share=THRESHOLDS[1])
    print(f"\n{len(people)} taiwanese_tcced performers, Tasks landmarks; starters rebuilt without each fold "
          f"({args.folds} folds of performers); {args.per_mood} windows per mood of "
          f"{int(settings.window * settings.fps)} frames, min_confidence {settings.min_confidence} / "
          f"min_share {settings.min_share}; set-up: {settings.record_seconds:g} s per mood at "
          f"{VIDEO_FPS:g} fps; trials: learn {args.learn or '-'}, starter {args.starter or '-'}"
          f"{', blend' if args.blend else ''}")
    report(scored)
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
