"""The journal is a listener: each event of the core becomes its row, and no other part writes one."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

from emusify.config import Settings
from emusify.desk.devices import Devices
from emusify.desk.events import Listener
from emusify.desk.journaling import JournalWriter
from emusify.storage.journal import FeedbackRow, Journal
from tests.fakes import (
    FakeClock,
    FakeExtractor,
    FakeJournal,
    FakeLibrary,
    FakePlayer,
    FakePredictor,
    FakeSources,
    fake_vectorize,
    frames,
    make_core,
)

DESK = Path(__file__).resolve().parents[1] / "emusify" / "desk"
WRITES = {"window", "song", "feedback", "reference", "desk"}  # the Journal's writing methods
SONG = SimpleNamespace(title="Song", artist="Someone", folder="happy", path=Path("happy/song.mp3"))


def test_each_event_becomes_its_journal_row():
    journal = FakeJournal()
    writer = JournalWriter(journal)
    result = SimpleNamespace(mood="sad")
    told = [
        ("window_read", dict(when=1.0, result=result, decision="sad")),
        ("song_started", dict(when=2.0, song=SONG)),
        ("song_ended", dict(when=3.0, song=SONG, how="skip")),
        ("song_failed", dict(when=4.0, song=SONG, reason="not an MP3")),
        ("correction_saved", dict(when=5.0, mood="happy", kind="correction", read="sad", message="saved",
                                  window=1.0, frames=30)),
        ("correction_saved", dict(when=6.0, mood="happy", kind="correction", read="sad",
                                  message="no face: nothing saved", window=1.0, frames=0)),
        ("mood_doubted", dict(when=7.0, window=1.0, mood="sad")),
        ("reference_changed", dict(when=8.0, event="refused", source="shot", frames=20)),
        ("reference_changed", dict(when=9.0, event="shot", source="shot", frames=20, shift=0.5)),
        ("away", dict(when=10.0, since=9.5)),
        ("back", dict(when=70.0, away_seconds=60.5)),
        ("clock_jumped", dict(when=80.0, kind="slept", seconds=3600.0)),
        ("camera_unavailable", dict(when=90.0, detail="busy")),
        ("audio_lost", dict(when=91.0, detail="no device")),
        ("audio_back", dict(when=151.0, seconds=60.0)),
        ("paused", dict(when=152.0)),  # not a row
        ("note", dict(when=153.0, text="hello")),  # not a row
    ]
    for event, values in told:
        writer.on_event(event, **values)
    assert journal.windows == [(1.0, result, "sad")]
    assert journal.songs == [(2.0, "start", SONG), (3.0, "skip", SONG), (4.0, "error", SONG)]
    assert journal.feedback_rows == [FeedbackRow(5.0, 1.0, "sad", "happy", "correction", 30),
                                     FeedbackRow(7.0, 1.0, "sad", None, "doubted", 0)]
    assert journal.references == [(8.0, "refused", "shot", 20, 0.0), (9.0, "shot", "shot", 20, 0.5)]
    assert journal.desk_rows == [(10.0, "away", 0.0, None), (70.0, "back", 60.5, None),
                                 (80.0, "slept", 3600.0, None), (90.0, "camera_unavailable", 0.0, "busy"),
                                 (91.0, "audio_lost", 0.0, "no device"), (151.0, "audio_back", 60.0, None)]


def test_no_part_of_the_desk_app_writes_the_journal_but_its_listener():
    """Every row comes from an event the front-ends hear too (issue 14): a call such as
    ``self.journal.window(...)`` or ``dev.journal.desk(...)`` anywhere else would bypass them."""
    offenders = []
    for path in sorted(DESK.glob("*.py")):
        if path.name == "journaling.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if (call and node.func.attr in WRITES and isinstance(node.func.value, ast.Attribute)
                    and node.func.value.attr == "journal"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


class SeesTheJournal(Listener):
    """A front-end that reads the journal when it hears a window (as a report or a notification might)."""

    def __init__(self, journal: Journal) -> None:
        self.journal, self.rows_when_told = journal, []

    def window_read(self, when, result, decision):
        self.rows_when_told.append(len(self.journal.windows()))


def test_a_core_run_journals_through_its_listener_before_the_front_ends_hear(tmp_path):
    clock = FakeClock()
    settings = Settings(source="0", window=5, fps=4, every=1, cycles=2, min_face_frames=4, fade=2)
    with Journal(tmp_path / "journal.sqlite") as journal:
        devices = Devices(open_source=FakeSources(clock, [frames(("happy", 200))] * 2, source_fps=20),
                          extractor=FakeExtractor(), vectorize=fake_vectorize, predictor=FakePredictor(),
                          player=FakePlayer(), library=FakeLibrary({"happy": 3, "sad": 3}), journal=journal,
                          clock=clock)
        core = make_core(settings, devices)
        front = SeesTheJournal(journal)
        core.add_listener(front)
        assert core.run() == 0
        assert front.rows_when_told == [1, 2]  # its window's row was already there
        assert [row.decision for row in journal.windows()] == ["happy", "keep"]
        assert [row.event for row in journal.songs()] == ["start", "end"]
