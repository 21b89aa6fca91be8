"""What a now-playing widget shows, followed from the core's events: status, song, position.

Pure values, no bus: :mod:`emusify.desk.mpris` puts them on D-Bus. The MPRIS names are used here
(PlaybackStatus "Playing", Metadata keys such as ``xesam:title``) because they are what a widget
reads; the D-Bus signatures travel with the values so that mpris.py only wraps them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Optional

from emusify.desk.events import PlayerState

NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
TRACK_PREFIX = "/org/emusify/track/"
STATUS = {"playing": "Playing", "paused": "Paused", "stopped": "Stopped"}
EVENT_STATUS = {"paused": "paused", "resumed": "playing", "music_stopped": "stopped", "stopped": "stopped"}


class NowPlaying:
    """The player as a widget sees it; change it with :meth:`apply`, from one thread only."""

    def __init__(self, state: Optional[PlayerState] = None) -> None:
        self.view = state or PlayerState()
        self._track: tuple[Any, str] = (None, NO_TRACK)  # (song, its track id)
        self._tracks = 0
        self._position: tuple[float, Optional[float]] = (0.0, None)  # (seconds, monotonic then or None)

    def apply(self, event: str, values: dict) -> None:
        """Follow one core event (``state_changed`` carries a whole new state)."""
        seconds = self.position()
        self.view = updated(self.view, event, values)
        if event == "state_changed":
            state = values["state"]
            running = state.status == "playing"
            seconds = state.position + (max(0.0, time.time() - state.time) if running else 0.0)
        elif event in ("song_started", "mood_changed"):
            seconds = 0.0
        elif event == "seeked":
            seconds = values["position"]
        if event == "song_started":  # the same song started again (one song in its folder): a new track
            self._track = (None, NO_TRACK)
        self._position = (seconds, time.monotonic() if self.view.status == "playing" else None)

    def status(self) -> str:
        """MPRIS PlaybackStatus: "Playing", "Paused" or "Stopped"."""
        return STATUS.get(self.view.status, "Stopped")

    def position(self) -> float:
        """Seconds into the current song, now (never past its end)."""
        seconds, since = self._position
        seconds += time.monotonic() - since if since is not None else 0.0
        duration = getattr(self.view.song, "duration", None)
        return min(seconds, duration) if duration else seconds

    def trackid(self) -> str:
        """An object path per song played (a song played again gets a new one, as players do)."""
        song = self.view.song
        if song is None:
            return NO_TRACK
        if self._track[0] != song:
            self._tracks += 1
            self._track = (song, f"{TRACK_PREFIX}{self._tracks}")
        return self._track[1]

    def metadata(self) -> dict[str, tuple[str, Any]]:
        """MPRIS Metadata as {key: (D-Bus signature, value)}: the song and its mood folder."""
        song, folder = self.view.song, self.view.folder
        data: dict[str, tuple[str, Any]] = {"mpris:trackid": ("o", self.trackid())}
        if song is None:
            return data
        folder = folder or song.folder
        data.update({
            "xesam:title": ("s", song.title),
            "xesam:artist": ("as", [song.artist] if song.artist else []),
            "xesam:album": ("s", folder),  # a Song has no album tag; its mood folder is what groups it
            "xesam:genre": ("as", [folder]),
            "xesam:url": ("s", Path(song.path).resolve().as_uri()),
            "emusify:mood": ("s", folder),
        })
        if song.duration:
            data["mpris:length"] = ("x", int(song.duration * 1_000_000))
        return data


def updated(view: PlayerState, event: str, values: dict) -> PlayerState:
    """The view after one core event (the events carry what changed; ``state_changed`` carries all)."""
    if event == "state_changed":
        return values["state"]
    if event == "song_started" and values.get("song") is not None:
        song = values["song"]
        return dataclasses.replace(view, song=song, folder=song.folder, status="playing")
    if event == "mood_changed":
        song = values.get("song")
        return dataclasses.replace(view, mood=values.get("mood"), share=values.get("share", 0.0),
                                   folder=values.get("folder"), song=song,
                                   status="playing" if song is not None else view.status)
    if event in EVENT_STATUS:
        return dataclasses.replace(view, status=EVENT_STATUS[event])
    if event == "volume_changed":
        return dataclasses.replace(view, volume=values["volume"])
    return view
