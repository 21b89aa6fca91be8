"""run.py --autostart on|off: the start-at-login file for Linux, macOS and Windows, written on any system."""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emusify.cli import run
from emusify.desk import autostart

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh user: HOME and XDG_CONFIG_HOME in a temporary folder, run from the project folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("EMUSIFY_CONFIG", str(tmp_path / "none.cfg"))
    monkeypatch.chdir(ROOT)
    return tmp_path


def read_exec(path: Path) -> tuple[list[str], str]:
    """The Exec line as argv and the Path key, decoded as a desktop would (key file, then quoting)."""
    entry = configparser.ConfigParser(interpolation=None, strict=True)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(path, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Terminal"] == "false"

    def unescape(value: str) -> str:
        out, chars = [], iter(value)
        escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
        for c in chars:
            out.append(escapes[next(chars)] if c == "\\" else c)
        return "".join(out)

    argv = [arg.replace("%%", "%") for arg in split_exec(unescape(section["Exec"]))]  # %% is a literal %
    return argv, unescape(section["Path"])


def split_exec(line: str) -> list[str]:
    """The Desktop Entry spec's Exec quoting: double quotes, inside them \\ escapes " ` $ and \\."""
    args, current, quoted, escaped, started = [], [], False, False, False
    for c in line:
        if escaped:
            assert c in '"`$\\', f"{c!r} may not be escaped"
            current.append(c)
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started or current:
                args.append("".join(current))
            current, started = [], False
        else:
            assert quoted or c not in '"`$\\<>~|&;*?#()\'\t', f"{c!r} must be quoted in {line!r}"
            current.append(c)
    assert not quoted and not escaped, line
    return args + (["".join(current)] if started or current else [])


def validate(path: Path) -> None:
    """desktop-file-validate (desktop-file-utils) agrees, where it is installed."""
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def start(argv: list[str], folder: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
    return subprocess.run([*argv, *extra], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_on_writes_an_xdg_entry_whose_exec_starts_this_projects_run_py(home, capsys):
    assert run.main(["--autostart", "on"]) == 0
    path = home / "config" / "autostart" / "emusify.desktop"
    out = capsys.readouterr().out
    assert f"wrote {path}" in out and "--autostart off" in out
    argv, folder = read_exec(path)
    assert argv == [sys.executable, str(ROOT / "run.py"), "--headless"]
    assert folder == str(ROOT)
    validate(path)
    done = start(argv, folder, "--help")  # the entry really starts run.py with this Python
    assert done.returncode == 0, done.stderr
    assert "--autostart on|off" in done.stdout


def test_off_removes_it_and_off_again_says_nothing_was_there(home, capsys):
    path = home / "config" / "autostart" / "emusify.desktop"
    assert run.main(["--autostart", "on"]) == 0
    assert path.is_file()
    capsys.readouterr()
    assert run.main(["--autostart", "off"]) == 0
    assert not path.exists()
    assert f"removed {path}" in capsys.readouterr().out
    assert run.main(["--autostart", "off"]) == 0
    assert "was not set up" in capsys.readouterr().out


def test_without_xdg_config_home_the_entry_goes_under_home_config(home, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert run.main(["--autostart", "on"]) == 0
    assert (home / "home" / ".config" / "autostart" / "emusify.desktop").is_file()


def test_flags_given_with_on_reach_the_autostarted_player_as_absolute_paths(home):
    assert run.main(["--autostart", "on", "--source", "1", "--data", "mydata", "--policy", "uplift"]) == 0
    argv, _ = read_exec(home / "config" / "autostart" / "emusify.desktop")
    assert argv[2:] == ["--headless", "--data", str(ROOT / "mydata"), "--source", "1", "--policy", "uplift"]


def test_paths_with_spaces_quotes_and_percent_survive_the_exec_line(tmp_path):
    """A project under a folder named like a user might name it: the Exec line still starts it."""
    odd = tmp_path / "My Music $HOME \"100%\" it's `here` back\\slash"
    odd.mkdir()
    (odd / "emusify").symlink_to(ROOT / "emusify")
    shutil.copy(ROOT / "run.py", odd / "run.py")
    launch = autostart.Launch(Path(sys.executable), odd / "run.py", odd)
    path = autostart.install("linux", launch, {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}, tmp_path)
    validate(path)
    argv, folder = read_exec(path)
    assert argv == [sys.executable, str(odd / "run.py"), "--headless"]
    assert folder == str(odd)
    done = start(argv, folder, "--help")
    assert done.returncode == 0, done.stderr


def test_macos_gets_a_launch_agent_that_starts_run_py_in_the_project_folder(tmp_path):
    launch = autostart.Launch(Path("/opt/venv/bin/python"), Path("/Users/me/emu sify/run.py"),
                              Path("/Users/me/emu sify"))
    path = autostart.install("darwin", launch, {}, tmp_path)
    assert path == tmp_path / "Library" / "LaunchAgents" / "org.emusify.player.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["Label"] == "org.emusify.player"
    assert agent["ProgramArguments"] == ["/opt/venv/bin/python", "/Users/me/emu sify/run.py", "--headless"]
    assert agent["WorkingDirectory"] == "/Users/me/emu sify"
    assert agent["RunAtLoad"] is True
    assert autostart.remove("darwin", {}, tmp_path) == path and not path.exists()


def test_windows_gets_a_hidden_window_script_in_the_startup_folder(tmp_path):
    launch = autostart.Launch(Path(r"C:\Program Files\Python311\python.exe"),
                              Path(r"C:\Users\José\emusify\run.py"), Path(r"C:\Users\José\emusify"))
    env = {"APPDATA": str(tmp_path / "Roaming")}
    path = autostart.install("win32", launch, env, tmp_path)
    assert path == tmp_path / "Roaming" / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup" / \
        "emusify.vbs"
    raw = path.read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16 LE: the é in the user's folder survives
    text = raw[2:].decode("utf-16-le")
    assert 'shell.CurrentDirectory = "C:\\Users\\José\\emusify"' in text
    # the program path has a space: quoted for Windows, and the quotes doubled inside the VBScript string
    assert ('shell.Run """C:\\Program Files\\Python311\\python.exe"" C:\\Users\\José\\emusify\\run.py '
            '--headless", 0, False') in text  # 0: no window
    assert autostart.remove("win32", env, tmp_path) == path
    assert autostart.remove("win32", env, tmp_path) is None


def test_windows_without_appdata_is_one_line_saying_why(tmp_path):
    with pytest.raises(Exception, match="APPDATA is not set"):
        autostart.entry_path("win32", {}, tmp_path)


def test_on_twice_replaces_the_entry_and_leaves_no_temporary_file(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    first = autostart.Launch(Path("/a/python"), Path("/p/run.py"), Path("/p"))
    autostart.install("linux", first, env, tmp_path)
    path = autostart.install("linux", first._replace(python=Path("/b/python")), env, tmp_path)
    assert "Exec=/b/python /p/run.py --headless" in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ["emusify.desktop"]
