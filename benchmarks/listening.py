"""What the listener hears, and what it costs (issue 22). Sections run with --only NAME.

    .venv/bin/python benchmarks/listening.py [--only loudness] [--parts heard,cost,player,idle]
        [--idle 60] [--repeats 2] [--windows 8] [--video FILE]

loudness (issue 22, item 1; docs/results/listening.md):
1. Heard: the demo songs played whole by emusify's Player through SDL's disk audio driver
   (tests/diskplay.py: SDL_DISKAUDIODELAY=0, so a song takes about a second), loudness off (as
   today) and on (default target; measured by the real idle-priority child), and the output of
   each measured (BS.1770 integrated loudness, peak, samples at the 16-bit limits). Spread = the
   loudest song minus the quietest, in LU.
2. Measuring cost: the demo songs and copies of two of them as FLAC and WAV (44.1 kHz stereo), in
   the real child: CPU seconds per minute of audio per format, the child's start (spawn, imports)
   and its peak memory.
3. The player: `run.py -v --window 4 --every 0.1` on the face video with a fresh data folder and a
   songs folder of 10-minute FLAC files (so measuring takes a while), loudness on vs off: peak memory of
   the player process (VmHWM), how late each window began ("began ... after its time") and how
   many began while a measuring child was running.
4. Idle CPU: run.py playing, between windows, after the measuring is done (the player process
   alone, /proc/<pid>/stat), loudness on vs off, interleaved --repeats times; medians.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from benchmarks.frontends_cycle import Child, idle_rate  # noqa: E402
from tests.diskplay import heard  # noqa: E402
from tests.test_e2e import VIDEO, demo_songs  # noqa: E402

AUDIO = (".mp3", ".ogg", ".flac", ".wav")


def songs_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/*") if p.suffix.lower() in AUDIO)


def heard_part(songs: list[Path], tmp: Path) -> None:
    """Play every song through the disk driver, loudness off and on; print what was heard."""
    from emusify.music.loudness import TARGET

    print(f"\n## Heard: {len(songs)} demo songs through SDL's disk audio driver, whole, "
          f"target {TARGET:g} LUFS")
    results = {}
    for mode in ("off", "on"):
        out = tmp / f"heard-{mode}"
        out.mkdir()
        command = [sys.executable, str(ROOT / "tests" / "diskplay.py"), str(out), mode, str(TARGET),
                   "--child"]
        done = subprocess.run(command + list(map(str, songs)), capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=600)
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        gains = [float(line.split("\t")[0]) for line in done.stdout.splitlines()]
        results[mode] = [(gain, heard(out / f"{n}.raw")) for n, gain in enumerate(gains)]
    print("| song | off: LUFS | off: peak | on: gain | on: LUFS | on: peak | clipped off/on |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for song, (_, off), (gain, on) in zip(songs, results["off"], results["on"]):
        print(f"| {song.parent.name}/{song.name} | {off.loudness:.1f} | {off.peak:.2f} | {gain:+.1f} dB | "
              f"{on.loudness:.1f} | {on.peak:.2f} | {off.clipped}/{on.clipped} |")
    for mode in ("off", "on"):
        levels = [h.loudness for _, h in results[mode]]
        clipped = sum(h.clipped for _, h in results[mode])
        seconds = sum(h.seconds for _, h in results[mode])
        print(f"loudness {mode}: spread {max(levels) - min(levels):.2f} LU ({min(levels):.1f} to "
              f"{max(levels):.1f} LUFS) over {seconds / 60:.1f} min heard; {clipped} samples clipped "
              f"(target: spread <= 1.5 LU, none clipped)")


def format_copies(songs: list[Path], tmp: Path) -> list[Path]:
    """FLAC and WAV copies (44.1 kHz stereo) of the first MP3 and the first OGG, beside the demo songs."""
    import numpy as np
    import soundfile

    copies = []
    for source in [next(s for s in songs if s.suffix == ext) for ext in (".mp3", ".ogg")]:
        data, rate = soundfile.read(source, dtype="float32", always_2d=True)
        if data.shape[1] == 1:
            data = np.repeat(data, 2, axis=1)
        if rate != 44100:
            data = np.repeat(data, 44100 // rate, axis=0)
            rate = 44100
        for ext in ("flac", "wav"):
            copies.append(tmp / f"{source.stem}.{ext}")
            soundfile.write(copies[-1], data, rate)
    return copies


def cost_part(songs: list[Path], tmp: Path) -> None:
    """CPU per minute of audio per format, the child's start and peak memory."""
    from emusify.music.measure import measure_in_child

    files = songs + format_copies(songs, tmp)
    print(f"\n## Measuring cost: {len(files)} files in one idle-priority child "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    results = list(measure_in_child([str(f) for f in files]))
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    per_format: dict[str, list[float]] = {}
    for result in results:
        if result.error:
            print(f"  {Path(result.path).name}: {result.error}")
            continue
        rate = 60 * result.cpu / result.seconds
        per_format.setdefault(Path(result.path).suffix[1:].upper(), []).append(rate)
    print("| format | files | CPU s per minute of audio (median) |")
    print("|---|---:|---:|")
    for fmt, rates in sorted(per_format.items()):
        print(f"| {fmt} | {len(rates)} | {statistics.median(rates):.3f} |")
    files_cpu = sum(r.cpu for r in results)
    print(f"child: {total:.2f} s CPU in {wall:.1f} s wall; {total - files_cpu:.2f} s of it starting "
          f"(spawn, imports: numpy, SciPy, soundfile, pyloudnorm); its peak memory "
          f"{max(r.memory for r in results):.0f} MB (its VmHWM)")
    print("child's peak memory after each file (MB): "
          + ", ".join(f"{Path(r.path).suffix[1:]} {r.seconds / 60:.1f} min {r.memory:.0f}" for r in results))


def long_songs(tmp: Path, songs: list[Path], minutes: float = 10.0) -> Path:
    """A songs folder, one folder per demo mood, each with two long FLAC files (44.1 kHz stereo)."""
    import numpy as np
    import soundfile

    root = tmp / "long-songs"
    for song in songs:
        folder = root / song.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        if len(list(folder.iterdir())) >= 2:
            continue
        data, rate = soundfile.read(song, dtype="float32", always_2d=True)
        data = np.repeat(data, 2, axis=1) if data.shape[1] == 1 else data
        data = np.tile(data, (int(minutes * 60 * rate / len(data)) + 1, 1))[: int(minutes * 60 * rate)]
        soundfile.write(folder / f"{song.stem}.flac", data, rate)
    return root


def measuring_children(pid: int) -> bool:
    """Whether process ``pid`` has a child now (the measuring child, started by one of its threads)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "children").read_text().split():
                return True
        except OSError:
            continue
    return False


def run_player(tmp: Path, on: bool, songs: Path, args: list, tag: str) -> Child:
    config = tmp / f"emusify-{tag}.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp / 'none.npz'}\nmpris = false\nnotify = off\n"
                      f"loudness = {'on' if on else 'off'}\n")
    data = tmp / f"data-{tag}"
    command = [sys.executable, "run.py", "--source", VIDEO_USED[0], "--data", data, "--songs", songs]
    return Child(command + list(args), {"EMUSIFY_CONFIG": str(config)})


def player_part(tmp: Path, songs: Path, windows: int, repeats: int) -> None:
    print(f"\n## The player: run.py -v --window 4 --every 0.1 --cycles {windows}, "
          f"songs folder of 10-minute FLACs, {repeats} repeats interleaved")
    late: dict[bool, list[float]] = {False: [], True: []}
    peaks: dict[bool, list[float]] = {False: [], True: []}
    for n in range(repeats):
        for on in (False, True):
            values, peak = player_run(tmp, songs, windows, on, f"player-{on}-{n}")
            late[on] += values
            peaks[on].append(peak)
    for on in (False, True):
        print(f"loudness {'on ' if on else 'off'}: {len(late[on])} windows began late by median "
              f"{1000 * statistics.median(late[on]):.0f} ms, max {1000 * max(late[on]):.0f} ms; "
              f"peak memory of run.py {max(peaks[on]):.0f} MB")


def player_run(tmp: Path, songs: Path, windows: int, on: bool, tag: str) -> tuple[list[float], float]:
    """One run.py run: how late its windows began (s), its peak memory (MB); prints the run's figures."""
    run = run_player(tmp, on, songs, ["-v", "--window", 4, "--every", 0.1, "--cycles", windows], tag)
    busy: list[tuple[float, float]] = []  # (time, 1 measuring / 0 not)
    peak = 0
    while run.child.poll() is None:
        busy.append((time.time(), float(measuring_children(run.child.pid))))
        peak = max(peak, vm_kb(run.child.pid))
        time.sleep(0.05)
    late = [float(m.group(1)) for _, _, line in run.lines
            if (m := re.search(r"began (-?[\d.]+) s after", line))]
    starts = [t for t, _, line in run.lines if re.search(r"window \d+: watching", line)]
    during = sum(1 for t in starts if _near(busy, t))
    pattern = r"loudness: measured .* ([\d.]+) s CPU for (\d+) s .* at (\d+) MB"
    measured = [m for _, _, line in run.lines if (m := re.search(pattern, line))]
    if not late:
        print("".join(line for _, _, line in run.lines[-20:]))
        raise RuntimeError("run.py -v logged no 'began ... after its time' line")
    print(f"  loudness {'on ' if on else 'off'}: peak memory {peak / 1024:.0f} MB (VmHWM of run.py); "
          f"{len(late)} windows began late by median {1000 * statistics.median(late):.0f} ms, "
          f"max {1000 * max(late):.0f} ms; {during} of {len(starts)} windows began while a child ran; "
          f"{len(measured)} songs measured (load {os.getloadavg()[0]:.1f})", flush=True)
    if measured:
        cpu = [60 * float(m.group(1)) / float(m.group(2)) for m in measured]
        print(f"    the measuring child in run.py: median {statistics.median(cpu):.3f} s CPU per minute of "
              f"audio, peak memory {max(int(m.group(3)) for m in measured)} MB", flush=True)
    return late, peak / 1024


def _near(busy: list[tuple[float, float]], when: float) -> bool:
    return any(flag and abs(t - when) < 0.1 for t, flag in busy)


def vm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def idle_part(tmp: Path, idle: float, repeats: int) -> None:
    songs = demo_songs(tmp)
    print(f"\n## Idle CPU between windows (run.py playing, {idle:g} s, after measuring ended), "
          f"medians of {repeats}")
    rates: dict[bool, list[float]] = {True: [], False: []}
    for n in range(repeats):
        for on in (True, False):
            run = run_player(tmp, on, songs, ["--window", 18, "--every", 30, "--cycles", 2], f"idle-{on}-{n}")
            try:
                run.wait_line(r"playing .* \((\w+)\)", 240)
                deadline = time.monotonic() + 60
                time.sleep(5)  # the fade-in ends
                while measuring_children(run.child.pid) and time.monotonic() < deadline:
                    time.sleep(0.5)
                rates[on].append(idle_rate(run.child.pid, idle))
            finally:
                run.stop()
            print(f"  repeat {n + 1}, loudness {'on ' if on else 'off'}: {rates[on][-1]:.3%} of a core "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"idle CPU: loudness on {on:.3%}, off {off:.3%}: {100 * (on - off):+.3f}% of a core "
          f"(target within 0.1)")


def loudness(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        songs = songs_of(demo_songs(tmp))
        parts = args.parts.split(",")
        if "heard" in parts:
            heard_part(songs, tmp)
        if "cost" in parts:
            cost_part(songs, tmp)
        if "player" in parts:
            player_part(tmp, long_songs(tmp, songs), args.windows, args.repeats)
        if "idle" in parts:
            idle_part(tmp, args.idle, args.repeats)


SECTIONS = {"loudness": loudness}
VIDEO_USED = [VIDEO]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    parser.add_argument("--idle", type=float, default=60.0, metavar="SECONDS",
                        help="idle stretch (default: 60)")
    parser.add_argument("--video", type=Path, default=VIDEO, metavar="FILE",
                        help=f"the face video standing in for the webcam (default: {VIDEO})")
    parser.add_argument("--repeats", type=int, default=2, metavar="N",
                        help="repeats of the player and idle parts (default: 2)")
    parser.add_argument("--windows", type=int, default=8, metavar="N", help="windows timed (default: 8)")
    parser.add_argument("--parts", default="heard,cost,player,idle", metavar="LIST",
                        help="parts of the loudness section (default: heard,cost,player,idle)")
    args = parser.parse_args()
    os.chdir(ROOT)
    VIDEO_USED[0] = args.video
    if ("player" in args.parts or "idle" in args.parts) and not args.video.is_file():
        sys.exit(f"error: {args.video} not found: pass --video, or --parts heard,cost")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)", flush=True)
    for name in args.only or sorted(SECTIONS):
        SECTIONS[name](args)


if __name__ == "__main__":
    main()
