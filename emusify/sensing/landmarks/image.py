"""The images the landmark backends analyse, and mapping their points back (numpy only).

Preparation before detection (coordinates are mapped back, so callers never see it):

* Small images (shorter side < ``MIN_SIDE`` = 192 px, e.g. the 48x48 crops of ckplus48 and
  fer2013_sample) are upscaled bilinearly so the shorter side is ``UPSCALE_TO`` = 256 px.
* A still may be given a border of ``pad`` times its longer side in its median grey: on tight face
  crops the face detectors of FaceMesh and of the Tasks FaceLandmarker find more faces with room
  around them.
* The Tasks backend also cuts a square around a far head and upscales it (:func:`crop_square`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MIN_SIDE = 192
UPSCALE_TO = 256


class Prepared(NamedTuple):
    """What a backend sees, and where the caller's image lies in it."""

    rgb: np.ndarray  # contiguous RGB uint8, what MediaPipe sees
    offset: tuple[float, float]  # (left, top) of the original image inside ``rgb``, in pixels of ``rgb``
    size: tuple[float, float]  # (width, height) of the original image, in pixels of ``rgb``


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


def _three_channels(image_bgr: np.ndarray) -> np.ndarray:
    image = image_bgr
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return image[:, :, :3]


def prepare(image_bgr: np.ndarray, pad: float = 0.0) -> Prepared:
    """The RGB image MediaPipe analyses: upscaled when small, optionally padded with a median-grey border."""
    image = _three_channels(image_bgr)
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
    return Prepared(rgb, (float(left), float(top)), (float(width), float(height)))


def crop_square(image_bgr: np.ndarray, centre: tuple[float, float], side: float, out: int) -> Prepared:
    """A ``side`` x ``side`` square of ``image_bgr`` around ``centre`` (pixels), resized to ``out`` px.

    Parts of the square outside the image are filled with the image's median grey. The result maps
    back like a padded image: ``offset`` and ``size`` place the whole image in the crop's pixels.
    """
    image = _three_channels(image_bgr)
    height, width = image.shape[:2]
    side_px = max(8, round(side))
    left, top = round(centre[0] - side_px / 2), round(centre[1] - side_px / 2)
    square = np.full((side_px, side_px, 3), int(np.median(image[::8, ::8])), dtype=np.uint8)
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + side_px, width), min(top + side_px, height)
    if x1 > x0 and y1 > y0:
        square[y0 - top:y1 - top, x0 - left:x1 - left] = image[y0:y1, x0:x1]
    scale = out / side_px
    rgb = np.ascontiguousarray(resize_bilinear(square, out, out)[..., ::-1])
    return Prepared(rgb, (-left * scale, -top * scale), (width * scale, height * scale))


def to_image_coordinates(points: np.ndarray, prep: Prepared) -> np.ndarray:
    """Rows of x, y, z normalized by ``prep.rgb``'s width and height -> normalized by the original image."""
    full_h, full_w = prep.rgb.shape[:2]
    (left, top), (width, height) = prep.offset, prep.size
    if (full_w, full_h) != (width, height) or left or top:
        points = points.copy()
        points[:, 0] = (points[:, 0] * full_w - left) / width
        points[:, 1] = (points[:, 1] * full_h - top) / height
        points[:, 2] = points[:, 2] * full_w / width
    return points
