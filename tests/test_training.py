"""Training on synthetic feature vectors: honest grouped splits, calibration, warnings, metrics."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from emusify.errors import DatasetError, UsageError
from emusify.reading import training
from emusify.reading.evaluation import evaluate_folder, metrics, parse_label_map, save_confusion_png
from emusify.reading.predictor import Predictor
from emusify.reading.samples import samples_from_sessions
from emusify.reading.training import TrainOptions, make_splits, train
from emusify.sensing.reference import reference_from_vectors

EMOTIONS = ("angry", "happy", "neutral", "sad")
D = 12
LAYOUT = ("test-v1", D)
FAST = TrainOptions(estimator="logistic", alpha=1.0, folds=3)  # quick; the dense net where it matters
MLP = TrainOptions(hidden=(16,), max_steps=300, folds=3)
AUGMENTERS = {"mirror": lambda v: v + np.r_[1000.0, np.zeros(D - 1)], "jitter": lambda v: v + 0.01}


@dataclass
class FakeSession:
    """A recording whose "landmarks" are already feature vectors."""

    emotion: str
    session_id: str
    group: str | None
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)

    def landmarks(self):
        return iter(self.rows)


def samples(sessions, augment=()):
    return samples_from_sessions(sessions, augment, vectorize=np.asarray, augmenters=AUGMENTERS)


def recordings(groups: int, per: int = 20, signal: float = 3.0, person: float = 0.0, seed: int = 0,
               emotions=EMOTIONS, group_ids: bool = True) -> list[FakeSession]:
    """One session per (group, emotion); feature 0 holds the group number (as collect.py runs do)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, signal, (len(emotions), D))
    sessions = []
    for g in range(groups):
        offset = rng.normal(0, person, D)
        for e, emotion in enumerate(emotions):
            rows = centres[e] + offset + rng.normal(0, 1, (per, D))
            rows[:, 0] = g
            sessions.append(FakeSession(emotion, f"s{g}-{emotion}", f"g{g}" if group_ids else None, rows))
    return sessions


@pytest.mark.parametrize("groups, folds, seed", [(2, 5, 0), (3, 3, 1), (5, 5, 2), (9, 4, 3), (12, 5, 4)])
def test_split_never_puts_one_group_on_both_sides(groups, folds, seed):
    s = samples(recordings(groups, per=5, seed=seed))
    scheme, splits, _ = make_splits(s, folds, seed)
    assert len(splits) == min(folds, groups)
    for train_idx, test_idx in splits:
        assert not set(s.split[train_idx]) & set(s.split[test_idx])
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested) == list(range(len(s.y)))  # every sample is validated exactly once
    assert ("leave-one-group-out" in scheme) == (groups <= folds)


def test_augmented_copies_of_held_out_groups_never_train(monkeypatch):
    seen = []
    real = training.fit_pipeline

    def spy(X, y, labels, options, bar=None):
        seen.append((set(X[X[:, 0] < 500, 0]), set(X[X[:, 0] >= 500, 0] - 1000)))
        return real(X, y, labels, options, bar)

    monkeypatch.setattr(training, "fit_pipeline", spy)
    model = train(samples(recordings(4, per=10), augment=("mirror",)), LAYOUT, FAST, progress=False)
    assert len(seen) == 4  # 3 folds + the final fit
    for originals, mirrored in seen[:-1]:
        assert mirrored == originals and len(originals) < 4
    assert seen[-1] == ({0, 1, 2, 3}, {0, 1, 2, 3})
    assert model.meta["training"]["augmented"] == 4 * 4 * 10


def test_honest_validation_does_not_reward_memorizing_sessions():
    # No emotion signal at all, but every session looks different: only memorizing sessions
    # would score; held-out sessions must come out near chance (0.25).
    sessions = recordings(3, per=20, signal=0.0)
    rng = np.random.default_rng(5)
    for s in sessions:
        s.rows[:, 1:] += rng.normal(0, 4, D - 1)
    model = train(samples(sessions), LAYOUT, FAST, progress=False)
    assert model.meta["validation"]["accuracy"] < 0.45


def test_a_real_signal_is_learned_and_reported():
    model = train(samples(recordings(3, per=20)), LAYOUT, MLP, progress=False)
    v = model.meta["validation"]
    assert v["accuracy"] > 0.9 and v["macro_f1"] > 0.9 and v["n"] == 3 * 4 * 20
    assert v["confusion"]["labels"] == list(EMOTIONS) == list(model.labels)
    assert sum(map(sum, v["confusion"]["matrix"])) == v["n"]
    assert model.meta["training"]["per_class"] == {e: 60 for e in EMOTIONS}
    assert len(model.meta["training"]["sessions"]) == 12
    assert set(model.meta["versions"]) >= {"numpy", "scikit-learn", "python"}


def test_session_mean_calibration_helps_when_people_differ():
    sessions = recordings(5, per=20, signal=1.0, person=6.0, seed=3)
    plain = train(samples(sessions), LAYOUT, dataclasses.replace(FAST, folds=5), progress=False)
    options = dataclasses.replace(FAST, folds=5, calibration="session-mean")
    calibrated = train(samples(sessions), LAYOUT, options, progress=False)
    assert calibrated.meta["validation"]["accuracy"] > plain.meta["validation"]["accuracy"] + 0.2
    assert calibrated.calibration == "session-mean" and calibrated.reference_mean.shape == (D,)
    # A new person: once the Predictor has seen their frames, it reads them like the training people.
    new = recordings(1, per=50, signal=1.0, person=6.0, seed=3)  # same emotion centres
    rows = np.concatenate([s.rows for s in new])
    rows[:, 1:] += np.random.default_rng(9).normal(0, 6.0, D - 1)  # someone else's face
    truth = np.repeat(EMOTIONS, 50)
    predictor = Predictor(calibrated)
    predictor.predict(rows)  # warm up on this person's frames
    guess = np.array(calibrated.labels)[predictor.predict(rows).argmax(axis=1)]
    assert (guess == truth).mean() > 0.6


def test_one_session_trains_with_a_clear_warning(caplog):
    one = [FakeSession(e, "only", "g0", np.random.default_rng(i).normal(3 * i, 1, (6, D)))
           for i, e in enumerate(EMOTIONS)]
    with caplog.at_level(logging.WARNING):
        model = train(samples(one), LAYOUT, FAST, progress=False)
    v = model.meta["validation"]
    assert v["scheme"] == "within-session (optimistic)" and v["n"] == 8  # 2 of 6 per emotion held out
    text = caplog.text
    assert "validation across sessions is impossible" in text and "small dataset" in text
    assert "collect.py" in text
    assert model.predict(np.full((1, D), 9.0)) == ["sad"]


def test_one_mood_in_two_sessions_is_not_scored_alone_across_them(caplog):
    """One collect.py run of every mood and one correction (happy): the held-out side would be happy only."""
    run = recordings(1, per=12)
    correction = FakeSession("happy", "correction", "correction", run[1].rows[:5] + 0.1)
    with caplog.at_level(logging.WARNING):
        model = train(samples(run + [correction]), LAYOUT, FAST, progress=False)
    v = model.meta["validation"]
    assert v["scheme"] == "within-session (optimistic)"
    assert sorted(v["per_class"]) == sorted(EMOTIONS)  # every mood is scored, not happy alone
    assert "only 'happy' was recorded in two sessions/groups" in caplog.text


def test_too_few_samples_for_any_split_still_trains():
    tiny = [FakeSession(e, "only", "g0", np.full((1, D), 5.0 * i)) for i, e in enumerate(EMOTIONS)]
    model = train(samples(tiny), LAYOUT, FAST, progress=False)
    assert model.meta["validation"]["scheme"] == "none"
    assert "accuracy" not in model.meta["validation"]
    assert model.predict(np.full((1, D), 10.0)) == ["neutral"]


def test_frames_without_group_count_as_independent_with_a_warning():
    s = samples(recordings(1, per=10, group_ids=False))
    scheme, splits, notes = make_splits(s, 5)
    assert "no group ids" in scheme and len(splits) == 5
    assert any("optimistic" in note for note in notes)


def test_one_emotion_is_not_enough():
    with pytest.raises(DatasetError, match="two emotions.*collect.py"):
        train(samples(recordings(2, emotions=("happy",))), LAYOUT, FAST, progress=False)


def test_unusable_landmarks_are_skipped(caplog):
    def vectorize(v):
        if np.isnan(v).any():
            raise ValueError("degenerate")
        return v

    rows = np.ones((5, D))
    rows[2] = np.nan
    s = samples_from_sessions([FakeSession("happy", "s", "g", rows)], vectorize=vectorize, augmenters={})
    assert len(s.y) == 4 and s.sessions[0]["samples"] == 4
    assert "1 sample(s) with unusable landmarks" in caplog.text


def test_oversampling_rescues_a_rare_emotion():
    rng = np.random.default_rng(1)
    common = FakeSession("happy", "a", "g0", rng.normal(0, 1, (300, D)))
    rare = FakeSession("sad", "b", "g0", rng.normal(0.8, 1, (15, D)))
    probe = rng.normal(0.8, 1, (200, D))
    recall = {}
    for balance in ("oversample", "none"):
        options = dataclasses.replace(MLP, balance=balance)
        model = train(samples([common, rare]), LAYOUT, options, progress=False)
        recall[balance] = np.mean(np.array(model.predict(probe)) == "sad")
    assert recall["oversample"] > recall["none"] + 0.2


def test_metrics_follow_the_label_order():
    truth = ["happy", "happy", "sad", "sad", "angry"]
    guess = ["happy", "sad", "sad", "sad", "happy"]
    m = metrics(truth, guess, ["sad", "happy", "angry", "neutral"])
    assert m["accuracy"] == 0.6
    assert m["confusion"]["labels"] == ["sad", "happy", "angry", "neutral"]
    assert m["confusion"]["matrix"][1] == [1, 1, 0, 0]  # true happy: one read as sad, one right
    assert m["per_class"]["sad"] == {"precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2}
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3, abs=1e-4)  # neutral: no support


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    rng = np.random.default_rng(3)
    labels = ["sad", "happy", "angry", "neutral"]
    truth = list(rng.choice(labels[:3], 200))  # neutral never true: left out of macro-F1
    guess = list(rng.choice(labels, 200))
    m = metrics(truth, guess, labels)
    p, r, f, s = precision_recall_fscore_support(truth, guess, labels=labels, zero_division=0)
    assert [m["per_class"][c]["f1"] for c in labels] == pytest.approx(list(f), abs=1e-4)
    assert [m["per_class"][c]["precision"] for c in labels] == pytest.approx(list(p), abs=1e-4)
    expected = f1_score(truth, guess, labels=labels[:3], average="macro")
    assert m["macro_f1"] == pytest.approx(expected, abs=1e-4)
    assert m["confusion"]["matrix"] == confusion_matrix(truth, guess, labels=labels).tolist()


def test_confusion_png_is_written(tmp_path):
    out = save_confusion_png({"labels": ["a", "b"], "matrix": [[3, 1], [0, 4]]}, tmp_path / "m.confusion.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.confusion.png"]


def test_label_map():
    assert parse_label_map("anger=angry, happiness = happy,") == {"anger": "angry", "happiness": "happy"}
    assert parse_label_map(None) == {}
    with pytest.raises(UsageError, match="FOLDER=LABEL"):
        parse_label_map("anger")


class FakeExtractor:
    def extract(self, image):
        return None if image == "blank" else image


def test_evaluate_folder_with_fakes(tmp_path):
    model = train(samples(recordings(2, per=10, signal=10.0)), LAYOUT, FAST, progress=False)
    centre = {e: np.mean([s.rows.mean(axis=0) for s in recordings(2, per=10, signal=10.0)
                          if s.emotion == e], axis=0) for e in EMOTIONS}
    for folder, name in [("happy", "a"), ("happy", "blank"), ("anger", "b"), ("contempt", "c"), ("sad", "d")]:
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{name}.png").write_bytes(b"")
    (tmp_path / "sad" / "notes.txt").write_text("not an image")
    vectors = {"a": centre["happy"], "b": centre["angry"], "d": centre["happy"]}
    result = evaluate_folder(tmp_path, model, {"anger": "angry"}, progress=False, extractor=FakeExtractor(),
                             reader=lambda p: p.stem, vectorize=lambda name: vectors[name])
    assert result["n_images"] == 4 and result["n_faces"] == 3
    assert result["skipped_labels"] == {"contempt": 1}
    assert result["accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert result["per_class"]["sad"]["recall"] == 0.0 and result["per_class"]["sad"]["support"] == 1
    assert result["confusion"]["labels"] == list(model.labels)


def test_evaluate_folder_without_known_labels(tmp_path):
    model = train(samples(recordings(2, per=5)), LAYOUT, FAST, progress=False)
    (tmp_path / "contempt").mkdir()
    (tmp_path / "contempt" / "x.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="--label-map"):
        evaluate_folder(tmp_path, model, progress=False, extractor=FakeExtractor(), reader=str)
    with pytest.raises(DatasetError, match="not a folder"):
        evaluate_folder(Path(tmp_path / "nope"), model, progress=False, extractor=FakeExtractor())


def test_reference_calibration_centres_each_person_on_their_neutral_face():
    from emusify.reading.samples import calibrate

    sessions = recordings(3, per=10, signal=1.0, person=6.0, seed=5)
    s = samples(sessions, augment=("jitter",))
    centred, mean_ref = calibrate(s, "reference")
    refs = []
    for g in ("g0", "g1", "g2"):
        neutral = (s.unit == g) & (s.y == "neutral")
        refs.append(np.median(s.X[neutral], axis=0))
        np.testing.assert_allclose(np.median(centred.X[neutral], axis=0), 0.0, atol=1e-5)
        aug_neutral = neutral[s.aug_of]
        np.testing.assert_allclose(np.median(centred.aug_X[aug_neutral], axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(mean_ref, np.mean(refs, axis=0), rtol=1e-5)


def test_people_without_neutral_rows_are_dropped_or_offset(caplog):
    from emusify.reading.samples import calibrate

    sessions = [s for s in recordings(3, per=10, signal=1.0, person=6.0, seed=5)
                if not (s.group == "g2" and s.emotion == "neutral")]
    s = samples(sessions, augment=("jitter",))
    with caplog.at_level(logging.WARNING):
        dropped, _ = calibrate(s, "reference", missing="drop")
    assert "g2" not in set(dropped.unit) and len(dropped.y) == 80 and len(dropped.aug_X) == 80
    assert "1 calibration unit(s) without neutral rows left out (30 rows)" in caplog.text
    assert (dropped.aug_of < len(dropped.y)).all()
    offset, _ = calibrate(s, "reference", missing="offset")
    assert len(offset.y) == len(s.y)
    g2 = offset.unit == "g2"  # its centre is estimated: its moods land near the other people's
    for emotion in ("angry", "happy", "sad"):
        others = offset.X[(offset.unit != "g2") & (offset.y == emotion)].mean(axis=0)
        mine = offset.X[g2 & (offset.y == emotion)].mean(axis=0)
        assert np.abs(mine - others)[1:].max() < 2.5  # the person offset (sd 6) is gone
    with pytest.raises(DatasetError, match="record neutral"):
        calibrate(samples([x for x in sessions if x.emotion != "neutral"]), "reference")


def test_reference_training_reads_a_new_person_from_their_relaxed_face():
    sessions = recordings(5, per=20, signal=1.0, person=6.0, seed=3)
    options = dataclasses.replace(FAST, folds=5, calibration="reference")
    model = train(samples(sessions), LAYOUT, options, progress=False)
    assert model.calibration == "reference" and model.reference_mean.shape == (D,)
    assert model.meta["validation"]["accuracy"] > 0.8
    new = recordings(1, per=50, signal=1.0, person=6.0, seed=3)
    rows = np.concatenate([s.rows for s in new])
    rows[:, 1:] += np.random.default_rng(9).normal(0, 6.0, D - 1)  # someone else's face
    truth = np.repeat(EMOTIONS, 50)
    shot = reference_from_vectors(rows[truth == "neutral"][:10])  # a 10-frame calibration shot
    guess = np.array(model.labels)[Predictor(model, reference=shot).predict(rows).argmax(axis=1)]
    assert (guess == truth).mean() > 0.8
    uncalibrated = np.array(model.labels)[Predictor(model).predict(rows).argmax(axis=1)]
    assert (uncalibrated == truth).mean() < (guess == truth).mean() - 0.2


def test_reference_validation_never_scores_a_held_out_persons_calibration_shot():
    sessions = recordings(5, per=20, signal=1.0, person=6.0, seed=3)  # 5 people, 4 moods, 20 rows each
    options = dataclasses.replace(FAST, folds=5, calibration="reference")
    validation = train(samples(sessions), LAYOUT, options, progress=False).meta["validation"]
    # each person is held out once and gives 10 of their 20 neutral rows as the shot, never scored
    assert validation["n"] == 5 * 4 * 20 - 5 * 10
    assert validation["per_class"]["neutral"]["support"] == 5 * 10


def test_evaluate_never_calibrates_on_the_scored_images(tmp_path):
    sessions = recordings(4, per=20, signal=3.0, person=0.0, seed=2)
    model = train(samples(sessions), LAYOUT, dataclasses.replace(FAST, calibration="reference"),
                  progress=False)
    rng = np.random.default_rng(1)
    face = rng.normal(0, 20.0, D)  # this person's face is far from the training people's
    centre = {e: np.mean([s.rows.mean(axis=0) for s in sessions if s.emotion == e], axis=0) for e in EMOTIONS}
    vectors = {}
    for e in EMOTIONS:
        (tmp_path / "photos" / e).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "photos" / e / f"{e}{i}.png").write_bytes(b"")
            vectors[f"{e}{i}"] = centre[e] + face + rng.normal(0, 0.3, D)
    (tmp_path / "relaxed").mkdir()
    for i in range(4):
        (tmp_path / "relaxed" / f"r{i}.png").write_bytes(b"")
        vectors[f"r{i}"] = centre["neutral"] + face + rng.normal(0, 0.3, D)
    fakes = dict(progress=False, extractor=FakeExtractor(), reader=lambda p: p.stem,
                 vectorize=lambda name: vectors[name])
    from emusify.reading.evaluation import reference_from_folder

    blind = evaluate_folder(tmp_path / "photos", model, **fakes)
    assert blind["reference"]["source"].startswith("the model's reference_mean")
    shot = reference_from_folder(tmp_path / "relaxed", **fakes)
    assert shot.frames == 4
    seen = evaluate_folder(tmp_path / "photos", model, reference=shot, **fakes)
    assert seen["reference"] == {"source": "shot", "frames": 4, "layout": shot.layout}
    # centring on the folder's own mean (the old leak) would read all of them right
    assert seen["accuracy"] == 1.0 and blind["accuracy"] <= 0.75
    four = evaluate_folder(tmp_path / "photos", model, reference=shot, moods=["sad", "happy"], **fakes)
    assert four["moods"] == ["happy", "sad"] and four["n_images"] == 6
    assert four["confusion"]["labels"] == ["happy", "sad"]
    assert four["skipped_labels"] == {"angry": 3, "neutral": 3}
    assert set(seen) >= {"accuracy", "macro_f1", "per_class", "confusion", "n_images", "n_faces"}
    with pytest.raises(UsageError, match="unknown mood calm"):
        evaluate_folder(tmp_path / "photos", model, moods=["calm", "sad"], **fakes)
    with pytest.raises(DatasetError, match="no face"):
        reference_from_folder(tmp_path / "photos" / "sad", progress=False, extractor=FakeExtractor(),
                              reader=lambda p: "blank", vectorize=lambda name: vectors[name])


def test_a_folds_references_come_from_its_training_side():
    from emusify.reading.samples import calibrate

    sessions = recordings(3, per=10, signal=1.0, person=0.0, seed=6)
    for session in sessions:  # every session of g1 is shifted: another day, another light
        if session.group == "g1":
            session.rows[:, 1:] += 4.0
    s = samples(sessions)
    s = s._replace(unit=np.full(len(s.y), "you"))  # one person, as train.py makes a user's recordings
    fit = s.split != "g1"
    centred, _ = calibrate(s, "reference", fit_rows=fit)
    held_out = (s.split == "g1") & (s.y == "neutral")
    assert np.median(centred.X[held_out][:, 1:]) == pytest.approx(4.0, abs=0.5)  # not centred on itself
    everyone, _ = calibrate(s, "reference")
    assert np.abs(np.median(everyone.X[s.y == "neutral"][:, 1:], axis=0)).max() < 0.5
    alone = s._replace(unit=s.split)  # g1 is its own person, held out entirely: its own relaxed face
    centred, _ = calibrate(alone, "reference", fit_rows=fit)
    assert np.abs(np.median(centred.X[held_out][:, 1:], axis=0)).max() < 0.5
