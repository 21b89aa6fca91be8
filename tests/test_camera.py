"""Frame sources on a tiny video and an image folder written in the test; no camera, no display."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from emusify.errors import CameraError
from emusify.sensing import camera
from emusify.sensing.camera import (
    ImageFolderSource,
    PreviewWindow,
    VideoSource,
    draw,
    key_name,
    open_source,
    read_image,
)
from emusify.sensing.playhead import Playhead, VirtualClock

FPS = 10.0


def _image(value: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    image = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    image[:, :, 2] = value % 256  # red in BGR
    return image


def write_video(path: Path, count: int, fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert writer.isOpened()
    for i in range(count):
        writer.write(_image(20 * i + 10))
    writer.release()
    return path


def write_gif(path: Path, value: int) -> None:
    from PIL import Image

    Image.fromarray(_image(value)[..., ::-1]).save(path, format="GIF")


def once() -> Playhead:
    """A video read as fast as it decodes, from its first frame to its end (no loop)."""
    return Playhead(VirtualClock(), loop=False)


def read_all(source) -> list:
    frames = []
    with source:
        while (frame := source.read()) is not None:
            frames.append(frame)
    return frames


def test_video_frames_have_position_timestamps_and_the_file_name(tmp_path: Path) -> None:
    source = open_source(str(write_video(tmp_path / "clip.avi", 5)))  # no playhead: the file, read once
    assert source.is_video
    frames = read_all(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert {f.name for f in frames} == {"clip.avi"}
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert abs(int(frames[3].image[..., 2].mean()) - 70) < 8  # frames in order, BGR kept


def test_a_video_ends_with_none_and_close_is_idempotent(tmp_path: Path) -> None:
    source = open_source(str(write_video(tmp_path / "clip.avi", 2)), once())
    assert source.read() is not None and source.read() is not None
    assert source.read() is None and source.read() is None
    source.close()
    source.close()


def test_a_truncated_video_ends_early_but_keeps_its_first_frames(tmp_path: Path, caplog) -> None:
    path = write_video(tmp_path / "clip.avi", 30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with caplog.at_level(logging.WARNING):
        frames = read_all(open_source(str(path), once()))
    assert 0 < len(frames) < 30
    assert [f.index for f in frames] == list(range(len(frames)))
    assert f"clip.avi ended after {len(frames)} of 30 frames" in caplog.text


def test_a_video_with_no_readable_frame_fails_at_open(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", 30)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CameraError, match="--source"):
        VideoSource(path)
    garbage = tmp_path / "noise.mp4"
    garbage.write_bytes(b"not a video at all" * 10)
    with pytest.raises(CameraError, match="noise.mp4"):
        open_source(str(garbage))


def test_missing_webcam_says_what_to_do(monkeypatch) -> None:
    class Closed:
        def __init__(self, index: int) -> None:
            self.released = False

        def isOpened(self) -> bool:
            return False

        def release(self) -> None:
            self.released = True

    monkeypatch.setattr(camera.cv2, "VideoCapture", Closed)
    with pytest.raises(CameraError) as info:
        open_source("0")
    assert str(info.value) == ("no camera at index 0; connect one or pass --source VIDEO_FILE "
                               "or --source IMAGE_DIR")


class _FakeCapture:
    """A webcam that delivers ``good`` frames and then stops."""

    def __init__(self, index: int, good: int = 2) -> None:
        self.good, self.props = good, {}

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def read(self):
        self.good -= 1
        return (True, _image(99)) if self.good >= 0 else (False, None)

    def release(self) -> None:
        pass


def test_webcam_asks_for_640x480_and_returns_none_when_it_stops(monkeypatch, caplog) -> None:
    captures: list[_FakeCapture] = []
    monkeypatch.setattr(camera.cv2, "VideoCapture",
                        lambda i: captures.append(_FakeCapture(i)) or captures[-1])
    with open_source("1") as source:
        assert source.is_video
        first, second = source.read(), source.read()
        with caplog.at_level(logging.WARNING):
            assert source.read() is None
    assert captures[0].props == {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480}
    assert first.name is None and (first.index, second.index) == (0, 1)
    assert 0 <= first.timestamp <= second.timestamp
    assert "camera 1 delivered no frame" in caplog.text


def test_image_folder_is_sorted_recursive_reads_gifs_and_skips_bad_files(tmp_path: Path, caplog) -> None:
    cv2.imwrite(str(tmp_path / "b.png"), _image(50))
    cv2.imwrite(str(tmp_path / "a.jpg"), _image(100))
    (tmp_path / "sub").mkdir()
    write_gif(tmp_path / "sub" / "c.gif", 150)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(str(tmp_path))
    assert not source.is_video
    with caplog.at_level(logging.WARNING):
        frames = read_all(source)
    assert [f.name for f in frames] == ["a.jpg", "b.png", "sub/c.gif"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert [abs(int(f.image[..., 2].mean()) - v) < 8 for f, v in zip(frames, (100, 50, 150))] == [True] * 3
    assert source.skipped == 1 and "broken.png" in caplog.text


def test_folder_without_images_and_missing_path_name_the_source_flag(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CameraError, match="no images"):
        open_source(str(tmp_path))
    with pytest.raises(CameraError, match="--source"):
        open_source(str(tmp_path / "missing.mp4"))


def test_a_single_image_is_a_one_frame_still_source(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "one.png"), _image(80))
    source = open_source(str(tmp_path / "one.png"))
    assert not source.is_video
    assert [f.name for f in read_all(source)] == ["one.png"]


def test_read_image_reads_gif_and_grey_images_as_bgr_and_returns_none_for_junk(tmp_path: Path) -> None:
    write_gif(tmp_path / "x.gif", 200)
    gif = read_image(tmp_path / "x.gif")
    assert gif.shape == (48, 64, 3) and abs(int(gif[..., 2].mean()) - 200) < 8
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((10, 12), 77, dtype=np.uint8))
    assert read_image(tmp_path / "grey.png").shape == (10, 12, 3)
    (tmp_path / "junk.jpg").write_bytes(b"junk")
    assert read_image(tmp_path / "junk.jpg") is None
    assert read_image(tmp_path / "absent.png") is None


def test_image_folder_source_with_only_bad_files_ends_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"bad")
    source = ImageFolderSource(tmp_path)
    assert source.read() is None and source.skipped == 1


def test_preview_without_a_display_asks_for_no_preview(monkeypatch) -> None:
    monkeypatch.setattr(camera.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(CameraError, match="--no-preview"):
        PreviewWindow()


def test_preview_turns_an_imshow_failure_into_a_camera_error(monkeypatch) -> None:
    monkeypatch.setenv("DISPLAY", ":99")

    def fail(*args) -> None:
        raise cv2.error("can't open display")

    monkeypatch.setattr(camera.cv2, "imshow", fail)
    with PreviewWindow() as window, pytest.raises(CameraError, match="--no-preview"):
        window.show(_image(0), None, ["hello"])


def test_preview_returns_key_names(monkeypatch) -> None:
    monkeypatch.setenv("DISPLAY", ":99")
    shown: list[np.ndarray] = []
    keys = iter([-1, ord("q"), 27])
    monkeypatch.setattr(camera.cv2, "imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr(camera.cv2, "waitKey", lambda delay: next(keys, -1))
    monkeypatch.setattr(camera.cv2, "destroyWindow", lambda title: None)
    with PreviewWindow() as window:
        got = [window.show(_image(0), None, {"happy": 0.8, "sad": 0.2}) for _ in range(3)]
    assert got == [None, "q", "esc"]
    assert shown[0][:40].any()  # the probabilities were written on the frame
    assert key_name(ord("N") | 0x100000) == "N"


def test_draw_puts_dots_where_the_landmarks_are_and_leaves_the_input_alone() -> None:
    from emusify.sensing.landmarks import Landmarks

    face = np.zeros((468, 3), dtype=np.float32)
    face[:, :2] = (0.75, 0.5)
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    canvas = draw(image, Landmarks(face, None, None, None, (200, 100), "facemesh"), [])
    assert canvas[50, 150].any() and not canvas[10, 10].any()
    assert not image.any()
