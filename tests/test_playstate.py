"""Volume, seek and the state a restart resumes (issue 22): commands, the keeper, the file, the rounds."""

from __future__ import annotations

import json
import logging
import os
import random
import stat
from pathlib import Path

import pytest

from emusify.desk.events import Command
from emusify.desk.playstate import (
    SAVE_EVERY,
    PlayState,
    StateKeeper,
    load_playstate,
    resume_point,
    save_playstate,
)
from emusify.music.library import Library
from tests.test_core import HAPPY, build
from tests.test_library import make_songs


def keep(core, dev, tmp_path: Path) -> StateKeeper:
    keeper = StateKeeper(tmp_path / "data" / "playstate.json", dev.library, dev.clock.monotonic)
    keeper.start(core)
    return keeper


def saved(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "data" / "playstate.json").read_text())


# The commands ---------------------------------------------------------------------------------

def test_plus_and_minus_keys_change_the_volume_in_steps_and_the_status_line_says_it():
    core, dev, clock, heard = build([HAPPY], cycles=1)
    dev.ui.presses = [(clock.start + 1, "-"), (clock.start + 2, "-"), (clock.start + 3, "+"),
                      (clock.start + 4, "-"), (clock.start + 4.5, "=")]  # = is + without shift
    core.run()
    assert [values["volume"] for values in heard.names("volume_changed")] == [0.95, 0.9, 0.95, 0.9, 0.95]
    assert dev.player.volume == 0.95 and core.state.volume == 0.95
    assert any(status.message == "volume 95%" for status in dev.ui.shown)


def test_a_volume_command_sets_the_level_clamped_and_the_state_shows_it():
    core, dev, clock, heard = build([HAPPY], cycles=1)
    states = []
    clock.at(1, lambda: core.send(Command("volume", source="mpris", value=0.4)))
    clock.at(2, lambda: states.append(core.state.volume))
    clock.at(3, lambda: core.send(Command("volume", source="mpris", value=3.0)))
    core.run()
    assert states == [0.4] and dev.player.volume == 1.0
    assert [v["volume"] for v in heard.names("volume_changed")] == [0.4, 1.0]


def test_volume_and_seek_commands_need_a_value():
    with pytest.raises(ValueError, match="a value goes with"):
        Command("volume").check()
    with pytest.raises(ValueError, match="a value goes with"):
        Command("next", value=1.0).check()


def test_seek_and_position_move_the_song_and_tell_seeked():
    core, dev, clock, heard = build([HAPPY], cycles=0)
    clock.at(10, lambda: core.send(Command("position", value=30.0)))
    clock.at(11, lambda: core.send(Command("seek", value=-10.0)))
    states = []
    clock.at(12, lambda: states.append(core.state))
    clock.at(13, lambda: core.send(Command("quit")))
    core.run()
    assert ("seek", 30.0) in dev.player.events and ("seek", 20.0) in dev.player.events
    assert [v["position"] for v in heard.names("seeked")] == [30.0, 20.0]
    assert states[0].position == 20.0 and states[0].can_seek


def test_a_seek_past_the_end_plays_the_next_song_and_a_position_past_it_does_nothing():
    core, dev, clock, heard = build([HAPPY], cycles=0)
    clock.at(10, lambda: core.send(Command("position", value=61.0)))  # the fake songs last 60 s
    clock.at(11, lambda: core.send(Command("seek", value=80.0)))
    clock.at(13, lambda: core.send(Command("quit")))
    core.run()
    assert dev.player.played() == ["happy0", "happy1"]
    assert not heard.names("seeked") and not [e for e in dev.player.events if e[0] == "seek"]


def test_a_song_that_cannot_seek_says_so_and_plays_on():
    core, dev, clock, heard = build([HAPPY], cycles=0)
    dev.player.no_seek = {song.path for song in dev.library.songs["happy"]}
    states = []
    clock.at(10, lambda: states.append(core.state.can_seek))
    clock.at(11, lambda: core.send(Command("seek", value=5.0)))
    clock.at(13, lambda: core.send(Command("quit")))
    core.run()
    assert states == [False] and not heard.names("seeked")
    assert any("cannot seek: it plays on" in v["text"] for v in heard.names("note"))


# Resuming at start ------------------------------------------------------------------------------

def test_the_song_resumes_at_its_position_before_the_first_window():
    core, dev, clock, heard = build([HAPPY], cycles=1)
    sad = dev.library.songs["sad"][1]
    core.resume_from = (sad, "sad", 42.0)
    core.run()
    assert dev.player.events[0] == ("play", sad, 42.0)
    names = [name for name, _ in heard.heard]
    assert names.index("song_started") < names.index("window_started")
    assert heard.names("seeked")[0]["position"] == 42.0
    assert dev.player.played() == ["sad1", "happy0"]  # then the first window decided as usual


def test_resume_point_finds_the_song_and_says_one_line_when_it_is_gone(tmp_path, fixtures, caplog):
    songs = make_songs(tmp_path / "songs", fixtures, {"happy": ["a.ogg"], "sad": ["b.ogg", "c.ogg"]})
    library = Library(songs)
    song = library.songs("sad")[1]
    assert resume_point(PlayState(str(song.path), "sad", 0.3, 0.6), library) is None  # 0.8 s: it had ended
    long = song._replace(duration=60.0)
    assert resume_point(PlayState(str(song.path), "sad", 12.5, 0.6), Songs(long)) == (long, "sad", 12.5)
    assert resume_point(PlayState(str(song.path), "gone", 12.5), Songs(long)) == (long, "sad", 12.5)
    assert resume_point(PlayState(str(song.path), "sad", 59.0), Songs(long)) is None
    (songs / "sad" / "c.ogg").unlink()
    library.scan()
    with caplog.at_level(logging.WARNING):
        assert resume_point(PlayState(str(song.path), "sad", 0.1), library) is None
    assert [r.getMessage() for r in caplog.records if r.name.endswith("playstate")] == [
        "the song that played last (c.ogg) is gone from the songs folder; the first window picks "
        "the music"]


class Songs:
    """A library of one song."""

    def __init__(self, song) -> None:
        self.song = song

    def folders(self):
        return (self.song.folder,)

    def songs(self, folder):
        return (self.song,)


# The file ---------------------------------------------------------------------------------------

def test_the_state_file_round_trips_and_is_private(tmp_path):
    path = tmp_path / "data" / "playstate.json"
    state = PlayState("/s/a.ogg", "happy", 3.5, 0.7, {"happy": ["/s/a.ogg"], "": ["/s/a.ogg"]}, 5.0)
    save_playstate(path, state)
    assert load_playstate(path) == state
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


@pytest.mark.parametrize("text", ['{"format": "emusify-playstate-1", "song": ', "[]", "\x00\x01",
                                  '{"format": "emusify-playstate-1", "song": null, "folder": null, '
                                  '"position": -3, "volume": 0.5, "rounds": {}}'])
def test_a_damaged_state_file_is_one_line_kept_aside_and_the_start_goes_on(tmp_path, caplog, text):
    path = tmp_path / "playstate.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING):
        assert load_playstate(path) is None
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"{path} is damaged (") and "starting afresh" in line
    (aside,) = tmp_path.glob("playstate.json.corrupt-*")
    assert aside.read_text() == text and not path.exists()  # nothing lost; the next write starts anew
    assert load_playstate(tmp_path / "none.json") is None


# The keeper -------------------------------------------------------------------------------------

def test_the_keeper_writes_at_song_start_on_volume_every_few_seconds_and_at_the_end(tmp_path):
    core, dev, clock, heard = build([HAPPY], cycles=0)
    keeper = keep(core, dev, tmp_path)
    seen = []
    clock.at(6, lambda: seen.append(saved(tmp_path)))  # the song started at the window's end (5 s)
    clock.at(7, lambda: core.send(Command("volume", value=0.3)))
    clock.at(7.5, lambda: seen.append(saved(tmp_path)))
    clock.at(8, lambda: setattr(dev.player, "position", 33.0))
    clock.at(8 + SAVE_EVERY + 0.5, lambda: seen.append(saved(tmp_path)))
    clock.at(20, lambda: setattr(dev.player, "position", 44.0))
    clock.at(20.5, lambda: core.request_stop("SIGTERM"))
    core.run()
    assert seen[0]["song"] == "/songs/happy/happy0.mp3" and seen[0]["folder"] == "happy"
    assert seen[1]["volume"] == 0.3
    assert seen[2]["position"] == 33.0
    last = saved(tmp_path)
    assert (last["song"], last["position"], last["volume"]) == ("/songs/happy/happy0.mp3", 44.0, 0.3)
    assert 4 <= keeper.writes <= 8  # a write every SAVE_EVERY s of play, not every tick


def test_after_the_stop_command_nothing_is_resumed_but_the_volume_is(tmp_path):
    core, dev, clock, heard = build([HAPPY], cycles=0)
    keep(core, dev, tmp_path)
    clock.at(6, lambda: core.send(Command("volume", value=0.5)))
    clock.at(7, lambda: core.send(Command("stop")))
    clock.at(9, lambda: core.request_stop("q"))
    core.run()
    last = saved(tmp_path)
    assert last["song"] is None and last["volume"] == 0.5


def test_a_run_stopped_before_it_followed_anything_leaves_the_last_runs_state(tmp_path):
    core, dev, clock, heard = build([HAPPY], cycles=0)
    path = tmp_path / "data" / "playstate.json"
    save_playstate(path, PlayState("/songs/sad/sad1.mp3", "sad", 30.0, 0.4))
    keep(core, dev, tmp_path)
    core.request_stop("SIGTERM")  # at once: before the first tick
    core.run()
    assert load_playstate(path).song == "/songs/sad/sad1.mp3"


def test_a_state_that_cannot_be_written_is_one_line_and_the_music_goes_on(tmp_path, caplog):
    core, dev, clock, heard = build([HAPPY], cycles=0)
    (tmp_path / "data").write_text("a file where the data folder should be")
    keeper = keep(core, dev, tmp_path)
    clock.at(30, lambda: core.request_stop("q"))
    with caplog.at_level(logging.WARNING):
        assert core.run() == 0
    assert keeper.writes == 0 and dev.player.played() == ["happy0"]
    assert len([r for r in caplog.records if "a restart will not resume" in r.getMessage()]) == 1


# The shuffle rounds across restarts -------------------------------------------------------------

def test_no_song_repeats_before_its_folders_round_is_done_across_restarts(tmp_path, fixtures):
    songs = make_songs(tmp_path / "songs", fixtures, {"happy": [f"h{i}.wav" for i in range(7)],
                                                       "sad": [f"s{i}.wav" for i in range(3)]})
    path, draws = tmp_path / "data" / "playstate.json", []
    for run in range(20):  # each run plays 2 songs, then the player is restarted
        library = Library(songs, rng=random.Random(run))
        state = load_playstate(path)
        if state is not None:
            library.restore(state.rounds)
        draws += [library.next_song("happy").path.name for _ in range(2)]
        library.next_song("sad")
        save_playstate(path, PlayState(rounds=library.rounds()))
    rounds = [draws[i:i + 7] for i in range(0, 35, 7)]
    assert all(len(set(r)) == 7 for r in rounds), rounds


def test_restored_rounds_forget_songs_removed_since(tmp_path, fixtures):
    songs = make_songs(tmp_path / "songs", fixtures, {"happy": ["a.wav", "b.wav", "c.wav"]})
    library = Library(songs, rng=random.Random(0))
    library.restore({"happy": [str(songs / "happy" / "a.wav"), str(songs / "happy" / "gone.wav")]})
    assert {library.next_song("happy").path.name for _ in range(2)} == {"b.wav", "c.wav"}


# run.py's wiring --------------------------------------------------------------------------------

def test_run_py_takes_the_volume_setting_first_then_the_volume_last_set(tmp_path, fixtures):
    from emusify.cli.listening import resume_music
    from emusify.config import Settings
    from emusify.errors import UsageError

    songs = make_songs(tmp_path / "songs", fixtures, {"happy": ["a.ogg", "b.ogg"]})
    library = Library(songs, rng=random.Random(0))
    core, dev, clock, heard = build([HAPPY], cycles=1)
    settings = Settings(data=tmp_path / "data", volume=0.7)
    resume_music(core, settings, library)
    assert dev.player.volume == 0.7 and core.resume_from is None
    song = library.songs("happy")[1]
    save_playstate(tmp_path / "data" / "playstate.json",
                   PlayState(str(song.path), "happy", 0.2, 0.35, {"happy": [str(song.path)]}))
    core, dev, clock, heard = build([HAPPY], cycles=1)
    resume_music(core, settings, library)
    assert dev.player.volume == 0.35
    assert library.next_song("happy").path.name == "a.ogg"  # b played in this round already
    with pytest.raises(UsageError, match="volume must be between 0 and 1"):
        Settings().replace(volume=1.5)
