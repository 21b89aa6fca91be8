"""benchmarks/personal.py's pieces on made-up people (no shared data): the set-up is recorded through
the recorder and learned by relearn.update_model, later windows are read as run.py reads them, and
no person is ever scored by a starter that learned from them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from emusify.reading.samples import samples_from_sessions, subset
from emusify.sensing import features
from emusify.sensing.reference import reference_from_vectors
from tests.test_features import make_face

ROOT = Path(__file__).resolve().parents[1]
SEVEN = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
PEOPLE = [f"taiwanese_tcced:{p:02d}" for p in range(1, 7)]


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import personal

    yield personal
    sys.modules.pop("personal", None)


def photo(person: int, mood: str, k: int):
    """A made-up photo: the person's own face, moved by the mood, a little different each time."""
    lm = make_face(seed=person)
    rng = np.random.default_rng(1000 * person + 10 * SEVEN.index(mood) + k)
    move = np.random.default_rng(SEVEN.index(mood)).normal(0.0, 0.01, lm.face.shape)
    face = lm.face + (mood != "neutral") * move + rng.normal(0.0, 0.001, lm.face.shape)
    return lm._replace(face=face.astype(np.float32), detector="tasks")


class MadeUpSession:
    """One made-up person's photos of one mood, shaped like benchmarks/starter.py's CachedSession."""

    def __init__(self, person: str, mood: str, photos: list) -> None:
        self.group, self.emotion, self.photos = person, mood, photos
        self.session_id, self.backend = f"{person}-{mood}", "tasks"

    def __len__(self) -> int:
        return len(self.photos)

    def landmarks(self):
        return iter(self.photos)


class Spy:
    """starter_without that fits the starter recipe on made-up people and notes whom each one learned."""

    def __init__(self, bench) -> None:
        from starter import fit_only, unit_of

        self.fit_only = fit_only
        made_up = [MadeUpSession(p, m, [photo(i, m, k) for k in range(3)])
                   for i, p in enumerate(PEOPLE) for m in SEVEN]
        self.samples = samples_from_sessions(made_up, (), unit_of=unit_of)
        self.learned: list[set[str]] = []

    def __call__(self, left_out: frozenset):
        kept = subset(self.samples, ~np.isin(self.samples.split, list(left_out)))
        self.learned.append(set(kept.split.tolist()))
        return self.fit_only(kept)


def person(bench, i: int):
    """Made-up performer i: 3 posed photos per mood, 2 later ones, 2 neutral photos as the shot."""
    posed = {m: [photo(i, m, k) for k in range(3)] for m in SEVEN}
    later = {m: [photo(i, m, 10 + k) for k in range(2)] for m in SEVEN}
    shot = reference_from_vectors(np.stack([features.face_vector(lm) for lm in posed["neutral"][:2]]))
    return bench.Person(PEOPLE[i], posed, later, later, shot)


def test_every_person_is_in_the_fold_left_out_of_their_starter(bench):
    left_out = bench.plan(PEOPLE, folds=4)
    assert all(p in left_out[p] for p in PEOPLE)
    assert set().union(*left_out.values()) == set(PEOPLE) and len(set(left_out.values())) == 4


def test_nobody_is_scored_by_a_starter_that_learned_them(bench):
    spy = Spy(bench)
    people = [person(bench, 0), person(bench, 3)]
    scored = list(bench.run(people, spy, folds=3, per_mood=1))
    assert [s.person for s in scored] == [PEOPLE[0], PEOPLE[3]]
    for s, learned in zip(scored, spy.learned):
        assert s.person not in learned and learned  # the starter learned others, never them
    for s in scored:  # one window per mood, read by the starter and both set-ups as run.py decides
        assert set(s.later) == {"starter", "songs", "every"}
        for decided in s.later.values():
            assert sorted(t for t, _ in decided) == sorted(SEVEN)
            assert all(m is None or m in SEVEN for _, m in decided)
    with pytest.raises(ValueError, match="trained on them"):
        bench.score(people[0], spy, frozenset({PEOPLE[1]}), 1, 0)


def test_the_set_up_records_every_mood_through_the_recorder(bench, tmp_path):
    from emusify.storage.sessions import load_sessions

    kept = bench.record_setup(person(bench, 1), ("happy", "sad"), tmp_path, np.random.default_rng(0))
    sessions = list(load_sessions(tmp_path))
    assert [s.emotion for s in sessions] == ["happy", "neutral", "sad"]  # neutral too: the reference face
    assert kept == sum(len(s) for s in sessions) and all(len(s) > 100 for s in sessions)  # 20 s at 10 fps


def test_a_songless_window_that_commits_to_a_song_folder_counts_as_playing_it(bench):
    decided = [("angry", "angry"), ("sad", None), ("happy", "sad"), ("fear", "angry"), ("fear", "fear"),
               ("surprise", "neutral"), ("disgust", None)]
    f = bench.figures(decided)
    assert f["right4"] == (1, 3) and f["right7"] == (2, 7)  # unsure is not right
    assert f["songless plays"] == (2, 4) and f["songless changes"] == (1, 4)  # neutral plays, changes nothing
    assert f["coverage"] == (2, 3) and f["precision"] == (1, 2)
