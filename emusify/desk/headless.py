"""Running without a terminal, and the log file run.py keeps whenever it plays.

run.py is headless when neither stdin nor stdout is a terminal (started at login, by a service
manager, or as ``setsid run.py </dev/null >out``) or with ``--headless``: then it draws no status
line and reads no keys, and only the front-ends (media keys, the desktop's now-playing widget,
notifications) and signals (SIGTERM or SIGINT: a clean stop) steer it.

The log file (``<data>/emusify.log``, or ``--log FILE``) is written in both modes: a player left
running for hours is looked at after the fact ("what did it read while I was out?"), and a terminal's
scroll-back is gone by then. It rotates at 1 MB with 3 old files kept (at most 4 MB), and is made
readable by its owner alone (0600): it says when you were sad.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from contextlib import contextmanager, suppress
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Any, Iterator

from emusify.errors import EmusifyError

log = logging.getLogger(__name__)

LOG_NAME = "emusify.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def is_headless(stdin: Any, stdout: Any) -> bool:
    """True when neither stream is a terminal (either may be None, as under pythonw)."""
    return not (_is_tty(stdin) or _is_tty(stdout))


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or not a real stream
        return False


def log_path(data: Path, override: Path | None = None) -> Path:
    """Where the log goes: ``--log FILE`` when given, else ``<data>/emusify.log``."""
    return Path(override) if override is not None else Path(data) / LOG_NAME


def private_folder(folder: Path, tighten: bool = False) -> None:
    """Make ``folder`` (and missing parents); on POSIX a folder made here is 0700.

    With ``tighten`` an existing folder of ours that others may enter becomes 0700 too (the data
    folder: the journal, the recordings and the log say how you felt). The home folder and the
    working folder are never changed: other programs may rely on theirs being open.
    """
    folder = Path(folder)
    if not folder.is_dir():
        with suppress(OSError):  # not allowed: whoever writes there next says so in one line
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return
    if not tighten or os.name == "nt":
        return
    here = {Path.home().resolve(), Path.cwd().resolve()}
    info = folder.stat()
    if folder.resolve() in here or info.st_uid != os.getuid() or not info.st_mode & 0o077:
        return
    try:
        folder.chmod(0o700)
    except OSError as exc:
        log.warning("could not make %s private (%s); your journal there may be readable by others",
                    folder, exc.strerror)
        return
    log.info("made %s private (0700): it holds your moods and face numbers", folder)


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose files are created (and kept) readable by their owner alone."""

    def _open(self) -> IO[str]:
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors,
                    opener=_owner_only)

    def handleError(self, record: logging.LogRecord) -> None:
        """A log file that cannot be written (a full disk) is said once on stderr, not per line."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handleError(record)
            return
        if not getattr(self, "_told", False):
            self._told = True
            sys.stderr.write(f"the log file {self.baseFilename} cannot be written ({exc.strerror}); "
                             "lines that do not fit are lost\n")


def _owner_only(path: str, flags: int) -> int:
    fd = os.open(path, flags, 0o600)
    if hasattr(os, "fchmod") and stat.S_IMODE(os.fstat(fd).st_mode) != 0o600:
        os.fchmod(fd, 0o600)  # a file made by an older run, or with another umask
    return fd


def open_log(path: Path) -> PrivateRotatingFileHandler:
    """The handler for ``path``, its folder made first (0700 when new).

    Raises:
        EmusifyError: the file cannot be created (one line naming it and --log).
    """
    path = Path(path)
    try:
        private_folder(path.parent)
        handler = PrivateRotatingFileHandler(path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS,
                                             encoding="utf-8")
    except OSError as exc:
        raise EmusifyError(f"cannot write the log file {path} ({exc.strerror}): "
                           "pass --log FILE with a writable place") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    return handler


@contextmanager
def log_file(path: Path) -> Iterator[Path]:
    """Log to ``path`` while the block runs, at INFO or finer whatever -q says for the console.

    An error that ends the block is written to the file too (a one-line message for an
    EmusifyError, the traceback for anything else): after a start at login nobody sees stderr.
    """
    handler = open_log(path)
    root = logging.getLogger()
    console_level = root.level
    file_level = min(console_level, logging.INFO)
    quieted = [h for h in root.handlers if h.level == logging.NOTSET]
    for other in quieted:
        other.setLevel(console_level)  # -q keeps the console quiet while the file hears INFO
    handler.setLevel(file_level)
    root.addHandler(handler)
    root.setLevel(file_level)
    try:
        yield Path(path)
    except EmusifyError as exc:
        handler.handle(_record(f"error: {exc}", None))
        raise
    except Exception as exc:
        handler.handle(_record("stopped by an unexpected error", (type(exc), exc, exc.__traceback__)))
        raise
    finally:
        root.removeHandler(handler)
        with suppress(OSError):  # a full disk: the lines not written are lost, the exit stands
            handler.close()
        root.setLevel(console_level)
        for other in quieted:
            other.setLevel(logging.NOTSET)


def _record(message: str, exc_info: Any) -> logging.LogRecord:
    return logging.LogRecord("emusify", logging.ERROR, __file__, 0, message, None, exc_info)
