"""run.py's music as a listener keeps it: the state the last run left, and even loudness.

The pieces live in emusify.desk.playstate (the state file and its keeper) and emusify.music.loudness /
measure (the gain per song, measured in a child process); this module wires them to the core.
"""

from __future__ import annotations

from typing import Any

from emusify.config import Settings
from emusify.desk.core import Core
from emusify.desk.devices import Devices


def resume_music(core: Core, settings: Settings, library: Any) -> None:
    """What the last run left (DATA/playstate.json): the volume (else the ``volume`` setting), each
    folder's shuffle round and the song to resume before any window; and the keeper that writes it."""
    from emusify.desk.playstate import FILE_NAME, StateKeeper, load_playstate, resume_point

    path = settings.data / FILE_NAME
    state = load_playstate(path)
    core.dev.player.set_volume(state.volume if state is not None else settings.volume)
    if state is not None:
        library.restore(state.rounds)
        core.resume_from = resume_point(state, library)
    StateKeeper(path, library).start(core)


def add_loudness(core: Core, devices: Devices, settings: Settings) -> Any:
    """Even loudness (settings loudness, loudness_target): the player's gain per song, and the
    songs each folder plays next measured in the background (emusify.music.loudness); None when off."""
    if not settings.loudness:
        return None
    from emusify.desk.worker import Worker
    from emusify.music.loudness import Loudness, LoudnessCache, cache_path
    from emusify.music.measure import measure_in_child

    library = devices.library
    loudness = Loudness(LoudnessCache(cache_path(settings.data)), Worker("emusify-loudness").start,
                        measure_in_child, settings.loudness_target,
                        upcoming=lambda: [library.upcoming(folder) for folder in library.folders()])
    devices.player.gain = loudness.gain
    core.add_listener(loudness)
    loudness.prefetch(loudness.upcoming())  # one song per folder, measured during the first window
    return loudness
