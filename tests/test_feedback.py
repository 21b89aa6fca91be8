"""Listener feedback in the run loop: corrections, confirmations, background updates, skips.

Fakes throughout: the scripted frames are Landmarks whose first four face values are the
probabilities the fake predictor returns, so a correction writes real recordings to a temp folder.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from emusify.config import Settings
from emusify.desk.devices import Devices
from emusify.desk.feedback import Feedback, mood_for_key, mood_keys
from emusify.reading.learner import Learner, Update
from emusify.sensing.landmarks import Landmarks
from emusify.storage.dataset import load_sessions
from emusify.storage.journal import FeedbackRow
from tests.fakes import (
    LABELS,
    FakeClock,
    FakeExtractor,
    FakeJournal,
    FakeLibrary,
    FakePlayer,
    FakePredictor,
    FakeSources,
    make_core,
    probs,
)

SONGS = {"angry": 2, "happy": 3, "neutral": 2, "sad": 3}
LAYOUT = ("face-local-v1", 372)


def face(mood: str | None) -> Landmarks | None:
    """A frame whose landmarks carry the probabilities the fake predictor will return."""
    if mood is None:
        return None
    points = np.zeros((468, 3), np.float32)
    points.flat[:4] = probs(mood)
    return Landmarks(points, None, None, None, (640, 480), "holistic")


def vectorize(landmarks: Landmarks) -> np.ndarray:
    return np.asarray(landmarks.face.flat[:4], np.float32)


def script(mood: str | None, count: int = 200) -> list:
    return [face(mood) for _ in range(count)]


def build(tmp_path, scripts, presses=(), work=None, preview=None, **overrides):
    """A runner with feedback over fakes: 5 s windows at 4 fps (20 frames), a minute apart."""
    clock = FakeClock()
    options = dict(source="0", window=5, fps=4, every=1, cycles=2, min_face_frames=4, fade=2)
    options.update(overrides)
    settings = Settings(**options)
    journal = FakeJournal()
    learner = Learner(work, clock, delay=5.0, start=lambda run: run()) if work else None
    swaps: list[tuple[float, object]] = []

    def make_predictor(model):
        swaps.append((clock.now(), model))
        return FakePredictor()

    devices = Devices(
        open_source=FakeSources(clock, scripts, source_fps=20), extractor=FakeExtractor(),
        vectorize=vectorize, predictor=FakePredictor(), player=FakePlayer(), library=FakeLibrary(SONGS),
        journal=journal, clock=clock,
        feedback=Feedback(tmp_path / "data", LAYOUT, "0", learner), learner=learner,
        make_predictor=make_predictor, preview=preview,
    )
    runner = make_core(settings, devices, presses)
    return runner, devices, clock, swaps


def messages(devices) -> list[str]:
    return [s.message for s in devices.ui.shown if s.message]


def test_status_line_lists_the_moods_with_their_digits():
    assert mood_keys(LABELS) == "1 angry  2 happy  3 neutral  4 sad  y right"
    assert [mood_for_key(k, LABELS) for k in ("1", "4", "5", "0", "x")] == ["angry", "sad", None, None, None]


def test_a_digit_saves_the_last_window_as_a_correction_journals_it_and_moves_the_music(tmp_path):
    runner, dev, clock, _ = build(tmp_path, [script("sad")], presses=[(10, "2")])
    assert runner.run() == 0
    assert dev.player.played()[:2] == ["sad0", "happy0"]  # the music moved at once, with a fade
    assert dev.player.events[1][0] == "fade_to"
    (session,) = load_sessions(tmp_path / "data")
    assert session.emotion == "happy" and len(session) == 20  # the window's 20 face frames
    assert session.header["feedback"]["kind"] == "correction"
    assert session.header["feedback"]["read"] == "sad"
    (row,) = dev.journal.feedback_rows
    assert row._replace(time=round(row.time)) == FeedbackRow(clock.start + 10, clock.start, "sad", "happy",
                                                             "correction", 20)
    assert any("1 angry  2 happy  3 neutral  4 sad" in s.keys for s in dev.ui.shown)
    assert any(m.startswith("saved as happy") for m in messages(dev))


def test_only_frames_with_a_face_are_kept(tmp_path):
    runner, dev, _, _ = build(tmp_path, [script("sad", 50) + script(None)], presses=[(10, "1")])
    runner.run()
    (session,) = load_sessions(tmp_path / "data")
    assert session.emotion == "angry" and len(session) == 10


def test_y_saves_the_last_window_under_the_mood_read_as_confirmed(tmp_path):
    runner, dev, _, _ = build(tmp_path, [script("sad")], presses=[(10, "y")])
    runner.run()
    (session,) = load_sessions(tmp_path / "data")
    assert session.emotion == "sad" and session.header["feedback"]["kind"] == "confirmed"
    assert [r.kind for r in dev.journal.feedback_rows] == ["confirmed"]
    assert dev.player.played()[:1] == ["sad0"] and "happy0" not in dev.player.played()


def test_a_digit_before_any_window_or_out_of_range_is_a_message_not_a_crash(tmp_path):
    runner, dev, _, _ = build(tmp_path, [script("sad")], presses=[(1, "2"), (10, "7")])
    assert runner.run() == 0
    shown = messages(dev)
    assert any("no window yet" in m for m in shown)
    assert any("no mood has the key 7" in m for m in shown)
    assert not list(tmp_path.rglob("*.emrec")) and dev.journal.feedback_rows == []
    assert "happy0" not in dev.player.played()


def test_quick_presses_make_one_update_a_few_seconds_after_the_last(tmp_path):
    calls: list[float] = []

    def work():
        calls.append(clock.now())
        return Update("model-1", 3, 0, 60, 0.1)

    runner, dev, clock, swaps = build(tmp_path, [script("sad")], work=work,
                                      presses=[(10, "2"), (11, "3"), (12, "2")])
    runner.run()
    assert len(list((tmp_path / "data").rglob("*.emrec"))) == 3
    assert len(calls) == 1 and calls[0] - clock.start == pytest.approx(17, abs=0.5)


def test_the_learner_debounces_with_an_injected_clock():
    clock, runs = FakeClock(), []
    learner = Learner(lambda: runs.append(clock.now()) or Update("m", 1, 0, 5, 0.0), clock, delay=5,
                      start=lambda run: run())
    learner.poke()
    clock.sleep(3)
    learner.poke()  # pushes the update back
    clock.sleep(4)
    learner.poll()
    assert runs == []
    clock.sleep(1.5)
    learner.poll()
    learner.poll()
    assert runs == [clock.start + 8.5]
    assert learner.take().model == "m" and learner.take() is None


def test_a_failed_update_is_one_log_line_and_the_old_model_stays(tmp_path, caplog):
    def work():
        raise RuntimeError("disk full")

    runner, dev, _, swaps = build(tmp_path, [script("sad")], work=work, presses=[(10, "2")])
    old = dev.predictor
    with caplog.at_level(logging.WARNING, logger="emusify.reading.learner"):
        assert runner.run() == 0
    assert dev.predictor is old and swaps == []
    lines = [r for r in caplog.records if r.name == "emusify.reading.learner"]
    assert len(lines) == 1 and "disk full" in lines[0].getMessage()
    assert dev.learner.failures == 1


def test_an_updated_model_is_swapped_in_between_windows_as_soon_as_it_is_learned(tmp_path):
    work = lambda: Update("model-1", 1, 0, 20, 0.1)  # noqa: E731
    runner, dev, clock, swaps = build(tmp_path, [script("sad"), script("happy")], work=work,
                                      presses=[(10, "2")])
    first = dev.predictor
    runner.run()
    second_window = dev.open_source.opened[1].opened_at
    assert [model for _, model in swaps] == ["model-1"]
    # learned at t = 15 s (5 s after the key), in the wait: used from then on, not a minute later
    assert swaps[0][0] == pytest.approx(clock.start + 15, abs=0.3) and swaps[0][0] < second_window
    assert first.rows == 20 and dev.predictor is not first and dev.predictor.rows == 20
    assert "model updated from 1 correction(s)" in messages(dev)


def test_n_early_in_a_song_is_a_skip_and_later_a_plain_next(tmp_path):
    runner, dev, _, _ = build(tmp_path, [script("sad")], presses=[(15, "n"), (50, "n")])
    runner.run()
    events = dev.journal.events()
    assert ("skip", "sad0") in events and ("next", "sad1") in events  # sad1 started at 15, n at 50


def test_a_burst_of_skips_after_a_mood_change_is_journalled_as_doubted(tmp_path):
    runner, dev, clock, _ = build(tmp_path, [script("sad")], presses=[(10, "n"), (20, "n")])
    runner.run()
    doubts = [r for r in dev.journal.feedback_rows if r.kind == "doubted"]
    assert [d._replace(time=round(d.time)) for d in doubts] == [
        FeedbackRow(clock.start + 20, clock.start, "sad", None, "doubted", 0)]


def test_skips_long_after_the_change_are_not_a_doubt(tmp_path):
    runner, dev, clock, _ = build(tmp_path, [script("sad")], presses=[(10, "n"), (150, "n")], every=5)
    clock.at(140, dev.player.finish)  # the next song starts at 140 s: the n at 150 is early in it
    runner.run()
    assert [e for e, _ in dev.journal.events()].count("skip") == 2
    assert not [r for r in dev.journal.feedback_rows if r.kind == "doubted"]


def test_a_pending_update_runs_at_quit_instead_of_being_lost():
    clock, runs = FakeClock(), []
    learner = Learner(lambda: runs.append(clock.now()) or Update("m", 1, 0, 5, 0.0), clock, delay=5,
                      start=lambda run: run())
    assert learner.finish(timeout=0) is True and runs == []  # nothing pending: nothing to do
    learner.poke()
    assert learner.finish(timeout=1) is True
    assert runs == [clock.start] and learner.take().model == "m"


def test_a_correction_pressed_while_an_update_runs_is_learned_at_quit_too():
    import threading

    clock, runs, threads = FakeClock(), [], []
    release = threading.Event()

    def work():
        runs.append(len(runs))
        if len(runs) == 1:
            release.wait(5)  # the first update is still running when the key and the quit come
        return Update(f"m{len(runs)}", len(runs), 0, 5, 0.0)

    def start(run):
        threads.append(threading.Thread(target=run, daemon=True))
        threads[-1].start()

    learner = Learner(work, clock, delay=0, start=start)
    learner.poke()
    learner.poll()  # update 1 starts and blocks
    learner.poke()  # a second correction arrives meanwhile
    threading.Timer(0.05, release.set).start()
    assert learner.finish(timeout=5) is True
    assert runs == [0, 1] and learner.take().model == "m2"


class KeyInPreview:
    """A preview window where ``key`` is typed while the ``at``-th frame is shown."""

    def __init__(self, key: str, at: int) -> None:
        self.key, self.at, self.count = key, at, 0

    def __call__(self):
        return self

    def show(self, image, landmarks, probabilities):
        self.count += 1
        return self.key if self.count == self.at else None

    def close(self):
        pass


def test_a_digit_typed_in_the_preview_window_corrects_the_window_before(tmp_path):
    preview = KeyInPreview("4", at=25)  # the 5th frame of the second window
    runner, dev, clock, _ = build(tmp_path, [script("happy"), script("happy")], preview=preview)
    runner.run()
    (session,) = load_sessions(tmp_path / "data")
    assert session.emotion == "sad" and len(session) == 20  # window 1, not the frames of window 2
    assert [(r.read, r.corrected) for r in dev.journal.feedback_rows] == [("happy", "sad")]
    assert "sad0" in dev.player.played()


def test_a_correction_that_cannot_be_written_is_a_message_and_the_music_goes_on(tmp_path):
    (tmp_path / "data").write_text("not a folder")  # the data folder cannot be created
    runner, dev, _, _ = build(tmp_path, [script("sad")], presses=[(10, "2")])
    assert runner.run() == 0
    assert any("could not save the correction" in m for m in messages(dev))
    assert dev.journal.feedback_rows == []
    assert dev.player.played()[:2] == ["sad0", "happy0"]  # the music still follows the listener


def test_digits_name_the_moods_with_songs_even_when_more_moods_are_read(tmp_path):
    runner, dev, _, _ = build(tmp_path, [script("sad")], presses=[(10, "5")])
    dev.vectorize = lambda landmarks: np.append(vectorize(landmarks), 0.0)  # surprise read too, at 0
    runner = make_core(runner.settings, dev, [(10, "5")], labels=(*LABELS, "surprise"), keys=LABELS)
    assert runner.run() == 0
    said = "no mood has the key 5: 1 angry  2 happy  3 neutral  4 sad  y right"
    assert any(said in m for m in messages(dev))
    assert all("surprise" not in s.keys for s in dev.ui.shown)
