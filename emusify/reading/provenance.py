"""What a model's sidecar says about its making: when, with which versions, on what, how validated.

Pure (no scikit-learn): :func:`model_meta` serves both ``training.train`` and
``finetune.train_from_prior``. ``options`` is any dataclass of training settings (training's
``TrainOptions``), so this module needs nothing from ``training``.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
from collections import Counter
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

from emusify import __version__

if TYPE_CHECKING:
    from emusify.reading.samples import Samples


def model_meta(samples: Samples, options: Any, seconds: float,
               validation: dict[str, Any]) -> dict[str, Any]:
    """What a model's sidecar says about its making: time, versions, training summary, validation."""
    return {"created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "versions": versions(), "training": _summary(samples, options, seconds),
            "validation": validation}


def _summary(samples: Samples, options: Any, seconds: float) -> dict[str, Any]:
    return {
        "samples": len(samples.y),
        "per_class": dict(sorted(Counter(samples.y.tolist()).items())),
        "augmented": len(samples.aug_of),
        "groups": len(np.unique(samples.split)),
        "sessions": samples.sessions,
        "options": dataclasses.asdict(options),
        "seconds": round(seconds, 1),
    }


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that shaped the model."""
    found = {"python": platform.python_version(), "emusify": __version__}
    for name in ("numpy", "scikit-learn", "mediapipe"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found
