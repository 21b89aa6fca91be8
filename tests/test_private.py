"""Private by default: files 0600 and new folders 0700 at every write site, no network socket in a
whole run of run.py, and crafted files with absurd sizes refused without allocating them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emusify.errors import DatasetError, ModelError
from emusify.reading.model import Model, sidecar_path
from emusify.sensing.reference import make_reference, save_reference
from emusify.storage import emrec
from emusify.storage.dataset import SessionWriter, read_session
from emusify.storage.journal import Journal
from tests.disks import ROOT, VIDEO, landmarks, needs_video

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
LAYOUT = ("test", 6)


@pytest.fixture(autouse=True)
def open_umask():
    """The most permissive umask: the modes must come from Emusify, not from the user's umask."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def model(seed: int = 0) -> Model:
    rng = np.random.default_rng(seed)
    return Model(labels=("happy", "sad"), layout=LAYOUT, coefs=[rng.normal(size=(6, 2))],
                 intercepts=[rng.normal(size=2)], scaler_mean=np.zeros(6), scaler_scale=np.ones(6))


def test_recordings_are_0600_in_new_0700_folders(tmp_path):
    data = tmp_path / "home" / "data"
    with SessionWriter(data, "happy", LAYOUT, source="test", chunk_samples=2) as writer:
        writer.append(landmarks(0), 0.0)
        assert mode(writer._part) == 0o600  # already while it is being written
        writer.append(landmarks(1), 1.0)
    assert mode(writer.path) == 0o600
    assert mode(data / "happy") == mode(data) == mode(tmp_path / "home") == 0o700


def test_an_existing_shared_folder_is_left_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    save_reference(data / "reference.json", make_reference(np.ones((3, 6)), "test"))
    assert mode(data) == 0o755 and mode(data / "reference.json") == 0o600


def test_models_and_their_backups_are_0600(tmp_path):
    path = tmp_path / "models" / "emusify.npz"
    model(0).save(path)
    model(1).save(path)
    files = sorted(path.parent.iterdir())
    assert [p.name for p in files] == ["emusify.bak.json", "emusify.bak.npz", "emusify.json", "emusify.npz"]
    assert {mode(p) for p in files} == {0o600} and mode(path.parent) == 0o700


def test_the_reference_is_0600_and_stays_so_when_rewritten(tmp_path):
    path = tmp_path / "data" / "reference.json"
    for when in (1.0, 2.0):
        save_reference(path, make_reference(np.ones((3, 6)), "test", when=when))
        assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_the_journal_and_its_write_ahead_log_are_0600(tmp_path):
    path = tmp_path / "new" / "journal.sqlite"
    with Journal(path) as journal:
        journal.window(1.0, SimpleNamespace(frames=1, face_frames=1, votes={}, mood=None, share=0.0), "keep")
        files = [p for p in path.parent.iterdir()]
        assert {p.name for p in files} >= {"journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"}
        assert {mode(p) for p in files} == {0o600}
    assert mode(path.parent) == 0o700


def test_a_journal_made_before_is_narrowed_to_0600_and_keeps_its_rows(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:
        journal.window(1.0, SimpleNamespace(frames=1, face_frames=1, votes={}, mood=None, share=0.0), "keep")
    os.chmod(path, 0o644)
    with Journal(path) as journal:
        assert len(journal.windows()) == 1
    assert mode(path) == 0o600


# Crafted files ------------------------------------------------------------------------------------


def npy_claiming(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """A .npy whose header claims ``shape`` but which holds 64 bytes."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    return f.getvalue() + b"\0" * 64


def npz_of(members: dict[str, bytes]) -> bytes:
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return f.getvalue()


def peak_mb(action) -> float:
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 1e6


@pytest.mark.parametrize("rows", [10**12, 2 * 10**6])  # terabytes, and 11 GB (which overcommit might grant)
def test_a_recording_claiming_absurd_sizes_is_refused_without_allocating(tmp_path, rows):
    path = tmp_path / "data" / "happy" / "crafted.emrec"
    path.parent.mkdir(parents=True)
    header = {"format": emrec.FORMAT, "layout": {"name": "test", "length": 6}, "session_id": "crafted"}
    chunk = npz_of({"face": npy_claiming((rows, 468, 3)), "timestamp": npy_claiming((rows,), "<f8")})
    path.write_bytes(emrec.pack_record(b"H", json.dumps(header).encode()) + emrec.pack_record(b"C", chunk))

    def read() -> None:
        with pytest.raises(DatasetError) as caught:
            read_session(path)
        assert "\n" not in str(caught.value) and str(path) in str(caught.value)

    assert peak_mb(read) < 50


@pytest.mark.parametrize("shape", [(10**6, 10**6), (6, 2 * 10**8)])  # 8 TB, and 9.6 GB
def test_a_model_claiming_absurd_sizes_is_refused_without_allocating(tmp_path, shape):
    path = tmp_path / "m.npz"
    model().save(path)
    path.write_bytes(npz_of({"coef_0": npy_claiming(shape, "<f8"), "intercept_0": npy_claiming((2,), "<f8")}))
    side = json.loads(sidecar_path(path).read_text())
    side["weights_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()  # the sidecar vouches for it
    sidecar_path(path).write_text(json.dumps(side))

    def load() -> None:
        with pytest.raises(ModelError) as caught:
            Model.load(path, expected=LAYOUT)
        assert "\n" not in str(caught.value) and "not loaded" in str(caught.value)

    assert peak_mb(load) < 50


def test_a_huge_model_sidecar_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "m.npz"
    model().save(path)
    with open(sidecar_path(path), "r+b") as f:
        f.truncate(200 << 20)  # 200 MB (sparse: costs no disk)

    def load() -> None:
        with pytest.raises(ModelError, match="not a model sidecar"):
            Model.load(path, expected=LAYOUT)

    assert peak_mb(load) < 5


def test_an_honest_model_and_recording_still_load(tmp_path):
    path = tmp_path / "m.npz"
    model(4).save(path)
    assert np.array_equal(Model.load(path, expected=LAYOUT).coefs[0], model(4).coefs[0])
    with SessionWriter(tmp_path / "data", "happy", LAYOUT, source="test") as writer:
        for i in range(40):
            writer.append(landmarks(i), float(i))
    assert len(read_session(writer.path)) == 40


# No network ---------------------------------------------------------------------------------------

def outside_calls(trace: str) -> list[str]:
    """The traced calls that reach past this machine: connect/sendto to an address that is not
    loopback, and any listen()."""
    def outside(line: str) -> bool:
        return (re.search(r"\b(connect|sendto|sendmsg)\(", line) is not None
                and re.search(r"sa_family=AF_INET6?", line) is not None
                and re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', line) is None)

    return [line for line in trace.splitlines() if re.search(r"\blisten\(", line) or outside(line)]


@pytest.mark.slow
@needs_video
def test_run_py_opens_no_network_socket_in_a_whole_run(tmp_path):
    """strace follows every thread and child of a short run: nothing connects or sends past this
    machine and nothing listens (AF_UNIX, e.g. for D-Bus or X, and loopback are allowed)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    from tests.test_e2e import demo_songs, tiny_model

    trace = tmp_path / "trace.txt"
    command = [strace, "-f", "-qq", "-e", "trace=socket,connect,bind,listen,sendto,sendmsg", "-o", str(trace),
               sys.executable, "run.py", "--source", str(VIDEO), "--window", "2", "--every", "0.05",
               "--cycles", "2", "--journal", str(tmp_path / "j.sqlite"), "--data", str(tmp_path / "data"),
               "--songs", str(demo_songs(tmp_path)), "--model", str(tiny_model(tmp_path))]
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", PYGAME_HIDE_SUPPORT_PROMPT="1")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "PTRACE" in done.stderr.upper():
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr[-2000:]
    calls = trace.read_text()
    assert "window 2:" in done.stderr  # the whole run was traced
    families = sorted(set(re.findall(r"socket\((\w+)", calls)))
    print(f"socket families opened: {families or 'none'}")
    found = outside_calls(calls)
    assert not found, found[:10]
