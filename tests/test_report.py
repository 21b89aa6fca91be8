"""run.py --report: the journal drawn as a PNG; an empty journal is a clear error."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from emusify.desk.report import _spans, draw_report
from emusify.errors import JournalError
from emusify.storage.journal import Journal

# matplotlib 3.9 with a newer pyparsing warns about its own calls; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated - use:DeprecationWarning")


def fill(journal: Journal) -> None:
    t = 1_763_800_000.0
    moods = ["happy", "happy", None, "sad", "angry", "fear", "neutral", "happy"]
    for i, mood in enumerate(moods):
        when = t + i * 318
        votes = {"happy": 3 + i, "sad": 9 - i, "angry": i % 3, "neutral": 2}
        journal.window(when, SimpleNamespace(frames=72, face_frames=60, votes=votes, mood=mood, share=0.6),
                       mood or "keep")
        if mood:
            folder = "neutral" if mood == "fear" else mood
            played = SimpleNamespace(path=Path(f"/s/{folder}/{i}.ogg"), title=f"Song number {i}", artist="X",
                                     folder=folder)
            journal.song(when + 18, "start", played)
    journal.song(t + 2000, "error", SimpleNamespace(path=Path("/s/sad/bad.mp3"), title="bad", artist=None,
                                                    folder="sad"))


@pytest.mark.slow  # matplotlib: a second or two
def test_the_report_is_a_png(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        fill(journal)
    out = draw_report(path, tmp_path / "out" / "moods.png")
    assert out == tmp_path / "out" / "moods.png"
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind
    if os.name == "posix":
        assert out.stat().st_mode & 0o777 == 0o600  # a day of your moods: readable by you only


@pytest.mark.slow
def test_an_open_journal_can_be_drawn_too(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as journal:
        played = SimpleNamespace(path=Path("/s/a.ogg"), title="a", artist=None, folder="happy")
        journal.song(10.0, "start", played)
        assert draw_report(journal, tmp_path / "r.png").is_file()


def test_an_empty_or_missing_journal_is_a_clear_error(tmp_path):
    Journal(tmp_path / "empty.sqlite").close()
    with pytest.raises(JournalError, match="is empty: run run.py"):
        draw_report(tmp_path / "empty.sqlite", tmp_path / "r.png")
    with pytest.raises(JournalError, match="no journal at"):
        draw_report(tmp_path / "missing.sqlite", tmp_path / "r.png")
    assert not (tmp_path / "r.png").exists()


def test_songs_span_until_their_end_skip_or_the_next_start():
    def row(t: float, event: str, name: str) -> SimpleNamespace:
        return SimpleNamespace(time=t, event=event, path=name)

    rows = [row(0, "start", "a"), row(30, "skip", "a"), row(31, "start", "b"), row(90, "start", "c"),
            row(95, "error", "d")]
    assert [(begin, end, r.path) for begin, end, r in _spans(rows, last=200.0)] == [
        (0, 30, "a"), (31, 90, "b"), (90, 200.0, "c")]


def test_the_text_report_lists_corrections_and_the_most_skipped_songs(tmp_path):
    from emusify.desk.report import feedback_summary
    from emusify.storage.journal import FeedbackRow

    with Journal(tmp_path / "j.sqlite") as journal:
        fill(journal)
        journal.feedback(FeedbackRow(1_763_800_400.0, 1_763_800_318.0, "sad", "happy", "correction", 64))
        journal.feedback(FeedbackRow(1_763_800_500.0, 1_763_800_318.0, "happy", "happy", "confirmed", 60))
        journal.feedback(FeedbackRow(1_763_800_600.0, 1_763_800_318.0, "angry", None, "doubted", 0))
        often = SimpleNamespace(path=Path("/s/angry/loud.ogg"), title="Loud", artist=None, folder="angry")
        for i in range(3):
            journal.song(1_763_801_000.0 + i, "start", often)
            journal.song(1_763_801_000.5 + i, "skip", often)
        text = feedback_summary(journal)
    assert text.splitlines()[0] == "corrections: 1 correction, 1 confirmation, 1 doubted mood"
    assert "read sad       -> happy     correction 64 frames saved" in text
    assert "read angry     doubted" in text
    assert "  3 / 3   loud.ogg" in text


def test_corrections_are_starred_on_the_mood_chart(tmp_path, monkeypatch):
    from emusify.desk import report
    from emusify.storage.journal import FeedbackRow

    starred = []
    monkeypatch.setattr(report, "_corrections", lambda ax, feedback, rows: starred.extend(feedback))
    with Journal(tmp_path / "j.sqlite") as journal:
        fill(journal)
        journal.feedback(FeedbackRow(1_763_800_400.0, 1_763_800_318.0, "sad", "happy", "correction", 64))
        draw_report(journal, tmp_path / "r.png")
    assert [f.corrected for f in starred] == ["happy"]
    monkeypatch.undo()
    with Journal(tmp_path / "j.sqlite") as journal:  # and the real drawing copes with them
        assert draw_report(journal, tmp_path / "r2.png").read_bytes()[:4] == b"\x89PNG"


def test_a_correction_to_a_mood_no_window_read_still_gets_its_row(tmp_path, monkeypatch):
    from emusify.desk import report
    from emusify.storage.journal import FeedbackRow

    seen = []
    monkeypatch.setattr(report, "_corrections", lambda ax, feedback, rows: seen.append(rows))
    with Journal(tmp_path / "j.sqlite") as journal:
        fill(journal)
        assert not any(w.mood == "surprise" or w.votes.get("surprise") for w in journal.windows())
        journal.feedback(FeedbackRow(1_763_800_400.0, 1_763_800_318.0, "sad", "surprise", "correction", 64))
        draw_report(journal, tmp_path / "r.png")
    assert "surprise" in seen[0]  # the most telling correction: a mood the model never read
