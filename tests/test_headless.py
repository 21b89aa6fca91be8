"""Running without a terminal: when run.py is headless, the log file it keeps, and one player at a time."""

from __future__ import annotations

import io
import logging
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from emusify.cli import run
from emusify.desk import headless
from emusify.desk.headless import is_headless, log_file, private_folder
from emusify.desk.instance import LOCK_NAME, InstanceLock, holder_pid
from emusify.errors import EmusifyError, InstanceError

ROOT = Path(__file__).resolve().parents[1]
HOLD = """import sys, time
from emusify.desk.instance import InstanceLock
lock = InstanceLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run from an empty folder with no setup.cfg, as a fresh user would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMUSIFY_CONFIG", str(tmp_path / "none.cfg"))
    return tmp_path


@pytest.fixture
def quiet_console():
    """The console handler as run.py -q leaves it: root at WARNING, one stream handler."""
    root = logging.getLogger()
    console = logging.StreamHandler(io.StringIO())
    saved = root.level, root.handlers[:]
    root.handlers[:] = [console]
    root.setLevel(logging.WARNING)
    yield console
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])


# Headless or not -------------------------------------------------------------------------------


def test_headless_only_when_neither_stdin_nor_stdout_is_a_terminal():
    assert is_headless(io.StringIO(), io.StringIO())
    assert is_headless(None, None)  # pythonw on Windows: no streams at all
    assert not is_headless(Tty(), io.StringIO())  # keys can still be typed
    assert not is_headless(io.StringIO(), Tty())  # the status line can still be seen


def test_the_flag_overrides_what_the_streams_say(monkeypatch):
    from emusify.cli.unattended import headless as decide

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(sys, "stdout", Tty())
    assert decide(None) is False and decide(True) is True
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert decide(None) is True and decide(False) is False


# The log file ----------------------------------------------------------------------------------


@posix_only
def test_the_log_is_private_in_a_new_private_folder_and_hears_info_under_q(tmp_path, quiet_console):
    path = tmp_path / "new" / "emusify.log"
    with log_file(path):
        logging.getLogger("emusify.desk.runner").info("window 1: happy")
        logging.getLogger("emusify.desk.runner").warning("no song could be started")
    text = path.read_text()
    assert "INFO emusify.desk.runner: window 1: happy" in text and "no song could be started" in text
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    console = quiet_console.stream.getvalue()
    assert "window 1" not in console and "no song could be started" in console  # -q still holds there
    root = logging.getLogger()  # as it was: -q level, no file handler left behind, console unchanged
    assert root.level == logging.WARNING and quiet_console.level == logging.NOTSET
    assert not [h for h in root.handlers if isinstance(h, logging.FileHandler)]


@posix_only
def test_an_old_log_readable_by_others_is_made_private_again(tmp_path, quiet_console):
    path = tmp_path / "emusify.log"
    path.write_text("from an older version\n")
    path.chmod(0o644)
    with log_file(path):
        logging.getLogger("emusify").warning("started")
    assert mode(path) == 0o600
    assert path.read_text().startswith("from an older version\n")  # appended, not replaced


@posix_only
def test_the_log_rotates_into_private_files_and_keeps_three(tmp_path, quiet_console, monkeypatch):
    monkeypatch.setattr(headless, "LOG_BYTES", 500)
    path = tmp_path / "emusify.log"
    with log_file(path):
        for i in range(100):
            logging.getLogger("emusify").warning("line %03d of a long night", i)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["emusify.log", "emusify.log.1", "emusify.log.2", "emusify.log.3"]
    assert all(mode(tmp_path / name) == 0o600 for name in names)
    assert "line 099" in path.read_text() and all(p.stat().st_size <= 500 for p in tmp_path.iterdir())


def test_an_error_that_ends_the_run_is_in_the_log_too(tmp_path, quiet_console):
    path = tmp_path / "emusify.log"
    with pytest.raises(EmusifyError), log_file(path):
        raise EmusifyError("no such camera: pass --source")
    assert "ERROR emusify: error: no such camera: pass --source" in path.read_text()
    assert "no such camera" not in quiet_console.stream.getvalue()  # run_main prints it once, not here


@posix_only
def test_an_existing_data_folder_others_can_enter_is_made_private_but_not_the_working_folder(in_tmp):
    data = in_tmp / "datasets"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    in_tmp.chmod(0o755)
    private_folder(data, tighten=True)
    private_folder(in_tmp, tighten=True)
    assert mode(data) == 0o700 and mode(in_tmp) == 0o755


# One instance ------------------------------------------------------------------------------------


def test_a_second_lock_on_the_same_folder_names_the_first_ones_pid(tmp_path):
    with InstanceLock(tmp_path):
        assert holder_pid(tmp_path / LOCK_NAME) == os.getpid()
        with pytest.raises(InstanceError, match=rf"already running \(pid {os.getpid()},"):
            InstanceLock(tmp_path).acquire()
    with InstanceLock(tmp_path):  # released: the next one gets it
        pass
    assert (tmp_path / LOCK_NAME).exists()  # the file stays and means nothing


@posix_only
def test_the_lock_file_and_the_data_folder_it_makes_are_private(tmp_path):
    data = tmp_path / "new" / "data"
    with InstanceLock(data):
        assert mode(data / LOCK_NAME) == 0o600  # the pid and when you played: yours alone
    assert mode(data) == 0o700 and mode(data.parent) == 0o700


@posix_only
def test_a_lock_file_left_open_by_an_older_run_is_narrowed(tmp_path):
    (tmp_path / LOCK_NAME).write_text("123\n")
    (tmp_path / LOCK_NAME).chmod(0o644)
    with InstanceLock(tmp_path):
        assert mode(tmp_path / LOCK_NAME) == 0o600
        assert holder_pid(tmp_path / LOCK_NAME) == os.getpid()


def test_a_lock_left_by_a_killed_process_blocks_nothing(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InstanceError, match=rf"pid {holder.pid}"):
            InstanceLock(tmp_path).acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
        holder.stdout.close()
    assert holder_pid(tmp_path / LOCK_NAME) == holder.pid  # a stale file with a dead pid ...
    with InstanceLock(tmp_path):  # ... does not block the next start
        assert holder_pid(tmp_path / LOCK_NAME) == os.getpid()


def test_run_py_while_another_plays_stops_in_one_line_before_touching_anything(in_tmp, capsys):
    data, journal = in_tmp / "data", in_tmp / "journal.sqlite"
    with InstanceLock(data):  # a bad --source: had the camera been tried first, the error would say so
        status = run.main(["--data", str(data), "--journal", str(journal), "--source", "no-such-camera"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.count("\n") == 1 and err.startswith(f"error: Emusify is already running (pid {os.getpid()}")
    assert "quit it first" in err
    assert not journal.exists() and not (data / "emusify.log").exists()  # the first one's log untouched


def test_report_and_autostart_need_no_lock(in_tmp, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(in_tmp / "cfg"))
    data = in_tmp / "data"
    with InstanceLock(data):
        assert run.main(["--data", str(data), "--autostart", "off"]) == 0
        assert run.main(["--data", str(data), "--report"]) == 1  # no journal yet: that error, not the lock
    assert "no journal at" in capsys.readouterr().err


def test_help_lists_the_new_flags_with_their_defaults(capsys):
    with pytest.raises(SystemExit):
        run.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("--headless, --no-headless", "(default: on when neither stdin nor stdout is a terminal)",
                     "--log FILE", "(default: <data>/emusify.log)", "--autostart on|off",
                     "(default: leave it as it is)"):
        assert fragment in text, fragment
