"""Does the starter read worse on the other landmark backend? Holistic vs Tasks landmarks of the same faces.

    python benchmarks/extract.py taiwanese_tcced jaffe ckplus48                   # Holistic caches
    python benchmarks/extract.py --backend tasks taiwanese_tcced jaffe ckplus48   # Tasks caches
    OMP_NUM_THREADS=1 python benchmarks/backends.py [--model models/starter.npz]   # about 3 minutes

Both parts read through run.py's ``Predictor`` with the reference run.py would have (issue 9's
protocols, as benchmarks/accuracy.py): "desk" = two of the person's neutral photos as the
calibration shot (never scored), "first" = no shot (the model's reference_mean); 7 moods and the
demo library's 4.

1. The shipped model (``--model``): it was trained on these very images (both backends' landmarks
   for the shipped starter), so both columns are optimistic; their difference is what changing the
   backend costs it.
2. Held out (``--held-out``, the figures that count): the starter recipe rebuilt without the person
   tested (benchmarks/accuracy.py's leave-people-out starters), learning from Holistic landmarks
   only (the starter before issue 10) or from both backends' (benchmarks/starter.py today), each
   read with Holistic and with Tasks landmarks of the unseen people.

Only images both backends found are compared. Prints figures only.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from accuracy import ROWS, desk_and_first, generic
from faces import Faces, load_faces
from people import Starters
from sklearn.exceptions import ConvergenceWarning
from starter import BACKENDS

from emusify.reading.model import Model

ROOT = Path(__file__).resolve().parents[1]
SETS = ("taiwanese_tcced", "jaffe", "ckplus48")
CELLS = (("desk", 7), ("desk", 4), ("first", 7), ("first", 4))


def load_pair() -> dict[str, Faces]:
    """Both backends' faces of SETS, on the images both found, in the same order."""
    found = {}
    for backend in BACKENDS:
        faces = load_faces(SETS, backend=backend)
        key = np.char.add(np.char.add(faces.dataset.astype(str), "/"), faces.name.astype(str))
        found[backend] = (faces, key)
    common = np.intersect1d(*(key for _, key in found.values()))
    pair = {}
    for backend, (faces, key) in found.items():
        keep = np.isin(key, common)
        pair[backend] = faces.take(keep).take(np.argsort(key[keep]))
    return pair


def shipped(model: Model, faces: Faces) -> dict:
    """Desk and first use of ``model`` itself on every person of ``faces``: {(protocol, moods): hits}."""
    hits: dict = defaultdict(list)
    for person in np.unique(faces.person):
        desk_and_first(faces, person, model, hits)
    return hits


def fmt(hits: list) -> str:
    return f"{np.mean(hits):.2f}" if hits else "-"


def diff(h: list, t: list) -> str:
    return f"{np.mean(t) - np.mean(h):+.2f}" if h and t else "-"


def print_rows(results: dict[str, dict], rows: tuple[str, ...]) -> None:
    head = " | ".join(f"{p} {n}: H | T | T-H" for p, n in CELLS)
    print(f"| people | {head} |\n|---|" + "---:|" * (3 * len(CELLS)))
    for row in rows:
        h, t = results["holistic"][row], results["tasks"][row]
        cells = (f"{fmt(h[c])} | {fmt(t[c])} | {diff(h[c], t[c])}" for c in CELLS)
        print(f"| {row} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "starter.npz", metavar="FILE.npz",
                        help="the model read as run.py reads it (default: models/starter.npz)")
    parser.add_argument("--held-out", action="store_true", help="also the leave-people-out starters (part 2)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.monotonic()
    faces = load_pair()
    model = Model.load(args.model)
    print(f"{args.model.name} (backend {model.meta.get('backend', 'holistic')}) read as run.py reads it; "
          f"images both backends found: {len(faces['holistic'].y)}; H = Holistic, T = Tasks landmarks\n")
    results = {b: {s: shipped(model, faces[b].take(faces[b].dataset == s)) for s in SETS} for b in BACKENDS}
    print_rows(results, SETS)
    if args.held_out:
        for learn in ("holistic", "both"):
            starters = Starters(backends=BACKENDS if learn == "both" else (learn,))
            held = {b: generic(faces[b], starters) for b in BACKENDS}
            print(f"\nheld out: starters rebuilt without the people tested, learning from {learn} "
                  "landmarks\n")
            print_rows(held, ROWS)
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
