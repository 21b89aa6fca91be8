"""run.py: the player. Watches you for a window every few minutes and plays music for your mood."""

from __future__ import annotations

import argparse
import logging
import signal
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from emusify.cli.common import make_parser, run_main, settings_from
from emusify.config import Settings
from emusify.errors import JournalError, LibraryError, ModelError
from emusify.policy import NEUTRAL, parse_policy
from emusify.runner import Devices, Runner

log = logging.getLogger(__name__)

DESCRIPTION = """\
Every few minutes, watch the camera for a short window, read the mood from face landmarks and
play a song from songs/<mood>/. The camera is off between windows; the music never stops.
Keys (terminal or preview window): n next song, space or p pause/resume, q quit.
On the first start (no reference face stored in the data folder yet) it first asks for about
5 s of your relaxed face, the reference it reads your moods against (s skips it; --calibrate
takes it again). Only feature numbers are stored (DATA/reference.json), never an image."""

EPILOG = """\
examples:
  python run.py                                  webcam 0, defaults from setup.cfg
  python run.py --source clip.mp4 --cycles 3     a video file stands in for the webcam
  python run.py --calibrate                      take the relaxed-face reference again first
  python run.py --policy uplift                  lift low moods (sad -> happy, angry -> neutral)
  python run.py --report --out moods.png         draw the mood journal and exit
No sound card? Set SDL_AUDIODRIVER=dummy."""


def build_parser() -> argparse.ArgumentParser:
    """The run.py command line; every option shows its unit and default."""
    d = Settings()
    p = make_parser("run.py", DESCRIPTION, EPILOG)
    p.add_argument("--source", metavar="SPEC",
                   help=f"webcam index, video file or folder of images (default: {d.source})")
    p.add_argument("--window", type=float, metavar="SECONDS",
                   help=f"how long the camera watches per cycle (default: {d.window:g})")
    p.add_argument("--every", type=float, metavar="MINUTES",
                   help=f"from the end of one window to the start of the next (default: {d.every:g})")
    p.add_argument("--cycles", type=int, metavar="N",
                   help=f"stop after N windows, once the chosen song starts; 0 runs until stopped "
                        f"(default: {d.cycles})")
    p.add_argument("--songs", type=Path, metavar="DIR",
                   help=f"music folder with one sub-folder per emotion (default: {d.songs}/)")
    p.add_argument("--journal", type=Path, metavar="FILE",
                   help="mood journal, SQLite (default: <data>/journal.sqlite)")
    p.add_argument("--fps", type=float, metavar="N",
                   help=f"frames analysed per second of a window (default: {d.fps:g})")
    p.add_argument("--fade", type=float, metavar="SECONDS",
                   help=f"cross-fade when the mood changes the music (default: {d.fade:g})")
    p.add_argument("--policy", metavar="POLICY",
                   help=f"match, uplift, or a map such as 'sad=happy,angry=neutral' (default: {d.policy})")
    p.add_argument("--preview", action=argparse.BooleanOptionalAction, default=False,
                   help="show the camera with landmarks and probabilities during a window (default: off)")
    p.add_argument("--calibrate", action="store_true",
                   help=f"start with a new calibration shot: {d.calibrate_seconds:g} s of your relaxed "
                        "face (setting calibrate_seconds), stored as <data>/reference.json; without it "
                        "the shot is taken only when no reference is stored (default: off)")
    p.add_argument("--report", action="store_true", help="draw the mood journal as a PNG and exit")
    p.add_argument("--out", type=Path, metavar="PNG",
                   help="where --report writes (default: mood_report.png beside the journal)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of run.py and emusify-run."""
    return run_main(build_parser(), command, argv)


def command(args: argparse.Namespace) -> int:
    """Run the player, or draw the report with --report."""
    settings = settings_from(
        args, source=args.source, window=args.window, every=args.every, cycles=args.cycles,
        songs=args.songs, journal=args.journal, fps=args.fps, fade=args.fade, policy=args.policy,
    )
    if args.report:
        return report(settings, args.out)
    parse_policy(settings.policy)  # a bad policy is a usage error before anything starts
    from emusify.camera import open_source

    open_source(settings.source).close()  # CameraError names --source, before any music
    if args.preview:
        from emusify.camera import PreviewWindow

        PreviewWindow().close()  # no display: CameraError now rather than mid-window
    from emusify.model import Model, Predictor

    model = Model.load(choose_model(settings, explicit=args.model is not None))
    policy = parse_policy(settings.policy, settings.keep_on_neutral, settings.fallback, model.labels)
    library = open_library(settings.songs, settings.fallback)
    predictor = Predictor(model, labels=moods_to_read(model.labels, library.folders(), policy))
    with ExitStack() as stack:
        devices = open_devices(settings, stack, predictor, library, args.preview)
        devices.calibration = reference_keeper(settings, model, predictor, devices.journal, args.calibrate)
        runner = Runner(settings, devices, predictor.labels, policy)
        devices.player.on_error = runner.song_failed  # a song failing inside a fade is skipped
        with _sigterm_stops(runner):
            return runner.run()


def moods_to_read(labels: Sequence[str], folders: Sequence[str], policy: Any) -> tuple[str, ...]:
    """The model's moods that lead to songs of their own, plus neutral (it keeps the music going).

    A mood leads to songs when its folder, or a folder the policy sends it to, has songs. The
    starter knows seven moods; with the demo library's four folders, reading only those four
    measured 0.77 instead of 0.65 on unseen tcced people (benchmarks/accuracy.py), where
    "surprise" or "fear" would otherwise take votes and fall back to neutral music.
    """
    have = set(folders)
    keep = tuple(m for m in labels
                 if m == NEUTRAL or any(f in have for f in policy.targets.get(m, (m,))))
    if len(keep) < 2 or len(keep) == len(labels):
        return tuple(labels)
    log.info("reading the moods with songs: %s (the model also knows %s)", ", ".join(keep),
             ", ".join(m for m in labels if m not in keep))
    return keep


def reference_keeper(settings: Settings, model: Any, predictor: Any, journal: Any, calibrate: bool) -> Any:
    """The reference face for a "reference" model (emusify.calibration decides which); None otherwise."""
    from emusify.calibration import Calibration, model_reference
    from emusify.features import LAYOUT

    if model.calibration != "reference":
        if calibrate:
            log.warning("--calibrate: this model (calibration %s) does not read a reference face; "
                        "retrain it with train.py to use one", model.calibration)
        return None
    return Calibration(settings.reference_path, LAYOUT, predictor, journal, own=model_reference(model),
                       force_shot=calibrate)


def choose_model(settings: Settings, explicit: bool = False) -> Path:
    """The user's model when it exists, else the starter model.

    Raises:
        ModelError: neither exists.
    """
    if settings.model.is_file():
        log.info("model: your own, %s", settings.model)
        return settings.model
    if explicit:  # the user named a file: quietly playing with another model would mislead them
        raise ModelError(f"no model at {settings.model}: check --model, or train one with train.py")
    if settings.starter_model.is_file():
        log.info("model: the starter model %s (train your own: collect.py, then train.py)",
                 settings.starter_model)
        return settings.starter_model
    raise ModelError(
        f"no model: neither {settings.model} nor {settings.starter_model} exists; "
        "record faces with collect.py, then run train.py"
    )


def open_library(songs: Path, fallback: str = "neutral"):  # -> Library
    """The songs folder, scanned; LibraryError with the expected layout when it holds nothing."""
    from emusify.library import Library, layout_hint

    library = Library(songs, fallback=fallback)  # raises LibraryError when nothing plays
    if not library.folders():
        raise LibraryError(f"no playable songs in {songs}/: {layout_hint(songs)}")
    return library


def open_devices(settings: Settings, stack: ExitStack, predictor, library, preview: bool) -> Devices:
    """Journal, player, landmark extractor and terminal, each closed by ``stack``."""
    from emusify.camera import PreviewWindow, open_source
    from emusify.features import face_vector
    from emusify.journal import Journal
    from emusify.landmarks import LandmarkExtractor
    from emusify.player import Player
    from emusify.ui import TerminalUI

    journal = stack.enter_context(Journal(settings.journal_path))
    player = stack.enter_context(Player())
    static = Path(settings.source).is_dir()  # a folder of stills: no tracking between images
    extractor = stack.enter_context(LandmarkExtractor(static=static))
    ui = stack.enter_context(TerminalUI())
    return Devices(
        open_source=open_source, extractor=extractor, vectorize=face_vector, predictor=predictor,
        player=player, library=library, journal=journal, ui=ui,
        preview=PreviewWindow if preview else None,
    )


def report(settings: Settings, out: Path | None) -> int:
    """Draw the journal (mood over time, songs played) to a PNG and print where."""
    path = settings.journal_path
    if not path.is_file():
        raise JournalError(f"no journal at {path}: run run.py first, or pass --journal FILE")
    from emusify.journal import Journal
    from emusify.report import draw_report

    png = out if out is not None else path.with_name("mood_report.png")
    with Journal(path) as journal:
        draw_report(journal, png)
    print(png)
    return 0


@contextmanager
def _sigterm_stops(runner: Runner) -> Iterator[None]:
    """SIGTERM ends the loop cleanly (fade out, camera released, journal flushed, exit 0)."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: runner.request_stop("SIGTERM"))
    except ValueError:  # not the main thread (e.g. an embedding test): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
