"""One player at a time: a lock file in the data folder that the operating system releases.

run.py holds ``<data>/emusify.lock`` while it plays, so a second run.py on the same data folder
(one camera, one music stream, one journal) stops with one line instead of fighting the first.
The lock is an OS lock on the open file (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows),
not the file's existence: the kernel drops it when the process ends however it ends (SIGKILL, a
crash, a power cut), so a file left behind never blocks the next start. The file only carries the
holder's pid, for the message.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import IO

from emusify.errors import InstanceError
from emusify.storage.private import FILE_MODE, make_dirs, narrow

LOCK_NAME = "emusify.lock"
# Windows locks byte ranges, and a locked range cannot be read by others: lock a byte far past the
# pid text so a second run can still read who holds it.
_WIN_OFFSET = 1 << 20


class InstanceLock:
    """Held from ``acquire()`` (or ``with``) until ``release()``; at most one holder per data folder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock and write our pid into the file.

        Raises:
            InstanceError: another process holds it (the message names its pid), or the data
                folder cannot hold a lock file.
        """
        try:
            make_dirs(self.path.parent)
            # kept open while held (release closes it); never truncated before we hold the lock.
            # Created 0600 like every file the player writes; one left by an older run is narrowed.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), FILE_MODE)
            handle = os.fdopen(fd, "r+", encoding="ascii")
            narrow(self.path)
        except OSError as exc:
            raise InstanceError(f"cannot create the lock file {self.path} ({exc.strerror}): "
                                "check that the data folder (--data) is writable") from None
        if not _try_lock(handle):
            handle.close()
            raise InstanceError(already_running(self.path, holder_pid(self.path)))
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let go of the lock (idempotent). The file stays: its presence means nothing."""
        if self._file is not None:
            _unlock(self._file)
            self._file.close()
            self._file = None


def holder_pid(path: Path) -> int | None:
    """The pid written in a lock file, or None when it cannot be read yet."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def already_running(path: Path, pid: int | None) -> str:
    """The one line a second run.py prints."""
    who = f"pid {pid}" if pid is not None else "pid unknown"
    stop = "end it in the Task Manager" if os.name == "nt" else f"kill {pid or 'PID'} for a clean stop"
    return (f"Emusify is already running ({who}, lock {path}); quit it first (q in its terminal, or "
            f"{stop}) or run this one with another --data folder")


def _try_lock(handle: IO[str]) -> bool:
    """Lock ``handle`` without waiting; False when another process holds it."""
    if os.name == "nt":
        import msvcrt

        handle.seek(_WIN_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: held elsewhere
        return False
    return True


def _unlock(handle: IO[str]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(_WIN_OFFSET)
        with suppress(OSError):  # closing the file releases it too
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
