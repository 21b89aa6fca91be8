"""Choosing the landmark backend, and recordings and models saying which backend made them (no MediaPipe)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from emusify.cli import collect, run, train
from emusify.config import load_settings
from emusify.errors import ExitStatus, LandmarkError, UsageError
from emusify.sensing.features import LAYOUT
from emusify.sensing.landmarks import Landmarks, backend_of, resolve_backend
from emusify.storage.dataset import SessionWriter, backend_of_sessions, read_session


def test_auto_takes_tasks_on_every_python_and_holistic_only_when_asked() -> None:
    assert resolve_backend("auto", holistic_available=lambda: True) == "tasks"
    assert resolve_backend("auto", holistic_available=lambda: False) == "tasks"
    assert resolve_backend("tasks", holistic_available=lambda: True) == "tasks"
    assert resolve_backend("holistic", holistic_available=lambda: True) == "holistic"


def test_holistic_where_it_cannot_import_is_a_one_line_error() -> None:
    with pytest.raises(LandmarkError) as exc:
        resolve_backend("holistic", holistic_available=lambda: False)
    message = str(exc.value)
    assert "\n" not in message and "--backend tasks" in message and "0.10.21" in message
    with pytest.raises(LandmarkError, match="unknown landmark backend"):
        resolve_backend("dlib", holistic_available=lambda: True)


def test_backend_setting_from_setup_cfg_and_its_flag(tmp_path: Path, monkeypatch) -> None:
    cfg = tmp_path / "setup.cfg"
    cfg.write_text("[emusify]\nbackend = tasks\n")
    monkeypatch.setenv("EMUSIFY_CONFIG", str(cfg))
    assert load_settings().backend == "tasks"
    assert load_settings(overrides={"backend": "holistic"}).backend == "holistic"
    cfg.write_text("[emusify]\nbackend = fast\n")
    with pytest.raises(UsageError, match="backend must be one of auto, holistic, tasks"):
        load_settings()


@pytest.mark.parametrize("parser", [collect.build_parser, train.build_parser, run.build_parser])
def test_every_script_takes_backend(parser, capsys) -> None:
    assert parser().parse_args(["--backend", "tasks"]).backend == "tasks"
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["--backend", "dlib"])
    assert exc.value.code == ExitStatus.USAGE


def test_collect_opens_the_extractor_of_the_chosen_backend(tmp_path, monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(collect, "devices", lambda backend="auto": asked.append(backend) or 1 / 0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    with pytest.raises(ZeroDivisionError):
        collect.main(["happy", "--backend", "tasks", "--no-preview"])
    assert asked == ["tasks"]


def _landmarks(detector: str) -> Landmarks:
    return Landmarks(np.full((468, 3), 0.5, np.float32), None, None, None, (640, 480), detector,
                     np.zeros(52, np.float32))


def test_recordings_say_which_backend_made_them(tmp_path: Path) -> None:
    with SessionWriter(tmp_path, "happy", LAYOUT, "clip.mp4", backend="tasks") as writer:
        writer.append(_landmarks("tasks"), 0.0)
        writer.append(_landmarks("tasks-crop"), 0.25)
    session = read_session(writer.path)
    assert session.header["backend"] == "tasks" and session.backend == "tasks"
    assert [lm.detector for lm in session.landmarks()] == ["tasks", "tasks-crop"]
    # a recording from before this field: the backend follows from its detectors
    with SessionWriter(tmp_path, "sad", LAYOUT, "clip.mp4") as old:
        old.append(_landmarks("facemesh"), 0.0)
    assert read_session(old.path).backend == "holistic"
    assert backend_of(["holistic", "tasks"]) is None


def test_a_model_sidecar_names_its_backend() -> None:
    sessions = [SimpleNamespace(backend="tasks"), SimpleNamespace(backend="tasks")]
    assert backend_of_sessions(sessions) == "tasks"
    assert backend_of_sessions([*sessions, SimpleNamespace(backend="holistic")]) == "mixed"


def test_running_a_model_of_the_other_backend_warns_once(caplog, monkeypatch) -> None:
    caplog.set_level(logging.WARNING)
    tasks_model = SimpleNamespace(meta={"backend": "tasks"})
    assert run.warn_if_backends_differ(tasks_model, "tasks") is False
    assert run.warn_if_backends_differ(SimpleNamespace(meta={}), "holistic") is False  # old models
    assert run.warn_if_backends_differ(tasks_model, "holistic") is True
    assert len(caplog.records) == 1 and "--backend tasks" in caplog.records[0].getMessage()
    caplog.clear()
    monkeypatch.setattr(run, "_holistic_here", lambda: False)  # Python 3.13: holistic cannot run here
    assert run.warn_if_backends_differ(SimpleNamespace(meta={"backend": "holistic"}), "tasks") is True
    assert "train.py" in caplog.records[0].getMessage()


def test_train_writes_the_backend_into_the_sidecar(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    for g in range(3):
        for e, emotion in enumerate(("happy", "sad")):
            with SessionWriter(tmp_path / "data", emotion, LAYOUT, "clip", group=f"g{g}",
                               backend="tasks") as w:
                for i in range(12):
                    face = rng.uniform(0.3, 0.7, (468, 3)).astype(np.float32)
                    face[::7, 1] += 0.03 * e
                    w.append(Landmarks(face, None, None, None, (640, 480), "tasks"), float(i))
    model = tmp_path / "m.npz"
    status = train.main(["-q", "--data", str(tmp_path / "data"), "--model", str(model), "--prior", "none",
                         "--hidden", "8", "--max-steps", "50"])
    assert status == ExitStatus.OK
    assert json.loads(model.with_suffix(".json").read_text())["backend"] == "tasks"
