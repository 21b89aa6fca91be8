"""Front-end latency: a media key (D-Bus PlayPause) to the player paused, a notification button on.

    SDL_AUDIODRIVER=dummy .venv/bin/python benchmarks/frontends.py [--calls 50] [--idle 10] [--run-py]

Everything runs on a private dbus-daemon (nothing reaches the desktop's bus). Prints medians.

1. PlayPause -> paused: per call, from the method call leaving an MPRIS client to the client
   receiving PropertiesChanged(PlaybackStatus). By default the player is a fake core on its own
   thread that pauses at once, so the figure is the front-end's share: the bus both ways, the
   hand-over to the core's queue and back to the bus loop (the issue's budget: 100 ms in all).
   With --run-py, run.py plays the face video with dummy audio (the real core and mixer); the
   PropertiesChanged follows the core's "paused" event, so it is the player's own state.
2. Idle CPU: this process's CPU time over --idle seconds with both front-ends started and nothing
   happening, minus the same span before they started (their asyncio loops wait on sockets; the
   issue allows 0.1% of a core).
3. Notification button -> command: a stand-in notification server emits ActionInvoked; the time
   until the fake core holds Command("correct", ...). With --run-py: until the MPRIS client sees
   the music move to the pressed mood's folder (--presses N, one a window; each is a correction).
   run.py there reads 4 s windows 6 s apart and posts a notification for every window.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from emusify.desk.events import Command, PlayerState, close_frontends, start_frontends  # noqa: E402
from emusify.desk.mpris import Mpris  # noqa: E402
from emusify.desk.notify import Notifier  # noqa: E402
from tests.busfix import FakeCore, MprisClient, NotificationServer, RunPy, buttons, private_bus  # noqa: E402
from tests.fakes import Song  # noqa: E402

SONG = Song(Path("/music/sad/rain.ogg"), "Rain", "Ada", 200.0, "sad")
VIDEO = ROOT.parent / "shared" / "data" / "face_videos" / "liveportrait_driving_d9.mp4"


class ThreadedCore(FakeCore):
    """A fake core with a thread of its own, as the real one: pauses/resumes at once, notes arrivals."""

    def __init__(self) -> None:
        super().__init__(PlayerState(status="playing", song=SONG, folder="sad", moods=("happy", "sad")))
        self.inbox: queue.Queue = queue.Queue()
        self.arrived: queue.Queue = queue.Queue()  # (perf_counter, command)
        threading.Thread(target=self._loop, daemon=True).start()

    def send(self, command: Command) -> None:
        self.inbox.put(command.check())

    def _loop(self) -> None:
        while True:
            command = self.inbox.get()
            self.arrived.put((time.perf_counter(), command))
            if command.name == "play_pause":
                status = "paused" if self.state.status == "playing" else "playing"
                self.change(status=status)
                self.fire("paused" if status == "paused" else "resumed", when=time.time())


def play_pause_times(client: MprisClient, calls: int) -> list[float]:
    """Seconds from each PlayPause call to the PropertiesChanged that shows the new status."""
    times = []
    for _ in range(calls):
        before = client.get("PlaybackStatus")
        while not client.changes.empty():
            client.changes.get_nowait()
        sent = time.perf_counter()
        client.call("PlayPause")
        client.wait_for(lambda c, was=before: c.get("PlaybackStatus", was) != was, 10)
        times.append(client.arrival - sent)
    return times


def button_times(server: NotificationServer, core: ThreadedCore, notifier: Notifier,
                 presses: int) -> list[float]:
    """Seconds from ActionInvoked leaving the server to the core holding the correction."""
    times = []
    while not core.arrived.empty():  # the PlayPause commands of part 1
        core.arrived.get_nowait()
    for n in range(1, presses + 1):
        core.fire("mood_changed", when=time.time(), mood="sad", share=0.9, folder="sad", song=SONG)
        shown = server.received.get(timeout=10)
        while notifier.posted < n:
            time.sleep(0.001)
        pressed = time.perf_counter()
        server.press(shown, "happy")
        arrived, command = core.arrived.get(timeout=10)
        assert command == Command("correct", "happy", "notification"), command
        times.append(arrived - pressed)
    return times


def cpu_share(seconds: float) -> float:
    """Share of one core this process used over the next ``seconds`` (sleeping)."""
    start, wall = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    return (time.process_time() - start) / (time.perf_counter() - wall)


def with_fake_core(calls: int, idle: float) -> None:
    server = NotificationServer().start()
    core = ThreadedCore()
    before = cpu_share(idle)
    mpris, notifier = Mpris(), Notifier(mode="changes", every_minutes=0)
    started = start_frontends(core, [mpris, notifier])
    assert len(started) == 2, "a front-end did not start (see the log line above)"
    after = cpu_share(idle)
    print(f"idle CPU of MPRIS + notifications: {100 * (after - before):+.3f}% of a core "
          f"({100 * before:.3f}% before, {100 * after:.3f}% with them, {idle:g} s each)")
    client = MprisClient()
    try:
        _print("PlayPause -> PropertiesChanged, fake core", play_pause_times(client, calls))
        _print("notification button -> core has the command", button_times(server, core, notifier, calls))
    finally:
        client.close()
        close_frontends(started)
        server.close()


def with_run_py(calls: int, presses: int, tmp: Path) -> None:
    from tests.test_e2e import demo_songs

    server = NotificationServer().start()
    config = tmp / "emusify.cfg"
    config.write_text(f"[emusify]\nmodel = {tmp / 'none.npz'}\nnotify = every\nnotify_every = 0\n")
    run = RunPy(ROOT, ["--source", VIDEO, "--window", "4", "--every", "0.1", "--cycles", presses + 2,
                       "--journal", tmp / "journal.sqlite", "--data", tmp / "data",
                       "--songs", demo_songs(tmp)],
                {"EMUSIFY_CONFIG": str(config)})
    client = None
    try:
        server.received.get(timeout=180)  # the first window was read: music plays, 6 s to the next
        client = MprisClient()
        _print("PlayPause -> PropertiesChanged(PlaybackStatus), run.py", play_pause_times(client, calls))
        _print("notification button -> Metadata of the pressed mood's song, run.py",
               [press_a_mood(server, client) for _ in range(presses)])
        client.call("Quit", "org.mpris.MediaPlayer2")
        run.wait(60)
    except Exception:
        print(run.log[-3000:], file=sys.stderr)
        raise
    finally:
        if client is not None:
            client.close()
        run.stop()
        server.close()


def press_a_mood(server: NotificationServer, client: MprisClient) -> float:
    """Seconds from pressing a mood on the next notification to the music moving to that mood."""
    while not server.received.empty():  # an older window's notification: stale
        server.received.get_nowait()
    shown = server.received.get(timeout=60)
    time.sleep(0.5)  # the window's own move of the music is under way; a person reads first
    playing = client.get("Metadata").get("xesam:genre", [None])[0]
    mood = next(t for t in buttons(shown) if t not in ("right", playing))
    while not client.changes.empty():
        client.changes.get_nowait()
    pressed = time.perf_counter()
    server.press(shown, mood)
    client.wait_for(lambda c: c.get("Metadata", {}).get("xesam:genre") == [mood], 30)
    return client.arrival - pressed


def _print(what: str, seconds: list[float]) -> None:
    ms = sorted(1000 * s for s in seconds)
    print(f"{what}: median {statistics.median(ms):.2f} ms over {len(ms)} "
          f"(min {ms[0]:.2f}, max {ms[-1]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, metavar="N", help="PlayPause calls (default: 50)")
    parser.add_argument("--idle", type=float, default=10.0, metavar="SECONDS",
                        help="span of each idle CPU sample (default: 10)")
    parser.add_argument("--presses", type=int, default=5, metavar="N",
                        help="notification buttons pressed with --run-py, one a window (default: 5)")
    parser.add_argument("--run-py", action="store_true",
                        help="against run.py on the face video (needs the core)")
    args = parser.parse_args()
    with private_bus():
        if args.run_py:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                with_run_py(args.calls, args.presses, Path(tmp))
        else:
            with_fake_core(args.calls, args.idle)


if __name__ == "__main__":
    main()
