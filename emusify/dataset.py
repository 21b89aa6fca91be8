"""Recorded landmark samples on disk: one append-only file per recording session.

Layout: ``<data>/<emotion>/<session_id>.emrec``. The folder is the label: moving a file to
another folder relabels it. A file is a sequence of records, each
``b"EMR1" | kind (1 byte) | length (uint32 LE) | CRC32 of the payload (uint32 LE) | payload``.
The first record (kind ``H``) is the JSON header; every other record (kind ``C``) is a chunk of
samples, an ``.npz`` blob (no pickles) holding the arrays in :data:`ARRAYS`.

Safety: the file is written under a hidden temporary name (``.<name>.part``) and renamed to its
final name once its first chunk is on disk, so no half-written header and no empty session ever
appears under a final name. Chunks are appended whole and fsynced; earlier bytes are never
rewritten. A crash or Ctrl-C loses at most the samples not yet flushed; a torn last chunk is
ignored on reading with one warning naming the file.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import os
import re
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from emusify import __version__
from emusify.errors import DatasetError

log = logging.getLogger(__name__)

FORMAT = 1
SUFFIX = ".emrec"
MAGIC = b"EMR1"
_FRAME = struct.Struct("<4scII")  # magic, kind, payload length, CRC32 of the payload
DETECTORS = ("holistic", "facemesh", "tasks", "tasks-crop")  # detector code -> name (append only)
ARRAYS = {  # name -> (shape of one sample, dtype)
    "face": ((468, 3), np.float32),
    "pose": ((33, 4), np.float32),  # NaN where no pose was found
    "left_hand": ((21, 3), np.float32),  # NaN where absent
    "right_hand": ((21, 3), np.float32),  # NaN where absent
    "image_size": ((2,), np.int32),  # width, height
    "timestamp": ((), np.float64),  # seconds (source time; the image index for imports)
    "detector": ((), np.uint8),  # index into DETECTORS
    "name": ((), np.str_),  # file name for image folders and imports, "" for a webcam
}
_SAFE_NAME = re.compile(r"^[^/\\.][^/\\]*$")
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
        from emusify.landmarks import backend_of

        if self.header.get("backend"):
            return str(self.header["backend"])
        return backend_of(DETECTORS[int(code)] for code in np.unique(self.arrays["detector"]))

    def landmarks(self) -> Iterator[Any]:
        """The samples as ``emusify.landmarks.Landmarks``, in recording order."""
        from emusify.landmarks import Landmarks

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
    records, end = _records(data)
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
        chunk = _decode_chunk(payload) if kind == b"C" else None
        if chunk is None:
            torn = True  # keep what came before it
            break
        chunks.append(chunk)
    if torn and (str(path), size) not in _warned:
        _warned.add((str(path), size))
        log.warning("%s: ends in a damaged or partial chunk; kept %d complete chunk(s)", path, len(chunks))
    return chunks, torn


class SessionWriter:
    """Writes one recording session; a context manager. Buffers samples, appends them in chunks.

    Raises DatasetError (one line) when the folder cannot be written or the disk is full;
    everything already on disk stays readable.
    """

    def __init__(self, data_dir: Path, emotion: str, layout: tuple[str, int], source: str,
                 group: str | None = None, chunk_samples: int = 16, chunk_seconds: float = 2.0,
                 session_id: str | None = None, extra: dict[str, Any] | None = None,
                 backend: str | None = None) -> None:
        """Create the session file (hidden until its first chunk is on disk).

        ``extra``: more JSON header fields, e.g. run.py's ``feedback`` (a correction's kind, the
        mood the window read and the calibration offset the model saw). ``backend``: the landmark
        backend that made the samples ("holistic" or "tasks").
        """
        if not _SAFE_NAME.match(emotion):
            raise DatasetError(f"'{emotion}' cannot be a folder name; use letters, digits, - or _")
        self.session_id = session_id or new_session_id()
        self.folder = Path(data_dir) / emotion
        self.path = self.folder / f"{self.session_id}{SUFFIX}"
        self._part = self.folder / f".{self.path.name}.part"
        self.chunk_samples, self.chunk_seconds = max(1, chunk_samples), chunk_seconds
        self.written = 0  # samples safely on disk
        self._buffer: list[tuple[Any, float, str]] = []
        self._last_flush = time.monotonic()
        self._file: Any = None
        self._size = 0
        self._closed = False
        self.header = {
            "format": FORMAT, "emotion": emotion, "session_id": self.session_id, "group": group,
            "source": source, "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "layout": {"name": layout[0], "length": int(layout[1])}, "emusify_version": __version__,
            "detectors": list(DETECTORS), "arrays": sorted(ARRAYS),
            "backend": backend,  # the landmark backend that made the samples: "holistic" or "tasks"
            **(extra or {}),
        }
        self._guard(self._open, "create")

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Samples buffered, not yet on disk."""
        return len(self._buffer)

    def append(self, landmarks: Any, timestamp: float, name: str | None = None) -> None:
        """Buffer one sample; a chunk is written every ``chunk_samples`` or ``chunk_seconds``."""
        if self._closed:
            raise DatasetError(f"{self.path}: the session is closed")
        self._buffer.append((landmarks, float(timestamp), name or ""))
        due = time.monotonic() - self._last_flush >= self.chunk_seconds
        if len(self._buffer) >= self.chunk_samples or due:
            self.flush()

    def flush(self) -> None:
        """Append the buffered samples as one fsynced chunk."""
        if not self._buffer or self._file is None:
            return
        payload = _encode_chunk(self._buffer)
        self._guard(lambda: self._write(b"C", payload), "write")
        if self.written == 0:
            self._guard(self._publish, "rename")
        self.written += len(self._buffer)
        self._buffer = []
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close (idempotent). A session with no sample leaves no file."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._buffer = []
            if self._file is not None:
                self._file.close()
                self._file = None
            if self.written == 0:
                self._part.unlink(missing_ok=True)

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = open(self._part, "xb")  # noqa: SIM115 - kept open across appends
        self._write(b"H", json.dumps(self.header).encode("utf-8"))

    def _write(self, kind: bytes, payload: bytes) -> None:
        frame = _FRAME.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload
        try:
            self._file.write(frame)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._file.truncate(self._size)  # drop our own partial record, never earlier bytes
            raise
        self._size += len(frame)

    def _publish(self) -> None:
        if self.path.exists():
            raise FileExistsError(17, "a recording with this session id exists", str(self.path))
        os.rename(self._part, self.path)
        _fsync_dir(self.folder)

    def _guard(self, action: Any, what: str) -> None:
        """Run ``action``; an OSError closes the session and becomes a one-line DatasetError."""
        try:
            action()
        except OSError as exc:
            self._abort()
            reason = exc.strerror or str(exc)
            raise DatasetError(
                f"cannot {what} {self.path}: {reason}; free disk space or pick a writable folder with --data"
            ) from None

    def _abort(self) -> None:
        self._closed = True
        self._buffer = []
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.written == 0:
            with contextlib.suppress(OSError):
                self._part.unlink(missing_ok=True)


def new_session_id(when: float | None = None) -> str:
    """``YYYYmmdd-HHMMSS-xxxxxx``: sortable by time, unique by a random suffix."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return f"{stamp}-{secrets.token_hex(3)}"


def _encode_chunk(samples: list[tuple[Any, float, str]]) -> bytes:
    n = len(samples)
    cols = {name: np.full((n, *shape), np.nan if dtype is np.float32 else 0, dtype=dtype)
            for name, (shape, dtype) in ARRAYS.items() if dtype is not np.str_}
    for i, (lm, timestamp, _) in enumerate(samples):
        cols["face"][i] = lm.face
        for part in ("pose", "left_hand", "right_hand"):
            if getattr(lm, part) is not None:
                cols[part][i] = getattr(lm, part)
        cols["image_size"][i] = lm.image_size
        cols["timestamp"][i] = timestamp
        cols["detector"][i] = DETECTORS.index(lm.detector)
    cols["name"] = np.array([name for _, _, name in samples], dtype=np.str_).reshape(n)
    blob = io.BytesIO()
    np.savez_compressed(blob, **cols)
    return blob.getvalue()


def _decode_chunk(payload: bytes) -> dict[str, np.ndarray] | None:
    """The arrays of one chunk, or None when they are not what a chunk holds."""
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in ARRAYS}
    except (ValueError, KeyError, OSError, EOFError, zlib.error):
        return None
    n = len(arrays["face"])
    for name, (shape, _) in ARRAYS.items():
        if arrays[name].shape != (n, *shape):
            return None
    return arrays


def _records(data: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
    """The complete, CRC-checked records at the start of ``data`` and the offset where they end."""
    records, offset = [], 0
    while offset + _FRAME.size <= len(data):
        magic, kind, length, crc = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        payload = data[start:start + length]
        if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            break
        records.append((kind, payload))
        offset = start + length
    return records, offset


def _or_none(array: np.ndarray) -> np.ndarray | None:
    return None if np.isnan(array).all() else array


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its rename is durable enough
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def backend_of_sessions(sessions: Sequence[Any]) -> str:
    """The landmark backend of the recordings ("holistic", "tasks"), "mixed", or "unknown"."""
    found = {getattr(s, "backend", None) or "unknown" for s in sessions}
    return found.pop() if len(found) == 1 else "mixed"
