"""Recording sessions written to disk: :class:`SessionWriter`, one append-only file per session.

Layout: ``<data>/<emotion>/<session_id>.emrec``; the file format is :mod:`emusify.storage.emrec`, reading
it back is :mod:`emusify.storage.sessions` (its names are re-exported here, so
``from emusify.storage.dataset import load_sessions`` keeps working).

Safety: the file is written under a hidden temporary name (``.<name>.part``) and renamed to its
final name once its first chunk is on disk, so no half-written header and no empty session ever
appears under a final name. Chunks are appended whole and fsynced; earlier bytes are never
rewritten. A crash or Ctrl-C loses at most the samples not yet flushed; a torn last chunk is
ignored on reading with one warning naming the file. Files are 0600 and the folders it creates
0700 (:mod:`emusify.storage.private`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from emusify import __version__
from emusify.errors import DatasetError
from emusify.storage.emrec import ARRAYS, DETECTORS, FORMAT, SUFFIX, encode_chunk, pack_record
from emusify.storage.private import make_dirs, open_new, sync_dir
from emusify.storage.sessions import Session as Session
from emusify.storage.sessions import Sessions as Sessions
from emusify.storage.sessions import backend_of_sessions as backend_of_sessions
from emusify.storage.sessions import load_sessions as load_sessions
from emusify.storage.sessions import read_session as read_session

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[^/\\.][^/\\]*$")


class SessionWriter:
    """Writes one recording session; a context manager. Buffers samples, appends them in chunks.

    Raises DatasetError (one line) when the folder cannot be written or the disk is full;
    everything already on disk stays readable.
    """

    def __init__(self, data_dir: Path, emotion: str, layout: tuple[str, int], source: str,
                 group: str | None = None, chunk_samples: int = 16, chunk_seconds: float = 2.0,
                 session_id: str | None = None, extra: dict[str, Any] | None = None,
                 backend: str | None = None) -> None:
        """Create the session file (hidden until its first chunk is on disk).

        ``extra``: more JSON header fields, e.g. run.py's ``feedback`` (a correction's kind, the
        mood the window read and the calibration offset the model saw). ``backend``: the landmark
        backend that made the samples ("holistic" or "tasks").
        """
        if not _SAFE_NAME.match(emotion):
            raise DatasetError(f"'{emotion}' cannot be a folder name; use letters, digits, - or _")
        self.session_id = session_id or new_session_id()
        self.folder = Path(data_dir) / emotion
        self.path = self.folder / f"{self.session_id}{SUFFIX}"
        self._part = self.folder / f".{self.path.name}.part"
        self.chunk_samples, self.chunk_seconds = max(1, chunk_samples), chunk_seconds
        self.written = 0  # samples safely on disk
        self._buffer: list[tuple[Any, float, str]] = []
        self._last_flush = time.monotonic()
        self._file: Any = None
        self._size = 0
        self._closed = False
        self.header = {
            "format": FORMAT, "emotion": emotion, "session_id": self.session_id, "group": group,
            "source": source, "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "layout": {"name": layout[0], "length": int(layout[1])}, "emusify_version": __version__,
            "detectors": list(DETECTORS), "arrays": sorted(ARRAYS),
            "backend": backend,  # the landmark backend that made the samples: "holistic" or "tasks"
            **(extra or {}),
        }
        self._guard(self._open, "create")

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Samples buffered, not yet on disk."""
        return len(self._buffer)

    def append(self, landmarks: Any, timestamp: float, name: str | None = None) -> None:
        """Buffer one sample; a chunk is written every ``chunk_samples`` or ``chunk_seconds``."""
        if self._closed:
            raise DatasetError(f"{self.path}: the session is closed")
        self._buffer.append((landmarks, float(timestamp), name or ""))
        due = time.monotonic() - self._last_flush >= self.chunk_seconds
        if len(self._buffer) >= self.chunk_samples or due:
            self.flush()

    def flush(self) -> None:
        """Append the buffered samples as one fsynced chunk."""
        if not self._buffer or self._file is None:
            return
        payload = encode_chunk(self._buffer)
        self._guard(lambda: self._write(b"C", payload), "write")
        if self.written == 0:
            self._guard(self._publish, "rename")
        self.written += len(self._buffer)
        self._buffer = []
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close (idempotent). A session with no sample leaves no file."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._buffer = []
            if self._file is not None:
                self._file.close()
                self._file = None
            if self.written == 0:
                self._part.unlink(missing_ok=True)

    def _open(self) -> None:
        make_dirs(self.folder)  # new folders 0700, the file 0600: recordings are the person's alone
        self._file = open_new(self._part)  # kept open across appends
        self._write(b"H", json.dumps(self.header).encode("utf-8"))

    def _write(self, kind: bytes, payload: bytes) -> None:
        frame = pack_record(kind, payload)
        try:
            self._file.write(frame)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            with contextlib.suppress(OSError):  # drop our own partial record, never earlier bytes
                self._file.truncate(self._size)
            raise
        self._size += len(frame)

    def _publish(self) -> None:
        if self.path.exists():
            raise FileExistsError(17, "a recording with this session id exists", str(self.path))
        os.rename(self._part, self.path)
        sync_dir(self.folder)

    def _guard(self, action: Any, what: str) -> None:
        """Run ``action``; an OSError closes the session and becomes a one-line DatasetError."""
        try:
            action()
        except OSError as exc:
            self._abort()
            reason = exc.strerror or str(exc)
            raise DatasetError(
                f"cannot {what} {self.path}: {reason}; free disk space or pick a writable folder with --data"
            ) from None

    def _abort(self) -> None:
        self._closed = True
        self._buffer = []
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.written == 0:
            with contextlib.suppress(OSError):
                self._part.unlink(missing_ok=True)


def new_session_id(when: float | None = None) -> str:
    """``YYYYmmdd-HHMMSS-xxxxxx``: sortable by time, unique by a random suffix."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return f"{stamp}-{secrets.token_hex(3)}"

