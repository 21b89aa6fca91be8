"""What collect.py does: record one emotion from a frame source, walk through emotions, import a folder.

Devices come in as arguments (a frame source, a landmark extractor, a preview window, a
``read_image`` function), so everything here runs with fakes in tests.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

from tqdm import tqdm

from emusify.config import NEUTRAL
from emusify.errors import CameraError, UsageError
from emusify.storage.dataset import SessionWriter

log = logging.getLogger(__name__)

BUILTIN_EMOTIONS = ("happy", "sad", "angry", "neutral")
REFERENCE_NOTE = ("first: neutral, your relaxed face (look at the screen as you do when you work); "
                  "it becomes the reference your other moods are read against")
QUIT_KEYS = {"q", "Q", "esc", "\x1b"}
BAR_WIDTH = 20


def known_emotions(discovered: tuple[str, ...]) -> tuple[str, ...]:
    """The emotions to record: the songs/ folders, or the built-in list when there are none."""
    return discovered or BUILTIN_EMOTIONS


def guided_order(known: tuple[str, ...]) -> tuple[str, ...]:
    """The emotions of the guided mode: neutral first (the relaxed face, the user's reference), then the rest.

    Neutral is recorded even without a songs/neutral/ folder: train.py makes the reference face
    a personal model reads against from it.
    """
    return (NEUTRAL,) + tuple(e for e in known if e != NEUTRAL)


def recordable(known: tuple[str, ...], model_moods: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every mood that may be recorded: the songs/ folders (or the built-in list) and every mood the
    model reads, so a mood without songs (surprise) can be taught too; sorted."""
    return tuple(sorted({*known, *model_moods, NEUTRAL}))


def check_emotion(emotion: str, known: tuple[str, ...]) -> str:
    """``emotion`` if it is known (neutral always is); raises UsageError listing the known ones."""
    if emotion not in known and emotion != NEUTRAL:
        raise UsageError(f"unknown emotion '{emotion}'; known: {', '.join(known)} (the moods the model "
                         f"reads and the songs/ folders; add a songs/<emotion>/ folder for another)")
    return emotion


class RecordResult(NamedTuple):
    """What one recording kept."""

    emotion: str
    path: Path | None  # the recording file; None when no sample was kept
    kept: int  # samples written (frames with a face)
    no_face: int  # frames analysed without a face
    seconds: float  # source time recorded
    stopped: bool  # the user pressed q / Esc in the preview


@dataclass
class _State:
    emotion: str
    seconds: float
    samples: int
    is_video: bool
    start: float | None = None
    elapsed: float = 0.0
    last_analysed: float | None = None
    kept: int = 0
    no_face: int = 0
    face: bool | None = None
    landmarks: Any = None

    def done(self) -> bool:
        return bool(self.samples and self.kept >= self.samples) or (
            self.is_video and self.elapsed >= self.seconds
        )

    def lines(self, countdown_left: float | None) -> list[str]:
        """The text drawn over the preview."""
        if countdown_left is not None:
            head = f"{self.emotion}: get ready, recording in {math.ceil(countdown_left)} s"
        elif self.is_video:
            fraction = self.elapsed / self.seconds
            if self.samples:
                fraction = max(fraction, self.kept / self.samples)
            head = f"{self.emotion}: {_bar(fraction)} {self.elapsed:.0f}/{self.seconds:.0f} s"
        else:
            fraction = self.kept / self.samples if self.samples else 0.0
            head = f"{self.emotion}: {_bar(fraction)} image {self.kept + self.no_face}"
        face = "" if self.face is None else ("face found" if self.face else "NO FACE - face the camera")
        lines = [head, f"kept {self.kept} samples", face]
        if self.emotion == NEUTRAL:  # the reference face: say what it is for, so the user relaxes
            lines.insert(1, "relax your face and look at the screen as you do at work")
        return lines


def record_session(source: Any, extractor: Any, writer: SessionWriter, *, seconds: float,
                   samples: int = 0, countdown: float = 0.0, rate: float = 0.0,
                   preview: Any = None, show_progress: bool = True) -> RecordResult:
    """Record landmarks of one emotion from ``source`` into ``writer`` until a bound is reached.

    Bounds are measured on frame timestamps, so a webcam records in real time, and so does a video
    file (opened with a playhead shared across recordings, the part playing now: see
    emusify.sensing.playhead). An image folder (``source.is_video`` False) uses every image, bounded
    by ``samples`` only. The countdown applies to live sources (frames without a name). ``rate``
    caps analysed frames per second of a video source (0: every frame).
    """
    state = _State(writer.header["emotion"], seconds, samples, source.is_video)
    if source.is_video:
        bar = tqdm(total=seconds, desc=state.emotion, disable=not show_progress, dynamic_ncols=True,
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:g} s{postfix}")
    else:
        bar = tqdm(total=samples or None, unit="img", desc=state.emotion, disable=not show_progress,
                   dynamic_ncols=True)
    stopped = False
    try:
        while not state.done():
            frame = source.read()
            if frame is None:
                break
            if not _step(frame, source.is_video, countdown, rate, extractor, writer, state, preview):
                stopped = True
                break
            bar.set_postfix(kept=state.kept, no_face=state.no_face, refresh=False)
            bar.update((state.elapsed if source.is_video else state.kept + state.no_face) - bar.n)
    except KeyboardInterrupt:
        writer.flush()
        log.warning("interrupted: %s kept %d samples in %s", state.emotion, writer.written, writer.path)
        raise
    finally:
        bar.close()
    writer.flush()
    return RecordResult(state.emotion, writer.path if writer.written else None, state.kept,
                        state.no_face, state.elapsed, stopped)


def _step(frame: Any, is_video: bool, countdown: float, rate: float, extractor: Any,
          writer: SessionWriter, state: _State, preview: Any) -> bool:
    """Handle one frame; False when the user asked to stop."""
    if state.start is None:
        live = frame.name is None
        state.start = frame.timestamp + (countdown if is_video and live else 0.0)
    left = state.start - frame.timestamp
    recording = left <= 0
    if recording and is_video:
        state.elapsed = frame.timestamp - state.start
    if state.done():
        return True
    due = not is_video or not rate or state.last_analysed is None or \
        frame.timestamp - state.last_analysed >= 1.0 / rate - 1e-3
    if due:
        state.last_analysed = frame.timestamp
        state.landmarks = extractor.extract(frame.image)
        state.face = state.landmarks is not None
        if recording and state.landmarks is None:
            state.no_face += 1
        elif recording:
            writer.append(state.landmarks, state.elapsed if is_video else frame.index, frame.name)
            state.kept += 1
    if preview is None:
        return True
    key = preview.show(frame.image, state.landmarks, state.lines(None if recording else max(left, 0.0)))
    return key not in QUIT_KEYS


def _bar(fraction: float) -> str:
    filled = int(round(BAR_WIDTH * min(max(fraction, 0.0), 1.0)))
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]"


def walk_through(emotions: tuple[str, ...], record: Callable[[str], RecordResult],
                 wait: Callable[[str], None]) -> list[RecordResult]:
    """Record every emotion in turn, calling ``wait(next_emotion)`` before each one but the first.

    Stops early when the user presses q / Esc in the preview.
    """
    results: list[RecordResult] = []
    for number, emotion in enumerate(emotions):
        if number:
            wait(emotion)
        result = record(emotion)
        results.append(result)
        if result.stopped:
            log.info("stopped by the user after %s", emotion)
            break
    return results


# Importing a labelled image folder ----------------------------------------------------------------


class ImportResult(NamedTuple):
    """What an import did: samples per label, the files it skipped, the recordings it wrote."""

    imported: dict[str, int]
    unreadable: list[Path]
    no_face: list[Path]
    paths: list[Path]


def compile_group_regex(pattern: str | None) -> re.Pattern[str] | None:
    """The --group-regex pattern; raises UsageError when it does not compile."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--group-regex {pattern!r} is not a valid regular expression: {exc}") from None


def group_of(name: str, regex: re.Pattern[str] | None) -> str | None:
    """The subject/group id in a file name: the named group ``group``, else the first group,
    else the whole match; None when there is no regex or it does not match."""
    match = regex.search(name) if regex is not None else None
    if match is None:
        return None
    if "group" in regex.groupindex:  # type: ignore[union-attr]
        return match.group("group")
    return match.group(1) if regex.groups else match.group(0)  # type: ignore[union-attr]


def plan_import(root: Path, regex: re.Pattern[str] | None) -> dict[tuple[str, str | None], list[Path]]:
    """Files of ``root/<label>/*`` by (label, group), sorted; hidden files are left out.

    Raises:
        CameraError: ``root`` is not a folder or holds no label folder.
    """
    if not root.is_dir():
        raise CameraError(f"{root} is not a folder; --import wants DIR/<label>/<image files>")
    plan: dict[tuple[str, str | None], list[Path]] = {}
    labels = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not labels:
        raise CameraError(f"{root} has no label folders; --import wants DIR/<label>/<image files>")
    for label in labels:
        for path in sorted(p for p in label.iterdir() if p.is_file() and not p.name.startswith(".")):
            plan.setdefault((label.name, group_of(path.name, regex)), []).append(path)
    return plan


def import_folder(root: Path, data_dir: Path, extractor: Any, read_image: Callable[[Path], Any],
                  layout: tuple[str, int], regex: re.Pattern[str] | None = None,
                  show_progress: bool = True) -> ImportResult:
    """Extract landmarks from every image of ``root/<label>/`` into one recording per (label, group).

    Unreadable images and images without a face are skipped and listed in the result.
    """
    plan = plan_import(root, regex)
    result = ImportResult(Counter({label: 0 for label, _ in plan}), [], [], [])
    with tqdm(total=sum(map(len, plan.values())), unit="img", desc="import",
              disable=not show_progress, dynamic_ncols=True) as bar:
        for (label, group), files in plan.items():
            with SessionWriter(data_dir, label, layout, source=f"import:{root}", group=group,
                               chunk_samples=64, chunk_seconds=10.0,
                               backend=getattr(extractor, "backend", None)) as writer:
                for path in files:
                    _import_one(path, root, extractor, read_image, writer, result)
                    bar.update(1)
                    bar.set_postfix(kept=sum(result.imported.values()), no_face=len(result.no_face),
                                    unreadable=len(result.unreadable), refresh=False)
            if writer.written:
                result.paths.append(writer.path)
    return ImportResult(dict(result.imported), result.unreadable, result.no_face, result.paths)


def _import_one(path: Path, root: Path, extractor: Any, read_image: Callable[[Path], Any],
                writer: SessionWriter, result: ImportResult) -> None:
    try:
        image = read_image(path)
    except CameraError:
        image = None
    if image is None:
        log.warning("skipped %s: not a readable image", path)
        result.unreadable.append(path)
        return
    landmarks = extractor.extract(image)
    if landmarks is None:
        log.info("no face in %s", path)
        result.no_face.append(path)
        return
    writer.append(landmarks, float(writer.written + writer.pending), path.relative_to(root).as_posix())
    result.imported[path.parent.name] += 1


def import_summary(result: ImportResult) -> str:
    """A few lines for the user: imported per label, then what was skipped."""
    lines = [f"  {label}: {count} samples" for label, count in sorted(result.imported.items())]
    lines.append(f"  skipped: {len(result.unreadable)} unreadable, {len(result.no_face)} without a face")
    total = sum(result.imported.values())
    return "\n".join([f"imported {total} samples into {len(result.paths)} recording(s):", *lines])
