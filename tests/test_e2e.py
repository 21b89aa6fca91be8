"""End to end: `python run.py` on a face video, as a subprocess, with the dummy audio driver."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from emusify.config import discover_emotions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VIDEO = SHARED / "face_videos" / "liveportrait_driving_d9.mp4"
STARTER = ROOT / "models" / "starter.npz"
AUDIO = (".mp3", ".ogg", ".wav")

pytestmark = [pytest.mark.slow, pytest.mark.shared]


def demo_songs(tmp_path: Path) -> Path:
    """The demo library in songs/ when it is there, else one built from the shared music files."""
    songs = ROOT / "songs"
    files = (p for folder in discover_emotions(songs) for p in (songs / folder).iterdir())
    if any(p.suffix.lower() in AUDIO for p in files):
        return songs
    layout = {
        "happy": ["Kevin_MacLeod_-_Vibe_Ace.ogg", "megupets_-_Insert_Coin.mp3"],
        "neutral": [
            "Kevin_MacLeod_-_Dance_of_the_Sugar_Plum_Fairy.ogg",
            "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
        ],
        "sad": ["US_Army_Strings_-_Brahms_Hungarian_Dance_No5.ogg"],
        "angry": ["Wolfgang_-_8-Bit_Battle_Loop.mp3"],
    }
    for folder, names in layout.items():
        (tmp_path / "songs" / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(SHARED / "music" / name, tmp_path / "songs" / folder / name)
    return tmp_path / "songs"


def tiny_model(tmp_path: Path) -> Path:
    """A small logistic model fitted on synthetic vectors with the training module (stand-in starter)."""
    import numpy as np

    from emusify.reading.training import TrainOptions, fit_pipeline, model_from_pipeline
    from emusify.sensing.features import LAYOUT

    labels = ("angry", "happy", "neutral", "sad")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, LAYOUT.length)).astype(np.float32)
    y = np.repeat(labels, 20)
    options = TrainOptions(estimator="logistic")
    model = model_from_pipeline(fit_pipeline(X, y, labels, options), LAYOUT, options)
    path = tmp_path / "tiny.npz"
    model.save(path)
    return path


def test_run_py_plays_prints_status_journals_and_exits_0(tmp_path):
    journal = tmp_path / "journal.sqlite"
    assert STARTER.is_file(), "models/starter.npz is missing: build it with benchmarks/starter.py"
    config = tmp_path / "emusify.cfg"  # a user who has not trained yet: the starter model plays
    config.write_text(f"[emusify]\nmodel = {tmp_path / 'not_trained_yet.npz'}\ndata = {tmp_path / 'data'}\n")
    command = [
        sys.executable, "run.py", "--source", str(VIDEO), "--window", "4", "--every", "0.2",
        "--cycles", "3", "--journal", str(journal), "--songs", str(demo_songs(tmp_path)),
        "--data", str(tmp_path / "data"),  # never the project's own datasets/ (its lock, its reference)
        "--no-headless",  # the plain status lines on a pipe, whether or not the test's stdin is a terminal
    ]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
               EMUSIFY_CONFIG=str(config))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "starter model" in done.stderr
    assert "mood:" in done.stdout  # the status line (plain lines: stdout is not a terminal)
    assert done.stderr.count("window 3:") >= 1 and "window 4:" not in done.stderr
    with sqlite3.connect(journal) as db:
        windows = db.execute("SELECT frames, decision FROM windows").fetchall()
        starts = db.execute("SELECT folder FROM songs WHERE event = 'start'").fetchall()
    assert len(windows) == 3
    assert all(frames == 16 for frames, _ in windows)  # 4 s at 4 fps, sampled by video time
    assert starts and all(folder in discover_emotions(ROOT / "songs") + ("neutral",) for (folder,) in starts)
    from emusify.reading.model import Model

    if Model.load(STARTER).calibration == "reference":  # a first start: the relaxed-face shot, stored
        assert "calibration shot: reference face from" in done.stderr
        assert (tmp_path / "data" / "reference.json").is_file()


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_fade_out_flush_the_journal_and_exit(tmp_path, sig, status):
    journal = tmp_path / "journal.sqlite"
    model = tiny_model(tmp_path)  # any valid model: this test is about stopping
    command = [
        sys.executable, "run.py", "--source", str(VIDEO), "--window", "3", "--every", "5",
        "--journal", str(journal), "--songs", str(demo_songs(tmp_path)), "--model", str(model),
        "--data", str(tmp_path / "data"),
    ]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
    child = subprocess.Popen(  # no terminal on stdin or stdout: headless, where signals are the way to stop
        command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even when the test's is ignored
    )
    try:
        for line in child.stderr:  # wait for the first song, then stop the player mid-wait
            if line.startswith("INFO: playing"):
                break
        child.send_signal(sig)
        assert child.wait(timeout=30) == status
    finally:
        child.kill()
    with sqlite3.connect(journal) as db:
        events = [row[0] for row in db.execute("SELECT event FROM songs ORDER BY rowid")]
    assert events[0] == "start" and events[-1] == "end"


def test_pressing_2_after_the_first_window_saves_a_correction_and_updates_the_model(tmp_path):
    """Through run.py's real path: its stdin is a terminal (a pty) and the test types `2` on it."""
    import json
    import pty

    journal, data, model = tmp_path / "journal.sqlite", tmp_path / "data", tmp_path / "models" / "emusify.npz"
    config = tmp_path / "emusify.cfg"  # no trained model yet: the starter plays, the update makes one
    config.write_text(f"[emusify]\nmodel = {model}\n")
    command = [
        sys.executable, "run.py", "--source", str(VIDEO), "--window", "4", "--every", "0.2", "--cycles", "3",
        "--journal", str(journal), "--data", str(data), "--songs", str(demo_songs(tmp_path)),
    ]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1",
               EMUSIFY_CONFIG=str(config))
    master, slave = pty.openpty()
    with open(tmp_path / "stdout.txt", "w") as out:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=slave, stdout=out, stderr=subprocess.PIPE,
                                 text=True)
        os.close(slave)
        lines: list[str] = []
        try:
            for line in child.stderr:
                lines.append(line)
                decisions = sum(x.startswith("INFO: decision:") for x in lines)
                if line.startswith("INFO: decision:") and decisions == 1:
                    os.write(master, b"2")  # after the first window: "my mood is happy"
            assert child.wait(timeout=60) == 0, "".join(lines)[-3000:]
        finally:
            child.kill()
            os.close(master)
    log = "".join(lines)
    assert "window 3:" in log and "window 4:" not in log  # the run went on to its end
    (recording,) = (data / "happy").glob("*.emrec")
    from emusify.storage.dataset import read_session

    header = read_session(recording).header
    assert header["feedback"]["kind"] == "correction" and len(read_session(recording)) > 0
    with sqlite3.connect(journal) as db:
        rows = db.execute("SELECT read, corrected, kind, samples FROM feedback").fetchall()
    assert len(rows) == 1 and rows[0][1:3] == ("happy", "correction") and rows[0][3] > 0
    assert rows[0][0] == header["feedback"]["read"]
    assert "model updated from 1 correction(s)" in log
    assert json.loads(model.with_suffix(".json").read_text())["labels"][:1] == ["angry"]
