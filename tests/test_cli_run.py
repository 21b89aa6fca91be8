"""run.py's command line, its start-up checks, and the terminal status line and keys."""

from __future__ import annotations

import io
import logging
import signal
import sys

import pytest

from emusify.cli import run
from emusify.config import Settings
from emusify.desk.core import Core
from emusify.desk.statustext import Status, columns_of, format_status
from emusify.desk.ui import KeyReader, StatusLine, action_for
from emusify.errors import LibraryError, ModelError


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run from an empty folder with no setup.cfg, as a fresh user would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMUSIFY_CONFIG", str(tmp_path / "none.cfg"))
    return tmp_path


def test_help_names_every_option_with_unit_and_default(capsys):
    with pytest.raises(SystemExit) as info:
        run.main(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("--source SPEC", "(default: 0)", "--window SECONDS", "(default: 18)",
                     "--every MINUTES", "(default: 5)", "--cycles N", "--songs DIR", "(default: songs/)",
                     "--journal FILE", "<data>/journal.sqlite", "--fps N", "(default: 4)",
                     "--fade SECONDS", "(default: 3)", "--policy POLICY", "(default: match)",
                     "--preview", "--report", "--out PNG", "--model FILE.npz", "--data DIR"):
        assert fragment in text, fragment


def test_invalid_policy_is_usage_error(in_tmp, capsys):
    assert run.main(["--policy", "cheerful"]) == 2
    assert "unknown policy 'cheerful'" in capsys.readouterr().err


def test_invalid_window_is_usage_error(in_tmp, capsys):
    assert run.main(["--window", "0"]) == 2
    assert "window must be greater than 0" in capsys.readouterr().err


def test_own_model_is_preferred_and_named_in_the_log(in_tmp, caplog):
    (in_tmp / "mine.npz").write_bytes(b"x")
    (in_tmp / "starter.npz").write_bytes(b"x")
    settings = Settings(model=in_tmp / "mine.npz", starter_model=in_tmp / "starter.npz")
    with caplog.at_level(logging.INFO):
        assert run.choose_model(settings) == in_tmp / "mine.npz"
    assert "your own" in caplog.text


def test_starter_model_is_used_until_the_user_trains(in_tmp, caplog):
    (in_tmp / "starter.npz").write_bytes(b"x")
    settings = Settings(model=in_tmp / "mine.npz", starter_model=in_tmp / "starter.npz")
    with caplog.at_level(logging.INFO):
        assert run.choose_model(settings) == in_tmp / "starter.npz"
    assert "starter model" in caplog.text


def test_no_model_at_all_names_train_py(in_tmp):
    settings = Settings(model=in_tmp / "mine.npz", starter_model=in_tmp / "starter.npz")
    with pytest.raises(ModelError, match="train.py"):
        run.choose_model(settings)


def test_a_named_model_that_is_missing_is_an_error_not_the_starter(in_tmp):
    (in_tmp / "starter.npz").write_bytes(b"x")
    settings = Settings(model=in_tmp / "typo.npz", starter_model=in_tmp / "starter.npz")
    with pytest.raises(ModelError, match="check --model"):
        run.choose_model(settings, explicit=True)


def test_empty_songs_folder_explains_the_layout(in_tmp):
    (in_tmp / "songs" / "happy").mkdir(parents=True)
    with pytest.raises(LibraryError, match=r"songs/<emotion>/"):
        run.open_library(in_tmp / "songs")


def test_missing_camera_exits_1_naming_source(in_tmp, capsys):
    assert run.main(["--source", str(in_tmp / "no_such_clip.mp4")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--source" in err


def test_report_without_journal_says_what_to_do(in_tmp, capsys):
    assert run.main(["--report", "--journal", str(in_tmp / "j.sqlite")]) == 1
    assert "run run.py first" in capsys.readouterr().err


def test_sigterm_asks_the_core_to_stop_and_handler_is_restored():
    class Stub:
        reason = None

        def request_stop(self, reason):
            self.reason = reason

    stub = Stub()
    before = signal.getsignal(signal.SIGTERM)
    with run._sigterm_stops(stub):  # type: ignore[arg-type]
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
    assert stub.reason == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before
    assert Core.request_stop  # the core offers what the handler calls


# The terminal ---------------------------------------------------------------------------------

STATUS = Status(mood="happy", share=0.75, artist="Kevin MacLeod", title="Vibe Ace", position=42.0,
                duration=61.5, paused=False, watching=False, seconds=258.0)


def test_status_line_text():
    assert format_status(STATUS) == (
        "mood: happy 75% | Kevin MacLeod - Vibe Ace 0:42 / 1:01 | next look in 4:18"
    )
    watching = STATUS._replace(mood=None, watching=True, seconds=12.4, paused=True, artist=None)
    assert format_status(watching) == "mood: unsure | Vibe Ace 0:42 / 1:01 [paused] | watching, 12 s left"


def test_a_status_line_too_wide_gives_way_part_by_part_and_keeps_a_message_whole_at_both_ends():
    keys = STATUS._replace(keys="1 angry  2 happy  3 neutral  4 sad  y right")
    doubt = keys._replace(message="calibration shot: you seem to be smiling; press c to recalibrate")
    wide = keys._replace(artist="\u30a2\u30fc\u30c6\u30a3\u30b9\u30c8", title="\u60b2\u3057\u3044\u6b4c" * 6)
    for width in range(0, 160):
        note = keys._replace(note="relax your face and look at the screen")
        for status in (STATUS, keys, doubt, wide, note):
            assert columns_of(format_status(status, width=width)) <= width
    assert format_status(keys, width=200) == format_status(keys)  # room enough: nothing changes
    # the keys go first, then the song shrinks
    assert format_status(keys, width=79) == (
        "mood: happy 75% | Kevin MacLeod - Vibe Ace 0:42 / 1:01 | next look in 4:18")
    assert format_status(keys, width=60) == (
        "mood: happy 75% | Kevin Mac\u2026 0:42 / 1:01 | next look in 4:18")
    assert format_status(doubt, width=79) == (
        "mood: happy 75% | calibration shot: you seem to \u2026miling; press c to recalibrate")
    assert format_status(wide, width=60).startswith("mood: happy 75% | \u30a2\u30fc\u30c6")
    assert columns_of("\u60b2a\u0301") == 3  # a wide letter takes two columns, a combining accent none


def test_status_line_on_a_narrow_terminal_never_wraps(monkeypatch):
    monkeypatch.setenv("COLUMNS", "50")  # a StringIO has no terminal size: the fallback reads COLUMNS
    out = io.StringIO()
    line = StatusLine(out, tty=True)
    line.show(STATUS._replace(keys="1 angry  2 happy  3 neutral  4 sad  y right"))
    line.show(STATUS._replace(message="saved as happy: the music moves to happy"))
    drawn = [part.replace("\x1b[K", "") for part in out.getvalue().split("\r") if part]
    assert len(drawn) == 2 and all(0 < columns_of(text) <= 49 for text in drawn)


def test_status_rewrites_one_line_on_a_terminal():
    out = io.StringIO()
    line = StatusLine(out, tty=True)
    line.show(STATUS)
    line.show(STATUS._replace(position=43.0))
    line.close()
    text = out.getvalue()
    assert text.count("\r") >= 3 and "\n" not in text
    assert "0:43 / 1:01" in text


def test_status_prints_plain_lines_only_on_change_when_not_a_terminal():
    out = io.StringIO()
    line = StatusLine(out, tty=False)
    for second in range(5):
        line.show(STATUS._replace(position=40.0 + second, seconds=250.0 - second))
    line.show(STATUS._replace(title="Insert Coin"))
    lines = out.getvalue().splitlines()
    assert lines == [
        "mood: happy 75% | Kevin MacLeod - Vibe Ace | waiting",
        "mood: happy 75% | Kevin MacLeod - Insert Coin | waiting",
    ]


def test_keys_map_to_commands():
    assert [action_for(k) for k in ("n", " ", "p", "q", "Q", "y", "c", "s", "x", None)] == [
        "next", "play_pause", "play_pause", "quit", "quit", "confirm", "calibrate", "skip_shot", None, None,
    ]


def test_no_keys_are_read_when_stdin_is_not_a_terminal():
    with KeyReader(io.StringIO("nnq")) as reader:
        assert not reader.active
        assert reader.poll() == []


@pytest.mark.slow  # matplotlib
def test_report_draws_the_journal_and_prints_where(in_tmp, capsys):
    from emusify.reading.tally import WindowResult
    from emusify.storage.journal import Journal
    from tests.fakes import Song

    song = Song(in_tmp / "a.ogg", "Vibe Ace", "Kevin MacLeod", 61.5, "happy")
    with Journal(in_tmp / "j.sqlite") as journal:
        journal.window(1000.0, WindowResult(72, 60, {"happy": 50}, "happy", 0.9), "happy")
        journal.song(1001.0, "start", song)
        journal.song(1060.0, "end", song)
    assert run.main(["--report", "--journal", str(in_tmp / "j.sqlite"), "--out", "moods.png"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "moods.png"
    assert "corrections: 0 corrections" in out and "none skipped yet" in out
    assert (in_tmp / "moods.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is Linux-only")
def test_preview_without_a_display_fails_at_start(in_tmp, fixtures, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert run.main(["--source", str(fixtures / "sergey.png"), "--preview"]) == 1
    assert "--no-preview" in capsys.readouterr().err


def test_the_start_names_only_the_moods_whose_folders_have_songs(caplog):
    from emusify.music.policy import parse_policy

    seven = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    with caplog.at_level("INFO"):
        keys = run.moods_with_songs(seven, ("angry", "happy", "sad"), parse_policy("match"))
    assert keys == ("angry", "happy", "neutral", "sad")  # neutral keeps its digit: "keep playing"
    assert "angry, happy, sad have songs (windows led by disgust, fear, surprise keep" in caplog.text


def test_correction_keys_are_the_moods_with_songs_and_neutral_always():
    from emusify.music.policy import parse_policy

    seven = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
    demo = ("angry", "happy", "neutral", "sad")
    assert run.moods_with_songs(seven, demo, parse_policy("match")) == demo
    assert run.moods_with_songs(seven, ("happy", "sad"), parse_policy("match")) == ("happy", "neutral", "sad")
    # uplift sends angry and fear to calm: they matter then; disgust goes to neutral, which has no songs here
    lifted = run.moods_with_songs(seven, ("calm", "happy", "sad"), parse_policy("uplift"))
    assert lifted == ("angry", "fear", "happy", "neutral", "sad")
    assert run.moods_with_songs(seven, ("calm",), parse_policy("match")) == seven  # too few: all
    assert run.moods_with_songs(demo, demo, parse_policy("match")) == demo
    assert run.moods_with_songs(seven, demo, parse_policy("surprise=happy")) == (*demo[:3], "sad", "surprise")


def test_predictor_restricted_to_some_moods_renormalizes():
    import numpy as np

    from emusify.reading.model import Model
    from emusify.reading.predictor import Predictor

    model = Model(("angry", "happy", "sad"), ("t", 2), [np.eye(2, 3)], [np.zeros(3)], np.zeros(2), np.ones(2))
    full = Predictor(model).predict(np.array([[1.0, 0.5]]))[0]
    part = Predictor(model, labels=["sad", "angry"])
    assert part.labels == ("angry", "sad")
    np.testing.assert_allclose(part.predict(np.array([[1.0, 0.5]]))[0], full[[0, 2]] / full[[0, 2]].sum())
    with pytest.raises(ValueError):
        Predictor(model, labels=["angry", "calm"])


def test_reference_keeper_only_for_reference_models(in_tmp, caplog):
    from types import SimpleNamespace

    from emusify.sensing.calibration import Calibration
    from tests.fakes import FakePredictor

    settings = Settings(data=in_tmp / "data")
    old = SimpleNamespace(calibration="session-mean", meta={})
    with caplog.at_level(logging.WARNING):
        assert run.reference_keeper(settings, old, FakePredictor(), calibrate=True) is None
    assert "--calibrate" in caplog.text and "retrain" in caplog.text
    new = SimpleNamespace(calibration="reference", meta={}, reference_mean=None)
    keeper = run.reference_keeper(settings, new, FakePredictor(), calibrate=False)
    assert isinstance(keeper, Calibration) and keeper.needs_shot
    assert keeper.path == in_tmp / "data" / "reference.json"


def test_help_explains_the_calibration_shot(capsys):
    with pytest.raises(SystemExit):
        run.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--calibrate" in text and "relaxed face" in text and "s skips it" in text


def test_an_updated_model_keeps_the_users_reference_face_and_its_keeper():
    from types import SimpleNamespace

    import numpy as np

    from emusify.cli.run import swap_predictor
    from emusify.reading.model import Layout, Model
    from emusify.reading.predictor import Predictor

    def model() -> Model:
        return Model(("happy", "sad"), Layout("test", 3), [np.ones((3, 2))], [np.zeros(2)], np.zeros(3),
                     np.ones(3), calibration="reference", reference_mean=np.zeros(3))

    old = Predictor(model(), reference=np.array([0.1, 0.2, 0.3]))
    devices = SimpleNamespace(predictor=old, calibration=SimpleNamespace(predictor=old))
    new = swap_predictor(devices, Predictor(model()))
    np.testing.assert_array_equal(new.reference, [0.1, 0.2, 0.3])
    assert devices.calibration.predictor is new
