"""Tracked video against stills: does a backend's VIDEO mode (run.py) read like IMAGE mode?

    OMP_NUM_THREADS=1 python benchmarks/tracking.py [--videos DIR] [--backend tasks]   # about 2 minutes

The labelled photo sets (every accuracy figure) are read one image at a time (IMAGE mode); run.py
tracks the webcam (VIDEO mode). Per face video in ../shared/data/face_videos (no labels), every frame
at run.py's 4 fps goes through each backend's extractor as run.py opens it, twice: tracking
(``static=False``) and on stills (``static=True``); both with the fallback (FaceMesh / the Tasks crop).
Printed per backend:

- detection: frames with a face in each mode;
- drift: the mean distance per point (inter-ocular units) between the two modes' face vectors of the
  same frame (median over frames), next to the expression spread (a frame's distance from its clip's
  median face) that sets its scale;
- the shipped starter's mood per frame, read as run.py reads it (all 7 moods, and the demo's 4), with
  the clip's first 2 s (8 frames) of the same mode as the calibration shot (not scored): the share of
  frames whose mood is the same in both modes;
- windows of 20 frames (5 s; the clips are short) through run.py's Tally at the defaults: windows that
  commit in each mode, and of those committed in both, how many agree.

The VIDEO mode's timestamps advance 1/fps a frame (run.py's cadence), not the wall clock.

``--photos``: the labelled photos (taiwanese_tcced, jaffe) read the way run.py reads a face, with
labels: per person, a fresh VIDEO-mode extractor is shown each photo (in file-name order) for
REPEAT frames at 4 fps, as a face held for a second after changing expression, and the last
frame's landmarks are kept. benchmarks/accuracy.py's desk and first-use protocols (the starter
rebuilt without the person) then score those against the IMAGE-mode landmarks of the same photos.

Prints figures only. No image leaves ../shared/data.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from extract import DATA

from emusify.config import Settings
from emusify.reading.model import Model
from emusify.reading.predictor import Predictor
from emusify.reading.tally import Tally
from emusify.sensing.camera import VideoSource
from emusify.sensing.features import face_vector
from emusify.sensing.landmarks import available, open_extractor
from emusify.sensing.reference import reference_from_vectors

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "models" / "starter.npz"
FOUR = ("angry", "happy", "neutral", "sad")
SHOT = 8  # frames (2 s at 4 fps): each clip's calibration shot
WINDOW = 20  # frames (5 s at 4 fps) per window


def frames_of(path: Path, fps: float) -> list[np.ndarray]:
    """The clip's frames at run.py's rate (sampled by timestamp, as a window samples a video)."""
    frames, due = [], 0.0
    with VideoSource(path) as source:
        while (frame := source.read()) is not None:
            if frame.timestamp + 1e-6 < due:
                continue
            due += 1.0 / fps
            frames.append(frame.image)
    return frames


class Cadence:
    """A clock for the Tasks VIDEO mode's timestamps that moves 1/fps a frame, as run.py's frames come.

    The extractor stamps each frame with the wall clock; here frames come as fast as they are read,
    and the FaceLandmarker smooths landmarks over time, so real time would make it smooth more.
    """

    def __init__(self, fps: float) -> None:
        self.step, self.now = 1.0 / fps, 1000.0

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


def vectors(backend: str, static: bool, frames: list[np.ndarray], fps: float) -> list:
    """Face vectors of ``frames`` (None: no face) by a fresh extractor of ``backend``."""
    import emusify.sensing.landmarks.tasks as tasks

    real, tasks.time = tasks.time, Cadence(fps)  # type: ignore[assignment]
    try:
        with open_extractor(backend, static=static) as extractor:
            return [None if (lm := extractor.extract(image)) is None else face_vector(lm) for image in frames]
    finally:
        tasks.time = real


def drift(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance per point between two face vectors (inter-ocular units; as benchmarks/detection.py)."""
    return float(np.linalg.norm((a - b).reshape(-1, 3), axis=1).mean())


def moods(model: Model, vecs: list, labels: tuple[str, ...] | None) -> tuple[list, list]:
    """(per-frame mood or None, per-window mood or None) after the clip's shot, as run.py reads them."""
    shot = [v for v in vecs[:SHOT] if v is not None]
    reference = reference_from_vectors(np.stack(shot)) if shot else None
    predictor = Predictor(model, labels=labels, reference=reference)
    probs = [None if v is None else predictor.predict(v)[0] for v in vecs[SHOT:]]
    per_frame = [None if p is None else predictor.labels[int(np.argmax(p))] for p in probs]
    settings, per_window = Settings(), []
    for start in range(0, len(probs) - WINDOW + 1, WINDOW):
        tally = Tally(predictor.labels, settings.min_confidence, settings.min_share, settings.min_face_frames)
        for p in probs[start:start + WINDOW]:
            tally.add(p)
        per_window.append(tally.result().mood)
    return per_frame, per_window


def same(a: list, b: list) -> tuple[int, int]:
    """(agreeing, compared) over the positions where both have a value."""
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    return sum(x == y for x, y in pairs), len(pairs)


def measure(backend: str, clips: dict[str, list], model: Model, fps: float) -> dict:
    found = {"video": [0, 0], "image": [0, 0]}
    drifts, spread, agree = [], [], {}
    for frames in clips.values():
        tracked, still = vectors(backend, False, frames, fps), vectors(backend, True, frames, fps)
        for mode, vecs in (("video", tracked), ("image", still)):
            found[mode][0] += sum(v is not None for v in vecs)
            found[mode][1] += len(vecs)
        both = [(t, s) for t, s in zip(tracked, still) if t is not None and s is not None]
        drifts += [drift(t, s) for t, s in both]
        if both:
            centre = np.median(np.stack([s for _, s in both]), axis=0)
            spread += [drift(s, centre) for _, s in both]
        for n, labels in ((7, None), (4, FOUR)):
            (fv, wv), (fi, wi) = moods(model, tracked, labels), moods(model, still, labels)
            for key, pair in ((("frames", n), same(fv, fi)), (("windows", n), same(wv, wi))):
                got = agree.setdefault(key, [0, 0])
                got[0], got[1] = got[0] + pair[0], got[1] + pair[1]
            for mode, w in (("video", wv), ("image", wi)):
                got = agree.setdefault((f"committed {mode}", n), [0, 0])
                got[0], got[1] = got[0] + sum(m is not None for m in w), got[1] + len(w)
    return {"found": found, "drift": drifts, "spread": spread, "agree": agree}


REPEAT = 4  # frames each photo is shown for (--photos): 1 s at 4 fps


def photo_vectors(dataset: str, data: Path, backend: str, fps: float) -> dict[str, np.ndarray]:
    """{"label/file": face vector} of one labelled set, tracked per person in VIDEO mode."""
    from extract import labelled_files, person, read_image

    import emusify.sensing.landmarks.tasks as tasks

    by_person: dict[str, list] = {}
    for label, path in labelled_files(dataset, data):
        by_person.setdefault(person(dataset, path.name)[0], []).append((f"{label}/{path.name}", path))
    found = {}
    real, tasks.time = tasks.time, Cadence(fps)  # type: ignore[assignment]
    try:
        for files in by_person.values():
            with open_extractor(backend, static=False) as extractor:
                for name, path in sorted(files, key=lambda f: f[1].name):
                    image = read_image(path)
                    lms = [extractor.extract(image) for _ in range(REPEAT)] if image is not None else [None]
                    if lms[-1] is not None:
                        found[name] = face_vector(lms[-1])
    finally:
        tasks.time = real
    return found


def photos(data: Path, backend: str, fps: float) -> None:
    """Desk and first use on IMAGE-mode and on tracked (VIDEO-mode) landmarks of the same photos."""
    from accuracy import ROWS, generic, print_table
    from faces import TCCED, load_faces
    from people import Starters

    tracked = {d: photo_vectors(d, data, backend, fps) for d in (TCCED, "jaffe")}
    missed = []

    def swap(v: dict, dataset: str) -> np.ndarray:
        rows = []
        for name, x in zip(v["name"], v["X"]):
            rows.append(tracked[dataset].get(str(name), x))
            if str(name) not in tracked[dataset]:
                missed.append(name)
        return np.stack(rows)

    still, video = load_faces((TCCED, "jaffe"), backend=backend), load_faces((TCCED, "jaffe"), swap, backend)
    print(f"\nlabelled photos, {backend}: each shown {REPEAT} frames to a VIDEO-mode extractor per person "
          f"(IMAGE-mode landmarks kept for {len(missed)} faces it missed)\n")
    starters = Starters()
    for name, faces in (("IMAGE mode (the photo caches)", still), ("VIDEO mode, tracked", video)):
        print(f"\n{name}\n")
        print_table({k: v for k, v in generic(faces, starters).items() if k in ROWS[:5]}, ("desk", "first"))


def share(pair: list) -> str:
    return f"{pair[0] / pair[1]:.2f} ({pair[0]}/{pair[1]})" if pair[1] else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DATA / "face_videos", metavar="DIR",
                        help="folder of face videos (default: ../shared/data/face_videos)")
    parser.add_argument("--backend", action="append", choices=("holistic", "tasks"),
                        help="measure only this backend (repeatable; default: every one installed)")
    parser.add_argument("--photos", type=Path, metavar="DATA",
                        help="also the labelled photos of DATA/taiwanese_tcced and DATA/jaffe, tracked")
    args = parser.parse_args()
    start, fps = time.monotonic(), Settings().fps
    if args.photos:
        photos(args.photos, "tasks", fps)
        print(f"\n{time.monotonic() - start:.0f} s")
        return
    clips = {p.name: frames_of(p, fps) for p in sorted(args.videos.glob("*")) if p.suffix in (".mp4", ".avi")}
    model = Model.load(STARTER)
    print(f"{len(clips)} face videos, {sum(map(len, clips.values()))} frames at {fps:g} fps; "
          f"{STARTER.name} read as run.py reads it, shot = each clip's first {SHOT} frames of the same mode; "
          f"windows of {WINDOW} frames at min_confidence {Settings().min_confidence}, "
          f"min_share {Settings().min_share}\n")
    print("| backend | faces, VIDEO / IMAGE | drift VIDEO-IMAGE (median) | expression spread (median) "
          "| frame mood same, 7 / 4 | windows committed VIDEO / IMAGE, 4 moods "
          "| committed windows same, 7 / 4 |")
    print("|---|---|---:|---:|---|---|---|")
    for backend in args.backend or available():
        r = measure(backend, clips, model, fps)
        a = r["agree"]
        print(f"| {backend} | {share(r['found']['video'])} / {share(r['found']['image'])} "
              f"| {statistics.median(r['drift']):.3f} | {statistics.median(r['spread']):.3f} "
              f"| {share(a['frames', 7])} / {share(a['frames', 4])} "
              f"| {share(a['committed video', 4])} / {share(a['committed image', 4])} "
              f"| {share(a['windows', 7])} / {share(a['windows', 4])} |", flush=True)
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
