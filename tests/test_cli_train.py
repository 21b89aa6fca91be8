"""train.py end to end on recordings written with dataset.SessionWriter (synthetic faces)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emusify.cli.train import main
from emusify.errors import ExitStatus
from emusify.reading.model import Model
from emusify.sensing.features import LAYOUT
from emusify.sensing.landmarks import Landmarks
from emusify.storage.dataset import SessionWriter

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STARTER = Path(__file__).resolve().parents[1] / "models" / "starter.npz"
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
@pytest.mark.parametrize("backend", ["auto", "tasks"])
def test_evaluate_a_labelled_folder_with_mediapipe(tmp_path, capsys, backend):
    pytest.importorskip("emusify.sensing.camera", reason="emusify.sensing.camera is not written yet")
    image = FIXTURES / "sergey.png"
    if not image.is_file():
        pytest.skip("tests/fixtures/sergey.png is missing")
    for folder in ("happy", "anger", "contempt"):
        (tmp_path / "faces" / folder).mkdir(parents=True)
        shutil.copy(image, tmp_path / "faces" / folder / "sergey.png")
    record(tmp_path / "data", groups=2, per=5)
    assert run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz", "--hidden", "8")[0] == 0
    status, out, _ = run(capsys, "--evaluate", tmp_path / "faces", "--model", tmp_path / "m.npz",
                         "--label-map", "anger=angry", "--json", tmp_path / "eval.json", "--backend", backend)
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
    assert "it keeps reading disgust, fear, neutral, surprise, which you did not record" in out
    model = Model.load(tmp_path / "m.npz")
    starter = Model.load(STARTER)
    assert model.labels == starter.labels  # the recorded moods and the starter's others (issue 23)
    assert model.calibration == starter.calibration  # the prior's way
    assert model.meta["training"]["prior"]["labels"][:2] == ["angry", "disgust"]  # the starter's moods
    assert model.meta["training"]["options"]["augment"] == ["mirror", "jitter"]


def test_three_sessions_of_every_starter_mood_or_prior_none_train_from_scratch(tmp_path, capsys):
    record_moods(tmp_path / "all", per=6, moods=Model.load(STARTER).labels, groups=3)
    record(tmp_path / "some", groups=3, per=8)
    for data, argv in (("all", []), ("some", ["--prior", "none"])):
        status, out, _ = run(capsys, "--data", tmp_path / data, "--model", tmp_path / "m.npz",
                             "--max-steps", "200", *argv)
        assert status == ExitStatus.OK and "prior:" not in out
        assert "prior" not in Model.load(tmp_path / "m.npz").meta["training"]


def test_three_sessions_of_some_moods_fine_tune_the_starter_keeping_its_other_moods(tmp_path, capsys):
    record(tmp_path / "data", groups=3, per=8)
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.OK and "it keeps reading disgust, fear, neutral, surprise" in out
    assert Model.load(tmp_path / "m.npz").labels == Model.load(STARTER).labels


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


# The reference face and small data ----------------------------------------------------------------

MOODS = ("angry", "happy", "neutral", "sad")


def record_moods(data: Path, per: int, moods=MOODS, imported: bool = False, seed: int = 1,
                 groups: int = 1) -> np.ndarray:
    """Recordings of one person (or an import of ``per`` photos per mood, no group ids); returns the face."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.3, 0.7, (468, 3))
    for g in range(groups):
        for e, emotion in enumerate(moods):
            source, group = ("import:photos", None) if imported else ("0", f"run{g}")
            with SessionWriter(data, emotion, LAYOUT, source, group=group) as writer:
                for i in range(per):
                    writer.append(face(rng, e, base), float(i))
    return base


def test_neutral_recordings_become_the_models_reference(tmp_path, capsys):
    from emusify.sensing.calibration import model_reference
    from emusify.sensing.features import face_vector

    base = record_moods(tmp_path / "data", per=8, groups=3)
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                         "--max-steps", "200")
    assert status == ExitStatus.OK, out
    assert "reference face: your relaxed face, the median of 24 neutral frames" in out
    model = Model.load(tmp_path / "m.npz")
    assert model.calibration == "reference" and model.meta["reference"]["people"] == 1
    rng = np.random.default_rng(7)
    relaxed, happy = (np.median([face_vector(face(rng, MOODS.index(m), base)) for _ in range(30)], axis=0)
                      for m in ("neutral", "happy"))
    assert np.linalg.norm(model.reference_mean - relaxed) < 0.5 * np.linalg.norm(model.reference_mean - happy)
    own = model_reference(model)
    assert own is not None and own.source == "recordings"  # run.py uses it before any shot
    np.testing.assert_allclose(own.vector, model.reference_mean)


def test_without_neutral_training_works_uncalibrated_and_says_what_to_record(tmp_path, capsys):
    record_moods(tmp_path / "data", per=8, moods=("angry", "happy", "sad"), groups=3)
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                         "--max-steps", "200", "--prior", "none")
    assert status == ExitStatus.OK
    line, = [x for x in out.splitlines() if x.startswith("no neutral recordings")]
    assert "python collect.py neutral" in line
    assert Model.load(tmp_path / "m.npz").calibration == "none"
    status, _, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                         "--calibration", "reference", "--prior", "none")
    assert status == ExitStatus.ERROR and "collect.py neutral" in err and err.count("\n") == 1


@pytest.mark.parametrize("prior", ["none", "auto"])
def test_two_imported_photos_per_mood_train_without_a_traceback(tmp_path, capsys, prior):
    record_moods(tmp_path / "data", per=2, imported=True)  # one import, no group ids: 8 independent photos
    status, out, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                           "--prior", prior)
    assert status == ExitStatus.OK, err
    assert "Traceback" not in out + err
    model = Model.load(tmp_path / "m.npz")
    moods = Model.load(STARTER).labels if prior == "auto" else MOODS  # a fine-tuned one keeps its 7
    assert model.labels == moods and model.meta["validation"]["folds"] == 2
    assert "validation: 2-fold over samples (no group ids)" in out
    if prior == "auto":  # one recording per mood: the starter is fine-tuned
        assert "prior: fine-tuning the starter model" in out
    else:
        assert model.calibration == "reference" and "neutral frames" in out


def test_one_photo_per_mood_is_saved_unvalidated(tmp_path, capsys, caplog):
    record_moods(tmp_path / "data", per=1, imported=True)
    status, out, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz",
                         "--prior", "none")
    assert status == ExitStatus.OK and "validation: none" in out
    assert "cannot validate yet" in caplog.text and Model.load(tmp_path / "m.npz").labels == MOODS


def test_fine_tuning_a_reference_starter_keeps_the_users_relaxed_face(tmp_path, capsys, monkeypatch):
    for g in range(4):  # a stand-in starter: imported people (their relaxed faces) and one recorded
        rng = np.random.default_rng(g)
        with SessionWriter(tmp_path / "people", "neutral", LAYOUT, "import:set", group=f"P{g}") as w:
            w.append(face(rng, 2, rng.uniform(0.3, 0.7, (468, 3))), 0.0)
    record_moods(tmp_path / "people", per=6, groups=1, seed=5)
    status, out, _ = run(capsys, "--data", tmp_path / "people", "--model", tmp_path / "starter.npz",
                         "--prior", "none", "--max-steps", "100")
    assert status == ExitStatus.OK and Model.load(tmp_path / "starter.npz").calibration == "reference"
    (tmp_path / "emusify.cfg").write_text(f"[emusify]\nstarter_model = {tmp_path / 'starter.npz'}\n")
    monkeypatch.setenv("EMUSIFY_CONFIG", str(tmp_path / "emusify.cfg"))
    record_moods(tmp_path / "me", per=2, imported=True, seed=9)
    status, out, _ = run(capsys, "--data", tmp_path / "me", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.OK and "prior: fine-tuning the starter model" in out
    model = Model.load(tmp_path / "m.npz")
    assert model.calibration == "reference" and model.meta["reference"]["source"] == "recordings"
    assert "the median of 2 neutral frames" in out
    shutil.rmtree(tmp_path / "me" / "neutral")
    status, out, _ = run(capsys, "--data", tmp_path / "me", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.OK and "the starter's average relaxed face" in out
    assert Model.load(tmp_path / "m.npz").meta["reference"]["source"] == "prior"


class PhotoExtractor:
    """Stands in for MediaPipe: a 'photo' (its file stem) is already its landmarks."""

    def __init__(self, static: bool = True, **_: object) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def extract(self, image):
        return image


def test_evaluate_reads_like_run_py_with_reference_and_moods(tmp_path, capsys, monkeypatch):
    import emusify.sensing.camera
    import emusify.sensing.features
    import emusify.sensing.landmarks
    from emusify.sensing.features import face_vector
    from emusify.sensing.reference import Reference, save_reference

    base = record_moods(tmp_path / "data", per=8, groups=3)
    trained = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz", "--max-steps", "200")
    assert trained[0] == 0
    rng = np.random.default_rng(3)
    other = base + rng.normal(0, 0.01, base.shape)  # someone else
    faces = {}
    for e, mood in enumerate(MOODS):
        for i in range(3):
            (tmp_path / "photos" / mood).mkdir(parents=True, exist_ok=True)
            (tmp_path / "photos" / mood / f"{mood}{i}.png").write_bytes(b"")
            faces[f"{mood}{i}"] = face(rng, e, other)
    (tmp_path / "relaxed").mkdir()
    for i in range(4):
        (tmp_path / "relaxed" / f"r{i}.jpg").write_bytes(b"")
        faces[f"r{i}"] = face(rng, MOODS.index("neutral"), other)
    monkeypatch.setattr(emusify.sensing.camera, "read_image", lambda p: p.stem)
    monkeypatch.setattr(emusify.sensing.landmarks, "LandmarkExtractor", PhotoExtractor)
    monkeypatch.setattr(emusify.sensing.landmarks, "open_extractor", lambda *a, **k: PhotoExtractor())
    monkeypatch.setattr(emusify.sensing.features, "face_vector", lambda name: face_vector(faces[name]))

    common = ("--evaluate", tmp_path / "photos", "--model", tmp_path / "m.npz", "--data", tmp_path / "data")
    status, out, _ = run(capsys, *common, "--json", tmp_path / "blind.json")
    blind = json.loads((tmp_path / "blind.json").read_text())
    assert status == 0 and "reference face: your neutral recordings (in the model)" in out
    assert {"accuracy", "macro_f1", "per_class", "confusion", "n_images", "n_faces"} <= set(blind)
    assert blind["n_images"] == 12 and blind["reference"]["from"] == "your neutral recordings (in the model)"

    # --accept-reference: these synthetic faces are nothing like the relaxed faces the check knows
    status, out, _ = run(capsys, *common, "--reference", tmp_path / "relaxed", "--moods", "sad,happy",
                         "--json", tmp_path / "shot.json", "--accept-reference")
    shot = json.loads((tmp_path / "shot.json").read_text())
    assert status == 0 and shot["reference"]["frames"] == 4 and shot["reference"]["from"].endswith("relaxed")
    assert shot["moods"] == ["happy", "sad"] and shot["n_images"] == 6
    assert shot["confusion"]["labels"] == ["happy", "sad"]

    later = Reference(np.zeros(face_vector(faces["r0"]).shape), 9, 4e9, 4e9, LAYOUT.name, None, "shot")
    save_reference(tmp_path / "data" / "reference.json", later)  # a shot taken after training: run.py uses it
    status, out, _ = run(capsys, *common, "--json", tmp_path / "stored.json")
    stored = json.loads((tmp_path / "stored.json").read_text())
    assert status == 0 and "the calibration shot of" in stored["reference"]["from"]


def test_evaluate_refuses_a_reference_that_is_not_a_relaxed_face(tmp_path, capsys, monkeypatch):
    import emusify.sensing.camera
    import emusify.sensing.features
    import emusify.sensing.landmarks
    from emusify.sensing.features import face_vector
    from emusify.sensing.shotcheck import RelaxedFaces

    rng = np.random.default_rng(5)
    base = rng.uniform(0.3, 0.7, (468, 3))
    faces = {}
    for name, mood in (("relaxed", "neutral"), ("smiling", "happy")):
        for i in range(3):
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / f"{name}{i}.png").write_bytes(b"")
            faces[f"{name}{i}"] = face(rng, MOODS.index(mood), base)
        (tmp_path / "photos" / mood).mkdir(parents=True)
        (tmp_path / "photos" / mood / f"{name}0.png").write_bytes(b"")
    relaxed, smiling = (face_vector(faces[f"{n}0"]) for n in ("relaxed", "smiling"))
    smile = (smiling - relaxed) / np.linalg.norm(smiling - relaxed) ** 2  # 1.0 at the smile
    check = RelaxedFaces(relaxed, ("happy",), smile[None], smile[None], np.zeros(relaxed.size), 0.0,
                         {"any": (0.5, 0.5, np.inf)}, LAYOUT.name)
    (tmp_path / "starter").mkdir()
    check.save(tmp_path / "starter" / "shotcheck.npz")  # beside the (configured) starter
    starter = tmp_path / "starter" / "starter.npz"
    (tmp_path / "emusify.cfg").write_text(f"[emusify]\nstarter_model = {starter}\n")
    monkeypatch.setenv("EMUSIFY_CONFIG", str(tmp_path / "emusify.cfg"))
    monkeypatch.setattr(emusify.sensing.camera, "read_image", lambda p: p.stem)
    monkeypatch.setattr(emusify.sensing.landmarks, "open_extractor", lambda *a, **k: PhotoExtractor())
    monkeypatch.setattr(emusify.sensing.features, "face_vector", lambda name: face_vector(faces[name]))
    common = ("--evaluate", tmp_path / "photos", "--model", STARTER, "--data", tmp_path / "data")

    status, _, err = run(capsys, *common, "--reference", tmp_path / "smiling")
    assert status == ExitStatus.ERROR and err.count("\n") == 1
    assert "seem to be smiling" in err and "--accept-reference" in err
    status, out, err = run(capsys, *common, "--reference", tmp_path / "smiling", "--accept-reference")
    assert status == ExitStatus.OK and "3 face(s) in" in out
    status, out, _ = run(capsys, *common, "--reference", tmp_path / "relaxed")
    assert status == ExitStatus.OK and "3 face(s) in" in out


@pytest.mark.parametrize("argv, message", [
    (["--moods", "angry,calm"], "--moods: unknown mood calm"),
    (["--moods", "happy"], "fewer than two moods"),
])
def test_evaluate_with_unknown_moods_is_a_usage_error(tmp_path, capsys, argv, message):
    status, _, err = run(capsys, "--evaluate", tmp_path, "--model", STARTER, *argv)
    assert status == ExitStatus.USAGE and message in err and err.count("\n") == 1


def test_reference_without_evaluate_is_a_usage_error(tmp_path, capsys):
    record_moods(tmp_path / "data", per=2)
    status, _, err = run(capsys, "--data", tmp_path / "data", "--reference", tmp_path)
    assert status == ExitStatus.USAGE and "--evaluate" in err


@pytest.mark.slow
def test_import_two_photos_per_mood_and_train(tmp_path, capsys, monkeypatch):
    """The issue's case end to end: collect.py --import of 2 images per mood, then train.py."""
    cv2 = pytest.importorskip("cv2")
    from emusify.cli import collect

    image = cv2.imread(str(FIXTURES / "sergey.png"))
    h, w = image.shape[:2]
    def shift(dx: int, dy: int):
        return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h))

    variants = [  # copies that differ a little, like photos of one person
        image, cv2.flip(image, 1), shift(12, 8), cv2.resize(image, (int(w * 0.8), int(h * 0.8))),
        shift(-10, 0), cv2.resize(image, (int(w * 1.2), int(h * 1.2))), cv2.GaussianBlur(image, (5, 5), 0),
        cv2.convertScaleAbs(image, alpha=1.1, beta=10),
    ]
    for i, mood in enumerate(MOODS):
        (tmp_path / "photos" / mood).mkdir(parents=True)
        for j in range(2):
            cv2.imwrite(str(tmp_path / "photos" / mood / f"{j}.png"), variants[2 * i + j])
    monkeypatch.chdir(tmp_path)
    assert collect.main(["--import", "photos", "--data", "data", "-q"]) == ExitStatus.OK
    for prior in ("none", "auto"):
        status, out, err = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / f"{prior}.npz",
                               "--prior", prior)
        assert status == ExitStatus.OK, err
        assert "samples per emotion" in out and "Traceback" not in out + err
        assert Model.load(tmp_path / f"{prior}.npz").labels == MOODS


def test_a_personal_model_of_four_moods_reads_a_surprised_face_as_the_starter_does(tmp_path, capsys):
    from emusify.music.policy import parse_policy
    from emusify.reading.predictor import Predictor

    record_moods(tmp_path / "data", per=10)  # angry, happy, neutral, sad once each: the demo library's
    status, _, _ = run(capsys, "--data", tmp_path / "data", "--model", tmp_path / "m.npz")
    assert status == ExitStatus.OK
    model, starter = Model.load(tmp_path / "m.npz"), Model.load(STARTER)
    surprised = read_as(starter, "surprise", count=20)  # deviations from the relaxed face
    assert (starter.predict_proba(surprised).argmax(axis=1) == starter.labels.index("surprise")).all()
    proba = Predictor(model).predict(model.reference_mean + surprised)
    read = [model.labels[i] for i in proba.argmax(axis=1)]
    assert np.mean([mood == "surprise" for mood in read]) >= 0.8  # before: angry, happy, neutral or sad
    policy, folders = parse_policy("match"), ("angry", "happy", "neutral", "sad")
    choice = policy.choose("surprise", "happy", folders)
    assert choice.folder is None  # a window led by surprise keeps the music that plays


def read_as(model: Model, mood: str, count: int, steps: int = 200) -> np.ndarray:
    """``count`` deviations a one-hidden-layer ``model`` reads as ``mood`` (gradient ascent on its
    log-probability from small random deviations, in the model's standardised space)."""
    (W1, W2), (b1, b2) = model.coefs, model.intercepts
    target = np.eye(len(model.labels))[model.labels.index(mood)]
    a = 0.3 * np.random.default_rng(3).normal(size=(count, len(model.scaler_mean)))
    for _ in range(steps):
        h = np.maximum(a @ W1 + b1, 0.0)
        z = h @ W2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        a += 0.1 * (((target - p) @ W2.T) * (h > 0)) @ W1.T
    return model.scaler_mean + a * model.scaler_scale
