"""The holistic backend on sergey.png (Apache-2.0, from MediaPipe's repo): real MediaPipe, so marked slow.

Its tests skip where mediapipe has no ``solutions`` (mediapipe 1.2.x, Python 3.13+); the tasks backend
is tested in test_tasks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emusify.sensing.landmarks import Landmarks, prepare, resize_bilinear

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "sergey.png"




@pytest.fixture(scope="module")
def need_holistic() -> None:
    """Skip where mediapipe has no solutions (mediapipe 1.2.x on Python 3.13+)."""
    from emusify.sensing.landmarks import holistic_importable

    if not holistic_importable():
        pytest.skip("this mediapipe has no solutions (Holistic): the Python 3.13+ stack")


@pytest.fixture(scope="module")
def sergey() -> np.ndarray:
    from emusify.sensing.camera import read_image

    image = read_image(FIXTURE)
    assert image is not None and image.shape == (600, 600, 3)
    return image


@pytest.fixture(scope="module")
def extractor(need_holistic):
    from emusify.sensing.landmarks.holistic import HolisticExtractor

    with HolisticExtractor(static=True) as extractor:
        yield extractor


def test_importing_landmarks_does_not_load_mediapipe() -> None:
    assert Landmarks._fields == ("face", "pose", "left_hand", "right_hand", "image_size", "detector",
                                 "blendshapes")
    old_style = Landmarks(np.zeros((468, 3), np.float32), None, None, None, (4, 3), "holistic")
    assert old_style.blendshapes is None  # records made before blendshapes keep working
    if "mediapipe" not in sys.modules:  # other tests in this session may have loaded it already
        import emusify.sensing.landmarks  # noqa: F401

        assert "mediapipe" not in sys.modules


def test_small_images_are_upscaled_and_padding_is_mapped_back() -> None:
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[..., 0] = 200  # blue in BGR
    prep = prepare(image)
    assert prep.rgb.shape == (256, 341, 3) and prep.rgb.flags.c_contiguous
    assert prep.rgb[..., 2].min() == 200 and prep.rgb[..., 0].max() == 0  # BGR -> RGB
    padded = prepare(np.full((300, 200, 3), 9, dtype=np.uint8), pad=0.25)
    assert padded.rgb.shape == (450, 350, 3) and padded.offset == (75.0, 75.0)
    assert padded.rgb[0, 0].tolist() == [9, 9, 9]  # border in the image's median grey
    ramp = np.tile(np.arange(0, 250, 50, dtype=np.uint8)[None, :, None], (2, 1, 3))
    row = resize_bilinear(ramp, 10, 4)[0, :, 0].astype(int).tolist()
    assert row == [0, 12, 38, 62, 88, 112, 138, 162, 188, 200]  # pixel centres, round half to even


@pytest.mark.slow
@pytest.mark.usefixtures("need_holistic")
def test_a_face_gives_468_points_in_the_image(extractor, sergey) -> None:
    lm = extractor.extract(sergey)
    assert lm is not None and lm.detector == "holistic"
    assert lm.face.shape == (468, 3) and lm.face.dtype == np.float32
    assert lm.image_size == (600, 600)
    assert lm.pose is not None and lm.pose.shape == (33, 4)
    x, y = lm.face[:, 0], lm.face[:, 1]
    assert 0.15 < x.min() < x.max() < 0.85 and 0.15 < y.min() < y.max() < 0.95
    # the nose tip (4) lies between the eye corners (33, 263) and above the chin (152)
    assert x[33] < x[4] < x[263] and y[4] < y[152]


@pytest.mark.slow
@pytest.mark.usefixtures("need_holistic")
def test_a_blank_image_gives_none(extractor) -> None:
    assert extractor.extract(np.full((480, 640, 3), 127, dtype=np.uint8)) is None


class _BlindHolistic:
    """Stands in for Holistic missing the face (real misses on sergey.png crops are not reproducible)."""

    def process(self, rgb: np.ndarray) -> SimpleNamespace:
        return SimpleNamespace(face_landmarks=None, pose_landmarks=None, left_hand_landmarks=None,
                               right_hand_landmarks=None)

    def close(self) -> None:
        pass


@pytest.mark.slow
@pytest.mark.usefixtures("need_holistic")
@pytest.mark.parametrize(("static", "pad"), [(True, 0.0), (True, 0.5), (False, 0.5)])
def test_facemesh_takes_over_when_holistic_misses(extractor, sergey, static: bool, pad: float) -> None:
    from emusify.sensing.landmarks.holistic import HolisticExtractor as LandmarkExtractor

    holistic = extractor.extract(sergey)
    with LandmarkExtractor(static=static, pad=pad) as fallback:
        fallback._holistic.close()
        fallback._holistic = _BlindHolistic()
        lm = fallback.extract(sergey)
    assert lm is not None and lm.detector == "facemesh"
    assert lm.pose is None and lm.left_hand is None and lm.right_hand is None
    assert lm.face.shape == (468, 3) and lm.image_size == (600, 600)
    # same topology and, after undoing the border, the same place as Holistic's face
    assert np.abs(lm.face[:, :2] - holistic.face[:, :2]).max() < 0.03


@pytest.mark.slow
@pytest.mark.usefixtures("need_holistic")
def test_without_fallback_a_holistic_miss_is_none(sergey) -> None:
    from emusify.sensing.landmarks.holistic import HolisticExtractor as LandmarkExtractor

    with LandmarkExtractor(static=True, fallback=False) as holistic_only:
        holistic_only._holistic.close()
        holistic_only._holistic = _BlindHolistic()
        assert holistic_only.extract(sergey) is None


@pytest.mark.slow
@pytest.mark.usefixtures("need_holistic")
def test_an_upscaled_small_face_lands_on_the_same_points(extractor, sergey) -> None:
    full = extractor.extract(sergey)
    small = extractor.extract(np.ascontiguousarray(sergey[::5, ::5]))  # 120 x 120: upscaled to 256
    assert small is not None and small.image_size == (120, 120)
    assert np.abs(small.face[:, :2] - full.face[:, :2]).max() < 0.03


@pytest.mark.slow
@pytest.mark.usefixtures("need_holistic")
def test_tracking_mode_and_close_are_safe(sergey) -> None:
    from emusify.errors import LandmarkError
    from emusify.sensing.landmarks.holistic import HolisticExtractor as LandmarkExtractor

    extractor = LandmarkExtractor(static=False)
    try:
        found = [extractor.extract(sergey) for _ in range(3)]
    finally:
        extractor.close()
    extractor.close()
    assert all(lm is not None and lm.detector == "holistic" for lm in found)
    with pytest.raises(LandmarkError, match="closed"):
        extractor.extract(sergey)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["holistic", "tasks"])
def test_native_warnings_of_a_graphs_first_frame_stay_out_of_the_terminal(backend: str):
    """MediaPipe's C++ absl warnings go to fd 2 directly; run a child so its fd 2 can be read."""
    from emusify.sensing.landmarks import holistic_importable

    if backend == "holistic" and not holistic_importable():
        pytest.skip("this mediapipe has no solutions (Holistic): the Python 3.13+ stack")
    script = (
        "import os, cv2\n"
        "os.environ.pop('GLOG_minloglevel', None)\n"
        "from emusify.sensing.landmarks import open_extractor\n"
        f"image = cv2.imread({str(FIXTURE)!r})\n"
        f"with open_extractor({backend!r}) as ex:\n"
        "    assert ex.extract(image) is not None and ex.extract(image) is not None\n"
        "print('done')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GLOG_minloglevel"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    assert "W0000" not in done.stderr and "XNNPACK" not in done.stderr, done.stderr
    assert done.stderr.strip() == "", done.stderr
