"""Runner figures: per-frame cost of a window, average CPU over a default cycle, peak memory.

    SDL_AUDIODRIVER=dummy .venv/bin/python benchmarks/runner.py [--idle SECONDS] [--skip-subprocess]

1. Per-frame cost at 640x480 (landmarks + features + prediction), median ms over a face video.
2. CPU of one default cycle, measured in-process with the real devices and the real Runner: one
   18 s window (a video file stands in for the webcam; it is decoded at 30 fps like a camera's
   stream) and an idle wait of --idle seconds with music playing. The idle CPU rate is extrapolated
   to the default 5-minute wait: share = (window CPU + idle rate * 300 s) / (18 s + 300 s).
3. Peak resident memory of `python run.py --cycles 2` as a subprocess (VmHWM from /proc, polled:
   the child's ru_maxrss would include the forked copy of this process), and its total CPU.
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
VIDEO = ROOT.parent / "shared" / "data" / "face_videos" / "liveportrait_driving_d9.mp4"


def cpu() -> float:
    """User + system CPU seconds of this process so far."""
    times = os.times()
    return times.user + times.system


def frame_cost(model_path: Path, frames: int) -> None:
    """Median per-frame milliseconds of landmarks, features and prediction at 640x480."""
    import cv2
    import numpy as np

    from emusify.camera import open_source
    from emusify.features import face_vector
    from emusify.landmarks import LandmarkExtractor
    from emusify.model import Model, Predictor

    predictor = Predictor(Model.load(model_path))
    images = []
    with open_source(str(VIDEO)) as source:
        while len(images) < frames + 5 and (frame := source.read()) is not None:
            if frame.index % 4 == 0:  # every 4th frame: a 30 fps stream sampled at ~4-8 fps
                images.append(cv2.resize(frame.image, (640, 480)))
    parts: dict[str, list[float]] = {"landmarks": [], "features": [], "prediction": [], "total": []}
    cpu_ms: list[float] = []
    with LandmarkExtractor(static=False) as extractor:
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
    print(f"per-frame cost at 640x480 over {len(parts['total'])} face frames of {VIDEO.name} "
          f"(median wall ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for name, values in parts.items():
        print(f"  {name:<11} {statistics.median(values):7.2f}")
    print(f"  CPU time per frame, all threads: median {statistics.median(cpu_ms):.1f} ms")


def pick_model(tmp: Path) -> Path:
    """The user's or the starter model; without either, a synthetic one of train.py's default size."""
    from emusify.cli.run import choose_model
    from emusify.config import load_settings
    from emusify.errors import ModelError

    try:
        return choose_model(load_settings(ROOT))
    except ModelError:
        import numpy as np

        from emusify.features import LAYOUT
        from emusify.training import TrainOptions, fit_pipeline, model_from_pipeline

        labels = ("angry", "happy", "neutral", "sad")
        rng = np.random.default_rng(0)
        X, y = rng.normal(size=(200, LAYOUT.length)).astype(np.float32), np.repeat(labels, 50)
        options = TrainOptions(max_steps=100)  # the default network size, hidden (128,)
        path = tmp / "synthetic.npz"
        model_from_pipeline(fit_pipeline(X, y, labels, options), LAYOUT, options).save(path)
        print(f"no user or starter model: timing a synthetic model of the default size ({path.name})")
        return path


def cycle_cpu(model_path: Path, idle_seconds: float) -> None:
    """CPU of one window and of an idle wait with the real Runner, extrapolated to the default cycle."""
    from emusify.cli.run import choose_model, open_devices, open_library
    from emusify.config import Settings, load_settings
    from emusify.model import Model, Predictor
    from emusify.policy import parse_policy
    from emusify.runner import Runner

    start_cpu, start_wall = cpu(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        settings = load_settings(ROOT, {"source": str(VIDEO), "journal": Path(tmp) / "j.sqlite",
                                        "songs": ROOT / "songs", "model": model_path})
        model = Model.load(choose_model(settings))
        library = open_library(settings.songs)
        devices = open_devices(settings, stack, Predictor(model), library, preview=False)
        devices.ui = None  # no status line in the benchmark output
        runner = Runner(settings, devices, model.labels, parse_policy(settings.policy))
        startup = cpu() - start_cpu, time.perf_counter() - start_wall
        c0, w0 = cpu(), time.perf_counter()
        library.scan()
        result = runner.watch()
        runner.decide(result, time.time())
        window = cpu() - c0, time.perf_counter() - w0
        c1, w1 = cpu(), time.perf_counter()
        runner.wait(time.time() + idle_seconds)
        idle = cpu() - c1, time.perf_counter() - w1
        runner.request_stop("benchmark")
    defaults = Settings()
    rate = idle[0] / idle[1]
    cycle_wall = defaults.window + defaults.every * 60
    share = (window[0] + rate * defaults.every * 60) / cycle_wall
    print(f"cycle CPU (in-process, real devices, {VIDEO.name} as the camera, window {settings.window:g} s):")
    print(f"  start-up (imports, model, MediaPipe, mixer): {startup[0]:.2f} s CPU"
          f" in {startup[1]:.2f} s (once)")
    print(f"  window: {result.frames} frames analysed, {window[0]:.2f} s CPU in {window[1]:.2f} s wall")
    print(f"  idle with music: {idle[0]:.2f} s CPU in {idle[1]:.1f} s = {rate:.2%} of one core")
    print(f"  default cycle ({defaults.window:g} s window + {defaults.every:g} min wait): "
          f"{share:.2%} of one core (target <= 5%)")


def run_py(model_path: Path, every_minutes: float) -> None:
    """Peak memory and total CPU of run.py itself over two default-length windows."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "run.py", "--source", str(VIDEO), "--cycles", "2",
                   "--every", str(every_minutes), "--journal", str(Path(tmp) / "j.sqlite"),
                   "--model", str(model_path), "-q"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, _vm_hwm_kb(child.pid))
            time.sleep(0.25)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"run.py subprocess: {' '.join(command[1:3])} ... --cycles 2 --every {every_minutes:g}"
          f" (exit {child.returncode})")
    print(f"  total CPU {used:.2f} s in {wall:.1f} s wall;"
          f" peak RSS {peak_kb / 1024:.0f} MB (VmHWM; target <= 400 MB)")


def _vm_hwm_kb(pid: int) -> int:
    """The peak resident set of a running process, from /proc (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
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
    args = parser.parse_args()
    os.chdir(ROOT)
    if not VIDEO.is_file():
        sys.exit(f"error: {VIDEO} not found: the benchmark needs ../shared/data")
    with tempfile.TemporaryDirectory() as tmp:
        model = pick_model(Path(tmp))
        if not args.skip_subprocess:
            run_py(model, args.every)
        frame_cost(model, args.frames)
        cycle_cpu(model, args.idle)


if __name__ == "__main__":
    main()
