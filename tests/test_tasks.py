"""The tasks backend (MediaPipe Tasks API) on sergey.png: real MediaPipe, so the extractor tests are slow.

Every mediapipe the project installs has the Tasks API (0.10.21 and 1.2.x), so these run on both
stacks; the ``.task`` models come from models/mediapipe/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from emusify.errors import LandmarkError
from emusify.sensing.landmarks.image import crop_square, prepare, resize_bilinear, to_image_coordinates
from emusify.sensing.landmarks.tasks import FACE_MODEL, MODELS_DIR, POSE_MODEL, TasksExtractor, _tile_centres

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sergey.png"


@pytest.fixture(scope="module")
def sergey() -> np.ndarray:
    from emusify.sensing.camera import read_image

    return read_image(FIXTURE)


@pytest.fixture(scope="module")
def stills():
    with TasksExtractor(static=True) as extractor:
        yield extractor


def far_face(image: np.ndarray, face_px: int) -> tuple[np.ndarray, float, float]:
    """``image`` shrunk so its face is about ``face_px`` wide, on a grey 640x480 frame; its place there."""
    side = round(image.shape[0] * face_px / 320)  # sergey's face is about 320 of 600 px wide
    small = resize_bilinear(image, side, side)
    frame = np.full((480, 640, 3), 128, np.uint8)
    left, top = 400, 60
    frame[top:top + side, left:left + side] = small
    return frame, left + side / 2, top + side / 2


def test_missing_or_damaged_model_is_a_one_line_error_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(LandmarkError, match="missing") as missing:
        TasksExtractor(models_dir=tmp_path)
    assert "models/mediapipe/fetch.py" in str(missing.value) and "\n" not in str(missing.value)
    shutil.copy(MODELS_DIR / FACE_MODEL[0], tmp_path / FACE_MODEL[0])
    (tmp_path / POSE_MODEL[0]).write_bytes(b"not a model")
    with pytest.raises(LandmarkError, match="damaged"):
        TasksExtractor(models_dir=tmp_path)


def test_a_crop_maps_back_to_the_original_image() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    crop = crop_square(image, (600.0, 40.0), 100.0, 256)  # partly outside: filled, still mapped
    assert crop.rgb.shape == (256, 256, 3)
    point = np.array([[0.5, 0.5, 0.1]], np.float32)  # the crop's centre
    back = to_image_coordinates(point, crop)
    assert np.allclose(back[0, :2], [600 / 640, 40 / 480], atol=1e-3)
    assert np.isclose(back[0, 2], 0.1 * 100 / 640, atol=1e-4)  # z scales with the crop's width
    assert to_image_coordinates(point, prepare(image)) is not None


def test_tiles_cover_the_frame_with_overlap() -> None:
    centres = _tile_centres(640, 256)
    assert centres[0] == 128 and centres[-1] == 512 and len(centres) == 3
    assert all(b - a <= 0.75 * 256 for a, b in zip(centres, centres[1:]))
    assert _tile_centres(200, 256) == [100]


@pytest.mark.slow
def test_a_face_gives_468_points_and_52_blendshapes(stills, sergey) -> None:
    lm = stills.extract(sergey)
    assert lm is not None and lm.detector == "tasks" and stills.backend == "tasks"
    assert lm.face.shape == (468, 3) and lm.face.dtype == np.float32
    assert lm.blendshapes is not None and lm.blendshapes.shape == (52,)
    assert lm.blendshapes.min() >= 0.0 and lm.blendshapes.max() <= 1.0
    assert lm.image_size == (600, 600) and lm.pose is None
    x, y = lm.face[:, 0], lm.face[:, 1]
    assert 0.15 < x.min() < x.max() < 0.85 and 0.15 < y.min() < y.max() < 0.95
    assert x[33] < x[4] < x[263] and y[4] < y[152]  # nose between the eye corners, above the chin


@pytest.mark.slow
def test_a_blank_image_gives_none(stills) -> None:
    assert stills.extract(np.full((480, 640, 3), 127, np.uint8)) is None


@pytest.mark.slow
def test_a_far_face_is_found_through_a_crop_in_the_right_place(sergey) -> None:
    frame, cx, cy = far_face(sergey, 40)
    with TasksExtractor(static=False) as tracking, TasksExtractor(static=False, fallback=False) as plain:
        assert plain.extract(frame) is None  # the face detector alone loses it at this size
        found = [tracking.extract(frame) for _ in range(3)]
    assert all(lm is not None and lm.detector == "tasks-crop" for lm in found)
    centre = found[-1].face[:, :2].mean(axis=0) * np.array([640, 480])
    assert np.abs(centre - [cx, cy]).max() < 12  # mapped back onto the face, in pixels of the frame
    assert found[-1].face.shape == (468, 3) and found[-1].image_size == (640, 480)


@pytest.mark.slow
def test_tracking_mode_and_close_are_safe(sergey) -> None:
    extractor = TasksExtractor(static=False)
    try:
        found = [extractor.extract(sergey) for _ in range(3)]
    finally:
        extractor.close()
    extractor.close()
    assert all(lm is not None and lm.detector == "tasks" for lm in found)
    with pytest.raises(LandmarkError, match="closed"):
        extractor.extract(sergey)
