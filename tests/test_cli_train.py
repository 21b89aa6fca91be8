"""train.py end to end on recordings written with dataset.SessionWriter (synthetic faces)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emusify.cli.train import main
from emusify.dataset import SessionWriter
from emusify.errors import ExitStatus
from emusify.features import LAYOUT
from emusify.landmarks import Landmarks
from emusify.model import Model

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EMOTIONS = ("angry", "happy", "sad")
MOUTH = np.arange(0, 468, 7)  # a spread of points the "emotions" move


def face(rng: np.random.Generator, emotion: int, base: np.ndarray) -> Landmarks:
    points = base + rng.normal(0, 0.002, base.shape)
    points[MOUTH, 1] += 0.02 * (emotion - 1)
    points[MOUTH[::2], 0] += 0.015 * (emotion == 0)
    return Landmarks(points.astype(np.float32), None, None, None, (640, 480), "facemesh")


def record(data: Path, groups: int, per: int = 15, seed: int = 0) -> None:
    """One collect.py run per group, one session per emotion in each."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, (468, 3))
    for g in range(groups):
        person = base + rng.normal(0, 0.003, base.shape)
        for e, emotion in enumerate(EMOTIONS):
            with SessionWriter(data, emotion, LAYOUT, "test", group=f"run{g}") as writer:
                for i in range(per):
                    writer.append(face(rng, e, person), float(i))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["-q", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_missing_data_folder_exits_1_and_names_collect(tmp_path, capsys):
    status, _, err = run(capsys, "--data", tmp_path / "nope", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.ERROR
    assert err.startswith("error: ") and "collect.py" in err and err.count("\n") == 1


def test_empty_data_folder_exits_1(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    status, _, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.ERROR and "collect.py" in err


@pytest.mark.parametrize("argv", [["--nope"], ["--calibration", "daily"], ["--folds", "x"]])
def test_bad_flag_exits_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == ExitStatus.USAGE
    assert "--help" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--augment", "flip"], ["--hidden", "big"], ["--folds", "1"]])
def test_bad_option_value_exits_2(tmp_path, capsys, argv):
    status, _, err = run(capsys, "--data", tmp_path, "--model", tmp_path / "m.npz", *argv)
    assert status == ExitStatus.USAGE and "train.py --help" in err


def test_train_saves_model_sidecar_and_confusion_png_and_reports(tmp_path, capsys):
    record(tmp_path / "data", groups=3)
    model_path = tmp_path / "models" / "mine.npz"
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", model_path, "--augment", "mirror",
                         "--hidden", "16", "--max-steps", "300", "--json", tmp_path / "train.json")
    assert status == ExitStatus.OK
    assert "samples per emotion:" in out and "angry" in out and "total" in out
    assert "samples per recording session (9):" in out and "group run2" in out
    assert "validation: leave-one-group-out over 3 groups" in out
    assert "accuracy" in out and "macro-F1" in out and "precision" in out and "confusion matrix" in out
    model = Model.load(model_path)
    assert model.labels == EMOTIONS
    assert model.meta["training"]["per_class"] == {e: 45 for e in EMOTIONS}
    assert model.meta["training"]["augmented"] == 135
    assert model.meta["validation"]["accuracy"] > 0.8
    assert (tmp_path / "models" / "mine.confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "train.json").read_text())["validation"]["scheme"].startswith("leave")
    status, _, _ = run(capsys, "--data", tmp_path / "data", "--model", model_path, "--hidden", "16",
                       "--max-steps", "300", "--calibration", "session-mean")
    assert status == ExitStatus.OK
    assert Model.load(model_path).calibration == "session-mean"
    assert Model.load(model_path.with_suffix(".bak.npz")).calibration == "none"


def test_one_session_trains_and_says_validation_is_weak(tmp_path, capsys, caplog):
    record(tmp_path / "data", groups=1, per=6)
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz", "--hidden", "8")
    assert status == ExitStatus.OK
    assert "validation: within-session (optimistic)" in out
    assert "validation across sessions is impossible" in caplog.text and "small dataset" in caplog.text
    assert Model.load(tmp_path / "m.npz").labels == EMOTIONS


@pytest.mark.slow
def test_evaluate_a_labelled_folder_with_mediapipe(tmp_path, capsys):
    pytest.importorskip("emusify.camera", reason="emusify.camera is not written yet")
    image = FIXTURES / "sergey.png"
    if not image.is_file():
        pytest.skip("tests/fixtures/sergey.png is missing")
    for folder in ("happy", "anger", "contempt"):
        (tmp_path / "faces" / folder).mkdir(parents=True)
        shutil.copy(image, tmp_path / "faces" / folder / "sergey.png")
    record(tmp_path / "data", groups=2, per=5)
    assert run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz", "--hidden", "8")[0] == 0
    status, out, _ = run(capsys, "--evaluate", tmp_path / "faces", "--model", tmp_path / "m.npz",
                         "--label-map", "anger=angry", "--json", tmp_path / "eval.json")
    assert status == ExitStatus.OK
    assert "2 images, faces found in 2" in out and "contempt (1)" in out
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["n_images"] == 2 and result["n_faces"] == 2
    assert result["skipped_labels"] == {"contempt": 1}
    assert result["confusion"]["labels"] == list(EMOTIONS)
    assert result["per_class"]["happy"]["support"] == 1 and result["per_class"]["angry"]["support"] == 1
    assert {"accuracy", "macro_f1"} <= set(result)


def test_json_may_not_overwrite_the_model_sidecar(tmp_path, capsys):
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "--data", tmp_path, "--model", model, "--json", tmp_path / "m.json")
    assert status == ExitStatus.USAGE and "sidecar" in err


def test_few_sessions_fine_tune_the_starter_model(tmp_path, capsys):
    record(tmp_path / "data", groups=1, per=10)  # one session per emotion: the starter is the prior
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.OK
    assert "prior: fine-tuning the starter model" in out and "1 recording session(s)" in out
    model = Model.load(tmp_path / "m.npz")
    assert model.labels == EMOTIONS and model.calibration == "reference"  # the starter is a "reference" model
    assert model.meta["training"]["prior"]["labels"][:2] == ["angry", "disgust"]  # the starter's moods
    assert model.meta["training"]["options"]["augment"] == ["mirror", "jitter"]


def test_enough_sessions_or_prior_none_train_from_scratch(tmp_path, capsys):
    record(tmp_path / "data", groups=3, per=8)
    for argv in ([], ["--prior", "none"]):
        status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                             "--max-steps", "200", *argv)
        assert status == ExitStatus.OK and "prior:" not in out
        assert "prior" not in Model.load(tmp_path / "m.npz").meta["training"]


def test_an_emotion_the_starter_does_not_know(tmp_path, capsys):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, (468, 3))
    for e, emotion in enumerate(("calm", "happy")):
        with SessionWriter(tmp_path / "data", emotion, LAYOUT, "test", group="run0") as writer:
            for i in range(8):
                writer.append(face(rng, e, base), float(i))
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.OK  # auto: trains from scratch, and says why
    assert "prior: none, training from scratch" in out and "does not know calm" in out
    status, _, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                         "--prior", "starter")
    assert status == ExitStatus.USAGE and "does not know calm" in err and err.count("\n") == 1


def test_one_emotion_with_the_prior_is_a_one_line_error(tmp_path, capsys):
    record(tmp_path / "data", groups=1, per=5)
    for emotion in ("angry", "sad"):
        shutil.rmtree(tmp_path / "data" / emotion)
    status, _, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.ERROR
    assert "at least two emotions" in err and err.count("\n") == 1


def test_prior_starter_with_a_network_of_ones_own_is_a_usage_error(tmp_path, capsys):
    record(tmp_path / "data", groups=1, per=5)
    status, _, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                         "--prior", "starter", "--hidden", "32")
    assert status == ExitStatus.USAGE and "--prior none" in err and err.count("\n") == 1
