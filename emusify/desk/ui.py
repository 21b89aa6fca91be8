"""What the user sees and types in the terminal: a live status line and single-key controls.

On a terminal the status is one line rewritten in place; otherwise (a pipe, a log file) a plain
line is printed whenever the mood, the song or the phase changes. Keys are read without blocking:
termios + select on POSIX, msvcrt on Windows, and not at all when stdin is not a terminal.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from typing import Any, Callable, TextIO

from emusify.desk.events import KEYS, Command, Listener, PlayerState, command_for_key, mood_keys
from emusify.desk.statustext import Status, format_status

HELP = ("keys: n next song, space/p pause, +/- volume, q quit, c calibrate; a mood's digit corrects "
        "the mood, y confirms it")
MESSAGE_SECONDS = 8.0  # how long a note stays on the status line
DRAW_EVERY = 0.2  # seconds between redraws of the status line


def action_for(key: str | None) -> str | None:
    """The command a key stands for ("next", "play_pause", "quit", ...) or None."""
    return KEYS.get(key.lower()) if key else None


class StatusLine:
    """Shows :class:`Status` snapshots: in place on a terminal, as plain lines elsewhere."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self._last = ""
        self._shown = False
        self._broken = False
        self._filter = _ClearLine(self)
        if self.tty:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self._filter)

    def show(self, status: Status) -> None:
        """Draw the status (terminal) or print it when something other than the clock changed.

        A stream that fails (stdout on a full disk, a closed pipe) ends the status line with one log
        line; the player goes on without it.
        """
        if self._broken:
            return
        try:
            self._draw(status)
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed under us
            self._broken = True
            logging.getLogger(__name__).warning("the status line cannot be written (%s); going on without it",
                                                exc)

    def _draw(self, status: Status) -> None:
        if self.tty:
            text = format_status(status, width=self._columns() - 1)  # the last column would wrap
            if self._shown and text == self._last:
                return
            self.stream.write("\r" + text + "\x1b[K")
            self._shown = True
        else:
            text = format_status(status, with_times=False)
            if text == self._last:
                return
            self.stream.write(text + "\n")
        self._last = text
        self.stream.flush()

    def _columns(self) -> int:
        """The terminal's width now (it may be resized while the player runs); 80 when unknown."""
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # not a real terminal (a test's StringIO)
            return shutil.get_terminal_size((80, 24)).columns

    def clear(self) -> None:
        """Erase the status line so a log message starts on a clean line."""
        if self._shown and not self._broken:
            self._shown = False
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                self._broken = True

    def close(self) -> None:
        """Leave the terminal on a fresh line."""
        self.clear()
        for handler in logging.getLogger().handlers:
            handler.removeFilter(self._filter)


class _ClearLine(logging.Filter):
    """Erases the status line before a log record is written below it."""

    def __init__(self, line: StatusLine) -> None:
        super().__init__()
        self.line = line

    def filter(self, record: logging.LogRecord) -> bool:
        self.line.clear()
        return True


class KeyReader:
    """Non-blocking single keys from the terminal; reads nothing when stdin is not a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stdin
        self._saved: Any = None
        self._fd: int | None = None
        self.active = False

    def __enter__(self) -> KeyReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Switch the terminal to single-key input (POSIX) when stdin is a terminal."""
        try:
            interactive = self.stream.isatty()
        except (AttributeError, ValueError):
            interactive = False
        if not interactive:
            return
        if os.name == "nt":
            self.active = True
            return
        import termios
        import tty

        self._fd = self.stream.fileno()
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)
        self.active = True

    def poll(self) -> list[str]:
        """The keys pressed since the last call (never blocks)."""
        if not self.active:
            return []
        if os.name == "nt":
            import msvcrt

            keys = []
            while msvcrt.kbhit():  # type: ignore[attr-defined]
                keys.append(msvcrt.getwch())  # type: ignore[attr-defined]
            return keys
        import select

        assert self._fd is not None
        if not select.select([self._fd], [], [], 0)[0]:
            return []
        return list(os.read(self._fd, 64).decode("utf-8", "ignore"))

    def close(self) -> None:
        """Give the terminal back as it was (idempotent)."""
        if self._saved is not None and self._fd is not None:
            import termios

            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
        self.active = False


class TerminalUI:
    """The runner's view of the terminal: ``show(status)`` and ``pressed()`` keys."""

    def __init__(self, stream: TextIO | None = None, keys: KeyReader | None = None) -> None:
        self.line = StatusLine(stream)
        self.reader = keys if keys is not None else KeyReader()

    def __enter__(self) -> TerminalUI:
        self.reader.open()
        if self.reader.active:
            logging.getLogger(__name__).info(HELP)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def reads_keys(self) -> bool:
        """Whether keys can be pressed (stdin is a terminal)."""
        return self.reader.active

    def show(self, status: Status) -> None:
        self.line.show(status)

    def pressed(self) -> list[str]:
        return self.reader.poll()

    def close(self) -> None:
        """Restore the terminal and end the status line (idempotent)."""
        self.reader.close()
        self.line.close()


class Terminal(Listener):
    """The terminal front-end: draws the core's state as the status line and turns keys into commands.

    ``ui`` has ``show(Status)`` and ``pressed()`` (a :class:`TerminalUI`, or a fake). The core polls
    it on its own thread (``poll``), so keys and drawing never race the loop.
    """

    name = "terminal"

    def __init__(self, ui: Any, now: Callable[[], float], legend: bool = True) -> None:
        self.ui, self.now, self.legend = ui, now, legend
        self.core: Any = None
        self.reminder: Callable[[], str] = lambda: ""  # standing text until the model is updated (set-up)
        self._message: tuple[str, float] | None = None
        self._drawn = float("-inf")

    def start(self, core: Any) -> None:
        """Listen to ``core`` and become one of its command sources; say the mood keys once.

        The status line shows the mood keys too, but a narrow terminal drops them first.
        """
        self.core = core
        core.add_listener(self)
        core.add_source(self)
        if self.legend and core.state.moods and getattr(self.ui, "reads_keys", True):
            logging.getLogger(__name__).info("mood keys: %s", mood_keys(core.state.moods))

    def close(self) -> None:
        close = getattr(self.ui, "close", None)
        if close is not None:
            close()

    def poll(self) -> list[Command]:
        """The commands of the keys pressed since the last call; redraws the status line."""
        commands = []
        moods = self.core.state.moods if self.core is not None else ()
        for key in self.ui.pressed():
            try:
                command = command_for_key(key, moods, self.name)
            except ValueError as exc:
                self.note(self.now(), str(exc))
                continue
            if command is not None:
                commands.append(command)
        self._draw()
        return commands

    def note(self, when: float, text: str) -> None:
        self._message = (text, self.now() + MESSAGE_SECONDS)
        self._drawn = float("-inf")  # show it at once

    def model_updated(self, when: float, message: str) -> None:
        self.reminder = lambda: ""  # "no personal model: ..." / "learning your moods ..." is over

    def state_changed(self, state: PlayerState) -> None:
        self._draw()

    def volume_changed(self, when: float, volume: float) -> None:
        self.note(when, f"volume {volume:.0%}")

    def _draw(self) -> None:
        now = self.now()
        if self.core is None or now - self._drawn < DRAW_EVERY:
            return
        self._drawn = now
        state: PlayerState = self.core.state
        message = self._message[0] if self._message and now <= self._message[1] else None
        # these stay while they hold: "... press c to recalibrate", "no shot: music stays 2 more windows"
        message = message or state.doubt or state.held or self.reminder() or None
        if state.shot and message:
            self.ui.show(Status(None, 0.0, None, None, 0.0, None, False, True, 0.0, note=message))
            return
        song = state.song
        seconds = (self.core.window_left if state.watching
                   else max((state.next_window or now) - now, 0.0))
        self.ui.show(Status(
            mood=state.mood, share=state.share, artist=getattr(song, "artist", None),
            title=getattr(song, "title", None), position=state.position,
            duration=getattr(song, "duration", None), paused=state.status == "paused",
            watching=state.watching, seconds=seconds,
            keys=mood_keys(state.moods) if self.legend else "", message=message,
            away=away_text(state), no_sound=state.audio_down, locked=lock_text(state)))


def lock_text(state: PlayerState) -> str:
    """``locked: paused`` while the screen is locked (no windows until it is unlocked), else ""."""
    return f"locked: {state.status}" if state.locked_since is not None else ""


def away_text(state: PlayerState) -> str:
    """``away: paused, looking every 1 min`` while the user is away from the desk, else ""."""
    if state.away_since is None:
        return ""
    return f"away: {state.status}, looking every {state.look_every:g} min"
