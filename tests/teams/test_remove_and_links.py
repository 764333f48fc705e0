"""``pcosync teams remove-import`` and ``teams links|link|unlink`` against both emulators."""

from __future__ import annotations

import json

from tests.teams.conftest import TeamsChurch

SMALL_GROUPS = ("Tuesday Men's Group", "Young Adults", "Moms Together", "Financial Peace")


def _imported(tc: TeamsChurch) -> dict[str, int]:
    return {ref: gid for gid, ref in tc.attribute("PcoId").items()}


def test_remove_import_dry_run_writes_nothing(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    by_ref = _imported(tc)
    before = tc.c.writes()
    result = tc.cli("teams", "remove-import", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Would delete 36 group(s)" in result.output
    assert "Dry run: nothing was written." in result.output
    assert tc.c.writes() == before
    assert all(tc.group_state(gid) == "active" for gid in by_ref.values())


def test_remove_import_removes_only_the_groups_it_created(tc: TeamsChurch) -> None:
    root = tc.serving_teams_id()
    # an adopted group, a group linked by hand and the seeded small groups must survive
    adopted = tc.rock_create_group("Band (old plugin)", root)
    tc.rock_set_attribute(adopted, "PcoId", "Team:6600001")
    hand = tc.rock_create_group("Hand-made", root)
    assert tc.cli("teams", "link", str(hand), "44000022").exit_code == 0  # Nursery Lead
    assert tc.cli("teams", "import", "--adopt").exit_code == 0
    by_ref = _imported(tc)
    assert by_ref["TeamPosition:44000022"] == hand
    created = [gid for gid in by_ref.values() if gid not in (adopted, hand)]
    assert len(created) == 34
    small = {g["Name"]: g for g in tc.groups().values() if g["Name"] in SMALL_GROUPS}
    assert len(small) == 4
    small_members = tc.c.rock_get(
        "/api/GroupMembers", **{"$filter": f"GroupId eq {small['Young Adults']['Id']}"}
    )
    result = tc.cli("teams", "remove-import", "--yes")
    assert result.exit_code == 0, result.output
    # the positions under the adopted team are the import's; the adopted team is not
    for gid in created:
        assert tc.group_state(gid) == "deleted", gid
    assert tc.group_state(adopted) == "active"
    assert tc.group_state(hand) == "active"
    assert tc.group_state(root) == "active"
    after = {g["Name"]: g for g in tc.groups().values() if g["Name"] in SMALL_GROUPS}
    assert after == small
    assert (
        tc.c.rock_get(
            "/api/GroupMembers", **{"$filter": f"GroupId eq {small['Young Adults']['Id']}"}
        )
        == small_members
    )
    store = tc.c.store()
    try:
        remaining = {link.rock_group_id for link in store.groups.all()}
    finally:
        store.close()
    assert remaining == {adopted, hand}
    assert tc.attribute("PcoId")[adopted] == "Team:6600001"


def test_group_with_foreign_members_is_archived_not_deleted(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    by_ref = _imported(tc)
    drums, band = by_ref["TeamPosition:44000004"], by_ref["Team:6600001"]
    bass = by_ref["TeamPosition:44000003"]
    tc.add_member(drums, tc.some_person())
    # a member added then removed leaves history: archived too
    tc.remove_member(tc.add_member(bass, tc.some_person()))

    result = tc.cli("teams", "remove-import", "--yes")
    assert result.exit_code == 0, result.output
    assert "archived" in result.output
    assert tc.group_state(drums) == "archived"
    assert tc.group_state(bass) == "archived"
    assert tc.group_state(band) == "archived"  # holds archived groups: archived, not deleted
    assert tc.group_state(by_ref["TeamPosition:44000001"]) == "deleted"  # empty sibling
    assert tc.group_state(by_ref["Team:6600002"]) == "deleted"
    assert tc.group_state(by_ref["Folder:3300001"]) == "archived"
    assert tc.group_state(by_ref["Folder:3300002"]) == "deleted"
    members = tc.rock_emu.data.table("GroupMember").lookup("GroupId", drums)
    assert len(members) == 1  # the member is still there, with the archived group


def test_remove_import_asks_first(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    by_ref = _imported(tc)
    before = tc.c.writes()
    result = tc.cli("teams", "remove-import", input="n\n")
    assert result.exit_code == 1
    assert "Nothing was removed." in result.output
    assert tc.c.writes() == before
    result = tc.cli("teams", "remove-import", "--folder", "Student Ministry", input="y\n")
    assert result.exit_code == 0, result.output
    assert tc.group_state(by_ref["Folder:3300002"]) == "deleted"
    assert tc.group_state(by_ref["Folder:3300003"]) == "deleted"  # nested folder
    assert tc.group_state(by_ref["Team:6600004"]) == "deleted"
    assert tc.group_state(by_ref["Folder:3300001"]) == "active"  # another folder
    assert tc.group_state(by_ref["Team:6600001"]) == "active"


def test_link_links_and_unlink(tc: TeamsChurch) -> None:
    root = tc.serving_teams_id()
    gid = tc.rock_create_group("Sound crew", root)
    result = tc.cli("teams", "link", str(gid), "44000010")
    assert result.exit_code == 0, result.output
    assert tc.attribute("PcoId")[gid] == "TeamPosition:44000010"
    assert gid not in tc.attribute("PcoMarker")

    result = tc.cli("teams", "links", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows == [
        {
            "id": rows[0]["id"],
            "rock_group_id": gid,
            "rock_group_name": "Sound crew",
            "name": "Production › Sound",  # the team and position, as Planning Center names them
            "pco_id": "TeamPosition:44000010",
            "kind": "team_position",
            "created_by_import": False,
            "status": "active",
            "services_permission": "Scheduled Viewer",
        }
    ]
    # the import then uses the linked group instead of creating one for that position
    assert tc.cli("teams", "import").exit_code == 0
    refs = [ref for ref in tc.attribute("PcoId").values() if ref == "TeamPosition:44000010"]
    assert refs == ["TeamPosition:44000010"]

    # a second link for the same position is refused with a clear message
    other = tc.rock_create_group("Other", root)
    clash = tc.cli("teams", "link", str(other), "44000010")
    assert clash.exit_code == 2
    assert "already exists" in clash.output

    result = tc.cli("teams", "unlink", str(gid))
    assert result.exit_code == 0, result.output
    assert gid not in tc.attribute("PcoId")
    assert tc.group_state(gid) == "active"
    store = tc.c.store()
    try:
        assert store.groups.by_rock(gid) is None
    finally:
        store.close()


def test_link_refuses_a_deleted_team_and_an_unknown_position(tc: TeamsChurch) -> None:
    gid = tc.rock_create_group("Preschool helpers", tc.serving_teams_id())
    result = tc.cli("teams", "link", str(gid), "44000024")  # Preschool: soft-deleted team
    assert result.exit_code == 2
    assert "deleted in Planning Center" in result.output
    result = tc.cli("teams", "link", str(gid), "99999999")
    assert result.exit_code == 2  # a user mistake: the sentence names it and the fix
    assert "no team position 99999999" in result.output
    assert "teams import --dry-run" in result.output
    store = tc.c.store()
    try:
        assert store.groups.all() == []
    finally:
        store.close()
