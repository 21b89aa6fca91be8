"""The screen locked (issue 22): the music fades to a pause, the camera stays off, the unlock resumes.

With fakes: the commands the D-Bus listener (emusify.desk.screenlock) sends, at given clock times.
"""

from __future__ import annotations

import pytest

from emusify.config import Settings
from emusify.desk.events import Command
from emusify.desk.report import desk_summary
from emusify.desk.statustext import Status, format_status
from emusify.errors import UsageError
from emusify.storage.journal import Journal
from tests.test_day import HAPPY, NOBODY, SAD, build, starts

LOCK = Command("screen_locked", source="screensaver")
UNLOCK = Command("screen_unlocked", source="screensaver")
# 5 s windows 5 minutes apart (tests.test_day.build); the first wait runs from 5 s to 305 s
LOCKED_AT, UNLOCKED_AT = 60.0, 60.0 + 2 * 3600  # two hours at lunch


def locked_run(scripts, cycles, locked=LOCKED_AT, unlocked=UNLOCKED_AT, **settings):
    core, dev, sources, clock, heard = build(scripts, cycles=cycles, **settings)
    clock.at(locked, lambda: core.send(LOCK))
    clock.at(unlocked, lambda: core.send(UNLOCK))
    return core, dev, sources, clock, heard


def test_a_lock_fades_to_a_pause_and_no_window_comes_until_the_unlock_then_one_at_once():
    core, dev, sources, clock, heard = locked_run([HAPPY, SAD], cycles=3)
    assert core.run() == 0
    begun = [when for _, when, _, _ in heard.named("window_started")]
    assert begun[1] - clock.start == pytest.approx(UNLOCKED_AT, abs=1)  # not at 305 s, nor every 5 min
    assert len(sources.opened) == 3  # the camera opened for no window while locked
    assert ("pause", 2) in dev.player.events  # faded out over --fade
    pause, resume = dev.player.events.index(("pause", 2)), dev.player.events.index(("resume",))
    assert pause < resume and dev.player.events[resume + 1][0] == "fade_to"  # resumed, then the mood
    (_, locked_at, _, _), = heard.named("screen_locked")
    (_, _, _, unlocked), = heard.named("screen_unlocked")
    assert locked_at - clock.start == pytest.approx(LOCKED_AT, abs=1)
    assert unlocked["locked_seconds"] == pytest.approx(UNLOCKED_AT - LOCKED_AT, abs=1)
    assert [(r[1], round(r[2])) for r in dev.journal.desk_rows] == [("locked", 0), ("unlocked", 7200)]
    assert begun[2] - begun[1] == pytest.approx(305, abs=1)  # then the usual gap again


def test_while_locked_every_front_end_sees_paused_and_the_status_line_says_locked():
    core, dev, _, clock, heard = locked_run([HAPPY], cycles=2)
    seen = []
    clock.at(LOCKED_AT + 600, lambda: seen.append((core.state, list(dev.ui.shown))))
    core.run()
    state, lines = seen[0]
    assert state.status == "paused" and state.locked_since is not None and state.next_window is None
    assert heard.named("paused") and heard.named("resumed")  # what MPRIS and notifications follow
    assert "locked: paused" in format_status(lines[-1])
    assert core.state.locked_since is None


def test_started_on_a_locked_screen_the_camera_opens_only_after_the_unlock():
    core, _, sources, clock, heard = build([HAPPY], cycles=1)
    core.send(LOCK)  # the front-end read GetActive / LockedHint before the core ran
    clock.at(600, lambda: core.send(UNLOCK))
    assert core.run() == 0
    (source,) = sources.opened
    assert source.opened_at - clock.start == pytest.approx(600, abs=1)


def test_a_lock_in_the_middle_of_a_window_ends_it_at_once_and_it_is_not_used():
    core, dev, sources, clock, heard = locked_run([SAD, HAPPY], cycles=1, locked=2.0, unlocked=600.0)
    assert core.run() == 0
    first, second = sources.opened
    assert first.closed_at - clock.start == pytest.approx(2.0, abs=0.5)  # the camera went off at the lock
    assert len(dev.journal.windows) == 1 and dev.journal.windows[0][1].mood == "happy"  # only the next one
    assert second.opened_at - clock.start == pytest.approx(600, abs=1)


def test_a_song_the_listener_paused_stays_paused_through_the_lock_and_the_unlock():
    core, dev, _, clock, heard = locked_run([HAPPY], cycles=2)
    clock.at(30, lambda: core.send(Command("pause", source="terminal")))  # before the lock
    core.run()
    assert heard.named("screen_locked") and heard.named("screen_unlocked")
    assert ("resume",) not in dev.player.events and dev.player.paused


def test_a_pause_pressed_on_the_lock_screen_is_kept_at_the_unlock():
    core, dev, _, clock, heard = locked_run([HAPPY], cycles=2)
    clock.at(LOCKED_AT + 60, lambda: core.send(Command("play_pause", source="mpris")))  # media key: play
    clock.at(LOCKED_AT + 120, lambda: core.send(Command("play_pause", source="mpris")))  # ... and pause
    core.run()
    assert dev.player.events.count(("resume",)) == 1 and dev.player.paused  # the unlock resumed nothing


def test_on_lock_keep_plays_on_and_reads_windows_as_before():
    core, dev, sources, _, heard = locked_run([HAPPY], cycles=3, on_lock="keep")
    core.run()
    assert not heard.named("screen_locked") and not heard.named("paused")
    assert [round(b - a) for a, b in zip(starts(heard), starts(heard)[1:])] == [305, 305]


def test_a_lock_while_away_leaves_the_look_for_a_face_to_resume():
    core, dev, _, clock, heard = locked_run([HAPPY, NOBODY, NOBODY, HAPPY], cycles=4, locked=2 * 305 + 20,
                                            unlocked=2 * 305 + 3600, away_after=2, away_look=2, away_every=1)
    core.run()
    assert heard.named("away") and heard.named("screen_locked") and heard.named("back")
    assert dev.player.events.count(("resume",)) == 1  # the face at the look after the unlock resumed it
    assert starts(heard)[3] - starts(heard)[2] == pytest.approx(3600, abs=2)  # no looks meanwhile: the unlock


def test_the_setting_and_the_status_line():
    assert Settings().on_lock == "pause"
    with pytest.raises(UsageError, match="on_lock must be one of pause, keep"):
        Settings().replace(on_lock="mute")
    status = Status("happy", 0.8, None, "x", 1.0, 60.0, True, False, 30.0, locked="locked: paused")
    assert "locked: paused" in format_status(status) and "next look" not in format_status(status)


def test_the_journal_keeps_the_lock_and_the_report_sums_it_up(tmp_path):
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.desk(10.0, "locked")
        journal.desk(1810.0, "unlocked", 1800.0)
        assert [(row.event, row.seconds) for row in journal.desk_rows()] == [("locked", 0.0),
                                                                             ("unlocked", 1800.0)]
        assert desk_summary(journal) == "desk: screen locked 1x (0.5 h)"


class Keeper:
    """A calibration keeper as run.py's: a shot cut short is not used, and is still needed."""

    def __init__(self, needs_shot: bool) -> None:
        self.needs_shot, self.used = needs_shot, 0

    def run_shot(self, take_once, now, stopped):
        take_once("relax your face")
        if not stopped():
            self.used += 1
            self.needs_shot = False

    def after_window(self, *args):
        pass

    def take_changes(self):
        return []


@pytest.mark.parametrize("first_start", [True, False], ids=["first start", "the c key"])
def test_a_lock_during_the_calibration_shot_ends_it_and_it_is_taken_after_the_unlock(first_start):
    core, dev, sources, clock, heard = locked_run([HAPPY], cycles=1 if first_start else 2,
                                                  locked=2.0 if first_start else 310.0, unlocked=900.0)
    dev.calibration = Keeper(needs_shot=first_start)
    if not first_start:  # c pressed in the first window: a shot before the second, at 305 s
        clock.at(1.0, lambda: core.send(Command("calibrate", source="terminal")))
    assert core.run() == 0
    shots = sources.opened[:2] if first_start else sources.opened[1:3]
    assert shots[0].closed_at - shots[0].opened_at < 5  # cut short at the lock, not the 5 s shot
    assert shots[1].opened_at - clock.start == pytest.approx(900, abs=1)  # again once unlocked
    assert dev.calibration.used == 1
