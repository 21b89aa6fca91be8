"""What the three command-line front ends share: common flags, logging, and the error wrapper."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from emusify import __version__
from emusify.config import Settings, load_settings
from emusify.errors import EmusifyError, ExitStatus

log = logging.getLogger("emusify")


class _Parser(argparse.ArgumentParser):
    """argparse that exits with ExitStatus.USAGE and a one-line hint."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitStatus.USAGE, f"error: {message} (see {self.prog} --help)\n")


def make_parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """A parser with the flags every script takes: --data, --model, -v/-q, --debug, --version."""
    parser = _Parser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = Settings()
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help=f"folder of recordings (default: {defaults.data}/)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        metavar="FILE.npz",
        help=f"model file; its JSON sidecar sits beside it (default: {defaults.model})",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "holistic", "tasks"),
        help=f"landmark backend: holistic (mediapipe 0.10.21, Python <= 3.12), tasks (MediaPipe Tasks "
             f"API, any mediapipe), auto = tasks (default: {defaults.backend})",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument(
        "-q", "--quiet", action="count", default=0, help="only warnings and errors (-qq: errors only)"
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    """Settings from the config file, overridden by the flags the user gave."""
    overrides = {"data": args.data, "model": args.model, "backend": getattr(args, "backend", None)}
    overrides.update(extra)
    return load_settings(overrides=overrides)


def setup_logging(verbose: int, quiet: int) -> None:
    """INFO by default; -v DEBUG, -q WARNING, -qq ERROR."""
    level = logging.INFO + 10 * (quiet - verbose)
    level = min(max(level, logging.DEBUG), logging.ERROR)
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    logging.getLogger().setLevel(level)
    # Third-party chatter (absl, matplotlib) stays quiet unless debugging.
    for name in ("absl", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def run_main(
    parser: argparse.ArgumentParser,
    command: Callable[[argparse.Namespace], int],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv``, run ``command`` and turn errors into one line and an exit status.

    Returns:
        The exit status: 0 ok, 1 error, 2 usage, 130 on Ctrl-C.
    """
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    try:
        return int(command(args))
    except EmusifyError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_status)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitStatus.INTERRUPTED)
