import pytest

from emusify.errors import UsageError
from emusify.music.policy import parse_policy

FOLDERS = ("angry", "happy", "neutral", "sad")


def test_match_plays_the_mood_folder():
    policy = parse_policy("match")
    assert policy.choose("sad", None, FOLDERS).folder == "sad"
    assert policy.choose("angry", "happy", FOLDERS).folder == "angry"


def test_uplift_lifts_low_moods():
    policy = parse_policy("uplift")
    assert policy.choose("sad", None, FOLDERS).folder == "happy"
    assert policy.choose("angry", None, FOLDERS).folder == "neutral"
    assert policy.choose("angry", None, FOLDERS + ("calm",)).folder == "calm"
    assert policy.choose("happy", "sad", FOLDERS).folder == "happy"


def test_explicit_map_with_alternatives_and_unmapped_moods():
    policy = parse_policy(" sad = happy , angry=calm|neutral ")
    assert policy.choose("sad", None, FOLDERS).folder == "happy"
    assert policy.choose("angry", None, FOLDERS).folder == "neutral"
    assert policy.choose("happy", None, FOLDERS).folder == "happy"


@pytest.mark.parametrize("spec", ["cheerful", "sad=", "=happy", "sad=happy,sad=neutral", "sad=happy,angry"])
def test_invalid_policy_is_a_usage_error(spec):
    with pytest.raises(UsageError) as info:
        parse_policy(spec)
    assert info.value.exit_status == 2


def test_map_naming_a_mood_the_model_lacks_is_refused():
    with pytest.raises(UsageError, match="unknown mood 'glum'"):
        parse_policy("glum=happy", moods=FOLDERS)


def test_neutral_keeps_the_music_but_starts_neutral_when_silent():
    policy = parse_policy("match")
    assert policy.choose("neutral", "happy", FOLDERS).folder is None
    assert policy.choose("neutral", None, FOLDERS).folder == "neutral"
    eager = parse_policy("match", keep_on_neutral=False)
    assert eager.choose("neutral", "happy", FOLDERS).folder == "neutral"


def test_unsure_keeps_the_music_or_starts_the_fallback():
    policy = parse_policy("match")
    assert policy.choose(None, "sad", FOLDERS).folder is None
    assert policy.choose(None, None, FOLDERS).folder == "neutral"
    assert policy.choose(None, None, ("happy", "sad")).folder == "happy"


def test_unsure_at_start_says_when_the_fallback_has_no_songs():
    choice = parse_policy("match").choose(None, None, ("angry", "happy", "sad"))
    assert choice.folder == "angry"
    assert choice.reason == "unsure and nothing playing yet (neutral has no songs)"


def test_same_folder_already_playing_is_kept():
    choice = parse_policy("match").choose("sad", "sad", FOLDERS)
    assert choice.folder is None and "already playing" in choice.reason


def test_mood_without_folder_falls_back_to_neutral_then_keeps():
    policy = parse_policy("match")
    assert policy.choose("fear", None, FOLDERS).folder == "neutral"
    assert policy.choose("fear", "happy", ("happy", "sad")).folder is None
    assert policy.choose("fear", None, ("happy", "sad")).folder == "happy"


def test_a_mood_without_songs_keeps_the_music_even_when_the_fallback_has_songs():
    choice = parse_policy("match").choose("surprise", "sad", FOLDERS)
    assert choice.folder is None and "no songs for surprise" in choice.reason
    assert parse_policy("surprise=happy").choose("surprise", "sad", FOLDERS).folder == "happy"
    assert parse_policy("uplift").choose("disgust", "sad", FOLDERS).folder == "neutral"  # its own target


def test_no_songs_at_all_keeps_silence():
    assert parse_policy("match").choose("happy", None, ()).folder is None
