"""run.py left running: --headless, --log, --autostart, and one player per data folder.

The pieces live in emusify.desk (headless, instance, autostart); this module is run.py's glue: the
flags, what ``--autostart`` prints, and the context a playing run.py holds (the lock, then the log).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from emusify.config import Settings
from emusify.desk import autostart as entries
from emusify.desk.headless import LOG_BACKUPS, LOG_BYTES, is_headless, log_file, log_path, private_folder
from emusify.desk.instance import InstanceLock

log = logging.getLogger(__name__)

# run.py flags that an autostarted player gets too when given with --autostart on (paths made absolute)
PASSED_ON = ("data", "model", "backend", "source", "window", "every", "songs", "journal", "fps", "fade",
             "policy", "log")
PATHS = ("data", "model", "songs", "journal", "log")


def add_desk_flags(parser: argparse.ArgumentParser) -> None:
    """--headless/--no-headless, --log FILE and --autostart on|off."""
    parser.add_argument(
        "--headless", action=argparse.BooleanOptionalAction, default=None,
        help="no status line and no keys: steered by the desktop's media controls and signals "
             "(SIGTERM or SIGINT stop it cleanly) (default: on when neither stdin nor stdout is a terminal)")
    parser.add_argument(
        "--log", type=Path, metavar="FILE",
        help=f"log file, written whenever it plays, terminal or not; rotated at {LOG_BYTES / 1e6:g} MB, "
             f"{LOG_BACKUPS} old files kept (default: <data>/emusify.log)")
    parser.add_argument(
        "--autostart", choices=("on", "off"), metavar="on|off",
        help="on: start this player at login (this folder, this Python, --headless, and the flags "
             "given with it); off: stop doing so. Prints the file it wrote or removed, then exits "
             "(default: leave it as it is)")


def headless(flag: bool | None) -> bool:
    """--headless / --no-headless, else whether run.py has a terminal; logs the mode when headless."""
    without = is_headless(sys.stdin, sys.stdout) if flag is None else flag
    if without:
        log.info("headless: no status line and no keys; the desktop's media controls steer it, "
                 "SIGTERM stops it (kill %d)", os.getpid())
    return without


@contextmanager
def alone_and_logged(settings: Settings, log_override: Path | None) -> Iterator[None]:
    """Hold the data folder's lock (InstanceError when another run.py has it), then log to the file.

    The lock comes first: a second run.py must not rotate or write the first one's log.
    """
    private_folder(settings.data, tighten=True)
    with InstanceLock(settings.data), log_file(log_path(settings.data, log_override)) as path:
        log.info("log file: %s", path)
        yield


def autostart(args: argparse.Namespace, settings: Settings) -> int:
    """--autostart on|off: write or remove the start-at-login file and say where."""
    platform, env, home = sys.platform, os.environ, Path.home()
    if args.autostart == "off":
        removed = entries.remove(platform, env, home)
        if removed is None:
            print(f"start at login was not set up (no {entries.entry_path(platform, env, home)}); "
                  "nothing removed")
        else:
            print(f"removed {removed}: Emusify no longer starts at login")
        return 0
    folder = Path.cwd()
    launch = entries.Launch(Path(sys.executable), run_script(), folder, ("--headless", *passed_on(args)))
    path = entries.install(platform, launch, env, home)
    print(f"wrote {path}: Emusify starts at login")
    print(f"  runs: {' '.join(launch.argv)}")
    print(f"  in:   {folder} (its setup.cfg, songs and data folder)")
    print(f"  log:  {(folder / log_path(settings.data, args.log)).resolve()}")
    print("  undo: run.py --autostart off")
    return 0


def run_script() -> Path:
    """The absolute path of the project's run.py (beside the emusify package), else of this script."""
    beside = Path(__file__).resolve().parents[2] / "run.py"
    return beside if beside.is_file() else Path(os.path.abspath(sys.argv[0]))


def passed_on(args: argparse.Namespace) -> tuple[str, ...]:
    """The player flags given with --autostart on, as arguments for the autostarted run.py."""
    out: list[str] = []
    for name in PASSED_ON:
        value = getattr(args, name, None)
        if value is None:
            continue
        text = str(Path(value).absolute()) if name in PATHS else str(value)
        out += [f"--{name}", text]
    if getattr(args, "preview", False):
        out.append("--preview")
    return tuple(out)


@contextmanager
def on_sigterm(handler: Callable[..., Any]) -> Iterator[None]:
    """``handler`` answers SIGTERM while the block runs (the one before it is put back after).

    Off the main thread (a test embedding run.py) signals cannot be set and are left alone.
    """
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
