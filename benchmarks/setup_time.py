"""How long the guided set-up takes, from [enter] to the personal model in use (target: 3 minutes).

    SDL_AUDIODRIVER=dummy nice -n 10 .venv/bin/python benchmarks/setup_time.py [--seconds 15] [--repeats 1]

Runs ``python run.py`` in tmux (a real terminal) with the default settings (15 s per mood, a 3 s
countdown, 18 s windows, every 5 min, the starter model, the demo songs) on a stand-in webcam: a
640x480, 30 fps video of the committed fixture face (tests/fixtures/sergey.png), which the set-up reads
at the webcam's pace (emusify.desk.setup.LiveSource). It presses [enter] at the offer and prints,
per run: the set-up (the last mood recorded), the training (from the log), and the time until the
status line says "personal model in use". The fixture face smiles, so its relaxed face is refused as
the reference and a calibration shot (twice 5 s) comes after the set-up: a real relaxed face saves that.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACE = ROOT / "tests" / "fixtures" / "sergey.png"


def stand_in(path: Path, seconds: float = 240.0) -> Path:
    """A webcam-sized video of the fixture face."""
    import cv2

    image = cv2.resize(cv2.imread(str(FACE)), (480, 480))
    frame = cv2.copyMakeBorder(image, 0, 0, 80, 80, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for _ in range(int(seconds * 30)):
        writer.write(frame)
    writer.release()
    return path


def screen(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          check=True).stdout


def wait_for(session: str, text: str, seconds: float) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(text in row for row in screen(session).splitlines()):
            return time.monotonic()
        time.sleep(0.1)
    raise SystemExit(f"{text!r} not shown within {seconds:g} s:\n{screen(session)}")


def one_run(folder: Path, video: Path, seconds: float) -> dict[str, float]:
    data, session = folder / "data", f"emusify-bench-{os.getpid()}-{folder.name}"
    config = folder / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {folder / 'own.npz'}\nmpris = off\nnotify = off\n")
    command = [sys.executable, "run.py", "--source", str(video), "--data", str(data),
               "--setup-seconds", f"{seconds:g}"]
    env = {"SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1", "EMUSIFY_CONFIG": str(config),
           "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    shell = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script = f"cd {shlex.quote(str(ROOT))} && env {shell} {shlex.join(command)}; sleep 60"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "40", script], check=True)
    try:
        wait_for(session, "[enter] start", 120)
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        began = time.monotonic()
        wait_for(session, "set-up: 7/7", 300)
        in_use = wait_for(session, "personal model in use", 300)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        time.sleep(5)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    log = (data / "emusify.log").read_text()
    setup = float(re.search(r"set-up: kept .* samples in (\d+) s", log).group(1))
    learned = re.search(r"model learned in ([\d.]+) s from (\d+) samples", log)
    stamps = {name: _stamp(log, pattern) for name, pattern in
              (("start", r"window 1: watching"), ("end", r"window 1: \d+ frames"))}
    return {"setup_s": setup, "training_s": float(learned.group(1)), "samples": float(learned.group(2)),
            "relaxed_face_refused": float("set-up's relaxed face was not used" in log),
            "window_1_s": (stamps["end"] - stamps["start"]) if None not in stamps.values() else float("nan"),
            "to_in_use_s": in_use - began}


def _stamp(log: str, pattern: str) -> float | None:
    """The log time (seconds of the day) of the first line matching ``pattern``; None when none does
    (a webcam-paced first window may still run when the personal model takes over and q ends it)."""
    found = re.search(r"^\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d),(\d{3}) .*" + pattern, log, re.M)
    if found is None:
        return None
    hours, minutes, seconds, millis = map(int, found.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="recording per mood (default: 15)")
    parser.add_argument("--repeats", type=int, default=1, help="runs (default: 1)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load before: {os.getloadavg()[0]:.1f}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        video = stand_in(Path(tmp) / "webcam.avi")
        for number in range(args.repeats):
            folder = Path(tmp) / f"run{number}"
            folder.mkdir()
            runs.append(one_run(folder, video, args.seconds))
            print("run", number + 1, " ".join(f"{k}={v:.1f}" for k, v in runs[-1].items()), flush=True)
    for key in runs[0]:
        print(f"median {key}: {statistics.median(r[key] for r in runs):.1f}")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
