"""The mood journal: rows committed as they happen, readable back, clear errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from emusify.errors import JournalError
from emusify.storage.journal import Journal, SongRow, WindowRow

ROOT = Path(__file__).resolve().parents[1]


def result(mood: str | None = "happy", share: float = 0.75) -> SimpleNamespace:
    """Anything with WindowResult's attributes is accepted."""
    return SimpleNamespace(frames=72, face_frames=60, votes={"happy": 30, "sad": 10}, mood=mood, share=share)


def song(name: str = "a.mp3", folder: str = "happy") -> SimpleNamespace:
    return SimpleNamespace(path=Path(f"/songs/{folder}/{name}"), title=name[:-4], artist="Band",
                           duration=60.0, folder=folder)


def test_rows_read_back_in_time_order(tmp_path):
    with Journal(tmp_path / "deep" / "er" / "journal.sqlite") as journal:
        journal.window(200.0, result(None, 0.4), "keep")
        journal.window(100.0, result(), "happy")
        journal.song(101.0, "start", song())
        journal.song(150.0, "skip", song())
        assert journal.windows() == [
            WindowRow(100.0, 72, 60, {"happy": 30, "sad": 10}, "happy", 0.75, "happy"),
            WindowRow(200.0, 72, 60, {"happy": 30, "sad": 10}, None, 0.4, "keep"),
        ]
        assert journal.songs() == [SongRow(101.0, "start", "/songs/happy/a.mp3", "a", "Band", "happy"),
                                   SongRow(150.0, "skip", "/songs/happy/a.mp3", "a", "Band", "happy")]
        assert [w.time for w in journal.windows(since=150.0)] == [200.0]


def test_rows_survive_a_crash(tmp_path):
    path = tmp_path / "journal.sqlite"
    script = (
        "import os, sys; from pathlib import Path; from types import SimpleNamespace as N\n"
        "from emusify.storage.journal import Journal\n"
        "j = Journal(Path(sys.argv[1]))\n"
        "j.window(1.0, N(frames=5, face_frames=4, votes={'sad': 4}, mood='sad', share=1.0), 'sad')\n"
        "j.song(2.0, 'start', N(path=Path('/s/x.ogg'), title='x', artist=None, folder='sad'))\n"
        "os._exit(9)  # no close, no commit at exit: a crash\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 9, done.stderr
    with sqlite3.connect(path) as other:  # a second, plain connection sees every row
        windows = other.execute("SELECT mood, votes, decision FROM windows").fetchall()
        songs = other.execute("SELECT event, path, artist FROM songs").fetchall()
    assert windows == [("sad", '{"sad": 4}', "sad")]
    assert songs == [("start", "/s/x.ogg", None)]


def test_each_row_is_visible_to_another_connection_at_once(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    journal.song(1.0, "error", song("bad.mp3"))
    other = sqlite3.connect(path)
    assert other.execute("SELECT event, title FROM songs").fetchall() == [("error", "bad")]
    other.close()
    journal.close()
    journal.close()  # idempotent


def test_reopening_appends(tmp_path):
    path = tmp_path / "journal.sqlite"
    for when in (1.0, 2.0):
        with Journal(path) as journal:
            journal.window(when, result(), "happy")
    with Journal(path) as journal:
        assert [w.time for w in journal.windows()] == [1.0, 2.0]


def test_an_unknown_song_event_is_refused(tmp_path):
    with Journal(tmp_path / "j.sqlite") as journal:
        with pytest.raises(ValueError, match="start, end, skip, next, error"):
            journal.song(1.0, "paused", song())
        assert journal.songs() == []


@pytest.mark.parametrize("make", ["under_a_file", "a_folder"])  # a damaged file: tests/test_faults.py
def test_an_unusable_path_is_a_journal_error_naming_the_flag(tmp_path, make):
    if make == "under_a_file":
        (tmp_path / "plain.txt").write_text("x")
        path = tmp_path / "plain.txt" / "journal.sqlite"
    else:
        path = tmp_path / "journal.sqlite"
        path.mkdir()
    with pytest.raises(JournalError) as caught:
        Journal(path)
    message = str(caught.value)
    assert "--journal" in message and str(path) in message and "\n" not in message


def test_feedback_rows_and_song_stats_read_back(tmp_path):
    from emusify.storage.journal import FeedbackRow, SongStats

    with Journal(tmp_path / "j.sqlite") as journal:
        journal.feedback(FeedbackRow(300.0, 100.0, "sad", "happy", "correction", 70))
        journal.feedback(FeedbackRow(400.0, 350.0, None, None, "doubted", 0))
        for t, event in ((1.0, "start"), (2.0, "skip"), (3.0, "start"), (40.0, "next"), (41.0, "start")):
            journal.song(t, event, song("a.mp3"))
        journal.song(50.0, "start", song("b.mp3"))
        assert [r.kind for r in journal.feedback_rows()] == ["correction", "doubted"]
        assert journal.feedback_rows()[0] == FeedbackRow(300.0, 100.0, "sad", "happy", "correction", 70)
        assert journal.song_stats() == {"/songs/happy/a.mp3": SongStats(3, 1),
                                        "/songs/happy/b.mp3": SongStats(1, 0)}
        with pytest.raises(ValueError, match="correction, confirmed, doubted"):
            journal.feedback(FeedbackRow(1.0, None, None, None, "liked", 0))


def test_a_journal_from_before_feedback_opens_keeps_its_rows_and_gains_the_table(tmp_path):
    path = old_journal(tmp_path, """
        INSERT INTO windows VALUES (5.0, 72, 60, '{"sad": 40}', 'sad', 0.8, 'sad');
        INSERT INTO songs VALUES (6.0, 'skip', '/s/x.ogg', 'x', NULL, 'sad');
    """)
    from emusify.storage.journal import FeedbackRow

    with Journal(path) as journal:
        assert [w.mood for w in journal.windows()] == ["sad"]
        assert journal.songs()[0].event == "skip"
        assert journal.feedback_rows() == []
        journal.feedback(FeedbackRow(7.0, 5.0, "sad", "happy", "correction", 60))
    with Journal(path) as again:
        assert [r.corrected for r in again.feedback_rows()] == ["happy"]
        assert len(again.windows()) == 1


def test_reference_events_are_journaled_and_an_older_journal_gains_the_table(tmp_path):
    path = old_journal(tmp_path, """
        INSERT INTO windows VALUES (1.0, 10, 9, '{"happy": 9}', 'happy', 1.0, 'happy');
    """)
    with Journal(path) as journal:
        assert journal.windows()[0].mood == "happy" and journal.references() == []
        journal.reference(5.0, "shot", "shot", 20, 0.0)
        journal.reference(9.0, "updated", "shot", 12, 0.03)
        with pytest.raises(ValueError, match="unknown reference event"):
            journal.reference(10.0, "guessed", None, 0)
    with Journal(path) as journal:
        events = journal.references()
    assert [(r.event, r.frames) for r in events] == [("shot", 20), ("updated", 12)]
    assert events[1].shift == pytest.approx(0.03) and journal.windows is not None


def old_journal(tmp_path: Path, rows: str) -> Path:
    """A journal as the first release wrote it (windows and songs only), holding ``rows``."""
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE windows (time REAL NOT NULL, frames INTEGER NOT NULL, face_frames INTEGER NOT NULL,
            votes TEXT NOT NULL, mood TEXT, share REAL NOT NULL, decision TEXT NOT NULL);
        CREATE TABLE songs (time REAL NOT NULL, event TEXT NOT NULL, path TEXT NOT NULL,
            title TEXT, artist TEXT, folder TEXT);
    """ + rows)
    db.commit()
    db.close()
    return path
