"""Crashes that lose nothing: SIGKILL at random (seeded) moments, then everything still loads.

Two kinds of trials, 50+ in all, within CI's time:

- **writers** (cheap, most trials): ``tests/crash_child.py`` writes items of one kind in a loop as
  the player does (Model.save, save_reference, SessionWriter chunks, journal rows, the resume
  state, a correction = recording + journal row, a whole learner update) and prints each item it
  finished; it is SIGKILLed at a random moment. The journal must open, the model load (the new one
  or its .bak), every recording and the reference load, and every item reported finished must be
  there: the only loss allowed is the unfinished item.
- **programs**: run.py (a video source, dummy audio, a terminal to press a digit on) killed during
  the calibration shot, a window, a song change, a correction, a model update and at a random
  time; then restarted on the same folders to the end of a window. collect.py killed
  mid-recording and train.py killed mid-save likewise.

``pytest -s tests/test_crash.py`` prints trials / recovered per kind.
"""

from __future__ import annotations

import contextlib
import os
import pty
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from emusify.errors import ModelError
from emusify.reading.model import Model
from emusify.sensing.reference import load_reference, make_reference, save_reference
from emusify.storage.dataset import load_sessions, read_session
from emusify.storage.journal import Journal
from tests import crash_child
from tests.disks import ROOT, VIDEO, landmarks, needs_video

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")]
LAYOUT = ("test", 6)
STARTER = ROOT / "models" / "starter.npz"
TRIALS = {"model": 10, "reference": 8, "recording": 8, "journal": 8, "correction": 8, "update": 4,
          "playstate": 6}
DELAYS = {"update": (0.3, 3.0), "recording": (0.05, 0.8), "correction": (0.05, 0.8)}  # seconds after ready
RESULTS: dict[str, list[int]] = {}  # kind -> [trials, recovered]
BACKUPS: dict[str, int] = {}  # kind -> trials in which the model's .bak was the one that loaded


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    print("\nkill trials / recovered per kind:")
    for kind, (trials, recovered) in RESULTS.items():
        print(f"  {kind:<24} {trials:>3} / {recovered}")
    total = [sum(v[i] for v in RESULTS.values()) for i in (0, 1)]
    print(f"  {'all':<24} {total[0]:>3} / {total[1]}")
    print(f"the .bak answered (kill between the renames): {BACKUPS or 'never'}")


def tally(kind: str, recovered: bool) -> None:
    counts = RESULTS.setdefault(kind, [0, 0])
    counts[0] += 1
    counts[1] += int(recovered)


def kill_child(kind: str, folder: Path, rng: random.Random | None, *extra, step: int = 0) -> list[str]:
    """Fork a writer of ``kind``, SIGKILL it at a random moment (or right after its ``step``-th
    fsync/rename); the lines it reported."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write until killed
        os.close(read)
        try:
            if step:
                crash_child.kill_after(step)
            crash_child.run(kind, folder, lambda line: os.write(write, (line + "\n").encode()), *extra)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails the trial
            os.write(write, f"error {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(1)
    os.close(write)
    try:
        if step:  # it kills itself
            _, status = os.waitpid(pid, 0)
            alive = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        else:
            time.sleep(rng.uniform(*DELAYS.get(kind, (0.01, 0.3))))
            alive = os.waitpid(pid, os.WNOHANG) == (0, 0)
            if alive:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        with os.fdopen(read, "r") as out:
            lines = out.read().splitlines()
    finally:
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert alive, f"the writer stopped by itself: {lines[-3:]}"
    return lines


def finished(lines: list[str], default: int = -1) -> int:
    """The last item the writer reported finished."""
    done = [int(line.split()[1]) for line in lines if line.startswith("done ")]
    return done[-1] if done else default


def check(kind: str, folder: Path, lines: list[str], state: dict) -> None:
    """What must hold after a kill of ``kind`` (raises AssertionError otherwise)."""
    if kind in ("model", "update"):
        path = folder / "models" / "emusify.npz"
        state["saved"] = state.get("saved", False) or finished(lines) >= 0
        if not path.is_file():  # killed before the first update was saved: the starter is in use
            assert kind == "update" and not state["saved"]
            Model.load(STARTER)
            return
        model = Model.load(path, expected=None if kind == "update" else LAYOUT)  # the new one or its .bak
        if kind == "model":
            version = int(model.intercepts[0][0])
            assert version >= finished(lines, state.get("version", 0)), (version, lines[-3:])
            state["version"] = version
        try:
            Model._load_pair(path)
        except ModelError:  # the kill fell between the two renames: the .bak answered
            BACKUPS[kind] = BACKUPS.get(kind, 0) + 1
    elif kind == "reference":
        ref = load_reference(folder / "data" / "reference.json", "test")
        assert ref is not None and ref.taken >= finished(lines, state.get("taken", 0))
        state["taken"] = ref.taken
    elif kind == "playstate":  # never damaged (that would be one line and a fresh start), never behind
        from emusify.desk.playstate import load_playstate

        saved = load_playstate(folder / "data" / "playstate.json")
        assert not list((folder / "data").glob("playstate.json.corrupt-*"))
        position = saved.position if saved is not None else 0.0
        assert position >= finished(lines, state.get("position", 0)), (position, lines[-3:])
        state["position"] = position
    elif kind == "recording":
        sessions = load_sessions(folder / "data")
        assert not sessions.skipped
        lengths = {s.session_id: len(s) for s in sessions}
        for line in lines:
            if line.startswith("written "):
                _, session, written = line.split()
                assert lengths.get(session, 0) >= int(written), (session, written, lengths.get(session))
        complete = (line.split()[2] for line in lines if line.startswith("done "))
        state.setdefault("complete", set()).update(complete)
        assert all(lengths[s] == 40 for s in state["complete"])
    elif kind == "journal":
        with Journal(folder / "journal.sqlite") as journal:
            times = [w.time for w in journal.windows()]
        assert times == list(range(len(times))) and len(times) > finished(lines, state.get("rows", 0) - 1)
        state["rows"] = len(times)
    elif kind == "correction":
        sessions = load_sessions(folder / "data")
        with Journal(folder / "journal.sqlite") as journal:
            rows = journal.feedback_rows()
        gap = len(sessions) - len(rows)  # a recording whose journal row the kill cut off
        assert not sessions.skipped and 0 <= gap - state.get("gap", 0) <= 1
        state["done"] = state.get("done", 0) + finished(lines) + 1
        assert len(rows) >= state["done"], (len(rows), state["done"])
        state["gap"] = gap


def before_first_kill(kind: str, folder: Path) -> None:
    """The model and reference in use before the first kill (version 0)."""
    if kind == "model":
        crash_child.tiny_model(0).save(folder / "models" / "emusify.npz")
    if kind == "reference":
        save_reference(folder / "data" / "reference.json", make_reference(np.zeros((4, 6)), "test", when=0))


def seed_recordings(data: Path, layout: tuple[str, int], moods=("happy", "sad", "neutral"),
                    n: int = 30) -> None:
    from emusify.storage.dataset import SessionWriter

    for k, mood in enumerate(moods):
        with SessionWriter(data, mood, layout, source="run:test", chunk_samples=64) as writer:
            for i in range(n):
                writer.append(landmarks(k * 1000 + i), float(i))


@pytest.mark.parametrize("kind", list(TRIALS))
def test_a_writer_killed_at_random_loses_only_its_unfinished_item(tmp_path, kind):
    rng = random.Random(f"crash-{kind}")
    extra: tuple[str, ...] = ()
    if kind == "update":
        from emusify.sensing.features import LAYOUT as FEATURES

        seed_recordings(tmp_path / "data", (FEATURES.name, FEATURES.length))
        extra = (STARTER,)
    state: dict = {}
    failures = []
    before_first_kill(kind, tmp_path)
    for trial in range(TRIALS[kind]):
        lines = kill_child(kind, tmp_path, rng, *extra)
        try:
            check(kind, tmp_path, lines, state)
            tally(kind, True)
        except AssertionError as exc:
            tally(kind, False)
            failures.append(f"trial {trial}: {exc}")
    assert not failures, failures


# the syscalls of an item or two
STEPS = {"model": 9, "reference": 3, "recording": 12, "correction": 6, "playstate": 3}


@pytest.mark.parametrize("kind", list(STEPS))
def test_a_writer_killed_at_every_step_of_a_save_loses_only_that_save(tmp_path, kind):
    """Deterministic: the kill lands right after the 1st, 2nd, ... fsync or rename of a save,
    including between the model's two renames, where only the .bak is whole."""
    state: dict = {}
    failures = []
    before_first_kill(kind, tmp_path)
    if kind == "model":
        crash_child.tiny_model(1).save(tmp_path / "models" / "emusify.npz")  # a .bak exists too
    for step in range(1, STEPS[kind] + 1):
        lines = kill_child(kind, tmp_path, None, step=step)
        try:
            check(kind, tmp_path, lines, state)
            tally(f"{kind} (every step)", True)
        except AssertionError as exc:
            tally(f"{kind} (every step)", False)
            failures.append(f"step {step}: {exc}")
    assert not failures, failures
    if kind == "model":
        assert BACKUPS.get("model"), "no step fell between the two renames"


# Whole programs ------------------------------------------------------------------------------------


def check_folders(folder: Path) -> None:
    """What run.py needs to start again: the journal opens, the model in use loads, every
    recording and the reference load, and no correction is journaled without its recording."""
    from emusify.sensing.features import LAYOUT as FEATURES

    journal = folder / "journal.sqlite"
    if journal.exists():
        with Journal(journal) as opened:
            opened.windows()
            corrections = len(opened.feedback_rows())
    else:
        corrections = 0
    model = folder / "models" / "emusify.npz"
    Model.load(model if model.is_file() else STARTER)
    sessions = load_sessions(folder / "data")
    assert not sessions.skipped and len(sessions) >= corrections
    for session in sessions:
        assert len(read_session(session.path)) > 0
    reference = folder / "data" / "reference.json"
    assert not reference.exists() or load_reference(reference, FEATURES) is not None


class Run:
    """run.py as a user runs it: a terminal for keys, a log to wait on."""

    def __init__(self, folder: Path, *flags: str) -> None:
        config = folder / "emusify.cfg"
        config.write_text(f"[emusify]\nmodel = {folder / 'models' / 'emusify.npz'}\n")
        env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
                   EMUSIFY_CONFIG=str(config))
        command = [sys.executable, "run.py", "--source", str(VIDEO), "--window", "2", "--every", "0.05",
                   "--journal", str(folder / "journal.sqlite"), "--data", str(folder / "data"),
                   "--songs", str(ROOT / "songs"), *flags]
        self.master, slave = pty.openpty()
        self.child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=slave, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
        os.close(slave)
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.child.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        with self._seen:
            ok = self._seen.wait_for(
                lambda: any(text in x for x in self.lines) or self.child.poll() is not None, timeout)
        assert ok and any(text in x for x in self.lines), "".join(self.lines)[-3000:]

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def kill(self) -> None:
        assert self.child.poll() is None, "run.py ended before the kill: " + "".join(self.lines)[-3000:]
        self.child.send_signal(signal.SIGKILL)
        self.close()

    def close(self) -> int:
        self.child.wait(timeout=60)
        os.close(self.master)
        return self.child.returncode


RUN_PHASES = [  # (kind, flags, what to wait for, key pressed then, seconds to wait before the kill)
    ("run.py: reference save", ("--calibrate",), "INFO: model:", None, (0.5, 6.0)),
    ("run.py: window", (), "INFO: playing", None, (0.0, 2.5)),
    ("run.py: song change", (), "INFO: window 1:", None, (0.0, 0.5)),
    ("run.py: correction save", (), "INFO: decision:", "2", (0.0, 0.8)),
    ("run.py: model update", (), "INFO: decision:", "2", (5.0, 7.5)),  # the update starts 5 s after
    ("run.py: journal write", (), "INFO: model:", None, (1.0, 10.0)),
]


@needs_video
def test_run_py_killed_at_random_moments_starts_again_with_everything(tmp_path):
    rng = random.Random("crash-run.py")
    failures = []
    for kind, flags, trigger, key, delay in RUN_PHASES:
        run = Run(tmp_path, "--cycles", "0", *flags)
        run.wait_for(trigger)
        if key:
            run.press(key)
        time.sleep(rng.uniform(*delay))
        run.kill()
        try:
            check_folders(tmp_path)
            tally(kind, True)
        except AssertionError as exc:
            tally(kind, False)
            failures.append(f"{kind}: {exc}")
    run = Run(tmp_path, "--cycles", "1")  # and it starts again, on the model the kills left
    status = run.close()
    assert status == 0, "".join(run.lines)[-3000:]
    assert not failures, failures
    saved = (tmp_path / "models" / "emusify.npz").is_file()
    print(f"\nrun.py: an update was saved before a kill: {saved}")


@needs_video
def test_collect_py_killed_mid_recording_keeps_every_flushed_chunk(tmp_path):
    rng = random.Random("crash-collect.py")
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
    command = [sys.executable, "collect.py", "happy", "--source", str(VIDEO), "--data",
               str(tmp_path / "data"), "--seconds", "30", "--no-preview", "--countdown", "0", "--rate", "8"]
    started = time.monotonic()  # one whole run first: how long it records (the video may end first)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    took = time.monotonic() - started
    for _ in range(2):
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5 * took, 0.9 * took))  # past MediaPipe's start, while it records
        assert child.poll() is None, "collect.py ended before the kill"
        child.send_signal(signal.SIGKILL)
        child.wait()
        sessions = load_sessions(tmp_path / "data")
        recovered = not sessions.skipped and all(len(s) > 0 for s in sessions)
        tally("collect.py: recording", recovered)
        assert recovered, sessions.skipped
    print(f"\ncollect.py: {len(sessions)} recording(s) readable after the kills (one from the whole run)")


def test_train_py_killed_mid_save_leaves_a_model_that_loads(tmp_path):
    from emusify.sensing.features import LAYOUT as FEATURES

    rng = random.Random("crash-train.py")
    data, model = tmp_path / "data", tmp_path / "models" / "emusify.npz"
    seed_recordings(data, (FEATURES.name, FEATURES.length), n=40)
    command = [sys.executable, "train.py", "--data", str(data), "--model", str(model), "--prior", "none",
               "--estimator", "logistic"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    took = time.monotonic() - started
    for _ in range(3):  # aimed at the end of the run, where it saves
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.6 * took, 1.0 * took))
        child.send_signal(signal.SIGKILL)
        child.wait()
        try:
            Model.load(model)
            tally("train.py: save", True)
        except Exception:
            tally("train.py: save", False)
            raise
