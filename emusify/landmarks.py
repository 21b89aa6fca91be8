"""Face, pose and hand landmarks from MediaPipe Holistic, with FaceMesh as a fallback.

The only module that imports mediapipe, and only when an extractor is built, so importing
:class:`Landmarks` (as features, dataset and model do) stays cheap.

Preparation before detection (coordinates are mapped back, so callers never see it):

* Small images (shorter side < ``MIN_SIDE`` = 192 px, e.g. the 48x48 crops of ckplus48 and
  fer2013_sample) are upscaled bilinearly so the shorter side is ``UPSCALE_TO`` = 256 px.
* The FaceMesh fallback for stills sees the image with a border of ``FALLBACK_PAD`` (half the longer
  side) in its median grey: on tight face crops FaceMesh finds more faces with room around them
  (100 images each, Holistic then FaceMesh: fer2013_sample 89% unpadded -> 98% padded, muxspace
  94% -> 96%, ckplus48 100% either way). Holistic itself runs unpadded: padding made it miss more.

The returned x and y are normalized by the width and height of the image passed to
:meth:`LandmarkExtractor.extract`, z by its width, and ``image_size`` is that image's (width, height).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, Iterator, NamedTuple

import numpy as np

from emusify.errors import LandmarkError

log = logging.getLogger(__name__)

MIN_SIDE = 192
UPSCALE_TO = 256
FALLBACK_PAD = 0.5
FACE_POINTS = 468


class Landmarks(NamedTuple):
    """What MediaPipe found in one image; see docs/DESIGN.md."""

    face: np.ndarray  # (468, 3) float32: x, y normalized by width, height; z by width
    pose: np.ndarray | None  # (33, 4) float32: x, y, z, visibility; None with the FaceMesh fallback
    left_hand: np.ndarray | None  # (21, 3) float32
    right_hand: np.ndarray | None  # (21, 3) float32
    image_size: tuple[int, int]  # (width, height) of the image given to extract()
    detector: str  # "holistic" or "facemesh"


def resize_bilinear(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (H x W x C uint8) resized to ``width`` x ``height`` bilinearly (numpy only)."""
    src_h, src_w = image.shape[:2]
    ys = np.clip((np.arange(height) + 0.5) * src_h / height - 0.5, 0, src_h - 1)
    xs = np.clip((np.arange(width) + 0.5) * src_w / width - 0.5, 0, src_w - 1)
    y0, x0 = ys.astype(int), xs.astype(int)
    y1, x1 = np.minimum(y0 + 1, src_h - 1), np.minimum(x0 + 1, src_w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return np.rint(top * (1 - wy) + bottom * wy).astype(np.uint8)


class _Prepared(NamedTuple):
    rgb: np.ndarray  # contiguous RGB uint8, what MediaPipe sees
    offset: tuple[float, float]  # (left, top) of the original image inside ``rgb``, in pixels of ``rgb``
    size: tuple[float, float]  # (width, height) of the original image, in pixels of ``rgb``


def prepare(image_bgr: np.ndarray, pad: float = 0.0) -> _Prepared:
    """The RGB image MediaPipe analyses: upscaled when small, optionally padded with a median-grey border."""
    image = image_bgr
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = image[:, :, :3]
    height, width = image.shape[:2]
    if min(width, height) < MIN_SIDE:
        factor = UPSCALE_TO / min(width, height)
        width, height = round(width * factor), round(height * factor)
        image = resize_bilinear(image, width, height)
    left = top = 0
    if pad > 0:
        border = round(pad * max(width, height))
        fill = int(np.median(image))
        padded = np.full((height + 2 * border, width + 2 * border, 3), fill, dtype=np.uint8)
        padded[border:border + height, border:border + width] = image
        image, left, top = padded, border, border
    rgb = np.ascontiguousarray(image[..., ::-1])
    return _Prepared(rgb, (float(left), float(top)), (float(width), float(height)))


def _points(landmark_list: Any, prep: _Prepared, visibility: bool = False) -> np.ndarray | None:
    """MediaPipe's landmark list as float32 rows, normalized back to the original image."""
    if landmark_list is None:
        return None
    rows = [(p.x, p.y, p.z, p.visibility) if visibility else (p.x, p.y, p.z) for p in landmark_list.landmark]
    points = np.array(rows, dtype=np.float32)
    full_h, full_w = prep.rgb.shape[:2]
    (left, top), (width, height) = prep.offset, prep.size
    if (full_w, full_h) != (width, height):
        points[:, 0] = (points[:, 0] * full_w - left) / width
        points[:, 1] = (points[:, 1] * full_h - top) / height
        points[:, 2] = points[:, 2] * full_w / width
    return points


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 points at the null device for the duration (C++ writes go there too)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (e.g. a GUI launcher): nothing to silence
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.close(null)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LandmarkExtractor:
    """Landmarks of the one face (and body) in each image; a context manager with an idempotent close().

    Args:
        static: True for independent stills (every image detected from scratch), False for a video
            stream (Holistic tracks the body between frames; its face output was the same as static).
        fallback: run FaceMesh when Holistic finds no face: tight crops without a body (stills), small
            faces whose body is out of view (video; benchmarks/detection.py: 67% -> 98% at 42 px).
        holistic: False runs FaceMesh alone (no pose or hands); used by the benchmarks.
        pad: border around a still before the FaceMesh fallback, as a fraction of the longer side.
    Raises:
        LandmarkError: MediaPipe cannot be imported or started.
    """

    def __init__(self, static: bool = False, fallback: bool = True, *, holistic: bool = True,
                 pad: float = FALLBACK_PAD) -> None:
        self.static = static
        self.pad = pad if static and holistic else 0.0
        self._holistic: Any = None
        self._facemesh: Any = None
        self._closed = False
        self._warmed: set[int] = set()
        # MediaPipe's C++ side logs through glog/absl to stderr; keep its start-up chatter out of
        # the user's terminal unless they asked for it (an explicit GLOG_minloglevel wins).
        self._quiet = "GLOG_minloglevel" not in os.environ
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            from mediapipe.python.solutions import face_mesh
            from mediapipe.python.solutions import holistic as mp_holistic

            with _native_stderr_silenced() if self._quiet else contextlib.nullcontext():
                self._start(mp_holistic, face_mesh, holistic, fallback)
        except Exception as exc:  # noqa: BLE001 - any start-up failure means the same to the user
            self.close()
            raise LandmarkError(f"MediaPipe could not start ({exc}); reinstall with `pip install "
                                f"mediapipe==0.10.21` in the project's venv") from exc

    def extract(self, image_bgr: np.ndarray) -> Landmarks | None:
        """The landmarks of the face in ``image_bgr`` (H x W x 3 uint8, BGR), or None when there is none."""
        if self._closed:
            raise LandmarkError("the landmark extractor is closed; create a new one")
        if image_bgr is None or image_bgr.size == 0:
            return None
        prep = prepare(image_bgr)
        height, width = image_bgr.shape[:2]
        if self._holistic is not None:
            result = self._process(self._holistic, prep.rgb, lambda r: r.face_landmarks is not None)
            if result.face_landmarks is not None:
                return Landmarks(_points(result.face_landmarks, prep),
                                 _points(result.pose_landmarks, prep, visibility=True),
                                 _points(result.left_hand_landmarks, prep),
                                 _points(result.right_hand_landmarks, prep),
                                 (width, height), "holistic")
        if self._facemesh is None:
            return None
        if self.pad:
            prep = prepare(image_bgr, self.pad)
        result = self._process(self._facemesh, prep.rgb, lambda r: bool(r.multi_face_landmarks))
        faces = result.multi_face_landmarks
        if not faces:
            return None
        face = _points(faces[0], prep)
        return Landmarks(face[:FACE_POINTS], None, None, None, (width, height), "facemesh")

    def _start(self, mp_holistic: Any, face_mesh: Any, holistic: bool, fallback: bool) -> None:
        if holistic:
            self._holistic = mp_holistic.Holistic(
                static_image_mode=self.static, model_complexity=1, refine_face_landmarks=False)
        if not holistic or fallback:
            self._facemesh = face_mesh.FaceMesh(
                static_image_mode=self.static, max_num_faces=1, refine_landmarks=False)
        # The graphs open their models on worker threads, which log while they do: one grey frame
        # through each graph waits for that, while the caller still has stderr silenced.
        grey = np.full((64, 64, 3), 128, np.uint8)
        for graph in (self._holistic, self._facemesh):
            if graph is not None:
                graph.process(grey)

    def _process(self, graph: Any, rgb: np.ndarray, found: Any) -> Any:
        """graph.process(rgb), with native stderr silenced until the graph has found a face once.

        The first face through a graph makes MediaPipe's C++ side print warnings through absl
        ("Using NORM_RECT without IMAGE_DIMENSIONS ...") that GLOG_minloglevel does not reach and
        that mean nothing to a user. An explicit GLOG_minloglevel (set before start) keeps them.
        ``found(result)`` tells whether the result holds a face.
        """
        if id(graph) in self._warmed or not self._quiet:
            return graph.process(rgb)
        with _native_stderr_silenced():
            result = graph.process(rgb)
        if found(result):
            self._warmed.add(id(graph))
        return result

    def close(self) -> None:
        """Release the MediaPipe graphs; safe to call more than once."""
        self._closed = True
        for graph in (self._holistic, self._facemesh):
            if graph is not None:
                graph.close()
        self._holistic = self._facemesh = None

    def __enter__(self) -> LandmarkExtractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
