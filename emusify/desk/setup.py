"""The guided set-up: record the relaxed face, then each mood, before the music starts (run.py --setup).

One short session of the user's own faces more than doubles the windows read right at the 4 moods
(issue 23). On a first start with a terminal and no personal recordings, run.py offers it; ``--setup``
always does. The order: neutral first (the relaxed face, which also becomes the calibration shot),
then every mood with songs, then the moods without songs. Each mood is a countdown, then
``seconds`` of recording through :func:`emusify.sensing.recorder.record_session` (collect.py's
recorder: the same face-found check and progress), the screen saying what to do ("think of something
that made you happy"). ``s`` skips a mood (nothing of it is kept), ``q`` ends the set-up and keeps what
was recorded, the mood under way included.

Pure logic: the frame source, the recorder, the screen and the clock come in as arguments, so the
flow runs with fakes in tests (tests/test_setup.py).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Protocol, Sequence

from emusify.config import NEUTRAL
from emusify.errors import CameraError
from emusify.storage.emrec import SUFFIX

log = logging.getLogger(__name__)

PROMPTS = {
    NEUTRAL: "relax your face and look at the screen as you do at work",
    "happy": "think of something that made you happy",
    "sad": "think of something that made you sad: a loss, a goodbye",
    "angry": "think of something that made you angry",
    "surprise": "think of a surprise: raise your brows, open your mouth",
    "fear": "think of something that frightened you",
    "disgust": "think of a smell or a taste you cannot stand",
}
SKIP_KEYS = {"s", "S"}
QUIT_KEYS = {"q", "Q", "\x1b", "esc"}
START_KEYS = {"\n", "\r", "y", "Y"}
DECLINE_KEYS = {"n", "N"} | QUIT_KEYS
STOP = "q"  # what the step hands back to the recorder to end a mood early (its quit key)
TRAINING = 30.0  # seconds the set-up's training takes at most (2 cores; docs/results/setup.md)
RATE = 10.0  # frames analysed per second of recording (collect.py's --rate default)
REMIND = "no personal model: run.py --setup records your moods"
LEARNING = "learning your moods in the background; the starter model reads until then"
FAILED = "your moods could not be learned (see the log); run.py --setup records them again"


def prompt(mood: str) -> str:
    """What the user is asked to do for ``mood``."""
    return PROMPTS.get(mood, f"think of a moment of {mood} and let it show")


def plan(labels: Sequence[str], with_songs: Sequence[str]) -> tuple[str, ...]:
    """The moods in the set-up's order: neutral, the moods with songs, the moods without (model order)."""
    have = set(with_songs)
    first = [NEUTRAL] if NEUTRAL in labels else []
    rest = [m for m in labels if m != NEUTRAL]
    return (*first, *(m for m in rest if m in have), *(m for m in rest if m not in have))


def has_recordings(data: Path) -> bool:
    """Whether the data folder holds a recording of the user (``<data>/<mood>/*.emrec``)."""
    try:
        return any(next(folder.glob(f"*{SUFFIX}"), None) is not None
                   for folder in Path(data).iterdir() if folder.is_dir())
    except OSError:  # no data folder yet
        return False


def decide(forced: bool, interactive: bool, headless: bool, cycles: int, personal: bool) -> str:
    """What run.py does about the set-up before the music starts.

    "offer": ask (``--setup``, or a first start at a terminal that reads keys and runs until stopped);
    "remind": no personal recordings, and no one to ask now (keys are not read, or a scripted run
    with --cycles): a log line says how to start it;
    "headless": the same without a terminal, left running (the log and a notification say how);
    "none": the user has recordings or a model of their own.
    """
    if forced and interactive:
        return "offer"
    if personal and not forced:
        return "none"
    if cycles and not forced:
        return "remind"
    if headless:
        return "headless"
    return "offer" if interactive else "remind"


class Screen(Protocol):
    """Where the set-up draws its lines and reads single keys (a terminal, or a fake)."""

    def show(self, lines: Sequence[str]) -> None: ...

    def pressed(self) -> list[str]: ...


def minutes(moods: int, seconds: float, countdown: float) -> int:
    """The set-up's length in whole minutes, rounded up: each mood and its countdown, then training."""
    return max(1, math.ceil((moods * (seconds + countdown) + TRAINING) / 60))


def offer(screen: Screen, moods: Sequence[str], seconds: float, countdown: float,
          sleep: Callable[[float], None]) -> bool:
    """Ask once; True when the user starts the set-up ([enter]), False for [n] (or q / Esc)."""
    length = minutes(len(moods), seconds, countdown)
    screen.show([
        "Record your moods now? One short session teaches Emusify your own face;",
        "it reads you far better after it (0.38 -> 0.89 of windows right at 4 moods).",
        f"About {length} minute{'s' if length > 1 else ''}: your relaxed face first, then "
        f"{', '.join(moods[1:])},",
        f"about {seconds:g} s each. s skips a mood, q ends the set-up and keeps what was recorded.",
        "Only landmark numbers are stored, never an image.",
        "",
        "[enter] start    [n] not now (the starter model plays; run.py --setup asks again)",
    ])
    while True:
        for key in screen.pressed():
            if key in START_KEYS:
                return True
            if key in DECLINE_KEYS:
                return False
        sleep(0.05)


class LiveSource:
    """A frame source read as a webcam is: frames due by the clock, countdowns and all.

    A video file standing in for the webcam is read as fast as it decodes; here it is paced to its
    timestamps (late frames are dropped, as a webcam drops them) and its frames count as live, so the
    set-up shows its countdowns. A webcam's frames are already due and pass through unchanged.
    """

    def __init__(self, source: Any, now: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.source, self.now, self.sleep = source, now, sleep
        self.is_video = bool(source.is_video)
        self.ended = False
        self._start: float | None = None

    def read(self) -> Any:
        while True:
            frame = self.source.read()
            if frame is None:
                self.ended = True
                return None
            if not self.is_video:
                return frame
            if self._start is None:
                self._start = self.now() - frame.timestamp
            ahead = self._start + frame.timestamp - self.now()
            if ahead > 0:
                self.sleep(ahead)
            elif ahead < -0.25:  # behind the clock: drop it, as a webcam would
                continue
            return frame._replace(name=None)


class Step:
    """One mood on the screen: the recorder's preview (``show`` returns the key that stops it)."""

    def __init__(self, mood: str, number: int, total: int, with_songs: bool, screen: Screen,
                 window: Any = None) -> None:
        self.mood, self.screen, self.window = mood, screen, window
        kind = "the reference face" if mood == NEUTRAL else ("has songs" if with_songs else "no songs")
        self.head = f"Emusify set-up: {number}/{total} {mood} ({kind})"
        self.skipped = self.quit = False

    def show(self, image: Any, landmarks: Any, lines: Sequence[str]) -> str | None:
        """Draw the step with the recorder's ``lines``; "q" (the recorder's stop) after s or q."""
        lines = [line for line in lines if line and not line.startswith("relax your face")]
        self.screen.show([self.head, prompt(self.mood), *lines, "",
                          f"s skips {self.mood}   q ends the set-up and keeps what was recorded"])
        keys = self.screen.pressed()
        if self.window is not None:
            key = self.window.show(image, landmarks, [prompt(self.mood), *lines])
            keys += [key] if key else []
        for key in keys:
            if key in SKIP_KEYS:
                self.skipped = True
                return STOP
            if key in QUIT_KEYS:
                self.quit = True
                return STOP
        return None


class SetupResult(NamedTuple):
    """What the set-up kept."""

    recorded: tuple[Any, ...]  # RecordResult of each mood with samples kept, in order
    skipped: tuple[str, ...]
    missed: tuple[str, ...]  # recorded, but no face was found: nothing kept
    quit: bool  # the user ended it with q
    seconds: float  # wall time of the set-up

    def summary(self) -> str:
        """One line for the log and the screen."""
        kept = ", ".join(f"{r.emotion} {r.kept}" for r in self.recorded) or "nothing"
        parts = [f"set-up: kept {kept} samples in {self.seconds:.0f} s"]
        if self.skipped:
            parts.append(f"skipped {', '.join(self.skipped)}")
        if self.missed:
            parts.append(f"no face found for {', '.join(self.missed)} (check the light)")
        if self.quit:
            parts.append("ended with q")
        return "; ".join(parts)


def run_setup(moods: Sequence[str], with_songs: Sequence[str], record: Callable[[str, Step], Any],
              screen: Screen, now: Callable[[], float] = time.monotonic, window: Any = None,
              ended: Callable[[], bool] = lambda: False) -> SetupResult:
    """Record each of ``moods`` in turn: ``record(mood, step)`` records one (step is the preview).

    A skipped mood's samples are deleted; q keeps the mood under way. ``ended()`` says the camera
    stopped giving frames, and a CameraError is a camera that failed: the set-up ends there with
    what it has (a mood cut short keeps the samples already on disk).
    """
    started = now()
    recorded: list[Any] = []
    skipped: list[str] = []
    missed: list[str] = []
    quit = False
    for number, mood in enumerate(moods, 1):
        step = Step(mood, number, len(moods), mood in with_songs, screen, window)
        try:
            result = record(mood, step)
        except CameraError as exc:  # unplugged mid-way: what was recorded stays, the music starts
            log.warning("set-up: the camera failed during %s (%s); keeping what was recorded", mood, exc)
            break
        if step.skipped:
            if result.path is not None:
                Path(result.path).unlink(missing_ok=True)
            skipped.append(mood)
            log.info("set-up: %s skipped", mood)
            continue
        if result.kept:
            recorded.append(result)
        else:
            missed.append(mood)
        log.info("set-up: %s kept %d samples (%d frames without a face)", mood, result.kept, result.no_face)
        if step.quit or result.stopped:
            quit = True
            break
        if ended():
            log.warning("set-up: the camera stopped giving frames after %s; keeping what was recorded", mood)
            break
    return SetupResult(tuple(recorded), tuple(skipped), tuple(missed), quit, now() - started)


def reference_vectors(result: SetupResult, vectors_of: Callable[[Path], Any]) -> Any:
    """The relaxed face's vectors (the neutral recording's) to serve as the calibration shot, or None."""
    for recording in result.recorded:
        if recording.emotion == NEUTRAL and recording.path is not None:
            return vectors_of(Path(recording.path))
    return None
