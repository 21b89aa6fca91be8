"""A day at the desk in minutes: the real player for 288 cycles with only the waits skipped.

    SDL_AUDIODRIVER=dummy .venv/bin/python benchmarks/day.py [--cycles 288] [--window 2]
        [--backend tasks] [--video FILE] [--correct-every 24] [--no-jumps]

Everything is real except the waits: the landmark extractor on a face video standing in for the
webcam, the predictor (the starter model), the pygame player (SDL_AUDIODRIVER=dummy), the journal,
the reference face and its tracker, and the learner, which retrains in the background after a
correction sent every --correct-every windows as a front-end would (core.send(Command("correct",
...))). The clock is :class:`JumpClock`: its waits return at once with the time moved on, so the
5-minute gaps cost only the loop's own ticks. Each window still reads --window seconds of real
frames; the default 2 s (not the player's 18) keeps a day affordable and is printed with the result.
By default the day also holds a sleep (the clock jumps 8 h forward after the middle window) and a
time sync (1 h back at three quarters), as a desk PC's day does.

Prints, per tenth of the run: resident memory (MB), open file descriptors, threads (the OS's,
MediaPipe's included), the journal's size on disk (KB; its write-ahead log beside it, which SQLite
folds back into the file every ~4 MB), and the median CPU per window (ms, the
window's own frames) and per cycle (ms, window plus the skipped wait's ticks), both the whole
process's, so a window during which the learner trains in the background counts its CPU too. The
goal: flat, and resident memory growing less than 2 MB from the first tenth to the last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
VIDEO = ROOT.parent / "shared" / "data" / "face_videos" / "liveportrait_driving_d9.mp4"
if not VIDEO.exists():
    VIDEO = Path("/work/shared/data/face_videos/liveportrait_driving_d9.mp4")


class JumpClock:
    """Wall and monotonic time that move on at once when the player waits or sleeps.

    ``now()`` is real time plus everything skipped, so journal rows read as a day; ``jump`` moves
    the wall clock alone (a suspend forward, a time sync back).
    """

    def __init__(self) -> None:
        self.skipped = 0.0  # seconds of waiting skipped
        self.offset = 0.0  # the wall clock's jumps

    def now(self) -> float:
        return time.time() + self.skipped + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += max(seconds, 0.0)

    def wait(self, seconds: float, wake: threading.Event) -> None:
        if not wake.is_set():
            self.skipped += max(seconds, 0.0)

    def jump(self, seconds: float) -> None:
        self.offset += seconds


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def proc_status(field: str) -> int:
    """An integer field of /proc/self/status (VmRSS in kB, Threads)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Meter:
    """A listener that samples the process after every window and sends the corrections."""

    def __init__(self, core: Any, journal: Path, clock: JumpClock, args: argparse.Namespace) -> None:
        self.core, self.journal, self.clock, self.args = core, journal, clock, args
        self.rows: list[dict[str, float]] = []
        self._window_cpu = self._cycle_cpu = cpu()
        self.corrections = 0
        self.started = time.perf_counter()

    def on_event(self, event: str, /, **values: Any) -> None:
        if event == "window_started":
            now = cpu()
            if self.rows:
                self.rows[-1]["cycle_ms"] = (now - self._cycle_cpu) * 1000
            self._window_cpu = self._cycle_cpu = now
        elif event == "window_read":
            self._sample()

    def _sample(self) -> None:
        from emusify.desk.events import Command

        n = len(self.rows) + 1
        wal = self.journal.with_name(self.journal.name + "-wal")
        self.rows.append({"rss": proc_status("VmRSS") / 1024, "fds": len(os.listdir("/proc/self/fd")),
                          "threads": proc_status("Threads"), "journal": self.journal.stat().st_size / 1024,
                          "wal": wal.stat().st_size / 1024 if wal.exists() else 0.0,
                          "window_ms": (cpu() - self._window_cpu) * 1000})
        if self.args.correct_every and n % self.args.correct_every == 0:
            keys = self.core.keys  # the moods a digit names
            self.core.send(Command("correct", keys[self.corrections % len(keys)], "benchmark"))
            self.corrections += 1
        if not self.args.no_jumps and n == self.args.cycles // 2:
            self.clock.jump(8 * 3600)  # the PC sleeps overnight
        if not self.args.no_jumps and n == self.args.cycles * 3 // 4:
            self.clock.jump(-3600)  # a time sync sets the clock back
        if n % max(self.args.cycles // 10, 1) == 0:
            print(f"  {n}/{self.args.cycles} windows, {time.perf_counter() - self.started:.0f} s, "
                  f"RSS {self.rows[-1]['rss']:.1f} MB", flush=True)


def run_day(args: argparse.Namespace, tmp: Path) -> tuple[Meter, Any]:
    from emusify.cli.run import (
        add_feedback,
        choose_model,
        moods_with_songs,
        open_devices,
        open_library,
        passive_reference,
        reference_keeper,
    )
    from emusify.config import load_settings
    from emusify.desk.core import Core
    from emusify.music.policy import parse_policy
    from emusify.reading.model import Model
    from emusify.reading.predictor import Predictor
    from emusify.sensing.camera import open_source
    from emusify.sensing.playhead import Playhead

    settings = load_settings(ROOT, {
        "source": str(args.video), "window": args.window, "every": args.every, "cycles": args.cycles,
        "songs": ROOT / "songs", "data": tmp / "data", "model": tmp / "data" / "model.npz",
        "starter_model": ROOT / "models" / "starter.npz", "backend": args.backend})
    model = Model.load(choose_model(settings))
    policy = parse_policy(settings.policy, settings.keep_on_neutral, settings.fallback, model.labels)
    library = open_library(settings.songs, settings.fallback)
    predictor = Predictor(model)  # every mood, as run.py reads them (issue 16)
    keys = moods_with_songs(model.labels, library.folders(), policy)
    clock = JumpClock()
    with ExitStack() as stack:
        devices, _ = open_devices(settings, stack, predictor, library, preview=False, terminal=False)
        devices.clock = clock
        devices.open_source = partial(open_source, playhead=Playhead(clock))  # the video follows the day
        add_feedback(devices, settings)
        devices.calibration = reference_keeper(settings, model, predictor, False)
        devices.passive = passive_reference(model)
        core = Core(settings, devices, predictor.labels, policy, keys=keys)
        devices.player.on_error = core.song_failed
        meter = Meter(core, settings.journal_path, clock, args)
        core.add_listener(meter)
        status = core.run()
        if devices.learner is not None:
            devices.learner.finish()
        print(f"exit status {status}; {devices.learner.updates if devices.learner else 0} model "
              f"update(s) from {meter.corrections} correction(s); desk events: "
              f"{[(r.event, round(r.seconds)) for r in devices.journal.desk_rows()]}")
        return meter, settings


def tenths(rows: list[dict[str, float]]) -> list[list[dict[str, float]]]:
    """The rows in ten parts as even as they come (fewer parts for fewer than ten rows)."""
    parts = min(10, len(rows))
    bounds = [round(i * len(rows) / parts) for i in range(parts + 1)]
    return [rows[a:b] for a, b in zip(bounds, bounds[1:])]


def report(meter: Meter, args: argparse.Namespace, wall: float) -> None:
    rows = meter.rows
    print(f"\n{len(rows)} windows of {args.window:g} s (the player's default is 18 s; shortened to keep "
          f"a day affordable) every {args.every:g} min of skipped waiting, {args.backend} backend, "
          f"{args.video.name}; {wall:.0f} s wall")
    print("| tenth | windows | RSS MB | fds | threads | journal KB (+WAL) | CPU/window ms | CPU/cycle ms |")
    print("|---|---|---|---|---|---|---|---|")
    done = 0
    parts = tenths(rows)
    for number, part in enumerate(parts, 1):
        rss = statistics.median(r["rss"] for r in part)
        window = statistics.median(r["window_ms"] for r in part)
        cycle = [r["cycle_ms"] for r in part if "cycle_ms" in r]
        print(f"| {number} | {done + 1}-{done + len(part)} | {rss:.1f} | {max(r['fds'] for r in part)} | "
              f"{max(r['threads'] for r in part)} | {part[-1]['journal']:.0f} (+{part[-1]['wal']:.0f}) | "
              f"{window:.0f} | {statistics.median(cycle) if cycle else float('nan'):.0f} |")
        done += len(part)
    first, last = parts[0], parts[-1]
    growth = statistics.median(r["rss"] for r in last) - statistics.median(r["rss"] for r in first)
    print(f"\nresident memory, first tenth -> last tenth (medians): {growth:+.1f} MB "
          f"({'within' if growth < 2 else 'over'} the 2 MB goal); fds {max(r['fds'] for r in first)} -> "
          f"{max(r['fds'] for r in last)}; threads {max(r['threads'] for r in first)} -> "
          f"{max(r['threads'] for r in last)}; CPU per window "
          f"{statistics.median(r['window_ms'] for r in first):.0f} -> "
          f"{statistics.median(r['window_ms'] for r in last):.0f} ms")
    if len(parts) > 2:
        second = statistics.median(r["rss"] for r in parts[1])
        print(f"resident memory, second tenth -> last tenth (with corrections, past the first model "
              f"update): {statistics.median(r['rss'] for r in last) - second:+.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=288, metavar="N",
                        help="windows to run (default: 288, a day at every=5)")
    parser.add_argument("--window", type=float, default=2.0, metavar="SECONDS",
                        help="seconds of real frames per window (default: 2; run.py's is 18)")
    parser.add_argument("--every", type=float, default=5.0, metavar="MINUTES",
                        help="minutes of (skipped) waiting between windows (default: 5)")
    parser.add_argument("--backend", default="tasks", choices=("holistic", "tasks"),
                        help="landmark backend (default: tasks)")
    parser.add_argument("--video", type=Path, default=VIDEO, metavar="FILE",
                        help=f"the webcam's stand-in (default: {VIDEO.name})")
    parser.add_argument("--correct-every", type=int, default=24, metavar="N",
                        help="send a correction after every N-th window (default: 24; 0: none)")
    parser.add_argument("--no-jumps", action="store_true",
                        help="no sleep (8 h forward at the middle) and no time sync (1 h back at 3/4)")
    args = parser.parse_args()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="emusify-day-"))
    try:
        print(f"a day of {args.cycles} windows, {args.backend}, python {sys.version.split()[0]}", flush=True)
        meter, _ = run_day(args, tmp)
        report(meter, args, time.perf_counter() - started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
