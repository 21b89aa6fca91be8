"""What is heard: songs played by emusify's Player through SDL's disk audio driver, then measured.

    python tests/diskplay.py OUT_DIR on|off TARGET [--child] SONG...

Each song plays whole through :class:`emusify.music.player.Player` (a new mixer per song) into
``OUT_DIR/<n>.raw``: SDL_AUDIODRIVER=disk writes the mixer's real output (44.1 kHz, stereo, signed
16-bit), and SDL_DISKAUDIODELAY=0 lets it write as fast as the mixer mixes instead of in real time.
With ``on`` the song's gain comes from emusify.music.loudness (its tags, else a measurement: in this
process, or with ``--child`` in the idle-priority child run.py uses), measured before it plays.
Used by tests/test_loudness.py and benchmarks/listening.py; :func:`heard` measures the files.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
RATE = 44100


class Heard(NamedTuple):
    loudness: float  # integrated loudness of the output, LUFS (BS.1770)
    peak: float  # largest absolute sample, 1.0 = full scale
    clipped: int  # samples at the 16-bit limits
    seconds: float


def heard(raw: Path) -> Heard:
    """Measure a file the disk driver wrote."""
    import numpy as np
    import pyloudnorm

    samples = np.fromfile(raw, dtype="<i2")
    samples = samples[: len(samples) // 2 * 2].reshape(-1, 2)
    clipped = int(np.count_nonzero((samples == 32767) | (samples == -32768)))
    data = samples.astype(np.float32) / 32768
    return Heard(float(pyloudnorm.Meter(RATE).integrated_loudness(data)), float(np.abs(data).max()),
                 clipped, len(data) / RATE)


def play_all(out: Path, on: bool, target: float, songs: list[Path], child: bool = False) -> list[float]:
    """Play each song into ``out/<n>.raw``; returns the gain applied to each, in dB."""
    import math

    from emusify.music.library import Library
    from emusify.music.loudness import Loudness, LoudnessCache
    from emusify.music.measure import measure_here, measure_in_child
    from emusify.music.player import Player

    read = {}  # the songs as the library reads them (with their ReplayGain / R128 tags)
    for root in {song.parent.parent for song in songs}:
        library = Library(root)
        read.update({s.path: s for folder in library.folders() for s in library.songs(folder)})
    tagged = {song: read[song] for song in songs}
    loudness = Loudness(LoudnessCache(out / "loudness.json"), lambda job: job(),
                        measure_in_child if child else measure_here, target)
    loudness.prefetch(tagged.values())
    gains = []
    for n, song in enumerate(songs):
        os.environ["SDL_DISKAUDIOFILE"] = str(out / f"{n}.raw")
        player = Player()
        if on:
            player.gain = loudness.gain
        player.play(tagged[song])
        gains.append(20 * math.log10(player._level()) if player._level() > 0 else -math.inf)
        while player.busy:
            player.update()
            time.sleep(0.005)
        player.close()
    return gains


def main(argv: list[str]) -> None:
    out, mode, target, rest = Path(argv[0]), argv[1], float(argv[2]), argv[3:]
    child = "--child" in rest
    songs = [Path(p) for p in rest if p != "--child"]
    gains = play_all(out, mode == "on", target, songs, child)
    for song, gain in zip(songs, gains):
        print(f"{gain:.2f}\t{song}")


if __name__ == "__main__":
    os.environ.update(SDL_AUDIODRIVER="disk", SDL_DISKAUDIODELAY="0", PYGAME_HIDE_SUPPORT_PROMPT="1")
    sys.path.insert(0, str(ROOT))
    main(sys.argv[1:])
