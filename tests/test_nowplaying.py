"""What the now-playing widget shows, followed from the core's events (no bus)."""

from __future__ import annotations

from pathlib import Path

from emusify.desk.events import PlayerState
from emusify.desk.nowplaying import NO_TRACK, NowPlaying
from tests.fakes import Song

SONG = Song(Path("/music/sad/rain.ogg"), "Rain", "Ada", 200.0, "sad")
OTHER = Song(Path("/music/happy/sun.mp3"), "Sun", None, 3.0, "happy")


def test_events_move_status_song_and_folder():
    now = NowPlaying()
    assert now.status() == "Stopped" and now.metadata() == {"mpris:trackid": ("o", NO_TRACK)}
    now.apply("mood_changed", {"when": 1.0, "mood": "sad", "share": 0.8, "folder": "sad", "song": SONG})
    assert now.status() == "Playing" and now.metadata()["xesam:genre"] == ("as", ["sad"])
    first = now.trackid()
    now.apply("paused", {"when": 2.0})
    assert now.status() == "Paused" and now.trackid() == first  # same song, same id
    now.apply("song_started", {"when": 3.0, "song": OTHER})
    assert now.metadata()["emusify:mood"] == ("s", "happy") and now.trackid() != first
    now.apply("music_stopped", {"when": 4.0})
    assert now.status() == "Stopped"
    now.apply("a_future_event", {"when": 5.0})  # a newer core's event changes nothing
    assert now.status() == "Stopped"


def test_a_song_started_again_is_a_new_track():
    """Next in a folder of one song plays it again: a widget must see a new track, as players show."""
    now = NowPlaying()
    now.apply("song_started", {"when": 1.0, "song": SONG})
    first = now.trackid()
    assert now.trackid() == first  # asking twice is the same track
    now.apply("song_started", {"when": 2.0, "song": SONG})
    assert now.trackid() != first


def test_position_runs_while_playing_stands_while_paused_and_stops_at_the_end(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("emusify.desk.nowplaying.time.monotonic", lambda: clock[0])
    now = NowPlaying()
    now.apply("song_started", {"when": 0.0, "song": SONG})
    clock[0] += 12.5
    assert now.position() == 12.5
    now.apply("paused", {"when": 0.0})
    clock[0] += 60
    assert now.position() == 12.5
    now.apply("resumed", {"when": 0.0})
    clock[0] += 1000
    assert now.position() == 200.0  # never past the song's end


def test_a_state_snapshot_replaces_the_view():
    now = NowPlaying()
    now.apply("state_changed", {"state": PlayerState(status="paused", song=SONG, folder="neutral",
                                                     position=42.0)})
    assert now.status() == "Paused" and now.position() == 42.0
    assert now.metadata()["xesam:album"] == ("s", "neutral")  # the folder the music comes from
