"""A seeded church on both emulators, a config for it, and helpers to drive the sync."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pcosync.app.context import open_connection
from pcosync.app.people_sync import RunSummary, SyncOptions
from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.config import load_settings, write_settings
from pcosync.emulators.server import BackgroundServer
from pcosync.store import Store
from tests.conftest import TEST_SEED

WRITES = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Church:
    pco_url: str
    rock_url: str
    app_id: str
    secret: str
    api_key: str
    config: Path

    # -- the sync ---------------------------------------------------------------------
    def sync(self, **options: Any) -> RunSummary:
        async def go() -> RunSummary:
            async with open_connection(load_settings(self.config)) as conn:
                return await conn.people.run(SyncOptions(**options))

        return asyncio.run(go())

    def store(self) -> Store:
        return Store.open(load_settings(self.config).state_url())

    # -- the emulators ----------------------------------------------------------------
    def pco(self) -> PcoClient:
        return PcoClient(self.pco_url, app_id=self.app_id, secret=self.secret)

    def rock(self) -> RockClient:
        return RockClient(self.rock_url, api_key=self.api_key)

    @staticmethod
    def _control(url: str, path: str, payload: Any = None, method: str | None = None) -> Any:
        with httpx.Client(base_url=url, timeout=30) as http:
            verb = method or ("POST" if payload is not None else "GET")
            resp = http.request(verb, f"/__emulator__/{path}", json=payload)
            resp.raise_for_status()
            return resp.json() if resp.content else None

    def pco_control(self, path: str, payload: Any = None, method: str | None = None) -> Any:
        return self._control(self.pco_url, path, payload, method)

    def rock_control(self, path: str, payload: Any = None, method: str | None = None) -> Any:
        return self._control(self.rock_url, path, payload, method)

    def refuse_rock_updates(self, *rock_ids: int) -> None:
        """Rock answers the next update of each person with a 400 (a rejected record)."""
        faults = [
            {
                "kind": "error",
                "status": 400,
                "method": "PATCH",
                "count": 1,
                "path": f"/api/People/{rock_id}",
            }
            for rock_id in rock_ids
        ]
        self.rock_control("faults", {"faults": faults})

    def writes(self) -> dict[str, int]:
        """Write requests each emulator has served so far."""
        out = {}
        for side, url in (("pco", self.pco_url), ("rock", self.rock_url)):
            stats = self._control(url, "stats")
            out[side] = sum(stats["by_method"].get(m, 0) for m in WRITES)
        return out

    def pco_get(self, path: str, **params: Any) -> Any:
        with httpx.Client(base_url=self.pco_url, auth=(self.app_id, self.secret)) as http:
            resp = http.get(path, params=params)
            resp.raise_for_status()
            return resp.json()

    def rock_get(self, path: str, **params: Any) -> Any:
        with httpx.Client(
            base_url=self.rock_url, headers={"Authorization-Token": self.api_key}
        ) as http:
            resp = http.get(path, params=params)
            resp.raise_for_status()
            return resp.json()


def _campus_map(church: Church) -> list[dict[str, Any]]:
    pco = {c["attributes"]["name"]: c["id"] for c in church.pco_get("/people/v2/campuses")["data"]}
    rock = {c["Name"]: c["Id"] for c in church.rock_get("/api/Campuses")}
    return [{"name": n, "rock_id": rock[n], "pco_id": pco[n]} for n in sorted(pco) if n in rock]


@pytest.fixture
def church(tmp_path: Path) -> Iterator[Church]:
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    with (
        # pacing under PCO's 100 requests / 20 s is covered by the contract tests and the
        # benchmarks; here the limit is roomy so the tests' own checks don't wait on it
        BackgroundServer(create_pco(seed=TEST_SEED, people=120, rate_limit=5000)) as pco_url,
        BackgroundServer(create_rock(seed=TEST_SEED, people=120)) as rock_url,
    ):
        church = Church(
            pco_url,
            rock_url,
            DEFAULT_APP_ID,
            DEFAULT_SECRET,
            DEFAULT_API_KEY,
            tmp_path / "pcosync.toml",
        )
        write_settings(
            church.config,
            {
                "rock": {"url": rock_url, "api_key": DEFAULT_API_KEY},
                "pco": {"url": pco_url, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
                "state": {"url": "sqlite:///state.db"},
                "campus_map": _campus_map(church),
            },
        )
        yield church
