"""The holistic backend: MediaPipe Holistic from ``mediapipe.solutions``, with FaceMesh as a fallback.

Only mediapipe 0.10.21 and older have ``mediapipe.solutions`` (Python <= 3.12). Holistic runs on the
image unpadded (padding made it miss more); the FaceMesh fallback for stills sees it with a border of
``FALLBACK_PAD`` (half the longer side) in its median grey: on tight face crops FaceMesh finds more
faces with room around them (100 images each, Holistic then FaceMesh: fer2013_sample 89% unpadded ->
98% padded, muxspace 94% -> 96%, ckplus48 100% either way).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from emusify.errors import LandmarkError
from emusify.sensing.landmarks import FACE_POINTS, Landmarks, native_stderr_silenced, quiet_requested
from emusify.sensing.landmarks.image import Prepared, prepare, to_image_coordinates

FALLBACK_PAD = 0.5


def _points(landmark_list: Any, prep: Prepared, visibility: bool = False) -> np.ndarray | None:
    """MediaPipe's landmark list as float32 rows, normalized back to the original image."""
    if landmark_list is None:
        return None
    rows = [(p.x, p.y, p.z, p.visibility) if visibility else (p.x, p.y, p.z) for p in landmark_list.landmark]
    return to_image_coordinates(np.array(rows, dtype=np.float32), prep)


class HolisticExtractor:
    """Landmarks of the one face (and body) in each image; a context manager with an idempotent close().

    Open it through :func:`emusify.sensing.landmarks.open_extractor`, which picks the backend.

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

    backend = "holistic"

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
        self._quiet = quiet_requested()
        try:
            from mediapipe.python.solutions import face_mesh
            from mediapipe.python.solutions import holistic as mp_holistic

            with native_stderr_silenced() if self._quiet else contextlib.nullcontext():
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
        with native_stderr_silenced():
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

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
