"""Runner figures per landmark backend: per-frame cost, average CPU over a default cycle, peak memory.

    SDL_AUDIODRIVER=dummy .venv/bin/python benchmarks/runner.py [--idle SECONDS] [--skip-subprocess]
        [--backends holistic tasks] [--long WINDOWS]

Every part runs once per backend this mediapipe has (both with mediapipe 0.10.21, tasks alone with
1.2.x), and a table puts them side by side at the end.

1. Per-frame cost at 640x480 (landmarks + features + prediction), median ms over a face video.
2. CPU of one default cycle, measured in-process with the real devices and the real Runner: one
   18 s window (a video file stands in for the webcam; it is decoded at 30 fps like a camera's
   stream) and an idle wait of --idle seconds with music playing. The idle CPU rate is extrapolated
   to the default 5-minute wait: share = (window CPU + idle rate * 300 s) / (18 s + 300 s).
3. Peak resident memory of `python run.py --cycles 2` as a subprocess (VmHWM from /proc, polled:
   the child's ru_maxrss would include the forked copy of this process), and its total CPU.
4. With --long N: `python run.py --cycles N --every 0` (N windows back to back; 288 is a day of
   default cycles), its resident memory sampled every second: flat means no growth per window.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
CHILD_ENV = dict(os.environ)  # before any extractor here sets MediaPipe's log levels (run.py sets its own)
VIDEO = ROOT.parent / "shared" / "data" / "face_videos" / "liveportrait_driving_d9.mp4"


def cpu() -> float:
    """User + system CPU seconds of this process so far."""
    times = os.times()
    return times.user + times.system


def frame_cost(model_path: Path, frames: int, backend: str) -> float:
    """Median per-frame milliseconds of landmarks, features and prediction at 640x480."""
    import cv2
    import numpy as np

    from emusify.reading.model import Model
    from emusify.reading.predictor import Predictor
    from emusify.sensing.camera import open_source
    from emusify.sensing.features import face_vector
    from emusify.sensing.landmarks import open_extractor

    predictor = Predictor(Model.load(model_path))
    images = []
    with open_source(str(VIDEO)) as source:
        while len(images) < frames + 5 and (frame := source.read()) is not None:
            if frame.index % 4 == 0:  # every 4th frame: a 30 fps stream sampled at ~4-8 fps
                images.append(cv2.resize(frame.image, (640, 480)))
    parts: dict[str, list[float]] = {"landmarks": [], "features": [], "prediction": [], "total": []}
    cpu_ms: list[float] = []
    with open_extractor(backend, static=False) as extractor:
        for i, image in enumerate(images):
            c0 = time.process_time()
            t0 = time.perf_counter()
            landmarks = extractor.extract(image)
            t1 = time.perf_counter()
            if landmarks is None:
                continue
            vector = face_vector(landmarks)
            t2 = time.perf_counter()
            predictor.predict(np.asarray(vector).reshape(1, -1))
            t3 = time.perf_counter()
            if i >= 5:  # warm-up
                for name, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                    parts[name].append(value * 1000)
                cpu_ms.append((time.process_time() - c0) * 1000)
    print(f"[{backend}] per-frame cost at 640x480 over {len(parts['total'])} face frames of {VIDEO.name} "
          f"(median wall ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for name, values in parts.items():
        print(f"  {name:<11} {statistics.median(values):7.2f}")
    print(f"  CPU time per frame, all threads: median {statistics.median(cpu_ms):.1f} ms")
    return statistics.median(cpu_ms)


def pick_model(tmp: Path) -> Path:
    """The user's or the starter model; without either, a synthetic one of train.py's default size."""
    from emusify.cli.run import choose_model
    from emusify.config import load_settings
    from emusify.errors import ModelError

    try:
        return choose_model(load_settings(ROOT))
    except ModelError:
        import numpy as np

        from emusify.reading.training import TrainOptions, fit_pipeline, model_from_pipeline
        from emusify.sensing.features import LAYOUT

        labels = ("angry", "happy", "neutral", "sad")
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(200, LAYOUT.length)).astype(np.float32), np.repeat(labels, 50)
        options = TrainOptions(max_steps=100)  # the default network size, hidden (128,)
        path = tmp / "synthetic.npz"
        model_from_pipeline(fit_pipeline(X, y, labels, options), LAYOUT, options).save(path)
        print(f"no user or starter model: timing a synthetic model of the default size ({path.name})")
        return path


def cycle_cpu(model_path: Path, idle_seconds: float, backend: str) -> float:
    """CPU of one window and of an idle wait with the real Core, extrapolated to the default cycle."""
    from emusify.cli.run import choose_model, open_devices, open_library
    from emusify.config import Settings, load_settings
    from emusify.desk.core import Core
    from emusify.music.policy import parse_policy
    from emusify.reading.model import Model
    from emusify.reading.predictor import Predictor

    start_cpu, start_wall = cpu(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        settings = load_settings(ROOT, {"source": str(VIDEO), "data": Path(tmp) / "data",  # never the user's
                                        "songs": ROOT / "songs", "model": model_path, "backend": backend})
        model = Model.load(choose_model(settings))
        library = open_library(settings.songs)
        devices, _ = open_devices(settings, stack, Predictor(model), library, preview=False)
        runner = Core(settings, devices, model.labels, parse_policy(settings.policy))  # no terminal front-end
        startup = cpu() - start_cpu, time.perf_counter() - start_wall
        c0, w0 = cpu(), time.perf_counter()
        library.scan()
        result = runner.reader.read()
        runner._decide(result, time.time())
        window = cpu() - c0, time.perf_counter() - w0
        c1, w1 = cpu(), time.perf_counter()
        runner._wait(idle_seconds)
        idle = cpu() - c1, time.perf_counter() - w1
        runner.request_stop("benchmark")
    defaults = Settings()
    rate = idle[0] / idle[1]
    cycle_wall = defaults.window + defaults.every * 60
    share = (window[0] + rate * defaults.every * 60) / cycle_wall
    print(f"[{backend}] cycle CPU (in-process, real devices, {VIDEO.name} as the camera, "
          f"window {settings.window:g} s):")
    print(f"  start-up (imports, model, MediaPipe, mixer): {startup[0]:.2f} s CPU"
          f" in {startup[1]:.2f} s (once)")
    print(f"  window: {result.frames} frames analysed, {window[0]:.2f} s CPU in {window[1]:.2f} s wall")
    print(f"  idle with music: {idle[0]:.2f} s CPU in {idle[1]:.1f} s = {rate:.2%} of one core")
    print(f"  default cycle ({defaults.window:g} s window + {defaults.every:g} min wait): "
          f"{share:.2%} of one core (target <= 5%)")
    return share


def run_py(model_path: Path, every_minutes: float, backend: str, cycles: int = 2) -> tuple[float, list]:
    """Peak memory (MB) and total CPU of run.py itself over ``cycles`` default-length windows.

    Returns the peak and the resident-memory samples (seconds, MB), one a second.
    """
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "run.py", "--source", str(VIDEO), "--cycles", str(cycles),
                   "--every", str(every_minutes), "--data", str(Path(tmp) / "data"),  # never the user's
                   "--model", str(model_path), "--backend", backend, "-qq"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env=CHILD_ENV)
        peak_kb, samples, next_sample = 0, [], 0.0
        while child.poll() is None:
            peak_kb = max(peak_kb, _vm_kb(child.pid))
            if time.perf_counter() - wall >= next_sample:
                samples.append((time.perf_counter() - wall, _vm_kb(child.pid, "VmRSS:") / 1024))
                next_sample += 1.0
            time.sleep(0.25)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"[{backend}] run.py subprocess: {' '.join(command[1:3])} ... --cycles {cycles} "
          f"--every {every_minutes:g} --backend {backend} (exit {child.returncode})")
    print(f"  total CPU {used:.2f} s in {wall:.1f} s wall;"
          f" peak RSS {peak_kb / 1024:.0f} MB (VmHWM; target <= 400 MB, tasks <= 300 MB)")
    return peak_kb / 1024, samples


def long_run(model_path: Path, backend: str, windows: int) -> str:
    """Resident memory of run.py over ``windows`` back-to-back windows: does it grow?"""
    peak, samples = run_py(model_path, 0.0, backend, cycles=windows)
    rss = [mb for _, mb in samples]
    if len(rss) < 10:
        return "too short to tell"
    tenth = len(rss) // 10
    early, late = statistics.median(rss[tenth:2 * tenth]), statistics.median(rss[-tenth:])
    print(f"  RSS over {windows} windows: {early:.0f} MB after the first tenth, {late:.0f} MB in the last "
          f"tenth, peak {peak:.0f} MB")
    return f"{early:.0f} -> {late:.0f} MB ({late - early:+.0f})"


def _vm_kb(pid: int, field: str = "VmHWM:") -> int:
    """A memory figure of a running process from /proc, in kB (0 when gone); VmHWM is the peak RSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, metavar="N", help="frames timed (default: 60)")
    parser.add_argument("--idle", type=float, default=60.0, metavar="SECONDS",
                        help="idle wait measured, extrapolated to 5 min (default: 60)")
    parser.add_argument("--every", type=float, default=0.5, metavar="MINUTES",
                        help="--every of the run.py subprocess (default: 0.5)")
    parser.add_argument("--skip-subprocess", action="store_true", help="skip the run.py subprocess")
    parser.add_argument("--backends", nargs="+", choices=("holistic", "tasks"), metavar="NAME",
                        help="landmark backends to measure (default: every one this mediapipe has)")
    parser.add_argument("--long", type=int, default=0, metavar="WINDOWS",
                        help="also run run.py for this many back-to-back windows, sampling its memory "
                             "(288 = a day of default cycles; default: 0, skipped)")
    args = parser.parse_args()
    os.chdir(ROOT)
    if not VIDEO.is_file():
        sys.exit(f"error: {VIDEO} not found: the benchmark needs ../shared/data")
    from emusify.sensing.landmarks import available

    backends = args.backends or list(available())
    rows: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = pick_model(Path(tmp))
        for backend in backends:
            row = rows.setdefault(backend, {})
            if not args.skip_subprocess:
                row["peak RSS (run.py --cycles 2)"] = f"{run_py(model, args.every, backend)[0]:.0f} MB"
            row["CPU per analysed frame"] = f"{frame_cost(model, args.frames, backend):.1f} ms"
            row["average CPU over a default cycle"] = f"{cycle_cpu(model, args.idle, backend):.2%}"
            if args.long:
                row[f"RSS over {args.long} windows"] = long_run(model, backend, args.long)
    summary(rows)


def summary(rows: dict[str, dict[str, str]]) -> None:
    """The backends side by side, with the Tasks/Holistic ratio of CPU per frame."""
    names = list(rows)
    print("\n| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for key in next(iter(rows.values())):
        print(f"| {key} | " + " | ".join(rows[n].get(key, "-") for n in names) + " |")
    if {"holistic", "tasks"} <= set(names):
        ratio = (float(rows["tasks"]["CPU per analysed frame"].split()[0])
                 / float(rows["holistic"]["CPU per analysed frame"].split()[0]))
        print(f"\nCPU per analysed frame, tasks / holistic: {ratio:.2f} (goal <= 0.5)")


if __name__ == "__main__":
    main()
