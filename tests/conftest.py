"""Test set-up: no sound card, no webcam, no display; data from ../shared only when it is there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports pygame or OpenCV's highgui.
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `shared` tests without ../shared/data and `camera` tests without a webcam."""
    skip_shared = pytest.mark.skip(reason=f"needs the shared data folder at {SHARED_DATA}")
    skip_camera = pytest.mark.skip(reason="needs a real webcam")
    have_shared = SHARED_DATA.is_dir()
    for item in items:
        if "shared" in item.keywords and not have_shared:
            item.add_marker(skip_shared)
        if "camera" in item.keywords and not _have_camera():
            item.add_marker(skip_camera)


_camera_checked: list[bool] = []


def _have_camera() -> bool:
    if not _camera_checked:
        import cv2

        capture = cv2.VideoCapture(0)
        _camera_checked.append(bool(capture.isOpened()))
        capture.release()
    return _camera_checked[0]


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder (tests using it carry the `shared` marker)."""
    return SHARED_DATA


@pytest.fixture
def fixtures() -> Path:
    """Tiny committed test files."""
    return FIXTURES
