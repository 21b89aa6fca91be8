"""A day at the desk (issue 15): sleep and wake, away from the desk, devices that come and go.

All with fakes: a clock whose wall time jumps while its monotonic time does not (a suspend, a time
sync), a camera that fails, a player whose sound device goes and comes back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emusify.config import Settings
from emusify.desk.devices import Devices
from emusify.desk.events import Command, Listener
from emusify.desk.statustext import Status, format_status
from emusify.errors import AudioError, UsageError
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
NOBODY = frames((None, 200))
SONGS = {"angry": 2, "happy": 3, "neutral": 2, "sad": 2}
HOUR = 3600.0


class Heard(Listener):
    """Every event, with the clocks' readings when it came."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.events: list[tuple[str, float, float, dict]] = []

    def on_event(self, event: str, /, **values) -> None:
        self.events.append((event, self.clock.now(), self.clock.monotonic(), values))

    def named(self, name: str) -> list[tuple[str, float, float, dict]]:
        return [e for e in self.events if e[0] == name]


def build(scripts, player=None, **overrides):
    """A core over fakes: 5 s windows at 4 fps from a 20 fps 'camera', 5 minutes apart."""
    clock = FakeClock()
    options = dict(source="0", window=5, fps=4, every=5, cycles=3, min_face_frames=4, fade=2)
    source_options = {k: overrides.pop(k) for k in ("missing", "die_after") if k in overrides}
    options.update(overrides)
    sources = FakeSources(clock, scripts, source_fps=20, **source_options)
    devices = Devices(
        open_source=sources, extractor=FakeExtractor(), vectorize=fake_vectorize,
        predictor=FakePredictor(), player=player or FakePlayer(), library=FakeLibrary(SONGS),
        journal=FakeJournal(), clock=clock)
    core = make_core(Settings(**options), devices)
    heard = Heard(clock)
    core.add_listener(heard)
    return core, devices, sources, clock, heard


def starts(heard: Heard) -> list[float]:
    """Monotonic times the windows started."""
    return [mono for _, _, mono, _ in heard.named("window_started")]


# Sleep and wake ---------------------------------------------------------------------------------

def test_a_suspend_of_8_hours_gives_one_window_at_wake_then_the_usual_gap():
    core, dev, _, clock, heard = build([HAPPY], cycles=4)
    clock.jump_at(60.0, 8 * HOUR)  # a minute into the first wait, the PC sleeps for 8 hours
    assert core.run() == 0
    begun = starts(heard)
    assert len(begun) == 4  # no burst of the ~96 windows the 8 hours would have held
    assert begun[1] - begun[0] < 70  # woke at 60 s: the next window comes at once
    assert begun[2] - begun[1] == pytest.approx(5 + 300, abs=1)  # then 5-minute waits again
    assert begun[3] - begun[2] == pytest.approx(5 + 300, abs=1)
    (when, event, seconds, _), = dev.journal.desk_rows
    assert event == "slept" and seconds == pytest.approx(8 * HOUR, abs=1)
    assert heard.named("clock_jumped")[0][3]["kind"] == "slept"
    assert dev.journal.windows[1][0] - dev.journal.windows[0][0] == pytest.approx(8 * HOUR + 60, abs=2)


def test_a_clock_set_back_an_hour_neither_lengthens_the_wait_nor_shortens_it():
    core, dev, _, clock, heard = build([HAPPY], cycles=3)
    clock.jump_at(100.0, -HOUR)  # a time sync in the middle of the first wait
    assert core.run() == 0  # FakeClock.sleep asserts that no wait is negative
    begun = starts(heard)
    assert begun[1] - begun[0] == pytest.approx(305, abs=1)  # not 305 s + the hour
    assert begun[2] - begun[1] == pytest.approx(305, abs=1)
    assert [(e, round(s)) for _, e, s, _ in dev.journal.desk_rows] == [("clock_back", 3600)]
    assert core.state.next_window is None or core.state.next_window < clock.now() + 400


def test_the_state_shows_the_next_window_at_wake_not_hours_ahead():
    core, _, _, clock, heard = build([HAPPY], cycles=2)
    clock.jump_at(30.0, -HOUR)  # set back: the next window stays 5 minutes after the last one
    seen = []
    clock.at_monotonic(40.0, lambda: seen.append(core.state.next_window - clock.now()))
    core.run()
    assert 0 < seen[0] <= 300  # the time shown, not the hour more the wall clock would suggest


def test_a_camera_failing_after_the_wake_is_one_line_and_is_opened_again_next_window(caplog):
    core, dev, sources, clock, _ = build([HAPPY, SAD], cycles=3, missing=[1])
    clock.jump_at(60.0, 8 * HOUR)
    assert core.run() == 0
    assert sources.attempts == 3 and len(sources.opened) == 2
    assert [w[1].frames for w in dev.journal.windows] == [20, 0, 20]
    assert [r[1] for r in dev.journal.desk_rows] == ["slept", "camera_unavailable"]
    assert sum("camera unavailable" in r.getMessage() for r in caplog.records) == 1
    assert dev.player.played()[-1] == "sad0"  # the window after reads the camera again


def test_a_camera_lost_mid_window_decides_on_the_frames_it_had():
    core, dev, _, _, _ = build([HAPPY, SAD], cycles=2, die_after={1: 40})
    assert core.run() == 0
    second = dev.journal.windows[1][1]
    assert second.frames == 8 and second.mood == "sad"  # 2 s of the 5 s window, enough to decide
    assert dev.player.played()[-1] == "sad0"


def test_a_camera_busy_at_every_window_never_ends_the_player():
    core, dev, sources, _, _ = build([HAPPY], cycles=4, missing=[0, 1, 2, 3])
    assert core.run() == 0
    assert sources.attempts == 4 and core.cycle == 4
    assert [r[1] for r in dev.journal.desk_rows] == ["camera_unavailable"] * 4


def test_a_calibration_shot_whose_camera_is_busy_is_skipped_and_asked_again():
    class Shy:
        needs_shot = True
        shots = 0

        def use_shot(self, shot, when):
            Shy.shots += 1
            self.needs_shot = False

        def run_shot(self, take_once, now, stopped):
            return self.use_shot(take_once("relax your face"), now())

        def after_window(self, *args):
            pass

        def take_changes(self):
            return []

    core, dev, sources, _, _ = build([HAPPY], cycles=2, missing=[0])
    dev.calibration = Shy()
    assert core.run() == 0  # the shot's open failed: one line, then the window reads
    assert Shy.shots == 1  # taken before the second window
    assert len(dev.journal.windows) == 2


# Away from the desk -----------------------------------------------------------------------------

def away_run(scripts, cycles, **settings):
    options = dict(cycles=cycles, away_after=2, away_look=2, away_every=1)
    options.update(settings)
    return build(scripts, **options)


def test_two_faceless_windows_pause_with_a_fade_then_short_looks_every_minute_until_a_face():
    core, dev, sources, clock, heard = away_run([HAPPY, NOBODY, NOBODY, NOBODY, NOBODY, SAD, SAD], 7)
    assert core.run() == 0
    assert ("pause", 2) in dev.player.events  # faded out to a pause over --fade
    begun = starts(heard)
    gaps = [b - a for a, b in zip(begun, begun[1:])]
    # windows 1-3 are full (5 s + 5 min); away after window 3: looks of 2 s every minute
    assert gaps[0] == pytest.approx(305, abs=1) and gaps[1] == pytest.approx(305, abs=1)
    assert gaps[2] == pytest.approx(65, abs=1)  # the 3rd window (5 s), then a minute
    assert gaps[3:5] == [pytest.approx(62, abs=1)] * 2  # looks of 2 s, a minute apart
    assert [w[1].frames for w in dev.journal.windows][3:6] == [8, 8, 8]  # 2 s looks at 4 fps
    assert gaps[5] == pytest.approx(302, abs=1)  # a face at the 6th (a look): 5 minutes again
    (_, _, _, went), = heard.named("away")
    (_, _, _, came), = heard.named("back")
    assert went["since"] == dev.journal.windows[2][0]  # left when the 2nd faceless window began
    assert came["away_seconds"] == pytest.approx(dev.journal.windows[5][0] + 2 - went["since"], abs=2)
    assert [r[1] for r in dev.journal.desk_rows] == ["away", "back"]
    assert dev.journal.desk_rows[1][2] == pytest.approx(came["away_seconds"])
    assert dev.player.events[2] == ("resume",)  # back: the music resumed, then moved to the new mood
    assert dev.player.events[3][:2] == ("fade_to", dev.library.songs["sad"][0])


def test_away_shows_paused_to_every_front_end_and_the_terminal_says_so():
    core, dev, _, clock, heard = away_run([HAPPY, NOBODY, NOBODY], 4)
    shown = []
    clock.at(2 * 305 + 5 + 30, lambda: shown.append((core.state, list(dev.ui.shown))))
    core.run()
    state, lines = shown[0]
    assert state.status == "paused" and state.away_since is not None and state.look_every == 1
    assert heard.named("paused")  # MPRIS and notifications follow the paused event
    assert "away: paused, looking every 1 min" in format_status(lines[-1])


def test_mpris_shows_paused_while_away_and_playing_when_back():
    from emusify.desk.nowplaying import NowPlaying

    core, _, _, clock, _ = away_run([HAPPY, NOBODY, NOBODY, NOBODY, HAPPY], 6)
    widget = NowPlaying()

    class Follow(Listener):  # what the MPRIS front-end does with every event
        def on_event(self, event, /, **values):
            widget.apply(event, values)

    core.add_listener(Follow())
    seen = []
    clock.at(2 * 305 + 5 + 30, lambda: seen.append(widget.status()))  # away, between two looks
    clock.at(2 * 305 + 5 + 2 * 62 + 10, lambda: seen.append(widget.status()))  # the look saw a face
    core.run()
    assert seen == ["Paused", "Playing"]


def test_away_keep_plays_on_to_the_empty_room():
    core, dev, _, clock, heard = away_run([HAPPY, NOBODY, NOBODY, NOBODY], 4, away="keep")
    status = []
    clock.at(2 * 305 + 30, lambda: status.append(core.music.status))
    core.run()
    assert not heard.named("away") and status == ["playing"]
    assert not any(e[0] == "pause" for e in dev.player.events)
    assert [w[1].frames for w in dev.journal.windows] == [20] * 4  # full windows all along


def test_a_user_pause_before_leaving_is_not_undone_when_they_come_back():
    core, dev, _, clock, heard = away_run([HAPPY, NOBODY, NOBODY, HAPPY], 4)
    clock.at(20, lambda: core.send(Command("pause", source="mpris")))
    core.run()
    assert heard.named("away") and heard.named("back")
    assert ("resume",) not in dev.player.events and dev.player.paused


def test_windows_the_camera_could_not_deliver_do_not_count_as_away():
    core, dev, _, _, heard = away_run([HAPPY], 4, missing=[1, 2, 3])
    core.run()
    assert not heard.named("away") and not heard.named("paused")
    assert [w[1].frames for w in dev.journal.windows] == [20, 0, 0, 0]  # full windows, retried


def test_away_settings_are_checked():
    assert Settings().away == "pause" and Settings().away_after == 2
    with pytest.raises(UsageError, match="away must be one of pause, keep"):
        Settings().replace(away="sleep")
    with pytest.raises(UsageError, match="away-look"):
        Settings().replace(away_look=0)


def test_the_status_line_while_away_and_without_sound():
    status = Status("happy", 0.8, None, "x", 1.0, 60.0, True, False, 30.0,
                    away="away: paused, looking every 1 min")
    assert "away: paused, looking every 1 min, next look in 0:30" in format_status(status)
    assert "no sound" in format_status(status._replace(no_sound=True))


# The sound device -------------------------------------------------------------------------------

class FlakyPlayer(FakePlayer):
    """A player whose sound device is gone while ``down``; reopen() works once it is back."""

    def __init__(self, down: bool = False) -> None:
        super().__init__()
        self.down = down
        self.reopens = 0

    def _check(self) -> None:
        if self.down:
            raise AudioError("the sound device failed (ALSA: device unplugged)")

    def play(self, song, fade_in: float = 0.0) -> None:
        self._check()
        super().play(song, fade_in)

    def fade_to(self, song, seconds: float) -> None:
        self._check()
        super().fade_to(song, seconds)

    def update(self) -> None:
        if self.current is not None:
            self._check()
        super().update()

    def reopen(self) -> None:
        self.reopens += 1
        self.current, self.busy = None, False
        self._check()


def test_no_sound_at_start_reads_moods_and_the_music_starts_when_a_device_comes(caplog):
    player = FlakyPlayer(down=True)
    core, dev, _, clock, _ = build([HAPPY], player=player, cycles=2)
    clock.at(150.0, lambda: setattr(player, "down", False))  # headphones plugged in
    assert core.run() == 0
    assert len(dev.journal.windows) == 2  # moods read all along
    assert player.played()[0].startswith("happy")
    started = [e[1] for e in dev.journal.songs if e[1] == "start"]
    assert started and dev.journal.songs[0][0] >= clock.start + 150  # not before the device came
    assert dev.journal.songs[0][0] <= clock.start + 150 + 61  # within a minute of it
    assert [r[1] for r in dev.journal.desk_rows] == ["audio_lost", "audio_back"]
    assert sum("no sound" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1
    assert player.reopens >= 2  # retried every minute until it worked
    assert dev.library.bad == {}  # no song blamed for the missing device


def test_sound_lost_mid_song_keeps_reading_moods_and_resumes_when_back():
    player = FlakyPlayer()
    core, dev, _, clock, _ = build([HAPPY, SAD, SAD], player=player, cycles=3)
    clock.at(60.0, lambda: setattr(player, "down", True))
    clock.at(400.0, lambda: setattr(player, "down", False))
    status = []
    clock.at(500.0, lambda: status.append(core.music.status))
    assert core.run() == 0
    assert len(dev.journal.windows) == 3
    assert [r[1] for r in dev.journal.desk_rows] == ["audio_lost", "audio_back"]
    lost, back = dev.journal.desk_rows
    assert back[2] == pytest.approx(back[0] - lost[0]) and 340 <= back[2] <= 400
    assert player.played()[0] == "happy0" and "sad0" in player.played()  # the sad window's music
    assert status == ["playing"]  # back: the music plays again by itself


# The journal ------------------------------------------------------------------------------------

def test_desk_events_are_journaled_and_an_older_journal_gains_the_table(tmp_path: Path):
    from emusify.storage.journal import Journal

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE windows (time REAL NOT NULL, frames INTEGER NOT NULL, face_frames INTEGER NOT NULL,
            votes TEXT NOT NULL, mood TEXT, share REAL NOT NULL, decision TEXT NOT NULL);
        CREATE TABLE songs (time REAL NOT NULL, event TEXT NOT NULL, path TEXT NOT NULL,
            title TEXT, artist TEXT, folder TEXT);
        INSERT INTO windows VALUES (1.0, 10, 9, '{"happy": 9}', 'happy', 1.0, 'happy');
    """)
    db.commit()
    db.close()
    with Journal(path) as journal:
        assert journal.windows()[0].mood == "happy" and journal.desk_rows() == []
        journal.desk(5.0, "slept", 8 * HOUR)
        journal.desk(9.0, "camera_unavailable", 0.0, "camera 0 is busy")
        with pytest.raises(ValueError, match="unknown desk event"):
            journal.desk(10.0, "dozed")
    with Journal(path) as journal:
        rows = journal.desk_rows()
    assert [(r.event, r.seconds, r.detail) for r in rows] == [
        ("slept", 8 * HOUR, None), ("camera_unavailable", 0.0, "camera 0 is busy")]



# The real player's side (pygame's mixer stood in for by test_player's FakeMusic) ---------------

def test_the_player_fades_out_to_a_pause_and_resumes_at_full_volume():
    from emusify.music.player import Player
    from tests.test_player import A, Clock, FakeMusic

    clock = Clock()
    music = FakeMusic(clock)
    player = Player(backend=music, clock=clock)
    player.play(A)
    player.pause(fade_out=2.0)
    assert not music.paused  # fading first
    clock.t += 1.0
    player.update()
    assert music.volume == pytest.approx(0.5)
    clock.t += 1.5
    player.update()
    assert music.paused and player.paused
    player.resume()
    assert not music.paused and music.volume == 1.0


def test_a_mixer_that_fails_is_an_audio_error_not_a_bad_song():
    from emusify.errors import LibraryError
    from emusify.music.player import Player
    from tests.test_player import BAD, A, B, Clock, FakeMusic

    class DeadMusic(FakeMusic):
        dead = False

        def play(self) -> None:
            if self.dead:
                raise RuntimeError("ALSA: Couldn't open audio device")
            super().play()

        def get_busy(self) -> bool:
            if self.dead:
                raise RuntimeError("mixer not initialized")
            return super().get_busy()

    clock = Clock()
    music = DeadMusic(clock)
    player = Player(backend=music, clock=clock)
    player.play(A)
    music.dead = True
    with pytest.raises(AudioError, match="sound device failed"):
        player.update()
    with pytest.raises(AudioError):
        player.play(B)  # the file loads; the output fails: no song is blamed
    with pytest.raises(LibraryError):
        player.play(BAD)  # a file that will not load is still the song's fault
    music.dead = False
    player.reopen()
    player.play(B)
    assert player.current == B


def test_a_player_without_an_output_at_start_raises_on_play_until_reopened(monkeypatch):
    import emusify.music.player as module

    def no_output():
        raise AudioError("no audio output: dsp: No such audio device")

    monkeypatch.setattr(module, "pygame_music", no_output)
    with pytest.raises(AudioError):
        module.Player()  # run.py's default: a missing device is told at start
    player = module.Player(required=False)
    from tests.test_player import A, Clock, FakeMusic

    with pytest.raises(AudioError, match="No such audio device"):
        player.play(A)
    music = FakeMusic(Clock())
    monkeypatch.setattr(module, "pygame_music", lambda: music)
    monkeypatch.setattr(module, "close_pygame", lambda: None)
    player.reopen()
    player.play(A)
    assert music.playing


# The learner's one thread -----------------------------------------------------------------------

def test_the_worker_runs_every_job_in_order_on_one_thread_and_survives_a_failing_one():
    import threading

    from emusify.desk.worker import Worker

    worker = Worker()
    ran: list[tuple[int, str]] = []
    done = threading.Event()

    def job(number: int):
        def run():
            if number == 2:
                raise RuntimeError("a failing update")
            ran.append((number, threading.current_thread().name))
            if number == 4:
                done.set()
        return run

    for number in range(1, 5):
        worker.start(job(number))
    assert done.wait(5)
    assert [n for n, _ in ran] == [1, 3, 4]
    assert {name for _, name in ran} == {"emusify-learner"} and worker.thread.daemon
    assert sum(t.name == "emusify-learner" for t in threading.enumerate()) == 1


def test_the_report_sums_up_the_days_gaps(tmp_path: Path):
    from emusify.desk.report import desk_summary, feedback_summary
    from emusify.storage.journal import Journal

    with Journal(tmp_path / "j.sqlite") as journal:
        assert desk_summary(journal) == "desk: no sleep, time away or lost device journalled"
        journal.desk(1.0, "slept", 8 * HOUR)
        journal.desk(2.0, "away")
        journal.desk(3.0, "back", 1.5 * HOUR)
        journal.desk(4.0, "camera_unavailable", 0.0, "busy")
        journal.desk(5.0, "camera_unavailable", 0.0, "busy")
        journal.desk(6.0, "audio_lost", 0.0, "unplugged")
        assert desk_summary(journal) == ("desk: slept 1x (8.0 h), away 1x (1.5 h), camera unavailable 2x, "
                                         "no sound 1x")
        assert "desk: slept 1x" in feedback_summary(journal)
