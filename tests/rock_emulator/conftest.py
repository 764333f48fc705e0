"""Helpers for the Rock emulator tests: clients over real HTTP, ids, the settable clock."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningEmulator


@pytest.fixture
def rock(rock_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """A client sending the default (administrator) REST key."""
    headers = {"Authorization-Token": rock_emulator.credentials["api_key"]}
    with httpx.Client(base_url=rock_emulator.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def anon(rock_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """A client without credentials."""
    with httpx.Client(base_url=rock_emulator.url, timeout=30) as client:
        yield client


@pytest.fixture
def ids(rock_emulator: RunningEmulator) -> dict[str, int]:
    """The install's system ids (``dv:record_type:person`` …), as a client would look them up."""
    values: dict[str, int] = rock_emulator.app.state.emulator.data.ids.values
    return values
