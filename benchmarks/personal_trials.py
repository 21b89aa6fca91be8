"""Trials for benchmarks/personal.py (chosen on development performers only): the personal update and
the starters changed one way at a time. None is in the product; docs/results/personal.md has the figures.

- ``--learn K=V,...``: keyword arguments of emusify.reading.relearn.learn (alpha, learning_rate, steps,
  anchors, method, relaxed_rows), and ``subtle=LOW``: every centred non-neutral row of the recordings
  is learned again scaled by U(LOW, 1), a subtler face of the same mood;
- ``--starter K=V,...``: the starters' TrainOptions (alpha, hidden, augment as a|b), and ``subtle=LOW``
  on the starter's own (centred) training rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from typing import Any, Callable

import numpy as np

from emusify.reading import relearn
from emusify.sensing import features


def trial(text: str) -> dict[str, Any]:
    """"alpha=1,hidden=128,augment=mirror|jitter" -> keyword arguments (numbers, tuples)."""
    found: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key in ("hidden", "augment"):
            found[key] = tuple(int(v) if v.isdigit() else v for v in value.split("|") if v)
        else:
            found[key] = _number(value)
    return found


def _number(value: str) -> Any:
    """"3" -> 3, "1e-3" -> 0.001, anything else stays text (learn's method)."""
    try:
        return int(value) if value.isdigit() else float(value)
    except ValueError:
        return value


def subtle_rows(X: np.ndarray, y: np.ndarray, low: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Trial: a copy of every centred non-neutral row scaled by U(low, 1), a subtler face of that mood."""
    moved = np.asarray(y) != "neutral"
    scale = np.random.default_rng(seed).uniform(low, 1.0, (int(moved.sum()), 1))
    return np.concatenate([X, X[moved] * scale]), np.concatenate([y, np.asarray(y)[moved]])


def subtle_learning(low: float) -> None:
    """Trial: relearn.learn also learns subtler copies of the recordings (relearn._taught wrapped)."""
    taught = relearn._taught

    def wrapped(prior, X, y, window, method, anchors, seed, tuning):
        X2, y2 = subtle_rows(X, y, low, seed)
        window2 = np.concatenate([window, window[np.asarray(y) != "neutral"]])
        return taught(prior, X2, y2, window2, method, anchors, seed, tuning)

    relearn._taught = wrapped


def subtle_fit(low: float) -> Callable:
    """Trial: benchmarks/starter.py's fit_only with subtler copies of every training row."""
    from starter import OPTIONS

    from emusify.reading.samples import calibrate
    from emusify.reading.training import emotions_of, fit_pipeline, model_from_pipeline, training_side

    def fit(samples, options=OPTIONS):
        centred, reference = calibrate(samples, options.calibration, options.missing)
        X, y = subtle_rows(*training_side(centred, np.arange(len(centred.y))), low, options.seed)
        pipe = fit_pipeline(X, y, emotions_of(centred), options)
        return model_from_pipeline(pipe, (features.LAYOUT.name, features.LAYOUT.length), options, reference)

    return fit


def trial_starters(args: argparse.Namespace) -> Any:
    """The leave-fold-out starters, with the trials of ``args`` applied (none: the shipped recipe)."""
    import people as people_mod  # slow: every set's samples
    from starter import OPTIONS

    learning, starting = trial(args.learn), trial(args.starter)
    if "subtle" in learning:
        subtle_learning(learning.pop("subtle"))
    if learning:  # update_model calls relearn.learn by name
        relearn.learn = functools.partial(relearn.learn, **learning)
    if "subtle" in starting:
        people_mod.fit_only = subtle_fit(starting.pop("subtle"))
    return people_mod.Starters(dataclasses.replace(OPTIONS, **starting))
