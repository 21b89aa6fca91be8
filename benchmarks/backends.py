"""Does a model cost accuracy on the other landmark backend? Holistic vs Tasks landmarks of the same images.

    python benchmarks/extract.py taiwanese_tcced jaffe ckplus48                   # Holistic caches
    python benchmarks/extract.py --backend tasks taiwanese_tcced jaffe ckplus48   # Tasks caches
    OMP_NUM_THREADS=1 python benchmarks/backends.py [--model models/starter.npz]

Only images both backends found are used, so every comparison is on the same faces.

1. The shipped model (``--model``, default models/starter.npz) read the way run.py reads it: each
   person's images, in a seeded random order, through one ``Predictor`` (running calibration),
   answering among 7 moods and among the demo library's 4. The starter was trained on the Holistic
   landmarks of these very images, so its Holistic column is optimistic (it has seen them); the
   difference to the Tasks column is what changing the backend costs it, at most.
2. Held out, as benchmarks/accuracy.py measures the starter recipe (train.py's MLP, running
   calibration; tcced and ckplus48 7-fold by person, jaffe trained on the two others): trained on
   Holistic landmarks and tested on Holistic (H->H) or Tasks (H->T) landmarks of the unseen people,
   and trained and tested on Tasks (T->T); and trained on both backends' landmarks of the training
   people (each face twice; calibrated per person and backend) and tested on each (H+T->H, H+T->T).

Prints figures only.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from accuracy import CLASSES, Data, evaluate, restrict, take, vectors
from extract import load_cache
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold

from emusify.model import Model, Predictor

ROOT = Path(__file__).resolve().parents[1]
SETS = ("taiwanese_tcced", "ckplus48", "jaffe")
BACKENDS = ("holistic", "tasks")


def load_pair(dataset: str) -> dict[str, Data]:
    """Both backends' vectors of one set, on the images both found, in the same order (contempt dropped)."""
    caches = {b: load_cache(dataset, b) for b in BACKENDS}
    common = sorted(set(caches["holistic"]["name"].tolist()) & set(caches["tasks"]["name"].tolist()))
    out = {}
    for backend, cache in caches.items():
        index = {name: i for i, name in enumerate(cache["name"].tolist())}
        rows = np.array([index[n] for n in common if cache["label"][index[n]] != "contempt"], int)
        rng = np.random.default_rng(0)
        pairs = [vectors(cache["face"][i], cache["image_size"][i], rng) for i in rows]
        group = np.array([f"{dataset}:{g}" if g else f"{dataset}:#{i}" for i, g in
                          zip(rows, cache["group"][rows])])
        y, names = cache["label"][rows], cache["name"][rows]
        calib = np.zeros(len(y), bool)
        for g in np.unique(group):
            neutral = np.flatnonzero((group == g) & (y == "neutral"))
            calib[neutral[np.argsort(names[neutral])][:2]] = len(neutral) >= 2
        out[backend] = Data(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), y, group,
                            cache["session"][rows], calib)
    return out


def as_run_reads(model: Model, d: Data, labels: tuple[str, ...]) -> float:
    """Accuracy of ``model`` read through a Predictor per person, on faces of ``labels``."""
    keep = np.isin(d.y, labels)
    hits = []
    for g in np.unique(d.group):
        rows = np.random.default_rng(0).permutation(np.flatnonzero((d.group == g) & keep))
        predictor = Predictor(model, labels=[x for x in model.labels if x in labels])
        for i in rows:
            proba = predictor.predict(d.X[i:i + 1])[0]
            hits.append(predictor.labels[int(np.argmax(proba))] == d.y[i])
    return float(np.mean(hits)) if hits else float("nan")


def held_out(pairs: dict[str, dict[str, Data]], dataset: str, labels: tuple[str, ...]) -> tuple[float, ...]:
    """(H->H, H->T, T->T, H+T->H, H+T->T) accuracy of train.py's MLP, running calibration, unseen people."""
    results: dict[str, list[tuple[float, int]]] = {"HH": [], "HT": [], "TT": [], "BH": [], "BT": []}
    H, T = (restrict(pairs[dataset][b], labels) for b in BACKENDS)
    if dataset == "jaffe":
        others = [s for s in pairs if s != dataset]
        splits = [(None, None)]
    else:
        splits = list(GroupKFold(7).split(H.X, H.y, H.group))
    for tr, te in splits:
        if tr is None:
            train_h = _join([restrict(pairs[s]["holistic"], labels) for s in others])
            train_t = _join([restrict(pairs[s]["tasks"], labels) for s in others])
            test_h, test_t = H, T
        else:
            mask = np.isin(np.arange(len(H.y)), te)
            train_h, train_t, test_h, test_t = take(H, ~mask), take(T, ~mask), take(H, mask), take(T, mask)
        results["HH"].append(evaluate("mlp", train_h, test_h, "running"))
        results["HT"].append(evaluate("mlp", train_h, test_t, "running"))
        results["TT"].append(evaluate("mlp", train_t, test_t, "running"))
        both = _join([train_h, train_t._replace(group=np.char.add(train_t.group, "|tasks"))])
        results["BH"].append(evaluate("mlp", both, test_h, "running"))
        results["BT"].append(evaluate("mlp", both, test_t, "running"))
    return tuple(sum(a * n for a, n in r if n) / max(1, sum(n for _, n in r)) for r in results.values())


def _join(parts: list[Data]) -> Data:
    return Data(*(np.concatenate(fields) for fields in zip(*parts)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "starter.npz", metavar="FILE.npz",
                        help="the model read as run.py reads it (default: models/starter.npz)")
    parser.add_argument("--no-held-out", action="store_true", help="only the shipped model (part 1)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.monotonic()
    pairs = {s: load_pair(s) for s in SETS}
    model = Model.load(args.model)
    print(f"{args.model.name} (backend {model.meta.get('backend', 'holistic')}), read as run.py reads it; "
          "images both backends found\n")
    print("| set | faces | 7 moods: Holistic | Tasks | difference | 4 moods: Holistic | Tasks | difference |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for s in SETS:
        cells = []
        for n in (7, 4):
            h, t = (as_run_reads(model, pairs[s][b], CLASSES[n]) for b in BACKENDS)
            cells += [f"{h:.3f}", f"{t:.3f}", f"{t - h:+.3f}"]
        print(f"| {s} | {len(pairs[s]['holistic'].y)} | " + " | ".join(cells) + " |", flush=True)
    if not args.no_held_out:
        print("\nHeld out (train.py's MLP, running calibration): trained on Holistic, tested on Holistic "
              "(H->H) or Tasks (H->T); trained and tested on Tasks (T->T); trained on both (H+T)\n")
        print("| set | moods | H->H | H->T | H->T minus H->H | T->T | H+T->H | H+T->T | H+T: T minus H |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in SETS:
            for n in (7, 4):
                hh, ht, tt, bh, bt = held_out(pairs, s, CLASSES[n])
                print(f"| {s} | {n} | {hh:.3f} | {ht:.3f} | {ht - hh:+.3f} | {tt:.3f} | {bh:.3f} | "
                      f"{bt:.3f} | {bt - bh:+.3f} |", flush=True)
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
