"""Disks that fail for the fault and crash tests: a tiny tmpfs that fills up (real ENOSPC), a
read-only bind mount (real EROFS, even for root), and what each test writes and reads back."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from emusify.sensing.landmarks import Landmarks

ROOT = Path(__file__).resolve().parents[1]
# The shared research data (never committed); EMUSIFY_SHARED_DATA points elsewhere, e.g. from a worktree.
SHARED = Path(os.environ.get("EMUSIFY_SHARED_DATA", ROOT.parent / "shared" / "data"))
VIDEO = SHARED / "face_videos" / "liveportrait_driving_d9.mp4"
needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason=f"needs the face video {VIDEO}")


def _mount(*args: str) -> bool:
    try:
        done = subprocess.run(["mount", *args], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)


@contextlib.contextmanager
def tiny_tmpfs(folder: Path, size: str = "512k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``folder`` (skips the test when mounting is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.name != "posix" or not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)):
        pytest.skip("cannot mount a tmpfs here (needs root on Linux)")
    try:
        yield folder
    finally:
        _umount(folder)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` made read-only by a read-only bind mount over itself (chmod does not stop root).

    Files opened before keep their access; anything opened, created or renamed from now on fails
    with EROFS, as on a file system remounted read-only.
    """
    if os.name != "posix" or not _mount("--bind", str(folder), str(folder)):
        pytest.skip("cannot bind-mount here (needs root on Linux)")
    try:
        if not _mount("-o", "remount,bind,ro", str(folder)):
            pytest.skip("cannot remount read-only here")
        yield folder
    finally:
        _umount(folder)


def fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` up (a filler file); returns it (unlink to free the space)."""
    filler = folder / "filler.bin"
    with open(filler, "ab", buffering=0) as f:
        for block in (b"\0" * 4096, b"\0"):  # then the last partial page
            with contextlib.suppress(OSError):
                while f.write(block):
                    pass
    return filler


def failing(code: int):
    """A stand-in for os.fsync / os.replace that fails like a full (ENOSPC) or read-only (EROFS) disk."""
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


FAULTS = {"enospc": errno.ENOSPC, "erofs": errno.EROFS}


def landmarks(i: int) -> Landmarks:
    """Synthetic landmarks whose image width is ``640 + i`` (so what was read back can be checked)."""
    face = np.random.default_rng(i).random((468, 3), dtype=np.float32)
    return Landmarks(face=face, pose=None, left_hand=None, right_hand=None, image_size=(640 + i, 480),
                     detector="holistic")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes), for "the old files are intact"."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
