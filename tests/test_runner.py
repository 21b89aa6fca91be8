"""The run loop with fake devices and a clock that does not wait."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from emusify.config import Settings
from emusify.desk.core import Core
from emusify.desk.devices import Devices
from tests.fakes import (
    LABELS,
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
    probs,
)

HAPPY = frames(("happy", 200))
SAD = frames(("sad", 200))
NOBODY = frames((None, 200))
SONGS = {"angry": 2, "happy": 3, "neutral": 2, "sad": 2}


def build(scripts, player=None, presses=(), preview=None, library=None, **overrides):
    """A runner over fakes: 5 s windows at 4 fps from a 20 fps 'camera', 1 minute apart."""
    clock = FakeClock()
    options = dict(source="0", window=5, fps=4, every=1, cycles=1, min_face_frames=4, fade=2)
    source_options = {k: overrides.pop(k) for k in ("missing", "die_after", "is_video") if k in overrides}
    options.update(overrides)
    settings = Settings(**options)
    sources = FakeSources(clock, scripts, source_fps=20, **source_options)
    devices = Devices(
        open_source=sources, extractor=FakeExtractor(), vectorize=fake_vectorize,
        predictor=FakePredictor(), player=player or FakePlayer(),
        library=library or FakeLibrary(SONGS), journal=FakeJournal(), clock=clock,
        preview=preview,
    )
    return make_core(settings, devices, presses), devices, sources, clock


def test_first_window_runs_at_start_up_and_plays_its_mood():
    runner, dev, sources, clock = build([HAPPY])
    assert runner.run() == 0
    assert sources.opened[0].opened_at == clock.start
    assert dev.player.played() == ["happy0"]
    (_, result, decision), = dev.journal.windows
    assert result.mood == "happy" and decision == "happy"
    assert dev.extractor.calls == 20  # 5 s at 4 fps, sampled by frame timestamp out of 100 frames


def test_camera_is_off_between_windows_and_windows_follow_every():
    runner, dev, sources, clock = build([HAPPY], cycles=3)
    runner.run()
    assert len(sources.opened) == 3
    for source in sources.opened:
        assert source.closed_at is not None
        assert source.closed_at - source.opened_at == pytest.approx(5.05, abs=0.1)
    for before, after in zip(sources.opened, sources.opened[1:]):
        assert after.opened_at - before.closed_at == pytest.approx(60, abs=0.3)
    assert dev.library.scans == 3


def test_cycles_exit_after_the_chosen_song_starts_without_waiting():
    runner, dev, sources, clock = build([NOBODY, SAD], cycles=2)
    assert runner.run() == 0
    assert dev.player.played() == ["neutral0", "sad0"]
    assert clock.now() - sources.opened[-1].closed_at < 5  # no idle minute after the last window
    assert ("start", "sad0") in dev.journal.events()
    assert dev.journal.events()[-1] == ("end", "sad0")


def test_video_shorter_than_the_window_ends_it_early_and_reopens_next_cycle():
    short = frames(("happy", 30))  # 1.5 s of 20 fps video
    runner, dev, sources, _ = build([short], cycles=2)
    runner.run()
    assert [len(s.script) for s in sources.opened] == [30, 30]
    assert [w[1].frames for w in dev.journal.windows] == [6, 6]


def test_image_folder_uses_every_image():
    runner, dev, _, _ = build([frames(("sad", 7))], is_video=False)
    runner.run()
    assert dev.extractor.calls == 7
    assert dev.player.played() == ["sad0"]


def test_new_mood_cross_fades_and_unsure_keeps_the_music():
    mixed = frames(("happy", 5), ("sad", 5), ("angry", 5)) * 14
    runner, dev, _, _ = build([HAPPY, mixed, SAD], cycles=3, fade=2.5)
    runner.run()
    assert [w[1].mood for w in dev.journal.windows] == ["happy", None, "sad"]
    assert [w[2] for w in dev.journal.windows] == ["happy", "keep", "sad"]
    assert dev.player.events[0][0] == "play"
    assert dev.player.events[1] == ("fade_to", dev.library.songs["sad"][0], 2.5)
    assert ("end", "happy0") in dev.journal.events()


def test_neutral_keeps_the_current_music():
    runner, dev, _, _ = build([SAD, frames(("neutral", 200))], cycles=2)
    runner.run()
    assert dev.player.played() == ["sad0"]
    assert dev.journal.windows[1][2] == "keep"


def test_song_ending_between_windows_continues_from_the_mood_folder():
    runner, dev, _, clock = build([SAD, NOBODY], cycles=2)
    clock.at(20, dev.player.finish)
    clock.at(40, dev.player.finish)
    runner.run()
    assert dev.player.played() == ["sad0", "sad1", "sad0"]
    events = dev.journal.events()
    assert events[:4] == [("start", "sad0"), ("end", "sad0"), ("start", "sad1"), ("end", "sad1")]


def test_song_ending_during_a_window_continues_without_stopping_the_camera():
    runner, dev, sources, clock = build([SAD, NOBODY], cycles=2)
    clock.at(60 + 5 + 2, dev.player.finish)  # two seconds into the second window
    runner.run()
    assert dev.player.played() == ["sad0", "sad1"]
    assert sources.opened[1].position == 101  # the window read on to its end


def test_corrupt_song_is_marked_bad_and_the_next_one_plays():
    library = FakeLibrary(SONGS)
    bad = library.songs["happy"][0].path
    runner, dev, _, _ = build([HAPPY], player=FakePlayer(bad=[bad]), library=library)
    runner.run()
    assert dev.player.played() == ["happy1"]
    assert bad in library.bad
    assert ("error", "happy0") in dev.journal.events()


def test_folder_with_only_corrupt_songs_falls_back_to_another_folder():
    library = FakeLibrary({"happy": 1, "neutral": 1})
    runner, dev, _, _ = build([HAPPY], player=FakePlayer(bad=[library.songs["happy"][0].path]),
                              library=library)
    runner.run()
    assert dev.player.played() == ["neutral0"]


def test_song_failing_inside_a_fade_is_skipped_and_the_music_goes_on():
    library = FakeLibrary(SONGS)
    bad = library.songs["sad"][0].path
    runner, dev, _, _ = build([HAPPY, SAD], cycles=2, player=FakePlayer(late_bad=[bad]), library=library)
    dev.player.on_error = runner.song_failed
    runner.run()
    assert dev.player.played() == ["happy0", "sad0", "sad1"]
    assert bad in library.bad
    assert ("error", "sad0") in dev.journal.events() and ("end", "sad0") not in dev.journal.events()


def test_camera_dying_mid_window_ends_it_and_next_cycle_retries(caplog):
    runner, dev, sources, _ = build([HAPPY, SAD, SAD], cycles=3, die_after={1: 10})
    with caplog.at_level(logging.WARNING):
        assert runner.run() == 0
    assert sources.opened[1].position == 10 and sources.opened[1].closed_at is not None
    assert [w[1].mood for w in dev.journal.windows] == ["happy", None, "sad"]
    assert dev.player.played() == ["happy0", "sad0"]  # the music went on through the dead window
    assert "camera stopped" in caplog.text


def test_camera_missing_later_is_a_warning_and_retried():
    runner, dev, sources, _ = build([HAPPY, SAD], cycles=3, missing=[1])
    assert runner.run() == 0
    assert sources.attempts == 3
    assert [w[1].frames for w in dev.journal.windows] == [20, 0, 20]


def test_camera_busy_at_the_first_window_is_skipped_and_retried_never_an_exit():
    # run.py checks --source before any music (test_cli_run); a camera taken by another program
    # between that check and the first window skips the window, and the next one reads it.
    runner, dev, sources, _ = build([HAPPY], cycles=2, missing=[0])
    assert runner.run() == 0
    assert sources.attempts == 2
    assert [w[1].frames for w in dev.journal.windows] == [0, 20]
    assert dev.player.played() == ["neutral0", "happy0"]  # unsure at first: neutral, as ever
    assert [row[1] for row in dev.journal.desk_rows] == ["camera_unavailable"]


def test_skip_key_plays_the_next_song_of_the_same_folder():
    runner, dev, _, _ = build([HAPPY], cycles=2, presses=[(30, "n")])
    runner.run()
    assert dev.player.played()[:2] == ["happy0", "happy1"]
    assert ("skip", "happy0") in dev.journal.events()


def test_skip_key_in_a_folder_of_one_song_says_why_the_same_song_starts_again():
    from emusify.desk.events import Listener

    class Notes(Listener):
        def __init__(self) -> None:
            self.texts: list[str] = []

        def note(self, when: float, text: str) -> None:
            self.texts.append(text)

    runner, dev, _, _ = build([HAPPY], cycles=2, presses=[(30, "n")],
                              library=FakeLibrary({"happy": 1, "neutral": 2}))
    notes = Notes()
    runner.listeners.add(notes)
    runner.run()
    assert dev.player.played()[:2] == ["happy0", "happy0"]
    assert notes.texts == ["no other song plays in happy: it starts again (add songs to its folder)"]


def test_the_mood_keys_are_said_once_at_start_as_a_narrow_status_line_drops_them(caplog):
    with caplog.at_level(logging.INFO, logger="emusify.desk.ui"):
        runner, _, _, _ = build([HAPPY], cycles=2)
        runner.run()
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mood keys")]
    assert said == ["mood keys: 1 angry  2 happy  3 neutral  4 sad  y right"]


def test_pause_key_pauses_and_a_paused_song_is_not_replaced():
    runner, dev, _, _ = build([HAPPY, SAD], cycles=2, presses=[(30, " ")])
    runner.run()
    assert ("pause",) in dev.player.events and dev.player.paused
    assert dev.player.played() == ["happy0"]  # paused: the sad song waits for resume
    assert runner.music.folder == "sad"


def test_quit_key_stops_with_a_fade_out():
    runner, dev, sources, clock = build([HAPPY], cycles=0, presses=[(30, "q")])
    assert runner.run() == 0
    assert runner.stop_reason == "q"
    assert ("stop", 1.5) in dev.player.events
    assert clock.now() < clock.start + 40
    assert dev.journal.events()[-1] == ("end", "happy0")


def test_stop_request_ends_cleanly_like_sigterm():
    runner, dev, sources, clock = build([HAPPY], cycles=0)
    clock.at(30, lambda: runner.request_stop("SIGTERM"))
    assert runner.run() == 0
    assert all(s.closed_at is not None for s in sources.opened)


def test_ctrl_c_mid_window_releases_the_camera_and_returns_130():
    runner, dev, sources, clock = build([HAPPY], cycles=0)

    def interrupt():
        raise KeyboardInterrupt

    clock.at(67, interrupt)  # inside the second window
    assert runner.run() == 130
    assert sources.opened[1].closed_at is not None
    assert dev.journal.events()[-1] == ("end", "happy0")


def test_status_shows_mood_song_and_countdown():
    runner, dev, _, _ = build([HAPPY], cycles=2)
    runner.run()
    shown = dev.ui.shown
    assert any(s.watching and s.seconds > 0 for s in shown)
    waiting = [s for s in shown if not s.watching]
    assert waiting and waiting[0].mood == "happy" and waiting[0].title == "happy0"
    assert waiting[0].seconds == pytest.approx(60, abs=0.5)


class Preview:
    def __init__(self, key_after=None):
        self.shown, self.closed, self.key_after = [], False, key_after

    def __call__(self):
        return self

    def show(self, image, landmarks, probs):
        self.shown.append(probs)
        return "q" if self.key_after is not None and len(self.shown) >= self.key_after else None

    def close(self):
        self.closed = True


def test_preview_sees_probabilities_and_its_keys_work():
    preview = Preview(key_after=3)
    runner, dev, _, _ = build([HAPPY], cycles=0, preview=preview)
    assert runner.run() == 0
    assert len(preview.shown) == 3 and preview.closed
    assert preview.shown[0]["happy"] == pytest.approx(0.9)
    assert dev.journal.windows == []  # quit mid-window: no decision


# The reference face: calibration shot, persistence and tracking (emusify.sensing.calibration) -----------

def calibrated(tmp_path, scripts, stored=None, force_shot=False, presses=(), **overrides):
    """A runner whose predictor reads against a reference face kept in tmp_path/reference.json."""
    from emusify.sensing.calibration import Calibration
    from emusify.sensing.reference import save_reference

    path = tmp_path / "reference.json"
    if stored is not None:
        save_reference(path, stored)
    runner, dev, sources, clock = build(scripts, presses=presses, **overrides)
    dev.calibration = Calibration(path, ("fake", len(LABELS)), dev.predictor,
                                  force_shot=force_shot)
    return runner, dev, sources, clock, path


def stored_reference(vector, when=500.0):
    from emusify.sensing.reference import Reference

    return Reference(np.asarray(vector, float), 20, when, when, "fake", None, "shot")


NEUTRAL = frames(("neutral", 200))


def test_first_start_takes_a_calibration_shot_and_stores_it(tmp_path):
    from emusify.sensing.reference import load_reference

    runner, dev, sources, clock, path = calibrated(tmp_path, [NEUTRAL, HAPPY])
    assert runner.run() == 0
    assert len(sources.opened) == 2  # the shot, then the first window
    stored = load_reference(path, ("fake", 4))
    assert stored is not None and stored.source == "shot" and stored.frames == 20  # 5 s at 4 fps
    np.testing.assert_allclose(stored.vector, probs("neutral"), rtol=1e-6)
    np.testing.assert_allclose(dev.predictor.reference, stored.vector)
    assert [r[1:4] for r in dev.journal.references] == [("shot", "shot", 20)]
    notes = [s.note for s in dev.ui.shown if s.note]
    assert notes[0] == "relax your face and look at the screen, 5 s; s skips"
    (_, result, decision), = dev.journal.windows  # the shot is not a window: one window, one vote
    assert result.mood == "happy" and dev.player.played() == ["happy0"]
    assert dev.player.events[0][0] == "play" and sources.opened[1].opened_at == sources.opened[0].closed_at


def test_a_stored_reference_is_loaded_and_no_shot_is_taken(tmp_path):
    runner, dev, sources, _, path = calibrated(tmp_path, [HAPPY], stored=stored_reference(np.full(4, 0.2)))
    before = path.read_bytes()
    assert not dev.calibration.needs_shot
    np.testing.assert_allclose(dev.predictor.reference, np.full(4, 0.2))
    runner.run()
    assert len(sources.opened) == 1 and dev.journal.references == []
    assert path.read_bytes() == before  # happy frames never move the reference


def test_s_skips_the_shot_and_the_models_reference_stays(tmp_path):
    runner, dev, sources, clock, path = calibrated(tmp_path, [NEUTRAL, HAPPY], presses=[(1.0, "s")])
    runner.run()
    assert not path.exists() and dev.predictor.reference is None
    assert [r[1] for r in dev.journal.references] == ["skipped"]
    assert sources.opened[0].position < 30  # stopped about 1 s in
    assert dev.player.played() == ["happy0"]  # the first window follows


def test_calibrate_retakes_the_shot(tmp_path):
    from emusify.sensing.reference import load_reference

    old = stored_reference(np.full(4, 0.2))
    runner, dev, _, _, path = calibrated(tmp_path, [NEUTRAL, HAPPY], stored=old, force_shot=True)
    runner.run()
    new = load_reference(path, "fake")
    np.testing.assert_allclose(new.vector, probs("neutral"), rtol=1e-6)
    assert new.taken > old.taken and dev.journal.references[0][1:3] == ("shot", "shot")
    assert dev.journal.references[0][4] > 0.5  # how far it moved is journaled


def test_a_smiling_shot_is_taken_again_asking_to_relax_and_the_relaxed_one_is_used(tmp_path):
    from emusify.sensing.shotcheck import RelaxedFaces

    runner, dev, sources, _, path = calibrated(tmp_path, [HAPPY, NEUTRAL, SAD])
    smile = probs("happy") - probs("neutral")
    smile = smile / (smile @ smile)  # 1.0 at a full smile
    dev.calibration.relaxed = RelaxedFaces(probs("neutral"), ("happy",), smile[None], smile[None],
                                           np.zeros(4), 0.0, {"any": (0.5, 0.5, np.inf)}, "fake")
    assert runner.run() == 0
    assert len(sources.opened) == 3  # the smiling shot, the relaxed one, the first window
    assert [r[1] for r in dev.journal.references] == ["refused", "shot"]
    np.testing.assert_allclose(dev.predictor.reference, probs("neutral"), rtol=1e-6)
    notes = [s.note for s in dev.ui.shown if s.note]
    assert notes[0].startswith("relax your face") and notes[-1].startswith("you seem to be smiling: relax")


def test_a_shot_without_a_face_keeps_the_old_reference(tmp_path, caplog):
    old = stored_reference(np.full(4, 0.2))
    runner, dev, _, _, path = calibrated(tmp_path, [NOBODY + NEUTRAL, HAPPY], stored=old, force_shot=True)
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        runner.run()
    assert path.read_bytes() == before
    np.testing.assert_allclose(dev.predictor.reference, np.full(4, 0.2))
    assert [r[1] for r in dev.journal.references] == ["kept"]
    warning, = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and "calibration shot" in r.getMessage()]
    assert "a face in 0 of 20 frames" in warning and "keeping" in warning and "\n" not in warning


def test_the_tracker_follows_confident_neutral_windows_and_persists(tmp_path):
    from emusify.sensing.reference import load_reference

    start = np.zeros(4)
    calm = frames(("neutral", 200), confidence=0.95)
    unsure = frames(("neutral", 200), confidence=0.6)
    runner, dev, _, _, path = calibrated(tmp_path, [HAPPY, unsure, calm], stored=stored_reference(start),
                                         cycles=3)
    runner.run()
    moved = load_reference(path, "fake")
    np.testing.assert_allclose(moved.vector, 0.1 * probs("neutral", 0.95), rtol=1e-5)  # one tenth, once
    np.testing.assert_allclose(dev.predictor.reference, moved.vector)
    (_, event, source, n, shift), = dev.journal.references
    assert (event, source, n) == ("updated", "shot", 20) and shift > 0
    assert moved.taken == 500.0 and moved.updated > 500.0


def test_q_during_the_shot_quits_without_storing(tmp_path):
    runner, dev, sources, _, path = calibrated(tmp_path, [NEUTRAL, HAPPY], presses=[(1.0, "q")])
    assert runner.run() == 0
    assert not path.exists() and len(sources.opened) == 1 and dev.journal.windows == []


def test_the_preview_asks_for_the_relaxed_face_and_s_there_skips(tmp_path):
    class SkipPreview(Preview):
        def show(self, image, landmarks, lines):
            self.shown.append(lines)
            return "s" if len(self.shown) == 4 else None

    preview = SkipPreview()
    runner, dev, sources, _, path = calibrated(tmp_path, [NEUTRAL, HAPPY], preview=preview)
    runner.run()
    assert preview.shown[0] == ["relax your face and look at the screen, 5 s; s skips", "face found"]
    assert not path.exists() and [r[1] for r in dev.journal.references] == ["skipped"]
    assert len(sources.opened) == 2 and dev.player.played() == ["happy0"]


def test_c_takes_a_new_calibration_shot_before_the_next_window_without_a_restart(tmp_path):
    runner, dev, sources, _, path = calibrated(
        tmp_path, [HAPPY, NEUTRAL, HAPPY], stored=stored_reference(np.full(4, 0.2)), presses=[(20, "c")],
        cycles=2)
    assert not dev.calibration.needs_shot
    assert runner.run() == 0
    assert len(sources.opened) == 3  # window 1, the shot asked for with c, window 2
    assert [r[1:4] for r in dev.journal.references] == [("shot", "shot", 20)]
    assert len(dev.journal.windows) == 2  # the shot is not a window
    assert sources.opened[1].opened_at == pytest.approx(sources.opened[0].closed_at + 60, abs=0.3)


def test_a_window_of_a_mood_without_songs_keeps_the_music_and_journals_that_mood():
    read = (*LABELS, "surprise")  # the model reads every mood; the demo songs have four folders
    surprised = [probs("surprise", labels=read) for _ in range(200)]
    happy = [probs("happy", labels=read) for _ in range(200)]
    runner, dev, _, _ = build([happy, surprised], cycles=2)
    runner = Core(runner.settings, dev, read, runner.policy, keys=LABELS)
    assert runner.run() == 0
    assert dev.player.played() == ["happy0"]  # surprise did not push the music anywhere
    (_, first, _), (_, second, decision) = dev.journal.windows
    assert first.mood == "happy" and second.mood == "surprise" and decision == "keep"


class NoReference:
    """A calibration keeper whose shot was skipped: no reference face."""

    reference = None
    needs_shot = False

    def after_window(self, *args) -> None:
        pass

    def take_changes(self) -> list:
        return []


def test_without_a_reference_the_first_windows_keep_the_music_then_the_passive_one_is_used():
    from emusify.sensing.passive import PassiveReference

    runner, dev, _, _ = build([HAPPY, HAPPY, HAPPY], cycles=3)
    dev.calibration, dev.passive = NoReference(), PassiveReference(windows=2, rule="all")
    assert runner.run() == 0
    assert dev.player.played() == ["neutral0", "happy0"]  # the first two windows did not choose
    decisions = [(result.mood, decision) for _, result, decision in dev.journal.windows]
    assert decisions == [("happy", "neutral"), ("happy", "keep"), ("happy", "happy")]
    assert dev.predictor.reference is not None and len(dev.predictor.reference) == len(LABELS)
    assert ("updated", "passive") in [(row[1], row[2]) for row in dev.journal.references]
    held = [status.message for status in dev.ui.shown if status.message and "no shot" in status.message]
    assert "no shot: music stays 2 more windows; c takes a shot" in held  # before the first window
    assert "no shot: music stays 1 more window; c takes a shot" in held
    assert runner.state.held == "" and "no shot" not in (dev.ui.shown[-1].message or "")  # once it is made
