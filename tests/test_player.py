"""The player: fades driven by update() against a clock, end of song, pause, bad files, real mixer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import NamedTuple

import pytest

from emusify.errors import AudioError, LibraryError
from emusify.music.player import Player


class Song(NamedTuple):
    path: Path
    title: str
    artist: str | None = None
    duration: float | None = None
    folder: str = "happy"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeMusic:
    """pygame.mixer.music's methods; a song plays for ``length`` seconds of the fake clock."""

    def __init__(self, clock: Clock, length: float = 60.0) -> None:
        self.clock, self.length = clock, length
        self.loaded: str | None = None
        self.volume = 1.0
        self.volumes: list[float] = []
        self.playing = self.paused = False
        self.played = 0.0
        self.since = 0.0

    def load(self, path: str) -> None:
        if "corrupt" in path:
            raise RuntimeError("mpg123_getformat: I am done with this track")
        self.loaded, self.playing = path, False

    def play(self, start: float = 0.0) -> None:
        if start and "noseek" in str(self.loaded):
            raise RuntimeError("Position not implemented for music type")
        self.playing, self.paused, self.played, self.since = True, False, start, self.clock()

    def set_pos(self, seconds: float) -> None:
        if "noseek" in str(self.loaded):
            raise RuntimeError("Position not implemented for music type")
        self.played, self.since = seconds, self.clock()

    def stop(self) -> None:
        self.playing = False

    def pause(self) -> None:
        self.played += self.clock() - self.since
        self.paused = True

    def unpause(self) -> None:
        self.paused, self.since = False, self.clock()

    def set_volume(self, volume: float) -> None:
        self.volume = volume
        self.volumes.append(round(volume, 3))

    def get_volume(self) -> float:
        return self.volume

    def get_busy(self) -> bool:  # like pygame 2: False while paused
        return self.playing and not self.paused and self.played + self.clock() - self.since < self.length


A, B, BAD = Song(Path("/m/a.ogg"), "a"), Song(Path("/m/b.ogg"), "b"), Song(Path("/m/corrupt.mp3"), "bad")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def music(clock) -> FakeMusic:
    return FakeMusic(clock)


@pytest.fixture
def never_sleep(monkeypatch):
    def refuse(seconds: float) -> None:
        raise AssertionError(f"the player slept {seconds} s: it must never block")

    monkeypatch.setattr(time, "sleep", refuse)


def at(clock: Clock, player: Player, t: float) -> float:
    """Move the clock to ``t`` seconds after 100, update, return the volume."""
    clock.t = 100.0 + t
    player.update()
    return player._music.volume


def test_play_fades_in_over_the_given_seconds(clock, music, never_sleep):
    player = Player(backend=music, clock=clock)
    player.play(A, fade_in=2.0)
    assert music.loaded == "/m/a.ogg" and music.volume == 0.0
    assert [at(clock, player, t) for t in (0.5, 1.0, 2.0, 3.0)] == [0.25, 0.5, 1.0, 1.0]
    assert player.current == A and player.busy


def test_fade_to_fades_out_then_the_new_song_in(clock, music, never_sleep):
    player = Player(backend=music, clock=clock)
    player.play(A)
    player.fade_to(B, 4.0)  # 2 s out, 2 s in
    assert at(clock, player, 1.0) == 0.5
    assert player.current == A and player.busy and music.loaded == "/m/a.ogg"
    assert at(clock, player, 2.0) == 0.0
    assert player.current == B and music.loaded == "/m/b.ogg" and player.busy
    assert at(clock, player, 3.0) == 0.5
    assert at(clock, player, 4.0) == 1.0
    assert player.position == pytest.approx(2.0)


def test_fade_to_with_nothing_playing_just_fades_in(clock, music):
    player = Player(backend=music, clock=clock)
    player.fade_to(B, 2.0)
    assert player.current == B and at(clock, player, 0.5) == 0.5


def test_the_song_ending_makes_the_player_not_busy(clock, music):
    music.length = 3.0
    player = Player(backend=music, clock=clock)
    player.play(A)
    at(clock, player, 2.9)
    assert player.busy and player.current == A
    at(clock, player, 3.1)
    assert not player.busy and player.current is None and player.position == 0.0


def test_stop_with_a_fade_out(clock, music):
    player = Player(backend=music, clock=clock)
    player.play(A)
    player.stop(fade_out=2.0)
    assert at(clock, player, 1.0) == 0.5 and player.busy
    at(clock, player, 2.0)
    assert not player.busy and not music.playing and player.current is None
    player.stop()  # stopping again is harmless


def test_pause_freezes_position_and_stays_busy(clock, music):
    player = Player(backend=music, clock=clock)
    player.play(A)
    clock.t += 5
    player.toggle_pause()
    clock.t += 100  # longer than the song: a paused song does not end
    player.update()
    assert player.busy and player.paused and player.position == pytest.approx(5.0)
    player.toggle_pause()
    clock.t += 1
    player.update()
    assert player.busy and not player.paused and player.position == pytest.approx(6.0)


def test_pausing_during_a_fade_to_starts_the_new_song_paused(clock, music):
    player = Player(backend=music, clock=clock)
    player.play(A)
    player.fade_to(B, 4.0)
    at(clock, player, 1.0)
    player.pause()
    assert player.current == B and player.paused and music.volume == 1.0


def test_a_new_volume_is_heard_at_once_and_a_fade_under_way_ends_at_it(clock, music, never_sleep):
    player = Player(backend=music, clock=clock)
    player.play(A)
    player.set_volume(0.4)
    assert music.volume == 0.4
    player.fade_to(B, 4.0)
    assert at(clock, player, 1.0) == pytest.approx(0.2)  # halfway out from 0.4
    player.set_volume(0.8)  # the slider moves during the fade: it now goes from 0.8
    assert at(clock, player, 1.5) == pytest.approx(0.2)
    at(clock, player, 2.0)  # B starts
    assert at(clock, player, 4.0) == pytest.approx(0.8)  # B faded in to the new volume
    player.set_volume(7)
    assert player.volume == 1.0 and music.volume == 1.0


def test_a_fade_in_at_volume_0_goes_to_the_volume_set_during_it(clock, music):
    player = Player(backend=music, clock=clock, volume=0.0)
    player.play(A, fade_in=2.0)
    player.set_volume(0.5)
    assert at(clock, player, 2.0) == pytest.approx(0.5)


def test_a_paused_song_keeps_the_new_volume_for_its_resume(clock, music):
    player = Player(backend=music, clock=clock)
    player.play(A)
    player.pause()
    player.set_volume(0.3)
    player.resume()
    assert music.volume == pytest.approx(0.3)


def test_seek_moves_the_position_playing_and_paused(clock, music):
    player = Player(backend=music, clock=clock)
    player.play(A)
    clock.t += 5
    player.seek(42.0)
    assert player.position == pytest.approx(42.0) and music.played == 42.0
    clock.t += 1
    player.pause()
    player.seek(10.0)
    assert player.position == pytest.approx(10.0)
    player.resume()
    clock.t += 2
    assert player.position == pytest.approx(12.0)


def test_play_from_a_position(clock, music):
    player = Player(backend=music, clock=clock)
    player.play(A, fade_in=1.0, start=30.0)
    assert player.position == pytest.approx(30.0) and music.played == 30.0
    assert at(clock, player, 1.0) == 1.0


def test_a_song_that_cannot_seek_says_so_and_starts_from_its_beginning(clock, music, caplog):
    song = Song(Path("/m/noseek.ogg"), "stuck")
    player = Player(backend=music, clock=clock)
    assert player.can_seek(song) and player.can_seek(A)
    assert not player.can_seek(Song(Path("/m/a.mid"), "midi"))
    player.play(song, start=30.0)  # the decoder refuses: from 0, one line
    assert player.position == 0.0 and player.current == song
    assert "cannot start 30 s in" in caplog.text
    assert not player.can_seek(song)
    with pytest.raises(LibraryError, match="noseek.ogg cannot seek"):
        player.seek(5.0)


def test_a_file_that_will_not_play_raises_library_error(clock, music):
    player = Player(backend=music, clock=clock)
    with pytest.raises(LibraryError, match="corrupt.mp3"):
        player.play(BAD)
    assert not player.busy and player.current is None


def test_a_bad_file_reached_by_a_fade_is_reported_not_raised(clock, music):
    reported: list[tuple[Path, str]] = []
    player = Player(backend=music, clock=clock, on_error=lambda path, why: reported.append((path, why)))
    player.play(A)
    player.fade_to(BAD, 2.0)
    at(clock, player, 1.0)
    assert [path for path, _ in reported] == [BAD.path]
    assert not player.busy and player.current is None


def test_close_stops_and_is_idempotent(clock, music):
    with Player(backend=music, clock=clock) as player:
        player.play(A)
    player.close()
    assert not music.playing


def test_no_audio_device_is_an_audio_error_naming_sdl_audiodriver(monkeypatch):
    import pygame

    def no_device() -> None:
        raise pygame.error("No available audio device")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: None)
    monkeypatch.setattr(pygame.mixer, "init", no_device)
    with pytest.raises(AudioError) as caught:
        Player()
    message = str(caught.value)
    assert message.startswith("no audio output: No available audio device")
    assert "SDL_AUDIODRIVER=dummy" in message and "\n" not in message


# The real mixer (SDL_AUDIODRIVER=dummy in conftest): every format plays to its end. --------------

def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tone.wav", "short.ogg", "short.mp3", "tone.flac"])
def test_real_mixer_plays_each_format_to_the_end(fixtures, name):
    with Player() as player:
        player.play(Song(fixtures / name, name))
        assert player.busy
        assert wait_until(lambda: (player.update(), not player.busy)[1], 5.0)
        assert player.current is None


@pytest.mark.slow
def test_real_mixer_refuses_a_corrupt_file(fixtures):
    with Player() as player, pytest.raises(LibraryError, match="corrupt.mp3"):
        player.play(Song(fixtures / "corrupt.mp3", "corrupt"))


@pytest.mark.slow
def test_real_mixer_fade_to_switches_songs_without_blocking(fixtures):
    with Player() as player:
        player.play(Song(fixtures / "tone.wav", "tone"))
        started = time.monotonic()
        player.fade_to(Song(fixtures / "short.ogg", "ogg"), 0.4)
        assert time.monotonic() - started < 0.05
        switched = lambda: (player.update(), getattr(player.current, "title", None) == "ogg")[1]  # noqa: E731
        assert wait_until(switched, 2.0)
        assert player.busy


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tone.wav", "short.ogg", "short.mp3", "tone.flac"])
def test_real_mixer_seeks_in_each_format(fixtures, name):
    """SDL_mixer seeks in every format the library plays (SEEKABLE); docs/results/listening.md
    checks on the mixer's real output that it lands where it says."""
    with Player() as player:
        song = Song(fixtures / name, name)
        player.play(song, start=0.1)
        assert player.current == song and player.can_seek(song)
        player.pause()
        player.seek(0.05)
        assert player.can_seek(song) and player.position == pytest.approx(0.05)
