"""The writers that tests/test_crash.py kills, in a forked child (``fork`` costs milliseconds where
a fresh interpreter costs seconds).

Each writes items of one kind in a loop, as the player does, and emits ``done N`` once item N is
safely written (returned from the write), so the test knows which items must survive a SIGKILL.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from emusify.desk.feedback import Feedback
from emusify.desk.journaling import JournalWriter
from emusify.reading.model import Model
from emusify.sensing.reference import load_reference, make_reference, save_reference
from emusify.storage.dataset import SessionWriter
from emusify.storage.journal import Journal
from tests.disks import landmarks

LAYOUT = ("test", 6)


def say(line: str) -> None:
    """Where the writers report (set by :func:`run`)."""


def done(i: int, *more: str) -> None:
    say(" ".join(("done", str(i), *more)))


def tiny_model(i: int):
    rng = np.random.default_rng(i)
    return Model(labels=("happy", "sad"), layout=LAYOUT, coefs=[rng.normal(size=(6, 2))],
                 intercepts=[np.array([float(i), 0.0])], scaler_mean=np.zeros(6), scaler_scale=np.ones(6))


def model(folder: Path) -> None:
    """The learner's save: a new model over the one in use, its predecessor kept as .bak."""
    path = folder / "models" / "emusify.npz"
    start = int(Model.load(path, expected=LAYOUT).intercepts[0][0]) + 1 if path.is_file() else 1
    for i in range(start, 10**6):
        tiny_model(i).save(path)
        done(i)


def reference(folder: Path) -> None:
    """The reference tracker's save after a window."""
    path = folder / "data" / "reference.json"
    stored = load_reference(path, "test")
    for i in range(1 if stored is None else int(stored.taken) + 1, 10**6):
        save_reference(path, make_reference(np.full((4, 6), i), "test", when=i))
        done(i)


def recording(folder: Path) -> None:
    """collect.py's writer: sessions of 40 samples, one fsynced chunk every 5 (printed as written)."""
    for s in range(10**6):
        with SessionWriter(folder / "data", "happy", LAYOUT, source="test", chunk_samples=5,
                           session_id=f"p{os.getpid()}-{s:03d}") as writer:
            for i in range(40):
                writer.append(landmarks(s * 1000 + i), float(i))
                if writer.pending == 0:
                    say(f"written {writer.session_id} {writer.written}")
        done(s, writer.session_id)


def journal(folder: Path) -> None:
    """The player's journal rows, one commit each."""
    result = SimpleNamespace(frames=16, face_frames=16, votes={"happy": 16}, mood="happy", share=1.0)
    with Journal(folder / "journal.sqlite") as opened:
        start = len(opened.windows())
        for i in range(start, 10**6):
            opened.window(float(i), result, "happy")
            done(i)


def correction(folder: Path) -> None:
    """run.py's digit key: the last window saved as a recording, then its journal row (as the core
    tells it to the journal's listener)."""
    with Journal(folder / "journal.sqlite") as opened:
        feedback, writer = Feedback(folder / "data", LAYOUT, "test"), JournalWriter(opened)
        for i in range(10**6):
            feedback.begin_window()
            for j in range(30):
                feedback.frame(landmarks(i * 100 + j))
            feedback.end_window(float(i), "sad")
            saved = feedback.save("happy", "correction")
            writer.on_event("correction_saved", when=float(i) + 0.5, mood="happy", kind="correction",
                            read="sad", message=saved.message, window=saved.window, frames=saved.frames)
            done(i)


def update(folder: Path, starter: Path) -> None:
    """The learner's whole update: every recording read, the starter fine-tuned, the model saved."""
    from emusify.reading.relearn import update_model

    for i in range(1, 10**6):
        update_model(folder / "data", starter, folder / "models" / "emusify.npz")
        done(i)


def playstate(folder: Path) -> None:
    """The resume state run.py keeps (emusify.desk.playstate): written every few seconds of play."""
    from emusify.desk.playstate import PlayState, load_playstate, save_playstate

    path = folder / "data" / "playstate.json"
    stored = load_playstate(path)
    for i in range(1 if stored is None else int(stored.position) + 1, 10**6):
        save_playstate(path, PlayState("/songs/happy/a.ogg", "happy", float(i), 0.5, {"happy": [str(i)]}))
        done(i)


KINDS = {f.__name__: f for f in (model, reference, recording, journal, correction, update, playstate)}


def kill_after(calls: int) -> None:
    """SIGKILL this process right after its ``calls``-th fsync, rename or replace: a crash at
    exactly that step of a save (SQLite's test suite crashes at every write the same way)."""
    count = [0]

    def counted(real: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            count[0] += 1
            if count[0] == calls:
                os.kill(os.getpid(), 9)
            return result
        return call

    for name in ("fsync", "rename", "replace"):
        setattr(os, name, counted(getattr(os, name)))


def run(kind: str, folder: Path, emit: Callable[[str], None], *extra: Any) -> None:
    """Write items of ``kind`` under ``folder`` until killed; ``emit`` gets each report line."""
    global say
    say = emit
    KINDS[kind](folder, *extra)
