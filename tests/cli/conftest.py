"""Fixtures shared by the ``init`` and ``check`` tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ENV_NAMES = ("PCOSYNC_ROCK_API_KEY", "PCOSYNC_PCO_APP_ID", "PCOSYNC_PCO_SECRET")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pcosync variables leak in from the developer's shell."""
    for name in (*ENV_NAMES, "PCOSYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cfg(tmp_path: Path, clean_env: None) -> Path:
    return tmp_path / "pcosync.toml"
