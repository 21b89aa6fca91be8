"""run.py's guided set-up: the flags, the offer at a first start, the recording, the shot, the training.

The flow itself is :mod:`emusify.desk.setup`; this module is run.py's glue: it decides whether to ask,
draws on the terminal run.py already holds, records through collect.py's recorder from the source
run.py opened, makes the relaxed face the calibration shot, and pokes the learner so the personal
model is trained in the background (a child process) while the starter plays. Three seams keep the
devices apart: :func:`open_setup_source` (the camera), :func:`recorder` (one mood into a recording)
and the learner's ``work`` (emusify.reading.learner.update_in_child).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from typing import Any, Callable, NamedTuple, Sequence, TextIO

from emusify.cli.unattended import on_sigterm
from emusify.config import Settings
from emusify.desk import setup as flow
from emusify.desk.statustext import clip
from emusify.errors import CameraError

log = logging.getLogger(__name__)

DRAW_EVERY = 0.2  # seconds between two redraws of the same step
HEADLESS_HINT = ("no personal recordings yet: Emusify reads you far better after a 3-minute set-up; "
                 "run `python run.py --setup` in a terminal to record your moods")


def add_setup_flags(parser: argparse.ArgumentParser) -> None:
    """--setup and --setup-seconds."""
    d = Settings()
    parser.add_argument(
        "--setup", action="store_true",
        help="record your moods before the music starts: your relaxed face (also the calibration "
             "shot), then each mood with songs, then the others; then your own model is trained in the "
             "background. Asked by itself on a first start at a terminal (default: off)")
    parser.add_argument(
        "--setup-seconds", type=float, metavar="SECONDS",
        help=f"recording per mood in the set-up, after a {d.countdown:g} s countdown (setting countdown) "
             f"(default: {d.setup_seconds:g})")


class Outcome(NamedTuple):
    """What run.py does after :func:`before_music`."""

    reminder: Callable[[], str]  # the status line's standing text until the model is updated
    announce: str  # a notification to post once the front-ends run ("" for none)


def before_music(settings: Settings, forced: bool, headless: bool, devices: Any, terminal: Any,
                 labels: Sequence[str], folders: Sequence[str]) -> Outcome:
    """Offer and run the set-up when it is due (see :func:`emusify.desk.setup.decide`)."""
    personal = settings.model.is_file() or flow.has_recordings(settings.data)
    interactive = can_ask(terminal)
    what = flow.decide(forced, interactive, headless, settings.cycles, personal)
    if what == "none":
        return Outcome(lambda: "", "")
    if what == "headless" or (forced and not interactive):
        log.warning("%s", HEADLESS_HINT if not forced else
                    "--setup needs a terminal (keys and a screen): run `python run.py --setup` in one")
        return Outcome(lambda: flow.REMIND, HEADLESS_HINT if headless else "")
    if what == "remind":  # a scripted run (--cycles, no keys): the log says so, the status line as before
        log.info("%s", HEADLESS_HINT)
        return Outcome(lambda: "", "")
    untrained = Outcome((lambda: "") if personal else (lambda: flow.REMIND), "")  # --setup, then nothing
    screen = TerminalScreen(terminal.ui)
    result = ask_and_record(settings, devices, screen, flow.plan(labels, folders), folders)
    if result is None or not result.recorded:
        return untrained
    use_as_shot(devices, result)
    devices.learner.poke(delay=0.0)  # trains at once, in a child process, while the music plays
    learner = devices.learner
    return Outcome(lambda: flow.FAILED if learner.failures else flow.LEARNING, "")


def ask_and_record(settings: Settings, devices: Any, screen: TerminalScreen, moods: Sequence[str],
                   folders: Sequence[str]) -> flow.SetupResult | None:
    """The offer, then the set-up; None when declined or the camera cannot be opened.

    SDL (the music player, already open) swallows SIGTERM until the core's own handler is in place:
    here it ends run.py at once, keeping what was recorded (a logout during the set-up).
    """
    try:
        with _sigterm_exits():
            if not flow.offer(screen, moods, settings.setup_seconds, settings.countdown, time.sleep):
                log.info("set-up declined: the starter model plays; run.py --setup records your moods")
                return None
            result = record_moods(settings, devices, moods, folders, screen)
    except CameraError as exc:  # the camera run.py checked at the start cannot be opened now
        log.warning("no set-up: %s; run.py --setup tries again", exc)
        return None
    finally:
        screen.close()
    log.info("%s", result.summary())
    print(result.summary(), flush=True)
    return result


def _sigterm_exits() -> Any:
    """SIGTERM raises SystemExit(0) while the block runs (files close on the way out)."""
    def stop(*_: Any) -> None:
        raise SystemExit(0)

    return on_sigterm(stop)


def can_ask(terminal: Any) -> bool:
    """Whether someone can be asked: keys are read (stdin) and the set-up page can be drawn (stdout)."""
    ui = getattr(terminal, "ui", None)
    return bool(getattr(ui, "reads_keys", False)) and bool(getattr(getattr(ui, "line", None), "tty", False))


def record_moods(settings: Settings, devices: Any, moods: Sequence[str], folders: Sequence[str],
                 screen: Any) -> flow.SetupResult:
    """Every mood of ``moods`` from one opened source (the camera stays on for the whole set-up)."""
    from emusify.sensing.features import LAYOUT
    from emusify.storage.dataset import new_session_id

    window = devices.preview() if devices.preview is not None else None
    try:
        with open_setup_source(devices.open_source, settings.source) as source:
            live = flow.LiveSource(source)
            record = recorder(settings, live, devices.extractor, tuple(LAYOUT), f"setup-{new_session_id()}")
            return flow.run_setup(moods, folders, record, screen, window=window, ended=lambda: live.ended)
    finally:
        if window is not None:
            window.close()


def open_setup_source(open_source: Callable[[str], Any], spec: str) -> Any:
    """The camera for the whole set-up. A seam: a video standing in for the webcam plays on in time."""
    return open_source(spec)


def recorder(settings: Settings, source: Any, extractor: Any, layout: tuple[str, int],
             group: str) -> Callable[[str, flow.Step], Any]:
    """``record(mood, step)``: one mood from ``source`` into a new recording, through collect.py's
    recorder (it takes every mood the model knows: the set-up records moods without songs too)."""
    from emusify.sensing.recorder import record_session
    from emusify.storage.dataset import SessionWriter

    def record(mood: str, step: flow.Step) -> Any:
        with SessionWriter(settings.data, mood, layout, settings.source, group,
                           backend=getattr(extractor, "backend", None)) as writer:
            return record_session(source, extractor, writer, seconds=settings.setup_seconds,
                                  countdown=settings.countdown, rate=flow.RATE, preview=step,
                                  show_progress=False)

    return record


def use_as_shot(devices: Any, result: flow.SetupResult) -> bool:
    """The relaxed face recorded first becomes the calibration shot (saved as the reference);
    True when it did. One that does not look relaxed is not used: the shot comes before the first window."""
    calibration = devices.calibration
    if calibration is None:
        return False
    from emusify.sensing.calibration import SHOT_MIN_FRAMES, ShotResult
    from emusify.sensing.features import face_vector
    from emusify.sensing.shotcheck import check_shot
    from emusify.storage.sessions import read_session

    vectors = flow.reference_vectors(result, lambda path: read_session(path).vectors(face_vector))
    if vectors is None or len(vectors) < SHOT_MIN_FRAMES:
        return False
    backend = getattr(devices.extractor, "backend", None)
    check = check_shot(vectors, calibration.relaxed, backend)
    if not check.ok:
        log.warning("the set-up's relaxed face was not used as the reference (%s); a calibration shot "
                    "comes before the first window", check.message)
        return False
    calibration.use_shot(ShotResult(vectors, len(vectors), False, backend), time.time())
    return calibration.reference is not None


def announce(frontends: Sequence[Any], text: str) -> None:
    """Post ``text`` once through the front-ends that can (the notifications)."""
    for frontend in frontends if text else ():
        post = getattr(frontend, "announce", None)
        if post is not None:
            post(text)


class TerminalScreen:
    """The set-up's page on the terminal run.py holds: redrawn in place, keys from its key reader."""

    def __init__(self, ui: Any, stream: TextIO | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.ui, self.now = ui, now
        self.stream = stream if stream is not None else sys.stdout
        self._last: tuple[str, ...] = ()
        self._drawn = float("-inf")

    def show(self, lines: Sequence[str]) -> None:
        """Draw ``lines`` over the whole screen when they changed (a step's first two at once)."""
        lines = tuple(lines)
        if lines == self._last:
            return
        if lines[:2] == self._last[:2] and self.now() - self._drawn < DRAW_EVERY:
            return
        width = _columns(self.stream) - 1
        try:
            self.stream.write("\x1b[H\x1b[J" + "\n".join(clip(line, width) for line in lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            return
        self._last, self._drawn = lines, self.now()

    def pressed(self) -> list[str]:
        return list(self.ui.pressed())

    def close(self) -> None:
        """Leave the page on the screen and start the status line below it."""
        self._last = ()


def _columns(stream: Any) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns
