"""Where the music was, kept across a restart, a logout or a crash: ``<data>/playstate.json``.

The song that played, its position, the folder, the volume and each folder's shuffle round
(emusify.music.library), so that the next start resumes the song near where it stopped before any
window, and no song comes again before its folder's round is done. :class:`StateKeeper` listens to
the core and is polled by it (a command source that sends nothing); it writes the file (0600,
atomic: emusify.storage.private) when a song starts, the volume changes, the music pauses, resumes,
seeks or stops, every ``SAVE_EVERY`` seconds of play, and when the core stops. A SIGKILL loses at
most the last ``SAVE_EVERY`` seconds of position. :func:`load_playstate` reads it at start: a
damaged file is moved aside with one line, a song that is gone is one line and nothing resumes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from emusify.desk.events import Listener
from emusify.storage.private import write_atomic

log = logging.getLogger(__name__)

FILE_NAME = "playstate.json"
FORMAT = "emusify-playstate-1"
SAVE_EVERY = 4.0  # seconds of play between two writes: the position a SIGKILL can lose
END_MARGIN = 2.0  # a song stopped closer than this to its end is not resumed (it had ended)


@dataclass(frozen=True)
class PlayState:
    """What ``playstate.json`` holds."""

    song: str | None = None  # path of the song that played; None: none, or the music was stopped
    folder: str | None = None  # the folder songs came from
    position: float = 0.0  # seconds into the song
    volume: float = 1.0  # the user's volume, 0..1
    rounds: dict[str, list[str]] = field(default_factory=dict)  # Library.rounds()
    saved: float = 0.0  # epoch seconds of the write


def load_playstate(path: Path) -> PlayState | None:
    """The state the last run left; None when there is none or it is damaged (moved aside, one line)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s (%s); starting without it", path, exc)
        return None
    try:
        return _parse(json.loads(text))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        aside = Path(path).with_name(f"{Path(path).name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
        except OSError:
            aside = Path(path)
        log.warning("%s is damaged (%s); kept as %s, starting afresh (it is written again as you listen)",
                    path, exc or type(exc).__name__, aside.name)
        return None


def _parse(data: Any) -> PlayState:
    if data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    song, folder = data["song"], data["folder"]
    position, volume = float(data["position"]), float(data["volume"])
    rounds = {str(k): [str(p) for p in v] for k, v in dict(data["rounds"]).items()}
    if not all(x is None or isinstance(x, str) for x in (song, folder)):
        raise ValueError("song and folder must be text")
    if not (math.isfinite(position) and position >= 0 and 0.0 <= volume <= 1.0):
        raise ValueError(f"position {position} or volume {volume} out of range")
    return PlayState(song, folder, position, volume, rounds, float(data.get("saved", 0.0)))


def save_playstate(path: Path, state: PlayState) -> None:
    """Write ``state`` atomically (0600).

    Raises:
        OSError: the data folder cannot be written (the previous file is left intact).
    """
    write_atomic(Path(path), json.dumps({"format": FORMAT, **asdict(state)}, indent=1).encode("utf-8"))


def resume_point(state: PlayState, library: Any) -> tuple[Any, str, float] | None:
    """(song, folder, seconds) to resume, or None: nothing played, it had ended, or it is gone (one line)."""
    if state.song is None:
        return None
    found = [s for f in library.folders() for s in library.songs(f) if str(s.path) == state.song]
    if not found:
        log.warning("the song that played last (%s) is gone from the songs folder; the first window "
                    "picks the music", Path(state.song).name)
        return None
    song = found[0]
    if song.duration and state.position >= song.duration - END_MARGIN:
        return None
    folder = state.folder if state.folder in library.folders() else song.folder
    return song, folder, state.position


class StateKeeper(Listener):
    """Writes the play state as the music goes (see the module's docstring); never raises over the disk."""

    name = "playstate"

    def __init__(self, path: Path, library: Any, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.path, self.library, self.monotonic = Path(path), library, monotonic
        self.core: Any = None
        self.writes = 0
        self._last = PlayState()
        self._due: Any = None  # the core's state when a change came: written once a newer state shows it
        self._saved_at = float("-inf")
        self._failed = False
        self._followed = False  # polled once at least: before that the file the last run left stays

    def start(self, core: Any) -> None:
        """Listen to ``core`` and be polled by it."""
        self.core = core
        core.add_listener(self)
        core.add_source(self)

    def poll(self) -> list:
        """On the core's thread between frames and ticks: follow the state, write when due."""
        state = self.core.state
        self._follow(state)
        self._followed = True
        changed = self._due is not None and state is not self._due
        if changed or (self._last.song is not None and state.status == "playing"
                       and self.monotonic() - self._saved_at >= SAVE_EVERY):
            self.save()
        return []

    def _follow(self, state: Any) -> None:
        """Stopped (by the stop command, or before the first song), no song is to be resumed."""
        song = str(state.song.path) if state.song is not None and state.status != "stopped" else None
        self._last = PlayState(song, state.folder or self._last.folder, state.position if song else 0.0,
                               state.volume)

    def save(self) -> None:
        """Write what the keeper follows now, with the library's rounds."""
        self._due, self._saved_at = None, self.monotonic()
        state = PlayState(self._last.song, self._last.folder, round(self._last.position, 2),
                          self._last.volume, self.library.rounds(), time.time())
        try:
            save_playstate(self.path, state)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot write %s (%s); a restart will not resume the music", self.path, exc)
            self._failed = True
            return
        self._failed = False
        self.writes += 1

    def on_event(self, event: str, /, **values: Any) -> None:
        """A change worth keeping at once is written at the next poll; the core's end at once."""
        if event in ("song_started", "volume_changed", "paused", "resumed", "seeked", "music_stopped"):
            self._due = self.core.state  # the poll after the core's next refresh writes it
        elif event == "stopped" and self._followed:  # the last poll's song and position: shutdown's
            self.save()  # fade-out has ended the song by now
