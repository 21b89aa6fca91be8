"""Cache MediaPipe landmarks of the shared labelled sets in .cache/landmarks-<set>[-tasks].npz.

    python benchmarks/extract.py                 # every set that is not cached yet
    python benchmarks/extract.py --force jaffe   # redo one set
    python benchmarks/extract.py --backend tasks jaffe   # the Tasks backend: landmarks-jaffe-tasks.npz

The holistic backend's caches keep their names (landmarks-<set>.npz); the tasks backend's end in -tasks.

The images stay in ../shared/data (research-only); the cache holds only landmarks and is git-ignored.
Each cache holds: face (n, 468, 3), pose (n, 33, 4; NaN when not found), image_size (n, 2), detector,
label, group (the person; "" when unknown), session (tcced performance type, else ""), name
(label/file), and
missed (files where no face was found).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / ".cache"
SETS = ("ckplus48", "jaffe", "taiwanese_tcced", "muxspace_facial_expressions", "yalefaces", "fer2013_sample")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp"}

log = logging.getLogger(__name__)


def person(dataset: str, name: str) -> tuple[str, str]:
    """(group, session) of a file, as the set's PROVENANCE.md defines them."""
    stem = Path(name).stem
    if dataset == "ckplus48":
        return stem.split("_")[0], ""
    if dataset == "jaffe":
        return stem[:2], ""
    if dataset == "taiwanese_tcced":
        return stem[:2], stem[2]
    if dataset == "muxspace_facial_expressions":
        head, _, tail = stem.rpartition("_")
        return (head if head and tail.isdigit() else stem), ""
    if dataset == "yalefaces":
        return stem.split("_")[0], ""
    return "", ""


def read_image(path: Path) -> np.ndarray | None:
    """BGR image; GIFs through VideoCapture because imread cannot read them.

    Small images (48x48 crops) are passed as they are: the extractor upscales them itself.
    """
    if path.suffix.lower() == ".gif":
        capture = cv2.VideoCapture(str(path))
        ok, image = capture.read()
        capture.release()
        image = image if ok else None
    else:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return image


def labelled_files(dataset: str, data: Path = DATA) -> list[tuple[str, Path]]:
    """(label, path) for every image in <set>/<label>/ of ``data``."""
    root = data / dataset
    return [(folder.name, path) for folder in sorted(p for p in root.iterdir() if p.is_dir())
            for path in sorted(folder.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]


def extract_set(dataset: str, extractor) -> dict[str, np.ndarray]:
    """Landmarks of every labelled image of one set, as arrays for np.savez."""
    rows: dict[str, list] = {k: [] for k in ("face", "pose", "image_size", "detector", "label", "group",
                                             "session", "name")}
    missed = []
    for label, path in tqdm(labelled_files(dataset), desc=dataset, unit="img"):
        image = read_image(path)
        lm = None if image is None else extractor.extract(image)
        if lm is None:
            missed.append(f"{label}/{path.name}")
            continue
        group, session = person(dataset, path.name)
        rows["face"].append(np.asarray(lm.face, np.float32)[:, :3])
        rows["pose"].append(np.full((33, 4), np.nan, np.float32) if lm.pose is None
                            else np.asarray(lm.pose, np.float32))
        for key, value in (("image_size", lm.image_size), ("detector", lm.detector), ("label", label),
                           ("group", group), ("session", session), ("name", f"{label}/{path.name}")):
            rows[key].append(value)
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    arrays["missed"] = np.asarray(missed, dtype=str)
    return arrays


def cache_path(dataset: str, backend: str = "holistic") -> Path:
    """Where one set's landmarks from ``backend`` are cached."""
    return CACHE / f"landmarks-{dataset}{'' if backend == 'holistic' else '-' + backend}.npz"


def load_cache(dataset: str, backend: str = "holistic") -> dict[str, np.ndarray]:
    """The cached arrays of one set (run this script first)."""
    path = cache_path(dataset, backend)
    if not path.exists():
        flag = "" if backend == "holistic" else f" --backend {backend}"
        raise SystemExit(f"{path} is missing: run python benchmarks/extract.py{flag} {dataset} first")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", metavar="SET", help=f"sets to extract (default: all of {SETS})")
    parser.add_argument("--force", action="store_true", help="extract again even when cached")
    parser.add_argument("--backend", choices=("holistic", "tasks"),
                        help="landmark backend (default: holistic where it is installed, else tasks)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from emusify.errors import LandmarkError
    from emusify.sensing.landmarks import available, open_extractor, resolve_backend  # slow: mediapipe

    backend = args.backend or available()[0]
    wanted = [d for d in args.sets or SETS if args.force or not cache_path(d, backend).exists()]
    for dataset in sorted(set(args.sets or SETS) - set(wanted)):
        log.info("%s: cached in %s", dataset, cache_path(dataset, backend))
    if not wanted:  # nothing to extract: no need for this backend here (make starter on Python 3.13+)
        return
    try:
        backend = resolve_backend(backend)
    except LandmarkError as exc:  # holistic on the Python 3.13+ stack: one line, no traceback
        raise SystemExit(f"error: {exc}; the Holistic caches are made with Python <= 3.12") from None
    missing = [d for d in wanted if not (DATA / d).is_dir()]
    if missing:
        raise SystemExit(f"error: {DATA / missing[0]} not found: the labelled sets live in ../shared/data "
                         "beside the project (see its README.md)")
    CACHE.mkdir(exist_ok=True)
    with open_extractor(backend, static=True) as extractor:
        for dataset in wanted:
            target = cache_path(dataset, backend)
            start = time.monotonic()
            arrays = extract_set(dataset, extractor)
            partial = target.with_suffix(".tmp.npz")
            np.savez_compressed(partial, **arrays)
            partial.replace(target)
            log.info("%s: %d faces, %d missed, %.0f s -> %s", dataset, len(arrays["label"]),
                     len(arrays["missed"]), time.monotonic() - start, target)


if __name__ == "__main__":
    main()
