"""The mood journal: every window and every song event, in SQLite, committed as it happens.

Tables: ``windows`` (what each camera window saw and decided), ``songs`` (start, end, skip, next and
error events), ``reference_events`` (when the reference face was taken or changed), ``desk_events``
(sleeps, clock jumps, the user away and back, the screen locked and unlocked, devices lost and back)
and ``feedback`` (the listener's corrections and confirmations of a window's mood, and moods doubted
by a burst of skips). A journal made before a table existed gains it when it is opened; its rows
stay as they were. The connection is in autocommit mode with a write-ahead log, so a crash or a
power cut loses nothing already written; a full or read-only disk never stops the player, and a
damaged file is moved aside and a new journal started (see :class:`Journal`).
:mod:`emusify.desk.report` draws it.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import time
from collections import deque
from pathlib import Path
from typing import Any, NamedTuple

from emusify.errors import JournalError
from emusify.storage import private

log = logging.getLogger(__name__)

EVENTS = ("start", "end", "skip", "next", "error")  # skip: n early in a song; next: n later
FEEDBACK = ("correction", "confirmed", "doubted")
SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    time REAL NOT NULL, frames INTEGER NOT NULL, face_frames INTEGER NOT NULL,
    votes TEXT NOT NULL, mood TEXT, share REAL NOT NULL, decision TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS songs (
    time REAL NOT NULL, event TEXT NOT NULL, path TEXT NOT NULL,
    title TEXT, artist TEXT, folder TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    time REAL NOT NULL, window_time REAL, read TEXT, corrected TEXT, kind TEXT NOT NULL,
    samples INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_time ON windows (time);
CREATE INDEX IF NOT EXISTS songs_time ON songs (time);
"""
# Added for the reference face (issue 9). CREATE IF NOT EXISTS: older journals gain the table on open
# and stay readable; an older version of Emusify ignores it.
REFERENCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_events (
    time REAL NOT NULL, event TEXT NOT NULL, source TEXT, frames INTEGER NOT NULL, shift REAL NOT NULL
);
"""
REFERENCE_EVENTS = ("shot", "updated", "kept", "skipped", "refused", "doubted")
# Added for a day at the desk (issue 15), the same way: what happened to the desk between and around
# windows. ``seconds``: the clock's jump (slept, clock_back), the time away (back), or the time without
# sound (audio_back); 0 otherwise. ``detail``: the device's one-line reason, when there is one.
# Issue 22 adds the screen's lock: locked, unlocked (``seconds``: the time it was locked).
DESK_SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_events (
    time REAL NOT NULL, event TEXT NOT NULL, seconds REAL NOT NULL, detail TEXT
);
"""
DESK_EVENTS = ("slept", "clock_back", "away", "back", "camera_unavailable", "audio_lost", "audio_back",
               "locked", "unlocked")
PENDING = 10_000  # rows kept in memory while the disk refuses them (a day of windows and songs, many times)
_SQLITE_CORRUPT, _SQLITE_NOTADB, _SQLITE_READONLY, _SQLITE_FULL, _SQLITE_CANTOPEN = 11, 26, 8, 13, 14


class _Damaged(Exception):
    """The file is not a readable SQLite database (garbage, truncated, malformed)."""


class WindowRow(NamedTuple):
    """One camera window as journaled."""

    time: float  # seconds since the epoch, when the window started
    frames: int
    face_frames: int
    votes: dict[str, int]
    mood: str | None  # None: unsure
    share: float
    decision: str  # the folder chosen, or "keep"


class SongRow(NamedTuple):
    """One song event as journaled."""

    time: float
    event: str  # start, end, skip or error
    path: str
    title: str | None
    artist: str | None
    folder: str | None


class FeedbackRow(NamedTuple):
    """The listener's word on a window's mood."""

    time: float  # when the key was pressed (or the doubt was noticed)
    window_time: float | None  # when the window it is about started
    read: str | None  # the mood the window read (None: unsure)
    corrected: str | None  # the mood the listener gave (correction, confirmed); None when doubted
    kind: str  # correction, confirmed or doubted
    samples: int  # face frames saved as a recording (0 when doubted)


class SongStats(NamedTuple):
    """How often a song started, and how often it was skipped early, over the whole journal."""

    plays: int
    skips: int


class ReferenceRow(NamedTuple):
    """A change of the reference face (or a shot that did not change it), as journaled."""

    time: float
    event: str  # shot (taken), updated (moved by confident-neutral frames), kept (a shot failed), skipped
    source: str | None  # the reference in use afterwards: shot, recordings, model; None: the model's mean
    frames: int  # face frames of the shot, or the neutral frames that moved it
    shift: float  # how far the reference moved (Euclidean, feature units); 0 for kept and skipped


class DeskRow(NamedTuple):
    """Something that happened to the desk: a sleep, a clock set back, the user away, a device lost."""

    time: float
    event: str  # one of DESK_EVENTS
    seconds: float  # the gap: the clock's jump, the time away, the time without sound; else 0
    detail: str | None  # the device's reason (camera_unavailable, audio_lost)


class Journal:
    """Append-only mood history; a context manager with an idempotent close().

    Writing never stops the player: a row the disk refuses (full, read-only) is kept in memory
    (up to :data:`PENDING` rows) and written with the next row that goes through, with one
    warning when the trouble starts and one line when it ends. A damaged file is moved aside as
    ``<name>.corrupt-<time>`` with one warning and a new journal is started. The file is 0600.
    """

    def __init__(self, path: Path, in_memory_when_refused: bool = False) -> None:
        """Open (or create, with its folders) the journal at ``path``.

        ``in_memory_when_refused`` (the player): when the disk refuses the file (read-only, full,
        no permission), keep this run's journal in memory with one warning instead of raising.

        Raises:
            JournalError: the file cannot be created or written (a damaged one is moved aside).
        """
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._pending: deque[tuple[str, tuple]] = deque()
        self._failing = False
        self.lost = 0  # rows dropped because the disk refused more than PENDING of them
        try:
            try:
                self._db = self._open()
            except _Damaged as damaged:
                aside = self._move_aside()
                log.warning("the journal %s is damaged (%s): moved aside as %s, a new one is started",
                            self.path, damaged, aside.name)
                self._db = self._open()
        except (OSError, sqlite3.Error, _Damaged) as exc:
            self.close()
            if not (in_memory_when_refused and _refused(exc)):
                raise JournalError(f"cannot open the journal {self.path} ({exc}); pass --journal FILE "
                                   "with a writable path") from None
            log.warning("cannot open the journal %s (%s); this run's moods are kept in memory only: free "
                        "disk space, or pass --journal FILE with a writable path", self.path, exc)
            self._db = sqlite3.connect(":memory:", isolation_level=None)
            self._db.executescript(SCHEMA + REFERENCE_SCHEMA + DESK_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        private.make_dirs(self.path.parent)
        private.touch(self.path)  # 0600 before SQLite opens it; its -wal and -shm files copy the mode
        db = sqlite3.connect(str(self.path), isolation_level=None)  # autocommit: one row, one commit
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            check = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                raise _Damaged(str(check))
            db.executescript(SCHEMA)
            db.executescript(REFERENCE_SCHEMA)
            db.executescript(DESK_SCHEMA)
        except sqlite3.DatabaseError as exc:
            db.close()
            code = getattr(exc, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
                raise _Damaged(str(exc)) from None
            raise
        except _Damaged:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        """Rename the damaged file (and its write-ahead log) to ``<name>.corrupt-<time>``."""
        stamp = f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        aside, n = self.path.with_name(stamp), 1
        while aside.exists():  # never over an earlier damaged file
            aside, n = self.path.with_name(f"{stamp}-{n}"), n + 1
        os.replace(self.path, aside)
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists():
            os.replace(wal, aside.with_name(aside.name + "-wal"))
        self.path.with_name(self.path.name + "-shm").unlink(missing_ok=True)
        return aside

    # Writing ------------------------------------------------------------------------------------

    def window(self, when: float, result: Any, decision: str) -> None:
        """Journal one window; ``result`` has frames, face_frames, votes, mood and share."""
        votes = json.dumps({str(k): int(v) for k, v in dict(result.votes).items()}, sort_keys=True)
        self._write("INSERT INTO windows VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (float(when), int(result.frames), int(result.face_frames), votes,
                     result.mood, float(result.share), str(decision)))

    def song(self, when: float, event: str, song: Any) -> None:
        """Journal a song event: start, end, skip or error."""
        if event not in EVENTS:
            raise ValueError(f"unknown song event {event!r}; expected one of {', '.join(EVENTS)}")
        self._write("INSERT INTO songs VALUES (?, ?, ?, ?, ?, ?)",
                    (float(when), event, str(song.path), getattr(song, "title", None),
                     getattr(song, "artist", None), getattr(song, "folder", None)))

    def feedback(self, row: FeedbackRow) -> None:
        """Journal a correction, a confirmation or a doubted mood."""
        if row.kind not in FEEDBACK:
            raise ValueError(f"unknown feedback {row.kind!r}; expected one of {', '.join(FEEDBACK)}")
        self._write("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?)",
                    (float(row.time), None if row.window_time is None else float(row.window_time),
                     row.read, row.corrected, row.kind, int(row.samples)))

    def reference(self, when: float, event: str, source: str | None, frames: int, shift: float = 0.0) -> None:
        """Journal a change of the reference face: shot, updated, kept (a failed shot) or skipped."""
        if event not in REFERENCE_EVENTS:
            raise ValueError(f"unknown reference event {event!r}; "
                             f"expected one of {', '.join(REFERENCE_EVENTS)}")
        self._write("INSERT INTO reference_events VALUES (?, ?, ?, ?, ?)",
                    (float(when), event, source, int(frames), float(shift)))

    def desk(self, when: float, event: str, seconds: float = 0.0, detail: str | None = None) -> None:
        """Journal a desk event (DESK_EVENTS): a sleep, a clock set back, away and back, a device lost."""
        if event not in DESK_EVENTS:
            raise ValueError(f"unknown desk event {event!r}; expected one of {', '.join(DESK_EVENTS)}")
        self._write("INSERT INTO desk_events VALUES (?, ?, ?, ?)",
                    (float(when), event, float(seconds), detail))

    def _write(self, sql: str, row: tuple) -> None:
        """Queue ``row`` and write every queued row it can; a refusal is logged once, never raised."""
        if self._db is None:
            raise JournalError(f"the journal {self.path} is closed")
        if len(self._pending) >= PENDING:
            self._pending.popleft()
            self.lost += 1
        self._pending.append((sql, row))
        while self._pending:
            try:
                self._db.execute(*self._pending[0])
            except sqlite3.Error as exc:
                if not self._failing:
                    log.warning("cannot write the journal %s (%s); its rows wait in memory until it can "
                                "be written: free disk space or check the folder", self.path, exc)
                self._failing = True
                return
            self._pending.popleft()
        if self._failing:
            self._failing = False
            log.info("the journal %s is written again (%d row(s) lost)", self.path, self.lost)

    @property
    def unwritten(self) -> int:
        """Rows waiting in memory because the disk refused them."""
        return len(self._pending)

    # Reading ------------------------------------------------------------------------------------

    def windows(self, since: float | None = None) -> list[WindowRow]:
        """Windows in time order (from ``since`` on, when given)."""
        rows = self._read("SELECT * FROM windows WHERE time >= ? ORDER BY time, rowid", since)
        return [WindowRow(t, f, ff, _votes(v), m, s, d) for t, f, ff, v, m, s, d in rows]

    def songs(self, since: float | None = None) -> list[SongRow]:
        """Song events in time order (from ``since`` on, when given)."""
        rows = self._read("SELECT * FROM songs WHERE time >= ? ORDER BY time, rowid", since)
        return [SongRow(*row) for row in rows]

    def feedback_rows(self, since: float | None = None) -> list[FeedbackRow]:
        """Corrections, confirmations and doubts in time order (from ``since`` on, when given)."""
        rows = self._read("SELECT * FROM feedback WHERE time >= ? ORDER BY time, rowid", since)
        return [FeedbackRow(*row) for row in rows]

    def song_stats(self) -> dict[str, SongStats]:
        """Plays (starts) and early skips per song path, over the whole journal."""
        rows = self._read("SELECT path, SUM(event = 'start'), SUM(event = 'skip') FROM songs "
                          "WHERE time >= ? GROUP BY path", None)
        return {path: SongStats(int(plays or 0), int(skips or 0)) for path, plays, skips in rows}

    def references(self, since: float | None = None) -> list[ReferenceRow]:
        """Reference events in time order (from ``since`` on, when given)."""
        rows = self._read("SELECT * FROM reference_events WHERE time >= ? ORDER BY time, rowid", since)
        return [ReferenceRow(*row) for row in rows]

    def desk_rows(self, since: float | None = None) -> list[DeskRow]:
        """Desk events in time order (from ``since`` on, when given)."""
        rows = self._read("SELECT * FROM desk_events WHERE time >= ? ORDER BY time, rowid", since)
        return [DeskRow(*row) for row in rows]

    def _read(self, sql: str, since: float | None) -> list[tuple]:
        if self._db is None:
            raise JournalError(f"the journal {self.path} is closed")
        try:
            return self._db.execute(sql, (float("-inf") if since is None else since,)).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path} ({exc}); pass --journal FILE") from None

    # Context manager ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database (one last try at rows waiting in memory); safe to call twice."""
        db, self._db = self._db, None
        if db is None:
            return
        for sql, row in list(self._pending):
            try:
                db.execute(sql, row)
            except sqlite3.Error:
                break
            self._pending.popleft()
        if self._pending:
            log.warning("%d journal row(s) could not be written to %s", len(self._pending), self.path)
        db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refused(exc: BaseException) -> bool:
    """The disk refused the journal (read-only, full, no permission), as opposed to a wrong path."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT)
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (_SQLITE_READONLY, _SQLITE_FULL, _SQLITE_CANTOPEN)


def _votes(text: str) -> dict[str, int]:
    try:
        votes = json.loads(text)
    except ValueError:
        log.warning("a journal row has unreadable votes: %r", text[:40])
        return {}
    return {str(k): int(v) for k, v in votes.items()} if isinstance(votes, dict) else {}
