"""Recording one emotion, walking through emotions and importing a folder, with fake devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from emusify.errors import UsageError
from emusify.sensing import recorder
from emusify.sensing.landmarks import Landmarks
from emusify.sensing.recorder import RecordResult, record_session
from emusify.storage.dataset import SessionWriter, load_sessions

LAYOUT = ("test-v1", 12)


class Frame(NamedTuple):
    image: Any
    timestamp: float
    index: int
    name: str | None


class ListSource:
    """A list-backed frame source: ``faces`` says per frame whether the fake face is there."""

    def __init__(self, faces: list[bool], fps: float = 30.0, is_video: bool = True,
                 name: str | None = None, interrupt_at: int | None = None) -> None:
        self.faces, self.fps, self.is_video, self.name = faces, fps, is_video, name
        self.interrupt_at, self.position = interrupt_at, 0

    def read(self) -> Frame | None:
        if self.position == self.interrupt_at:
            raise KeyboardInterrupt
        if self.position >= len(self.faces):
            return None
        i = self.position
        self.position += 1
        stamp = i / self.fps if self.is_video else 0.0
        return Frame(("face" if self.faces[i] else "empty", i), stamp, i, self.name or (None if self.is_video
                                                                                       else f"{i}.png"))


class FakeExtractor:
    def __init__(self) -> None:
        self.calls = 0

    def extract(self, image: Any) -> Landmarks | None:
        self.calls += 1
        if image is None or image[0] != "face":
            return None
        face = np.full((468, 3), image[1], np.float32)
        return Landmarks(face, None, None, None, (64, 48), "holistic")


class FakePreview:
    def __init__(self, keys: dict[int, str] | None = None) -> None:
        self.keys, self.shown = keys or {}, []

    def show(self, image: Any, landmarks: Any, lines: list[str]) -> str | None:
        self.shown.append(lines)
        return self.keys.get(len(self.shown))


def record(tmp_path: Path, source: ListSource, **kw: Any) -> tuple[RecordResult, FakeExtractor]:
    extractor = FakeExtractor()
    with SessionWriter(tmp_path, "happy", LAYOUT, source="fake", group="run-1") as writer:
        result = record_session(source, extractor, writer, show_progress=False, **kw)
    return result, extractor


def stamps(tmp_path: Path) -> np.ndarray:
    return np.concatenate([s.arrays["timestamp"] for s in load_sessions(tmp_path)])


def test_live_source_waits_for_countdown_then_records_the_given_seconds(tmp_path):
    result, extractor = record(tmp_path, ListSource([True] * 300), seconds=2.0, countdown=1.0, rate=10)
    assert 19 <= result.kept <= 20 and result.no_face == 0 and not result.stopped
    kept = stamps(tmp_path)
    assert kept[0] == pytest.approx(0.0) and kept[-1] < 2.0
    first_face = load_sessions(tmp_path)[0].arrays["face"][0, 0, 0]
    assert first_face == pytest.approx(30, abs=1)  # frame 30 = 1 s into the source
    assert extractor.calls <= 31  # the rate cap: about 10 analyses per second, countdown included


def test_video_file_has_no_countdown_and_counts_frames_without_face(tmp_path):
    faces = [i % 4 != 0 for i in range(90)]
    result, _ = record(tmp_path, ListSource(faces, name="me.mp4"), seconds=2.0, countdown=3.0, rate=0)
    assert result.kept + result.no_face == 60 and result.no_face == 15
    assert stamps(tmp_path)[0] == pytest.approx(1 / 30)
    assert result.seconds == pytest.approx(2.0)


def test_samples_bound_stops_early(tmp_path):
    result, _ = record(tmp_path, ListSource([True] * 300, name="v.avi"), seconds=20.0, samples=7)
    assert result.kept == 7 and len(load_sessions(tmp_path)[0]) == 7


def test_image_folder_uses_every_image_regardless_of_seconds(tmp_path):
    source = ListSource([True, False, True, True], is_video=False)
    result, _ = record(tmp_path, source, seconds=0.001, countdown=5.0, rate=1.0)
    assert (result.kept, result.no_face) == (3, 1)
    assert list(load_sessions(tmp_path)[0].arrays["name"]) == ["0.png", "2.png", "3.png"]


def test_no_face_shows_in_preview_and_nothing_is_saved(tmp_path):
    preview = FakePreview()
    result, _ = record(tmp_path, ListSource([False] * 40, name="v.mp4"), seconds=1.0, preview=preview)
    assert result.kept == 0 and result.path is None and load_sessions(tmp_path) == []
    assert any("NO FACE" in line for line in preview.shown[-1])


def test_preview_shows_countdown_progress_and_kept_count(tmp_path):
    preview = FakePreview()
    record(tmp_path, ListSource([True] * 90), seconds=1.0, countdown=1.0, preview=preview)
    assert "recording in 1 s" in preview.shown[0][0]
    last = preview.shown[-1]
    assert last[0].startswith("happy: [###") and "1/1 s" in last[0]
    assert any(line.startswith("kept ") for line in last) and "face found" in last


def test_q_in_preview_stops_and_keeps_what_was_recorded(tmp_path):
    preview = FakePreview(keys={20: "q"})
    result, _ = record(tmp_path, ListSource([True] * 300, name="v.mp4"), seconds=10.0, preview=preview)
    assert result.stopped and result.kept == 20
    assert len(load_sessions(tmp_path)[0]) == 20


def test_ctrl_c_keeps_what_was_recorded(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        record(tmp_path, ListSource([True] * 300, name="v.mp4", interrupt_at=25), seconds=10.0)
    assert len(load_sessions(tmp_path)[0]) == 25


def test_walk_through_waits_between_emotions_and_stops_on_request():
    calls: list[str] = []

    def rec(emotion: str) -> RecordResult:
        calls.append(emotion)
        return RecordResult(emotion, None, 1, 0, 1.0, emotion == "sad")

    results = recorder.walk_through(("happy", "calm", "sad", "angry"), rec,
                                    lambda emotion: calls.append(f"wait {emotion}"))
    assert calls == ["happy", "wait calm", "calm", "wait sad", "sad"]
    assert [r.emotion for r in results] == ["happy", "calm", "sad"]


def test_unknown_emotion_lists_known_ones():
    known = recorder.known_emotions(("calm", "happy"))
    with pytest.raises(UsageError, match="unknown emotion 'hapy'; known: calm, happy"):
        recorder.check_emotion("hapy", known)
    assert recorder.known_emotions(()) == ("happy", "sad", "angry", "neutral")


@pytest.mark.parametrize(("pattern", "name", "group"), [
    (r"^(S\d+)_", "S010_002_01.png", "S010"),
    (r"_(?P<take>\d+)_(?P<group>[a-z]+)", "x_7_kim.png", "kim"),
    (r"^[A-Z]{2}", "KA.HA1.29.tiff", "KA"),
    (r"^(S\d+)_", "other.png", None),
    (None, "S010_002.png", None),
])
def test_group_regex(pattern, name, group):
    assert recorder.group_of(name, recorder.compile_group_regex(pattern)) == group


def test_bad_group_regex_is_usage_error():
    with pytest.raises(UsageError, match="--group-regex"):
        recorder.compile_group_regex("(S")


def test_import_writes_one_recording_per_label_and_group(tmp_path):
    root = tmp_path / "faces"
    files = {"happy/S1_a.png": b"face", "happy/S1_b.png": b"face", "happy/S2_a.png": b"face",
             "happy/S2_x.png": b"garbage", "sad/S1_c.png": b"none", "sad/.hidden": b"face"}
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)

    def read_image(path: Path) -> Any:
        content = path.read_bytes()
        return None if content == b"garbage" else (content.decode().replace("none", "empty"), 0)

    data = tmp_path / "datasets"
    result = recorder.import_folder(root, data, FakeExtractor(), read_image, LAYOUT,
                                    recorder.compile_group_regex(r"^(S\d+)_"), show_progress=False)
    assert result.imported == {"happy": 3, "sad": 0}
    assert [p.name for p in result.unreadable] == ["S2_x.png"]
    assert [p.name for p in result.no_face] == ["S1_c.png"]
    sessions = load_sessions(data)
    assert sorted((s.emotion, s.group, len(s)) for s in sessions) == [("happy", "S1", 2), ("happy", "S2", 1)]
    s1 = next(s for s in sessions if s.group == "S1")
    assert sorted(s1.arrays["name"]) == ["happy/S1_a.png", "happy/S1_b.png"]
    summary = recorder.import_summary(result)
    assert "happy: 3 samples" in summary and "1 unreadable, 1 without a face" in summary


def test_the_neutral_preview_asks_for_the_relaxed_face(tmp_path):
    preview = FakePreview()
    with SessionWriter(tmp_path, "neutral", LAYOUT, source="fake", group="run-1") as writer:
        record_session(ListSource([True] * 60), FakeExtractor(), writer, seconds=1.0, preview=preview,
                       show_progress=False)
    assert preview.shown[-1][0].startswith("neutral: ") and "relax your face" in preview.shown[-1][1]
