"""Issue #10 §6: a linked person who disappears never causes a stuck loop.

Before: deleted in Rock (or two linked Planning Center people merged), the next runs
created a replacement, could not link it ("Unlink it first"), and every run ended partial
forever, with a notification each time; `people unlink` of the gone record exited 1.
"""

from __future__ import annotations

import json

import httpx

from pcosync.engine.match import IssueKind
from pcosync.store import RunStatus
from tests.teams.conftest import TeamsChurch
from tests.teams.test_membership_sync import (
    BAND,
    BAND_SERVICE_TYPE,
    links,
    pco_http,
    pco_roster,
    rock_active,
    rock_members,
    synced_band,
    team_positions,
)


def _rock(tc: TeamsChurch) -> httpx.Client:
    return httpx.Client(base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key})


def test_a_linked_rock_person_deleted_retires_the_link_once_and_runs_stay_done(
    tc: TeamsChurch,
) -> None:
    _groups, position, _group = synced_band(tc)
    pco_id = sorted(pco_roster(tc, BAND, position))[0]
    rock_id = links(tc)[pco_id]
    with _rock(tc) as http:
        http.delete(f"/api/People/{rock_id}").raise_for_status()
    tc.c.pco_control(f"people/{pco_id}", {"middle_name": "Stillhere"})  # a change to copy
    first = tc.c.sync()
    assert first.status is RunStatus.DONE, first.as_dict()
    assert first.parked == 0
    assert any(str(rock_id) in n and "retired" in n for n in first.notes)
    assert pco_id not in links(tc)
    # still serving in Planning Center: the next run makes them in Rock again, once
    second = tc.c.sync()
    assert second.status is RunStatus.DONE, second.as_dict()
    assert second.created["rock"] == 1, json.dumps(second.as_dict())
    new_rock = links(tc)[pco_id]
    assert new_rock != rock_id
    for _ in range(2):  # and then it is quiet: no partial run, nothing planned
        again = tc.c.sync()
        assert again.status is RunStatus.DONE and again.planned == 0, again.as_dict()
    # unlinking by the gone record's id is not a failure
    result = tc.cli("people", "unlink", "--pco", pco_id)
    assert result.exit_code == 0, result.output


def test_unlink_works_when_the_record_no_longer_exists(tc: TeamsChurch) -> None:
    _groups, position, _group = synced_band(tc)
    pco_id = sorted(pco_roster(tc, BAND, position))[0]
    rock_id = links(tc)[pco_id]
    with _rock(tc) as http:
        http.delete(f"/api/People/{rock_id}").raise_for_status()
    result = tc.cli("people", "unlink", "--rock", str(rock_id))
    assert result.exit_code == 0, result.output
    assert "no longer exists" in " ".join(result.output.split())
    assert pco_id not in links(tc)


def test_two_linked_people_merged_in_pco_leave_one_link_and_a_duplicate_issue(
    tc: TeamsChurch,
) -> None:
    _groups, position, group = synced_band(tc)
    roster = sorted(pco_roster(tc, BAND, position))
    assert len(roster) >= 2
    keep, remove = roster[0], roster[1]
    linked = links(tc)
    keep_rock, remove_rock = linked[keep], linked[remove]
    assert {keep_rock, remove_rock} <= rock_active(tc, group)
    tc.c.pco_control("merge", {"keep": int(keep), "remove": int(remove)})
    pco_people_before = tc.c.pco_get("/people/v2/people", per_page=1)["meta"]["total_count"]

    first = tc.c.sync()
    assert first.status is RunStatus.DONE, first.as_dict()
    after = links(tc)
    assert after[keep] == keep_rock and remove not in after
    assert remove_rock not in after.values()
    # the other half is never copied into a new Planning Center person
    assert first.created["pco"] == 0
    store = tc.c.store()
    issues = [i for i in store.issues.list() if i.kind is IssueKind.MERGED_DUPLICATE]
    store.close()
    assert len(issues) == 1 and set(issues[0].rock_ids) == {keep_rock, remove_rock}
    shown = tc.cli("people", "issues")
    assert "merge them in Rock" in " ".join(shown.output.split())
    for _ in range(2):
        again = tc.c.sync()
        assert again.status is RunStatus.DONE and again.created["pco"] == 0, again.as_dict()
    total = tc.c.pco_get("/people/v2/people", per_page=1)["meta"]["total_count"]
    assert total == pco_people_before
    # the admin merges the two in Rock: a full run sees it and settles the issue
    tc.c.rock_control("merge", {"keep": keep_rock, "remove": remove_rock})
    tc.c.sync(full=True)
    store = tc.c.store()
    open_ones = [i for i in store.issues.list() if i.kind is IssueKind.MERGED_DUPLICATE]
    store.close()
    assert open_ones == []


PERSON_RECORD_TYPE = "36CF10D6-C695-413D-8E7C-4546EFEF385E"  # Rock's "Person" record type


def _rock_twin(tc: TeamsChurch) -> int:
    """A second, unlinked Rock record (made through the plain API) to merge a linked one into."""
    with _rock(tc) as http:
        kind = http.get(
            "/api/DefinedValues", params={"$filter": f"Guid eq guid'{PERSON_RECORD_TYPE}'"}
        ).json()[0]["Id"]
        made = http.post(
            "/api/People",
            json={"FirstName": "Twin", "LastName": "Record", "RecordTypeValueId": kind},
        )
        made.raise_for_status()
        return int(made.json())


def test_a_rock_merge_into_an_unlinked_record_never_creates_them_again(
    tc: TeamsChurch,
) -> None:
    """Simulation seed 1023 (sim tier): a linked Rock person merged into a second, unlinked
    record of theirs; the next (incremental) run read only the survivor, took it for someone
    new and created them in Planning Center a second time."""
    _groups, position, _group = synced_band(tc)
    pco_id = sorted(pco_roster(tc, BAND, position))[0]
    rock_id = links(tc)[pco_id]
    twin = _rock_twin(tc)
    tc.c.rock_control("merge", {"keep": twin, "remove": rock_id})
    before = tc.c.pco_get("/people/v2/people", **{"where[remote_id]": str(twin)})["data"]
    summary = tc.c.sync()
    assert summary.mode.value == "incremental"
    assert summary.created["pco"] == 0, summary.as_dict()
    full = tc.c.sync(full=True)  # (or the link's next write) follows the merge
    assert full.created["pco"] == 0, full.as_dict()
    assert links(tc)[pco_id] == twin
    after = tc.c.pco_get("/people/v2/people", **{"where[remote_id]": str(twin)})["data"]
    assert before == [] and [p["id"] for p in after] == [pco_id]
    assert tc.c.sync(full=True).planned == 0


def test_a_team_place_for_someone_deleted_in_pco_retires_the_link_once(tc: TeamsChurch) -> None:
    """Simulation seed 1078 (sim tier): adding a team member whose Planning Center record
    had been deleted failed with a 404 in every run, for ever. (Here the deletion is noticed
    before the add; the seed's replay in tests/sim is what reaches the add itself.)"""
    groups, position, _group = synced_band(tc)
    pco_id = sorted(pco_roster(tc, BAND, position))[0]
    rock_id = links(tc)[pco_id]
    other = next(g for ref, g in groups.items() if ref != f"TeamPosition:{position}")
    with httpx.Client(base_url=tc.c.pco_url, auth=(tc.c.app_id, tc.c.secret)) as http:
        http.delete(f"/people/v2/people/{pco_id}").raise_for_status()
    tc.c.rock_control("group-members", {"GroupId": other, "PersonId": rock_id})
    first = tc.c.sync()
    assert any(pco_id in n and "retired" in n for n in first.notes), first.as_dict()
    settled = [tc.c.sync() for _ in range(3)]
    assert settled[-1].status is RunStatus.DONE and settled[-1].planned == 0, settled[-1].as_dict()


def test_a_team_place_for_someone_merged_away_in_rock_follows_the_merge(tc: TeamsChurch) -> None:
    """Simulation seed 761 (sim tier, at 0662013): a linked Rock person merged into another
    record; then a Planning Center assignment to copy to Rock. Rock answers a member added
    for the merged-away Id with a 500 (a key to no row), so every run failed that one
    operation, for ever: nothing noticed the merge (an incremental run reads only the
    survivor, and only a removal looked the person up)."""
    groups, position, group = synced_band(tc)
    pco_id = sorted(pco_roster(tc, BAND, position))[0]
    rock_id = links(tc)[pco_id]
    other = next(p for p in team_positions(tc, BAND) if pco_id not in pco_roster(tc, BAND, p))
    # off every team first (in the seed: a revert took their Rock memberships away), so no
    # removal of theirs is left to copy once the record is gone
    tc.remove_member(int(rock_members(tc, group)[rock_id]["Id"]))
    assert tc.c.sync().status is RunStatus.DONE
    assert all(pco_id not in pco_roster(tc, BAND, p) for p in team_positions(tc, BAND))
    twin = _rock_twin(tc)
    tc.c.rock_control("merge", {"keep": twin, "remove": rock_id})
    with pco_http(tc) as http:
        http.post(
            f"/services/v2/service_types/{BAND_SERVICE_TYPE}/team_positions/{other}"
            "/person_team_position_assignments",
            json={
                "data": {
                    "type": "PersonTeamPositionAssignment",
                    "attributes": {"person_id": int(pco_id)},
                }
            },
        ).raise_for_status()
    runs = [tc.c.sync() for _ in range(3)]
    assert all(r.status is RunStatus.DONE for r in runs), [r.as_dict() for r in runs]
    assert links(tc)[pco_id] == twin
    assert twin in rock_active(tc, groups[f"TeamPosition:{other}"])
    assert runs[-1].planned == 0, runs[-1].as_dict()
