"""Fixtures for the Planning Center emulator tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import client_for


@pytest.fixture
def api(pco_emulator: RunningEmulator) -> Iterator[httpx.Client]:
    """An authenticated client on the default versions."""
    with client_for(pco_emulator.url) as client:
        yield client


@pytest.fixture
def versioned(pco_emulator: RunningEmulator) -> Iterator[Callable[[str], httpx.Client]]:
    """Clients pinned to an ``X-PCO-API-Version``."""
    opened: list[httpx.Client] = []

    def make(version: str) -> httpx.Client:
        client = client_for(pco_emulator.url, version=version)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
