"""collect.py: record face landmarks per emotion into datasets/, or import a labelled image folder."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

from emusify.cli.common import make_parser, run_main, settings_from
from emusify.config import Settings, discover_emotions
from emusify.errors import ExitStatus, UsageError
from emusify.sensing.recorder import (
    BUILTIN_EMOTIONS,
    REFERENCE_NOTE,
    RecordResult,
    check_emotion,
    compile_group_regex,
    guided_order,
    import_folder,
    import_summary,
    known_emotions,
    record_session,
    recordable,
    walk_through,
)
from emusify.storage.dataset import SessionWriter, new_session_id

DESCRIPTION = """\
Record your face's landmarks (never images) while you show one emotion, one file per session
under DATA/<emotion>/. Without EMOTION, walks you through every emotion in turn: neutral first
(your relaxed face: train.py makes it the reference your other moods are read against), then the
folders of songs/, or {builtin} when songs/ has none. Press q or Esc in the preview to stop early;
Ctrl-C keeps what was recorded so far.""".format(builtin="/".join(BUILTIN_EMOTIONS))

EPILOG = """\
examples:
  python collect.py happy                    record 'happy' from the webcam
  python collect.py                          neutral, then every emotion in turn, Enter between them
  python collect.py neutral                  record your relaxed face again (then run train.py)
  python collect.py sad --source me.mp4      from a video file (played in real time, as a webcam)
  python collect.py --import faces/ --group-regex '^(S[0-9]+)_'
                                             import faces/<label>/*.png, subject id from the name
"""


class Devices(NamedTuple):
    """The device factories collect.py uses (tests replace them with fakes)."""

    open_source: Callable[[str], Any]  # spec -> FrameSource (context manager)
    extractor: Callable[..., Any]  # open_extractor(backend, ...) with the backend bound: (static=...)
    read_image: Callable[[Path], Any]
    preview: Callable[[], Any]  # -> PreviewWindow (context manager)
    layout: tuple[str, int]  # the current feature layout (name, length)


def devices(backend: str = "auto") -> Devices:
    """The real camera, MediaPipe (``backend``) and preview window (imported here so --help stays fast).

    A video file plays on in real time across the emotions of one run, as a webcam would.
    """
    from emusify.sensing.camera import PreviewWindow, open_source, read_image
    from emusify.sensing.features import LAYOUT
    from emusify.sensing.landmarks import open_extractor
    from emusify.sensing.playhead import Playhead

    return Devices(partial(open_source, playhead=Playhead()), partial(open_extractor, backend), read_image,
                   PreviewWindow, tuple(LAYOUT))


def build_parser() -> argparse.ArgumentParser:
    """collect.py's flags, each with its unit and default."""
    d = Settings()
    parser = make_parser("collect.py", DESCRIPTION, EPILOG)
    parser.add_argument("emotion", nargs="?", metavar="EMOTION",
                        help="the emotion to record: any mood the model reads (the starter's: angry, "
                             "disgust, fear, happy, neutral, sad, surprise) or a songs/ folder "
                             "(default: neutral, then every songs/ folder in turn)")
    parser.add_argument("--source", metavar="SPEC",
                        help=f"webcam index, video file or image folder (default: {d.source})")
    parser.add_argument("--seconds", type=float, metavar="SECONDS",
                        help=f"length of one recording in seconds of video (default: {d.record_seconds:g})")
    parser.add_argument("--samples", type=int, metavar="N",
                        help=f"stop after N samples with a face; 0: no limit (default: {d.record_samples})")
    parser.add_argument("--countdown", type=float, metavar="SECONDS",
                        help=f"get-ready time before a webcam recording starts (default: {d.countdown:g})")
    parser.add_argument("--rate", type=float, default=10.0, metavar="PER_SECOND",
                        help="frames analysed per second of video; 0: every frame (default: 10)")
    parser.add_argument("--pause", type=float, default=5.0, metavar="SECONDS",
                        help="wait between emotions when stdin is not a terminal; on a terminal "
                             "you press Enter instead (default: 5)")
    parser.add_argument("--group", metavar="NAME",
                        help="who/when id stored with the recordings (default: one id per run)")
    parser.add_argument("--no-preview", action="store_true",
                        help="no preview window; progress shows in the terminal only")
    parser.add_argument("--import", dest="import_dir", type=Path, metavar="DIR",
                        help="import a labelled image folder DIR/<label>/<images> instead of recording")
    parser.add_argument("--group-regex", metavar="REGEX",
                        help="with --import: subject id from each file name, the group named 'group' "
                             "or the first group (default: none, every image independent)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of collect.py and the emusify-collect command."""
    return run_main(build_parser(), command, argv)


def command(args: argparse.Namespace) -> int:
    """Record or import, as the flags say; returns the exit status."""
    _check_args(args)
    settings = settings_from(args, source=args.source, record_seconds=args.seconds,
                             record_samples=args.samples, countdown=args.countdown)
    if args.import_dir is not None:
        return _import(args, settings, devices(settings.backend))
    known = known_emotions(discover_emotions(settings.songs))
    if args.emotion:
        todo: tuple[str, ...] = (check_emotion(args.emotion, recordable(known, model_moods(settings))),)
    else:
        todo = guided_order(known)
    if not args.emotion:
        print(REFERENCE_NOTE, flush=True)
    results = _record_all(args, settings, devices(settings.backend), todo)
    for result in results:
        print(_result_line(result))
    if not any(result.kept for result in results):
        print("no face was found: check the light and face the camera", file=sys.stderr)
        return int(ExitStatus.ERROR)
    return int(ExitStatus.OK)


def model_moods(settings: Settings) -> tuple[str, ...]:
    """The moods the models read (the starter's and the user's own); () when neither loads."""
    from emusify.errors import ModelError
    from emusify.reading.model import Model

    moods: set[str] = set()
    for path in (settings.starter_model, settings.model):
        try:
            moods.update(Model.load(path).labels)
        except ModelError:
            continue
    return tuple(sorted(moods))


def _check_args(args: argparse.Namespace) -> None:
    if args.import_dir is not None and args.emotion:
        raise UsageError("give an EMOTION to record or --import DIR, not both")
    if args.group_regex is not None and args.import_dir is None:
        raise UsageError("--group-regex works with --import only")
    for name in ("rate", "pause"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name} must be 0 or more, got {getattr(args, name)}")


def _record_all(args: argparse.Namespace, settings: Settings, dev: Devices,
                todo: tuple[str, ...]) -> list[RecordResult]:
    group = args.group or f"run-{new_session_id()}"
    extractors: dict[bool, Any] = {}
    # A missing camera is the likelier problem and names --source: report it before the preview's.
    with dev.open_source(settings.source):
        pass
    with ExitStack() as stack:
        preview = None if args.no_preview else stack.enter_context(dev.preview())

        def record(emotion: str) -> RecordResult:
            with dev.open_source(settings.source) as source:
                static = not source.is_video
                if static not in extractors:
                    extractors[static] = stack.enter_context(dev.extractor(static=static))
                with SessionWriter(settings.data, emotion, dev.layout, settings.source, group,
                                   backend=getattr(extractors[static], "backend", None)) as writer:
                    return record_session(
                        source, extractors[static], writer, seconds=settings.record_seconds,
                        samples=settings.record_samples, countdown=settings.countdown, rate=args.rate,
                        preview=preview, show_progress=not args.quiet,
                    )

        return walk_through(todo, record, _waiter(args.pause, sys.stdin.isatty()))


def _waiter(pause: float, interactive: bool) -> Callable[[str], None]:
    """What happens between two emotions: Enter on a terminal, else a pause of ``pause`` seconds."""

    def wait(emotion: str) -> None:
        if interactive:
            input(f"next: {emotion}. Press Enter to start (Ctrl-C to stop) ")
        else:
            print(f"next: {emotion} in {pause:g} s", flush=True)
            time.sleep(pause)

    return wait


def _result_line(result: RecordResult) -> str:
    if result.path is None:
        return f"{result.emotion}: no face found in {result.no_face} frames; nothing saved"
    return (f"{result.emotion}: kept {result.kept} samples ({result.no_face} frames without a face) "
            f"-> {result.path}")


def _import(args: argparse.Namespace, settings: Settings, dev: Devices) -> int:
    regex = compile_group_regex(args.group_regex)
    with dev.extractor(static=True) as extractor:
        result = import_folder(args.import_dir, settings.data, extractor, dev.read_image, dev.layout,
                               regex, show_progress=not args.quiet)
    print(import_summary(result))
    return int(ExitStatus.OK if sum(result.imported.values()) else ExitStatus.ERROR)
