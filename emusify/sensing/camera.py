"""Frame sources (webcam, video file, image folder), single stills and the preview window.

The only module that imports OpenCV. Every source is a context manager with an idempotent close();
``read()`` returns None when the source has ended (end of file, last image, camera stopped).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

# OpenCV prints its own V4L2/obsensor warnings when a webcam index is missing; Emusify says it
# in one line instead. Must be set before cv2 is imported.
os.environ.setdefault("OPENCV_LOG_LEVEL", "FATAL")

import cv2  # noqa: E402
import numpy as np

from emusify.errors import CameraError
from emusify.sensing.playhead import Cursor, Playhead, VirtualClock

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
WEBCAM_SIZE = (640, 480)
SOURCE_HINT = "pass --source 0 (webcam), --source VIDEO_FILE or --source IMAGE_DIR"


class Frame(NamedTuple):
    """One image from a source."""

    image: np.ndarray  # BGR uint8, H x W x 3
    timestamp: float  # seconds since the source opened (video: position in the file)
    index: int  # 0, 1, 2, ... in the order read
    name: str | None  # file name for image folders and video files, None for a webcam


def read_image(path: Path | str) -> np.ndarray | None:
    """A still image as BGR uint8 (H x W x 3), or None when it cannot be decoded.

    Reads through numpy so non-ASCII paths work; GIFs (which cv2.imread cannot decode) are read as
    the first frame of a one-frame video.
    """
    path = Path(path)
    image = None
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
        if data.size:
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except (OSError, cv2.error) as exc:
        log.debug("imdecode failed on %s: %s", path, exc)
    if image is None and path.is_file():
        capture = cv2.VideoCapture(str(path))
        try:
            ok, frame = capture.read()
            image = frame if ok else None
        finally:
            capture.release()
    return image


class FrameSource:
    """Base of the sources: a context manager whose read() gives frames until it returns None."""

    is_video: bool = True

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call more than once."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _CaptureSource(FrameSource):
    """A source read through an OpenCV VideoCapture; counts the frames it hands out."""

    _capture: Any = None
    _count: int = 0

    def _frame(self, image: np.ndarray, seconds: float, name: str | None) -> Frame:
        frame = Frame(image, seconds, self._count, name)
        self._count += 1
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class WebcamSource(_CaptureSource):
    """A live camera at 640x480 (as requested; the driver may pick another size)."""

    is_video = True

    def __init__(self, index: int) -> None:
        self.index, self._count = index, 0
        self._capture: Any = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"no camera at index {index}; connect one or pass --source VIDEO_FILE "
                              f"or --source IMAGE_DIR")
        self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, WEBCAM_SIZE[0])
        self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, WEBCAM_SIZE[1])
        self._start = time.monotonic()

    def read(self) -> Frame | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        if not ok or image is None:
            log.warning("camera %d delivered no frame", self.index)
            return None
        return self._frame(image, time.monotonic() - self._start, None)


class VideoSource(_CaptureSource):
    """A video file standing in for a webcam: it plays on with ``playhead`` across openings.

    Each opening starts where the playhead's clock is and frames come no sooner than their time
    (:mod:`emusify.sensing.playhead`); the video loops at its end unless
    the playhead says not to. Timestamps are seconds played since the playhead started. Without a
    playhead the file is read once from its first frame, as fast as it decodes (benchmarks, tests).
    """

    is_video = True
    DEFAULT_FPS = 30.0

    def __init__(self, path: Path, playhead: Playhead | None = None) -> None:
        self.path, self._count = path, 0
        self._capture: Any = cv2.VideoCapture(str(path))
        first = None
        if self._capture.isOpened():
            ok, first = self._capture.read()
            first = first if ok else None
        if first is None:
            self.close()
            raise CameraError(f"cannot read a frame from video {path}; check the file or {SOURCE_HINT}")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (np.isfinite(fps) and 1.0 <= fps <= 1000.0):
            log.warning("%s has no usable frame rate (%r); assuming %g fps", path.name, fps, self.DEFAULT_FPS)
            fps = self.DEFAULT_FPS
        self.fps = fps
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._pending: np.ndarray | None = first  # frame 0, already decoded
        playhead = playhead if playhead is not None else Playhead(VirtualClock(), loop=False, tell_end=False)
        self._at = Cursor(playhead, fps, self.frame_count, path.name)
        if not self._go(self._at.playhead.elapsed()):
            self._end()

    def read(self) -> Frame | None:
        at = self._at
        while self._capture is not None:
            at.playhead.wait(at.due())  # a slower reader gets every frame: the next opening catches up
            image, self._pending = self._pending, None
            if image is None:
                ok, image = self._capture.read()
                image = image if ok else None
            if image is not None:
                frame = self._frame(image, at.due(), self.path.name)
                at.next += 1
                return frame
            if not at.lap_over():
                break
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._end()
        return None

    def _go(self, played: float) -> bool:
        """Go to the frame playing at ``played`` s; False past the end of a video that does not loop."""
        move = self._at.move(played)
        if move is None:
            return False
        grabs = move.grab
        if self._pending is not None and (grabs or move.seek is not None):  # frame 0 is read already
            self._pending, grabs = None, max(grabs - 1, 0)
        if move.seek is not None:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, move.seek)
        for _ in range(grabs):
            if not self._capture.grab():
                break
        return True

    def _end(self) -> None:
        if self._capture is not None:
            self._at.ended()
        self.close()

    def close(self) -> None:
        super().close()
        self._pending = None


class ImageFolderSource(FrameSource):
    """The images of a folder and its subfolders, sorted by relative path; bad files are skipped.

    Attributes:
        skipped: image files that could not be decoded so far (each logged as a warning).
    """

    is_video = False

    def __init__(self, root: Path, paths: list[Path] | None = None) -> None:
        self.root = root
        if paths is None:
            paths = sorted((p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                           key=lambda p: p.relative_to(root).as_posix())
        if not paths:
            raise CameraError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {root}; {SOURCE_HINT}")
        self._paths, self._next, self._count, self.skipped = paths, 0, 0, 0
        self._start = time.monotonic()

    def read(self) -> Frame | None:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            image = read_image(path)
            if image is None:
                self.skipped += 1
                log.warning("skipped %s: not a readable image", path)
                continue
            name = path.name if path == self.root else path.relative_to(self.root).as_posix()
            frame = Frame(image, time.monotonic() - self._start, self._count, name)
            self._count += 1
            return frame
        return None

    def close(self) -> None:
        self._next = len(self._paths)


def open_source(spec: str, playhead: Playhead | None = None) -> FrameSource:
    """The frame source ``spec`` names: a webcam index ("0"), a video file, an image folder or one image.

    A video plays on with ``playhead`` (share one between openings so that windows see it move on
    in time, as a webcam would); without one it is read once, as fast as it decodes.

    Raises:
        CameraError: no such camera or path, an unreadable video, or a folder without images.
    """
    spec = str(spec).strip()
    if spec.isdigit():
        return WebcamSource(int(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageFolderSource(path, [path])
        return VideoSource(path, playhead)
    raise CameraError(f"no such camera, file or folder: {spec!r}; {SOURCE_HINT}")


class PreviewWindow:
    """A window showing the camera with face landmarks and text; a context manager.

    Raises:
        CameraError: no display to open a window on (use --no-preview).
    """

    TITLE = "emusify"

    def __init__(self, title: str = TITLE) -> None:
        self.title, self._open = title, False
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                     or os.environ.get("WAYLAND_DISPLAY")):
            # OpenCV's Qt backend aborts the whole process without a display, so check first.
            raise CameraError("no display for the preview window; run without it "
                              "(--no-preview for collect.py, no --preview for run.py)")

    def show(self, image: np.ndarray, landmarks: Any,
             lines: list[str] | dict[str, float] | None) -> str | None:
        """Draw and show one frame; the key pressed meanwhile ("q", "esc", " ", ...) or None.

        ``lines`` are text lines, or a {label: probability} dict shown one label per line.
        """
        canvas = draw(image, landmarks, _text_lines(lines))
        try:
            cv2.imshow(self.title, canvas)
            self._open = True
            code = cv2.waitKey(1)
        except cv2.error as exc:
            raise CameraError(f"cannot show the preview window ({str(exc).strip()}); "
                              f"run with --no-preview (collect.py) or without --preview (run.py)") from exc
        return key_name(code)

    def close(self) -> None:
        """Close the window; safe to call more than once."""
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error as exc:
                log.debug("closing the preview window: %s", exc)

    def __enter__(self) -> PreviewWindow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def key_name(code: int) -> str | None:
    """cv2.waitKey's code as a key name: "esc", the character, or None for no key."""
    if code is None or code < 0:
        return None
    code &= 0xFF
    if code == 27:
        return "esc"
    return chr(code) if 32 <= code < 127 else None


def _text_lines(lines: list[str] | dict[str, float] | None) -> list[str]:
    if lines is None:
        return []
    if isinstance(lines, dict):
        return [f"{label:<9} {prob:4.0%}" for label, prob in sorted(lines.items(), key=lambda kv: -kv[1])]
    return [str(line) for line in lines if line]


def draw(image: np.ndarray, landmarks: Any, lines: list[str]) -> np.ndarray:
    """A copy of ``image`` with the face landmarks as small dots and ``lines`` of text at the top left."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    if landmarks is not None:
        for x, y in np.asarray(landmarks.face)[:, :2]:
            if 0 <= x < 1 and 0 <= y < 1:
                cv2.circle(canvas, (int(x * width), int(y * height)), 1, (0, 255, 0), -1, cv2.LINE_AA)
    for row, text in enumerate(lines):
        origin = (10, 24 + 24 * row)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(canvas, text, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas
