"""``python run.py --report``: the mood journal drawn as a PNG.

Top: each camera window's mood over time (marker size = the leading mood's share of the votes,
unsure windows as grey crosses). Bottom: the songs played, as a timeline band coloured by folder.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from emusify.errors import JournalError
from emusify.storage import private
from emusify.storage.journal import FeedbackRow, Journal, SongRow, WindowRow

UNSURE = "unsure"
COLOURS = {
    "happy": "#f2b705", "sad": "#3b6fb6", "angry": "#d62728", "neutral": "#7f7f7f",
    "surprise": "#ff7f0e", "fear": "#9467bd", "disgust": "#2ca02c", "contempt": "#8c564b",
}
LABEL_CHARS = 140  # 7-point characters across the timeline
OTHERS = ("#17becf", "#bcbd22", "#e377c2", "#1f77b4", "#aec7e8")


def draw_report(journal: Journal | Path | str, out_png: Path | str) -> Path:
    """Draw ``journal`` (a Journal or the path of one) to ``out_png``, written atomically.

    Returns:
        The PNG's path.

    Raises:
        JournalError: the journal holds no window and no song yet.
    """
    if isinstance(journal, Journal):
        windows, songs, name = journal.windows(), journal.songs(), journal.path
        feedback = journal.feedback_rows()
    else:
        if not Path(journal).is_file():
            raise JournalError(f"no journal at {journal}: run run.py first, or pass --journal FILE")
        with Journal(Path(journal)) as opened:
            windows, songs, name = opened.windows(), opened.songs(), opened.path
            feedback = opened.feedback_rows()
    if not windows and not songs:
        raise JournalError(f"the journal {name} is empty: run run.py for at least one window first")
    out = Path(out_png)
    _draw(windows, songs, out, title=f"Mood journal ({Path(name).name})", feedback=feedback)
    return out


def _draw(windows: Sequence[WindowRow], songs: Sequence[SongRow], out: Path, title: str,
          feedback: Sequence[FeedbackRow] = ()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6.5), height_ratios=(3, 1.3),
                                      layout="constrained")
    try:
        colours = _colours(windows, songs)
        rows = _rows(windows, colours, feedback)
        _moods(top, windows, colours, rows)
        _corrections(top, feedback, rows)
        if windows:
            top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                       title="size: share\nof votes", title_fontsize=8)
        _timeline(bottom, songs, windows, colours)
        started = _plural(_count(songs, "start"), "song")
        top.set_title(f"{title}: {_plural(len(windows), 'window')}, {started} started")
        times = [w.time for w in windows] + [s.time for s in songs]
        pad = max(60.0, 0.04 * (max(times) - min(times)))  # one window alone still gets a readable axis
        bottom.set_xlim(_dt(min(times) - pad), _dt(max(times) + pad))
        bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(bottom.xaxis.get_major_locator()))
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        partial.unlink(missing_ok=True)  # left by an earlier run that was killed
        with private.open_new(partial) as file:  # your moods over a day: readable by you only
            fig.savefig(file, format="png", dpi=110)
        os.replace(partial, out)
    except OSError as exc:
        raise JournalError(f"cannot write the report {out} ({exc}); pass --out with a writable path") \
            from None
    finally:
        plt.close(fig)


def _colours(windows: Sequence[WindowRow], songs: Sequence[SongRow]) -> dict[str, str]:
    names = {w.mood for w in windows if w.mood} | {k for w in windows for k in w.votes}
    names |= {s.folder for s in songs if s.folder}
    others = iter(OTHERS * 4)
    return {n: COLOURS.get(n) or next(others, "#333333") for n in sorted(names)}


def _rows(windows: Sequence[WindowRow], colours: dict[str, str],
          feedback: Sequence[FeedbackRow]) -> list[str]:
    """The mood rows: unsure, then every mood a window read or voted for or a correction gave."""
    corrected = {f.corrected for f in feedback if f.kind == "correction" and f.corrected}
    used = {m for m in colours if any(w.mood == m or w.votes.get(m) for w in windows)}
    return [UNSURE] + sorted(used | corrected)


def _moods(ax: Any, windows: Sequence[WindowRow], colours: dict[str, str], rows: list[str]) -> None:
    """One marker per window on its mood's row; size by share, grey x for unsure."""
    y = {name: i for i, name in enumerate(rows)}
    if len(windows) > 1:
        ax.step([_dt(w.time) for w in windows], [y[w.mood or UNSURE] for w in windows], where="post",
                color="#cccccc", linewidth=1, zorder=1)
    for name in rows:
        chosen = [w for w in windows if (w.mood or UNSURE) == name]
        if not chosen:
            continue
        if name == UNSURE:
            ax.scatter([_dt(w.time) for w in chosen], [0] * len(chosen), marker="x", color="#999999",
                       s=40, zorder=2, label="unsure (music kept)")
            continue
        sizes = [30 + 270 * w.share for w in chosen]
        ax.scatter([_dt(w.time) for w in chosen], [y[name]] * len(chosen), s=sizes, color=colours[name],
                   edgecolor="black", linewidth=0.5, zorder=3, label=name)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("mood of the window")
    ax.grid(axis="x", alpha=0.3)
    if not windows:
        ax.text(0.5, 0.5, "no camera windows journaled yet", transform=ax.transAxes, ha="center")


def _corrections(ax: Any, feedback: Sequence[FeedbackRow], rows: list[str]) -> None:
    """A star on the mood the listener gave, at the corrected window's time."""
    marks = [(f.window_time, rows.index(f.corrected)) for f in feedback
             if f.kind == "correction" and f.corrected in rows and f.window_time is not None]
    if marks:
        ax.scatter([_dt(t) for t, _ in marks], [i for _, i in marks], marker="*", s=160, facecolor="none",
                   edgecolor="black", linewidth=1.0, zorder=4, label="your correction")


def _timeline(ax: Any, songs: Sequence[SongRow], windows: Sequence[WindowRow],
              colours: dict[str, str]) -> None:
    """Songs as bars from their start to their end (or the next start); errors as red ticks."""
    import matplotlib.dates as mdates

    first = min([s.time for s in songs] + [w.time for w in windows])
    last = max([s.time for s in songs] + [w.time for w in windows])
    for begin, end, row in _spans(songs, last):
        start, width = mdates.date2num(_dt(begin)), max((end - begin) / 86400.0, 1e-9)
        ax.broken_barh([(start, width)], (0.1, 0.8), facecolor=colours.get(row.folder or "", "#999999"),
                       edgecolor="white", linewidth=0.8)
        room = int(LABEL_CHARS * (end - begin) / max(last - first, 1.0))  # characters that fit the bar
        label = _shorten(row.title or Path(row.path).name, room)
        if label:
            ax.text(start + width / 2, 0.5, label, ha="center", va="center", fontsize=7, rotation=0)
    errors = [_dt(s.time) for s in songs if s.event == "error"]
    if errors:
        ax.plot(errors, [0.95] * len(errors), "v", color="red", markersize=6, label="could not play")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if not songs:
        ax.text(0.5, 0.5, "no songs journaled yet", transform=ax.transAxes, ha="center")
    ax.set_yticks([])
    ax.set_ylim(0, 1)
    ax.set_ylabel("songs")
    ax.set_xlabel("time")


def _spans(songs: Sequence[SongRow], last: float) -> list[tuple[float, float, SongRow]]:
    """(start, end, row) per started song: until its end/skip/next, the next start, or the last event."""
    spans, open_row = [], None
    for row in songs:
        if row.event == "start":
            if open_row is not None:
                spans.append((open_row.time, row.time, open_row))
            open_row = row
        elif row.event in ("end", "skip", "next") and open_row is not None and row.path == open_row.path:
            spans.append((open_row.time, row.time, open_row))
            open_row = None
    if open_row is not None:
        spans.append((open_row.time, max(last, open_row.time + 1.0), open_row))
    return spans


def _shorten(text: str, room: int) -> str:
    if room < 4:
        return ""
    return text if len(text) <= room else text[:room - 1].rstrip() + "\u2026"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _count(songs: Sequence[SongRow], event: str) -> int:
    return sum(1 for s in songs if s.event == event)


def _dt(when: float) -> datetime:
    return datetime.fromtimestamp(when)


def feedback_summary(journal: Journal, top: int = 5) -> str:
    """Text for ``run.py --report``: the listener's corrections and the most-skipped songs."""
    rows = journal.feedback_rows()
    lines = [f"corrections: {_plural(sum(r.kind == 'correction' for r in rows), 'correction')}, "
             f"{_plural(sum(r.kind == 'confirmed' for r in rows), 'confirmation')}, "
             f"{_plural(sum(r.kind == 'doubted' for r in rows), 'doubted mood')}"]
    for row in rows[-10:]:
        when = _dt(row.time).strftime("%Y-%m-%d %H:%M")
        read = row.read or UNSURE
        if row.kind == "doubted":
            lines.append(f"  {when}  read {read:<9} doubted (skips right after the music changed)")
        else:
            lines.append(f"  {when}  read {read:<9} -> {row.corrected:<9} {row.kind:<10} "
                         f"{row.samples} frames saved")
    lines.append(desk_summary(journal))
    stats = journal.song_stats()
    skipped = sorted((s for s in stats.items() if s[1].skips), key=lambda kv: (-kv[1].skips, kv[0]))
    if not skipped:
        lines.append("most-skipped songs: none skipped yet (n within 30 s of a song's start)")
        return "\n".join(lines)
    lines.append("most-skipped songs (skips / plays):")
    lines += [f"  {s.skips:>3} / {s.plays:<3} {Path(path).name}" for path, s in skipped[:top]]
    return "\n".join(lines)


DESK_WORDS = {"slept": "slept", "clock_back": "clock set back", "away": "away",
              "camera_unavailable": "camera unavailable", "audio_lost": "no sound", "locked": "screen locked"}
DESK_GAPS = {"slept": "slept", "clock_back": "clock_back", "back": "away", "audio_back": "audio_lost",
             "unlocked": "locked"}


def desk_summary(journal: Journal) -> str:
    """One line of the day's gaps: ``desk: slept 1x (8.0 h), away 2x (1.1 h), camera unavailable 3x``."""
    rows = journal.desk_rows()
    counts: dict[str, int] = {}
    hours: dict[str, float] = {}
    for row in rows:
        if row.event in DESK_WORDS:
            counts[row.event] = counts.get(row.event, 0) + 1
        gap = DESK_GAPS.get(row.event)
        if gap is not None:
            hours[gap] = hours.get(gap, 0.0) + row.seconds / 3600
    if not counts:
        return "desk: no sleep, time away or lost device journalled"
    parts = [f"{DESK_WORDS[event]} {count}x" + (f" ({hours[event]:.1f} h)" if event in hours else "")
             for event, count in counts.items()]
    return "desk: " + ", ".join(parts)
