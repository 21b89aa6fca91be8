"""How much the listener's corrections teach the player: taiwanese_tcced performers streamed as windows.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/corrections.py --shot              # reported half
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/corrections.py --shot --group dev  # choose here
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/corrections.py --shot --dev        # jaffe, also dev

For each performer (leave-one-person-out: a starter is rebuilt without them by the product's own
recipe, benchmarks/starter.py's samples of both backends + its fit, from the sets whose landmarks
are cached), their "recorded" images (elicitation types 1 and 2 plus their first two neutral
photos, as in benchmarks/accuracy.py) are streamed as windows: a window is 1-2 images of one mood
from one session, each image shown as FRAMES frames to the product's Predictor (no calibration
shot: the starter's reference_mean; with --shot, two recorded neutral photos are the shot, kept for
every updated model as run.py keeps the user's reference, and not streamed). The window's mood is
the majority of its frames' top moods over the moods read (7, or the demo library's 4). A simulated
listener corrects every wrong window: its landmarks become a correction recording (with the
Predictor's offset, as run.py stores it) and the model is updated with emusify.reading.relearn.learn
(what run.py's background update runs) and swapped in for the next window. The tcced performers are
split in two fixed halves (benchmarks/faces.py): --group dev to choose settings, the other reported.
Streamed and scored faces are Tasks landmarks unless --backend holistic.

Reported, as the mean over performers:
- accuracy over the stream, with and without learning (the starter alone);
- accuracy on their later session (type 3 and their other neutral photos, never streamed), images
  in a seeded random order through a fresh Predictor, after k = 0, 1, 2, 4, 8 corrections, and its
  gain over the starter; how many later images the starter read right and the update wrong; the
  same later images as run.py's windows (Predictor + Tally with the default thresholds: right,
  committed, all); a network trained from scratch on the same corrected windows (train.py's MLP
  defaults, same offsets); a performer with fewer than k wrong windows counts with all of theirs
  (the table says how many had k);
- next to the personal model that train.py (defaults: the starter fine-tuned, since each mood has
  two sessions) makes from their recorded images as collect.py sessions;
- the wall and CPU time of one update with 1,000 corrected samples (median of 3), and how late a
  window of 72 frames runs while an update is going on.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import threading
import time
from collections import Counter
from typing import Any, NamedTuple

import numpy as np
from extract import SETS, cache_path, load_cache
from faces import DEV_PERFORMERS, REPORT_PERFORMERS
from starter import BACKENDS, OPTIONS, SEVEN, fit_only, sessions, unit_of

from emusify.config import Settings
from emusify.reading.finetune import train_from_prior
from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.reading.relearn import learn
from emusify.reading.samples import Samples, samples_from_sessions, subset
from emusify.reading.tally import Tally
from emusify.reading.training import TrainOptions, fit_pipeline, model_from_pipeline
from emusify.sensing.features import LAYOUT, face_vector
from emusify.sensing.landmarks import Landmarks
from emusify.sensing.reference import reference_from_vectors

TCCED = "taiwanese_tcced"
DEV = "jaffe"  # --dev: settings are chosen here (images of each person split in two), never on tcced
LEARN: dict[str, Any] = {}  # keyword arguments of emusify.reading.relearn.learn (--centre, --anchors)
FOUR = ("angry", "happy", "neutral", "sad")
FRAMES = 18  # frames per image: a still face held for 4.5 s at run.py's 4 fps
KS = (0, 1, 2, 4, 8)
UPDATE_SAMPLES = 1000
BASELINES = True  # also the from-scratch and personal models (--no-baselines skips them)
CONFIRM = False  # --confirm: right windows are confirmed (y) and learned with the next correction
_STARTER_SAMPLES: Samples | None = None  # benchmarks/starter.py's training samples, made once


class Face(NamedTuple):
    landmarks: Landmarks
    vector: np.ndarray
    label: str
    session: str  # "1", "2", "3" or "0" (neutral photos)
    name: str


class Recording:
    """A list of faces shaped like a recording (emusify.storage.dataset.Session), with run.py's header."""

    def __init__(self, faces: list[Face], emotion: str, sid: str, group: str, header: dict | None = None):
        self.faces, self.emotion, self.session_id, self.group = faces, emotion, sid, group
        self.header = header or {}

    def __len__(self) -> int:
        return len(self.faces)

    def landmarks(self):
        return (f.landmarks for f in self.faces)


def performers(dataset: str = TCCED, backend: str = "tasks") -> dict[str, list[Face]]:
    """Every performer's faces (contempt left out), landmarks of ``backend``."""
    cache = load_cache(dataset, backend)
    found: dict[str, list[Face]] = {}
    for i in range(len(cache["label"])):
        if cache["label"][i] not in SEVEN:
            continue
        size = cache["image_size"][i]
        lm = Landmarks(cache["face"][i], None, None, None, (int(size[0]), int(size[1])), "cache")
        found.setdefault(str(cache["group"][i]), []).append(
            Face(lm, face_vector(lm), str(cache["label"][i]), str(cache["session"][i]),
                 str(cache["name"][i])))
    return found


def split_dev(faces: list[Face]) -> tuple[list[Face], list[Face]]:
    """jaffe (--dev): the first two photos of each mood are recorded, the others are later."""
    recorded, later = [], []
    for label in sorted({f.label for f in faces}):
        mine = sorted((f for f in faces if f.label == label), key=lambda f: f.name)
        recorded += [f._replace(session="1") for f in mine[:2]]
        later += mine[2:]
    return recorded, later


def split(faces: list[Face]) -> tuple[list[Face], list[Face]]:
    """(recorded: types 1, 2 and the first two neutral photos; later: type 3 and the other neutrals)."""
    neutrals = sorted((f for f in faces if f.session == "0"), key=lambda f: f.name)
    recorded = [f for f in faces if f.session in ("1", "2")] + neutrals[:2]
    later = [f for f in faces if f.session == "3"] + neutrals[2:]
    return recorded, later


def starter_without(person: str, dataset: str = TCCED) -> Model:
    """The starter recipe (benchmarks/starter.py: both backends, relaxed-face reference) minus ``person``."""
    global _STARTER_SAMPLES
    if _STARTER_SAMPLES is None:
        found = sessions(SEVEN, sets=cached_sets())
        _STARTER_SAMPLES = samples_from_sessions(found, OPTIONS.augment, jitter=OPTIONS.jitter,
                                                 unit_of=unit_of)
    return fit_only(subset(_STARTER_SAMPLES, _STARTER_SAMPLES.split != f"{dataset}:{person}"))


def cached_sets() -> tuple[str, ...]:
    """The starter's sets whose landmarks are cached on every backend (the others are left out)."""
    return tuple(d for d in SETS if all(cache_path(d, b).exists() for b in BACKENDS))


def take_shot(recorded: list[Face]) -> tuple[np.ndarray, list[Face]]:
    """(--shot) the reference of the first two recorded neutral photos, and the rest (never streamed)."""
    neutrals = sorted((f for f in recorded if f.label == "neutral"), key=lambda f: f.name)[:2]
    names = {f.name for f in neutrals}
    return reference_from_vectors(np.stack([f.vector for f in neutrals])), [f for f in recorded
                                                                             if f.name not in names]


def windows(recorded: list[Face], rng: np.random.Generator) -> list[list[Face]]:
    """1-2 images of one mood and session per window, in a seeded random order."""
    cells: dict[tuple[str, str], list[Face]] = {}
    for f in recorded:
        cells.setdefault((f.session if f.session != "0" else "1", f.label), []).append(f)
    found = []
    for cell in cells.values():
        found += [cell[i:i + 2] for i in range(0, len(cell), 2)]
    return [found[i] for i in rng.permutation(len(found))]


def window_mood(predictor: Predictor, faces: list[Face]) -> str:
    """The majority of the frames' top moods, each image shown FRAMES times."""
    votes: Counter[str] = Counter()
    for f in faces:
        proba = predictor.predict(np.repeat(f.vector[None, :], FRAMES, axis=0))
        votes.update(predictor.labels[i] for i in proba.argmax(axis=1))
    return votes.most_common(1)[0][0]


def later_accuracy(model: Model | str, labels: tuple[str, ...], later: list[Face], seed: int,
                   shot: np.ndarray | None = None) -> float:
    """The share of later images read right (:func:`later_right`)."""
    return float(np.mean(later_right(model, labels, later, seed, shot)))


def later_right(model: Model | str, labels: tuple[str, ...], later: list[Face], seed: int,
                shot: np.ndarray | None = None) -> np.ndarray:
    """Each later image scored as its own window, in a seeded order, through a fresh Predictor
    (with the calibration ``shot`` as reference, as run.py keeps it, for a "reference" model);
    True where read right, in ``later``'s order."""
    if isinstance(model, str):  # a single mood learned: it is the only answer
        return np.array([f.label == model for f in later])
    predictor = Predictor(model, labels=tuple(x for x in model.labels if x in labels),
                          reference=shot if model.calibration == "reference" else None)
    right = np.zeros(len(later), bool)
    for i in np.random.default_rng(seed).permutation(len(later)):
        right[i] = window_mood(predictor, [later[i]]) == later[i].label
    return right


def later_windows(model: Model, labels: tuple[str, ...], later: list[Face], seed: int,
                  shot: np.ndarray | None) -> tuple[int, int, int]:
    """(right, committed, windows): each later image as one window of FRAMES frames through run.py's
    Predictor and Tally with the default thresholds (a window that is unsure commits nothing)."""
    predictor = Predictor(model, labels=labels, reference=shot)
    settings, right, committed = Settings(), 0, 0
    for i in np.random.default_rng(seed).permutation(len(later)):
        tally = Tally(predictor.labels, settings.min_confidence, settings.min_share, settings.min_face_frames)
        for probs in predictor.predict(np.repeat(later[i].vector[None, :], FRAMES, axis=0)):
            tally.add(probs)
        mood = tally.result().mood
        committed += mood is not None
        right += mood == later[i].label
    return right, committed, len(later)


def scratch(corrections: list[Recording]) -> Model | str:
    """train.py's MLP from nothing on the corrected windows (their stored offsets subtracted)."""
    X = np.concatenate([np.stack([f.vector for f in r.faces]) - np.asarray(r.header["feedback"]["offset"])
                        for r in corrections])
    y = np.concatenate([[r.emotion] * len(r) for r in corrections])
    labels = sorted(set(y.tolist()))
    if len(labels) < 2:
        return labels[0]
    options = TrainOptions(calibration="session-mean")
    reference = np.mean([r.header["feedback"]["offset"] for r in corrections], axis=0)
    return model_from_pipeline(fit_pipeline(X, y, labels, options), LAYOUT, options, reference)


def personal(starter: Model, recorded: list[Face], labels: tuple[str, ...]) -> Model:
    """What train.py makes of the recorded images (two sessions per mood: --prior auto fine-tunes)."""
    runs: dict[tuple[str, str], list[Face]] = {}
    for i, f in enumerate(sorted((f for f in recorded if f.label in labels), key=lambda f: f.name)):
        run = f.session if f.session != "0" else str(1 + i % 2)
        runs.setdefault((run, f.label), []).append(f)
    recs = [Recording(faces, label, f"{run}-{label}", f"run-{run}") for (run, label), faces in runs.items()]
    options = dataclasses.replace(TrainOptions(), calibration="session-mean", augment=("mirror", "jitter"))
    samples = samples_from_sessions(recs, options.augment, seed=0)
    return train_from_prior(samples, starter, options, progress=False)


def stream(starter: Model, labels: tuple[str, ...], recorded: list[Face], later: list[Face],
           seed: int, shot: np.ndarray | None = None) -> dict[str, Any]:
    """One performer: the stream with the listener's corrections, and the later-session scores.

    ``shot``: the reference of a calibration shot, kept for every model as run.py keeps it.
    """
    plain, model = Predictor(starter, labels=labels, reference=shot), starter
    predictor = Predictor(model, labels=labels, reference=shot)
    corrections: list[Recording] = []
    confirmed: list[Recording] = []
    right = right_plain = 0
    seconds = 0.0
    models: dict[int, Model] = {0: starter}
    shown = windows([f for f in recorded if f.label in labels], np.random.default_rng(seed))
    for n, faces in enumerate(shown):
        truth = faces[0].label
        right_plain += window_mood(plain, faces) == truth
        mood = window_mood(predictor, faces)
        right += mood == truth
        offset = [float(v) for v in predictor.offset]
        if mood == truth:
            if CONFIRM:  # --confirm: the listener also presses y on every right window
                header = {"feedback": {"kind": "confirmed", "read": mood, "window": n, "offset": offset}}
                confirmed.append(Recording(faces, truth, f"y{n}", f"run-y{n}", header))
            continue
        header = {"feedback": {"kind": "correction", "read": mood, "window": n, "offset": offset}}
        corrections.append(Recording(faces, truth, f"c{n}", f"run-c{n}", header))
        update = learn(starter, corrections + confirmed, **LEARN)
        model, seconds = update.model, max(seconds, update.seconds)
        predictor = Predictor(model, labels=labels, reference=shot)  # from the next window, as run.py
        models[len(corrections)] = model
    result = {"stream": right / len(shown), "stream_plain": right_plain / len(shown),
              "wrong": len(corrections), "seconds": seconds}
    before = later_right(starter, labels, later, seed, shot)
    for k in KS:
        have = min(k, len(corrections))
        after = later_right(models[have], labels, later, seed, shot)
        result[f"starter{k}"] = float(np.mean(after))
        result[f"broken{k}"] = (int((before & ~after).sum()), int(before.sum()))
        result[f"runner{k}"] = later_windows(models[have], labels, later, seed, shot)
        result[f"neutral{k}"] = float(np.mean(after[[f.label == "neutral" for f in later]]))
        result[f"scratch{k}"] = (later_accuracy(scratch(corrections[:have]), labels, later, seed)
                                 if have and BASELINES else float("nan"))
    return result


def update_time(starter: Model, faces: list[Face], repeats: int = 3) -> tuple[float, float, float]:
    """Print the median update time with UPDATE_SAMPLES samples; (that wall time, a window's work
    alone, during an update)."""
    pool = (faces * (UPDATE_SAMPLES // len(faces) + 1))[:UPDATE_SAMPLES]
    offset = [float(v) for v in np.mean([f.vector for f in faces], axis=0)]
    recs = [Recording(pool[i:i + 72], pool[i].label, f"u{i}", f"run-u{i}",
                      {"feedback": {"kind": "correction", "read": "neutral", "offset": offset}})
            for i in range(0, len(pool), 72)]
    times, cpu = [], []
    for _ in range(repeats):
        started, used = time.perf_counter(), time.process_time()
        learn(starter, recs)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    print(f"\nupdate with {UPDATE_SAMPLES} corrected samples (emusify.reading.relearn.learn): median "
          f"{statistics.median(times):.2f} s wall, {statistics.median(cpu):.2f} s CPU, of {repeats}")
    predictor = Predictor(starter, labels=FOUR)

    def one_window() -> float:
        started = time.perf_counter()
        for f in pool[:72]:
            predictor.predict(face_vector(f.landmarks).reshape(1, -1))
        return time.perf_counter() - started

    alone = statistics.median(one_window() for _ in range(3))
    worker = threading.Thread(target=lambda: learn(starter, recs))
    worker.start()
    during = one_window()
    worker.join()
    return statistics.median(times), alone, during


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=0, metavar="N", help="only the first N performers")
    parser.add_argument("--group", choices=("dev", "report", "all"), default="report",
                        help="tcced performers: the development half (choose settings here), the "
                             "reported half (default), or all")
    parser.add_argument("--backend", choices=("tasks", "holistic"), default="tasks",
                        help="whose landmarks are streamed and scored (default: tasks)")
    parser.add_argument("--method", help="learn(method=...) (default: the product's)")
    parser.add_argument("--strength", type=float, help="prototypes: strength")
    parser.add_argument("--width", type=float, help="prototypes: width")
    parser.add_argument("--angle", type=float, help="prototypes: angle kernel width (0: distance)")
    parser.add_argument("--layer", type=int, choices=(0, -1), help="prototypes: 0 input, -1 last hidden")
    parser.add_argument("--no-relaxed", dest="relaxed", action="store_false", default=None,
                        help="prototypes: without the relaxed face as a neutral prototype")
    parser.add_argument("--relaxed-rows", type=int, help="network: the relaxed face as N neutral rows")
    parser.add_argument("--pool", choices=("window", "class", "frame"),
                        help="prototypes: one per window, mood or frame")
    parser.add_argument("--neutral", type=float, help="last-layer: weight of the relaxed face")
    parser.add_argument("--confirm", action="store_true",
                        help="the listener also confirms (y) every right window (learned at the next fix)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="skip the from-scratch and personal models")
    parser.add_argument("--dev", action="store_true", help=f"the dev protocol on {DEV} instead of tcced")
    parser.add_argument("--shot", action="store_true",
                        help="a calibration shot as run.py takes (two recorded neutral photos, not streamed)")
    parser.add_argument("--centre", choices=("stored", "latest"),
                        help="learn(centre=...) (default: the product's)")
    parser.add_argument("--anchors", type=int, metavar="N", help="learn(anchors=N) (default: the product's)")
    parser.add_argument("--steps", type=int, metavar="N", help="fine_tune steps (default: the product's)")
    parser.add_argument("--alpha", type=float, metavar="A", help="fine_tune alpha (default: the product's)")
    parser.add_argument("--learning-rate", type=float, metavar="R",
                        help="fine_tune learning_rate (default: the product's)")
    args = parser.parse_args()
    global BASELINES, CONFIRM
    BASELINES, CONFIRM = not args.no_baselines, args.confirm
    keys = ("centre", "anchors", "steps", "alpha", "learning_rate", "method", "strength", "width", "pool",
            "neutral", "angle", "layer", "relaxed", "relaxed_rows")
    chosen = {k: getattr(args, k) for k in keys}
    LEARN.update({k: v for k, v in chosen.items() if v is not None})
    dataset = DEV if args.dev else TCCED
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    started = time.monotonic()
    people = performers(dataset, args.backend)
    group = {"dev": DEV_PERFORMERS, "report": REPORT_PERFORMERS}.get(args.group)
    names = [p for p in sorted(people) if args.dev or group is None or p in group][: args.people or None]
    rows: dict[int, list[dict[str, Any]]] = {7: [], 4: []}
    personal_scores: dict[int, list[float]] = {7: [], 4: []}
    last_starter = None
    for i, person in enumerate(names):
        starter = last_starter = starter_without(person, dataset)
        recorded, later = (split_dev if args.dev else split)(people[person])
        shot, streamed = take_shot(recorded) if args.shot else (None, recorded)
        for n, labels in ((7, SEVEN), (4, FOUR)):
            mine = [f for f in later if f.label in labels]
            rows[n].append(stream(starter, labels, streamed, mine, seed=i, shot=shot))
            if BASELINES:
                mod = personal(starter, recorded, labels)
                personal_scores[n].append(later_accuracy(mod, labels, mine, i))
        print(f"  {person}: 7 moods {rows[7][-1]['wrong']} wrong windows, 4 moods {rows[4][-1]['wrong']}",
              flush=True)
    print_table(rows, personal_scores, len(names))
    print(f"\n{dataset} ({', '.join(names)}), {args.backend} landmarks; "
          f"learn() options: {LEARN or 'the product defaults'}; "
          f"{'calibration shot: two recorded neutral photos' if args.shot else 'no calibration shot'}")
    assert last_starter is not None
    every = [f for p in names for f in people[p]]
    _, alone, during = update_time(last_starter, every)
    print(f"a 72-frame window's prediction work: {alone:.2f} s alone, {during:.2f} s during an update")
    print(f"\n{time.monotonic() - started:.0f} s in all")


def print_table(rows: dict[int, list[dict[str, Any]]], personal_scores: dict[int, list[float]],
                people: int) -> None:
    def mean(n: int, key: str) -> str:
        values = [r[key] for r in rows[n] if not np.isnan(r[key])]
        return f"{np.mean(values):.2f}" if values else "n/a"

    print(f"\n{people} performers, leave-one-person-out starters; mean over performers\n")
    print("| | 7 moods | 4 moods |")
    print("|---|---:|---:|")
    print(f"| wrong windows in the stream (corrections made) | {mean(7, 'wrong')} | {mean(4, 'wrong')} |")
    print(f"| stream accuracy, starter alone | {mean(7, 'stream_plain')} | {mean(4, 'stream_plain')} |")
    print(f"| stream accuracy, learning from corrections | {mean(7, 'stream')} | {mean(4, 'stream')} |")
    for k in KS:
        had = {n: sum(r["wrong"] >= k for r in rows[n]) for n in (7, 4)}
        print(f"| later session after {k} corrections, from the starter (performers with {k}: "
              f"{had[7]} / {had[4]}) | {mean(7, f'starter{k}')} | {mean(4, f'starter{k}')} |")
    for k in KS[1:]:
        gain = {n: np.mean([r[f"starter{k}"] - r["starter0"] for r in rows[n]]) for n in (7, 4)}
        print(f"| ... gain over the starter after {k} | {gain[7]:+.2f} | {gain[4]:+.2f} |")
    for k in KS[1:]:
        broken = {n: np.sum([r[f"broken{k}"] for r in rows[n]], axis=0) for n in (7, 4)}
        print(f"| later images right before, wrong after {k} corrections | "
              f"{broken[7][0]} of {broken[7][1]} | {broken[4][0]} of {broken[4][1]} |")
    for k in (0, 4):
        done = {n: np.sum([r[f"runner{k}"] for r in rows[n]], axis=0) for n in (7, 4)}
        print(f"| run.py's Predictor + Tally, later windows after {k} corrections: right / committed / all | "
              + " | ".join(f"{d[0]} / {d[1]} / {d[2]} ({d[0] / d[2]:.2f} of all, {d[0] / max(d[1], 1):.2f} "
                           f"of committed)" for d in (done[7], done[4])) + " |")
    for k in (0, 4):
        print(f"| later relaxed faces read neutral after {k} corrections | {mean(7, f'neutral{k}')} | "
              f"{mean(4, f'neutral{k}')} |")
    for k in KS[1:]:
        if BASELINES:
            print(f"| later session after {k} corrections, from scratch | {mean(7, f'scratch{k}')} | "
                  f"{mean(4, f'scratch{k}')} |")
    if BASELINES:
        print(f"| personal model from the recorded sessions (train.py defaults) | "
              f"{np.mean(personal_scores[7]):.2f} | {np.mean(personal_scores[4]):.2f} |")
    slowest = {n: max(r["seconds"] for r in rows[n]) for n in (7, 4)}
    print(f"| slowest update in the stream (s) | {slowest[7]:.2f} | {slowest[4]:.2f} |")


if __name__ == "__main__":
    main()
