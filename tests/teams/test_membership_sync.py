"""Team-position membership inside ``pcosync sync``, both ways, over real HTTP (issue #5 §2)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from pcosync.store.links import GroupLinkStatus
from pcosync.store.runs import RunStatus
from tests.teams.conftest import TeamsChurch

BAND, BAND_SERVICE_TYPE = "6600001", "1200001"
VOCALS = "6600002"


def imported(tc: TeamsChurch) -> dict[str, int]:
    """Run the import; PcoId (e.g. ``TeamPosition:44000001``) → Rock group Id."""
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    return {ref: gid for gid, ref in tc.attribute("PcoId").items()}


def team_positions(tc: TeamsChurch, team_id: str) -> list[str]:
    doc = tc.c.pco_get(f"/services/v2/teams/{team_id}", include="team_positions")
    return [p["id"] for p in doc["data"]["relationships"]["team_positions"]["data"]]


def assignments(tc: TeamsChurch, team_id: str) -> list[dict[str, Any]]:
    doc = tc.c.pco_get(
        f"/services/v2/teams/{team_id}/person_team_position_assignments", per_page=100
    )
    return [
        {
            "id": a["id"],
            "person": a["relationships"]["person"]["data"]["id"],
            "position": a["relationships"]["team_position"]["data"]["id"],
        }
        for a in doc["data"]
    ]


def pco_roster(tc: TeamsChurch, team_id: str, position: str) -> set[str]:
    return {a["person"] for a in assignments(tc, team_id) if a["position"] == position}


def rock_members(tc: TeamsChurch, group_id: int) -> dict[int, dict[str, Any]]:
    rows = tc.c.rock_get("/api/GroupMembers", **{"$filter": f"GroupId eq {group_id}"})
    return {int(r["PersonId"]): r for r in rows}


def rock_active(tc: TeamsChurch, group_id: int) -> set[int]:
    return {p for p, r in rock_members(tc, group_id).items() if r["GroupMemberStatus"] == 1}


def links(tc: TeamsChurch) -> dict[str, int]:
    """PCO person id → Rock person Id, from the store."""
    store = tc.c.store()
    try:
        return {lk.pco_person_id: lk.rock_person_id for lk in store.links.all()}
    finally:
        store.close()


def rock_person(tc: TeamsChurch, person_id: int) -> dict[str, Any]:
    row: dict[str, Any] = tc.c.rock_get(f"/api/People/{person_id}")
    return row


def pco_http(tc: TeamsChurch) -> httpx.Client:
    return httpx.Client(base_url=tc.c.pco_url, auth=(tc.c.app_id, tc.c.secret))


def unassign(tc: TeamsChurch, assignment_id: str, position: str) -> None:
    with pco_http(tc) as http:
        resp = http.delete(
            f"/services/v2/service_types/{BAND_SERVICE_TYPE}/team_positions/{position}"
            f"/person_team_position_assignments/{assignment_id}"
        )
        resp.raise_for_status()


def synced_band(tc: TeamsChurch) -> tuple[dict[str, int], str, int]:
    """Import, first sync; the Band position with the most members and its Rock group."""
    groups = imported(tc)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    rosters = {p: pco_roster(tc, BAND, p) for p in team_positions(tc, BAND)}
    position = max(rosters, key=lambda p: len(rosters[p]))
    assert rosters[position], "the seeded Band has assignments"
    return groups, position, groups[f"TeamPosition:{position}"]


def test_pco_assignments_become_active_rock_members(tc: TeamsChurch) -> None:
    groups = imported(tc)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    linked = links(tc)
    checked = 0
    for position in team_positions(tc, BAND):
        expected = {linked[p] for p in pco_roster(tc, BAND, position)}
        assert rock_active(tc, groups[f"TeamPosition:{position}"]) == expected
        checked += len(expected)
    assert checked > 0
    assert summary.members_added["rock"] >= checked
    assert summary.as_dict()["memberships"]["added"]["rock"] == summary.members_added["rock"]


def test_second_run_writes_nothing(tc: TeamsChurch) -> None:
    synced_band(tc)
    before = tc.c.writes()
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE
    assert summary.planned == 0, summary.as_dict()
    assert tc.c.writes() == before


def test_rock_member_added_is_assigned_in_pco(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    linked = links(tc)
    outside = sorted(set(linked) - pco_roster(tc, BAND, position))
    newcomer_pco = outside[0]
    tc.add_member(group, linked[newcomer_pco])
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.members_added["pco"] == 1
    assert newcomer_pco in pco_roster(tc, BAND, position)


def test_pco_unassigned_is_inactivated_in_rock(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    gone = next(a for a in assignments(tc, BAND) if a["position"] == position)
    rock_id = links(tc)[gone["person"]]
    assert rock_id in rock_active(tc, group)
    unassign(tc, gone["id"], position)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.members_removed["rock"] == 1
    member = rock_members(tc, group)[rock_id]
    assert member["GroupMemberStatus"] == 0  # inactivated, not deleted: Rock keeps history
    # and it stays that way: the next run writes nothing
    before = tc.c.writes()
    assert tc.c.sync().planned == 0
    assert tc.c.writes() == before


def test_rock_member_inactivated_is_unassigned_in_pco(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    pco_id = sorted(pco_roster(tc, BAND, position))[0]
    rock_id = links(tc)[pco_id]
    member = rock_members(tc, group)[rock_id]
    with httpx.Client(
        base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key}
    ) as http:
        resp = http.patch(f"/api/GroupMembers/{member['Id']}", json={"GroupMemberStatus": 0})
        resp.raise_for_status()
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.members_removed["pco"] == 1
    assert pco_id not in pco_roster(tc, BAND, position)


def test_new_rock_member_without_pco_person_is_created_and_assigned(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    some = rock_person(tc, tc.some_person())
    with httpx.Client(
        base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key}
    ) as http:
        resp = http.post(
            "/api/People",
            json={
                "FirstName": "Zebedee",
                "LastName": "Quillfeather",
                "Email": "zebedee.quillfeather@example.org",
                "IsSystem": False,
                "Gender": 1,
                "RecordTypeValueId": some["RecordTypeValueId"],
                "RecordStatusValueId": some["RecordStatusValueId"],
            },
        )
        resp.raise_for_status()
        rock_id = int(resp.json())
    tc.add_member(group, rock_id)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.created["pco"] == 1, summary.as_dict()
    pco_id = {r: p for p, r in links(tc).items()}[rock_id]
    person = tc.c.pco_get(f"/people/v2/people/{pco_id}")["data"]
    assert person["attributes"]["last_name"] == "Quillfeather"
    assert pco_id in pco_roster(tc, BAND, position)
    # next run: in Services, serving, linked; nothing to do
    assert tc.c.sync().planned == 0


def test_rock_member_matching_a_pco_person_outside_services_is_linked_not_duplicated(
    tc: TeamsChurch,
) -> None:
    _groups, position, group = synced_band(tc)
    email = "marigold.thistlewood@example.org"

    async def pco_person() -> str:
        async with tc.c.pco() as pco:
            person = await pco.create_person({"first_name": "Marigold", "last_name": "Thistlewood"})
            await pco.create_email(person.id, email)
            return person.id

    pco_id = asyncio.run(pco_person())  # in People, not in Services: not serving
    some = rock_person(tc, tc.some_person())
    with httpx.Client(
        base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key}
    ) as http:
        resp = http.post(
            "/api/People",
            json={
                "FirstName": "Marigold",
                "LastName": "Thistlewood",
                "Email": email,
                "IsSystem": False,
                "Gender": 2,
                "RecordTypeValueId": some["RecordTypeValueId"],
                "RecordStatusValueId": some["RecordStatusValueId"],
            },
        )
        resp.raise_for_status()
        rock_id = int(resp.json())
    tc.add_member(group, rock_id)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.created["pco"] == 0, summary.as_dict()
    assert links(tc).get(pco_id) == rock_id
    assert pco_id in pco_roster(tc, BAND, position)


def test_team_deleted_in_pco_is_skipped_and_reported(tc: TeamsChurch) -> None:
    groups, _position, group = synced_band(tc)
    members_before = rock_active(tc, group)
    assert members_before
    # meanwhile someone joins a Vocals position in Rock: that must still go through
    vocals = team_positions(tc, VOCALS)[0]
    linked = links(tc)
    joiner = sorted(set(linked) - pco_roster(tc, VOCALS, vocals))[0]
    tc.add_member(groups[f"TeamPosition:{vocals}"], linked[joiner])
    tc.team_action(int(BAND), "delete")

    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.exit_code == 0
    assert any("Band" in n and "deleted" in n and str(group) in n for n in summary.notes)
    # nobody was removed from the Band groups in Rock; the group was inactivated instead
    assert rock_active(tc, group) == members_before
    assert summary.members_removed["rock"] == 0
    assert tc.group_state(group) == "inactive"
    store = tc.c.store()
    try:
        link = store.groups.by_rock(group)
    finally:
        store.close()
    assert link is not None and link.status is GroupLinkStatus.INACTIVE
    # the rest of the run carried on
    assert joiner in pco_roster(tc, VOCALS, vocals)
    assert summary.members_added["pco"] == 1
    # and the next run is quiet
    again = tc.c.sync()
    assert again.planned == 0 and again.status is RunStatus.DONE


def test_a_failing_membership_write_is_parked_and_retried(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    linked = links(tc)
    newcomer = sorted(set(linked) - pco_roster(tc, BAND, position))[0]
    assert linked[newcomer] not in rock_members(tc, group)

    async def assign() -> None:
        async with tc.c.pco() as pco:
            await pco.create_assignment(BAND_SERVICE_TYPE, position, newcomer)

    asyncio.run(assign())
    tc.c.rock_control(
        "faults",
        {
            "faults": [
                {"kind": "error", "status": 400, "method": "POST", "path": "/api/GroupMembers"}
            ]
        },
    )
    first = tc.c.sync()
    assert first.status is RunStatus.PARTIAL, first.as_dict()
    assert first.exit_code == 3 and first.parked == 1
    store = tc.c.store()
    try:
        parked = [p for p in store.parked.list() if p.record_key.startswith("membership:")]
    finally:
        store.close()
    assert len(parked) == 1
    assert "add_member" in parked[0].reason and "Rock" in parked[0].reason

    tc.c.rock_control("faults", method="DELETE")
    second = tc.c.sync()
    assert second.status is RunStatus.DONE, second.as_dict()
    assert linked[newcomer] in rock_active(tc, group)
    store = tc.c.store()
    try:
        assert not [p for p in store.parked.list() if p.record_key.startswith("membership:")]
    finally:
        store.close()


def test_revert_undoes_the_memberships_a_run_made_on_both_sides(tc: TeamsChurch) -> None:
    from pcosync.store.runs import RunStatus as Status

    _groups, position, group = synced_band(tc)
    linked = links(tc)
    newcomer_pco = sorted(set(linked) - pco_roster(tc, BAND, position))[0]
    gone = next(a for a in assignments(tc, BAND) if a["position"] == position)
    gone_rock = linked[gone["person"]]
    tc.add_member(group, linked[newcomer_pco])  # Rock add → the run assigns in PCO
    unassign(tc, gone["id"], position)  # PCO removal → the run inactivates in Rock
    run = tc.c.sync()
    assert run.members_added["pco"] == 1 and run.members_removed["rock"] == 1
    result = tc.cli("revert", str(run.run_id), "--yes")
    assert result.exit_code == 0, result.output
    # the run's own writes are undone: the assignment it made is gone, the member it
    # inactivated is active again
    assert newcomer_pco not in pco_roster(tc, BAND, position)
    assert gone_rock in rock_active(tc, group)
    store = tc.c.store()
    try:
        reverted = store.runs.get(run.run_id)
    finally:
        store.close()
    assert reverted is not None and reverted.status is Status.REVERTED


def test_team_restored_within_30_days_is_reactivated_by_the_sync(tc: TeamsChurch) -> None:
    groups, position, group = synced_band(tc)
    band_group = groups[f"Team:{BAND}"]
    tc.team_action(int(BAND), "delete")
    deleted = tc.c.sync()
    assert deleted.status is RunStatus.DONE, deleted.as_dict()
    # the team-level group stops with its positions
    assert tc.group_state(group) == "inactive"
    assert tc.group_state(band_group) == "inactive"

    tc.team_action(int(BAND), "restore")
    # while it was gone, PCO lost one of the position's members
    gone = next(a for a in assignments(tc, BAND) if a["position"] == position)
    gone_rock = links(tc)[gone["person"]]
    unassign(tc, gone["id"], position)
    restored = tc.c.sync()
    assert restored.status is RunStatus.DONE, restored.as_dict()
    assert any("Band" in n and "restored" in n and str(group) in n for n in restored.notes)
    assert tc.group_state(group) == "active" and tc.group_state(band_group) == "active"
    store = tc.c.store()
    try:
        found = [store.groups.by_rock(g) for g in (group, band_group)]
    finally:
        store.close()
    assert [lk.status if lk else None for lk in found] == [GroupLinkStatus.ACTIVE] * 2
    # and its memberships sync again, in the same run
    assert gone_rock not in rock_active(tc, group)
    assert restored.members_removed["rock"] == 1
    assert tc.c.sync().planned == 0


def test_a_dry_run_reports_a_deleted_team_without_touching_rock(tc: TeamsChurch) -> None:
    _groups, _position, group = synced_band(tc)
    tc.team_action(int(BAND), "delete")
    before = tc.c.writes()
    dry = tc.c.sync(dry_run=True)
    assert any("would be inactivated" in n and str(group) in n for n in dry.notes)
    assert tc.c.writes() == before
    assert tc.group_state(group) == "active"


def test_the_teams_sweep_is_read_once_per_run(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    linked = links(tc)
    newcomers = sorted(set(linked) - pco_roster(tc, BAND, position))[:3]
    for pco_id in newcomers:
        tc.add_member(group, linked[pco_id])
    tc.c.pco_control("stats", method="DELETE")
    summary = tc.c.sync()
    assert summary.members_added["pco"] == len(newcomers) == 3
    routes = tc.c.pco_control("stats")["by_route"]
    assert routes.get("GET /services/v2/teams", 0) == 1
    # the writes trust the run's sweep: no re-read of the team before each write
    assert routes.get("GET /services/v2/teams/{id}/person_team_position_assignments", 0) == 0
    assert routes.get(
        "POST /services/v2/service_types/{id}/team_positions/{id}/person_team_position_assignments",
        0,
    ) == len(newcomers)


def _all_positions(tc: TeamsChurch) -> dict[str, set[str]]:
    """PCO person → positions held on live teams."""
    doc = tc.c.pco_get("/services/v2/teams", include="person_team_position_assignments")
    held: dict[str, set[str]] = {}
    live = {t["id"] for t in doc["data"] if not t["attributes"]["deleted_at"]}
    for a in doc.get("included", []):
        if a["type"] != "PersonTeamPositionAssignment":
            continue
        team = next(t["id"] for t in doc["data"] if a in _team_assignments(doc, t))
        if team in live:
            person = a["relationships"]["person"]["data"]["id"]
            held.setdefault(person, set()).add(a["relationships"]["team_position"]["data"]["id"])
    return held


def _team_assignments(doc: dict[str, Any], team: dict[str, Any]) -> list[dict[str, Any]]:
    wanted = {r["id"] for r in team["relationships"]["person_team_position_assignments"]["data"]}
    return [i for i in doc["included"] if i["id"] in wanted]


def _pco_status(tc: TeamsChurch, person: str) -> str:
    return str(tc.c.pco_get(f"/people/v2/people/{person}")["data"]["attributes"]["status"])


def _set_leavers(tc: TeamsChurch, on: bool) -> None:
    import tomllib

    from pcosync.config import write_settings

    data = tomllib.loads(tc.c.config.read_text())
    data["teams"]["inactivate_leavers"] = on
    write_settings(tc.c.config, data)


def _only_position_leaver(tc: TeamsChurch, position: str) -> str:
    held = _all_positions(tc)
    return next(p for p in sorted(pco_roster(tc, BAND, position)) if held.get(p) == {position})


def test_leaving_every_team_only_unassigns_by_default(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    leaver = _only_position_leaver(tc, position)
    tc.remove_member(rock_members(tc, group)[links(tc)[leaver]]["Id"])
    summary = tc.c.sync()
    assert summary.members_removed["pco"] == 1
    assert leaver not in pco_roster(tc, BAND, position)
    assert _pco_status(tc, leaver) == "active"
    assert summary.inactivated["pco"] == 0


def test_leaving_every_team_inactivates_in_pco_when_opted_in_and_revert_undoes_it(
    tc: TeamsChurch,
) -> None:
    _groups, position, group = synced_band(tc)
    _set_leavers(tc, True)
    held = _all_positions(tc)
    leaver = _only_position_leaver(tc, position)
    # someone on two positions who leaves one stays active
    stayer = next(
        (p for p in sorted(pco_roster(tc, BAND, position)) if len(held.get(p, set())) > 1), None
    )
    linked = links(tc)
    members = rock_members(tc, group)
    tc.remove_member(members[linked[leaver]]["Id"])
    if stayer is not None:
        tc.remove_member(members[linked[stayer]]["Id"])
    run = tc.c.sync()
    assert run.status is RunStatus.DONE, run.as_dict()
    assert run.inactivated["pco"] == 1
    assert _pco_status(tc, leaver) == "inactive"
    if stayer is not None:
        assert _pco_status(tc, stayer) == "active"

    result = tc.cli("revert", str(run.run_id), "--yes")
    assert result.exit_code == 0, result.output
    assert _pco_status(tc, leaver) == "active"
    assert leaver in pco_roster(tc, BAND, position)


def test_a_live_team_under_an_archived_service_type_stays_stopped(tc: TeamsChurch) -> None:
    from datetime import UTC, datetime

    groups, _position, group = synced_band(tc)
    store = tc.pco_emu.store
    service_type = store.service_types.get(int(BAND_SERVICE_TYPE))
    service_type.archived_at = datetime.now(UTC)  # only the web UI archives service types
    store.mark("service_type", service_type.id)
    result = tc.cli("teams", "import")  # the import stops the teams under it
    assert result.exit_code == 0, result.output
    assert tc.group_state(group) == "inactive"
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    # the team itself is live, but the sync does not bring it back while its type is archived
    assert tc.group_state(group) == "inactive"
    assert tc.group_state(groups[f"Team:{BAND}"]) == "inactive"
    assert not any("restored" in n for n in summary.notes)


def test_a_team_deleted_while_the_run_applies_fails_nothing_but_its_own_write(
    tc: TeamsChurch,
) -> None:
    """Deleted between the sweep and the write: PCO refuses the assignment (422), that one
    change is parked, the rest goes through; the next run stops the group and settles it."""
    from pcosync.app.context import open_connection
    from pcosync.app.people_sync import SyncOptions
    from pcosync.app.progress import PhaseStarted, Progress, ProgressEvent
    from pcosync.config import load_settings

    groups, position, group = synced_band(tc)
    linked = links(tc)
    vocals = team_positions(tc, VOCALS)[0]
    band_joiner = sorted(set(linked) - pco_roster(tc, BAND, position))[0]
    vocals_joiner = sorted(set(linked) - pco_roster(tc, VOCALS, vocals))[0]
    tc.add_member(group, linked[band_joiner])
    tc.add_member(groups[f"TeamPosition:{vocals}"], linked[vocals_joiner])

    def listen(event: ProgressEvent) -> None:
        if isinstance(event, PhaseStarted) and event.name == "Writing changes":
            tc.team_action(int(BAND), "delete")  # someone deletes it in the web UI just now

    progress = Progress(listen)

    async def run() -> Any:
        async with open_connection(load_settings(tc.c.config), progress=progress) as conn:
            return await conn.people.run(SyncOptions())

    summary = asyncio.run(run())
    assert summary.status is RunStatus.PARTIAL and summary.exit_code == 3, summary.as_dict()
    assert summary.parked == 1
    assert vocals_joiner in pco_roster(tc, VOCALS, vocals)  # the rest went through
    after = tc.c.sync()
    assert after.status is RunStatus.DONE, after.as_dict()
    assert tc.group_state(group) == "inactive"
    store = tc.c.store()
    try:
        assert not [p for p in store.parked.list() if p.record_key.startswith("membership:")]
    finally:
        store.close()


def test_a_team_gone_for_good_stops_its_groups_with_a_clear_note(tc: TeamsChurch) -> None:
    groups, position, group = synced_band(tc)
    tc.team_action(int(BAND), "delete")
    tc.c.pco_control("clock", {"advance_seconds": 31 * 86400})  # past the 30 days: gone
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE and summary.exit_code == 0, summary.as_dict()
    assert any(
        f"team position {position}: no longer in Planning Center" in n and str(group) in n
        for n in summary.notes
    ), summary.notes
    assert tc.group_state(group) == "inactive"
    assert tc.group_state(groups[f"Team:{BAND}"]) == "inactive"
    assert summary.members_removed["rock"] == 0


def test_safety_percent_measures_memberships_against_the_synced_memberships(
    tc: TeamsChurch,
) -> None:
    """A percent limit must not hold the first team sync (no memberships to measure against
    yet), and must hold a later run that adds more than that share of the memberships."""
    import tomllib

    from pcosync.config import write_settings

    first = tc.c.sync()  # people first, no teams yet
    assert first.status is RunStatus.DONE, first.as_dict()
    data = tomllib.loads(tc.c.config.read_text())
    data["safety"] = {"create": {"percent": 10}}
    write_settings(tc.c.config, data)
    groups = imported(tc)
    filled = tc.c.sync()
    assert filled.status is RunStatus.DONE, filled.hold_reasons
    assert filled.members_added["rock"] > 0
    # now more than 10 % of the memberships at once: held, and said why
    linked = links(tc)
    total = filled.members_added["rock"]
    position_groups = [g for ref, g in groups.items() if ref.startswith("TeamPosition:")]
    added = 0
    for group in position_groups:
        for rock_id in sorted(linked.values()):
            if added > total // 10 + 1:
                break
            if rock_id not in rock_members(tc, group):
                tc.add_member(group, rock_id)
                added += 1
    held = tc.c.sync()
    assert held.status is RunStatus.HELD, held.as_dict()
    assert any("memberships" in r for r in held.hold_reasons), held.hold_reasons


def test_revert_leaves_alone_someone_made_inactive_again_since(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    _set_leavers(tc, True)
    leaver = _only_position_leaver(tc, position)
    tc.remove_member(rock_members(tc, group)[links(tc)[leaver]]["Id"])
    run = tc.c.sync()
    assert run.inactivated["pco"] == 1 and _pco_status(tc, leaver) == "inactive"
    # staff make them active, and a day later inactive again, for their own reasons
    with pco_http(tc) as http:
        for status in ("active", "inactive"):
            tc.c.pco_control("clock", {"advance_seconds": 86400})
            body = {"data": {"type": "Person", "id": leaver, "attributes": {"status": status}}}
            http.patch(f"/people/v2/people/{leaver}", json=body).raise_for_status()
    result = tc.cli("revert", str(run.run_id), "--yes")
    assert result.exit_code == 0, result.output
    assert _pco_status(tc, leaver) == "inactive"
    assert "inactive in Planning Center again after the run" in " ".join(result.output.split())


def test_approving_an_old_hold_does_not_inactivate_someone_given_a_team_since(
    tc: TeamsChurch,
) -> None:
    _groups, position, group = synced_band(tc)
    _set_leavers(tc, True)
    leaver = _only_position_leaver(tc, position)
    tc.remove_member(rock_members(tc, group)[links(tc)[leaver]]["Id"])
    held = tc.c.sync(hold=True)
    assert held.status is RunStatus.HELD and held.inactivated["pco"] == 1
    # while the run waits for review, they are given another position in Planning Center
    other = team_positions(tc, VOCALS)[0]

    async def assign() -> None:
        async with tc.c.pco() as pco:
            await pco.create_assignment("1200002", other, leaver)

    asyncio.run(assign())
    result = tc.cli("approve", str(held.run_id))
    assert result.exit_code in (0, 3), result.output
    assert leaver not in pco_roster(tc, BAND, position)  # the approved removal went through
    assert _pco_status(tc, leaver) == "active"  # but they still serve: not made inactive


def test_a_quiet_run_reads_the_linked_groups_and_their_rosters_by_group_type(
    tc: TeamsChurch,
) -> None:
    """Issue 14: the linked Rock groups and their rosters are read by group type in pages
    (at 1,000 position groups: 3 + 8 requests instead of 79 + 60 in `or` batches of 15;
    `bench.membership_sync`). Here, a regression guard at the fixture's 36 groups."""
    imported(tc)
    tc.c.sync()
    tc.c.sync()
    tc.c.rock_control("stats", method="DELETE")
    quiet = tc.c.sync()
    assert quiet.planned == 0
    routes = tc.c.rock_control("stats")["by_route"]
    # the linked groups: a sample for their type, the type's page, the rest by Id; the
    # people read asks for changed families and their groups (2)
    assert routes.get("GET /api/Groups", 0) <= 5, routes
    assert routes.get("GET /api/GroupMembers", 0) <= 2, routes
