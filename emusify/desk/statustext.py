"""What the status line says: the player's state as one line of text, fitted to a width. Pure.

:mod:`emusify.desk.ui` draws it on the terminal (in place) or prints it (a pipe, a log).
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple


class Status(NamedTuple):
    """One snapshot of the player for the status line."""

    mood: str | None  # the last window's mood; None: unsure or no window yet
    share: float  # its share of the votes
    artist: str | None
    title: str | None
    position: float  # seconds into the song
    duration: float | None  # song length in seconds, when known
    paused: bool
    watching: bool  # True while a window runs
    seconds: float  # watching: seconds left in the window; else seconds to the next window
    note: str | None = None  # shown instead of mood, song and phase (e.g. the calibration shot's request)
    keys: str = ""  # the mood keys, e.g. "1 angry  2 happy  3 neutral  4 sad  y right"
    message: str | None = None  # a short feedback message ("saved as happy ...")
    away: str = ""  # while away from the desk: "away: paused, looking every 1 min"
    no_sound: bool = False  # the sound device is lost; playback retries
    locked: str = ""  # while the screen is locked: "locked: paused" (no windows until unlocked)


def clock_text(seconds: float | None) -> str:
    """``m:ss`` for a number of seconds, ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = max(int(seconds), 0)
    return f"{whole // 60}:{whole % 60:02d}"


def format_status(status: Status, with_times: bool = True, width: int | None = None) -> str:
    """The status line: mood and share, the song and its position, time to the next window.

    ``width``: the columns it may take (a terminal's, less one). A line too long for it gives way
    in this order: the song's artist and title shrink (to a few letters at least), the mood keys go,
    the song's times go, the song goes, the phase goes. A message ("saved as happy", "... press c to
    recalibrate") outlasts them all: it loses its middle last, so its start and its end stay. Wide
    (East Asian) letters count two columns.
    """
    if status.note:
        return clip_middle(status.note, width) if width is not None else status.note
    parts = _parts(status, with_times)
    full = parts.line(parts.name + parts.times + parts.flag, parts.phase, parts.tail)
    if width is None or columns_of(full) <= width:
        return full
    return _fit(parts, width)


class _Parts(NamedTuple):
    """The status line's pieces, before they are fitted to a width."""

    head: str  # "mood: happy 75%"
    name: str  # "artist - title", "no song", or the sound device's state
    times: str  # " 0:42 / 1:01" ("" without times)
    flag: str  # " [paused]" or ""
    phase: str  # "next look in 4:18", "watching, 12 s left", the away state
    tail: str  # a message, else the mood keys, else ""
    message: bool  # the tail is a message (it outlasts the rest), not the keys

    def line(self, song: str | None, phase: str, tail: str) -> str:
        return " | ".join(part for part in (self.head, song, phase, tail) if part)


def _parts(status: Status, with_times: bool) -> _Parts:
    head = f"mood: {status.mood} {status.share:.0%}" if status.mood else "mood: unsure"
    if status.no_sound:
        name, times, flag = "no sound, retrying every minute", "", ""
    else:
        name = "no song" if status.title is None else (
            f"{status.artist} - {status.title}" if status.artist else status.title)
        times = (f" {clock_text(status.position)} / {clock_text(status.duration)}"
                 if with_times and status.title is not None else "")
        flag = " [paused]" if status.paused else ""
    if status.locked:  # no next look to count down to: the window waits for the unlock
        phase = status.locked
    elif status.away and not status.watching:
        phase = status.away + (f", next look in {clock_text(status.seconds)}" if with_times else "")
    elif status.watching:
        phase = f"watching, {status.seconds:.0f} s left" if with_times else "watching"
    else:
        phase = f"next look in {clock_text(status.seconds)}" if with_times else "waiting"
    return _Parts(head, name, times, flag, phase, status.message or status.keys or "", bool(status.message))


def _fit(p: _Parts, width: int) -> str:
    """The longest of the ever shorter forms of the line that fits ``width`` (see format_status)."""
    if p.message:
        tries = [(True, True, p.phase, p.tail), (True, False, p.phase, p.tail),
                 (False, False, p.phase, p.tail), (False, False, "", p.tail)]
    else:  # the mood keys are a reminder: they go first
        tries = [(True, True, p.phase, p.tail), (True, True, p.phase, ""), (True, False, p.phase, ""),
                 (False, False, p.phase, ""), (False, False, "", "")]
    for with_song, with_times, phase, tail in tries:
        if not with_song:
            bare = p.line(None, phase, tail)
            if columns_of(bare) <= width:
                return bare
            continue
        extra = (p.times if with_times else "") + p.flag
        room = width - (columns_of(p.line("x" + extra, phase, tail)) - 1)  # the line with an empty name
        if room >= min(SONG_AT_LEAST, columns_of(p.name)):
            return p.line(clip(p.name, room) + extra, phase, tail)
    if not p.message:
        return clip(p.head, width)
    room = width - columns_of(p.head) - len(" | ")
    if room < SONG_AT_LEAST:  # a very narrow terminal: the message alone
        return clip_middle(p.tail, width)
    return p.line(None, "", clip_middle(p.tail, room))


SONG_AT_LEAST = 8  # columns the song's name keeps before the times, the song and the phase give way


def columns_of(text: str) -> int:
    """How many terminal columns ``text`` takes: wide letters two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def clip(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` columns, its last one an ellipsis when anything was cut."""
    if width is None or columns_of(text) <= width:
        return text
    return _first_columns(text, width - 1) + ELLIPSIS if width >= 1 else ""


def clip_middle(text: str, width: int) -> str:
    """``text`` in ``width`` columns by dropping its middle for an ellipsis: its start and end stay."""
    if columns_of(text) <= width:
        return text
    if width < 1:
        return ""
    room = width - 1
    end = _first_columns(text[::-1], room - room // 2)[::-1]
    return _first_columns(text, room // 2) + ELLIPSIS + end


ELLIPSIS = "\u2026"


def _first_columns(text: str, width: int) -> str:
    kept, used = [], 0
    for char in text:
        used += columns_of(char)
        if used > width:
            break
        kept.append(char)
    return "".join(kept)
