"""Volume, seek and resume after a restart (issue 22), measured on run.py itself. Prints figures.

    SDL_AUDIODRIVER=dummy nice -n 10 .venv/bin/python benchmarks/listening_state.py
        [--only mpris|resume|output] [--calls 20] [--restarts 20]

Everything runs on a private dbus-daemon (nothing reaches the desktop's bus), with run.py playing the
face video (4 s windows a minute apart, dummy audio: the real core and mixer) in a temporary data folder.

mpris: the round trip from ``playerctl`` to what a widget sees, ``--calls`` times each:
  ``playerctl volume V`` -> PropertiesChanged(Volume = V), and ``playerctl position P`` -> the Seeked
  signal; timed from starting playerctl (its own start-up included) to the signal's arrival at a
  listening client, plus Position read right after each seek against P.
resume: ``--restarts`` starts of run.py on one data folder, each stopped at a random moment (seeded),
  SIGTERM and SIGKILL in turn; after each restart, the song and Position the player resumes against
  those read just before the stop; each run skips 3 times (``playerctl next``), and every song drawn
  (the log's "playing ..." lines) is checked against its folder's shuffle round: no song twice before
  every song of its folder has played.
output: where a seek really lands, heard in the mixer's real output (SDL's disk driver writes it to a
  file as it plays): songs whose every second is a tone of its own (300 Hz + 100 Hz a second; WAV
  written here, OGG and FLAC by sox, MP3 by lame, each skipped without its tool); after play(start=),
  a seek forward, one back, and one while paused then resumed, the tone heard names the second.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from tests.busfix import MprisClient, RunPy, Seekeds, private_bus  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
VIDEO = SHARED / "face_videos" / "liveportrait_driving_d9.mp4"
FOLDERS = ("angry", "happy", "neutral", "sad")
SONGS_PER_FOLDER = 6
SKIPS = 3  # playerctl next per run of the resume section: songs drawn across the restarts


def make_library(root: Path) -> Path:
    """Four folders of six songs each (the shared music under other names): rounds long enough to see."""
    music = sorted(p for p in (SHARED / "music").iterdir() if p.suffix in (".ogg", ".mp3"))
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True)
        for i, source in enumerate(music[:SONGS_PER_FOLDER]):
            shutil.copy(source, root / folder / f"{folder}{i}_{source.name}")
    return root


def start(work: Path, songs: Path) -> RunPy:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {work / 'none.npz'}\nmpris = true\nnotify = off\n")
    args = ["--source", VIDEO, "--window", "4", "--every", "1", "--data", work / "data", "--songs", songs,
            "--headless"]
    return RunPy(ROOT, args, {"EMUSIFY_CONFIG": str(config)})


def playing(client: MprisClient, run: RunPy, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.child.poll() is not None:
            raise SystemExit(f"run.py ended:\n{run.log[-2000:]}")
        try:
            if client.present() and client.get("PlaybackStatus") == "Playing":
                return client.get("Metadata")
        except AssertionError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"no music within {timeout:g} s:\n{run.log[-2000:]}")


def playerctl(*args: str) -> None:
    subprocess.run(["playerctl", "-p", "emusify", *args], check=True, capture_output=True, timeout=10)


def drain(client: MprisClient) -> None:
    while not client.changes.empty():
        client.changes.get_nowait()


def mpris_section(work: Path, songs: Path, calls: int) -> None:
    client = MprisClient()
    run = start(work, songs)
    try:
        playing(client, run)
        seeked = Seekeds(client)
        volumes, seeks, errors = [], [], []
        for i in range(calls):
            value = 0.3 + 0.02 * i
            drain(client)
            sent = time.perf_counter()
            playerctl("volume", f"{value:.2f}")
            client.wait_for(lambda c, v=value: abs(c.get("Volume", -1) - v) < 1e-6, 10)
            volumes.append(client.arrival - sent)
        for i in range(calls):
            target = 5.0 + (i % 4) * 3.0
            seeked.clear()
            sent = time.perf_counter()
            playerctl("position", f"{target:g}")
            arrival = seeked.next(10)[0]
            seeks.append(arrival - sent)
            errors.append(abs(client.get("Position") / 1e6 - target))
        print("| round trip (playerctl -> signal), run.py | median ms | max ms | n |")
        print("|---|---|---|---|")
        for name, times in (("`playerctl volume V` -> PropertiesChanged(Volume)", volumes),
                            ("`playerctl position P` -> Seeked", seeks)):
            median, worst = 1000 * statistics.median(times), 1000 * max(times)
            print(f"| {name} | {median:.1f} | {worst:.1f} | {len(times)} |")
        print(f"\nPosition read right after each seek, off its target: median "
              f"{statistics.median(errors):.2f} s, max {max(errors):.2f} s")
    finally:
        run.child.send_signal(signal.SIGTERM)
        run.wait(30)
        client.close()


def resume_section(work: Path, songs: Path, restarts: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    client = MprisClient()
    rows, draws, waits = [], [], []  # (signal, same song, seconds off); (folder, song) drawn; s to music
    last: tuple[str, float, str] | None = None
    early = 0  # restarts whose log says "resuming" before "window 1"
    try:
        for number in range(restarts + 1):
            began = time.monotonic()
            run = start(work, songs)
            metadata = playing(client, run)
            waits.append(time.monotonic() - began)
            url, position = metadata["xesam:url"], client.get("Position") / 1e6
            if last is not None:
                rows.append((last[2], url == last[0], position - last[1]))
            for _ in range(SKIPS):
                playerctl("next")
                client.wait_for(lambda c: "Metadata" in c, 10)
            time.sleep(rng.uniform(2.0, 9.0))
            last_meta = client.get("Metadata")
            how = ("SIGTERM", "SIGKILL")[number % 2]
            last = (last_meta["xesam:url"], client.get("Position") / 1e6, how)
            run.child.send_signal(getattr(signal, how))
            run.wait(30)
            draws += drawn(run.log)
            early += number > 0 and "resuming " in run.log.split("window 1:")[0]
    finally:
        client.close()
    print("| stop | restarts | same song | position off (median s) | worst (s) | within 5 s |")
    print("|---|---|---|---|---|---|")
    for how in ("SIGTERM", "SIGKILL"):
        mine = [r for r in rows if r[0] == how]
        offs = [r[2] for r in mine]
        worst, same = max(offs, key=abs), sum(r[1] for r in mine)
        print(f"| {how} | {len(mine)} | {same}/{len(mine)} | {statistics.median(offs):+.2f} | {worst:+.2f} |"
              f" {sum(abs(x) <= 5 for x in offs)}/{len(offs)} |")
    print(f"\nmusic after launching run.py on a restart: median {statistics.median(waits[1:]):.1f} s "
          f"(max {max(waits[1:]):.1f} s); the song resumed before the first window in {early}/{len(rows)}")
    print(f"one write of the state (fsynced temp file, rename, fsync of the folder) on this disk: "
          f"median {1000 * write_cost(work):.2f} ms over 50, once per 4 s of play")
    repeats = round_repeats(draws)
    print(f"\nsongs drawn over {restarts + 1} runs: {len(draws)}; drawn again before their folder's round "
          f"was done: {repeats}")


def write_cost(work: Path, writes: int = 50) -> float:
    """Seconds per save_playstate of a state like run.py's (the median)."""
    from emusify.desk.playstate import PlayState, save_playstate

    rounds = {folder: [f"/songs/{folder}/{i}.ogg" for i in range(5)] for folder in FOLDERS}
    times, path = [], work / "cost" / "playstate.json"
    for i in range(writes):
        began = time.perf_counter()
        save_playstate(path, PlayState("/songs/happy/0.ogg", "happy", i, 0.5, rounds))
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def drawn(log: str) -> list[tuple[str, str]]:
    """(folder, song) of every song drawn in one run (a resumed song is not drawn again)."""
    out = []
    for line in log.splitlines():
        match = re.match(r".*INFO: playing (.*) \((\w+)\)$", line)
        if match:
            out.append((match.group(2), match.group(1)))
    return out


def round_repeats(draws: list[tuple[str, str]]) -> int:
    """Songs drawn twice within one round of their folder (rounds of SONGS_PER_FOLDER, from the first)."""
    seen: dict[str, list[str]] = {}
    repeats = 0
    for folder, song in draws:
        current = seen.setdefault(folder, [])
        if len(current) == SONGS_PER_FOLDER:
            current.clear()
        repeats += song in current
        current.append(song)
    return repeats


STEP_SECONDS, STEPS, RATE = 1.0, 12, 44100


def step_songs(folder: Path) -> list[Path]:
    """The stepped-tone song in each format this machine can make."""
    import wave

    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(RATE * STEP_SECONDS)) / RATE
    pcm = np.concatenate([0.4 * np.sin(2 * np.pi * (300 + 100 * k) * t) for k in range(STEPS)])
    made = [folder / "steps.wav"]
    with wave.open(str(made[0]), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((pcm * 32767).astype("<i2").tobytes())
    tools = {".ogg": ["sox", made[0], folder / "steps.ogg"], ".flac": ["sox", made[0], folder / "steps.flac"],
             ".mp3": ["lame", "--quiet", "-b", "128", made[0], folder / "steps.mp3"]}
    for suffix, command in tools.items():
        if shutil.which(command[0]):
            subprocess.run([str(c) for c in command], check=True, capture_output=True)
            made.append(folder / f"steps{suffix}")
        else:
            print(f"({suffix[1:].upper()} skipped: no {command[0]})")
    return made


def heard_step(raw: Path, seconds: float = 0.2) -> int:
    """The second of the stepped song the mixer's output played last (by its tone)."""
    import numpy as np

    data = np.fromfile(raw, dtype="<i2")[-int(RATE * seconds) * 2::2].astype(float)  # left channel
    spectrum = np.abs(np.fft.rfft(data * np.hanning(len(data))))
    return round((np.argmax(spectrum) * RATE / len(data) - 300) / 100)


def output_section(work: Path) -> None:
    """Seek in each format and listen to where it landed (a child process with the disk driver)."""
    raw = work / "out.raw"
    env = dict(os.environ, SDL_AUDIODRIVER="disk", SDL_DISKAUDIOFILE=str(raw))
    songs = step_songs(work / "steps")
    code = "import sys; sys.path[:0] = [sys.argv[1]]; import listening_state as b; b.listen(sys.argv[2:])"
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(raw), *map(str, songs)],
                   env=env, check=True, cwd=ROOT)


def listen(args: list[str]) -> None:
    """In the disk-driver child: each format, four seeks, the second heard against the one meant."""
    from emusify.music.library import Song
    from emusify.music.player import Player

    raw, songs = Path(args[0]), [Path(a) for a in args[1:]]
    print("| format | play(start=5.3) | seek to 9.3 | seek back to 2.3 | paused, seek to 7.3, resumed |")
    print("|---|---|---|---|---|")
    with Player() as player:
        for path in songs:
            song, cells = Song(path, path.stem, None, STEPS * STEP_SECONDS, "x"), []
            for action, meant in (("start", 5.3), ("seek", 9.3), ("seek", 2.3), ("paused", 7.3)):
                if action == "start":
                    player.play(song, start=meant)
                elif action == "seek":
                    player.seek(meant)
                else:
                    player.pause()
                    time.sleep(0.3)
                    player.seek(meant)
                    player.resume()
                time.sleep(0.3)
                said, heard = player.position, heard_step(raw)
                cells.append(f"{'ok' if heard == int(meant + 0.3) else 'OFF'}: heard {heard} s, "
                             f"Position {said:.1f}")
            print(f"| {path.suffix[1:].upper()} | " + " | ".join(cells) + " |")
            player.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("mpris", "resume", "output"), help="one section (default: all)")
    parser.add_argument("--calls", type=int, default=20, metavar="N",
                        help="round trips of each kind (default: 20)")
    parser.add_argument("--restarts", type=int, default=20, metavar="N",
                        help="restarts of run.py (default: 20)")
    args = parser.parse_args()
    if shutil.which("playerctl") is None:
        raise SystemExit("needs playerctl (Debian's package)")
    with tempfile.TemporaryDirectory() as tmp, private_bus():
        work = Path(tmp)
        songs = make_library(work / "songs")
        if args.only in (None, "mpris"):
            print("## MPRIS Volume and Seek round trip\n")
            mpris_section(work / "mpris", songs, args.calls)
        if args.only in (None, "resume"):
            print("\n## Resume after a restart\n")
            resume_section(work / "resume", songs, args.restarts)
        if args.only in (None, "output"):
            print("\n## Where a seek lands, heard in the mixer's output\n")
            output_section(work / "output")


if __name__ == "__main__":
    main()
