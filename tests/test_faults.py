"""I/O faults at every write: a full disk (ENOSPC) and a read-only data folder (EROFS).

At each write site (recording, correction, journal row, model, reference, log) the fault gives
one line, the old file stays intact, and the player goes on (the next write works once the disk
is back). Two ways of making the fault, each test run with both where it can:

- ``disk``: the real thing, as root on Linux: a 512 kB tmpfs filled up for ENOSPC, a read-only
  bind mount of the folder for EROFS (chmod 0500 does not stop root). Skipped where mounting is
  not allowed (then ``patch`` still runs).
- ``patch``: ``os.fsync`` (which every write site calls before it publishes a file) raises the
  error; for the journal, whose writes happen inside SQLite, the connection raises SQLite's own
  "database or disk is full" / "attempt to write a readonly database".

A damaged journal (garbage bytes, a truncated file) is moved aside and a new one started.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import numpy as np
import pytest

from emusify.desk.feedback import Feedback
from emusify.desk.journaling import JournalWriter
from emusify.errors import DatasetError, JournalError, ModelError
from emusify.reading.learner import Learner
from emusify.reading.model import Model, backup_path, sidecar_path
from emusify.sensing.calibration import Calibration
from emusify.sensing.reference import load_reference, make_reference, save_reference
from emusify.storage.dataset import SessionWriter, load_sessions, read_session
from emusify.storage.journal import Journal
from tests.disks import (
    FAULTS,
    ROOT,
    VIDEO,
    failing,
    fill,
    landmarks,
    needs_video,
    read_only,
    tiny_tmpfs,
    tree,
)

LAYOUT = ("test", 6)
CASES = [(fault, way) for fault in FAULTS for way in ("disk", "patch")]


@pytest.fixture
def where(tmp_path: Path, request) -> Iterator[Path]:
    """The folder the test writes to: on a tiny tmpfs for a real full disk, else a plain folder."""
    fault, way = request.node.callspec.params["case"]
    if fault == "enospc" and way == "disk":
        with tiny_tmpfs(tmp_path / "disk") as root:
            yield root
    else:
        (tmp_path / "disk").mkdir()
        yield tmp_path / "disk"


@contextlib.contextmanager
def broken(case: tuple[str, str], root: Path, monkeypatch) -> Iterator[None]:
    """The disk at ``root`` full or read-only while the block runs, back to normal after it."""
    fault, way = case
    if way == "patch":
        with monkeypatch.context() as patched:
            patched.setattr(os, "fsync", failing(FAULTS[fault]))
            yield
    elif fault == "enospc":
        filler = fill(root)
        try:
            yield
        finally:
            filler.unlink()
    else:
        with read_only(root):
            yield


def record(data: Path, mood: str, start: int, n: int = 20) -> Path:
    with SessionWriter(data, mood, LAYOUT, source="test", chunk_samples=8) as writer:
        for i in range(n):
            writer.append(landmarks(start + i), float(i))
    return writer.path


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def one_line(text: str) -> bool:
    return bool(text) and "\n" not in text


@pytest.mark.parametrize("case", CASES)
def test_recording(where, case, monkeypatch):
    data = where / "data"
    old = record(data, "happy", 0)
    before = tree(data)
    with broken(case, where, monkeypatch), pytest.raises(DatasetError) as caught:
        record(data, "happy", 100)
    assert one_line(str(caught.value)) and "free disk space" in str(caught.value)
    assert tree(data) == before  # the old recording intact, no half file left
    assert (read_session(old).arrays["image_size"][:, 0] - 640).tolist() == list(range(20))
    assert len(read_session(record(data, "sad", 200))) == 20  # the disk is back: recording goes on


@pytest.mark.parametrize("case", CASES)
def test_correction(where, case, monkeypatch, caplog):
    data, rows = where / "data", []
    writer = JournalWriter(SimpleNamespace(feedback=rows.append))  # the core tells it what was saved
    feedback = Feedback(data, LAYOUT, "test")
    old = record(data, "happy", 0)
    before = tree(data)
    feedback.begin_window()
    for i in range(12):
        feedback.frame(landmarks(i))
    feedback.end_window(100.0, "sad")

    def press(when: float) -> str:
        saved = feedback.save("happy", "correction")  # never raises into the player loop
        writer.on_event("correction_saved", when=when, mood="happy", kind="correction", read="sad",
                        message=saved.message, window=saved.window, frames=saved.frames)
        return saved.message

    with broken(case, where, monkeypatch):
        message = press(101.0)
    assert "could not save" in message
    assert len(warnings(caplog)) == 1 and one_line(warnings(caplog)[0])
    assert tree(data) == before and rows == []  # no journal row for a correction not saved
    assert len(read_session(old)) == 20
    assert "saved as happy" in press(102.0)  # the next press works
    assert [(r.window_time, r.read, r.corrected, r.samples) for r in rows] == [(100.0, "sad", "happy", 12)]
    assert sum(len(s) for s in load_sessions(data)) == 20 + 12


def window(i: int) -> SimpleNamespace:
    return SimpleNamespace(frames=16, face_frames=16, votes={"happy": 16}, mood="happy", share=1.0)


class RefusingConnection:
    """An SQLite connection whose writes fail as SQLite reports a full or read-only disk."""

    def __init__(self, db: sqlite3.Connection, fault: str) -> None:
        self.db, self.fault, self.refuse = db, fault, True

    def execute(self, sql: str, *args):
        if self.refuse and sql.lstrip().upper().startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full" if self.fault == "enospc"
                                           else "attempt to write a readonly database")
        return self.db.execute(sql, *args)

    def close(self) -> None:
        self.db.close()


@pytest.mark.parametrize("case", CASES)
def test_journal_rows_wait_in_memory_and_are_written_when_the_disk_is_back(where, case, caplog):
    """Rows the disk refuses wait in memory; a journal that cannot be opened at all raises a
    one-line JournalError, or (``in_memory_when_refused``, for the player) is kept in memory."""
    fault, way = case
    caplog.set_level(logging.INFO, logger="emusify.storage.journal")
    path = where / "journal.sqlite"
    if fault == "erofs" and way == "disk":  # SQLite holds the file open: a bind mount cannot stop it
        with Journal(path) as journal:
            journal.window(1.0, window(1), "happy")
        before = path.read_bytes()
        with read_only(where):
            with pytest.raises(JournalError) as caught:
                Journal(path)  # a read-only folder at start: one line, and the journal stays whole
            assert one_line(str(caught.value)) and "--journal" in str(caught.value)
            with Journal(path, in_memory_when_refused=True) as journal:  # the player's way: it goes on
                journal.window(2.0, window(2), "happy")
                assert [w.time for w in journal.windows()] == [2.0]
        assert path.read_bytes() == before
        assert len(warnings(caplog)) == 1 and "kept in memory only" in warnings(caplog)[0]
        return
    journal = Journal(path)
    for i in range(5):
        journal.window(float(i), window(i), "happy")
    if way == "patch":
        refusing = journal._db = RefusingConnection(journal._db, fault)
        context = contextlib.nullcontext()
    else:
        context = broken(case, where, None)
    with context:
        for i in range(5, 10):
            journal.window(float(i), window(i), "happy")  # never raises into the player loop
        assert journal.unwritten > 0
        assert [w.time for w in journal.windows()][:5] == [0, 1, 2, 3, 4]  # the old rows intact
    if way == "patch":
        refusing.refuse = False
    journal.window(10.0, window(10), "keep")  # the disk is back: the waiting rows go first
    assert journal.unwritten == 0 and journal.lost == 0
    assert [w.time for w in journal.windows()] == list(range(11))
    assert len(warnings(caplog)) == 1 and one_line(warnings(caplog)[0])
    assert "written again" in caplog.text
    journal.close()


def test_a_journal_on_a_disk_full_at_start_is_kept_in_memory_for_the_player(tmp_path, caplog):
    with tiny_tmpfs(tmp_path / "disk") as disk:
        filler = fill(disk)
        with pytest.raises(JournalError):
            Journal(disk / "journal.sqlite")
        with Journal(disk / "journal.sqlite", in_memory_when_refused=True) as journal:
            journal.window(1.0, window(1), "happy")
            assert len(journal.windows()) == 1
        filler.unlink()
    assert len(warnings(caplog)) == 1 and one_line(warnings(caplog)[0])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty-header"])
def test_a_damaged_journal_is_moved_aside_and_a_new_one_started(tmp_path, damage, caplog):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        for i in range(2000):
            journal.window(float(i), window(i), "happy")
    raw = path.read_bytes()
    damaged = {"garbage": os.urandom(len(raw)), "truncated": raw[: len(raw) // 2],
               "empty-header": b"\0" * 100 + raw[100:]}[damage]
    path.write_bytes(damaged)
    with Journal(path) as journal:
        assert journal.windows() == []  # a new journal ...
        journal.window(1.0, window(1), "happy")  # ... that works
        assert len(journal.windows()) == 1
    (aside,) = tmp_path.glob("journal.sqlite.corrupt-*")
    assert aside.read_bytes() == damaged  # kept as it was, for whoever wants to rescue it
    assert len(warnings(caplog)) == 1 and one_line(warnings(caplog)[0])
    assert "moved aside" in warnings(caplog)[0] and aside.name in warnings(caplog)[0]
    path.write_bytes(b"garbage again" * 100)  # a second damage never overwrites the first
    Journal(path).close()
    assert len(list(tmp_path.glob("journal.sqlite.corrupt-*"))) == 2


def tiny_model(seed: int) -> Model:
    rng = np.random.default_rng(seed)
    return Model(labels=("happy", "sad"), layout=LAYOUT, coefs=[rng.normal(size=(6, 2))],
                 intercepts=[rng.normal(size=2)], scaler_mean=np.zeros(6), scaler_scale=np.ones(6))


@pytest.mark.parametrize("case", CASES)
def test_model(where, case, monkeypatch, caplog):
    path = where / "models" / "emusify.npz"
    tiny_model(0).save(path)
    tiny_model(1).save(path)  # a backup exists too
    pair = {p: p.read_bytes() for p in (path, sidecar_path(path))}
    learner = Learner(lambda: tiny_model(2).save(path), SimpleNamespace(now=lambda: 0.0), delay=0,
                      start=lambda run: run())
    with broken(case, where, monkeypatch):
        with pytest.raises(ModelError) as caught:
            tiny_model(2).save(path)
        learner.poke()
        learner.poll()  # the background update: one line, the player never sees an exception
    assert one_line(str(caught.value)) and "cannot write the model" in str(caught.value)
    assert learner.failures == 1 and len(warnings(caplog)) == 1 and one_line(warnings(caplog)[0])
    assert {p: p.read_bytes() for p in pair} == pair  # the model in use intact
    expected = tiny_model(1).coefs[0]
    assert np.array_equal(Model.load(path, expected=LAYOUT).coefs[0], expected)
    assert Model.load(backup_path(path), expected=LAYOUT).labels == ("happy", "sad")
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    tiny_model(3).save(path)  # the disk is back: the next update is saved
    assert np.array_equal(Model.load(path, expected=LAYOUT).coefs[0], tiny_model(3).coefs[0])


@pytest.mark.parametrize("case", CASES)
def test_reference(where, case, monkeypatch, caplog):
    path = where / "data" / "reference.json"
    save_reference(path, make_reference(np.ones((10, 6)), "test", when=1.0))
    before = tree(where / "data")
    keeper = SimpleNamespace(path=path)
    with broken(case, where, monkeypatch):
        with pytest.raises(OSError) as caught:
            save_reference(path, make_reference(np.zeros((10, 6)), "test", when=2.0))
        Calibration._save(keeper, make_reference(np.zeros((10, 6)), "test", when=2.0))  # as the player does
    assert caught.value.errno in (errno.ENOSPC, errno.EROFS)
    assert len(warnings(caplog)) == 1 and one_line(warnings(caplog)[0])
    assert tree(where / "data") == before  # the old reference intact, no temp file left
    assert load_reference(path, "test").taken == 1.0
    save_reference(path, make_reference(np.zeros((10, 6)), "test", when=3.0))
    assert load_reference(path, "test").taken == 3.0


def test_a_log_line_the_disk_refuses_is_dropped_and_the_caller_goes_on(monkeypatch):
    """Logs go to stderr; a stderr on a full disk (/dev/full) must not stop the code that logs.
    (tests/test_crash.py runs the whole of run.py with stdout and stderr on /dev/full.)"""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    full = open("/dev/full", "w", buffering=1)  # noqa: SIM115 - its close fails too, by design
    handler = logging.StreamHandler(full)
    logger = logging.getLogger("emusify.test_faults")
    logger.addHandler(handler)
    monkeypatch.setattr("sys.stderr", full)  # logging reports its own trouble there: dropped too
    try:
        for i in range(100):
            logger.warning("line %d", i)
    finally:
        logger.removeHandler(handler)
        with contextlib.suppress(OSError):
            full.close()


# The whole player on a failing disk ---------------------------------------------------------------


def run_py(tmp_path: Path, journal: Path, data: Path, *flags: str) -> tuple[list[str], dict]:
    """The run.py command line and environment (the starter model: a reference face is taken)."""
    config = tmp_path / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'models' / 'emusify.npz'}\n")
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
               EMUSIFY_CONFIG=str(config))
    command = [sys.executable, "run.py", "--source", str(VIDEO), "--window", "2", "--every", "0.05",
               "--journal", str(journal), "--data", str(data), "--songs", str(ROOT / "songs"), *flags]
    return command, env


@pytest.mark.slow
@needs_video
@pytest.mark.parametrize("stream", [
    "stderr",
    "stdout",
])
def test_run_py_with_its_log_or_status_on_a_full_disk_plays_to_the_end(tmp_path, stream):
    """The log (stderr) or the status lines (stdout) on /dev/full, where every write fails with
    ENOSPC: the player still runs its windows and exits 0."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    journal = tmp_path / "journal.sqlite"
    command, env = run_py(tmp_path, journal, tmp_path / "data", "--cycles", "2")
    with open("/dev/full", "w") as full:
        streams = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, stream: full}
        done = subprocess.run(command, cwd=ROOT, env=env, timeout=300, **streams)
    assert done.returncode == 0
    with Journal(journal) as opened:
        assert len(opened.windows()) == 2


@pytest.mark.slow
@needs_video
def test_run_py_goes_on_when_the_disk_fills_mid_run(tmp_path):
    """Journal, data folder (reference, corrections) on a tmpfs that fills after the first song:
    one line per kind of write refused, the rows written before intact, exit 0 on SIGTERM."""
    import pty

    with tiny_tmpfs(tmp_path / "disk", size="2m") as disk:
        journal, data = disk / "journal.sqlite", disk / "data"
        command, env = run_py(tmp_path, journal, data, "--cycles", "0")
        master, slave = pty.openpty()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=slave, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        os.close(slave)
        lines: list[str] = []
        filler = before = None
        pressed = stopped = False
        windows = 0
        try:
            for line in child.stderr:
                lines.append(line)
                windows += line.startswith("INFO: window") and " frames, " in line
                if line.startswith("INFO: playing") and filler is None:
                    with Journal(journal) as opened:
                        before = opened.windows()
                    filler = fill(disk)
                elif line.startswith("INFO: decision:") and filler is not None and not pressed:
                    os.write(master, b"2")  # a correction on the full disk
                    pressed = True
                elif pressed and not stopped and ("was not saved" in line or windows >= 6):
                    child.send_signal(signal.SIGTERM)
                    stopped = True
            status = child.wait(timeout=60)
        finally:
            child.kill()
            os.close(master)
        log = "".join(lines)
        assert status == 0, log[-3000:]
        assert log.count("cannot write the journal") == 1, log[-3000:]
        assert "correction was not saved" in log and "Traceback" not in log
        filler.unlink()
        with Journal(journal) as opened:
            assert opened.windows()[: len(before)] == before  # what was written before the fill
        assert not load_sessions(data).skipped
