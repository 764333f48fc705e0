"""Configuration: discovery, environment secrets, owner-only secret files, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pcosync.config import load_settings, write_settings
from pcosync.errors import ConfigError

BASE = {
    "rock": {"url": "http://127.0.0.1:8120", "api_key": "rock-key", "time_zone": "America/Chicago"},
    "pco": {"url": "http://127.0.0.1:8110", "app_id": "app", "secret": "s3cret"},
    "state": {"url": "sqlite:///pcosync.db"},
}


def test_round_trip_and_state_next_to_config(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "pcosync.toml"
    write_settings(path, BASE)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    settings = load_settings(path)
    assert settings.rock_api_key() == "rock-key"
    assert settings.pco_secret() == "s3cret"
    assert settings.state_url() == f"sqlite:///{(tmp_path / 'conf' / 'pcosync.db').resolve()}"
    assert "s3cret" not in repr(settings)


def test_environment_overrides_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {**BASE, "rock": {"url": "http://r"}, "pco": {"url": "http://p"}}
    path = tmp_path / "pcosync.toml"
    write_settings(path, data)
    monkeypatch.setenv("PCOSYNC_ROCK_API_KEY", "from-env")
    monkeypatch.setenv("PCOSYNC_PCO_APP_ID", "env-app")
    monkeypatch.setenv("PCOSYNC_PCO_SECRET", "env-secret")
    monkeypatch.setenv("PCOSYNC_CONFIG", str(path))
    settings = load_settings()
    assert settings.rock_api_key() == "from-env"
    assert settings.pco_app_id() == "env-app"
    assert settings.pco_secret() == "env-secret"


def test_missing_secret_names_key_env_and_file(tmp_path: Path) -> None:
    path = tmp_path / "pcosync.toml"
    write_settings(path, {"rock": {"url": "http://r"}})
    settings = load_settings(path)
    with pytest.raises(ConfigError) as info:
        settings.rock_api_key()
    text = str(info.value)
    assert "rock.api_key" in text and "PCOSYNC_ROCK_API_KEY" in text and str(path) in text


def test_bad_value_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "pcosync.toml"
    write_settings(path, {**BASE, "rock": {**BASE["rock"], "time_zone": "Mars/Olympus"}})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "rock.time_zone" in str(info.value) and str(path) in str(info.value)


def test_unknown_field_direction_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pcosync.toml"
    write_settings(path, {**BASE, "fields": {"shoe_size": "both"}})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "fields" in str(info.value)


def test_secret_file_must_be_owner_only(tmp_path: Path) -> None:
    secret = tmp_path / "rock.key"
    secret.write_text("file-key\n")
    os.chmod(secret, 0o644)
    path = tmp_path / "pcosync.toml"
    write_settings(path, {"rock": {"url": "http://r", "api_key_file": "rock.key"}})
    settings = load_settings(path)
    with pytest.raises(ConfigError) as info:
        settings.rock_api_key()
    assert "chmod 600" in str(info.value)
    os.chmod(secret, 0o600)
    assert settings.rock_api_key() == "file-key"


def test_missing_file_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml")
    assert "pcosync init" in str(info.value)


def test_unknown_or_missing_setting_is_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "pcosync.toml"
    write_settings(path, {**BASE, "teams": {"parent_group": "Serving Teams"}})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert "unknown setting" in text and f"teams.parent_group in {path}" in text
    assert "Extra inputs" not in text

    write_settings(path, {"pco": BASE["pco"]})
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "required" in str(info.value) and "rock" in str(info.value)


def test_secret_file_empty_or_unreadable_names_key_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "pco.secret"
    empty.write_text("\n")
    os.chmod(empty, 0o600)
    path = tmp_path / "pcosync.toml"
    write_settings(path, {"rock": {"url": "http://r"}, "pco": {"secret_file": "pco.secret"}})
    settings = load_settings(path)
    with pytest.raises(ConfigError) as info:
        settings.pco_secret()
    assert "is empty" in str(info.value) and f"pco.secret_file in {path}" in str(info.value)

    folder = tmp_path / "a-folder"
    folder.mkdir(mode=0o700)
    write_settings(path, {"rock": {"url": "http://r", "api_key_file": str(folder)}})
    with pytest.raises(ConfigError) as info:
        load_settings(path).rock_api_key()
    assert "cannot read the secret file" in str(info.value) and "rock.api_key_file" in str(
        info.value
    )

    # ~ means the home folder, as in a shell
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "rock.key").write_text("home-key\n")
    os.chmod(tmp_path / "rock.key", 0o600)
    write_settings(path, {"rock": {"url": "http://r", "api_key_file": "~/rock.key"}})
    assert load_settings(path).rock_api_key() == "home-key"


def test_rewriting_a_readable_file_makes_it_private(tmp_path: Path) -> None:
    path = tmp_path / "pcosync.toml"
    path.write_text("")
    os.chmod(path, 0o644)
    write_settings(path, BASE)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
