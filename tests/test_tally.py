import pytest

from emusify.reading.tally import Tally
from tests.fakes import LABELS, probs


def tally(**rules):
    defaults = {"min_confidence": 0.5, "min_share": 0.5, "min_face_frames": 4}
    defaults.update(rules)
    return Tally(LABELS, **defaults)


def feed(t, *parts, confidence=0.9):
    for mood, count in parts:
        for _ in range(count):
            t.add(None if mood is None else probs(mood, confidence))
    return t.result()


def test_clear_majority_wins_with_its_share():
    result = feed(tally(), ("happy", 6), ("sad", 2))
    assert result.mood == "happy"
    assert result.share == pytest.approx(0.75)
    assert result.votes["happy"] == 6 and result.votes["sad"] == 2
    assert (result.frames, result.face_frames) == (8, 8)


def test_frames_without_a_face_do_not_vote():
    result = feed(tally(), (None, 20), ("sad", 5))
    assert result.frames == 25 and result.face_frames == 5
    assert sum(result.votes.values()) == 5
    assert result.mood == "sad" and result.share == 1.0


def test_low_confidence_frames_do_not_vote():
    t = tally(min_confidence=0.6)
    for _ in range(10):
        assert t.add(probs("angry", 0.55)) is None
    for _ in range(4):
        assert t.add(probs("happy", 0.8)) == "happy"
    result = t.result()
    assert result.face_frames == 14
    assert result.votes["angry"] == 0
    assert result.mood == "happy"


def test_share_below_threshold_is_unsure():
    result = feed(tally(min_share=0.6), ("happy", 5), ("sad", 3), ("angry", 2))
    assert result.mood is None
    assert result.share == pytest.approx(0.5)


def test_too_few_voting_frames_is_unsure():
    assert feed(tally(min_face_frames=4), ("happy", 3)).mood is None
    assert feed(tally(min_face_frames=4), ("happy", 4)).mood == "happy"


def test_tie_for_the_lead_is_unsure():
    result = feed(tally(min_share=0.3), ("happy", 4), ("sad", 4), ("angry", 1))
    assert result.mood is None


def test_empty_window_is_unsure_with_zero_share():
    result = tally().result()
    assert result.mood is None and result.share == 0.0 and result.frames == 0


def test_summary_names_the_counts_and_outcome():
    text = feed(tally(), (None, 2), ("happy", 5), ("sad", 1)).summary()
    assert text == "8 frames, 6 with a face, 6 voted (happy 5, sad 1) -> happy (83%)"
    assert "unsure" in feed(tally(), ("sad", 1)).summary()


def test_wrong_probability_length_is_a_bug_not_a_vote():
    with pytest.raises(ValueError):
        tally().add([0.5, 0.5])
