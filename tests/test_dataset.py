"""Recording files: round trip, crash safety, append-only, errors the user can act on."""

from __future__ import annotations

import errno
import io
import logging
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from emusify.errors import DatasetError
from emusify.sensing.landmarks import Landmarks
from emusify.storage import dataset, emrec
from emusify.storage.dataset import SessionWriter, load_sessions, read_session

LAYOUT = ("test-v1", 12)
ROOT = Path(__file__).resolve().parents[1]


def fake_landmarks(i: int, pose: bool = True, hands: bool = False, detector: str = "holistic") -> Landmarks:
    """Synthetic landmarks whose values encode ``i`` (so order and content can be checked)."""
    rng = np.random.default_rng(i)
    face = rng.random((468, 3), dtype=np.float32)
    face[0, 0] = i
    return Landmarks(
        face=face,
        pose=rng.random((33, 4), dtype=np.float32) if pose else None,
        left_hand=rng.random((21, 3), dtype=np.float32) if hands else None,
        right_hand=None,
        image_size=(640 + i, 480),
        detector=detector,
    )


def write(data: Path, count: int, chunk: int = 4, emotion: str = "happy", **kw) -> SessionWriter:
    with SessionWriter(data, emotion, LAYOUT, source="test", chunk_samples=chunk, chunk_seconds=1e9,
                       **kw) as writer:
        for i in range(count):
            writer.append(fake_landmarks(i, pose=i % 2 == 0, hands=i == 1,
                                         detector="facemesh" if i == 3 else "holistic"), i / 10, f"f{i}.png")
    return writer


def chunk_offsets(path: Path) -> list[int]:
    """Byte offsets where each record starts (header first)."""
    data, offsets, offset = path.read_bytes(), [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += emrec.FRAME.size + struct.unpack_from("<I", data, offset + 5)[0]
    return offsets


def test_round_trip_keeps_raw_landmarks_and_layout(tmp_path):
    writer = write(tmp_path, 10, group="run-1")
    sessions = load_sessions(tmp_path)
    assert [s.path for s in sessions] == [writer.path] and sessions.skipped == []
    s = sessions[0]
    assert (s.emotion, s.group, s.layout, len(s)) == ("happy", "run-1", LAYOUT, 10)
    assert s.header["emusify_version"] and s.header["source"] == "test"
    lms = list(s.landmarks())
    assert [lm.face[0, 0] for lm in lms] == list(range(10))
    original = fake_landmarks(2)
    np.testing.assert_array_equal(lms[2].face, original.face)
    np.testing.assert_array_equal(lms[2].pose, original.pose)
    assert lms[1].pose is None and lms[1].left_hand is not None and lms[1].right_hand is None
    assert lms[3].detector == "facemesh" and lms[2].image_size == (642, 480)
    assert list(s.arrays["name"]) == [f"f{i}.png" for i in range(10)]
    assert np.allclose(s.arrays["timestamp"], np.arange(10) / 10)
    assert s.vectors(lambda lm: lm.face[:4, 0]).shape == (10, 4)


def test_load_sessions_reads_only_requested_emotions(tmp_path):
    write(tmp_path, 3, emotion="happy")
    write(tmp_path, 3, emotion="sad")
    assert [s.emotion for s in load_sessions(tmp_path, emotions=("sad",))] == ["sad"]
    assert load_sessions(tmp_path / "missing") == []


def test_no_file_under_final_name_until_first_chunk_and_none_for_empty_session(tmp_path):
    writer = SessionWriter(tmp_path, "happy", LAYOUT, source="test", chunk_samples=3, chunk_seconds=1e9)
    writer.append(fake_landmarks(0), 0.0)
    assert not writer.path.exists()
    assert [p.name for p in (tmp_path / "happy").iterdir()] == [f".{writer.path.name}.part"]
    writer.append(fake_landmarks(1), 0.1)
    writer.append(fake_landmarks(2), 0.2)
    assert writer.path.exists() and writer.written == 3
    writer.close()
    empty = SessionWriter(tmp_path, "happy", LAYOUT, source="test")
    empty.close()
    assert sorted(p.name for p in (tmp_path / "happy").iterdir()) == [writer.path.name]


def test_earlier_bytes_never_rewritten(tmp_path):
    writer = SessionWriter(tmp_path, "happy", LAYOUT, source="test", chunk_samples=2, chunk_seconds=1e9)
    for i in range(2):
        writer.append(fake_landmarks(i), i)
    before = writer.path.read_bytes()
    for i in range(2, 9):
        writer.append(fake_landmarks(i), i)
    writer.close()
    after = writer.path.read_bytes()
    assert len(after) > len(before) and after[: len(before)] == before
    assert len(read_session(writer.path)) == 9


def test_truncated_in_chunk_3_keeps_chunks_1_and_2_and_warns_once(tmp_path, caplog):
    path = write(tmp_path, 12, chunk=4).path
    offsets = chunk_offsets(path)  # header, chunk 1, 2, 3
    assert len(offsets) == 4
    with open(path, "r+b") as f:
        f.truncate(offsets[3] + 100)
    with caplog.at_level(logging.WARNING):
        session = load_sessions(tmp_path)[0]
        load_sessions(tmp_path)
    assert len(session) == 8 and session.torn
    warnings = [r.getMessage() for r in caplog.records if path.name in r.getMessage()]
    assert len(warnings) == 1 and "kept 2 complete chunk" in warnings[0]


def test_writer_killed_after_two_chunks_keeps_them(tmp_path):
    script = (
        "import os, sys, numpy as np\n"
        "from emusify.storage.dataset import SessionWriter\n"
        "from emusify.sensing.landmarks import Landmarks\n"
        "w = SessionWriter(sys.argv[1], 'sad', ('test-v1', 12), source='test', chunk_samples=5)\n"
        "for i in range(13):\n"
        "    w.append(Landmarks(np.zeros((468, 3), np.float32), None, None, None, (4, 3), 'holistic'), i)\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, timeout=60)
    assert done.returncode == 9
    sessions = load_sessions(tmp_path)
    assert [len(s) for s in sessions] == [10] and not sessions[0].torn


def test_damaged_or_pickled_chunk_is_not_loaded(tmp_path, caplog):
    path = write(tmp_path, 4, chunk=4).path
    blob = io.BytesIO()
    np.savez(blob, face=np.array([{"evil": 1}], dtype=object))
    payload = blob.getvalue()
    with open(path, "ab") as f:
        f.write(emrec.FRAME.pack(emrec.MAGIC, b"C", len(payload), zlib.crc32(payload)) + payload)
    with caplog.at_level(logging.WARNING):
        session = read_session(path)
    assert len(session) == 4 and session.torn
    assert path.name in caplog.text


def test_unreadable_files_are_skipped_by_name_and_counted(tmp_path, caplog):
    good = write(tmp_path, 3).path
    (tmp_path / "happy" / "junk.emrec").write_bytes(b"not a recording")
    (tmp_path / "happy" / "empty.emrec").write_bytes(b"")
    (tmp_path / "happy" / "notes.txt").write_text("ignored")
    with caplog.at_level(logging.WARNING):
        sessions = load_sessions(tmp_path)
    assert [s.path for s in sessions] == [good]
    assert sorted(p.name for p, _ in sessions.skipped) == ["empty.emrec", "junk.emrec"]
    assert "junk.emrec" in caplog.text and "2 unreadable" in caplog.text


def test_unwritable_folder_is_one_line_dataset_error_and_earlier_recordings_stay(tmp_path):
    earlier = write(tmp_path, 3, emotion="happy").path
    (tmp_path / "sad").write_text("a file where the sad folder should be")
    with pytest.raises(DatasetError) as caught:
        SessionWriter(tmp_path, "sad", LAYOUT, source="test")
    assert "\n" not in str(caught.value) and "--data" in str(caught.value)
    assert len(read_session(earlier)) == 3


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_dataset_error(tmp_path):
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy").chmod(0o500)
    try:
        with pytest.raises(DatasetError):
            SessionWriter(tmp_path, "happy", LAYOUT, source="test")
    finally:
        (tmp_path / "happy").chmod(0o700)


def test_full_disk_mid_session_keeps_earlier_chunks(tmp_path, monkeypatch):
    writer = SessionWriter(tmp_path, "happy", LAYOUT, source="test", chunk_samples=2, chunk_seconds=1e9)
    for i in range(4):
        writer.append(fake_landmarks(i), i)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    writer.append(fake_landmarks(4), 4)
    with pytest.raises(DatasetError, match="No space left") as caught:
        writer.append(fake_landmarks(5), 5)
    assert "\n" not in str(caught.value)
    monkeypatch.undo()
    writer.close()
    session = read_session(writer.path)
    assert len(session) == 4 and not session.torn  # the partial third chunk was cut off again


def test_emotion_must_be_a_plain_folder_name(tmp_path):
    with pytest.raises(DatasetError):
        SessionWriter(tmp_path, "../escape", LAYOUT, source="test")
    assert list(tmp_path.iterdir()) == []


def test_recording_from_a_newer_format_is_skipped_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "FORMAT", 2)
    write(tmp_path, 2)
    monkeypatch.undo()
    sessions = load_sessions(tmp_path)
    assert sessions == [] and "update emusify" in sessions.skipped[0][1]
