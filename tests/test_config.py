from pathlib import Path

import pytest

from emusify.config import Settings, discover_emotions, load_settings
from emusify.errors import ExitStatus, UsageError


def write_cfg(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "setup.cfg"
    path.write_text("[metadata]\nname = x\n\n[emusify]\n" + body, encoding="utf-8")
    return path


def test_defaults_without_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    settings = load_settings(tmp_path)
    assert settings == Settings()
    assert settings.journal_path == Path("datasets/journal.sqlite")


def test_config_file_then_flags_override(tmp_path, monkeypatch):
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    write_cfg(tmp_path, "window = 15\nevery = 2.5\nkeep-on-neutral = no\nsongs = music\n")
    settings = load_settings(tmp_path, overrides={"every": 1.0, "window": None})
    assert settings.window == 15.0
    assert settings.every == 1.0
    assert settings.keep_on_neutral is False
    assert settings.songs == Path("music")


def test_front_end_settings_from_the_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    write_cfg(tmp_path, "mpris = off\nnotify = every\nnotify_every = 2.5\n")
    settings = load_settings(tmp_path)
    assert (settings.mpris, settings.notify, settings.notify_every) == (False, "every", 2.5)


def test_journal_follows_data_folder():
    assert Settings(data=Path("/tmp/x")).journal_path == Path("/tmp/x/journal.sqlite")


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("colour = blue\n", "unknown setting 'colour'"),
        ("window = soon\n", "not a valid float"),
        ("keep_on_neutral = maybe\n", "not a valid bool"),
        ("window = 0\n", "window must be greater than 0"),
        ("min_share = 1.5\n", "between 0 and 1"),
        ("notify = always\n", "notify must be one of changes, every, off"),
        ("notify_every = -1\n", "notify-every must be 0 or more"),
        ("mpris = perhaps\n", "not a valid bool"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path, monkeypatch, body, fragment):
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    write_cfg(tmp_path, body)
    with pytest.raises(UsageError, match=fragment) as info:
        load_settings(tmp_path)
    assert info.value.exit_status == ExitStatus.USAGE


def test_bad_flag_value_is_a_usage_error():
    with pytest.raises(UsageError, match="every must be 0 or more"):
        Settings().replace(every=-1)


def test_emotions_are_the_song_folders(tmp_path):
    for name in ("sad", "happy", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert discover_emotions(tmp_path) == ("happy", "sad")
    assert discover_emotions(tmp_path / "missing") == ()


def test_project_setup_cfg_is_valid(monkeypatch):
    monkeypatch.delenv("EMUSIFY_CONFIG", raising=False)
    root = Path(__file__).resolve().parents[1]
    assert load_settings(root).window == Settings().window
