"""run.py: the player. Watches you for a window every few minutes and plays music for your mood."""

from __future__ import annotations

import argparse
import logging
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

from emusify.cli.common import make_parser, run_main, settings_from
from emusify.cli.guided import add_setup_flags, announce, before_music
from emusify.cli.listening import add_loudness, resume_music
from emusify.cli.unattended import add_desk_flags, alone_and_logged, autostart, headless, on_sigterm
from emusify.config import Settings
from emusify.desk.core import Core
from emusify.desk.devices import Devices
from emusify.desk.events import close_frontends, start_frontends
from emusify.desk.frontends import make_frontends
from emusify.desk.report import feedback_summary
from emusify.errors import JournalError, LibraryError, ModelError
from emusify.music.policy import NEUTRAL, parse_policy

log = logging.getLogger(__name__)

DESCRIPTION = """\
Every few minutes, watch the camera for a short window, read the mood from face landmarks and
play a song from songs/<mood>/. The camera is off between windows; the music never stops.
Keys (terminal or preview window): n next song, space or p pause/resume, + and - the volume,
q quit, c a new calibration shot before the next window (s skips it while it runs).
A restart (logout, reboot, crash) resumes the song that played near where it stopped, at the
volume last set, and goes on with each folder's shuffle round (DATA/playstate.json).
On a first start at a terminal (no recordings of yours yet) it offers the guided set-up: about
15 s of each mood, your relaxed face first (s skips a mood, q ends it and keeps what was recorded);
your own model is then trained in the background while the starter plays (--setup asks again).
Otherwise, on the first start (no reference face stored in the data folder yet) it first asks for about
5 s of your relaxed face, the reference it reads your moods against (s skips it; --calibrate
takes it again). Only feature numbers are stored (DATA/reference.json), never an image.

Teach it your moods: the status line lists the moods it reads with a digit each (for the demo
songs: 1 angry  2 happy  3 neutral  4 sad). A digit says "my mood is this": the music moves at
once to the folder the policy plays for that mood (with --policy match, that mood's own folder;
with uplift, e.g. 4 sad plays happy), and the face landmarks of the last window (never an image)
are saved under the data folder as a recording of that mood, marked as a correction. y says
"right" and saves the last window under the mood it read. A few seconds after the last such key
the model is updated in the background from all your recordings (the starter fine-tuned on them,
as train.py --prior starter does) and saved to --model (the previous one kept as .bak); it is
used from the next window. n within 30 s of a song's start counts as a skip: songs you skip often
come later in the shuffle (never dropped), and two skips right after a mood change are journalled
as a doubted mood. --report also lists corrections and the most-skipped songs."""

EPILOG = """\
examples:
  python run.py                                  webcam 0, defaults from setup.cfg
  python run.py --source clip.mp4 --cycles 3     a video file stands in for the webcam
  python run.py --calibrate                      take the relaxed-face reference again first
  python run.py --setup                          record your moods (about 3 min), then play
  python run.py --policy uplift                  lift low moods (sad -> happy, angry -> neutral)
  python run.py --report --out moods.png         draw the mood journal and exit
  python run.py --autostart on                   start at login, headless, logging to <data>/emusify.log
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
    add_setup_flags(p)
    add_desk_flags(p)
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
        setup_seconds=args.setup_seconds,
    )
    if args.report:
        return report(settings, args.out)
    if args.autostart is not None:
        return autostart(args, settings)
    with alone_and_logged(settings, args.log):
        return play(settings, args)


def play(settings: Settings, args: argparse.Namespace) -> int:
    """Check the set-up, open the devices and run the player until it stops."""
    parse_policy(settings.policy)  # a bad policy is a usage error before anything starts
    from emusify.sensing.landmarks import resolve_backend

    resolve_backend(settings.backend)  # so is a backend this mediapipe lacks (LandmarkError, one line)
    from emusify.sensing.camera import open_source

    open_source(settings.source).close()  # CameraError names --source, before any music
    if args.preview:
        from emusify.sensing.camera import PreviewWindow

        PreviewWindow().close()  # no display: CameraError now rather than mid-window
    from emusify.reading.model import Model
    from emusify.reading.predictor import Predictor

    model = Model.load(choose_model(settings, explicit=args.model is not None))
    policy = parse_policy(settings.policy, settings.keep_on_neutral, settings.fallback, model.labels)
    library = open_library(settings.songs, settings.fallback)
    predictor = Predictor(model)  # every mood: one without songs keeps the music (issue 16)
    keys = moods_with_songs(model.labels, library.folders(), policy)
    with ExitStack() as stack:
        without = headless(args.headless)
        devices, terminal = open_devices(settings, stack, predictor, library, args.preview, not without)
        add_feedback(devices, settings)
        devices.calibration = reference_keeper(settings, model, predictor, args.calibrate)
        devices.passive = passive_reference(model)
        setup = before_music(settings, args.setup, without, devices, terminal, model.labels,
                             library.folders())
        if terminal is not None:
            terminal.reminder = setup.reminder
        core = Core(settings, devices, predictor.labels, policy, keys=keys)
        devices.player.on_error = core.song_failed  # a song failing inside a fade is skipped
        resume_music(core, settings, library)
        add_loudness(core, devices, settings)
        if terminal is not None:
            terminal.start(core)
        frontends = start_frontends(core, make_frontends(settings))
        announce(frontends, setup.announce)
        try:
            with _sigterm_stops(core):
                status = core.run()
        finally:
            close_frontends(frontends)
        if devices.learner is not None and status == 0:
            devices.learner.finish()  # corrections pressed just before quitting are learned too
        return status


def moods_with_songs(labels: Sequence[str], folders: Sequence[str], policy: Any) -> tuple[str, ...]:
    """The model's moods that lead to songs of their own, plus neutral: the moods a correction names.

    A mood leads to songs when its folder, or a folder the policy sends it to, has songs. The model
    reads all its moods (a face showing surprise is read as surprise, not pushed into angry); a
    window led by a mood without songs keeps the music (emusify.music.policy). A correction key
    moves the music, so only moods with songs (and neutral, "keep playing") get a digit.
    """
    have = set(folders)
    keep = tuple(m for m in labels if m == NEUTRAL or policy.has_songs(m, have))
    if len(keep) < 2:
        return tuple(labels)
    if len(keep) < len(labels):  # neutral keeps its key without songs: name only the moods that have them
        log.info("reading every mood the model knows; %s have songs (windows led by %s keep the music)",
                 ", ".join(m for m in keep if policy.has_songs(m, have)),
                 ", ".join(m for m in labels if m not in keep))
    return keep


def reference_keeper(settings: Settings, model: Any, predictor: Any, calibrate: bool) -> Any:
    """The reference face for a "reference" model (emusify.sensing.calibration decides which), else None."""
    from emusify.sensing.calibration import Calibration, model_reference
    from emusify.sensing.features import LAYOUT
    from emusify.sensing.shotcheck import SHOT_CHECK, load_relaxed_faces

    if model.calibration != "reference":
        if calibrate:
            log.warning("--calibrate: this model (calibration %s) does not read a reference face; "
                        "retrain it with train.py to use one", model.calibration)
        return None
    relaxed = load_relaxed_faces(settings.starter_model.with_name(SHOT_CHECK), LAYOUT.name)
    return Calibration(settings.reference_path, LAYOUT, predictor, own=model_reference(model),
                       force_shot=calibrate, relaxed=relaxed)


def passive_reference(model: Any) -> Any:
    """For a "reference" model: the reference made from the windows while none exists (the shot
    skipped or failed); until the first estimate, windows keep the music (docs/results/moods.md)."""
    from emusify.sensing.passive import PassiveReference

    return PassiveReference() if model.calibration == "reference" else None


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
    from emusify.music.library import Library, layout_hint

    library = Library(songs, fallback=fallback)  # raises LibraryError when nothing plays
    if not library.folders():
        raise LibraryError(f"no playable songs in {songs}/: {layout_hint(songs)}")
    return library


def open_devices(settings: Settings, stack: ExitStack, predictor, library, preview: bool,
                 terminal: bool = True) -> tuple[Devices, Any]:
    """Journal, player, landmark extractor and the terminal front-end (None when headless), each
    closed by ``stack``."""
    from functools import partial

    from emusify.desk.devices import SystemClock
    from emusify.desk.native import cap_malloc_arenas
    from emusify.desk.ui import Terminal, TerminalUI
    from emusify.music.player import Player
    from emusify.sensing.camera import PreviewWindow, open_source
    from emusify.sensing.features import face_vector
    from emusify.sensing.landmarks import open_extractor
    from emusify.sensing.playhead import Playhead
    from emusify.storage.journal import Journal

    cap_malloc_arenas()  # before the mixer's and MediaPipe's threads: flat memory over days
    journal = stack.enter_context(Journal(settings.journal_path, in_memory_when_refused=True))
    player = stack.enter_context(open_player(Player))
    static = Path(settings.source).is_dir()  # a folder of stills: no tracking between images
    extractor = stack.enter_context(open_extractor(settings.backend, static=static))
    warn_if_backends_differ(predictor.model, extractor.backend)
    ui = stack.enter_context(TerminalUI()) if terminal else None
    clock = SystemClock()
    devices = Devices(  # one playhead: a video plays on across windows, as a webcam would
        open_source=partial(open_source, playhead=Playhead(clock)),
        extractor=extractor, vectorize=face_vector, predictor=predictor,
        player=player, library=library, journal=journal, clock=clock,
        preview=PreviewWindow if preview else None,
    )
    return devices, (Terminal(ui, clock.now) if ui is not None else None)


def open_player(player_class: Any) -> Any:
    """The music player; without a sound device it is made anyway and the core retries it every
    minute (one line when the first song cannot play), so moods are read from the start."""
    return player_class(required=False)


def add_feedback(devices: Devices, settings: Settings) -> None:
    """Corrections, confirmations, background updates and skip-weighted shuffling for ``devices``."""
    from functools import partial

    from emusify.desk.devices import SystemClock
    from emusify.desk.feedback import Feedback
    from emusify.desk.worker import Worker
    from emusify.reading.learner import Learner, update_in_child
    from emusify.reading.predictor import Predictor
    from emusify.sensing.features import LAYOUT

    devices.clock = devices.clock or SystemClock()
    work = partial(update_in_child, settings.data, settings.starter_model, settings.model)
    devices.learner = Learner(work, devices.clock, start=Worker().start)  # one thread all day (desk/worker)
    devices.feedback = Feedback(settings.data, LAYOUT, settings.source, devices.learner,
                                getattr(devices.extractor, "backend", None))
    labels = devices.predictor.labels
    devices.make_predictor = lambda model: swap_predictor(devices, Predictor(model, labels=labels))
    devices.library.history = devices.journal.song_stats


def swap_predictor(devices: Devices, new: Any) -> Any:
    """``new`` (for an updated model) takes over the user's reference face, and the keeper of that
    reference (emusify.sensing.calibration) moves it on ``new`` from now on.

    Raises:
        ValueError: the reference does not fit the new model.
    """
    if new.model.calibration == "reference":
        new.reference = getattr(devices.predictor, "reference", None)
    if devices.calibration is not None:
        devices.calibration.predictor = new
    return new


def warn_if_backends_differ(model: Any, backend: str) -> bool:
    """Warn once when the model was trained on landmarks of the other backend; True when it did.

    Models made before the tasks backend existed carry no backend in their sidecar: Holistic made them.
    """
    made = model.meta.get("backend", "holistic")
    if made == backend or made not in ("holistic", "tasks"):
        return False
    # docs/results/backends.md: a model trained on Holistic landmarks lost up to 0.12 on Tasks ones
    fix = (f"run with --backend {made}" if made == "tasks" or _holistic_here()
           else "record and train here (collect.py, train.py)")
    log.warning("the model was trained on %s landmarks and this run reads %s ones, which cost up to 0.12 "
                "accuracy when measured (docs/results/backends.md); %s", made, backend, fix)
    return True


def _holistic_here() -> bool:
    from emusify.sensing.landmarks import holistic_importable

    return holistic_importable()


def report(settings: Settings, out: Path | None) -> int:
    """Draw the journal (mood over time, songs played) to a PNG and print where."""
    path = settings.journal_path
    if not path.is_file():
        raise JournalError(f"no journal at {path}: run run.py first, or pass --journal FILE")
    from emusify.desk.report import draw_report
    from emusify.storage.journal import Journal

    png = out if out is not None else path.with_name("mood_report.png")
    with Journal(path) as journal:
        draw_report(journal, png)
        print(feedback_summary(journal))
    print(png)
    return 0


def _sigterm_stops(core: Core) -> Any:
    """SIGTERM ends the loop cleanly (fade out, camera released, journal flushed, exit 0).

    The handler only sets the core's stop reason (no lock), so it never blocks.
    """
    return on_sigterm(lambda *_: core.request_stop("SIGTERM"))
