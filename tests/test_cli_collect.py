"""collect.py from the command line: fakes for the fast tests, real camera and MediaPipe for the slow ones."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from emusify.cli import collect
from emusify.errors import CameraError, ExitStatus
from emusify.storage.dataset import load_sessions
from tests.test_recorder import FakeExtractor, ListSource

LAYOUT = ("test-v1", 12)
ROOT = Path(__file__).resolve().parents[1]


class Extractor(FakeExtractor):
    made: list[bool] = []

    def __init__(self, static: bool = False, fallback: bool = True) -> None:
        super().__init__()
        Extractor.made.append(static)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class Source(ListSource):
    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def fake_devices(monkeypatch: pytest.MonkeyPatch, faces: list[bool] | None = None,
                 missing: bool = False) -> None:
    def open_source(spec: str) -> Source:
        if missing:
            raise CameraError(f"no camera at index {spec}; connect one or pass --source VIDEO_FILE")
        return Source(faces if faces is not None else [True] * 90, name="clip.mp4")

    def no_window() -> Any:
        raise AssertionError("--no-preview must not open a window")

    Extractor.made = []
    devices = collect.Devices(open_source, Extractor, lambda path: None, no_window, LAYOUT)
    monkeypatch.setattr(collect, "devices", lambda backend="auto": devices)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working directory (no setup.cfg, no songs/)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    return tmp_path


def test_record_one_emotion_from_a_video(project, monkeypatch, capsys):
    fake_devices(monkeypatch)
    status = collect.main(["happy", "--source", "clip.mp4", "--seconds", "1", "--rate", "0", "--no-preview"])
    assert status == ExitStatus.OK
    sessions = load_sessions(project / "datasets")
    assert [(s.emotion, len(s), s.layout) for s in sessions] == [("happy", 30, LAYOUT)]
    assert sessions[0].group.startswith("run-") and sessions[0].header["source"] == "clip.mp4"
    assert "happy: kept 30 samples" in capsys.readouterr().out
    assert Extractor.made == [False]  # a video is tracked, not treated as stills


def test_walk_through_every_builtin_emotion_with_one_group(project, monkeypatch, capsys):
    fake_devices(monkeypatch)
    status = collect.main(["--seconds", "0.5", "--pause", "0", "--no-preview", "--data", "out"])
    assert status == ExitStatus.OK
    sessions = load_sessions(project / "out")
    assert sorted(s.emotion for s in sessions) == ["angry", "happy", "neutral", "sad"]
    assert len({s.group for s in sessions}) == 1
    assert capsys.readouterr().out.count("next: ") == 3


def test_walk_through_uses_the_songs_folders(project, monkeypatch):
    for name in ("calm", "happy"):
        (project / "songs" / name).mkdir(parents=True)
    fake_devices(monkeypatch)
    assert collect.main(["--seconds", "0.2", "--pause", "0", "--no-preview", "--group", "me"]) == 0
    assert sorted((s.emotion, s.group) for s in load_sessions(project / "datasets")) == [
        ("calm", "me"), ("happy", "me"), ("neutral", "me")]  # neutral, the reference, even without songs


def test_unknown_emotion_lists_the_known_ones(project, monkeypatch, capsys):
    (project / "songs" / "calm").mkdir(parents=True)
    fake_devices(monkeypatch)
    assert collect.main(["hapy", "--no-preview"]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    assert err == ("error: unknown emotion 'hapy'; known: calm, neutral (the moods the model reads and "
                   "the songs/ folders; add a songs/<emotion>/ folder for another)\n")
    assert not (project / "datasets").exists()


def test_a_mood_the_model_reads_is_recorded_without_a_songs_folder(project, monkeypatch, capsys):
    (project / "models").mkdir()
    for part in ("starter.npz", "starter.json"):  # the starter reads 7 moods
        shutil.copy(ROOT / "models" / part, project / "models" / part)
    for name in ("angry", "happy", "neutral", "sad"):  # the demo library: no surprise folder
        (project / "songs" / name).mkdir(parents=True)
    fake_devices(monkeypatch)
    status = collect.main(["surprise", "--seconds", "0.5", "--rate", "0", "--no-preview"])
    assert status == ExitStatus.OK, capsys.readouterr().err
    assert [s.emotion for s in load_sessions(project / "datasets")] == ["surprise"]
    assert collect.main(["surprized", "--no-preview"]) == ExitStatus.USAGE
    assert "known: angry, disgust, fear, happy, neutral, sad, surprise (" in capsys.readouterr().err


def test_no_camera_is_one_line_naming_source(project, monkeypatch, capsys):
    fake_devices(monkeypatch, missing=True)
    assert collect.main(["happy", "--no-preview"]) == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--source" in err


def test_no_face_at_all_is_an_error_with_a_hint(project, monkeypatch, capsys):
    fake_devices(monkeypatch, faces=[False] * 60)
    assert collect.main(["sad", "--seconds", "1", "--no-preview"]) == ExitStatus.ERROR
    captured = capsys.readouterr()
    assert "nothing saved" in captured.out and "face the camera" in captured.err
    assert load_sessions(project / "datasets") == []


def test_unwritable_data_folder_is_dataset_error(project, monkeypatch, capsys):
    (project / "datasets").write_text("not a folder")
    fake_devices(monkeypatch)
    assert collect.main(["happy", "--no-preview"]) == ExitStatus.ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: cannot create") and "--data" in err


@pytest.mark.parametrize("argv", [["happy", "--import", "x"], ["--group-regex", "(S)"], ["--rate", "-1"]])
def test_contradictory_flags_are_usage_errors(project, monkeypatch, argv):
    fake_devices(monkeypatch)
    assert collect.main(argv) == ExitStatus.USAGE


def test_help_shows_units_and_defaults(capsys):
    with pytest.raises(SystemExit):
        collect.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in ("--seconds SECONDS", "(default: 20)", "--countdown SECONDS", "--pause SECONDS",
                 "--import DIR", "--group-regex REGEX", "--source SPEC", "--samples N"):
        assert text in out


# With the real camera module and MediaPipe --------------------------------------------------------


@pytest.fixture
def sergey(fixtures: Path) -> Path:
    path = fixtures / "sergey.png"
    if not path.is_file():
        pytest.skip("tests/fixtures/sergey.png is missing")
    return path


@pytest.mark.slow
def test_collect_from_a_video_file(project, sergey, capsys):
    cv2 = pytest.importorskip("cv2")
    image = cv2.resize(cv2.imread(str(sergey)), (320, 320))
    writer = cv2.VideoWriter(str(project / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 320))
    for _ in range(20):
        writer.write(image)
    writer.release()
    status = collect.main(["happy", "--source", "clip.avi", "--seconds", "1", "--no-preview", "-q"])
    assert status == ExitStatus.OK, capsys.readouterr().err
    from emusify.sensing.features import LAYOUT as current

    sessions = load_sessions(project / "datasets")
    assert [(s.emotion, s.layout) for s in sessions] == [("happy", tuple(current))]
    assert 8 <= len(sessions[0]) <= 10  # 1 s of a 10 fps video, each frame has the face
    from emusify.sensing.features import face_vector

    assert sessions[0].vectors(face_vector).shape[1] == current.length


@pytest.mark.slow
def test_collect_from_an_image_folder(project, sergey, capsys):
    (project / "shots").mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(sergey, project / "shots" / name)
    (project / "shots" / "c.png").write_bytes(b"not an image")
    assert collect.main(["neutral", "--source", "shots", "--no-preview", "-q"]) == ExitStatus.OK
    sessions = load_sessions(project / "datasets")
    assert [len(s) for s in sessions] == [2]
    assert sorted(sessions[0].arrays["name"]) == ["a.png", "b.png"]


@pytest.mark.slow
def test_import_a_labelled_folder(project, sergey, capsys):
    faces = project / "faces"
    for name in ("happy/S01_1.png", "happy/S02_1.png", "sad/S01_2.png"):
        (faces / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sergey, faces / name)
    (faces / "sad" / "S03_9.png").write_bytes(b"\x89PNG broken")
    status = collect.main(["--import", "faces", "--group-regex", r"^(S\d+)_", "-q"])
    assert status == ExitStatus.OK
    out = capsys.readouterr().out
    assert "happy: 2 samples" in out and "sad: 1 samples" in out and "1 unreadable" in out
    sessions = load_sessions(project / "datasets")
    assert sorted((s.emotion, s.group, len(s)) for s in sessions) == [
        ("happy", "S01", 1), ("happy", "S02", 1), ("sad", "S01", 1)]


def test_the_guided_mode_records_neutral_first_and_says_why(project, monkeypatch, capsys):
    for name in ("sad", "happy", "calm"):
        (project / "songs" / name).mkdir(parents=True)
    fake_devices(monkeypatch)
    assert collect.main(["--seconds", "0.2", "--pause", "0", "--no-preview"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("first: neutral, your relaxed face") and "reference" in first
    assert [line.split()[1].rstrip(".") for line in out.splitlines() if line.startswith("next: ")] == \
        ["calm", "happy", "sad"]
    assert {s.emotion for s in load_sessions(project / "datasets")} == {"neutral", "calm", "happy", "sad"}
    # no songs/neutral/ folder, and neutral can still be recorded on its own
    assert collect.main(["neutral", "--seconds", "0.2", "--no-preview"]) == 0
