"""Issue #10 §3 and §5: a held run writes nothing of any kind; a Rock group deleted or
archived by hand suspends its link and never unassigns anyone in Planning Center."""

from __future__ import annotations

import httpx

from pcosync.store import GroupLinkStatus, RunStatus
from tests.teams.conftest import TeamsChurch
from tests.teams.test_membership_sync import (
    BAND,
    VOCALS,
    imported,
    links,
    pco_roster,
    rock_active,
    rock_members,
    synced_band,
)


def _rock(tc: TeamsChurch) -> httpx.Client:
    return httpx.Client(base_url=tc.c.rock_url, headers={"Authorization-Token": tc.c.api_key})


def _held(tc: TeamsChurch) -> int:
    """A sync held on request; asserts that neither emulator saw a single write."""
    before = tc.c.writes()
    run = tc.c.sync(hold=True)
    assert run.status is RunStatus.HELD, run.as_dict()
    assert tc.c.writes() == before, "a held run wrote"
    return run.run_id


def test_a_held_run_adds_and_removes_no_membership(tc: TeamsChurch) -> None:
    _groups, position, group = synced_band(tc)
    linked = links(tc)
    newcomer = sorted(set(linked) - pco_roster(tc, BAND, position))[0]
    tc.add_member(group, linked[newcomer])
    leaver = sorted(pco_roster(tc, BAND, position))[0]
    tc.remove_member(rock_members(tc, group)[linked[leaver]]["Id"])
    held = _held(tc)
    assert newcomer not in pco_roster(tc, BAND, position)
    assert leaver in pco_roster(tc, BAND, position)
    store = tc.c.store()
    kinds = {j.operation.kind.value for j in store.journal.list(held)}
    store.close()
    assert {"add_member", "remove_member"} <= kinds  # planned, for the review


def test_a_held_run_inactivates_and_reactivates_no_group(tc: TeamsChurch) -> None:
    groups, _position, group = synced_band(tc)
    tc.team_action(int(BAND), "delete")
    held = _held(tc)
    assert tc.group_state(group) == "active"
    store = tc.c.store()
    link = store.groups.by_rock(group)
    planned = [j.operation.kind.value for j in store.journal.list(held)]
    store.close()
    assert link is not None and link.status is GroupLinkStatus.ACTIVE
    assert "inactivate_group" in planned
    # approved: now the group is inactivated
    assert tc.cli("approve", str(held)).exit_code == 0
    assert tc.group_state(group) == "inactive"
    # the team is restored: reactivating is held too until approved
    tc.team_action(int(BAND), "restore")
    again = _held(tc)
    assert tc.group_state(group) == "inactive"
    assert tc.cli("approve", str(again)).exit_code == 0
    assert tc.group_state(group) == "active"
    assert groups  # the import made them


def test_the_drop_guard_holds_a_run_that_would_stop_many_groups_and_it_wrote_nothing(
    tc: TeamsChurch,
) -> None:
    """The issue's case: teams disappear, the guard holds the run (exit 4, "nothing was
    written"), yet 35 Rock groups had been inactivated already."""
    groups = imported(tc)
    tc.c.sync()
    teams = sorted({str(t["id"]) for t in tc.c.pco_get("/services/v2/teams", per_page=100)["data"]})
    for team in teams[: max(2, len(teams) // 2)]:
        tc.team_action(int(team), "delete")
    before = tc.c.writes()
    run = tc.c.sync()
    assert run.status is RunStatus.HELD, run.as_dict()
    assert any("would be inactivated" in r for r in run.hold_reasons)
    assert tc.c.writes() == before
    assert all(tc.group_state(g) == "active" for g in groups.values())


def test_a_held_run_writes_no_link_id_and_no_person(tc: TeamsChurch) -> None:
    imported(tc)
    before = tc.c.writes()
    run = tc.c.sync(hold=True)  # the first sync: creates and link ids, all held
    assert run.status is RunStatus.HELD and run.created["rock"] + run.created["pco"] > 0
    assert tc.c.writes() == before


def test_a_rock_group_deleted_by_hand_suspends_its_link_and_unassigns_nobody(
    tc: TeamsChurch,
) -> None:
    groups, position, group = synced_band(tc)
    roster = pco_roster(tc, BAND, position)
    assert roster
    with _rock(tc) as http:  # as an admin would, through Rock's API
        http.delete(f"/api/Groups/{group}").raise_for_status()
    assert tc.group_state(group) == "deleted"
    pco_before = tc.c.writes()["pco"]
    run = tc.c.sync()
    assert run.status is RunStatus.DONE, run.as_dict()
    assert pco_roster(tc, BAND, position) == roster  # nobody unassigned in Planning Center
    assert run.members_removed["pco"] == 0 and tc.c.writes()["pco"] == pco_before
    assert any(str(group) in n and "suspended" in n for n in run.notes)
    store = tc.c.store()
    link = store.groups.by_rock(group)
    store.close()
    assert link is not None and link.status is GroupLinkStatus.SUSPENDED
    # and it stays quiet: the next run notes nothing new and changes nothing
    again = tc.c.sync()
    assert again.planned == 0 and not any("suspended" in n for n in again.notes)
    assert groups


def test_a_rock_group_archived_by_hand_is_suspended_and_resumes_when_restored(
    tc: TeamsChurch,
) -> None:
    _groups, position, group = synced_band(tc)
    roster = pco_roster(tc, BAND, position)
    tc.c.rock_control(f"groups/{group}", {"IsArchived": True})
    assert tc.group_state(group) == "archived"
    run = tc.c.sync()
    assert run.members_removed["pco"] == 0
    assert pco_roster(tc, BAND, position) == roster
    assert any("suspended" in n for n in run.notes)
    tc.c.rock_control(f"groups/{group}", {"IsArchived": False})
    back = tc.c.sync()
    assert any("back in Rock" in n for n in back.notes)
    linked = links(tc)
    assert rock_active(tc, group) == {linked[p] for p in roster}
    assert VOCALS  # the other team is untouched by all this
