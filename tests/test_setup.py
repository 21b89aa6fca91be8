"""The guided set-up (run.py --setup) over fakes: the order, the screen, s and q, the offer, the decision,
the relaxed face as the shot, and the status line's reminder until the personal model is in use."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from emusify.cli import guided
from emusify.config import Settings
from emusify.desk import setup as flow
from emusify.desk.ui import Terminal
from emusify.storage.dataset import load_sessions
from tests.fakes import FakeClock
from tests.test_cli_collect import Source
from tests.test_recorder import FakeExtractor, ListSource

LAYOUT = ("test-v1", 12)
MOODS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
SONGS = ("angry", "happy", "neutral", "sad")


class FakeScreen:
    """Records every page; presses ``key`` the ``at``-th time a mood's page is shown."""

    def __init__(self, presses: dict[str, tuple[int, str]] | None = None,
                 keys: list[str] | None = None) -> None:
        self.presses, self.pages, self.waiting = presses or {}, [], list(keys or [])
        self.seen: dict[str, int] = {}

    def show(self, lines: list[str]) -> None:
        self.pages.append(list(lines))
        match = re.match(r"Emusify set-up: \d+/\d+ (\w+)", lines[0])
        if match:
            mood = match.group(1)
            self.seen[mood] = self.seen.get(mood, 0) + 1
            at, key = self.presses.get(mood, (0, ""))
            if self.seen[mood] == at:
                self.waiting.append(key)

    def pressed(self) -> list[str]:
        keys, self.waiting = self.waiting, []
        return keys

    def text(self) -> str:
        return "\n".join("\n".join(page) for page in self.pages)


def settings(tmp_path: Path, **changes: Any) -> Settings:
    values = dict(data=tmp_path / "data", model=tmp_path / "own.npz", setup_seconds=1.0, countdown=0.5)
    values.update(changes)
    return Settings(**values)


def run(tmp_path: Path, screen: FakeScreen, faces: list[bool] | None = None, **changes: Any):
    """The set-up over a 30 fps list source paced by a fake clock (1 s per mood after 0.5 s countdown)."""
    clock = FakeClock()
    source = flow.LiveSource(ListSource(faces if faces is not None else [True] * 2000), clock.monotonic,
                             clock.sleep)
    record = guided.recorder(settings(tmp_path, **changes), source, FakeExtractor(), LAYOUT, "setup-1")
    moods = flow.plan(MOODS, SONGS)
    return flow.run_setup(moods, SONGS, record, screen, clock.monotonic, ended=lambda: source.ended)


def recorded(tmp_path: Path) -> list[str]:
    return sorted(s.emotion for s in load_sessions(tmp_path / "data"))


def test_the_order_is_the_relaxed_face_then_the_moods_with_songs_then_the_others():
    assert flow.plan(MOODS, SONGS) == ("neutral", "angry", "happy", "sad", "disgust", "fear", "surprise")
    assert flow.plan(("happy", "sad"), ("sad",)) == ("sad", "happy")  # no neutral in the model: none asked


def test_each_mood_shows_what_to_do_a_countdown_and_whether_a_face_is_found(tmp_path):
    screen = FakeScreen()
    result = run(tmp_path, screen)
    assert recorded(tmp_path) == sorted(MOODS)
    assert [r.emotion for r in result.recorded] == list(flow.plan(MOODS, SONGS))
    assert all(9 <= r.kept <= 11 for r in result.recorded)  # 1 s of frames at the recorder's 10 a second
    text = screen.text()
    assert "Emusify set-up: 3/7 happy (has songs)" in text
    assert "think of something that made you happy" in text
    assert "Emusify set-up: 5/7 disgust (no songs)" in text
    assert "happy: get ready, recording in 1 s" in text and "face found" in text
    assert "s skips happy   q ends the set-up and keeps what was recorded" in text
    assert not result.quit and not result.skipped


def test_no_face_says_so_on_the_screen_and_keeps_nothing(tmp_path):
    screen = FakeScreen({"neutral": (3, "")})
    result = run(tmp_path, screen, faces=[False] * 2000)
    assert "NO FACE - face the camera" in screen.text()
    assert result.recorded == () and len(result.missed) == 7 and recorded(tmp_path) == []
    assert "no face found for neutral" in result.summary()


def test_s_skips_a_mood_and_keeps_nothing_of_it(tmp_path):
    screen = FakeScreen({"happy": (20, "s")})  # pressed while it records (after the countdown)
    result = run(tmp_path, screen)
    assert result.skipped == ("happy",)
    assert recorded(tmp_path) == sorted(set(MOODS) - {"happy"})
    assert "skipped happy" in result.summary()


def test_q_ends_the_set_up_and_keeps_what_was_recorded_the_mood_under_way_too(tmp_path):
    screen = FakeScreen({"sad": (20, "q")})
    result = run(tmp_path, screen)
    assert result.quit and recorded(tmp_path) == ["angry", "happy", "neutral", "sad"]
    assert not any(page[0].startswith("Emusify set-up: 5/7") for page in screen.pages)


def test_a_camera_that_stops_ends_the_set_up_with_what_it_has(tmp_path):
    result = run(tmp_path, FakeScreen(), faces=[True] * 70)  # 2.3 s of frames: neutral, then part of angry
    assert [r.emotion for r in result.recorded][:1] == ["neutral"]
    assert not any(r.emotion in ("happy", "sad") for r in result.recorded)


def test_a_video_standing_in_for_the_webcam_is_paced_to_its_timestamps_and_read_as_live():
    clock = FakeClock()
    source = flow.LiveSource(ListSource([True] * 60, fps=30, name="clip.mp4"), clock.monotonic, clock.sleep)
    first = source.read()
    for _ in range(29):
        last = source.read()
    assert first.name is None and last.name is None  # live: the recorder's countdown applies
    assert clock.mono == pytest.approx(29 / 30)  # a second of video took a second
    clock.sleep(1.0)  # the reader fell a second behind: the frames of that second are dropped
    assert source.read().timestamp >= 1.7  # at most 0.25 s behind


@pytest.mark.parametrize(("keys", "started"), [(["x", "\n"], True), (["n"], False), (["q"], False)])
def test_the_offer_starts_on_enter_and_not_now_on_n(keys, started):
    screen = FakeScreen(keys=keys)
    assert flow.offer(screen, flow.plan(MOODS, SONGS), 15.0, 3.0, lambda s: None) is started
    page = "\n".join(screen.pages[0])
    assert "Record your moods now?" in page and "About 3 minutes" in page
    assert "[enter] start    [n] not now" in page


@pytest.mark.parametrize(("forced", "interactive", "headless", "cycles", "personal", "what"), [
    (False, True, False, 0, False, "offer"),  # a first start at a terminal
    (False, True, False, 0, True, "none"),  # recordings or a model of one's own: never asked again
    (True, True, False, 0, True, "offer"),  # --setup always asks
    (True, True, False, 3, False, "offer"),
    (False, True, False, 3, False, "remind"),  # --cycles (tests, benchmarks): no blocking question
    (False, False, False, 0, False, "remind"),  # stdin is not a terminal
    (False, False, True, 0, False, "headless"),  # at login: the log and a notification say how
    (False, False, True, 3, False, "remind"),  # a scripted headless run: the log only
    (True, False, True, 0, False, "headless"),
])
def test_when_the_set_up_is_offered(forced, interactive, headless, cycles, personal, what):
    assert flow.decide(forced, interactive, headless, cycles, personal) == what


def test_recordings_under_the_data_folder_count_as_personal(tmp_path):
    assert not flow.has_recordings(tmp_path / "missing")
    (tmp_path / "happy").mkdir()
    (tmp_path / "journal.sqlite").write_bytes(b"")
    assert not flow.has_recordings(tmp_path)
    (tmp_path / "happy" / "x.emrec").write_bytes(b"")
    assert flow.has_recordings(tmp_path)


class Learner:
    def __init__(self) -> None:
        self.pokes: list[float | None] = []
        self.failures = 0

    def poke(self, delay: float | None = None) -> None:
        self.pokes.append(delay)


class UI:
    reads_keys = True
    line = SimpleNamespace(tty=True)  # stdout is a terminal: the set-up page can be drawn

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def pressed(self) -> list[str]:
        keys, self.keys = self.keys, []
        return keys


def devices(faces: int = 400) -> SimpleNamespace:
    return SimpleNamespace(open_source=lambda spec: Source([True] * faces, name="clip.mp4"),
                           extractor=FakeExtractor(), preview=None, learner=Learner(), calibration=None)


def test_declining_plays_the_starter_and_the_status_line_reminds(tmp_path, capsys):
    dev = devices()
    outcome = guided.before_music(settings(tmp_path), False, False, dev, SimpleNamespace(ui=UI(["n"])),
                                  MOODS, SONGS)
    assert outcome.reminder() == "no personal model: run.py --setup records your moods"
    assert dev.learner.pokes == [] and recorded(tmp_path) == []


def test_after_the_set_up_the_model_is_learned_at_once_and_the_status_line_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(flow, "plan", lambda labels, folders: ("neutral", "happy"))
    dev = devices()
    outcome = guided.before_music(settings(tmp_path, setup_seconds=0.2, countdown=0.0), False, False, dev,
                                  SimpleNamespace(ui=UI(["\n"])), MOODS, SONGS)
    assert recorded(tmp_path) == ["happy", "neutral"]
    assert dev.learner.pokes == [0.0]  # no debounce: nothing more is coming
    assert outcome.reminder().startswith("learning your moods in the background")
    dev.learner.failures = 1
    assert outcome.reminder().startswith("your moods could not be learned")


def test_without_a_terminal_there_is_no_set_up_the_log_and_a_notification_say_how(tmp_path, caplog):
    dev = devices()
    outcome = guided.before_music(settings(tmp_path), False, True, dev, None, MOODS, SONGS)
    assert "run `python run.py --setup` in a terminal" in outcome.announce
    assert "run.py --setup" in caplog.text and recorded(tmp_path) == []
    posted: list[str] = []
    guided.announce([SimpleNamespace(), SimpleNamespace(announce=posted.append)], outcome.announce)
    assert posted == [outcome.announce]


def test_a_user_with_recordings_is_not_asked(tmp_path):
    (tmp_path / "data" / "happy").mkdir(parents=True)
    (tmp_path / "data" / "happy" / "x.emrec").write_bytes(b"")
    ui = UI(["\n"])
    outcome = guided.before_music(settings(tmp_path), False, False, devices(), SimpleNamespace(ui=ui),
                                  MOODS, SONGS)
    assert outcome.reminder() == "" and ui.keys == ["\n"]  # nothing was asked, no key read


def test_the_relaxed_face_recorded_first_becomes_the_reference(tmp_path):
    from emusify.sensing.features import LAYOUT as current

    class Calibration:
        relaxed = None  # no check file: the shot is not checked
        reference = None

        def use_shot(self, shot: Any, when: float) -> None:
            self.shot = shot
            self.reference = np.median(shot.vectors, axis=0)

    rng = np.random.default_rng(0)
    class Extractor(FakeExtractor):
        def extract(self, image: Any) -> Any:
            lm = super().extract(image)
            return lm._replace(face=rng.normal(size=(468, 3)).astype(np.float32)) if lm is not None else None

    clock = FakeClock()
    source = flow.LiveSource(ListSource([True] * 100), clock.monotonic, clock.sleep)
    record = guided.recorder(settings(tmp_path), source, Extractor(), tuple(current), "setup-1")
    result = flow.run_setup(("neutral",), (), record, FakeScreen(), clock.monotonic)
    dev = SimpleNamespace(calibration=Calibration(), extractor=FakeExtractor())
    assert guided.use_as_shot(dev, result)
    assert dev.calibration.shot.vectors.shape == (result.recorded[0].kept, current.length)


def test_the_status_line_reminds_until_the_personal_model_is_in_use():
    clock = FakeClock()
    shown: list[Any] = []
    ui = SimpleNamespace(show=shown.append, pressed=list)
    terminal = Terminal(ui, clock.now, legend=False)
    terminal.core = SimpleNamespace(state=SimpleNamespace(
        moods=(), doubt="", held="", shot=False, song=None, watching=False, next_window=None, mood=None,
        share=0.0, position=0.0, status="playing", away_since=None, audio_down=False, locked_since=None),
        window_left=0.0)
    terminal.reminder = lambda: flow.REMIND
    terminal.poll()
    assert shown[-1].message == flow.REMIND
    terminal.model_updated(clock.now(), "personal model in use")
    clock.sleep(1)
    terminal.poll()
    assert shown[-1].message is None


def test_an_update_from_recordings_alone_says_the_personal_model_is_in_use():
    from emusify.reading.learner import Update

    assert Update("m", 0, 0, 49, 1.0).message() == "personal model in use (learned from 49 samples of yours)"
    assert Update("m", 1, 0, 49, 1.0).message() == "model updated from 1 correction(s)"


def test_a_camera_unplugged_mid_way_keeps_what_was_recorded(tmp_path):
    from emusify.errors import CameraError

    clock = FakeClock()

    class Unplugged(ListSource):
        def read(self) -> Any:
            if self.position == 80:  # 2.7 s in: neutral done, angry recording
                raise CameraError("camera 0 disconnected")
            return super().read()

    source = flow.LiveSource(Unplugged([True] * 2000), clock.monotonic, clock.sleep)
    record = guided.recorder(settings(tmp_path), source, FakeExtractor(), LAYOUT, "setup-1")
    result = flow.run_setup(flow.plan(MOODS, SONGS), SONGS, record, FakeScreen(), clock.monotonic)
    assert [r.emotion for r in result.recorded] == ["neutral"]
    assert recorded(tmp_path) == ["angry", "neutral"]  # the part of angry on disk stays


def test_a_scripted_run_is_not_asked_and_its_status_line_stays_as_it_was(tmp_path, caplog):
    ui = UI(["\n"])
    ui.reads_keys = False  # stdin is not a terminal (or --cycles): nobody to ask
    with caplog.at_level("INFO"):
        outcome = guided.before_music(settings(tmp_path), False, False, devices(), SimpleNamespace(ui=ui),
                                      MOODS, SONGS)
    assert outcome.reminder() == "" and outcome.announce == "" and ui.keys == ["\n"]
    assert "run `python run.py --setup` in a terminal" in caplog.text


def test_setup_declined_by_a_user_with_a_model_of_their_own_reminds_of_nothing(tmp_path):
    (tmp_path / "own.npz").write_bytes(b"")
    outcome = guided.before_music(settings(tmp_path), True, False, devices(), SimpleNamespace(ui=UI(["n"])),
                                  MOODS, SONGS)
    assert outcome.reminder() == ""


def test_keys_read_but_no_screen_to_draw_on_is_not_asked(tmp_path):
    ui = UI(["\n"])
    ui.line = SimpleNamespace(tty=False)  # stdin a terminal, stdout /dev/null (as in the crash tests)
    outcome = guided.before_music(settings(tmp_path), False, False, devices(), SimpleNamespace(ui=ui),
                                  MOODS, SONGS)
    assert ui.keys == ["\n"] and recorded(tmp_path) == [] and outcome.reminder() == ""
