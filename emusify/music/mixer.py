"""pygame's mixer, the audio output the player drives: opening and closing it, and telling a failed
output from a bad file.

The only module that imports pygame (lazily). :mod:`emusify.music.player` holds the playback logic
and tests it with a fake backend in place of ``pygame.mixer.music``.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from emusify.errors import AudioError, LibraryError

# Formats SDL_mixer 2.6 (pygame 2.6.1) seeks in, checked on real files with the disk driver
# (tests/test_player.py, docs/results/listening.md); a file that refuses all the same is remembered.
SEEKABLE = frozenset({".mp3", ".ogg", ".wav", ".flac"})


def pygame_music() -> Any:
    """Open the audio output and return ``pygame.mixer.music``.

    Raises:
        AudioError: no audio output could be opened.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    try:
        if not pygame.mixer.get_init():
            pygame.mixer.init()
    except pygame.error as exc:
        raise AudioError(
            f"no audio output: {exc}; check the sound device, or on a machine without a sound card "
            "set SDL_AUDIODRIVER=dummy"
        ) from None
    return pygame.mixer.music


@contextmanager
def device_errors() -> Iterator[None]:
    """A mixer call that fails other than on a song (pygame.error) means the output failed: AudioError."""
    try:
        yield
    except (AudioError, LibraryError):
        raise
    except Exception as exc:  # noqa: BLE001 - pygame.error and whatever SDL raises on a lost device
        raise AudioError(f"the sound device failed ({exc})") from None


def output_gone(exc: Exception) -> bool:
    """Whether a failure names the audio output rather than the file (pygame's own wording)."""
    text = str(exc).lower()
    return "not initialized" in text or "audio device" in text


def close_pygame() -> None:
    """Close the mixer when it is open."""
    import pygame

    if pygame.mixer.get_init():
        pygame.mixer.quit()
