"""The recording file format (``.emrec``): constants, record framing, chunk encoding. Pure: no files.

A file is a sequence of records, each
``b"EMR1" | kind (1 byte) | length (uint32 LE) | CRC32 of the payload (uint32 LE) | payload``.
The first record (kind ``H``) is the JSON header; every other record (kind ``C``) is a chunk of
samples, an ``.npz`` blob (no pickles) holding the arrays in :data:`ARRAYS`; a chunk whose arrays
claim more bytes than it holds is treated as damaged, never allocated (:mod:`emusify.storage.safe_npz`).
``emusify.storage.dataset`` writes such files, ``emusify.storage.sessions`` reads them.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from emusify.storage.safe_npz import read_npz

FORMAT = 1
SUFFIX = ".emrec"
MAGIC = b"EMR1"
FRAME = struct.Struct("<4scII")  # magic, kind, payload length, CRC32 of the payload
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


def encode_chunk(samples: list[tuple[Any, float, str]]) -> bytes:
    """One chunk's payload: the ``(landmarks, timestamp, name)`` samples as an ``.npz`` blob."""
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


def decode_chunk(payload: bytes) -> dict[str, np.ndarray] | None:
    """The arrays of one chunk, or None when they are not what a chunk holds."""
    try:
        stored = read_npz(payload)  # sizes checked against the payload before anything is allocated
        arrays = {name: stored[name] for name in ARRAYS}
    except (ValueError, KeyError, OSError, EOFError, zlib.error, zipfile.BadZipFile):
        return None
    n = len(arrays["face"])
    for name, (shape, _) in ARRAYS.items():
        if arrays[name].shape != (n, *shape):
            return None
    return arrays


def read_records(data: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
    """The complete, CRC-checked records at the start of ``data`` and the offset where they end."""
    records, offset = [], 0
    while offset + FRAME.size <= len(data):
        magic, kind, length, crc = FRAME.unpack_from(data, offset)
        start = offset + FRAME.size
        payload = data[start:start + length]
        if magic != MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            break
        records.append((kind, payload))
        offset = start + length
    return records, offset


def pack_record(kind: bytes, payload: bytes) -> bytes:
    """One record: the frame (magic, kind, length, CRC32) then ``payload``."""
    return FRAME.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload
