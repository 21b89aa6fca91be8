"""The songs folder: scanning, tags, the shuffle bag, no repeats, fallbacks and bad files."""

from __future__ import annotations

import logging
import os
import random
import shutil
from pathlib import Path

import pytest

from emusify.errors import LibraryError
from emusify.music.library import Library, names_from_file

ROOT = Path(__file__).resolve().parents[1]


def make_songs(root: Path, fixtures: Path, layout: dict[str, list[str]]) -> Path:
    """songs/<folder>/<name> files; the content is a fixture chosen by the name's extension."""
    sources = {".wav": "tone.wav", ".ogg": "short.ogg", ".mp3": "short.mp3", ".flac": "tone.flac"}
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            target = root / folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = "corrupt.mp3" if "broken" in name else sources.get(target.suffix, "corrupt.mp3")
            shutil.copy(fixtures / source, target)
    return root


def titles(songs: list) -> list[str]:
    return [song.title for song in songs]


def test_shuffle_plays_every_song_once_per_round_and_never_a_recent_one(tmp_path, fixtures):
    names = [f"song{i}.wav" for i in range(7)]
    library = Library(make_songs(tmp_path / "songs", fixtures, {"happy": names}), rng=random.Random(1))
    draws = titles([library.next_song("happy") for _ in range(700)])
    rounds = [draws[i:i + 7] for i in range(0, 700, 7)]
    assert all(sorted(r) == sorted(n[:-4] for n in names) for r in rounds)  # the whole bag before a reshuffle
    window = 3  # memory 5, but at most half of a 7-song folder
    assert all(draws[i] not in draws[max(0, i - window):i] for i in range(len(draws)))
    assert len({tuple(r) for r in rounds}) > 50  # really shuffled, not one fixed order repeated


def test_recent_songs_of_other_folders_count_too(tmp_path, fixtures):
    layout = {"happy": [f"h{i}.wav" for i in range(10)], "sad": [f"s{i}.wav" for i in range(10)]}
    library = Library(make_songs(tmp_path / "songs", fixtures, layout), rng=random.Random(2))
    draws = titles([library.next_song(random.Random(i).choice(["happy", "sad"])) for i in range(400)])
    assert all(draws[i] not in draws[max(0, i - 5):i] for i in range(len(draws)))


def test_a_one_song_folder_repeats_its_song(tmp_path, fixtures):
    library = Library(make_songs(tmp_path / "songs", fixtures, {"sad": ["only.wav"]}), rng=random.Random(0))
    assert titles([library.next_song("sad") for _ in range(5)]) == ["only"] * 5


def test_a_two_song_folder_alternates(tmp_path, fixtures):
    root = make_songs(tmp_path / "songs", fixtures, {"sad": ["a.wav", "b.wav"]})
    library = Library(root, rng=random.Random(0))
    draws = titles([library.next_song("sad") for _ in range(20)])
    assert sorted(set(draws)) == ["a", "b"]
    assert all(x != y for x, y in zip(draws, draws[1:]))


def test_missing_folder_falls_back_to_neutral_and_says_so_once(tmp_path, fixtures, caplog):
    layout = {"happy": ["h.wav"], "neutral": ["n1.wav", "n2.wav"], "fear": []}
    library = Library(make_songs(tmp_path / "songs", fixtures, layout), rng=random.Random(0))
    with caplog.at_level(logging.INFO, logger="emusify.music.library"):
        songs = [library.next_song("fear") for _ in range(4)] + [library.next_song("surprise")]
    assert {song.folder for song in songs} == {"neutral"}
    told = [r.getMessage() for r in caplog.records]
    assert len([m for m in told if "fear" in m]) == 1
    assert len([m for m in told if "surprise" in m]) == 1
    assert library.folders() == ("happy", "neutral")  # the empty folder is not offered


def test_without_the_fallback_folder_any_folder_with_songs_plays(tmp_path, fixtures):
    library = Library(make_songs(tmp_path / "songs", fixtures, {"happy": ["h.wav"]}), fallback="neutral")
    assert library.next_song("sad").title == "h"


@pytest.mark.parametrize("layout", [None, {}, {"happy": [], "sad": ["notes.txt"]}])
def test_no_playable_song_at_all_is_an_error_showing_the_layout(tmp_path, fixtures, layout):
    root = tmp_path / "songs"
    if layout is not None:
        root.mkdir()
        make_songs(root, fixtures, {})
        for folder, names in layout.items():
            (root / folder).mkdir()
            for name in names:
                (root / folder / name).write_text("not music")
    with pytest.raises(LibraryError) as caught:
        Library(root)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{root}/happy/*.mp3" in message and f"{root}/sad/" in message


def test_a_corrupt_file_is_skipped_at_scan_and_reported_once(tmp_path, fixtures, caplog):
    root = make_songs(tmp_path / "songs", fixtures, {"happy": ["good.wav", "broken.mp3"]})
    with caplog.at_level(logging.WARNING, logger="emusify.music.library"):
        library = Library(root, rng=random.Random(0))
        library.scan()
        library.scan()
        draws = {library.next_song("happy").title for _ in range(10)}
    assert draws == {"good"}
    assert len([r for r in caplog.records if "broken.mp3" in r.getMessage()]) == 1


def test_an_unsupported_format_is_reported_once(tmp_path, fixtures, caplog):
    root = make_songs(tmp_path / "songs", fixtures, {"happy": ["good.wav"]})
    (root / "happy" / "track.m4a").write_bytes(b"\0" * 100)
    with caplog.at_level(logging.WARNING, logger="emusify.music.library"):
        library = Library(root)
        library.scan()
    assert [r.getMessage() for r in caplog.records if "track.m4a" in r.getMessage()] == [
        "skipping songs/happy/track.m4a: M4A files are not supported (use MP3, OGG, WAV or FLAC)"]
    assert library.songs("happy")[0].title == "good"


def test_a_song_that_failed_to_play_is_never_offered_again(tmp_path, fixtures, caplog):
    root = make_songs(tmp_path / "songs", fixtures, {"happy": ["a.wav", "b.wav"], "sad": ["s.wav"]})
    library = Library(root, rng=random.Random(0))
    bad = root / "happy" / "a.wav"
    with caplog.at_level(logging.WARNING, logger="emusify.music.library"):
        library.mark_bad(bad, "mpg123 error")
        library.mark_bad(bad, "mpg123 error")
        library.scan()
    assert {library.next_song("happy").title for _ in range(10)} == {"b"}
    assert len([r for r in caplog.records if "a.wav" in r.getMessage()]) == 1
    library.mark_bad(root / "sad" / "s.wav", "unreadable")
    assert library.folders() == ("happy",)
    later = bad.stat().st_mtime_ns + 10**9
    os.utime(bad, ns=(later, later))  # the user replaces the file: it is offered again
    library.scan()
    assert titles(library.songs("happy")) == ["a", "b"]


def test_files_added_and_removed_are_noticed_at_the_next_scan(tmp_path, fixtures, monkeypatch):
    import mutagen

    root = make_songs(tmp_path / "songs", fixtures, {"happy": ["a.wav"]})
    library = Library(root, rng=random.Random(0))
    reads: list[str] = []
    real = mutagen.File
    monkeypatch.setattr(mutagen, "File", lambda path, **kw: reads.append(Path(path).name) or real(path, **kw))
    make_songs(root, fixtures, {"happy": ["b.wav"], "sad": ["s.wav"]})
    library.scan()
    assert sorted(reads) == ["b.wav", "s.wav"]  # the unchanged file's tags are not read again
    assert library.folders() == ("happy", "sad")
    (root / "happy" / "a.wav").unlink()
    library.scan()
    assert {library.next_song("happy").title for _ in range(6)} == {"b"}
    assert sorted(reads) == ["b.wav", "s.wav"]


def test_tags_win_and_the_file_name_fills_in(tmp_path, fixtures):
    layout = {"happy": ["Someone_-_Something.ogg", "Kevin_MacLeod_-_Vibe_Ace.wav", "album/My_Song.wav",
                        "Tagged.mp3", "tone.flac"]}
    library = Library(make_songs(tmp_path / "songs", fixtures, layout))
    songs = {song.path.name: song for song in library.songs("happy")}
    ogg = songs["Someone_-_Something.ogg"]
    assert (ogg.artist, ogg.title) == ("The U.S. Army Strings", "Hungarian Dance No. 5")
    assert ogg.duration == pytest.approx(0.82, abs=0.01)
    wav = songs["Kevin_MacLeod_-_Vibe_Ace.wav"]
    assert (wav.artist, wav.title, wav.duration) == ("Kevin MacLeod", "Vibe Ace", pytest.approx(1.0))
    nested = songs["My_Song.wav"]
    assert (nested.artist, nested.title, nested.folder) == (None, "My Song", "happy")
    assert (songs["Tagged.mp3"].artist, songs["Tagged.mp3"].title) == ("Wolfgang", "8-Bit Battle Loop")
    assert songs["tone.flac"].duration == pytest.approx(0.5)


@pytest.mark.parametrize("name, expected", [
    ("Artist_-_Title.ogg", ("Artist", "Title")),
    ("Karissa_Hobbs_-_Lets_Go_Fishin.ogg", ("Karissa Hobbs", "Lets Go Fishin")),
    ("Band - Song - Live.mp3", ("Band", "Song - Live")),
    ("01 - Intro.mp3", (None, "Intro")),
    ("just_a_title.wav", (None, "just a title")),
])
def test_names_from_file(name, expected):
    assert names_from_file(Path(name)) == expected


def test_the_demo_library_covers_the_four_main_moods(caplog):
    with caplog.at_level(logging.WARNING, logger="emusify.music.library"):
        library = Library(ROOT / "songs")
    assert not caplog.records  # every shipped file reads cleanly
    assert {"happy", "sad", "angry", "neutral"} <= set(library.folders())
    credits = (ROOT / "songs" / "CREDITS.md").read_text(encoding="utf-8")
    for folder in library.folders():
        for song in library.songs(folder):
            assert song.path.name in credits


def test_songs_skipped_more_come_later_in_the_round_but_all_still_play(tmp_path, fixtures):
    names = [f"song{i}.wav" for i in range(4)]
    root = make_songs(tmp_path / "songs", fixtures, {"happy": names})
    skipped = str(root / "happy" / "song0.wav")

    def positions(history) -> tuple[float, list[list[str]]]:
        library = Library(root, rng=random.Random(3), history=history)
        draws = titles([library.next_song("happy") for _ in range(400)])
        rounds = [draws[i:i + 4] for i in range(0, 400, 4)]
        return float(sum(r.index("song0") for r in rounds)) / len(rounds), rounds

    plain, _ = positions(None)
    weighted, rounds = positions(lambda: {skipped: (10, 9), str(root / "happy" / "song1.wav"): (10, 0)})
    assert all(sorted(r) == ["song0", "song1", "song2", "song3"] for r in rounds)  # never dropped
    assert weighted > plain + 0.7  # drawn later (position 0-3 in its round)
    library = Library(root, history=lambda: {skipped: (10, 9)})
    assert library.weight(root / "happy" / "song0.wav") < 0.25 < library.weight(root / "happy" / "song1.wav")


def test_a_broken_history_shuffles_without_it(tmp_path, fixtures, caplog):
    def history():
        raise OSError("journal gone")

    root = make_songs(tmp_path / "songs", fixtures, {"happy": ["a.wav", "b.wav"]})
    library = Library(root, history=history)
    assert library.next_song("happy") is not None
    assert "shuffling without them" in caplog.text
