"""The mood journal: every window and every song event, in SQLite, committed as it happens.

Tables: ``windows`` (what each camera window saw and decided), ``songs`` (start, end, skip, next
and error events), ``reference_events`` (when the reference face was taken or changed) and
``feedback`` (the listener's corrections and confirmations of a window's mood, and moods doubted by
a burst of skips). A journal made before a table existed gains it when it is opened; its rows stay
as they were. The connection is in autocommit mode with a write-ahead log, so a crash or a power
cut loses nothing already written. :mod:`emusify.desk.report` draws it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any, NamedTuple

from emusify.errors import JournalError

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


class Journal:
    """Append-only mood history; a context manager with an idempotent close()."""

    def __init__(self, path: Path) -> None:
        """Open (or create, with its folders) the journal at ``path``.

        Raises:
            JournalError: the file cannot be created, written or is not a journal.
        """
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), isolation_level=None)  # autocommit: one row, one commit
            self._db = db
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            db.executescript(REFERENCE_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise JournalError(f"cannot open the journal {self.path} ({exc}); pass --journal FILE "
                               "with a writable path") from None

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

    def _write(self, sql: str, row: tuple) -> None:
        if self._db is None:
            raise JournalError(f"the journal {self.path} is closed")
        try:
            self._db.execute(sql, row)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path} ({exc}); check the disk, "
                               "or pass --journal FILE elsewhere") from None

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

    def _read(self, sql: str, since: float | None) -> list[tuple]:
        if self._db is None:
            raise JournalError(f"the journal {self.path} is closed")
        try:
            return self._db.execute(sql, (float("-inf") if since is None else since,)).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read the journal {self.path} ({exc}); pass --journal FILE") from None

    # Context manager ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database; safe to call twice."""
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _votes(text: str) -> dict[str, int]:
    try:
        votes = json.loads(text)
    except ValueError:
        log.warning("a journal row has unreadable votes: %r", text[:40])
        return {}
    return {str(k): int(v) for k, v in votes.items()} if isinstance(votes, dict) else {}
