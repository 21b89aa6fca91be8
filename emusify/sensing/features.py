"""Landmarks -> one normalized feature vector per frame, plus landmark-space augmentation.

Pure numpy. The face is first freed of where it is, how big it is and how it is turned:
translation (centre of rigid anchor points), scale (inter-ocular distance) and the full head
rotation (roll, yaw, pitch: Kabsch fit of rigid anchors onto a canonical frontal face). The vector
then holds the 3-D shape of each expressive region (eyes, brows, lips, cheeks, nose, chin)
relative to its own reference point (layout "face-local-v1", 372 values).

The layout is face-only on purpose: pose and hands are missing from the FaceMesh fallback used for
still images (all the shared labelled sets), so a model could never learn from them, and zero-filling
them would teach it a false "no body" signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from emusify.sensing.landmarks import Landmarks


class FeatureLayout(NamedTuple):
    """Name and length of a feature vector; stored with every recording and model."""

    name: str
    length: int


# The 28 face-mesh points on the midline. The other 440 come in mirror pairs, and mediapipe numbers
# them so that the k-th off-midline index (ascending) pairs with the (k + 220)-th. Derived by matching
# FaceMesh on 19 frontal faces with FaceMesh on their flipped images; it agrees with mediapipe's
# FACEMESH_LEFT_*/RIGHT_* connection sets (see tests).
MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
           94, 151, 152, 164, 168, 175, 195, 197, 199, 200)


def _face_mirror() -> np.ndarray:
    perm = np.arange(468)
    paired = np.setdiff1d(perm, MIDLINE)
    half = len(paired) // 2
    perm[paired[:half]] = paired[half:]
    perm[paired[half:]] = paired[:half]
    return perm


FACE_MIRROR = _face_mirror()
# Pose: 0 is the nose, then (left, right) pairs 1-4, 2-5, 3-6, 7-8, 9-10, ..., 31-32.
POSE_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7] + [i + 1 - 2 * (i % 2 == 0) for i in range(9, 33)])

RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)  # image left
LEFT_EYE = tuple(int(i) for i in FACE_MIRROR[list(RIGHT_EYE)])

# Rigid points (eye corners, nose ridge, forehead, temples) and their place on a canonical frontal face
# (mean of 19 neutral faces, symmetrized), in inter-ocular units, y down, z away from the camera.
ANCHORS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 98, 327, 234, 454, 10, 151, 9, 127, 356)
CANONICAL_ANCHORS = np.array([
    [-0.709, -0.105, 0.112], [-0.272, -0.076, 0.026], [0.272, -0.076, 0.026], [0.709, -0.105, 0.112],
    [0.0, -0.171, -0.227], [0.0, -0.051, -0.293], [0.0, 0.051, -0.372], [0.0, 0.145, -0.456],
    [0.0, 0.245, -0.543], [0.0, 0.367, -0.58], [0.0, 0.46, -0.546], [-0.257, 0.517, -0.18],
    [0.257, 0.517, -0.18], [-1.06, 0.143, 0.974], [1.06, 0.143, 0.974], [0.0, -0.852, -0.167],
    [0.0, -0.631, -0.222], [0.0, -0.415, -0.257], [-1.075, -0.054, 0.9], [1.075, -0.054, 0.9],
])
CANONICAL_ANCHORS -= CANONICAL_ANCHORS.mean(axis=0)

# Regions, each measured from its own reference point (below). Indices are face-mesh points.
_LIPS = (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191,
         267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415)
_RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
_LEFT_BROW = tuple(int(i) for i in FACE_MIRROR[list(_RIGHT_BROW)])
_NOSE_CHEEK_CHIN = (98, 327, 50, 280, 205, 425, 152)  # nose wings, cheeks, chin
_RIGHT_CHEEK = (50, 205, 187, 123, 117, 36, 101, 92, 206)  # cheek and nasolabial fold
_LEFT_CHEEK = tuple(int(i) for i in FACE_MIRROR[list(_RIGHT_CHEEK)])
_GLABELLA = (107, 55, 336, 285, 9, 8)  # inner brows and the skin between them
_NOSE_TIP, _SUBNASALE, _NASION = 1, 2, 168
_MOUTH_CORNERS = (61, 291)

LAYOUT = FeatureLayout("face-local-v1", 3 * (2 * 16 + 2 * 10 + 40 + 1 + 7 + 2 * 9 + 6))


def face_points(lm: Landmarks) -> np.ndarray:
    """The face as (468, 3) float64 in pixels: x, y and z on one isotropic scale (z scales like x)."""
    width, height = lm.image_size
    return np.asarray(lm.face, dtype=np.float64)[:, :3] * np.array([width, height, width], dtype=np.float64)


def _kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The proper rotation R (3x3) that best maps centred ``source`` rows onto ``target``: source @ R.T."""
    u, _, vt = np.linalg.svd(source.T @ target)
    sign = np.sign(np.linalg.det(u @ vt)) or 1.0
    return (u @ np.diag([1.0, 1.0, sign]) @ vt).T


def _roll(points: np.ndarray) -> np.ndarray:
    """The in-plane rotation that makes the eye line horizontal."""
    dx, dy = points[list(LEFT_EYE), :2].mean(axis=0) - points[list(RIGHT_EYE), :2].mean(axis=0)
    angle = -np.arctan2(dy, dx)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def normalize(points: np.ndarray, align: str = "3d") -> np.ndarray:
    """Centre, scale to unit inter-ocular distance and rotate a (468, 3) isotropic face.

    Args:
        points: from :func:`face_points`.
        align: "3d" removes roll, yaw and pitch (Kabsch onto the canonical anchors); "roll" only roll.
    Raises:
        ValueError: the points are not finite or the eyes coincide (no usable face).
    """
    if not np.all(np.isfinite(points)):
        raise ValueError("face landmarks contain NaN or infinity")
    ocular = np.linalg.norm(points[list(LEFT_EYE)].mean(axis=0) - points[list(RIGHT_EYE)].mean(axis=0))
    spread = np.ptp(points[:, :2], axis=0).max()
    if not ocular > 1e-3 * max(spread, 1e-9) or spread < 1e-9:
        raise ValueError("degenerate face landmarks: the eyes coincide")
    centred = (points - points[list(ANCHORS)].mean(axis=0)) / ocular
    if align == "3d":
        rotation = _kabsch(centred[list(ANCHORS)], CANONICAL_ANCHORS)
    elif align == "roll":
        rotation = _roll(centred)
    else:
        raise ValueError(f"unknown alignment {align!r}: use '3d' or 'roll'")
    return centred @ rotation.T


def face_vector(lm: Landmarks) -> np.ndarray:
    """The feature vector of one face: (LAYOUT.length,) float32, the same for any shift, size and turn.

    After :func:`normalize`, each region is measured from its own reference point, so a raised brow
    or an open mouth moves only its own values: eyes and brows from their eye's corner midpoint, the
    lips from the mouth-corner midpoint (and that from the point under the nose), nose wings,
    cheeks and chin from the nose tip, inner brows from the top of the nose bridge. Chosen over
    absolute positions ("face3d-v1") on held-out people of the jaffe and ckplus48 sets; see
    docs/results/accuracy.md.

    Raises:
        ValueError: degenerate landmarks (all points equal, or NaN); MediaPipe never returns them.
    """
    p = normalize(face_points(lm))
    right_eye, left_eye = p[[33, 133]].mean(axis=0), p[[263, 362]].mean(axis=0)
    mouth = p[list(_MOUTH_CORNERS)].mean(axis=0)
    parts = (
        p[list(RIGHT_EYE)] - right_eye, p[list(LEFT_EYE)] - left_eye,
        p[list(_RIGHT_BROW)] - right_eye, p[list(_LEFT_BROW)] - left_eye,
        p[list(_LIPS)] - mouth, (mouth - p[_SUBNASALE])[None],
        p[list(_NOSE_CHEEK_CHIN)] - p[_NOSE_TIP],
        p[list(_RIGHT_CHEEK)] - p[_NOSE_TIP], p[list(_LEFT_CHEEK)] - p[_NOSE_TIP],
        p[list(_GLABELLA)] - p[_NASION],
    )
    return np.concatenate([part.ravel() for part in parts]).astype(np.float32)


def _from_points(lm: Landmarks, points: np.ndarray) -> Landmarks:
    """Landmarks with the face (and pose, hands) moved by the same map as ``points`` (pixels)."""
    width, height = lm.image_size
    face = (points / np.array([width, height, width])).astype(np.float32)
    return lm._replace(face=face)


def mirror(lm: Landmarks) -> Landmarks:
    """The landmarks of the left-right flipped image: x -> 1 - x, left and right points swapped."""
    face = np.array(lm.face, dtype=np.float32)[FACE_MIRROR]
    face[:, 0] = 1.0 - face[:, 0]
    pose = None
    if lm.pose is not None:
        pose = np.array(lm.pose, dtype=np.float32)[POSE_MIRROR]
        pose[:, 0] = 1.0 - pose[:, 0]
    hands = []
    for hand in (lm.right_hand, lm.left_hand):  # the subject's right hand becomes their left
        if hand is not None:
            hand = np.array(hand, dtype=np.float32)
            hand[:, 0] = 1.0 - hand[:, 0]
        hands.append(hand)
    return lm._replace(face=face, pose=pose, left_hand=hands[0], right_hand=hands[1])


def rotate(lm: Landmarks, roll: float = 0.0, yaw: float = 0.0, pitch: float = 0.0) -> Landmarks:
    """The face turned by the given angles (degrees) about its anchor centre; pose and hands unchanged.

    Roll alone changes nothing after normalization; small yaw/pitch turns are the useful augmentation.
    """
    r, y, p = np.radians([roll, yaw, pitch])
    rz = np.array([[np.cos(r), -np.sin(r), 0.0], [np.sin(r), np.cos(r), 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[np.cos(y), 0.0, np.sin(y)], [0.0, 1.0, 0.0], [-np.sin(y), 0.0, np.cos(y)]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(p), -np.sin(p)], [0.0, np.sin(p), np.cos(p)]])
    points = face_points(lm)
    centre = points[list(ANCHORS)].mean(axis=0)
    return _from_points(lm, (points - centre) @ (rz @ ry @ rx).T + centre)


def scale(lm: Landmarks, factor: float) -> Landmarks:
    """The face made ``factor`` times larger about its anchor centre (a no-op after normalization)."""
    points = face_points(lm)
    centre = points[list(ANCHORS)].mean(axis=0)
    return _from_points(lm, (points - centre) * factor + centre)


def jitter(lm: Landmarks, sigma: float, rng: np.random.Generator) -> Landmarks:
    """The face with Gaussian noise of ``sigma`` inter-ocular distances added to every coordinate."""
    points = face_points(lm)
    ocular = np.linalg.norm(points[list(LEFT_EYE)].mean(axis=0) - points[list(RIGHT_EYE)].mean(axis=0))
    return _from_points(lm, points + rng.normal(0.0, sigma * ocular, points.shape))
