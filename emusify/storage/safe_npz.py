""".npz archives read without trusting their size claims (model weights, recording chunks).

``numpy.load`` allocates the array a member's ``.npy`` header describes before reading a byte of
it, so a crafted file of a few hundred bytes claiming terabytes would exhaust memory. Here every
member is checked first against what the file can hold: its stored size fits in the file, its
unpacked size is at most :data:`MAX_RATIO` times that (deflate cannot do better), and the array its
header describes is exactly the bytes the member holds. Never unpickles.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAX_RATIO = 1100  # deflate's best case is about 1032:1


class OversizedError(ValueError):
    """A member claims more bytes than the archive can hold."""


def read_npz(source: Path | bytes | BinaryIO) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (path, bytes or an open binary file), checked before allocating.

    Raises:
        OversizedError: a member claims more than the archive can hold (nothing was allocated).
        ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error: not a readable archive.
    """
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    size = Path(source).stat().st_size if isinstance(source, (str, Path)) else _size_of(source)
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            _check_member(archive, info, size)
    if not isinstance(source, (str, Path)):
        source.seek(0)
    with np.load(source, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _size_of(f: BinaryIO) -> int:
    f.seek(0, io.SEEK_END)
    size = f.tell()
    f.seek(0)
    return size


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int) -> None:
    limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED else info.compress_size * MAX_RATIO
    if info.compress_size > size or info.file_size > limit:
        raise OversizedError(f"member {info.filename} claims {info.file_size} bytes in an archive of {size}")
    if not info.filename.endswith(".npy"):
        return
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"member {info.filename}: .npy format {version} is not supported")
        header = member.tell()
    if dtype.hasobject:
        raise ValueError(f"member {info.filename} holds Python objects (pickles are never loaded)")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed != info.file_size - header:
        raise OversizedError(f"member {info.filename} claims an array of {claimed} bytes, "
                             f"it holds {info.file_size - header}")
