"""Start at login: the file each desktop reads to start run.py when the user logs in.

- Linux and other freedesktop systems: an XDG autostart entry,
  ``$XDG_CONFIG_HOME/autostart/emusify.desktop`` (``~/.config`` when unset).
- Windows: ``emusify.vbs`` in the Startup folder (``%APPDATA%\\Microsoft\\Windows\\Start
  Menu\\Programs\\Startup``); a VBScript rather than a .bat so that no console window stays open.
- macOS: a LaunchAgent, ``~/Library/LaunchAgents/org.emusify.player.plist``.

Each starts the Python that ran ``--autostart on`` (a venv's python stays the venv's: the path is not
resolved) on the absolute path of run.py with ``--headless``, in the folder it was run from, so the
player finds the same setup.cfg, songs and data folder. Pure file writing: the platform, the
environment and the home folder come in as arguments, so all three are tested on any system.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, NamedTuple, Sequence

from emusify.errors import UsageError

LABEL = "org.emusify.player"
# Characters that make the Desktop Entry spec require an Exec argument to be quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class Launch(NamedTuple):
    """What the entry starts: ``python script *args`` in ``folder``."""

    python: Path
    script: Path
    folder: Path
    args: tuple[str, ...] = ("--headless",)

    @property
    def argv(self) -> list[str]:
        return [str(self.python), str(self.script), *self.args]


def entry_path(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """Where the start-at-login file goes on ``platform`` (a ``sys.platform`` value).

    Raises:
        UsageError: Windows without %APPDATA%.
    """
    if platform == "win32":
        appdata = env.get("APPDATA")
        if not appdata:
            raise UsageError("APPDATA is not set, so the Startup folder is unknown; "
                             "run --autostart from a normal Windows session")
        return Path(appdata, "Microsoft", "Windows", "Start Menu", "Programs", "Startup", "emusify.vbs")
    if platform == "darwin":
        return Path(home, "Library", "LaunchAgents", f"{LABEL}.plist")
    config = env.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path(home, ".config")  # the spec: relative is ignored
    return base / "autostart" / "emusify.desktop"


def entry_text(platform: str, launch: Launch) -> bytes:
    """The file's content for ``platform``."""
    if platform == "win32":
        return windows_script(launch)
    if platform == "darwin":
        return launch_agent(launch)
    return desktop_entry(launch).encode("utf-8")


def install(platform: str, launch: Launch, env: Mapping[str, str], home: Path) -> Path:
    """Write (or replace) the start-at-login file atomically; its path."""
    path = entry_path(platform, env, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(entry_text(platform, launch))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove(platform: str, env: Mapping[str, str], home: Path) -> Path | None:
    """Delete the start-at-login file; its path, or None when there was none."""
    path = entry_path(platform, env, home)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


# The three formats -------------------------------------------------------------------------------


def desktop_entry(launch: Launch) -> str:
    """An XDG autostart entry (Desktop Entry Specification 1.5)."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=Emusify",
        "Comment=Plays music for your mood; written by run.py --autostart on, removed by --autostart off",
        f"Exec={_key_value(exec_line(launch.argv))}",
        f"Path={_key_value(str(launch.folder))}",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
    ]
    return "\n".join(lines) + "\n"


def exec_line(argv: Sequence[str]) -> str:
    """``argv`` as an Exec value: reserved characters quoted, ``%`` doubled (before key escaping)."""
    return " ".join(_exec_arg(arg) for arg in argv)


def _exec_arg(arg: str) -> str:
    arg = arg.replace("%", "%%")  # a field code otherwise
    if not arg or _RESERVED & set(arg):
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return f'"{escaped}"'
    return arg


def _key_value(text: str) -> str:
    """A string value as a key file stores it: backslash and control characters escaped."""
    return (text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r"))


def launch_agent(launch: Launch) -> bytes:
    """A LaunchAgent property list: started once at login in the user's graphical session."""
    agent = {
        "Label": LABEL,
        "ProgramArguments": launch.argv,
        "WorkingDirectory": str(launch.folder),
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",  # plays music and reads the camera: not a background job
        "LimitLoadToSessionType": "Aqua",  # the desktop session, not an ssh login
    }
    return plistlib.dumps(agent)


def windows_script(launch: Launch) -> bytes:
    """A VBScript that starts the player with its window hidden, in UTF-16 (any path's letters)."""
    command = subprocess.list2cmdline(launch.argv)
    text = "\r\n".join([
        "' Emusify: start at login. Written by run.py --autostart on; --autostart off removes it.",
        'Set shell = CreateObject("WScript.Shell")',
        f"shell.CurrentDirectory = {_vbs_string(str(launch.folder))}",
        f"shell.Run {_vbs_string(command)}, 0, False",
        "",
    ])
    return b"\xff\xfe" + text.encode("utf-16-le")  # Windows Script Host reads UTF-16 LE with its BOM


def _vbs_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
