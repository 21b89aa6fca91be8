"""How much the listener's corrections teach the player: taiwanese_tcced performers streamed as windows.

    OMP_NUM_THREADS=1 python benchmarks/corrections.py            # about 15 minutes on 2 cores
    OMP_NUM_THREADS=1 python benchmarks/corrections.py --people 3 # a quick look

For each performer (leave-one-person-out: a starter is rebuilt without them by the product's own
recipe, benchmarks/starter.py's samples of both backends + its fit), their "recorded" images
(elicitation types 1 and 2 plus their first two neutral photos, as in benchmarks/accuracy.py) are
streamed as windows: a window is 1-2 images of one mood from one session, each image shown as
FRAMES frames to the product's Predictor (no calibration shot: the starter's reference_mean; with
--shot, two recorded neutral photos are the shot, kept for every updated model as run.py keeps
the user's reference, and not streamed). The window's mood is
the majority of its frames' top moods over the moods read (7, or the demo library's 4). A simulated
listener corrects every wrong window: its landmarks become a correction recording (with the
Predictor's offset, as run.py stores it) and the model is updated with emusify.reading.learner.learn (what
run.py's background update runs) and swapped in for the next window.

Reported, as the mean over performers:
- accuracy over the stream, with and without learning (the starter alone);
- accuracy on their later session (type 3 and their other neutral photos, never streamed), images
  in a seeded random order through a fresh Predictor, after k = 0, 1, 2, 4, 8 corrections: the
  product's update (from the starter), and a network trained from scratch on the same corrected
  windows (train.py's MLP defaults, same offsets); a performer with fewer than k wrong windows
  counts with all of theirs (the table says how many had k);
- next to the personal model that train.py (defaults: the starter fine-tuned, since each mood has
  two sessions) makes from their recorded images as collect.py sessions;
- the wall time of one update with 1,000 corrected samples (median of 3), and how late a window of
  72 frames runs while an update is going on.
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
from extract import load_cache
from starter import SEVEN, fit_only, starter_samples

from emusify.reading.finetune import train_from_prior
from emusify.reading.learner import learn
from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.reading.samples import Samples, samples_from_sessions, subset
from emusify.reading.training import TrainOptions, fit_pipeline, model_from_pipeline
from emusify.sensing.features import LAYOUT, face_vector
from emusify.sensing.landmarks import Landmarks
from emusify.sensing.reference import reference_from_vectors

TCCED = "taiwanese_tcced"
DEV = "jaffe"  # --dev: settings are chosen here (images of each person split in two), never on tcced
LEARN: dict[str, Any] = {}  # keyword arguments of emusify.reading.learner.learn (--centre, --anchors)
FOUR = ("angry", "happy", "neutral", "sad")
FRAMES = 18  # frames per image: a still face held for 4.5 s at run.py's 4 fps
KS = (0, 1, 2, 4, 8)
UPDATE_SAMPLES = 1000
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


def performers(dataset: str = TCCED) -> dict[str, list[Face]]:
    """Every performer's faces (contempt left out)."""
    cache = load_cache(dataset)
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
        _STARTER_SAMPLES = starter_samples(SEVEN)
    return fit_only(subset(_STARTER_SAMPLES, _STARTER_SAMPLES.split != f"{dataset}:{person}"))


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
    """Each later image scored as its own window, in a seeded order, through a fresh Predictor
    (with the calibration ``shot`` as reference, as run.py keeps it, for a "reference" model)."""
    if isinstance(model, str):  # a single mood learned: it is the only answer
        return float(np.mean([f.label == model for f in later]))
    predictor = Predictor(model, labels=tuple(x for x in model.labels if x in labels),
                          reference=shot if model.calibration == "reference" else None)
    order = np.random.default_rng(seed).permutation(len(later))
    return float(np.mean([window_mood(predictor, [later[i]]) == later[i].label for i in order]))


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
    right = right_plain = 0
    models: dict[int, Model] = {0: starter}
    shown = windows([f for f in recorded if f.label in labels], np.random.default_rng(seed))
    for n, faces in enumerate(shown):
        truth = faces[0].label
        right_plain += window_mood(plain, faces) == truth
        mood = window_mood(predictor, faces)
        right += mood == truth
        if mood == truth:
            continue
        offset = [float(v) for v in predictor.offset]
        header = {"feedback": {"kind": "correction", "read": mood, "window": n, "offset": offset}}
        corrections.append(Recording(faces, truth, f"c{n}", f"run-c{n}", header))
        model = learn(starter, corrections, **LEARN).model
        predictor = Predictor(model, labels=labels, reference=shot)  # from the next window, as run.py
        models[len(corrections)] = model
    result = {"stream": right / len(shown), "stream_plain": right_plain / len(shown),
              "wrong": len(corrections)}
    for k in KS:
        have = min(k, len(corrections))
        result[f"starter{k}"] = later_accuracy(models[have], labels, later, seed, shot)
        result[f"scratch{k}"] = (later_accuracy(scratch(corrections[:have]), labels, later, seed)
                                 if have else float("nan"))
    return result


def update_time(starter: Model, faces: list[Face], repeats: int = 3) -> tuple[float, float, float]:
    """(median update seconds with UPDATE_SAMPLES samples, a window's work alone, during an update)."""
    pool = (faces * (UPDATE_SAMPLES // len(faces) + 1))[:UPDATE_SAMPLES]
    offset = [float(v) for v in np.mean([f.vector for f in faces], axis=0)]
    recs = [Recording(pool[i:i + 72], pool[i].label, f"u{i}", f"run-u{i}",
                      {"feedback": {"kind": "correction", "read": "neutral", "offset": offset}})
            for i in range(0, len(pool), 72)]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        learn(starter, recs)
        times.append(time.perf_counter() - started)
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
    chosen = {k: getattr(args, k) for k in ("centre", "anchors", "steps", "alpha", "learning_rate")}
    LEARN.update({k: v for k, v in chosen.items() if v is not None})
    dataset = DEV if args.dev else TCCED
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    started = time.monotonic()
    people = performers(dataset)
    names = sorted(people)[: args.people or None]
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
            personal_scores[n].append(later_accuracy(personal(starter, recorded, labels), labels, mine, i))
        print(f"  {person}: 7 moods {rows[7][-1]['wrong']} wrong windows, 4 moods {rows[4][-1]['wrong']}",
              flush=True)
    print_table(rows, personal_scores, len(names))
    print(f"\n{dataset}; learn() options: {LEARN or 'the product defaults'}; "
          f"{'calibration shot: two recorded neutral photos' if args.shot else 'no calibration shot'}")
    assert last_starter is not None
    every = [f for p in names for f in people[p]]
    median, alone, during = update_time(last_starter, every)
    print(f"\nupdate with {UPDATE_SAMPLES} corrected samples (emusify.reading.learner.learn): "
          f"median {median:.2f} s wall of 3")
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
        print(f"| later session after {k} corrections, from scratch | {mean(7, f'scratch{k}')} | "
              f"{mean(4, f'scratch{k}')} |")
    print(f"| personal model from the recorded sessions (train.py defaults) | "
          f"{np.mean(personal_scores[7]):.2f} | {np.mean(personal_scores[4]):.2f} |")


if __name__ == "__main__":
    main()
