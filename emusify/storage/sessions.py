"""Recordings read back: :func:`load_sessions` (a data folder) and :func:`read_session` (one file).

Layout: ``<data>/<emotion>/<session_id>.emrec`` (format: :mod:`emusify.storage.emrec`). The folder is the
label: moving a file to another folder relabels it. An unreadable file is skipped with a warning
naming it; a torn last chunk is ignored with one warning naming the file, the complete chunks kept.
``emusify.storage.dataset`` re-exports these names.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from emusify.errors import DatasetError
from emusify.storage.emrec import ARRAYS, DETECTORS, FORMAT, SUFFIX, decode_chunk, read_records

log = logging.getLogger(__name__)

_warned: set[tuple[str, int]] = set()


@dataclass(frozen=True, eq=False)
class Session:
    """One recording file, read back.

    ``group`` is who/when the samples belong to (a subject id, or one collect.py run); None when
    unknown, in which case treat each sample as independent. ``layout`` is ``(name, length)`` of
    the feature layout current at record time; it compares equal to a ``FeatureLayout``.
    """

    path: Path
    emotion: str
    session_id: str
    group: str | None
    layout: tuple[str, int]
    arrays: dict[str, np.ndarray] = field(repr=False)
    len: int
    header: dict[str, Any] = field(repr=False, default_factory=dict)
    torn: bool = False  # the file ended in a partial chunk (ignored)

    def __len__(self) -> int:
        return self.len

    @property
    def backend(self) -> str | None:
        """The landmark backend that made the samples ("holistic" or "tasks"); None when not known."""
        from emusify.sensing.landmarks import backend_of

        if self.header.get("backend"):
            return str(self.header["backend"])
        return backend_of(DETECTORS[int(code)] for code in np.unique(self.arrays["detector"]))

    def landmarks(self) -> Iterator[Any]:
        """The samples as ``emusify.sensing.landmarks.Landmarks``, in recording order."""
        from emusify.sensing.landmarks import Landmarks

        a = self.arrays
        for i in range(self.len):
            yield Landmarks(
                face=a["face"][i],
                pose=_or_none(a["pose"][i]),
                left_hand=_or_none(a["left_hand"][i]),
                right_hand=_or_none(a["right_hand"][i]),
                image_size=(int(a["image_size"][i, 0]), int(a["image_size"][i, 1])),
                detector=DETECTORS[int(a["detector"][i])],
            )

    def vectors(self, vectorize: Any) -> np.ndarray:
        """``(len, d)`` float32 feature rows: ``vectorize`` (e.g. ``features.face_vector``) per sample."""
        rows = [np.asarray(vectorize(lm), dtype=np.float32) for lm in self.landmarks()]
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)


class Sessions(list):
    """What :func:`load_sessions` returns: a list of Session plus the files it skipped."""

    def __init__(self, sessions: Any = ()) -> None:
        super().__init__(sessions)
        self.skipped: list[tuple[Path, str]] = []  # (file, why) for every unreadable recording


def load_sessions(data_dir: Path, emotions: tuple[str, ...] | None = None) -> Sessions:
    """Every readable recording under ``data_dir/<emotion>/*.emrec``, sorted by path.

    Unreadable files are skipped with a warning naming them and listed in ``.skipped``; files
    that end in a torn chunk keep their complete chunks. Only ``emotions`` when given.
    """
    sessions = Sessions()
    if not Path(data_dir).is_dir():
        return sessions
    for path in sorted(Path(data_dir).glob(f"*/*{SUFFIX}")):
        if path.name.startswith(".") or (emotions is not None and path.parent.name not in emotions):
            continue
        try:
            session = read_session(path)
        except DatasetError as exc:
            log.warning("skipped %s", exc)
            sessions.skipped.append((path, str(exc)))
            continue
        sessions.append(session)
    if sessions.skipped:
        log.warning("%d unreadable recording(s) skipped under %s", len(sessions.skipped), data_dir)
    return sessions


def read_session(path: Path) -> Session:
    """Read one recording; the label is its folder name.

    Raises:
        DatasetError: not a recording, a damaged header, or no complete chunk.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    records, end = read_records(data)
    if not records or records[0][0] != b"H":
        raise DatasetError(f"{path}: not an emusify recording or its header is damaged")
    try:
        header = json.loads(records[0][1].decode("utf-8"))
        layout = (str(header["layout"]["name"]), int(header["layout"]["length"]))
    except (ValueError, KeyError, TypeError):
        raise DatasetError(f"{path}: damaged header") from None
    if header.get("format") != FORMAT:
        raise DatasetError(f"{path}: recording format {header.get('format')} is not {FORMAT}; "
                           "update emusify to read it")
    chunks, torn = _chunks(path, records[1:], end != len(data), len(data))
    if not chunks:
        raise DatasetError(f"{path}: no complete chunk of samples")
    arrays = {name: np.concatenate([c[name] for c in chunks]) for name in ARRAYS}
    return Session(Path(path), Path(path).parent.name, str(header.get("session_id", Path(path).stem)),
                   header.get("group"), layout, arrays, len(arrays["face"]), header, torn)


def _chunks(path: Path, records: list[tuple[bytes, bytes]], torn: bool,
            size: int) -> tuple[list[dict[str, np.ndarray]], bool]:
    """The decoded chunks up to the first damaged one; warns once per file about a damaged tail."""
    chunks = []
    for kind, payload in records:
        chunk = decode_chunk(payload) if kind == b"C" else None
        if chunk is None:
            torn = True  # keep what came before it
            break
        chunks.append(chunk)
    if torn and (str(path), size) not in _warned:
        _warned.add((str(path), size))
        log.warning("%s: ends in a damaged or partial chunk; kept %d complete chunk(s)", path, len(chunks))
    return chunks, torn


def _or_none(array: np.ndarray) -> np.ndarray | None:
    return None if np.isnan(array).all() else array


def backend_of_sessions(sessions: Sequence[Any]) -> str:
    """The landmark backend of the recordings ("holistic", "tasks"), "mixed", or "unknown"."""
    found = {getattr(s, "backend", None) or "unknown" for s in sessions}
    return found.pop() if len(found) == 1 else "mixed"
