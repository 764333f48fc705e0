"""Each linked position carries a Planning Center Services permission (default "Scheduled
Viewer"): someone the sync assigns there gets it, and a higher level is never lowered."""

from __future__ import annotations

import json

import httpx

from pcosync.store import RunStatus
from tests.teams.conftest import TeamsChurch
from tests.teams.test_membership_sync import (
    BAND,
    links,
    pco_roster,
    rock_person,
    synced_band,
    team_positions,
)


def _level(tc: TeamsChurch, pco_id: str) -> str:
    return str(tc.c.pco_get(f"/services/v2/people/{pco_id}")["data"]["attributes"]["permissions"])


def _set_level(tc: TeamsChurch, pco_id: str, level: str) -> None:
    """As an admin does in Services (People › person › Permissions)."""
    with httpx.Client(base_url=tc.c.pco_url, auth=(tc.c.app_id, tc.c.secret)) as http:
        http.patch(
            f"/services/v2/people/{pco_id}",
            json={"data": {"type": "Person", "id": pco_id, "attributes": {"permissions": level}}},
        ).raise_for_status()


def _new_rock_person(tc: TeamsChurch, first: str, last: str) -> int:
    some = rock_person(tc, tc.some_person())
    with httpx.Client(
        base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key}
    ) as http:
        resp = http.post(
            "/api/People",
            json={
                "FirstName": first,
                "LastName": last,
                "Email": f"{first}.{last}@example.org".lower(),
                "IsSystem": False,
                "Gender": 2,
                "RecordTypeValueId": some["RecordTypeValueId"],
                "RecordStatusValueId": some["RecordStatusValueId"],
            },
        )
        resp.raise_for_status()
        return int(resp.json())


def test_assigned_people_get_the_positions_level_and_staff_keep_theirs(tc: TeamsChurch) -> None:
    groups, position, group = synced_band(tc)
    linked = links(tc)
    outside = sorted(set(linked) - pco_roster(tc, BAND, position))
    volunteer, staff = [p for p in outside if _level(tc, p) == "Scheduled Viewer"][:2]
    _set_level(tc, staff, "Editor")

    result = tc.cli("teams", "permission", str(group), "viewer")
    assert result.exit_code == 0, result.output
    assert "at least Viewer" in " ".join(result.output.split())
    shown = json.loads(tc.cli("teams", "links", "--json").output)
    by_group = {row["rock_group_id"]: row for row in shown}
    assert by_group[group]["services_permission"] == "Viewer"
    other = next(g for ref, g in groups.items() if ref.startswith("TeamPosition:") and g != group)
    assert by_group[other]["services_permission"] == "Scheduled Viewer"  # the default

    # joined in Rock: assigned in Planning Center with at least the position's level
    tc.add_member(group, linked[volunteer])
    tc.add_member(group, linked[staff])
    # someone Planning Center has never seen: created, added to Services, assigned, raised
    newcomer = _new_rock_person(tc, "Perpetua", "Ravensworth")
    tc.add_member(group, newcomer)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    now = links(tc)
    created = {r: p for p, r in now.items()}[newcomer]
    assert {volunteer, staff, created} <= pco_roster(tc, BAND, position)
    assert _level(tc, volunteer) == "Viewer"
    assert _level(tc, created) == "Viewer"
    assert _level(tc, staff) == "Editor"  # never lowered

    # a position left at the default changes nobody's level
    default_position = next(p for p in team_positions(tc, BAND) if p != position)
    joiner = next(
        p
        for p in sorted(set(now) - pco_roster(tc, BAND, default_position))
        if _level(tc, p) == "Scheduled Viewer"
    )
    before = _level(tc, joiner)
    tc.add_member(groups[f"TeamPosition:{default_position}"], now[joiner])
    assert tc.c.sync().status is RunStatus.DONE
    assert joiner in pco_roster(tc, BAND, default_position)
    assert _level(tc, joiner) == before
    assert tc.c.sync().planned == 0


def test_the_default_level_comes_from_the_teams_section(tc: TeamsChurch) -> None:
    import tomllib

    from pcosync.config import write_settings

    raw = tomllib.loads(tc.c.config.read_text())
    raw["teams"]["services_permission"] = "Scheduler"
    write_settings(tc.c.config, raw)
    groups, position, group = synced_band(tc)
    shown = {r["rock_group_id"]: r for r in json.loads(tc.cli("teams", "links", "--json").output)}
    assert shown[group]["services_permission"] == "Scheduler"
    linked = links(tc)
    outside = sorted(set(linked) - pco_roster(tc, BAND, position))
    volunteer = next(p for p in outside if _level(tc, p) == "Scheduled Viewer")
    tc.add_member(group, linked[volunteer])
    assert tc.c.sync().status is RunStatus.DONE
    assert _level(tc, volunteer) == "Scheduler"
    # back to the default, then a bad level and a group that is no position: exit 2
    assert tc.cli("teams", "permission", str(group), "default").exit_code == 0
    bad = tc.cli("teams", "permission", str(group), "Boss")
    assert bad.exit_code == 2
    assert "'Boss' is not a Planning Center Services permission" in bad.output
    assert '"Scheduled Viewer"' in bad.output
    folder = next(g for ref, g in groups.items() if ref.startswith("Folder:"))
    wrong = tc.cli("teams", "permission", str(folder), "Viewer")
    assert wrong.exit_code == 2 and "team position" in wrong.output
    raw["teams"]["services_permission"] = "Owner"
    write_settings(tc.c.config, raw)
    broken = tc.cli("teams", "links")
    assert broken.exit_code == 2 and "teams.services_permission" in broken.output


def test_a_teams_level_applies_to_all_its_positions(tc: TeamsChurch) -> None:
    groups, _position, _group = synced_band(tc)
    band = groups[f"Team:{BAND}"]
    result = tc.cli("teams", "permission", str(band), "Scheduler")
    assert result.exit_code == 0, result.output
    shown = {r["pco_id"]: r for r in json.loads(tc.cli("teams", "links", "--json").output)}
    for position in team_positions(tc, BAND):
        assert shown[f"TeamPosition:{position}"]["services_permission"] == "Scheduler"
    assert shown[f"Team:{BAND}"]["services_permission"] is None  # a team itself has no roster
