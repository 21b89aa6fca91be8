"""What the front-ends cost the player: CPU over a default cycle, idle CPU, window punctuality.

    SDL_AUDIODRIVER=dummy .venv/bin/python benchmarks/frontends_cycle.py [--idle 60] [--repeats 3]
        [--windows 6] [--skip-cpu] [--skip-punctuality]

Everything runs ``python run.py`` on the face video with dummy audio, on a private dbus-daemon with a
stand-in notification server (tests/busfix.py); nothing reaches the desktop. CPU is the child's own
(utime + stime from /proc/<pid>/stat), read when its log lines arrive. Prints medians.

1. Cycle CPU, MPRIS + notifications on vs off: one default 18 s window (CPU from "watching" to
   "decision") and an idle stretch of --idle seconds with music, extrapolated to the default cycle
   as benchmarks/runner.py does: share = (window CPU + idle rate * 300 s) / 318 s. The terminal
   front-end is off in both (stdin is not a terminal). Repeats are interleaved on/off/bare.
2. Idle between windows with both front-ends against a bare pygame player playing the song run.py
   played last (pygame.mixer.music, looped, then sleep; nothing else).
3. Punctuality: --windows windows of 4 s, 6 s apart, while a client calls PlayPause, Get(Metadata)
   and Get(PlaybackStatus) about 30 times a second and a notification is posted every window.
   run.py -v logs how late each window began against the time the core planned for it. Then the
   same with both front-ends off and no client, for comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from tests.busfix import MprisClient, NotificationServer, private_bus  # noqa: E402
from tests.test_e2e import VIDEO, demo_songs  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
WINDOW, EVERY = 18.0, 5.0  # the defaults
BARE = """import sys, time, pygame
pygame.mixer.init(); pygame.mixer.music.load(sys.argv[1]); pygame.mixer.music.play(-1)
print("playing", flush=True)
while True:
    time.sleep(3600)
"""


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (its threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Child:
    """A subprocess whose stderr lines are kept with their arrival time and the child's CPU then."""

    def __init__(self, command: list, env: dict) -> None:
        env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1", **env)
        self.child = subprocess.Popen(list(map(str, command)), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, float, str]] = []  # (time.time(), child CPU, line)
        self._got = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.child.stderr:  # type: ignore[union-attr]
            try:
                used = proc_cpu(self.child.pid)
            except (OSError, IndexError):
                used = float("nan")
            with self._got:
                self.lines.append((time.time(), used, line))
                self._got.notify_all()

    def wait_line(self, pattern: str, timeout: float) -> tuple[float, float, str]:
        """The first line (from the start) matching ``pattern``: (arrival, CPU, line)."""
        deadline = time.monotonic() + timeout
        with self._got:
            while True:
                for item in self.lines:
                    if re.search(pattern, item[2]):
                        return item
                left = deadline - time.monotonic()
                if left <= 0 or self.child.poll() is not None:
                    log = "".join(line for _, _, line in self.lines[-30:])
                    raise RuntimeError(f"no line matching {pattern!r}:\n{log}")
                self._got.wait(min(left, 1.0))

    def stop(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(10)


def run_py(tmp: Path, frontends: bool, args: list, notify: str = "changes") -> Child:
    config = tmp / f"emusify-{frontends}.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp / 'none.npz'}\nmpris = {str(frontends).lower()}\n"
                      f"notify = {notify if frontends else 'off'}\nnotify_every = 0\n")
    return Child([sys.executable, "run.py", "--source", VIDEO, "--journal", tmp / "journal.sqlite",
                  "--data", tmp / "data", "--songs", demo_songs(tmp), *args], {"EMUSIFY_CONFIG": str(config)})


def last_song(tmp: Path) -> Path:
    """The song run.py started last (its journal)."""
    with sqlite3.connect(tmp / "journal.sqlite") as db:
        (path,) = db.execute("SELECT path FROM songs WHERE event = 'start' ORDER BY time DESC").fetchone()
    return Path(path)


def idle_rate(pid: int, seconds: float) -> float:
    """Share of one core process ``pid`` uses over the next ``seconds``."""
    c0, w0 = proc_cpu(pid), time.perf_counter()
    time.sleep(seconds)
    return (proc_cpu(pid) - c0) / (time.perf_counter() - w0)


def cycle(tmp: Path, frontends: bool, idle: float) -> tuple[float, float, Path]:
    """(window CPU seconds, idle share of a core, song playing) of run.py with/without front-ends."""
    run = run_py(tmp, frontends, ["--window", WINDOW, "--every", 30, "--cycles", 2])
    try:
        _, c0, _ = run.wait_line(r"window 1: watching", 180)
        _, c1, _ = run.wait_line(r"decision:", 120)
        off = [line for _, _, line in run.lines if " is off: " in line]
        if frontends and off:  # a front-end that did not start would make "on" measure "off"
            raise RuntimeError(f"a front-end did not start: {off[0].strip()}")
        run.wait_line(r"playing .* \((\w+)\)", 30)
        time.sleep(5)  # the fade-in ends
        rate = idle_rate(run.child.pid, idle)
        assert run.child.poll() is None, "run.py ended early"
    finally:
        run.stop()
    return c1 - c0, rate, last_song(tmp)


def bare(song: Path, idle: float) -> float:
    """Idle share of a core of a script that only plays ``song`` with pygame.mixer.music."""
    child = subprocess.Popen([sys.executable, "-c", BARE, str(song)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True,
                             env=dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1"))
    try:
        assert child.stdout.readline().strip() == "playing"  # type: ignore[union-attr]
        time.sleep(5)
        return idle_rate(child.pid, idle)
    finally:
        child.kill()
        child.wait(10)


def share(window_cpu: float, rate: float) -> float:
    return (window_cpu + rate * EVERY * 60) / (WINDOW + EVERY * 60)


def cpu_part(tmp: Path, idle: float, repeats: int) -> None:
    server = NotificationServer().start()  # so that the notifications front-end starts
    try:
        cpu_repeats(tmp, idle, repeats)
    finally:
        server.close()


def cpu_repeats(tmp: Path, idle: float, repeats: int) -> None:
    rows: dict[str, list] = {"on": [], "off": [], "bare": []}
    for n in range(repeats):
        for frontends in (True, False):
            window, rate, song = cycle(tmp, frontends, idle)
            rows["on" if frontends else "off"].append((window, rate))
            print(f"  repeat {n + 1}, front-ends {'on ' if frontends else 'off'}: window {window:.2f} s CPU, "
                  f"idle {rate:.3%}, cycle {share(window, rate):.3%} (playing {song.name}; load "
                  f"{os.getloadavg()[0]:.1f})", flush=True)
        rate = bare(song, idle)
        rows["bare"].append((0.0, rate))
        print(f"  repeat {n + 1}, bare pygame player ({song.name}): idle {rate:.3%}", flush=True)
    med = {key: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v))
           for key, v in rows.items()}
    on, off = share(*med["on"]), share(*med["off"])
    print(f"cycle CPU (18 s window + 5 min wait, medians of {repeats}): front-ends on {on:.3%}, "
          f"off {off:.3%}: "
          f"{100 * (on - off):+.3f}% of a core (target <= +0.1)")
    print(f"idle between windows (medians over {idle:g} s): run.py with MPRIS + notifications "
          f"{med['on'][1]:.3%}, "
          f"without {med['off'][1]:.3%}, bare pygame player {med['bare'][1]:.3%}: "
          f"{100 * (med['on'][1] - med['bare'][1]):+.3f}% of a core over bare (target <= +0.1)")


def hammer(client: MprisClient, stop: threading.Event, counts: list) -> None:
    while not stop.is_set():
        try:
            client.call("PlayPause")
            client.get("Metadata")
            client.get("PlaybackStatus")
            counts[0] += 3
        except Exception:  # noqa: BLE001 - the name may not be there yet, or run.py ended
            time.sleep(0.2)
        time.sleep(0.1)


def punctuality(tmp: Path, windows: int, busy: bool) -> None:
    """How late windows begin: front-ends on and kept busy, or off with nobody calling."""
    server = NotificationServer().start()
    run = run_py(tmp, busy, ["-v", "--window", 4, "--every", 0.1, "--cycles", windows + 1], notify="every")
    client, stop, counts = None, threading.Event(), [0]
    try:
        run.wait_line(r"window 1: watching", 180)
        started = time.perf_counter()
        if busy:
            client = MprisClient()
            threading.Thread(target=hammer, args=(client, stop, counts), daemon=True).start()
        run.child.wait(windows * 15 + 120)
        stop.set()
        rate = counts[0] / (time.perf_counter() - started)
    finally:
        stop.set()
        run.stop()
        if client is not None:
            client.close()
        server.close()
    late = [float(m.group(1)) for _, _, line in run.lines
            if (m := re.search(r"began (-?[\d.]+) s after", line))]
    if not late:
        print("".join(line for _, _, line in run.lines[-30:]))
        raise RuntimeError("run.py -v logged no 'began ... after its time' line")
    how = (f"MPRIS busy ({rate:.0f} calls/s) and {server.received.qsize()} notifications" if busy
           else "front-ends off")
    print(f"window start after its planned time, {len(late)} windows, {how}: median "
          f"{1000 * statistics.median(late):.1f} ms, max {1000 * max(late):.1f} ms (target <= 500 ms)",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=float, default=60.0, metavar="SECONDS",
                        help="idle stretch (default: 60)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="CPU repeats (default: 3)")
    parser.add_argument("--windows", type=int, default=6, metavar="N", help="windows timed (default: 6)")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-punctuality", action="store_true")
    args = parser.parse_args()
    if not VIDEO.is_file():
        sys.exit(f"error: {VIDEO} not found: the benchmark needs ../shared/data")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)", flush=True)
    with private_bus(), tempfile.TemporaryDirectory() as tmp:
        if not args.skip_punctuality:
            punctuality(Path(tmp), args.windows, busy=True)
            punctuality(Path(tmp), args.windows, busy=False)
        if not args.skip_cpu:
            cpu_part(Path(tmp), args.idle, args.repeats)


if __name__ == "__main__":
    main()
