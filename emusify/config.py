"""Settings: one frozen object, defaults in one place.

Precedence, lowest first: the defaults below, the ``[emusify]`` section of ``setup.cfg`` in the
project folder (or the file ``EMUSIFY_CONFIG`` names), then command-line flags. Paths are relative
to the folder the scripts run from.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from emusify.errors import UsageError

SECTION = "emusify"
NEUTRAL = "neutral"  # the relaxed face: the reference is taken from it, it keeps the music playing
POLICIES = ("match", "uplift")
BACKENDS = ("auto", "holistic", "tasks")  # the same names as emusify.sensing.landmarks.BACKENDS
NOTIFY = ("changes", "every", "off")
AWAY = ("pause", "keep")  # emusify.desk.away
ON_LOCK = ("pause", "keep")  # emusify.desk.lockwatch
LOUDNESS_TARGETS = (-40.0, -5.0)  # LUFS: the loudness_target setting's range


@dataclass(frozen=True)
class Settings:
    """Every tunable of the three scripts, with its default."""

    # Folders and files
    songs: Path = Path("songs")
    data: Path = Path("datasets")
    model: Path = Path("models/emusify.npz")
    starter_model: Path = Path("models/starter.npz")
    journal: Path | None = None  # None: <data>/journal.sqlite
    reference: Path | None = None  # the stored reference face; None: <data>/reference.json
    # Frame source: a webcam index, a video file or a folder of images
    source: str = "0"
    # Landmark backend: auto (tasks, on every Python), holistic (mediapipe 0.10.21 only), tasks
    backend: str = "auto"
    # The run loop
    window: float = 18.0  # seconds the camera watches per cycle
    every: float = 5.0  # minutes from the end of one window to the start of the next
    fps: float = 4.0  # frames analysed per second of a window
    fade: float = 3.0  # seconds of cross-fade when the mood changes
    cycles: int = 0  # stop after this many windows; 0 runs until stopped
    volume: float = 1.0  # 0..1, the first start's; then the last one set (+/-, the desktop) is kept
    calibrate_seconds: float = 5.0  # the calibration shot: seconds of a relaxed face before the first window
    # Away from the desk (emusify.desk.away): after away_after windows in a row with no face, "pause"
    # fades the music to a pause and looks for away_look seconds every away_every minutes until a
    # face is back; "keep" plays on. away_after = 0 never counts anyone away.
    away: str = "pause"
    away_after: int = 2  # windows in a row with no face
    away_look: float = 4.0  # seconds of a look while away (at most --window)
    away_every: float = 1.0  # minutes between two looks while away
    # The screen locked (emusify.desk.lockwatch, heard on D-Bus by emusify.desk.screenlock): "pause"
    # fades the music to a pause and takes no windows until it is unlocked; "keep" plays on.
    on_lock: str = "pause"
    # Decision rules for a window
    # min_confidence / min_share: chosen on held-out development people (benchmarks/windows.py,
    # docs/results/accuracy.md): about 0.9 of committed windows right, about 2 in 3 windows committed
    min_confidence: float = 0.6  # a frame votes only when its top probability reaches this
    min_share: float = 0.7  # the leading mood needs this share of the votes
    min_face_frames: int = 8  # fewer voting frames than this: unsure
    # Mood policy: "match", "uplift", or an explicit map such as "sad=happy, angry=neutral"
    policy: str = "match"
    keep_on_neutral: bool = True  # a neutral window keeps the current music
    fallback: str = NEUTRAL  # folder used when a mood's folder is empty or missing
    # Recording
    record_seconds: float = 20.0
    record_samples: int = 0  # 0: no limit other than record_seconds
    countdown: float = 3.0
    setup_seconds: float = 15.0  # run.py's guided set-up: recording per mood (7 moods and training in 3 min)
    # Front-ends of run.py (emusify.desk.frontends): optional; one that cannot start is one log line
    mpris: bool = sys.platform.startswith("linux")  # media keys and the desktop's now-playing widget (D-Bus)
    notify: str = "changes"  # notifications with mood buttons: "changes" (music moved), "every" window, "off"
    notify_every: float = 1.0  # minutes at least between two notifications (0: no limit)
    # Even loudness (emusify.music.loudness): every song plays at loudness_target LUFS, by its
    # ReplayGain 2 / R128 tags or a measurement cached in <data>/loudness.json; only cuts, never a boost
    loudness: bool = True
    loudness_target: float = -20.0  # LUFS; songs quieter than this play as they are

    @property
    def reference_path(self) -> Path:
        """Where run.py keeps the user's reference face (under the data folder unless set)."""
        return self.reference if self.reference is not None else self.data / "reference.json"

    @property
    def journal_path(self) -> Path:
        """Where the mood journal lives (under the data folder unless set)."""
        return self.journal if self.journal is not None else self.data / "journal.sqlite"

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated; ``None`` values are ignored."""
        given = {key: value for key, value in changes.items() if value is not None}
        return _validated(dataclasses.replace(self, **given))


def load_settings(root: Path = Path("."), overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read the defaults, the config file, then ``overrides`` (typically CLI flags).

    Raises:
        UsageError: an unknown key, a value of the wrong type or out of range.
    """
    values: dict[str, Any] = {}
    path = Path(os.environ.get("EMUSIFY_CONFIG", root / "setup.cfg"))
    if path.is_file():
        values.update(_read_section(path))
    settings = _validated(Settings(**values))
    return settings.replace(**(overrides or {}))


def discover_emotions(songs: Path) -> tuple[str, ...]:
    """The emotions the user works with: the sub-folders of the songs folder, sorted."""
    if not songs.is_dir():
        return ()
    return tuple(sorted(p.name for p in songs.iterdir() if p.is_dir() and not p.name.startswith(".")))


def _read_section(path: Path) -> dict[str, Any]:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise UsageError(f"{path}: cannot parse: {exc}. Fix the [{SECTION}] section.") from None
    if not parser.has_section(SECTION):
        return {}
    kinds = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in parser.items(SECTION):
        name = key.replace("-", "_")
        if name not in kinds:
            known = ", ".join(sorted(kinds))
            raise UsageError(f"{path}: unknown setting '{key}' in [{SECTION}]; known: {known}")
        values[name] = _convert(path, key, raw, str(kinds[name]))
    return values


def _convert(path: Path, key: str, raw: str, kind: str) -> Any:
    raw = raw.strip()
    try:
        if "Path" in kind:
            return Path(raw)
        if kind == "float":
            return float(raw)
        if kind == "int":
            return int(raw)
        if kind == "bool":
            lowered = raw.lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")
    except ValueError:
        raise UsageError(f"{path}: [{SECTION}] {key} = {raw!r} is not a valid {kind}") from None
    return raw


def _validated(settings: Settings) -> Settings:
    positive = {"window": settings.window, "fps": settings.fps, "record_seconds": settings.record_seconds,
                "calibrate_seconds": settings.calibrate_seconds, "away_look": settings.away_look,
                "setup_seconds": settings.setup_seconds}
    for name, value in positive.items():
        if not value > 0:
            raise UsageError(f"{name.replace('_', '-')} must be greater than 0, got {value}")
    non_negative = {
        "every": settings.every,
        "fade": settings.fade,
        "cycles": settings.cycles,
        "record_samples": settings.record_samples,
        "countdown": settings.countdown,
        "min_face_frames": settings.min_face_frames,
        "notify_every": settings.notify_every,
        "away_after": settings.away_after,
        "away_every": settings.away_every,
    }
    for name, value in non_negative.items():
        if value < 0:
            raise UsageError(f"{name.replace('_', '-')} must be 0 or more, got {value}")
    if not LOUDNESS_TARGETS[0] <= settings.loudness_target <= LOUDNESS_TARGETS[1]:
        raise UsageError(f"loudness-target must be between {LOUDNESS_TARGETS[0]:g} and "
                         f"{LOUDNESS_TARGETS[1]:g} LUFS, got {settings.loudness_target:g}")
    if settings.backend not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {settings.backend!r}")
    if settings.away not in AWAY:
        raise UsageError(f"away must be one of {', '.join(AWAY)}, got {settings.away!r}")
    if settings.on_lock not in ON_LOCK:
        raise UsageError(f"on_lock must be one of {', '.join(ON_LOCK)}, got {settings.on_lock!r}")
    if settings.notify not in NOTIFY:
        raise UsageError(f"notify must be one of {', '.join(NOTIFY)}, got {settings.notify!r}")
    for name in ("min_confidence", "min_share", "volume"):
        value = getattr(settings, name)
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"{name.replace('_', '-')} must be between 0 and 1, got {value}")
    return settings
