"""The mood model's files: ``FILE.npz`` (weights) + ``FILE.json`` (sidecar), and the ``FILE.bak`` pair.

:func:`write_pair` is crash-safe: both new files are fsynced (0600) before the sidecar, then the
weights, are renamed over the old pair, whose copy is already the backup. A crash between the two
renames leaves a pair that does not match (the sidecar names the SHA-256 of its weights), which
``Model.load`` answers with the backup; on a first save it leaves no weights under the name at
all, so the starter keeps playing. :func:`read_weights` never unpickles and never allocates what a
crafted file claims (:mod:`emusify.storage.safe_npz`). ``emusify.reading.model`` uses these.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from emusify.errors import ModelError
from emusify.storage import private
from emusify.storage.safe_npz import OversizedError, read_npz

RETRAIN = "retrain with train.py"
MAX_SIDECAR = 16 << 20  # bytes; a sidecar (labels, scaler, reference mean) is tens of kB


def sidecar_path(path: Path) -> Path:
    """The JSON sidecar of a model file: FILE.npz -> FILE.json."""
    return Path(path).with_suffix(".json")


def backup_path(path: Path) -> Path:
    """Where a save keeps the previous model: FILE.npz -> FILE.bak.npz (sidecar FILE.bak.json)."""
    return Path(path).with_suffix(".bak.npz")


def write_pair(path: Path, arrays: dict[str, np.ndarray], sidecar: Callable[[str], dict[str, Any]],
               whole: Callable[[Path], bool]) -> None:
    """Write the weights ``arrays`` and ``sidecar(sha256 of the weights)`` as the pair at ``path``.

    ``whole(path)`` says whether the pair now at ``path`` loads; only a whole pair is copied to
    the backup names (after a crash between the renames, the backup is the only whole model).

    Raises:
        OSError: the folder cannot be written or the disk is full (the old pair stays).
    """
    temps: list[Path] = []
    try:
        private.make_dirs(path.parent)
        temps += [private.temp_beside(path), private.temp_beside(sidecar_path(path))]
        with open(temps[0], "wb") as f:
            np.savez(f, **arrays)
        temps[1].write_text(json.dumps(sidecar(sha256(temps[0])), indent=1) + "\n", encoding="utf-8")
        for tmp in temps:
            private.sync_file(tmp)
        if whole(path):
            _keep_backup(path)
        os.replace(temps[1], sidecar_path(path))
        os.replace(temps[0], path)
        private.sync_dir(path.parent)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar of the model at ``path``, as JSON (checked to be an object, never huge)."""
    side = sidecar_path(path)
    if not side.is_file():
        raise ModelError(f"{side} (the model's sidecar) is missing: {RETRAIN}")
    try:
        if side.stat().st_size > MAX_SIDECAR:  # never read: a sidecar is tens of kB
            raise ModelError(f"{side} holds {side.stat().st_size} bytes, not a model sidecar: {RETRAIN}")
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise ModelError(f"{side} is corrupt or truncated: {RETRAIN}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{side} is not a model sidecar: {RETRAIN}")
    return data


def read_weights(path: Path) -> dict[str, np.ndarray]:
    """The arrays of the weights file, sizes checked against the file before anything is allocated."""
    try:
        return read_npz(path)
    except OversizedError as exc:
        raise ModelError(f"{path} is not a model of this program ({exc}); not loaded: {RETRAIN}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        raise ModelError(f"{path} is corrupt or truncated: {RETRAIN}") from None


def sha256(path: Path) -> str:
    """SHA-256 of a file, read in pieces (a model file is never held whole just to hash it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def temp_beside(path: Path) -> Path:
    """An empty temp file next to ``path`` with the permissions a plain new file would get
    (for files about no one, e.g. figures; files about a person use :func:`private.temp_beside`)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def _keep_backup(path: Path) -> None:
    """Copy the current pair to the backup names, each via a fsynced 0600 temp file."""
    bak = backup_path(path)
    for src, dst in ((path, bak), (sidecar_path(path), sidecar_path(bak))):
        tmp = private.temp_beside(dst)
        try:
            shutil.copyfile(src, tmp)
            private.sync_file(tmp)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
