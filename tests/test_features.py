"""Feature vectors ignore where the face is, its size and its turn; mirroring swaps left and right."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from emusify.sensing import features
from emusify.sensing.features import LAYOUT, face_vector, mirror


class Landmarks(NamedTuple):
    """Stand-in with the fields of emusify.sensing.landmarks.Landmarks."""

    face: np.ndarray
    pose: np.ndarray | None
    left_hand: np.ndarray | None
    right_hand: np.ndarray | None
    image_size: tuple[int, int]
    detector: str


def make_face(seed: int = 0, size: tuple[int, int] = (640, 480), asymmetry: float = 0.05) -> Landmarks:
    """A plausible random face: canonical anchors plus noise, other points scattered around them."""
    rng = np.random.default_rng(seed)
    ocular = 0.12 * size[0]
    points = rng.normal(0.0, 0.8, (468, 3))
    points[list(features.ANCHORS)] = features.CANONICAL_ANCHORS
    for eye, x in ((features.RIGHT_EYE, -0.5), (features.LEFT_EYE, 0.5)):
        points[list(eye)] = [x, -0.1, 0.05] + rng.normal(0.0, 0.08, (len(eye), 3))
    points += rng.normal(0.0, asymmetry, points.shape)
    pixels = points * ocular + [size[0] / 2, size[1] / 2, 0.0]
    face = (pixels / [size[0], size[1], size[0]]).astype(np.float32)
    pose = rng.random((33, 4)).astype(np.float32)
    hand = rng.random((21, 3)).astype(np.float32)
    return Landmarks(face, pose, hand, None, size, "holistic")


def moved(lm: Landmarks, shift=(0.0, 0.0), factor: float = 1.0, roll: float = 0.0,
          size: tuple[int, int] | None = None) -> Landmarks:
    """The same face shifted (pixels), scaled and rolled (degrees), optionally in another image size."""
    width, height = lm.image_size
    pixels = lm.face * np.array([width, height, width])
    centre = pixels.mean(axis=0)
    angle = np.radians(roll)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    pixels = (pixels - centre) @ rotation.T * factor + centre + [shift[0], shift[1], 0.0]
    width, height = size or (width, height)
    return lm._replace(face=(pixels / [width, height, width]).astype(np.float32), image_size=(width, height))


def test_vector_has_layout_length_and_is_float32():
    vector = face_vector(make_face())
    assert vector.shape == (LAYOUT.length,)
    assert vector.dtype == np.float32
    assert LAYOUT.name and np.all(np.isfinite(vector))


@pytest.mark.parametrize("change", [
    {"shift": (55.0, -30.0)},
    {"factor": 1.7},
    {"factor": 0.4},
    {"roll": 25.0},
    {"roll": -40.0, "factor": 1.3, "shift": (-80.0, 12.0)},
    {"size": (1280, 960), "factor": 2.0},
    {"size": (800, 800)},
])
def test_vector_ignores_shift_scale_roll_and_image_size(change):
    lm = make_face(seed=1)
    np.testing.assert_allclose(face_vector(moved(lm, **change)), face_vector(lm), atol=2e-3)


def test_vector_ignores_head_turns():
    lm = make_face(seed=2)
    turned = features.rotate(lm, yaw=20.0, pitch=-12.0, roll=8.0)
    np.testing.assert_allclose(face_vector(turned), face_vector(lm), atol=2e-3)


def test_vector_changes_when_the_expression_changes():
    lm = make_face(seed=3)
    face = lm.face.copy()
    face[[13, 14, 17, 0]] += [0.0, 0.03, 0.0]  # the mouth opens
    assert np.abs(face_vector(lm._replace(face=face)) - face_vector(lm)).max() > 0.05


def test_roll_alignment_only_removes_roll():
    points = features.face_points(make_face(seed=4))
    turned = features.face_points(features.rotate(make_face(seed=4), yaw=20.0))
    assert np.abs(features.normalize(turned, "roll") - features.normalize(points, "roll")).max() > 0.05
    with pytest.raises(ValueError, match="alignment"):
        features.normalize(points, "none")


def test_mirror_permutation_is_an_involution_that_keeps_the_midline():
    perm = features.FACE_MIRROR
    assert sorted(perm) == list(range(468))
    np.testing.assert_array_equal(perm[perm], np.arange(468))
    assert set(np.flatnonzero(perm == np.arange(468))) == set(features.MIDLINE)
    np.testing.assert_array_equal(features.POSE_MIRROR[features.POSE_MIRROR], np.arange(33))


def test_mirror_agrees_with_mediapipe_eye_brow_and_lip_sets():
    # mediapipe's FACEMESH_RIGHT_EYEBROW / FACEMESH_LEFT_EYEBROW and the lip corners 61 / 291.
    right_brow = [46, 52, 53, 55, 63, 65, 66, 70, 105, 107]
    left_brow = [276, 282, 283, 285, 293, 295, 296, 300, 334, 336]
    assert sorted(features.FACE_MIRROR[right_brow]) == left_brow
    assert sorted(features.LEFT_EYE) == [249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388,
                                        390, 398, 466]
    assert features.FACE_MIRROR[61] == 291 and features.FACE_MIRROR[33] == 263


def test_mirror_flips_the_image_and_swaps_eyes_and_hands():
    lm = make_face(seed=5)
    flipped = mirror(lm)
    np.testing.assert_allclose(flipped.face[263, 0], 1.0 - lm.face[33, 0], atol=1e-6)
    np.testing.assert_allclose(flipped.face[263, 1:], lm.face[33, 1:], atol=1e-6)
    assert flipped.right_hand is not None and flipped.left_hand is None
    np.testing.assert_allclose(flipped.pose[11, 0], 1.0 - lm.pose[12, 0], atol=1e-6)
    twice = mirror(flipped)
    for name in ("face", "pose", "left_hand"):
        np.testing.assert_allclose(getattr(twice, name), getattr(lm, name), atol=1e-6)
    assert twice.right_hand is None


def test_mirrored_face_gives_a_different_vector_unless_symmetric():
    lm = make_face(seed=6, asymmetry=0.1)
    assert np.abs(face_vector(mirror(lm)) - face_vector(lm)).max() > 0.05
    symmetric = make_face(seed=6, asymmetry=0.0)
    pixels = features.face_points(symmetric)
    centre_x = pixels[list(features.ANCHORS), 0].mean()
    half = pixels.copy()
    half[features.FACE_MIRROR, 0] = 2 * centre_x - pixels[:, 0]
    half[features.FACE_MIRROR, 1:] = pixels[:, 1:]
    even = (pixels + half) / 2
    symmetric = features._from_points(symmetric, even)
    np.testing.assert_allclose(face_vector(mirror(symmetric)), face_vector(symmetric), atol=2e-3)


def test_scale_and_roll_augmentation_do_not_change_the_vector_but_jitter_does():
    lm = make_face(seed=7)
    base = face_vector(lm)
    np.testing.assert_allclose(face_vector(features.scale(lm, 1.2)), base, atol=2e-3)
    noisy = face_vector(features.jitter(lm, 0.02, np.random.default_rng(0)))
    assert 0.005 < np.abs(noisy - base).mean() < 0.05


@pytest.mark.parametrize("face", [np.full((468, 3), 0.5, np.float32), np.full((468, 3), np.nan, np.float32)])
def test_degenerate_faces_raise_value_error(face):
    lm = make_face()._replace(face=face)
    with pytest.raises(ValueError):
        face_vector(lm)
