"""``RockClient.query_any`` over integer ids sends ``ge``/``le`` ranges (issue 14), against the
Rock emulator over real HTTP: the same rows as the old ``or`` batches, in far fewer requests
when the ids are dense and never more when they are sparse."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pcosync.adapters.rock import RockPeople
from pcosync.clients.rock import RockClient, odata
from pcosync.clients.rock.models import Guids
from tests.adapters.helpers import control, freeze_clock, future, reset_stats, routes
from tests.adapters.test_rock_adapter import campus_map_of, make_client
from tests.conftest import RunningEmulator

PEOPLE = 500


@pytest.fixture
async def client(rock_emulator: RunningEmulator) -> AsyncIterator[RockClient]:
    control(rock_emulator.url, "reset", {"seed": 1, "people": PEOPLE})
    client = make_client(rock_emulator)
    yield client
    await client.aclose()


async def old_way(
    client: RockClient, entity: str, field: str, values: list[int], **kw: Any
) -> list[dict[str, Any]]:
    """What ``query_any`` did before: fifteen ``eq`` terms per filter."""
    rows: list[dict[str, Any]] = []
    for clause in odata.any_of(field, values, client.tz):
        rows += await client.query(entity, filter=clause, **kw)
    return rows


def by_id(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    out = {int(r["Id"]): r for r in rows}
    assert len(out) == len(rows), "a row came back twice"
    return out


async def test_dense_ids_are_read_in_a_request_and_exactly(
    client: RockClient, rock_emulator: RunningEmulator
) -> None:
    url = rock_emulator.url
    everyone = sorted(int(r["Id"]) for r in await client.query("People", select=["Id"]))
    wanted = [i for i in everyone if i % 7]  # holes of one id: rows to drop
    reset_stats(url)
    before = await old_way(client, "PhoneNumbers", "PersonId", wanted)
    assert (
        routes(url)
        == {"GET /api/PhoneNumbers": math.ceil(len(wanted) / 15)}
        == {"GET /api/PhoneNumbers": 23}
    )
    reset_stats(url)
    rows = await client.query_any("PhoneNumbers", "PersonId", wanted)
    assert by_id(rows) == by_id(before)
    assert {int(r["PersonId"]) for r in rows} <= set(wanted)
    assert routes(url) == {"GET /api/PhoneNumbers": 1}

    reset_stats(url)
    people = await client.query_any("People", "Id", everyone)
    assert sorted(by_id(people)) == everyone
    assert routes(url) == {"GET /api/People": 1}


async def test_sparse_ids_never_cost_more_requests(
    client: RockClient, rock_emulator: RunningEmulator
) -> None:
    url = rock_emulator.url
    everyone = sorted(int(r["Id"]) for r in await client.query("People", select=["Id"]))
    for step in (2, 21, 22, 40):
        wanted = everyone[::step]
        reset_stats(url)
        before = await old_way(client, "PhoneNumbers", "PersonId", wanted)
        old_requests = routes(url)["GET /api/PhoneNumbers"]
        reset_stats(url)
        rows = await client.query_any("PhoneNumbers", "PersonId", wanted)
        assert by_id(rows) == by_id(before), step
        assert routes(url)["GET /api/PhoneNumbers"] <= old_requests, step


async def test_a_selected_row_keeps_the_field_it_is_checked_by(client: RockClient) -> None:
    locations = [int(r["Id"]) for r in await client.query("Locations", select=["Id"])]
    before = await old_way(client, "GroupLocations", "LocationId", locations, select=["Id"])
    rows = await client.query_any("GroupLocations", "LocationId", locations, select=["Id"])
    assert sorted(by_id(rows)) == sorted(by_id(before))


async def test_exact_runs_read_no_rows_of_ids_not_asked_for(client: RockClient) -> None:
    everyone = sorted(int(r["Id"]) for r in await client.query("People", select=["Id"]))
    wanted = [i for i in everyone if i % 10 != 3]  # runs of nine, holes of one
    sent: list[str] = []
    query = client.query

    async def spy(entity: str, **kw: Any) -> list[dict[str, Any]]:
        rows = await query(entity, **kw)
        sent.append(kw["filter"])
        assert {int(r["Id"]) for r in rows} <= set(wanted)  # nothing to drop
        return rows

    client.query = spy  # type: ignore[method-assign]  # to see each filter's own rows
    rows = await client.query_any("People", "Id", wanted, gap=0)
    assert sorted(by_id(rows)) == wanted
    assert len(sent) == 7 < math.ceil(len(wanted) / 15) == 25


async def test_an_incremental_read_of_hundreds_costs_a_few_related_requests(
    rock_emulator: RunningEmulator, client: RockClient
) -> None:
    """The run after a first sync: every linked person reads as changed (the link write bumped
    them); their phones, families and addresses cost O(N/1000) requests, not O(N/15)."""
    url = rock_emulator.url
    ids = control(url, "info")["ids"]
    adapter = RockPeople(client, campus_map_of(ids))
    await client.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "PCO Person Id")
    await adapter.prepare()
    since = freeze_clock(url, future())
    people = [p async for p in adapter.fetch_all()]
    await asyncio.gather(*(adapter.write_link(p.id, f"9{p.id}") for p in people))
    reset_stats(url)

    changed = [p async for p in adapter.fetch_changed(since)]

    assert len(changed) == len(people) >= 400
    assert sum(p.person.mobile_phone is not None for p in changed) > len(changed) // 2
    assert sum(p.person.home_address is not None for p in changed) > len(changed) // 2
    related = {k: v for k, v in routes(url).items() if k != "GET /api/People"}
    # before: ceil(N/15) phone requests plus as many again for families and their homes
    assert related == {
        "GET /api/PhoneNumbers": 1,
        "GET /api/Groups": 2,
        "GET /api/GroupLocations": 2,
        "GET /api/Locations": 1,
    }, related
