"""Measuring a song's loudness, in a child process at the lowest priority.

The only module that imports soundfile (libsndfile: MP3, OGG, FLAC and WAV from its wheels) and
pyloudnorm (ITU-R BS.1770-4 integrated loudness; it imports SciPy). Both are imported only in the
child :func:`measure_in_child` spawns, so the player never loads them or keeps what decoding
allocates (as the learner's updates, emusify.reading.learner). The child runs at idle priority
(SCHED_IDLE on Linux, else nice 19) and ends when its batch is done.

Loudness is measured as heard: a mono file plays on both speakers, which BS.1770 counts as
+3.01 LU over the file alone. The peak is the largest sample (not the true, oversampled peak).
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
from typing import Any, Iterator, NamedTuple, Sequence

log = logging.getLogger(__name__)

MONO_AS_HEARD = 10 * math.log10(2)  # a mono file heard on two speakers
CHUNK_SECONDS = 60  # decoded and filtered a minute at a time
ABSOLUTE_GATE = -70.0  # LUFS, BS.1770's
STOP_WAIT = 2.0  # seconds a stopped child gets before it is killed


class Measured(NamedTuple):
    """One file's measurement, or why it failed."""

    path: str
    signature: tuple[int, int] | None  # (mtime_ns, size) when measured
    loudness: float | None  # integrated loudness as heard, LUFS; None: failed or silent
    peak: float | None  # largest absolute sample, 1.0 = full scale
    error: str | None  # why it could not be measured
    cpu: float = 0.0  # CPU seconds the child spent on it
    seconds: float = 0.0  # audio seconds measured
    memory: float = 0.0  # the measuring process's peak resident memory so far, MB (0: unknown)


def measure_file(path: str) -> tuple[float | None, float, float]:
    """(loudness as heard in LUFS, peak, seconds of audio) of one file, in this process.

    Decoded a minute at a time, so memory stays flat for a song of any length: pyloudnorm gives each
    chunk's 400 ms gating blocks, and :func:`gated` gates them all together as BS.1770 does (a block
    spanning two chunks is left out: 3 of 600 a minute).

    Raises:
        Whatever soundfile raises on a file it cannot decode (RuntimeError, LibsndfileError, ...).
    """
    import numpy as np
    import pyloudnorm
    import soundfile

    powers, peak, frames = [], 0.0, 0
    with soundfile.SoundFile(path) as audio:
        rate, channels = audio.samplerate, audio.channels
        meter = pyloudnorm.Meter(rate)
        for chunk in audio.blocks(blocksize=rate * CHUNK_SECONDS, dtype="float32", always_2d=True):
            frames += len(chunk)
            if len(chunk):
                peak = max(peak, float(np.max(np.abs(chunk))))
            if len(chunk) >= rate * meter.block_size:
                meter.integrated_loudness(chunk)
                powers.append(10 ** ((np.asarray(meter.blockwise_loudness) + 0.691) / 10))
    seconds = frames / rate if rate else 0.0
    if not powers:  # shorter than one BS.1770 gating block
        raise ValueError(f"too short to measure ({seconds:.2f} s)")
    loudness = gated(np.concatenate(powers))
    if loudness is not None and channels == 1:
        loudness += MONO_AS_HEARD
    return loudness, peak, seconds


def gated(powers: Any) -> float | None:
    """BS.1770-4's integrated loudness from the gating blocks' channel-weighted mean squares:
    blocks under -70 LUFS, then those 10 LU under the mean of the rest, are left out; None: silence."""
    import numpy as np

    def lufs(value: Any) -> Any:
        return -0.691 + 10 * np.log10(value)

    loud = powers[powers >= 10 ** ((ABSOLUTE_GATE + 0.691) / 10)]
    if not len(loud):
        return None
    kept = loud[lufs(loud) > lufs(np.mean(loud)) - 10]
    return float(lufs(np.mean(kept)))


def _lower_priority(pid: int = 0) -> None:
    """Idle priority for process ``pid`` (0: this one): it runs only when nothing else wants the CPU."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
        return
    except (AttributeError, OSError):
        pass
    with contextlib.suppress(AttributeError, OSError):
        if pid:
            os.setpriority(os.PRIO_PROCESS, pid, 19)  # type: ignore[attr-defined]
        else:
            os.nice(19)


def measure_here(paths: Sequence[str]) -> Iterator[Measured]:
    """Measure ``paths`` one by one in this process (the child's loop; tests and benchmarks too)."""
    import time
    import warnings

    import numpy  # noqa: F401 - imported before the first file, so its CPU is not counted as that file's
    import pyloudnorm  # noqa: F401
    import soundfile  # noqa: F401

    warnings.simplefilter("ignore")  # pyloudnorm warns on clipped input; the peak says it
    for path in paths:
        began = time.process_time()
        try:
            stat = os.stat(path)
            signature = (stat.st_mtime_ns, stat.st_size)
        except OSError as exc:
            yield Measured(path, None, None, None, exc.strerror or str(exc))
            continue
        try:
            loudness, peak, seconds = measure_file(path)
        except Exception as exc:  # noqa: BLE001 - any decoder failure is that file's alone
            yield Measured(path, signature, None, None, str(exc) or type(exc).__name__)
            continue
        yield Measured(path, signature, loudness, peak, None, time.process_time() - began, seconds,
                       _peak_memory())


def _peak_memory() -> float:
    """This process's peak resident memory in MB (VmHWM: since its start, not its parent's), 0 unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _child(paths: Sequence[str], conn: Any) -> None:
    """The child's side of :func:`measure_in_child`: one :class:`Measured` sent per path."""
    _lower_priority()
    for result in measure_here(paths):
        conn.send(result)
    conn.close()


def measure_in_child(paths: Sequence[str]) -> Iterator[Measured]:
    """Measure ``paths`` one by one in a spawned idle-priority child; yields as each is done.

    A child that dies (killed, out of memory) ends the batch: the paths not yet measured are
    yielded with that error, and asked again at their next turn.
    """
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(list(paths), theirs), name="emusify-loudness", daemon=True)
    child.start()
    _lower_priority(child.pid)  # at once: its start-up imports (about a second of CPU) are idle work too
    theirs.close()
    done = 0
    try:
        while done < len(paths):
            try:
                result = mine.recv()
            except (EOFError, OSError):
                for path in paths[done:]:
                    yield Measured(path, None, None, None, "the measuring process ended")
                return
            done += 1
            yield result
    finally:
        mine.close()
        child.join(STOP_WAIT)
        if child.is_alive():
            child.kill()
            child.join(STOP_WAIT)

