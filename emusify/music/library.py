"""The songs folder: one sub-folder per emotion, scanned recursively, read with mutagen.

``songs/happy/*.mp3``, ``songs/sad/album/*.ogg``, ... Every sub-folder of the songs folder is an
emotion folder; files below it (at any depth) belong to it. Titles, artists and lengths come from
the tags, with the file name as fallback (``Artist_-_Title.ogg``).

Songs are drawn from a shuffle bag per folder (every song of a folder plays once before any plays
again) and never repeat one of the last few songs played overall. Within a round, songs you skip
less are drawn first: each song weighs 1 / (1 + SKIP_WEIGHT * skips / plays), with plays and early
skips per song from the journal (``history``); a song skipped every time still plays once a round.
A file mutagen cannot read, or that the player could not play (:meth:`Library.mark_bad`), is
reported once by name and skipped.
:meth:`Library.scan` is cheap enough to call every cycle: tags are only read again for files
whose modification time or size changed.
"""

from __future__ import annotations

import logging
import os
import random
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple

from emusify.errors import LibraryError

log = logging.getLogger(__name__)

# Formats pygame 2.6.1 (SDL_mixer) was seen to load and play here, with SDL_AUDIODRIVER=dummy.
EXTENSIONS = frozenset({".mp3", ".ogg", ".wav", ".flac"})
# Audio we recognise but do not play: reported once instead of silently ignored.
SKIP_WEIGHT = 4.0  # a song skipped at every play is drawn 1/5 as often as one never skipped
OTHER_AUDIO = frozenset({".m4a", ".aac", ".wma", ".opus", ".aif", ".aiff", ".ape", ".mp4", ".webm"})


class Song(NamedTuple):
    """One playable file."""

    path: Path
    title: str
    artist: str | None
    duration: float | None  # seconds, None when unknown
    folder: str  # the emotion folder it lives in (its top-level sub-folder of the songs folder)
    loudness: float | None = None  # LUFS from its ReplayGain 2 / R128 track tags (emusify.music.loudness)
    peak: float | None = None  # its ReplayGain track peak (1.0 = full scale), None when untagged


class _Entry(NamedTuple):
    signature: tuple[int, int]  # (mtime_ns, size): a changed file is read again
    song: Song | None  # None: unreadable or unsupported (already reported)


def layout_hint(root: Path) -> str:
    """The expected folder layout, for error messages."""
    kinds = ", ".join(ext[1:].upper() for ext in sorted(EXTENSIONS))
    examples = f"{root}/happy/*.mp3, {root}/sad/..., {root}/neutral/..."
    return f"put {kinds} files in {root}/<emotion>/, e.g. {examples}"


class Library:
    """The emotion folders of ``root`` and the order their songs are played in."""

    def __init__(self, root: Path, fallback: str = "neutral", memory: int = 5,
                 rng: random.Random | None = None,
                 history: Callable[[], Mapping[str, tuple[int, int]]] | None = None) -> None:
        """Scan ``root`` once.

        Args:
            fallback: the folder used when a requested folder has no playable song.
            memory: how many of the last songs played overall are not replayed (fewer in small
                folders: at most half the folder, so a short folder still shuffles).
            rng: the source of randomness (seed it in tests).
            history: returns (plays, skips) per song path (``Journal.song_stats``); read at each
                scan. Set later by assigning ``library.history``.

        Raises:
            LibraryError: ``root`` holds no playable song at all.
        """
        self.root = Path(root)
        self.fallback = fallback
        self.memory = max(0, memory)
        self._rng = rng or random.Random()
        self.history = history
        self._stats: Mapping[str, tuple[int, int]] = {}
        self._cache: dict[Path, _Entry] = {}
        self._bad: dict[Path, tuple[int, int] | None] = {}
        self._folders: dict[str, list[Song]] = {}
        self._played: dict[str, set[Path]] = {}  # this round of each folder's shuffle bag
        self._recent: deque[Path] = deque(maxlen=self.memory)
        self._held: dict[str, Song] = {}  # per folder, the song upcoming() drew for next_song()
        self._told: set[str] = set()  # folders whose fallback was announced
        self._scanned = False
        self.scan()
        if not self._folders:
            raise LibraryError(f"no playable songs in {self.root}/: {layout_hint(self.root)}")

    # Scanning -----------------------------------------------------------------------------------

    def scan(self) -> None:
        """Look at the folders again: new, changed and removed files are noticed."""
        seen: dict[Path, _Entry] = {}
        for folder, path in self._files():
            try:
                stat = path.stat()
            except OSError:  # removed between listing and stat
                continue
            signature = (stat.st_mtime_ns, stat.st_size)
            entry = self._cache.get(path)
            if entry is None or entry.signature != signature:
                entry = _Entry(signature, _read(path, folder, self._where(path)))
            seen[path] = entry
        if self._scanned:
            _log_changes(self._cache, seen)
        self._cache, self._scanned = seen, True
        self._stats = self._read_history()
        self._bad = {p: s for p, s in self._bad.items() if p in seen and s in (None, seen[p].signature)}
        self._index()

    def _files(self) -> Iterator[tuple[str, Path]]:
        try:
            tops = sorted(self.root.iterdir())
        except OSError as exc:
            if not self._scanned or self._cache:
                log.warning("cannot read the songs folder %s (%s)", self.root, exc)
            return
        for top in tops:
            if top.name.startswith("."):
                continue
            if top.is_dir():
                for path in _walk(top):
                    yield top.name, path
            elif top.suffix.lower() in EXTENSIONS and top not in self._cache and not self._scanned:
                log.warning("%s is not in an emotion folder: move it to %s/<emotion>/", top.name, self.root)

    def _index(self) -> None:
        folders: dict[str, list[Song]] = {}
        for path, entry in sorted(self._cache.items()):
            if entry.song is not None and path not in self._bad:
                folders.setdefault(entry.song.folder, []).append(entry.song)
        self._folders = folders

    def _where(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    # Choosing -----------------------------------------------------------------------------------

    def folders(self) -> tuple[str, ...]:
        """Emotion folders that hold at least one playable song, sorted."""
        return tuple(sorted(self._folders))

    def songs(self, folder: str) -> tuple[Song, ...]:
        """The playable songs of ``folder`` (empty when it has none)."""
        return tuple(self._folders.get(folder, ()))

    def next_song(self, folder: str) -> Song | None:
        """The next song for ``folder``; another folder's when it has none; None when nothing plays.

        An empty or missing folder falls back to the fallback folder, then to any folder with
        songs, and says so once per folder.
        """
        if self._folders.get(folder):
            self._told.discard(folder)
            return self._draw(folder)
        other = self._stand_in()
        if other is None:
            return None
        if folder not in self._told:
            self._told.add(folder)
            log.warning("no playable songs in %s/%s/: playing from %s/ instead (add songs to change that)",
                        self.root, folder, other)
        return self._draw(other)

    def _stand_in(self) -> str | None:
        if self._folders.get(self.fallback):
            return self.fallback
        folders = self.folders()
        return self._rng.choice(folders) if folders else None

    def upcoming(self, folder: str) -> Song | None:
        """The song :meth:`next_song` will give for ``folder`` (drawn now and kept till then), so it
        can be prepared while another plays (its loudness measured); None when the folder has none."""
        if not self._folders.get(folder):
            return None
        held = self._held.get(folder)
        if held is None or held not in self._folders[folder]:
            held = self._held[folder] = self._choose(folder)
        return held

    def _draw(self, folder: str) -> Song:
        held = self._held.pop(folder, None)
        song = held if held is not None and held in self._folders[folder] else self._choose(folder)
        self._played.setdefault(folder, set()).add(song.path)
        self._recent.append(song.path)
        return song

    def _choose(self, folder: str) -> Song:
        songs = self._folders[folder]
        paths = {song.path for song in songs}
        played = self._played.setdefault(folder, set())
        played &= paths  # forget removed files
        if played >= paths:  # every song had its turn: a new round of the bag
            played.clear()
        window = min(self.memory, len(songs) // 2)
        recent = set(list(self._recent)[len(self._recent) - window:]) if window else set()
        choices = ([s for s in songs if s.path not in played and s.path not in recent]
                   or [s for s in songs if s.path not in played] or songs)
        weights = [self.weight(s.path) for s in choices]
        if all(w == 1.0 for w in weights):
            return self._rng.choice(choices)
        return self._rng.choices(choices, weights)[0]

    def rounds(self) -> dict[str, list[str]]:
        """Each folder's shuffle round so far and, under "", the last songs played (to keep across runs)."""
        kept = {folder: sorted(map(str, paths)) for folder, paths in self._played.items() if paths}
        return {**kept, "": [str(path) for path in self._recent]}

    def restore(self, rounds: Mapping[str, list[str]]) -> None:
        """Go on with the rounds :meth:`rounds` gave (a new start); songs gone since are left out."""
        for folder, paths in rounds.items():
            if folder:
                self._played[folder] = {Path(path) for path in paths}
        self._recent.extend(Path(path) for path in rounds.get("", ()))

    def weight(self, path: Path) -> float:
        """How likely ``path`` is drawn next to the others of its round: fewer skips per play, higher."""
        plays, skips = self._stats.get(str(path), (0, 0))
        return 1.0 / (1.0 + SKIP_WEIGHT * min(skips, plays) / plays) if plays else 1.0

    def _read_history(self) -> Mapping[str, tuple[int, int]]:
        if self.history is None:
            return {}
        try:
            return self.history()
        except Exception as exc:  # the journal is a nicety here: never stop the music for it
            log.warning("cannot read play and skip counts (%s); shuffling without them", exc)
            return {}

    def mark_bad(self, path: Path, reason: str) -> None:
        """Never offer ``path`` again (until the file changes); reported once."""
        path = Path(path)
        if path in self._bad:
            return
        entry = self._cache.get(path)
        self._bad[path] = entry.signature if entry is not None else None
        log.warning("skipping %s from now on: %s", self._where(path), reason)
        self._index()


def _walk(top: Path) -> Iterator[Path]:
    """Audio files below ``top``, hidden files and folders left out, in a stable order."""
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            suffix = os.path.splitext(name)[1].lower()
            if not name.startswith(".") and (suffix in EXTENSIONS or suffix in OTHER_AUDIO):
                yield Path(folder) / name


def _read(path: Path, folder: str, where: str) -> Song | None:
    """The song's tags and length, or None (reported) when the file cannot be used."""
    if path.suffix.lower() not in EXTENSIONS:
        log.warning("skipping %s: %s files are not supported (use MP3, OGG, WAV or FLAC)",
                    where, path.suffix.lower()[1:].upper())
        return None
    import mutagen  # imported here only: the rest of emusify never needs it

    try:
        info = mutagen.File(path, easy=True)
    except Exception as exc:  # mutagen raises many kinds (MutagenError, struct.error, ...)
        log.warning("skipping %s: cannot read it (%s)", where, exc or type(exc).__name__)
        return None
    if info is None:
        log.warning("skipping %s: not a recognised audio file", where)
        return None
    length = getattr(info.info, "length", None)
    duration = float(length) if length and length > 0 else None
    name_artist, name_title = names_from_file(path)
    title = _tag(info, "title") or name_title
    artist = _tag(info, "artist") or name_artist
    loudness, peak = _replaygain(info)
    return Song(path, title, artist, duration, folder, loudness, peak)


_GAIN_KEYS = ("replaygain_track_gain", "replaygain_track_peak", "r128_track_gain")


def _replaygain(info: object) -> tuple[float | None, float | None]:
    """The track's loudness (LUFS) and peak from its ReplayGain 2 / R128 tags, (None, None) without.

    Vorbis comments and FLAC name them plainly; MP3s keep them in ID3 TXXX frames, whose
    description taggers spell in either case (read through keys registered on EasyID3).
    """
    from emusify.music.loudness import tag_loudness, tag_peak

    _register_txxx()
    gain, peak, r128 = (_tag(info, key) or _tag(info, "txxx:" + key) for key in _GAIN_KEYS)
    return tag_loudness(gain, r128), tag_peak(peak)


def _register_txxx() -> None:
    from mutagen.easyid3 import EasyID3

    if "txxx:" + _GAIN_KEYS[0] in EasyID3.Get:
        return

    def txxx(id3: Any, key: str) -> list[str]:
        wanted = key.split(":", 1)[1]
        for frame in id3.getall("TXXX"):
            if frame.desc.lower() == wanted:
                return [str(text) for text in frame.text]
        raise KeyError(key)

    for key in _GAIN_KEYS:
        EasyID3.RegisterKey("txxx:" + key, txxx)


def _tag(info: object, key: str) -> str | None:
    try:
        values = info.tags.get(key) if info.tags is not None else None  # type: ignore[attr-defined]
    except Exception:  # a tag format without that key or with a broken frame
        return None
    if isinstance(values, (list, tuple)):
        values = values[0] if values else None
    text = str(values).strip() if values is not None else ""
    return text or None


def names_from_file(path: Path) -> tuple[str | None, str]:
    """(artist, title) from a file name: ``Artist_-_Title.ogg`` -> ("Artist", "Title")."""
    stem = " ".join(path.stem.replace("_", " ").split())
    artist, sep, title = stem.partition(" - ")
    if not sep or not title.strip():
        return None, stem or path.name
    if artist.strip().isdigit():  # "01 - Title": a track number, not an artist
        return None, title.strip()
    return artist.strip() or None, title.strip()


def _log_changes(before: dict[Path, _Entry], after: dict[Path, _Entry]) -> None:
    added = [p.name for p in after if p not in before]
    removed = [p.name for p in before if p not in after]
    if added:
        log.info("new in the songs folder: %s", ", ".join(added))
    if removed:
        log.info("gone from the songs folder: %s", ", ".join(removed))
