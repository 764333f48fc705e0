"""Team-position rosters on both emulators, over real HTTP (no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pcosync.adapters import PcoMemberships, RockMemberships
from pcosync.adapters.memberships import gather_members
from pcosync.clients.http import RetryPolicy
from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.models import PcoTeam
from pcosync.clients.rock import RockClient
from pcosync.domain import GroupRef
from pcosync.errors import AmbiguousWriteError, NotFoundError, SyncDataError
from tests.adapters.helpers import control, request_count, reset_stats, routes, set_faults
from tests.conftest import RunningEmulator

FAST_RETRY = RetryPolicy(max_attempts=3, max_total_seconds=10, base_seconds=0.05, cap_seconds=0.2)


def ref(position_id: str, rock_group_id: int = 0) -> GroupRef:
    return GroupRef(None, rock_group_id, f"TeamPosition:{position_id}")


@pytest.fixture
async def pco_client(pco_emulator: RunningEmulator) -> AsyncIterator[PcoClient]:
    async with PcoClient(
        pco_emulator.url,
        app_id=pco_emulator.credentials["app_id"],
        secret=pco_emulator.credentials["secret"],
        retry=FAST_RETRY,
        timeout=1.0,
    ) as client:
        yield client


@pytest.fixture
async def rock_client(rock_emulator: RunningEmulator) -> AsyncIterator[RockClient]:
    async with RockClient(
        rock_emulator.url, api_key=rock_emulator.credentials["api_key"], retry=FAST_RETRY
    ) as client:
        yield client


def busiest_position(teams: list[PcoTeam], *, live: bool = True) -> tuple[PcoTeam, str]:
    counts = [
        (sum(a.team_position_id == p.id for a in t.assignments), t.id, p.id, t)
        for t in teams
        if t.live is live
        for p in t.positions
    ]
    _, _, pos, team = max(counts, key=lambda c: (c[0], c[1], c[2]))
    return team, pos


# ---------------------------------------------------------------- Planning Center


async def test_pco_rosters_come_from_one_sweep(
    pco_emulator: RunningEmulator, pco_client: PcoClient
) -> None:
    teams = await pco_client.teams()
    team, pos = busiest_position(teams)
    expected = {a.person_id for a in team.assignments if a.team_position_id == pos}
    others = [p.id for p in team.positions if p.id != pos]
    reset_stats(pco_emulator.url)
    source = PcoMemberships(pco_client)
    assert await gather_members(source, ref(pos)) == expected and expected
    for other in others:
        await gather_members(source, ref(other))
    assert routes(pco_emulator.url) == {"GET /services/v2/teams": 1}


async def test_positions_on_archived_or_deleted_teams_have_no_members(
    pco_client: PcoClient,
) -> None:
    teams = await pco_client.teams()
    team, pos = busiest_position(teams, live=False)
    assert any(a.team_position_id == pos for a in team.assignments)  # the data has them
    source = PcoMemberships(pco_client)
    assert await gather_members(source, ref(pos)) == set()
    with pytest.raises(SyncDataError, match="archived or deleted"):
        await source.add_member(ref(pos), team.assignments[0].person_id or "")


async def test_pco_add_puts_a_new_person_in_services_and_is_idempotent(
    pco_emulator: RunningEmulator, pco_client: PcoClient
) -> None:
    person = (await pco_client.create_person({"first_name": "New", "last_name": "Vol"})).id
    with pytest.raises(NotFoundError):
        await pco_client.services_person(person)
    _, pos = busiest_position(await pco_client.teams())
    writer = PcoMemberships(pco_client)

    first = await writer.add_member(ref(pos), person)
    assert first["created"] is True
    reset_stats(pco_emulator.url)
    again = await writer.add_member(ref(pos), person)
    assert again == {"assignment_id": first["assignment_id"], "created": False}
    assert "POST" not in control(pco_emulator.url, "stats")["by_method"]

    assert person in await gather_members(PcoMemberships(pco_client), ref(pos))
    assert (await pco_client.services_person(person)).archived_at is None


async def test_pco_remove_returns_what_a_revert_needs(pco_client: PcoClient) -> None:
    team, pos = busiest_position(await pco_client.teams())
    victim = next(a for a in team.assignments if a.team_position_id == pos)
    assert victim.person_id is not None
    writer = PcoMemberships(pco_client)

    before = await writer.remove_member(ref(pos), victim.person_id)

    assert before == {
        "assignment_id": victim.id,
        "schedule_preference": victim.schedule_preference,
        "preferred_weeks": victim.preferred_weeks,
    }
    assert victim.person_id not in await gather_members(PcoMemberships(pco_client), ref(pos))
    assert await writer.remove_member(ref(pos), victim.person_id) == {}


async def test_pco_add_after_a_lost_answer_does_not_assign_twice(
    pco_emulator: RunningEmulator, pco_client: PcoClient
) -> None:
    teams = await pco_client.teams()
    team, pos = busiest_position(teams)
    on_team = {a.person_id for a in team.assignments}
    person = next(a.person_id for t in teams for a in t.assignments if a.person_id not in on_team)
    assert person is not None
    writer = PcoMemberships(pco_client)
    set_faults(
        pco_emulator.url,
        {"kind": "timeout", "method": "POST", "path": "/services/v2/service_types",
         "seconds": 3, "after_apply": True, "count": 1},
    )  # fmt: skip
    with pytest.raises(AmbiguousWriteError):
        await writer.add_member(ref(pos), person)
    again = await writer.add_member(ref(pos), person)
    assert again["created"] is False
    assigned = await pco_client.team_assignments(team.id)
    assert sum(a.person_id == person and a.team_position_id == pos for a in assigned) == 1


async def test_a_group_not_linked_to_a_position_is_refused(pco_client: PcoClient) -> None:
    with pytest.raises(SyncDataError, match="not linked to a team position"):
        await gather_members(PcoMemberships(pco_client), GroupRef(None, 1, "Team:5"))


# ---------------------------------------------------------------- Rock


async def new_group(rock: RunningEmulator, client: RockClient, name: str) -> int:
    ids = control(rock.url, "info")["ids"]
    return await client.create_group(
        {"Name": name, "GroupTypeId": ids["grouptype:serving_team"],
         "ParentGroupId": ids["group:serving_teams"], "IsActive": True}
    )  # fmt: skip


async def some_people(client: RockClient, n: int) -> list[int]:
    rows = await client.query("People", filter="LastName ne 'Admin'", top=n, select=["Id"])
    return [int(r["Id"]) for r in rows[:n]]


def member_rows(rock: RunningEmulator, group_id: int) -> list[dict[str, Any]]:
    import httpx

    resp = httpx.get(
        f"{rock.url}/api/GroupMembers",
        params={"$filter": f"GroupId eq {group_id}"},
        headers={"Authorization-Token": rock.credentials["api_key"]},
    )
    resp.raise_for_status()
    rows: list[dict[str, Any]] = resp.json()
    return rows


async def test_rock_add_remove_and_readd_keep_one_membership_row(
    rock_emulator: RunningEmulator, rock_client: RockClient
) -> None:
    gid = await new_group(rock_emulator, rock_client, "Band - Drums")
    [pid] = await some_people(rock_client, 1)
    group = ref("44000004", gid)
    rosters = RockMemberships(rock_client)

    added = await rosters.add_member(group, pid)
    ids = control(rock_emulator.url, "info")["ids"]
    assert added["created"] is True and added["role_id"] == ids["role:serving_team:member"]
    assert await gather_members(RockMemberships(rock_client), group) == {str(pid)}
    assert (await rosters.add_member(group, pid))["created"] is False

    removed = await rosters.remove_member(group, pid)
    assert removed["status"] == 1 and removed["removed_by"] == "inactivate"
    [row] = member_rows(rock_emulator, gid)
    assert row["GroupMemberStatus"] == 0  # inactive, history kept
    assert await gather_members(RockMemberships(rock_client), group) == set()
    assert await rosters.remove_member(group, pid) == {}

    readded = await rosters.add_member(group, pid)
    assert readded == {"group_member_id": row["Id"], "created": False, "previous_status": 0}
    assert [r["GroupMemberStatus"] for r in member_rows(rock_emulator, gid)] == [1]


async def test_rock_remove_can_delete_instead(
    rock_emulator: RunningEmulator, rock_client: RockClient
) -> None:
    gid = await new_group(rock_emulator, rock_client, "Ushers - Usher")
    [pid] = await some_people(rock_client, 1)
    rosters = RockMemberships(rock_client, remove_mode="delete")
    await rosters.add_member(ref("1", gid), pid)
    await rosters.remove_member(ref("1", gid), pid)
    assert member_rows(rock_emulator, gid) == []


async def test_rock_preload_reads_many_rosters_in_one_request(
    rock_emulator: RunningEmulator, rock_client: RockClient
) -> None:
    a = await new_group(rock_emulator, rock_client, "A")
    b = await new_group(rock_emulator, rock_client, "B")
    p1, p2, p3 = await some_people(rock_client, 3)
    writer = RockMemberships(rock_client)
    for gid, pid in ((a, p1), (a, p2), (b, p3)):
        await writer.add_member(ref("1", gid), pid)
    reader = RockMemberships(rock_client)
    reset_stats(rock_emulator.url)
    await reader.preload([ref("1", a), ref("2", b)])
    assert await gather_members(reader, ref("1", a)) == {str(p1), str(p2)}
    assert await gather_members(reader, ref("2", b)) == {str(p3)}
    assert request_count(rock_emulator.url) == 1


async def _many_groups(
    rock: RunningEmulator, client: RockClient, n: int
) -> tuple[list[int], dict[int, set[str]]]:
    """``n`` serving-team groups, every third one empty, the others with a member or two."""
    gids = [await new_group(rock, client, f"Position {i}") for i in range(n)]
    people = await some_people(client, 2 * n)
    writer = RockMemberships(client)
    expected: dict[int, set[str]] = {gid: set() for gid in gids}
    for i, gid in enumerate(gids):
        if i % 3 == 0:
            continue
        for pid in people[2 * i : 2 * i + 1 + i % 2]:
            await writer.add_member(ref(str(i), gid), pid)
            expected[gid].add(str(pid))
    await writer.remove_member(ref("1", gids[1]), people[2])  # an inactive row stays out
    expected[gids[1]].discard(str(people[2]))
    return gids, expected


async def test_rock_preload_reads_rosters_by_group_type_in_few_requests(
    rock_emulator: RunningEmulator, rock_client: RockClient
) -> None:
    gids, expected = await _many_groups(rock_emulator, rock_client, 45)
    serving = control(rock_emulator.url, "info")["ids"]["grouptype:serving_team"]
    reader = RockMemberships(rock_client)
    reader.know_group_types(dict.fromkeys(gids, serving))
    reset_stats(rock_emulator.url)
    await reader.preload([ref(str(i), gid) for i, gid in enumerate(gids)])
    # one paged query by GroupTypeId (the type's members fit in a page), not 3 `or` batches
    assert request_count(rock_emulator.url) == 1
    for i, gid in enumerate(gids):
        assert await gather_members(reader, ref(str(i), gid)) == expected[gid]
    assert request_count(rock_emulator.url) == 1  # empty groups are known empty: no re-read
    # and the roles of those groups need no read of each group for its type
    reset_stats(rock_emulator.url)
    [extra] = await some_people(rock_client, 1)
    await reader.add_member(ref("0", gids[0]), extra)
    assert "GET /api/Groups/{id}" not in routes(rock_emulator.url)


async def test_rock_preload_falls_back_to_group_ids_when_rock_cannot_filter_by_type(
    rock_emulator: RunningEmulator, rock_client: RockClient
) -> None:
    gids, expected = await _many_groups(rock_emulator, rock_client, 45)
    serving = control(rock_emulator.url, "info")["ids"]["grouptype:serving_team"]
    reader = RockMemberships(rock_client)
    reader.know_group_types(dict.fromkeys(gids, serving))
    # an older Rock: no GroupMember.GroupTypeId to filter on
    set_faults(
        rock_emulator.url,
        {"kind": "error", "status": 400, "method": "GET", "path": "/api/GroupMembers", "count": 1},
    )
    reset_stats(rock_emulator.url)
    await reader.preload([ref(str(i), gid) for i, gid in enumerate(gids)])
    # the refused query, then the 45 new (consecutive) group ids as one range: 45 ÷ 15 before
    assert request_count(rock_emulator.url) == 1 + 1
    for i, gid in enumerate(gids):
        assert await gather_members(reader, ref(str(i), gid)) == expected[gid]
