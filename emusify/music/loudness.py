"""Even loudness: every song plays at one target loudness (issue 22).

A song's loudness (integrated, ITU-R BS.1770 / EBU R128, in LUFS, as heard) comes from its
ReplayGain 2 or R128 track tags where it has them (read with the other tags by
emusify.music.library), else from a measurement (emusify.music.measure: decoded and measured in an
idle-priority child process), cached by path, size and modification time in ``<data>/loudness.json``.

The gain that brings a song to the target is a cut: pygame's volume cannot go above 1.0, so the
default target (-20 LUFS) sits low enough that most music needs a cut, and a song quieter than the
target plays as it is (never raised). The gain is also limited by the song's peak, so nothing clips.

Measuring is lazy: after each song starts, the song each folder plays next (``Library.upcoming``)
is measured while this one plays, and at the start one per folder during the first window; a
10,000-song library costs nothing up front. A song not measured yet plays at the gain of an assumed
loud master (:data:`ASSUMED`), and is measured for its next turn.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from emusify.storage.private import make_dirs, write_atomic

log = logging.getLogger(__name__)

CACHE_NAME = "loudness.json"  # in the data folder
FORMAT = "emusify-loudness-1"
TARGET = -20.0  # LUFS, the default of the setting loudness_target
RG2_REFERENCE = -18.0  # ReplayGain 2: track gain = -18 LUFS - the track's loudness
R128_REFERENCE = -23.0  # R128_TRACK_GAIN: Q7.8 dB that bring the track to -23 LUFS
ASSUMED = -14.0  # LUFS taken for a song not measured yet: a loud master, so it is never too loud


class Entry(NamedTuple):
    """What the cache knows of one file."""

    signature: tuple[int, int]  # (mtime_ns, size) of the file measured
    loudness: float | None  # LUFS as heard; None: silent or not measurable
    peak: float | None
    error: str | None  # why it could not be measured (not tried again until the file changes)


def tag_loudness(track_gain: str | None, r128_gain: str | None) -> float | None:
    """The track's loudness in LUFS from a ReplayGain 2 track gain ("-6.20 dB") or an
    R128_TRACK_GAIN (Q7.8 integer, relative to -23 LUFS); None when neither parses."""
    if track_gain:
        try:
            return RG2_REFERENCE - float(track_gain.lower().replace("db", "").strip())
        except ValueError:
            pass
    if r128_gain:
        try:
            return R128_REFERENCE - int(r128_gain.strip()) / 256
        except ValueError:
            pass
    return None


def tag_peak(text: str | None) -> float | None:
    """A ReplayGain track peak ("0.988547") as a float, None when missing or not a positive number."""
    try:
        peak = float(text) if text else None
    except ValueError:
        return None
    return peak if peak is not None and math.isfinite(peak) and peak > 0 else None


def gain_db(loudness: float | None, peak: float | None, target: float) -> float:
    """The gain in dB that plays a song of ``loudness`` LUFS at ``target``: never above 0 dB (the
    mixer's limit) nor above what brings ``peak`` to full scale; unknown loudness: :data:`ASSUMED`."""
    gain = target - (ASSUMED if loudness is None else loudness)
    if peak:
        gain = min(gain, -20 * math.log10(peak))
    return min(gain, 0.0)


class LoudnessCache:
    """``<data>/loudness.json``: measured loudness by path, valid while size and mtime match."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: dict[str, Entry] = self._load()
        self._lock = threading.Lock()

    def get(self, path: str, signature: tuple[int, int]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(path)
        return entry if entry is not None and entry.signature == signature else None

    def put(self, path: str, entry: Entry) -> None:
        with self._lock:
            self._entries[path] = entry

    def save(self) -> None:
        """Write the cache (0600, atomic); a failure is one line, the measurements stay in memory."""
        with self._lock:
            songs = {p: {"mtime_ns": e.signature[0], "size": e.signature[1], "loudness": e.loudness,
                         "peak": e.peak, "error": e.error} for p, e in sorted(self._entries.items())}
        try:
            make_dirs(self.path.parent)
            write_atomic(self.path, json.dumps({"format": FORMAT, "songs": songs}, indent=0).encode())
        except OSError as exc:
            log.warning("cannot save the loudness cache %s (%s); songs are measured again next time",
                        self.path, exc)

    def _load(self) -> dict[str, Entry]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("cannot read the loudness cache %s (%s); songs are measured again", self.path, exc)
            return {}
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            return {p: Entry((int(e["mtime_ns"]), int(e["size"])), _number(e["loudness"]),
                             _number(e["peak"]), e["error"]) for p, e in data["songs"].items()}
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            log.warning("the loudness cache %s is damaged (%s); songs are measured again", self.path, exc)
            return {}


def _key(path: Any) -> str:
    """A song's key in the cache: its absolute path (run.py may start from another folder)."""
    return os.path.abspath(path)


def _lufs(value: float | None) -> str:
    return "silent" if value is None else f"{value:.1f}"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class Loudness:
    """The player's song gains (:meth:`gain`) and the lazy measuring behind them; a core listener."""

    def __init__(self, cache: LoudnessCache, start: Callable[[Callable[[], None]], None],
                 measure: Callable[[Sequence[str]], Iterator[Any]], target: float = TARGET,
                 upcoming: Callable[[], Iterable[Any]] | None = None) -> None:
        """``start`` runs a job on a background thread (emusify.desk.worker.Worker.start);
        ``measure`` measures paths (emusify.music.measure.measure_in_child); ``upcoming`` gives
        the songs that may play next (each folder's ``Library.upcoming``)."""
        self.cache, self.start, self.measure, self.target = cache, start, measure, target
        self.upcoming = upcoming
        self._pending: dict[str, None] = {}  # paths to measure, in order
        self._running = False
        self._lock = threading.Lock()
        self.name = "loudness"

    def gain(self, song: Any) -> float:
        """The volume factor (0..1] that plays ``song`` at the target; logged. Never waits."""
        loudness, peak, how = self._level(song)
        db = gain_db(loudness, peak, self.target)
        log.info("loudness: %s plays at %+.1f dB (%s)", Path(song.path).name, db, how)
        return 10 ** (db / 20)

    def on_event(self, event: str, /, **values: Any) -> None:
        """A song started: measure the songs that may come next while it plays."""
        if event == "song_started" and self.upcoming is not None:
            self.prefetch(self.upcoming())

    def prefetch(self, songs: Iterable[Any]) -> None:
        """Measure those of ``songs`` that have no tags and no cached measurement, in the background."""
        new = [_key(s.path) for s in songs if s is not None and self._needs_measuring(s)]
        with self._lock:
            for path in new:
                self._pending.setdefault(path)
            if not self._pending or self._running:
                return
            self._running = True
        self.start(self._run)

    def _level(self, song: Any) -> tuple[float | None, float | None, str]:
        tagged = getattr(song, "loudness", None)
        if tagged is not None:
            return tagged, getattr(song, "peak", None), f"tags: {tagged:.1f} LUFS"
        entry = self._cached(song)
        if entry is not None and entry.loudness is not None:
            return entry.loudness, entry.peak, f"measured {entry.loudness:.1f} LUFS"
        if entry is None:
            self.prefetch([song])
        why = "not measured yet" if entry is None else "not measurable"
        return None, getattr(entry, "peak", None), f"{why}: taken as {ASSUMED:.0f} LUFS"

    def _cached(self, song: Any) -> Entry | None:
        try:
            stat = os.stat(song.path)
        except OSError:
            return None
        return self.cache.get(_key(song.path), (stat.st_mtime_ns, stat.st_size))

    def _needs_measuring(self, song: Any) -> bool:
        return getattr(song, "loudness", None) is None and self._cached(song) is None

    def _run(self) -> None:
        """The background job: measure the pending paths in batches until none is left."""
        while True:
            with self._lock:
                batch = list(self._pending)
                self._pending.clear()
                if not batch:
                    self._running = False
                    return
            try:
                for result in self.measure(batch):
                    self._take(result)
            except Exception as exc:  # noqa: BLE001 - the music never stops for a measurement
                log.warning("cannot measure loudness (%s); songs play at the default gain", exc)
            self.cache.save()

    def _take(self, result: Any) -> None:
        name = Path(result.path).name
        if result.signature is None:  # not measured at all (the child died): tried at its next turn
            log.warning("loudness: %s not measured (%s)", name, result.error)
            return
        self.cache.put(result.path, Entry(result.signature, result.loudness, result.peak, result.error))
        if result.error is not None:
            log.warning("loudness: cannot measure %s (%s); it plays at %+.1f dB", name, result.error,
                        gain_db(None, None, self.target))
        else:
            log.debug("loudness: measured %s: %s LUFS, peak %.2f, %.2f s CPU for %.0f s of audio, "
                      "measuring process at %.0f MB", name, _lufs(result.loudness), result.peak or 0.0,
                      result.cpu, result.seconds, result.memory)


def cache_path(data: Path) -> Path:
    """Where run.py keeps the loudness measurements."""
    return Path(data) / CACHE_NAME
