"""Even loudness: tags, measurements and their cache, the next songs measured ahead, the player's
level, and what the disk audio driver writes."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import stat
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from emusify.music.library import Library
from emusify.music.loudness import Loudness, LoudnessCache, gain_db, tag_loudness, tag_peak
from emusify.music.measure import Measured, measure_in_child
from emusify.music.player import Player

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DEFAULT = 10 ** (-6 / 20)  # an unmeasured song at the default target: taken as -14 LUFS, cut 6 dB


class Song(NamedTuple):
    path: Path
    title: str = "t"
    artist: str | None = None
    duration: float | None = None
    folder: str = "happy"
    loudness: float | None = None
    peak: float | None = None


class FakeMeasure:
    """measure_in_child's stand-in: a loudness per file name, counted."""

    def __init__(self, levels: dict[str, float]) -> None:
        self.levels, self.asked = levels, []

    def __call__(self, paths):
        for path in paths:
            self.asked.append(Path(path).name)
            st = os.stat(path)
            yield Measured(path, (st.st_mtime_ns, st.st_size), self.levels[Path(path).name], 0.5, None)


def loudness_for(tmp_path: Path, measure: Any, **kwargs: Any) -> Loudness:
    return Loudness(LoudnessCache(tmp_path / "data" / "loudness.json"), lambda job: job(), measure, **kwargs)


def a_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"audio " + name.encode())
    return path


# The gains ---------------------------------------------------------------------------------------

def test_a_tagged_song_is_cut_to_the_target_and_a_quiet_one_is_never_raised() -> None:
    assert tag_loudness("-6.20 dB", None) == pytest.approx(-11.8)  # ReplayGain 2: -18 LUFS reference
    assert tag_loudness(None, "-1280") == pytest.approx(-18.0)  # R128: Q7.8 dB to -23 LUFS
    assert tag_loudness("loud", "x") is None and tag_peak("n/a") is None
    assert gain_db(-11.8, None, -20.0) == pytest.approx(-8.2)
    assert gain_db(-25.0, None, -20.0) == 0.0  # pygame's volume stops at 1.0: played as it is
    assert gain_db(-22.0, 1.5, -20.0) == pytest.approx(-20 * math.log10(1.5))  # the peak stays in range
    assert gain_db(None, None, -20.0) == pytest.approx(-6.0)


def test_the_library_reads_replaygain_and_r128_tags(tmp_path: Path) -> None:
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3, TXXX
    from mutagen.oggvorbis import OggVorbis

    for folder in ("happy", "sad"):
        (tmp_path / folder).mkdir()
    ogg, mp3, flac = tmp_path / "happy" / "a.ogg", tmp_path / "happy" / "b.mp3", tmp_path / "sad" / "c.flac"
    shutil.copy(FIXTURES / "short.ogg", ogg)
    shutil.copy(FIXTURES / "short.mp3", mp3)
    shutil.copy(FIXTURES / "tone.flac", flac)
    tags = OggVorbis(ogg)
    tags["REPLAYGAIN_TRACK_GAIN"], tags["REPLAYGAIN_TRACK_PEAK"] = "-6.20 dB", "0.98"
    tags.save()
    id3 = ID3()
    id3.add(TXXX(encoding=3, desc="replaygain_track_gain", text="+2.00 dB"))
    id3.save(mp3)
    tags = FLAC(flac)
    tags["R128_TRACK_GAIN"] = "-1280"
    tags.save()
    songs = {s.path.name: s for f in ("happy", "sad") for s in Library(tmp_path).songs(f)}
    assert songs["a.ogg"].loudness == pytest.approx(-11.8) and songs["a.ogg"].peak == pytest.approx(0.98)
    assert songs["b.mp3"].loudness == pytest.approx(-20.0)
    assert songs["c.flac"].loudness == pytest.approx(-18.0)


def test_an_untagged_song_has_no_loudness_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "happy").mkdir()
    shutil.copy(FIXTURES / "short.ogg", tmp_path / "happy" / "a.ogg")
    assert Library(tmp_path).songs("happy")[0].loudness is None


# The next songs, measured ahead ------------------------------------------------------------------

def test_the_upcoming_song_is_the_one_that_plays_next_and_the_bag_still_plays_each_once(tmp_path):
    import random

    (tmp_path / "happy").mkdir()
    for i in range(5):
        shutil.copy(FIXTURES / "short.ogg", tmp_path / "happy" / f"s{i}.ogg")
    library = Library(tmp_path, rng=random.Random(3))
    rounds = []
    for _ in range(4):
        played = []
        for _ in range(5):
            ahead = library.upcoming("happy")
            assert library.upcoming("happy") == ahead  # asking again draws nothing new
            played.append(library.next_song("happy"))
            assert played[-1] == ahead
        rounds.append(played)
    assert all(len({s.path for s in played}) == 5 for played in rounds)
    assert library.upcoming("sad") is None


def test_an_unmeasured_song_plays_at_the_default_gain_and_is_measured_for_its_next_turn(tmp_path, caplog):
    song = Song(a_file(tmp_path, "loud.mp3"))
    measure = FakeMeasure({"loud.mp3": -12.0})
    loudness = loudness_for(tmp_path, measure)
    with caplog.at_level(logging.INFO, logger="emusify.music.loudness"):
        assert loudness.gain(song) == pytest.approx(DEFAULT)
        assert loudness.gain(song) == pytest.approx(10 ** (-8 / 20))  # -12 LUFS to -20
    assert measure.asked == ["loud.mp3"]
    assert "loud.mp3 plays at -6.0 dB (not measured yet" in caplog.text
    assert "loud.mp3 plays at -8.0 dB (measured -12.0 LUFS)" in caplog.text


def test_tags_are_used_without_measuring(tmp_path: Path) -> None:
    measure = FakeMeasure({})
    song = Song(a_file(tmp_path, "tagged.ogg"), loudness=-15.0, peak=0.9)
    assert loudness_for(tmp_path, measure, target=-23.0).gain(song) == pytest.approx(10 ** (-8 / 20))
    assert measure.asked == []


def test_measurements_are_kept_by_path_size_and_time_and_a_changed_file_is_measured_again(tmp_path):
    song = Song(a_file(tmp_path, "a.ogg"))
    measure = FakeMeasure({"a.ogg": -26.0})
    loudness_for(tmp_path, measure).prefetch([song])
    cache = tmp_path / "data" / "loudness.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    again = loudness_for(tmp_path, measure)  # the next run
    assert again.gain(song) == 1.0  # -26 LUFS is quieter than the target: as it is
    assert measure.asked == ["a.ogg"]
    song.path.write_bytes(b"another mix of the song")
    again.prefetch([song])
    assert measure.asked == ["a.ogg", "a.ogg"]


def test_a_damaged_cache_is_one_line_and_songs_are_measured_again(tmp_path, caplog):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "loudness.json").write_text("{not json")
    song = Song(a_file(tmp_path, "a.ogg"))
    measure = FakeMeasure({"a.ogg": -17.0})
    with caplog.at_level(logging.WARNING):
        loudness_for(tmp_path, measure).prefetch([song])
    assert len(caplog.records) == 1 and "loudness cache" in caplog.text
    assert json.loads((tmp_path / "data" / "loudness.json").read_text())["songs"]


def test_when_a_song_starts_the_songs_that_may_come_next_are_measured(tmp_path: Path) -> None:
    upcoming = [Song(a_file(tmp_path, "next-happy.ogg")), Song(a_file(tmp_path, "next-sad.ogg")), None]
    measure = FakeMeasure({"next-happy.ogg": -15.0, "next-sad.ogg": -19.0})
    loudness = loudness_for(tmp_path, measure, upcoming=lambda: upcoming)
    loudness.on_event("song_started", when=1.0, song=Song(tmp_path / "playing.ogg"))
    loudness.on_event("reference_changed", event="moved")  # other events: nothing
    assert measure.asked == ["next-happy.ogg", "next-sad.ogg"]


def test_a_file_that_cannot_be_measured_is_one_line_plays_at_the_default_gain_and_is_not_tried_again(
        tmp_path, caplog):
    broken = tmp_path / "broken.mp3"
    shutil.copy(FIXTURES / "corrupt.mp3", broken)
    tone = tmp_path / "tone.wav"
    shutil.copy(FIXTURES / "tone.wav", tone)
    asked = []

    def measure(paths):
        asked.extend(paths)
        yield from measure_in_child(paths)  # the real decoder in the real idle-priority child

    loudness = loudness_for(tmp_path, measure)
    with caplog.at_level(logging.WARNING):
        loudness.prefetch([Song(broken), Song(tone)])
        assert loudness.gain(Song(broken)) == pytest.approx(DEFAULT)
        loudness.prefetch([Song(broken)])
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "cannot measure broken.mp3" in lines[0], lines
    assert asked == [str(broken), str(tone)]
    entry = json.loads((tmp_path / "data" / "loudness.json").read_text())["songs"][str(tone)]
    assert -40 < entry["loudness"] < 0 and 0 < entry["peak"] <= 1


# The player's level --------------------------------------------------------------------------------

class Music:
    """pygame.mixer.music's methods, keeping the volume."""

    def __init__(self) -> None:
        self.volume, self.busy = 1.0, False

    def load(self, path: str) -> None:
        pass

    def play(self) -> None:
        self.busy = True

    def stop(self) -> None:
        self.busy = False

    def pause(self) -> None:
        pass

    def unpause(self) -> None:
        pass

    def get_busy(self) -> bool:
        return self.busy

    def set_volume(self, volume: float) -> None:
        self.volume = volume

    def get_volume(self) -> float:
        return self.volume


def test_each_song_plays_at_the_players_volume_times_its_gain() -> None:
    now = [0.0]
    music = Music()
    player = Player(backend=music, clock=lambda: now[0], volume=0.8)
    player.gain = lambda song: 0.5 if song.path.name == "loud.ogg" else 1.0
    player.play(Song(Path("loud.ogg")))
    assert music.volume == pytest.approx(0.4)
    player.pause()
    player.resume()
    assert music.volume == pytest.approx(0.4)
    player.fade_to(Song(Path("quiet.ogg")), 2.0)
    for step in range(1, 5):
        now[0] = step * 0.5
        player.update()
    assert music.volume == pytest.approx(0.8)
    player.play(Song(Path("loud.ogg")), fade_in=1.0)
    now[0] += 1.0
    player.update()
    assert music.volume == pytest.approx(0.4)


def test_a_gain_that_fails_plays_the_song_as_it_is(caplog) -> None:
    music = Music()
    player = Player(backend=music, clock=lambda: 0.0)
    player.gain = lambda song: 1 / 0
    with caplog.at_level(logging.WARNING):
        player.play(Song(Path("a.ogg")))
    assert music.volume == 1.0 and "no loudness gain for a.ogg" in caplog.text


# What is heard ----------------------------------------------------------------------------------

def noise_wav(path: Path, rms_db: float, seconds: float = 4.0) -> None:
    """Stereo noise at 44.1 kHz, ``rms_db`` dBFS, 16-bit."""
    import numpy as np

    rng = np.random.default_rng(len(path.name))
    data = rng.normal(0, 10 ** (rms_db / 20), size=(int(44100 * seconds), 2)).clip(-1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes((data * 32767).astype("<i2").tobytes())


def test_songs_of_different_loudness_are_heard_alike_on_the_disk_audio_driver(tmp_path: Path) -> None:
    from tests.diskplay import heard

    songs = [tmp_path / "songs" / "happy" / "loud.wav", tmp_path / "songs" / "sad" / "quiet.wav"]
    noise_wav(songs[0], -14.0)
    noise_wav(songs[1], -22.0)
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "diskplay.py"), str(out), "on", "-24",
                           *map(str, songs)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if not (out / "1.raw").is_file() or (out / "1.raw").stat().st_size == 0:
        pytest.skip(f"SDL's disk audio driver wrote nothing here: {done.stderr[-300:]}")
    loud, quiet = heard(out / "0.raw"), heard(out / "1.raw")
    assert abs(loud.loudness - quiet.loudness) <= 1.0, (loud, quiet)
    assert loud.clipped == quiet.clipped == 0


def test_a_long_song_measured_a_minute_at_a_time_reads_as_measured_whole(tmp_path: Path) -> None:
    import numpy as np
    import pyloudnorm

    from emusify.music.measure import measure_file

    path = tmp_path / "long.wav"
    noise_wav(path, -16.0, seconds=150.0)
    with wave.open(str(path), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2) / 32768
    quiet = data.copy()
    quiet[44100 * 70: 44100 * 100] *= 0.05  # half a minute 26 dB down: the relative gate leaves it out
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes((quiet * 32767).astype("<i2").tobytes())
    whole = pyloudnorm.Meter(44100).integrated_loudness(quiet)
    loudness, peak, seconds = measure_file(str(path))
    assert loudness == pytest.approx(whole, abs=0.05) and seconds == pytest.approx(150.0, abs=0.01)
    assert peak == pytest.approx(np.abs(quiet).max(), abs=1e-3)
