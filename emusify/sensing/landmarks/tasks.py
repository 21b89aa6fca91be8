"""The tasks backend: MediaPipe's Tasks API (FaceLandmarker with blendshapes, PoseLandmarker).

The only landmark API of mediapipe 1.2.x (Python 3.13+); mediapipe 0.10.21 has it too. Its models are
``.task`` files that are not in the wheel: they ship in ``models/mediapipe/`` (see NOTICE there) and
are opened by path, so nothing is downloaded.

The FaceLandmarker's face detector loses faces below ~56 px wide at 640x480, where Holistic still
finds them through the body. So when it finds no face, this backend finds the head another way and
runs the FaceLandmarker (IMAGE mode) on a square crop around it, upscaled to ``CROP_PX``:

1. around the face found through a crop in the previous frame (video only; cheap, no pose), else
2. around the head keypoints of the PoseLandmarker.

The pose model runs only when the face is lost, which keeps the usual frame at one FaceLandmarker
call (benchmarks/runner.py measures the cost, benchmarks/detection.py the distances).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from emusify.errors import LandmarkError
from emusify.sensing.landmarks import FACE_POINTS, Landmarks, native_stderr_silenced, quiet_requested
from emusify.sensing.landmarks.image import Prepared, crop_square, prepare, to_image_coordinates

MODELS_DIR = Path(__file__).resolve().parents[3] / "models" / "mediapipe"
FACE_MODEL = ("face_landmarker.task", "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff")
POSE_MODEL = ("pose_landmarker_full.task", "4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad")
FALLBACK_PAD = 0.5  # border around a still before the second try, as for Holistic's FaceMesh fallback
CROP_PX = 256  # side of the upscaled head crop
CROP_SCALE = 2.5  # crop side in face widths: the face fills ~40% of the crop, as near faces fill a frame
HEAD_POINTS = slice(0, 11)  # pose keypoints of the head: nose, eyes, ears, mouth
SHOULDERS = (11, 12)
TILE = 0.4  # tile side as a fraction of the longer image side: a 42 px face fills ~16% of a tile
TILE_EVERY = 4  # video: search the tiles on every 4th frame without a face (once a second at 4 fps)


def model_path(model: tuple[str, str], folder: Path = MODELS_DIR) -> Path:
    """The checked path of a shipped ``.task`` file.

    Raises:
        LandmarkError: the file is missing or not the one shipped (its sha256 differs).
    """
    path = folder / model[0]
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        digest = None
    if digest != model[1]:
        state = "missing" if digest is None else "damaged"
        raise LandmarkError(f"the MediaPipe model {path} is {state}; restore it with "
                            "`python models/mediapipe/fetch.py` (or `git checkout models/mediapipe`)")
    return path


class TasksExtractor:
    """Landmarks of the one face in each image through the Tasks API; a context manager.

    Open it through :func:`emusify.sensing.landmarks.open_extractor`, which picks the backend.

    Args:
        static: True for independent stills (IMAGE mode), False for a video stream (VIDEO mode:
            the FaceLandmarker tracks the face between frames).
        fallback: find faces the FaceLandmarker misses through the pose (and, for stills, a padded
            second try). False runs the FaceLandmarker alone.
        pad: border around a still for its second try, as a fraction of the longer side.
        models_dir: where the ``.task`` files are.
    Raises:
        LandmarkError: a model file is missing or damaged, or MediaPipe cannot start.
    """

    backend = "tasks"

    def __init__(self, static: bool = False, fallback: bool = True, *, pad: float = FALLBACK_PAD,
                 models_dir: Path = MODELS_DIR, use_pose: bool = True) -> None:
        self.static, self.fallback = static, fallback
        self.pad = pad if static and fallback else 0.0
        self._graphs: dict[str, Any] = {}
        self._closed = False
        self._warmed: set[str] = set()
        self._box: tuple[float, float, float] | None = None  # last crop face: centre x, y, width (px)
        self._clock_ms = 0
        self._lost = 0  # frames in a row without a face, for TILE_EVERY
        self.use_pose = use_pose
        self._quiet = quiet_requested()
        face = model_path(FACE_MODEL, models_dir)
        pose = model_path(POSE_MODEL, models_dir) if fallback and use_pose else None
        try:
            with native_stderr_silenced() if self._quiet else contextlib.nullcontext():
                self._start(face, pose)
        except Exception as exc:  # noqa: BLE001 - any start-up failure means the same to the user
            self.close()
            raise LandmarkError(f"MediaPipe's Tasks API could not start ({exc}); reinstall with "
                                "`pip install -e .` in the project's venv") from exc

    def _start(self, face: Path, pose: Path | None) -> None:
        _no_usage_logs()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        image_mode, video_mode = vision.RunningMode.IMAGE, vision.RunningMode.VIDEO

        def face_graph(mode: Any) -> Any:
            return vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=str(face)), running_mode=mode, num_faces=1,
                output_face_blendshapes=True))

        self._graphs["face"] = face_graph(image_mode if self.static else video_mode)
        # The crop and pose graphs start when a face is first lost: near faces never pay their memory.
        self._makers: dict[str, Any] = {"crop": lambda: (self._graphs["face"] if self.static
                                                         else face_graph(image_mode))}
        if pose is not None:
            self._makers["pose"] = lambda: vision.PoseLandmarker.create_from_options(
                vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(pose)),
                                             running_mode=image_mode, num_poses=1))
        self._run("face", np.full((64, 64, 3), 128, np.uint8))  # models open on first use: let them log now

    def _graph(self, name: str) -> Any:
        """The graph ``name``, started (quietly) the first time it is needed."""
        if name not in self._graphs:
            try:
                with native_stderr_silenced() if self._quiet else contextlib.nullcontext():
                    self._graphs[name] = self._makers[name]()
            except Exception as exc:  # noqa: BLE001 - as at start-up
                raise LandmarkError(f"MediaPipe's Tasks API could not start its {name} model ({exc}); "
                                    "reinstall with `pip install -e .` in the project's venv") from exc
        return self._graphs[name]

    def extract(self, image_bgr: np.ndarray) -> Landmarks | None:
        """The landmarks of the face in ``image_bgr`` (H x W x 3 uint8, BGR), or None when there is none."""
        if self._closed:
            raise LandmarkError("the landmark extractor is closed; create a new one")
        if image_bgr is None or image_bgr.size == 0:
            return None
        size = (int(image_bgr.shape[1]), int(image_bgr.shape[0]))
        prep = prepare(image_bgr)
        found = self._face(self._run("face", prep.rgb), prep, size, "tasks")
        if found is None and self.pad:
            padded = prepare(image_bgr, self.pad)
            found = self._face(self._run("face", padded.rgb), padded, size, "tasks")
        if found is not None or not self.fallback:
            self._box, self._lost = None, 0
            return found
        return self._through_crop(image_bgr, size)

    def _through_crop(self, image_bgr: np.ndarray, size: tuple[int, int]) -> Landmarks | None:
        """A face too small for the face detector: cut out the head, upscale it, look again."""
        if self._box is not None and not self.static:
            found = self._crop_face(image_bgr, self._box, size, None)
            if found is not None:
                return found
        self._box = None
        if self.use_pose:
            found = self._through_pose(image_bgr, size)
            if found is not None:
                return found
        return self._through_tiles(image_bgr, size)

    def _through_pose(self, image_bgr: np.ndarray, size: tuple[int, int]) -> Landmarks | None:
        pose_prep = prepare(image_bgr)
        result = self._run("pose", pose_prep.rgb)
        if not result.pose_landmarks:
            return None
        rows = [(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks[0]]
        pose = np.array(rows, dtype=np.float32)
        pose[:, :3] = to_image_coordinates(pose[:, :3], pose_prep)
        return self._crop_face(image_bgr, head_box(pose, size), size, pose)

    def _through_tiles(self, image_bgr: np.ndarray, size: tuple[int, int]) -> Landmarks | None:
        """Look for a face in overlapping squares of the image (a far face, with no body in view)."""
        self._lost += 1
        if not self.static and (self._lost - 1) % TILE_EVERY:
            return None
        side = TILE * max(size)
        for cy in _tile_centres(size[1], side):
            for cx in _tile_centres(size[0], side):
                crop = crop_square(image_bgr, (cx, cy), side, CROP_PX)
                found = self._face(self._run("crop", crop.rgb), crop, size, "tasks-crop")
                if found is not None:
                    self._lost = 0
                    self._remember(found, size)
                    return found
        return None

    def _crop_face(self, image_bgr: np.ndarray, box: tuple[float, float, float], size: tuple[int, int],
                   pose: np.ndarray | None) -> Landmarks | None:
        crop = crop_square(image_bgr, (box[0], box[1]), CROP_SCALE * box[2], CROP_PX)
        found = self._face(self._run("crop", crop.rgb), crop, size, "tasks-crop", pose)
        if found is not None:
            self._remember(found, size)
        return found

    def _remember(self, found: Landmarks, size: tuple[int, int]) -> None:
        """Keep the face's centre and width: the next frame looks there first."""
        face_px = found.face[:, :2] * np.array(size, np.float32)
        low, high = face_px.min(axis=0), face_px.max(axis=0)
        centre = (low + high) / 2
        self._box = (float(centre[0]), float(centre[1]), float(max(high - low)))

    @staticmethod
    def _face(result: Any, prep: Prepared, size: tuple[int, int], detector: str,
              pose: np.ndarray | None = None) -> Landmarks | None:
        if not result.face_landmarks:
            return None
        points = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[0][:FACE_POINTS]], np.float32)
        shapes = None
        if result.face_blendshapes:
            shapes = np.array([c.score for c in result.face_blendshapes[0]], np.float32)
        return Landmarks(to_image_coordinates(points, prep), pose, None, None, size, detector, shapes)

    def _run(self, name: str, rgb: np.ndarray) -> Any:
        """One graph on one RGB image; native stderr silenced until the graph has found something once."""
        graph = self._graph(name)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if name == "face" and not self.static:
            self._clock_ms = max(self._clock_ms + 1, int(time.monotonic() * 1000))
            call = partial(graph.detect_for_video, image, self._clock_ms)
        else:
            call = partial(graph.detect, image)
        if name in self._warmed or not self._quiet:
            return call()
        with native_stderr_silenced():
            result = call()
        if getattr(result, "face_landmarks", None) or getattr(result, "pose_landmarks", None):
            self._warmed.add(name)
        return result

    def close(self) -> None:
        """Release the MediaPipe graphs; safe to call more than once."""
        self._closed = True
        graphs = list({id(g): g for g in self._graphs.values()}.values())
        self._graphs = {}
        # mediapipe 1.2.x logs each graph's teardown ("DestroyAccelerator") on fd 2
        with native_stderr_silenced() if graphs and self._quiet else contextlib.nullcontext():
            for graph in graphs:
                with contextlib.suppress(Exception):
                    graph.close()

    def __enter__(self) -> TasksExtractor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _tile_centres(length: int, side: float) -> list[float]:
    """Centres of squares of ``side`` that cover ``length`` pixels with at least a quarter overlap."""
    if side >= length:
        return [length / 2]
    count = int(np.ceil((length - side) / (0.75 * side))) + 1
    return [side / 2 + i * (length - side) / (count - 1) for i in range(count)]


def head_box(pose: np.ndarray, size: tuple[int, int]) -> tuple[float, float, float]:
    """Centre (x, y) and width of the face in pixels, from the pose's head and shoulder keypoints."""
    scale = np.array(size, np.float32)
    head = pose[HEAD_POINTS, :2] * scale
    centre = head.mean(axis=0)
    extent = head.max(axis=0) - head.min(axis=0)
    shoulders = float(np.linalg.norm((pose[SHOULDERS[0], :2] - pose[SHOULDERS[1], :2]) * scale))
    # ear to ear is about a face width; eyes to mouth about 0.4 of a face height; shoulders ~2.5 faces
    width = max(float(extent[0]), 2.0 * float(extent[1]), 0.4 * shoulders)
    return float(centre[0]), float(centre[1]), width


# mediapipe 1.x's native library posts usage logs to Google (play.googleapis.com/log, through libcurl)
# from a thread of its own; no option turns it off (docs/results/faults.md). libcurl honours the proxy
# variables, so pointing them at a closed loopback port keeps everything on the machine, as promised.
_NOWHERE = "http://127.0.0.1:9"


def _no_usage_logs() -> None:
    """Send the Tasks library's own HTTP through a proxy that does not exist (before it loads)."""
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ[name] = _NOWHERE
    for name in ("no_proxy", "NO_PROXY"):  # a bypass list could let the logs around the proxy
        os.environ.pop(name, None)
