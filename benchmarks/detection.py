"""Face detection and feature drift against face size; detection on the labelled sets; speed.

    .venv/bin/python benchmarks/detection.py [--frames N] [--per-set N] [--quick]

1. Face videos (liveportrait_driving d9, d13, d18: head and shoulders visible): N frames each, taken
   at the runner's 4 fps. Each frame is shrunk so the face is 166, 83, 55, 42 or 28 px wide and
   pasted on a 640x480 grey canvas (face centre at (320, 190), so the shoulders stay in view).
   Extractors of the holistic backend: Holistic and FaceMesh alone, each static (every frame from
   scratch) and tracking (the frames in order, as the runner feeds a window), and the runner's own:
   Holistic tracking with the FaceMesh fallback. Of the tasks backend: the FaceLandmarker alone, static
   and tracking, and the runner's own: tracking, with the crop (pose, tiles) when the face is lost.
   Only the backends this mediapipe has run. Printed: detection rate, and drift: the mean
   distance per point (in inter-ocular distances) of ``features.face_vector`` from the same frame's
   vector at full size (the detector that found it, static, on the original frame); "spread" is that distance
   between a frame and its video's mean face, i.e. how far expressions move the features.
   With models/starter.npz present: how often the prediction matches the one at 166 px.
2. Labelled sets: detection rate of each backend's still-image extractor.
3. Median milliseconds per frame, from the 166 px runs (640x480).

Prints figures only; no asserts. The images stay in ../shared/data.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emusify.sensing.camera import read_image  # noqa: E402
from emusify.sensing.features import face_vector  # noqa: E402
from emusify.sensing.landmarks import available, open_extractor  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VIDEOS = ["liveportrait_driving_d9", "liveportrait_driving_d13", "liveportrait_driving_d18"]
WIDTHS = (166, 83, 55, 42, 28)
CANVAS = (640, 480)
FACE_AT = (320, 190)
RATE = 4.0  # frames analysed per second, as the runner does
SETS = ("ckplus48", "fer2013_sample", "muxspace_facial_expressions", "jaffe", "taiwanese_tcced", "yalefaces")
ALL_VARIANTS = {  # name -> open_extractor keyword arguments
    "holistic static": {"backend": "holistic", "static": True, "fallback": False},
    "facemesh static": {"backend": "holistic", "static": True, "holistic": False},
    "holistic tracking": {"backend": "holistic", "static": False, "fallback": False},
    "facemesh tracking": {"backend": "holistic", "static": False, "holistic": False},
    "holistic+fallback tracking": {"backend": "holistic", "static": False},
    "tasks face static": {"backend": "tasks", "static": True, "fallback": False},
    "tasks face tracking": {"backend": "tasks", "static": False, "fallback": False},
    "tasks+pose crop tracking": {"backend": "tasks", "static": False},
}
# Only the backends this mediapipe has: both with 0.10.21 (Python <= 3.12), tasks alone with 1.2.x.
AVAILABLE = {name: kw for name, kw in ALL_VARIANTS.items() if kw["backend"] in available()}
VARIANTS = dict(AVAILABLE)  # what runs (--only narrows it)
RUNNER_VARIANTS = [v for v in ("holistic+fallback tracking", "tasks+pose crop tracking") if v in VARIANTS]
MODEL = ROOT / "models" / "starter.npz"


def sample_frames(path: Path, count: int) -> list[np.ndarray]:
    """``count`` frames at RATE per second from the start of the video (closer when it is short)."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    stride = max(1, min(round(fps / RATE), total // count))
    frames, index = [], 0
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        if index % stride == 0:
            frames.append(image)
        index += 1
    capture.release()
    return frames


def place(image: np.ndarray, scale: float, centre: tuple[float, float]) -> np.ndarray:
    """``image`` scaled by ``scale`` on a grey 640x480 canvas, its point ``centre`` at FACE_AT."""
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((CANVAS[1], CANVAS[0], 3), 128, dtype=np.uint8)
    dx, dy = round(FACE_AT[0] - centre[0] * scale), round(FACE_AT[1] - centre[1] * scale)
    h, w = small.shape[:2]
    x0, y0, x1, y1 = max(dx, 0), max(dy, 0), min(dx + w, CANVAS[0]), min(dy + h, CANVAS[1])
    canvas[y0:y1, x0:x1] = small[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    return canvas


def vectors(extractor, images: list[np.ndarray]) -> tuple[list, list[float], list]:
    """Feature vectors (None when no face), milliseconds and the detector, per frame."""
    out, times, detectors = [], [], []
    for image in images:
        start = time.perf_counter()
        lm = extractor.extract(image)
        times.append((time.perf_counter() - start) * 1000)
        out.append(None if lm is None else face_vector(lm))
        detectors.append(None if lm is None else lm.detector)
    return out, times, detectors


def reference(frames: list[np.ndarray]) -> tuple[dict[str, list], float, tuple[float, float]]:
    """Full-size vectors per detector, the median face width (px) and centre (from the first backend).

    A face found through a crop ("tasks-crop") is compared with the Tasks FaceLandmarker's full-size one.
    """
    refs: dict[str, list] = {}
    boxes = []
    first = "holistic static" if "holistic static" in AVAILABLE else "tasks face static"
    for detector, variant in (("holistic", "holistic static"), ("facemesh", "facemesh static"),
                              ("tasks", "tasks face static")):
        if variant not in AVAILABLE:
            continue
        with open_extractor(**AVAILABLE[variant]) as extractor:
            for image in frames:
                lm = extractor.extract(image)
                refs.setdefault(detector, []).append(None if lm is None else face_vector(lm))
                if lm is not None and variant == first:
                    x, y = lm.face[:, 0] * image.shape[1], lm.face[:, 1] * image.shape[0]
                    boxes.append((x.max() - x.min(), (x.max() + x.min()) / 2, (y.max() + y.min()) / 2))
    if "tasks" in refs:
        refs["tasks-crop"] = refs["tasks"]
    width, cx, cy = np.median(np.array(boxes), axis=0)
    return refs, float(width), (float(cx), float(cy))


def drift(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance per point between two feature vectors, in inter-ocular distances."""
    return float(np.linalg.norm((a - b).reshape(-1, 3), axis=1).mean())


def run_videos(count: int, model) -> dict:
    """Per variant and width: found flags, drifts, prediction matches; plus timings and spread."""
    found: dict = {}
    drifts: dict = {}
    agree: dict = {}
    times: dict = {}
    spread: list[float] = []
    gap: list[float] = []
    for name in VIDEOS:
        frames = sample_frames(DATA / "face_videos" / f"{name}.mp4", count)
        refs, width, centre = reference(frames)
        base = refs.get("holistic", refs["tasks"])
        full = [v for v in base if v is not None]
        spread += [drift(v, np.mean(full, axis=0)) for v in full]
        gap += [drift(h, f) for h, f in zip(refs.get("holistic", []), refs.get("tasks", []))
                if h is not None and f is not None]
        print(f"  {name}: {len(frames)} frames, face {width:.0f} px wide at full size", flush=True)
        for variant, kwargs in VARIANTS.items():
            for target in WIDTHS:
                images = [place(f, target / width, centre) for f in frames]
                with open_extractor(**kwargs) as extractor:
                    vecs, ms, detectors = vectors(extractor, images)
                key = (variant, target)
                found.setdefault(key, []).extend(v is not None for v in vecs)
                found.setdefault((f"{variant}: {name}", target), []).extend(v is not None for v in vecs)
                refs_used = [refs[d][i] if d else None for i, d in enumerate(detectors)]
                drifts.setdefault(key, []).extend(
                    drift(v, r) for v, r in zip(vecs, refs_used) if v is not None and r is not None)
                times.setdefault(key, []).extend(ms[1:])  # the first frame includes graph warm-up
                if model is not None:
                    agree.setdefault(key, []).append(vecs)
    return {"found": found, "drift": drifts, "times": times, "spread": spread, "gap": gap,
            "agree": _agreement(agree, model) if model is not None else None}


def _agreement(runs: dict, model) -> dict:
    """Share of frames (found at both sizes) whose predicted label matches the one at 166 px.

    Each video at each size goes through its own run.py Predictor, frame by frame, so a calibrated
    model sees what it sees in use (every mood it knows).
    """
    out = {}
    for (variant, target), per_video in runs.items():
        base = runs[(variant, WIDTHS[0])]
        same = []
        for vecs, ref in zip(per_video, base):
            for v, r in zip(_labels(vecs, model), _labels(ref, model)):
                if v is not None and r is not None:
                    same.append(int(v == r))
        out[(variant, target)] = same
    return out


def _labels(vectors: list, model) -> list:
    from emusify.reading.predictor import Predictor

    predictor = Predictor(model)  # as run.py reads it (every mood, since issue 16)
    return [None if v is None else int(np.argmax(predictor.predict(v)[0])) for v in vectors]


def table(title: str, cells: dict, fmt, rows=tuple(VARIANTS)) -> None:
    print(f"\n{title}\n")
    print("| extractor | " + " | ".join(f"{w} px" for w in WIDTHS) + " |")
    print("|---|" + "---:|" * len(WIDTHS))
    for variant in rows:
        print(f"| {variant} | " + " | ".join(fmt(cells.get((variant, w), [])) for w in WIDTHS) + " |")


def percent(values: list) -> str:
    return f"{100 * np.mean(values):.0f}% ({sum(values)}/{len(values)})" if values else "-"


def median(values: list) -> str:
    return f"{statistics.median(values):.3f}" if values else "-"


def run_sets(per_set: int) -> None:
    """Detection on a seeded sample of each labelled set with each backend's still-image extractor."""
    print(f"\nLabelled sets: {per_set} images each (seeded sample), each backend's still-image extractor "
          "(holistic: Holistic, then FaceMesh on a padded image; tasks: FaceLandmarker, padded, then "
          "through the pose)\n")
    print("| backend | set | images | found | by first model | by fallback | ms/image (median) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for backend in available():
        with open_extractor(backend, static=True) as extractor:
            for name in SETS:
                files = sorted(p for p in (DATA / name).rglob("*") if p.suffix.lower() in
                               {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif"})
                random.Random(0).shuffle(files)
                counts: dict = {}
                ms = []
                for path in files[:per_set]:
                    image = read_image(path)
                    start = time.perf_counter()
                    lm = None if image is None else extractor.extract(image)
                    ms.append((time.perf_counter() - start) * 1000)
                    key = None if lm is None else lm.detector in ("holistic", "tasks")
                    counts[key] = counts.get(key, 0) + 1
                n = sum(counts.values())
                print(f"| {backend} | {name} | {n} | {100 * (n - counts.get(None, 0)) / n:.0f}% | "
                      f"{counts.get(True, 0)} | {counts.get(False, 0)} | {statistics.median(ms):.0f} |",
                      flush=True)


def load_model():
    if not MODEL.is_file():
        return None
    from emusify.reading.model import Model

    return Model.load(MODEL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20, metavar="N", help="frames per video (default: 20)")
    parser.add_argument("--per-set", type=int, default=30, metavar="N",
                        help="images per labelled set (default: 30)")
    parser.add_argument("--quick", action="store_true", help="6 frames per video, 8 images per set")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help=f"run only this extractor (repeatable; default: all of {', '.join(VARIANTS)})")
    parser.add_argument("--no-sets", action="store_true", help="skip the labelled sets")
    parser.add_argument("--videos", metavar="NAME", nargs="+", default=list(VIDEOS),
                        help="face videos in ../shared/data/face_videos (default: %(default)s); the "
                             "Tasks backend's settings were chosen on liveportrait_driving_d3 d6 d19")
    args = parser.parse_args()
    VIDEOS[:] = args.videos
    for name in set(VARIANTS) - set(args.only or VARIANTS):
        del VARIANTS[name]
    frames, per_set = (6, 8) if args.quick else (args.frames, args.per_set)
    start = time.time()
    model = load_model()
    print(f"Face videos: {', '.join(VIDEOS)}; {frames} frames each at {RATE:g} fps, 640x480 grey canvas")
    result = run_videos(frames, model)
    table("Detection rate", result["found"], percent)
    table("Detection rate per video", result["found"], percent,
          [f"{variant}: {name}" for variant in RUNNER_VARIANTS for name in VIDEOS])
    table("Feature drift from full size (median over frames of the mean point distance, inter-ocular "
          f"units, against the same detector static at full size; expression spread: median "
          f"{statistics.median(result['spread']):.3f}; Holistic vs Tasks on the same full-size frame: "
          f"median {statistics.median(result['gap']) if result['gap'] else float('nan'):.3f})",
          result["drift"], median)
    if result["agree"] is None:
        print(f"\nPrediction agreement: not measured ({MODEL.relative_to(ROOT)} does not exist)")
    else:
        table(f"Prediction agreement with 166 px ({MODEL.relative_to(ROOT)})", result["agree"], percent)
    table("Milliseconds per frame at 640x480 (median; first frame of each run left out)", result["times"],
          lambda ms: f"{statistics.median(ms):.0f}" if ms else "-")
    if not args.no_sets:
        run_sets(per_set)
    print(f"\ntotal {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
