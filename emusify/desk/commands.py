"""What each :class:`~emusify.desk.events.Command` does to the core (on the core's thread).

Kept apart from the loop (emusify.desk.core) so each stays short; ``handle`` is the only entry.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from emusify.desk.events import Command
from emusify.desk.feedback import SKIP_SECONDS, Saved
from emusify.desk.lockwatch import LOCK_COMMANDS, STEERING

if TYPE_CHECKING:
    from emusify.desk.core import Core

log = logging.getLogger(__name__)


def handle(core: Core, command: Command) -> None:
    """Do ``command``; one that cannot apply now (no song yet, no feedback) does nothing or says why."""
    name = command.name
    if name in LOCK_COMMANDS or name in STEERING:  # the screen's lock (emusify.desk.lockwatch)
        core.lock.follow(name)
        if name in LOCK_COMMANDS:
            return
    if name in SOUND:
        _sound(core, command)
        return
    if name == "quit":
        local = command.source in ("", "terminal", "preview")
        core.request_stop("q" if local else f"quit ({command.source})")
    elif name == "play_pause":
        if core.music.status == "playing":
            core.music.pause()
        else:
            core.music.resume()
    elif name == "play":
        core.music.resume()
    elif name == "pause":
        core.music.pause()
    elif name == "stop":
        core.music.stop(core.settings.fade)
    elif name == "next":
        _next(core)
    elif name == "correct":
        _correct(core, command.mood or "")
    elif name == "confirm":
        _confirm(core)
    elif name == "calibrate":
        _calibrate(core)
    elif name == "skip_shot":
        core.shot.skip = True


VOLUME_STEP = 0.05  # what + and - change the volume by
SOUND = ("volume", "louder", "quieter", "seek", "position")


def _sound(core: Core, command: Command) -> None:
    """Volume and position: the desktop's slider and progress bar, + and - in the terminal.

    A seek past the song's end plays the next song (as MPRIS asks); a position past it does nothing.
    """
    music, name, value = core.music, command.name, command.value or 0.0
    if name in ("volume", "louder", "quieter"):
        step = {"louder": VOLUME_STEP, "quieter": -VOLUME_STEP}.get(name)
        volume = core.dev.player.volume + step if step is not None else value
        music.set_volume(round(volume, 3))
        return
    if music.song is None or music.stopped:
        return
    target = core.dev.player.position + value if name == "seek" else value
    duration = getattr(music.song, "duration", None)
    if duration and target >= duration:
        if name == "seek":
            _next(core)
        return
    music.seek(target)


def _next(core: Core) -> None:
    """The next song of the current folder (after a stop too); early in a song it counts as a skip."""
    music = core.music
    if music.folder is None:
        return
    if music.paused:
        core.dev.player.resume()
        music.paused = False
    was_stopped, before = music.stopped, music.song
    music.start(music.folder, fade=0.0, ended=skip_event(core))
    if before is not None and music.song is not None and music.song.path == before.path:
        core._note(f"no other song plays in {music.folder}: it starts again (add songs to its folder)")
    if was_stopped and not music.stopped:
        core._tell("resumed", when=core.clock.now())


def skip_event(core: Core) -> str:
    """``skip`` within SKIP_SECONDS of the song's start, else ``next``; a skip burst is a doubt."""
    now, music = core.clock.now(), core.music
    if music.song is None or now - music.song_at >= SKIP_SECONDS:
        return "next"
    doubted = core.skip_watch.skipped(now)
    if doubted is not None:
        core._tell("mood_doubted", when=now, window=doubted[0], mood=doubted[1])
        core._note("skipping after a mood change: noted as a doubted mood (a digit corrects it)")
    return "skip"


def _correct(core: Core, mood: str) -> None:
    """"My mood is ``mood``": save the last window as it, and move the music there now."""
    feedback = core.dev.feedback
    if feedback is None:
        core._note("corrections are off in this run")
        return
    _saved(core, mood, "correction", feedback.last.mood if feedback.last else None,
           feedback.save(mood, "correction"))
    if feedback.last is None:  # no window yet: nothing to correct
        return
    music = core.music
    folder = core.policy.folder_for(mood, core.dev.library.folders())
    if folder is None or (folder == music.folder and music.song is not None and not music.stopped):
        return
    log.info("corrected to %s: playing from %s", mood, folder)
    if music.paused:
        core.dev.player.resume()
        music.paused = False
    music.stopped = False
    music.start(folder, fade=core.settings.fade, ended="end")


def _confirm(core: Core) -> None:
    """"Right": save the last window under the mood it read."""
    feedback = core.dev.feedback
    last = feedback.last if feedback is not None else None
    if feedback is None or last is None or last.mood is None:
        why = ("corrections are off in this run" if feedback is None
               else "no window yet" if last is None else "the last window was unsure")
        core._note(f"nothing to confirm: {why}")
        return
    _saved(core, last.mood, "confirmed", last.mood, feedback.save(last.mood, "confirmed"))


def _saved(core: Core, mood: str, kind: str, read: str | None, saved: Saved) -> None:
    core._tell("correction_saved", when=core.clock.now(), mood=mood, kind=kind, read=read,
               message=saved.message, window=saved.window, frames=saved.frames)
    core._note(saved.message)


def _calibrate(core: Core) -> None:
    """A new calibration shot before the next window."""
    if core.dev.calibration is None:
        core._note("this model reads no reference face: nothing to calibrate")
        return
    core.shot.due = True
    core._note("a calibration shot comes before the next window")
