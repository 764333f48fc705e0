"""Shared fixtures: real emulators on loopback ports, real databases when reachable."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# pytest-xdist's workers set COLUMNS=80, and the CLI's Rich consoles read it once, when
# imported: tests that want a width give it per command (COLUMNS in the command's env)
os.environ.pop("COLUMNS", None)

from pcosync.emulators.server import BackgroundServer

# Property tests check what is true, never how fast: on a loaded CI machine Hypothesis's
# timing health checks and per-example deadlines would fail tests that are right.
settings.register_profile("pcosync", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "pcosync"))

# Tests use the seed printed in a failure; override with PCOSYNC_TEST_SEED to reproduce.
TEST_SEED = int(os.environ.get("PCOSYNC_TEST_SEED", "1"))


@dataclass
class RunningEmulator:
    url: str
    app: Any  # the Starlette app; app.state.emulator is the in-process handle
    credentials: dict[str, str]


def _start(app: Any, credentials: dict[str, str]) -> Iterator[RunningEmulator]:
    server = BackgroundServer(app)
    url = server.start()
    try:
        yield RunningEmulator(url=url, app=app, credentials=credentials)
    finally:
        server.stop()


@pytest.fixture
def pco_emulator() -> Iterator[RunningEmulator]:
    """A fresh Planning Center emulator (seed TEST_SEED, 200 people) per test."""
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET, create_app

    app = create_app(seed=TEST_SEED, people=200)
    yield from _start(app, {"app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET})


@pytest.fixture
def rock_emulator() -> Iterator[RunningEmulator]:
    """A fresh Rock emulator (seed TEST_SEED, 200 people) per test."""
    from pcosync.emulators.rock.app import DEFAULT_API_KEY, create_app

    app = create_app(seed=TEST_SEED, people=200)
    yield from _start(app, {"api_key": DEFAULT_API_KEY})


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the local PostgreSQL test database; skips with the reason when absent."""
    from sqlalchemy.engine import make_url

    url = os.environ.get(
        "PCOSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parsed = make_url(url)
    host, port = parsed.host or "127.0.0.1", parsed.port or 5432
    try:
        import psycopg  # noqa: F401  (the driver the URL names)
    except ImportError:
        pytest.skip("the psycopg driver is not installed, so PostgreSQL tests cannot run")
    if not _reachable(host, port):
        pytest.skip(f"PostgreSQL is not reachable on {host}:{port} (set PCOSYNC_TEST_POSTGRES_URL)")
    return url


def pytest_report_header(config: pytest.Config) -> str:
    return f"pcosync test seed: {TEST_SEED} (reproduce with PCOSYNC_TEST_SEED={TEST_SEED})"
