"""The journal as a listener: every row run.py keeps comes from the core's events.

The core tells what happened (emusify.desk.events); this listener turns each event into its row of
the mood journal (emusify.storage.journal), as the terminal turns them into a status line and MPRIS
into properties. The core adds it first, so a row is written before any other front-end hears the
event (a notification's button finds its window's row already there). The journal itself survives
a full or read-only disk (it keeps the rows in memory and says so once), so this listener never
raises for the disk's sake.
"""

from __future__ import annotations

from typing import Any

from emusify.desk.devices import Journal
from emusify.desk.events import Listener
from emusify.storage.journal import FeedbackRow


class JournalWriter(Listener):
    """Writes the journal's window, song, feedback, reference and desk rows from the core's events."""

    name = "journal"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def window_read(self, when: float, result: Any, decision: str) -> None:
        self.journal.window(when, result, decision)

    def song_started(self, when: float, song: Any) -> None:
        self.journal.song(when, "start", song)

    def song_ended(self, when: float, song: Any, how: str) -> None:
        self.journal.song(when, how, song)

    def song_failed(self, when: float, song: Any, reason: str) -> None:
        self.journal.song(when, "error", song)

    def correction_saved(self, when: float, mood: str, kind: str, read: str | None, message: str,
                         window: float | None = None, frames: int = 0) -> None:
        if frames > 0 and window is not None:  # nothing saved (no window, no face, disk full): no row
            self.journal.feedback(FeedbackRow(when, window, read, mood, kind, frames))

    def mood_doubted(self, when: float, window: float, mood: str | None) -> None:
        self.journal.feedback(FeedbackRow(when, window, mood, None, "doubted", 0))

    def reference_changed(self, when: float, event: str, source: str | None, frames: int = 0,
                          shift: float = 0.0) -> None:
        self.journal.reference(when, event, source, frames, shift)

    def away(self, when: float, since: float) -> None:
        self.journal.desk(when, "away")

    def back(self, when: float, away_seconds: float) -> None:
        self.journal.desk(when, "back", away_seconds)

    def screen_locked(self, when: float) -> None:
        self.journal.desk(when, "locked")

    def screen_unlocked(self, when: float, locked_seconds: float) -> None:
        self.journal.desk(when, "unlocked", locked_seconds)

    def clock_jumped(self, when: float, kind: str, seconds: float) -> None:
        self.journal.desk(when, kind, seconds)

    def camera_unavailable(self, when: float, detail: str) -> None:
        self.journal.desk(when, "camera_unavailable", 0.0, detail)

    def audio_lost(self, when: float, detail: str) -> None:
        self.journal.desk(when, "audio_lost", 0.0, detail)

    def audio_back(self, when: float, seconds: float) -> None:
        self.journal.desk(when, "audio_back", seconds)
