"""Private by default: what Emusify writes about a person is readable by that user only.

Files are created 0600 and the folders Emusify creates 0700 (on POSIX; elsewhere the modes are
left to the system). Every write site (recordings, corrections, the reference face, the journal,
models) goes through these helpers. Existing files and folders keep working: a file Emusify
rewrites or opens for writing is narrowed to 0600, a folder that already exists is left as it is
(it may be shared on purpose, e.g. a home folder).

Atomic writes: :func:`temp_beside` makes the temp file (0600, like ``tempfile.mkstemp``),
:func:`sync_file` puts it on disk before the rename, :func:`sync_dir` makes the rename durable.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700
POSIX = os.name == "posix"


def make_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents, each new one 0700; existing ones are left alone.

    Raises:
        OSError: a folder cannot be created.
    """
    folder = Path(folder)
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for new in reversed(missing):
        try:
            new.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not new.is_dir():
                raise
            continue
        _chmod(new, DIR_MODE)  # mkdir's mode passes through the umask


def open_new(path: Path) -> BinaryIO:
    """Create ``path`` (which must not exist) for binary writing, 0600.

    Raises:
        OSError: it exists, or the folder cannot be written.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)
    return os.fdopen(fd, "wb")


def touch(path: Path) -> None:
    """Make sure ``path`` exists as a 0600 file (an existing one is narrowed to 0600, kept as is)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), FILE_MODE)
    os.close(fd)
    narrow(path)


def narrow(path: Path) -> None:
    """Drop group and other permissions of an existing file (best effort: a file of another
    user or a read-only mount keeps its mode)."""
    if not POSIX:
        return
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)


def temp_beside(path: Path) -> Path:
    """An empty 0600 temp file next to ``path`` (a hidden name ending in ``.tmp``)."""
    fd, name = tempfile.mkstemp(prefix=f".{Path(path).name}", suffix=".tmp", dir=Path(path).parent)
    os.close(fd)
    _chmod(Path(name), FILE_MODE)
    return Path(name)


def sync_file(path: Path) -> None:
    """fsync a written file, so a rename after it never publishes a file that is not on disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(folder: Path) -> None:
    """fsync a folder so a rename in it survives a power cut (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its rename is durable enough
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a whole or not at all: 0600 temp file, fsync, rename, fsync folder.

    Raises:
        OSError: the folder cannot be written or the disk is full (the old file is left intact).
    """
    path = Path(path)
    make_dirs(path.parent)
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    sync_dir(path.parent)


def _chmod(path: Path, mode: int) -> None:
    if POSIX:
        with contextlib.suppress(OSError):
            os.chmod(path, mode)
