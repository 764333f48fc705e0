"""Both emulators with the seeded church, configured to import teams under "Serving Teams"."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from pcosync.app.context import open_connection
from pcosync.app.teams import TeamImport
from pcosync.cli.main import app
from pcosync.config import load_settings, write_settings
from pcosync.emulators.server import BackgroundServer
from tests.conftest import TEST_SEED
from tests.sync.conftest import Church

T = TypeVar("T")

SERVING_TEAM_TYPE = "2C42B2D4-1C5F-4AD5-A9AD-08631B872AC4"


class TeamsChurch:
    """The church plus helpers to drive ``pcosync teams`` and read Rock groups back."""

    def __init__(self, church: Church, pco_emulator: Any, rock_emulator: Any) -> None:
        self.c = church
        self.pco_emu = pco_emulator
        self.rock_emu = rock_emulator

    def group_state(self, group_id: int) -> str:
        """What Rock's database holds (the API hides archived groups): deleted, archived,
        inactive or active."""
        data = self.rock_emu.data
        row = data.get("Group", group_id)
        if row is None:
            return "deleted"
        if data.val("Group", row, "IsArchived"):
            return "archived"
        return "active" if data.val("Group", row, "IsActive") else "inactive"

    def add_member(self, group_id: int, person_id: int) -> int:
        found = self.c.rock_control("group-members", {"GroupId": group_id, "PersonId": person_id})
        return int(found["Id"])

    def remove_member(self, member_id: int) -> None:
        self.c.rock_control(f"group-members/{member_id}", method="DELETE")

    def some_person(self) -> int:
        rows = self.c.rock_get("/api/People", **{"$top": 5, "$orderby": "Id desc"})
        return int(rows[0]["Id"])

    # -- edits only the Planning Center web UI can make ---------------------------------
    def rename_team(self, team_id: int, name: str) -> None:
        store = self.pco_emu.store
        team = store.teams.get(team_id)
        team.name = name
        store.mark("team", team_id)

    def move_team(self, team_id: int, service_type_id: int) -> None:
        store = self.pco_emu.store
        store.teams.reparent(store.teams.get(team_id), service_type_id)

    def pco_create_team(
        self, service_type_id: int, name: str, positions: list[str]
    ) -> dict[str, str]:
        """Through the API (create is what PCO allows): the new team and its first position."""
        import httpx

        with httpx.Client(base_url=self.c.pco_url, auth=(self.c.app_id, self.c.secret)) as http:
            resp = http.post(
                f"/services/v2/service_types/{service_type_id}/teams",
                json={"data": {"type": "Team", "attributes": {"name": name}}},
            )
            resp.raise_for_status()
            team_id = resp.json()["data"]["id"]
            position_id = ""
            for pos in positions:
                resp = http.post(
                    f"/services/v2/teams/{team_id}/team_positions",
                    json={"data": {"type": "TeamPosition", "attributes": {"name": pos}}},
                )
                resp.raise_for_status()
                position_id = resp.json()["data"]["id"]
        return {"team": team_id, "position": position_id}

    # -- Rock ------------------------------------------------------------------------
    def rock_create_group(self, name: str, parent_id: int, *, group_type: int | None = None) -> int:
        import httpx

        with httpx.Client(
            base_url=self.c.rock_url, headers={"Authorization-Token": self.c.api_key}
        ) as http:
            resp = http.post(
                "/api/Groups",
                json={
                    "Name": name,
                    "ParentGroupId": parent_id,
                    "GroupTypeId": group_type or self.serving_team_type(),
                    "IsActive": True,
                },
            )
            resp.raise_for_status()
            return int(resp.json())

    def rock_set_attribute(self, group_id: int, key: str, value: str) -> None:
        """As an older plugin would have: the attribute, then the value."""
        import asyncio as _asyncio

        from pcosync.clients.rock.models import Guids

        async def go() -> None:
            async with self.c.rock() as rock:
                await rock.ensure_attribute(Guids.ENTITY_GROUP, key, key)
                await rock.set_attribute_value("Groups", group_id, key, value)

        _asyncio.run(go())

    def serving_team_type(self) -> int:
        rows = self.c.rock_get(
            "/api/GroupTypes", **{"$filter": f"Guid eq guid'{SERVING_TEAM_TYPE}'"}
        )
        return int(rows[0]["Id"])

    def team_action(self, team_id: int, action: str) -> None:
        self.c.pco_control(f"teams/{team_id}/{action}", {})

    def run(self, work: Callable[[TeamImport], Awaitable[T]]) -> T:
        async def go() -> T:
            settings = load_settings(self.c.config)
            async with open_connection(settings) as conn:
                teams = TeamImport(conn.store, conn.rock_client, conn.pco_client, settings.teams)
                return await work(teams)

        return asyncio.run(go())

    def cli(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, ["--config", str(self.c.config), *args], input=input)

    def rock_writes(self) -> int:
        return self.c.writes()["rock"]

    def groups(self) -> dict[int, dict[str, Any]]:
        """Every non-family Rock group the API shows (archived groups are hidden by Rock)."""
        rows = self.c.rock_get(
            "/api/Groups", **{"$filter": "GroupTypeId ne " + str(self.family_type())}
        )
        return {int(g["Id"]): g for g in rows}

    def family_type(self) -> int:
        rows = self.c.rock_get(
            "/api/GroupTypes", **{"$filter": "Guid eq guid'790E3215-3B10-442B-AF69-616C0DCB998E'"}
        )
        return int(rows[0]["Id"])

    def attribute(self, key: str) -> dict[int, str]:
        """Group Id → value of a group attribute."""
        attrs = self.c.rock_get("/api/Attributes", **{"$filter": f"Key eq '{key}'"})
        if not attrs:
            return {}
        rows = self.c.rock_get(
            "/api/AttributeValues", **{"$filter": f"AttributeId eq {attrs[0]['Id']}"}
        )
        return {int(r["EntityId"]): r["Value"] for r in rows if r["Value"]}

    def serving_teams_id(self) -> int:
        rows = self.c.rock_get("/api/Groups", **{"$filter": "Name eq 'Serving Teams'"})
        return int(rows[0]["Id"])


@pytest.fixture
def tc(tmp_path: Path) -> Iterator[TeamsChurch]:
    """Both emulators on real ports (the PCO one kept at hand for UI-only edits)."""
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    pco_app = create_pco(seed=TEST_SEED, people=60, rate_limit=5000)
    rock_app = create_rock(seed=TEST_SEED, people=60)
    with (
        BackgroundServer(pco_app) as pco_url,
        BackgroundServer(rock_app) as rock_url,
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
                "teams": {"parent_group_name": "Serving Teams", "group_type": SERVING_TEAM_TYPE},
                # these tests are about memberships: people the seeded church knows on both
                # sides only by name are created, as before issue 12 made them match issues
                # (tests/robustness/test_possible_duplicates.py covers that)
                "sync": {"possible_duplicates": "create"},
            },
        )
        yield TeamsChurch(church, pco_app.state.emulator, rock_app.state.emulator)
