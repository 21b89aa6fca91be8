"""Mood -> songs folder: ``match`` (play what you feel), ``uplift`` (lift a low mood) or an explicit map.

The policy is configured in one place, ``Settings.policy``. An explicit map reads
``"sad=happy, angry=calm|neutral"``: each mood names its folder, ``|`` lists alternatives in order of
preference. Moods a map does not name play their own folder. When no wanted folder has songs, the
fallback folder (``Settings.fallback``) plays only while nothing plays yet (then any folder will do): a
window led by a mood without songs of its own (surprise, with the demo's four folders) keeps the
music that plays, and the journal still says which mood it was.
"""

from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple, Sequence

from emusify.config import NEUTRAL
from emusify.errors import UsageError

NAMED = ("match", "uplift")

# Low moods get lifted; "calm" is used when the user made such a folder.
UPLIFT: dict[str, tuple[str, ...]] = {
    "sad": ("happy",),
    "angry": ("calm", "neutral"),
    "fear": ("calm", "neutral"),
    "disgust": ("neutral",),
    "contempt": ("neutral",),
}


class Choice(NamedTuple):
    """What to do after a window: ``folder`` None keeps the current music."""

    folder: str | None
    reason: str


class Policy:
    """Which folder plays for a mood, and whether a window changes the music at all."""

    def __init__(
        self,
        name: str,
        targets: Mapping[str, Sequence[str]] | None = None,
        keep_on_neutral: bool = True,
        fallback: str = NEUTRAL,
    ) -> None:
        self.name = name
        self.targets = {mood: tuple(folders) for mood, folders in (targets or {}).items()}
        self.keep_on_neutral = keep_on_neutral
        self.fallback = fallback

    def __repr__(self) -> str:
        return f"Policy({self.name!r})"

    def folder_for(self, mood: str, folders: Iterable[str]) -> str | None:
        """The first folder with songs among the mood's targets, then the fallback; None if neither."""
        available = set(folders)
        for folder in (*self.targets.get(mood, (mood,)), self.fallback):
            if folder in available:
                return folder
        return None

    def has_songs(self, mood: str, folders: Iterable[str]) -> bool:
        """True when one of the mood's own folders (its own, or where the policy sends it) has songs."""
        available = set(folders)
        return any(folder in available for folder in self.targets.get(mood, (mood,)))

    def choose(self, mood: str | None, playing: str | None, folders: Sequence[str]) -> Choice:
        """Decide after a window.

        Args:
            mood: the window's mood, None when unsure.
            playing: the folder of the music playing now, None when nothing plays.
            folders: the folders that hold playable songs.
        """
        if not folders:
            return Choice(None, "no songs to play")
        if mood is None:
            if playing is not None:
                return Choice(None, "unsure: the current music continues")
            why = "" if self.fallback in folders else f" ({self.fallback} has no songs)"
            return Choice(self._any(folders), f"unsure and nothing playing yet{why}")
        if mood == NEUTRAL and self.keep_on_neutral and playing is not None:
            return Choice(None, "neutral: the current music continues")
        if playing is not None and not self.has_songs(mood, folders):
            return Choice(None, f"no songs for {mood}: the current music continues")
        target = self.folder_for(mood, folders)
        if target is None:
            return Choice(self._any(folders), f"no songs for {mood} or {self.fallback}")
        if target == playing:
            return Choice(None, f"{mood}: {target} is already playing")
        return Choice(target, f"{mood} -> {target}")

    def _any(self, folders: Sequence[str]) -> str:
        return self.fallback if self.fallback in folders else sorted(folders)[0]


def parse_policy(
    spec: str,
    keep_on_neutral: bool = True,
    fallback: str = NEUTRAL,
    moods: Iterable[str] | None = None,
) -> Policy:
    """A policy from its setting: ``match``, ``uplift`` or ``"sad=happy, angry=calm|neutral"``.

    Args:
        moods: the emotions the model knows; when given, a map that names another mood is refused.

    Raises:
        UsageError: an unknown name or a malformed map.
    """
    text = spec.strip()
    if text.lower() == "match":
        return Policy("match", {}, keep_on_neutral, fallback)
    if text.lower() == "uplift":
        return Policy("uplift", UPLIFT, keep_on_neutral, fallback)
    if "=" not in text:
        raise UsageError(
            f"unknown policy {spec!r}: use match, uplift or a map such as 'sad=happy,angry=neutral'"
        )
    return Policy(text, _parse_map(text, moods), keep_on_neutral, fallback)


def _parse_map(text: str, moods: Iterable[str] | None) -> dict[str, tuple[str, ...]]:
    known = set(moods) if moods is not None else None
    targets: dict[str, tuple[str, ...]] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        mood, sep, folders = (part.strip() for part in pair.partition("="))
        names = tuple(name.strip() for name in folders.split("|"))
        if not sep or not mood or not all(names):
            raise UsageError(f"policy: cannot read {pair!r}; write mood=folder, e.g. 'sad=happy'")
        if mood in targets:
            raise UsageError(f"policy: {mood!r} is mapped twice; keep one '{mood}=...'")
        if known is not None and mood not in known:
            raise UsageError(f"policy: unknown mood {mood!r}; the model knows {', '.join(sorted(known))}")
        targets[mood] = names
    return targets
