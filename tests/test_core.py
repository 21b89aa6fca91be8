"""The player core's commands and listeners: threads, a listener that raises, stop/play, a prompt wake."""

from __future__ import annotations

import threading
import time

import pytest

from emusify.config import Settings
from emusify.desk.devices import Devices, SystemClock
from emusify.desk.events import Command, Listener
from tests.fakes import (
    FakeClock,
    FakeExtractor,
    FakeJournal,
    FakeLibrary,
    FakePlayer,
    FakePredictor,
    FakeSources,
    fake_vectorize,
    frames,
    make_core,
)

HAPPY = frames(("happy", 200))
SAD = frames(("sad", 200))
SONGS = {"angry": 2, "happy": 30, "neutral": 2, "sad": 2}


class Recorder(Listener):
    """Keeps every event it hears as (name, values)."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, dict]] = []

    def on_event(self, event, /, **values):
        self.heard.append((event, values))
        super().on_event(event, **values)

    def names(self, name: str) -> list[dict]:
        return [values for event, values in self.heard if event == name]


def build(scripts, clock=None, **overrides):
    """A core over fakes (5 s windows at 4 fps, a minute apart) with a Recorder listening."""
    clock = clock or FakeClock()
    options = dict(source="0", window=5, fps=4, every=1, cycles=1, min_face_frames=4, fade=2)
    options.update(overrides)
    settings = Settings(**options)
    devices = Devices(open_source=FakeSources(clock, scripts, source_fps=20), extractor=FakeExtractor(),
                      vectorize=fake_vectorize, predictor=FakePredictor(), player=FakePlayer(),
                      library=FakeLibrary(SONGS), journal=FakeJournal(), clock=clock)
    core = make_core(settings, devices)
    recorder = Recorder()
    core.add_listener(recorder)
    return core, devices, clock, recorder


def test_commands_from_two_threads_at_once_are_all_handled_in_order_of_arrival():
    core, dev, clock, heard = build([HAPPY], cycles=0)

    def burst() -> None:
        for _ in range(10):
            core.send(Command("next", source="mpris"))

    def two_front_ends() -> None:
        threads = [threading.Thread(target=burst) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    clock.at(20, two_front_ends)
    clock.at(40, lambda: core.send(Command("quit", source="notification")))
    assert core.run() == 0
    ended = [v["how"] for v in heard.names("song_ended")]
    assert len(ended) == 21 and set(ended[:20]) <= {"skip", "next"}  # 20 nexts, then the song at quit
    assert len(dev.player.played()) == 21  # the window's song and one per next
    assert core.stop_reason == "quit (notification)"


def test_a_listener_that_raises_is_dropped_and_the_music_goes_on(caplog):
    class Broken(Listener):
        calls = 0

        def song_started(self, when, song):
            Broken.calls += 1
            raise RuntimeError("no bus")

    core, dev, clock, heard = build([HAPPY, SAD], cycles=2)
    core.add_listener(Broken())
    assert core.run() == 0
    assert dev.player.played() == ["happy0", "sad0"]
    assert Broken.calls == 1  # dropped after the first failure
    assert [v["song"].title for v in heard.names("song_started")] == ["happy0", "sad0"]
    assert "Broken failed on song_started (RuntimeError: no bus); going on without it" in caplog.text


def test_stop_fades_out_windows_go_on_and_play_starts_the_last_windows_mood():
    core, dev, clock, heard = build([HAPPY, SAD, SAD], cycles=3)
    clock.at(20, lambda: core.send(Command("stop")))
    states = []
    clock.at(21, lambda: states.append(core.state))
    clock.at(100, lambda: core.send(Command("play")))
    assert core.run() == 0
    assert ("stop", 2.0) in dev.player.events
    assert states[0].status == "stopped" and states[0].song is None
    assert len(dev.journal.windows) == 3  # windows went on reading and journalling while stopped
    assert dev.journal.windows[1][2] == "sad"
    assert dev.player.played() == ["happy0", "sad0"]  # no music from the second window until play
    start = [when for when, event, song in dev.journal.songs if event == "start" and song.title == "sad0"]
    assert start[0] == pytest.approx(clock.start + 100, abs=0.3)
    assert [name for name, _ in heard.heard if name in ("music_stopped", "resumed")] == [
        "music_stopped", "resumed"]


def test_play_pause_pauses_and_resumes_and_the_state_says_so():
    core, dev, clock, heard = build([HAPPY], cycles=0)
    states = []
    clock.at(20, lambda: core.send(Command("play_pause")))
    clock.at(21, lambda: states.append(core.state.status))
    clock.at(30, lambda: core.send(Command("play_pause")))
    clock.at(31, lambda: states.append(core.state.status))
    clock.at(40, lambda: core.send(Command("quit")))
    core.run()
    assert states == ["paused", "playing"]
    assert ("pause",) in dev.player.events and ("resume",) in dev.player.events
    assert len(heard.names("paused")) == 1 and len(heard.names("resumed")) == 1
    assert heard.heard[-1][0] == "stopped"


class WakingClock(FakeClock):
    """A fake clock whose wait really waits (a little) for the core's wake-up, as SystemClock's does."""

    def __init__(self) -> None:
        super().__init__()
        self.woken_at: list[float] = []

    def wait(self, seconds: float, wake: threading.Event) -> None:
        if wake.wait(0.05):
            self.woken_at.append(self.t)  # a command came: back to the core at once, no time passes
        else:
            self.sleep(seconds)


def test_a_command_from_another_thread_ends_the_wait_at_once():
    clock = WakingClock()
    core, dev, _, heard = build([HAPPY], clock=clock, cycles=0)
    sent: list[tuple[float, float]] = []

    def media_key() -> None:
        time.sleep(0.02)
        sent.append((time.monotonic(), clock.now()))
        core.send(Command("pause", source="mpris"))

    clock.at(6, lambda: threading.Thread(target=media_key).start())  # 1 s into the wait
    clock.at(8, lambda: core.send(Command("quit")))
    acted: list[float] = []
    heard.paused = lambda when: acted.append(time.monotonic())
    core.run()
    (paused,) = heard.names("paused")
    assert clock.woken_at and acted  # the wait ended on the core's wake-up, not on its timeout
    assert paused["when"] - sent[0][1] < 0.5  # fake seconds: not the rest of the minute's wait
    assert paused["when"] < clock.start + 60


def test_system_clock_wait_wakes_when_the_event_is_set():
    wake = threading.Event()
    threading.Timer(0.02, wake.set).start()
    began = time.monotonic()
    SystemClock().wait(5.0, wake)
    assert time.monotonic() - began < 1.0


def test_send_refuses_a_bad_command_and_never_blocks():
    core, _, _, _ = build([HAPPY])
    with pytest.raises(ValueError):
        core.send(Command("correct"))
    began = time.monotonic()
    for _ in range(1000):
        core.send(Command("next"))
    assert time.monotonic() - began < 1.0


def test_the_log_says_how_late_each_window_after_a_wait_began(caplog):
    core, _, clock, heard = build([HAPPY, SAD], cycles=2)
    with caplog.at_level("DEBUG", logger="emusify.desk.core"):
        core.run()
    late = [r.getMessage() for r in caplog.records if "after its time" in r.getMessage()]
    assert len(late) == 1 and late[0].startswith("window 2: began ")  # the first window has no time
    seconds = float(late[0].split()[3])
    started = heard.names("window_started")[1]["when"]
    planned = heard.names("window_read")[0]["when"] + 5 + 60  # the first window's 5 s, a minute's wait
    assert 0 <= seconds < 1 and abs(started - seconds - planned) < 1  # on time (the fake clock)
