"""``pcosync teams import`` against both emulators over real HTTP."""

from __future__ import annotations

from pcosync.domain.identity import GroupKind
from pcosync.store.links import GroupLinkStatus
from tests.teams.conftest import TeamsChurch

# the seeded Services structure (see the PCO emulator's seed)
LIVE_TEAMS = {6600001: "Band", 6600002: "Vocals", 6600003: "Production", 6600007: "Nursery"}
ARCHIVED_TEAM, DELETED_TEAM = 6600006, 6600008  # Hospitality, Preschool
MIDDLE_SCHOOL, STUDENT_MINISTRY, WEEKEND = 3300003, 3300002, 3300001


def test_import_creates_the_tree_with_attributes_and_links(tc: TeamsChurch) -> None:
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "Band" in result.output and "created" in result.output

    pco_ids = tc.attribute("PcoId")
    markers = tc.attribute("PcoMarker")
    groups = tc.groups()
    by_ref = {ref: gid for gid, ref in pco_ids.items()}
    root = tc.serving_teams_id()

    folders = tc.c.pco_get("/services/v2/folders")["data"]
    service_types = tc.c.pco_get("/services/v2/service_types")["data"]
    teams = tc.c.pco_get("/services/v2/teams", include="team_positions", per_page=100)
    expected = {f"Folder:{f['id']}" for f in folders} | {
        f"ServiceType:{s['id']}" for s in service_types
    }
    for team in teams["data"]:
        live = not team["attributes"]["archived_at"] and not team["attributes"]["deleted_at"]
        positions = {
            f"TeamPosition:{p['id']}" for p in team["relationships"]["team_positions"]["data"]
        }
        if live:
            expected |= {f"Team:{team['id']}"} | positions
        else:
            assert f"Team:{team['id']}" not in by_ref  # archived / soft-deleted: not imported
            assert not positions & set(by_ref)
    assert set(by_ref) == expected

    serving_type = tc.serving_team_type()
    for ref, gid in by_ref.items():
        assert groups[gid]["GroupTypeId"] == serving_type
        assert markers.get(gid), f"{ref} has no PcoMarker"
    # structure: nested folder under its folder, service type under folder, etc.
    assert groups[by_ref[f"Folder:{WEEKEND}"]]["ParentGroupId"] == root
    assert (
        groups[by_ref[f"Folder:{MIDDLE_SCHOOL}"]]["ParentGroupId"]
        == by_ref[f"Folder:{STUDENT_MINISTRY}"]
    )
    assert groups[by_ref["Team:6600001"]]["ParentGroupId"] == by_ref["ServiceType:1200001"]
    assert groups[by_ref["Team:6600001"]]["Name"] == "Band"
    band_positions = [g for g in groups.values() if g["ParentGroupId"] == by_ref["Team:6600001"]]
    assert {g["Name"] for g in band_positions} >= {"Drums", "Bass", "Keys"}

    store = tc.c.store()
    try:
        links = {link.pco_id: link for link in store.groups.all()}
    finally:
        store.close()
    assert set(links) == expected
    assert all(link.created_by_import for link in links.values())
    assert links["TeamPosition:44000001"].kind is GroupKind.TEAM_POSITION
    assert links["Team:6600001"].rock_group_id == by_ref["Team:6600001"]


def test_dry_run_shows_the_tree_and_writes_nothing(tc: TeamsChurch) -> None:
    before = tc.c.writes()
    groups_before = tc.groups()
    result = tc.cli("teams", "import", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would be created" in result.output
    assert "Music Director" in result.output  # a position, deep in the tree
    assert "Hospitality" not in result.output  # archived team
    assert tc.c.writes() == before
    assert tc.groups() == groups_before
    assert tc.attribute("PcoId") == {}


def test_reimport_is_idempotent(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    after_first = tc.c.writes()
    assert after_first["rock"] > 0
    assert after_first["pco"] == 0  # the import only reads Planning Center
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "nothing to change" in result.output
    assert tc.c.writes() == after_first  # zero writes to Rock (and Planning Center)


def test_rename_move_and_new_team_are_picked_up(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    by_ref = {ref: gid for gid, ref in tc.attribute("PcoId").items()}
    tc.rename_team(6600001, "Worship Band")
    tc.move_team(6600007, 1200002)  # Nursery: Sunday Morning → Saturday Night
    writes = tc.rock_writes()

    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "rename" in result.output and "move" in result.output
    groups = tc.groups()
    assert groups[by_ref["Team:6600001"]]["Name"] == "Worship Band"
    assert groups[by_ref["Team:6600007"]]["ParentGroupId"] == by_ref["ServiceType:1200002"]
    assert tc.rock_writes() - writes == 2  # one PATCH each, nothing recreated
    assert {ref: gid for gid, ref in tc.attribute("PcoId").items()} == by_ref

    # a team created in PCO afterwards is added with its position
    doc = tc.pco_create_team(1200005, "Parking", ["Lot Attendant"])
    assert tc.cli("teams", "import").exit_code == 0
    refs = {ref: gid for gid, ref in tc.attribute("PcoId").items()}
    team_gid = refs[f"Team:{doc['team']}"]
    assert tc.groups()[team_gid]["ParentGroupId"] == by_ref["ServiceType:1200005"]
    assert f"TeamPosition:{doc['position']}" in refs


def test_deleted_and_archived_teams_are_inactivated_then_reactivated(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    by_ref = {ref: gid for gid, ref in tc.attribute("PcoId").items()}
    tc.team_action(6600001, "delete")
    tc.team_action(6600002, "archive")

    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "deleted in Planning Center" in result.output
    assert "archived in Planning Center" in result.output
    groups = tc.groups()
    band, vocals = by_ref["Team:6600001"], by_ref["Team:6600002"]
    assert groups[band]["IsActive"] is False
    assert groups[vocals]["IsActive"] is False
    drums = by_ref["TeamPosition:44000004"]
    assert groups[drums]["IsActive"] is False  # positions follow their team
    assert groups[by_ref["Team:6600003"]]["IsActive"] is True  # the rest untouched
    store = tc.c.store()
    try:
        link = store.groups.by_rock(band)
        assert link is not None and link.status is GroupLinkStatus.INACTIVE  # marked, kept
        assert store.groups.by_rock(drums) is not None
    finally:
        store.close()

    # reported once: the next run has nothing left to do
    writes = tc.rock_writes()
    assert tc.cli("teams", "import").exit_code == 0
    assert tc.rock_writes() == writes

    # restored within PCO's 30 days → active again, same groups
    tc.team_action(6600001, "restore")
    tc.team_action(6600002, "unarchive")
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "reactivate" in result.output
    groups = tc.groups()
    assert groups[band]["IsActive"] is True and groups[vocals]["IsActive"] is True
    assert groups[drums]["IsActive"] is True
    store = tc.c.store()
    try:
        link = store.groups.by_rock(band)
        assert link is not None and link.status is GroupLinkStatus.ACTIVE
    finally:
        store.close()


def test_team_gone_for_good_is_inactivated_and_the_run_goes_on(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    by_ref = {ref: gid for gid, ref in tc.attribute("PcoId").items()}
    tc.team_action(6600003, "delete")
    tc.c.pco_control("clock", {"advance_seconds": 31 * 86400})  # past the 30 days: 404
    tc.rename_team(6600001, "Band 2")
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "404" in result.output
    groups = tc.groups()
    assert groups[by_ref["Team:6600003"]]["IsActive"] is False
    assert groups[by_ref["TeamPosition:44000010"]]["IsActive"] is False
    assert groups[by_ref["Team:6600001"]]["Name"] == "Band 2"  # the rest carried on


def test_folder_option_imports_only_that_folder(tc: TeamsChurch) -> None:
    result = tc.cli("teams", "import", "--folder", "Middle School")
    assert result.exit_code == 0, result.output
    refs = set(tc.attribute("PcoId").values())
    assert refs == {
        f"Folder:{MIDDLE_SCHOOL}",
        "ServiceType:1200004",
        "Team:6600004",
        "TeamPosition:44000015",
        "TeamPosition:44000016",
    }
    bad = tc.cli("teams", "import", "--folder", "No Such Folder")
    assert bad.exit_code == 2
    assert "Weekend Services" in bad.output


def test_adopt_links_groups_that_already_carry_a_pco_id(tc: TeamsChurch) -> None:
    # an older plugin left a group for the Band team, with its PcoId, somewhere else
    root = tc.serving_teams_id()
    old = tc.rock_create_group("Band (old plugin)", root)
    tc.rock_set_attribute(old, "PcoId", "Team:6600001")

    result = tc.cli("teams", "import", "--adopt")
    assert result.exit_code == 0, result.output
    assert "adopt" in result.output
    refs: dict[str, list[int]] = {}
    for gid, ref in tc.attribute("PcoId").items():
        refs.setdefault(ref, []).append(gid)
    assert refs["Team:6600001"] == [old]  # no second group for the team
    assert old not in tc.attribute("PcoMarker")  # adopted groups are never marked
    group = tc.groups()[old]
    assert group["Name"] == "Band (old plugin)"  # and keep their own name and place
    positions = [g for g in tc.groups().values() if g["ParentGroupId"] == old]
    assert {g["Name"] for g in positions} >= {"Drums", "Keys"}  # children created under it
    store = tc.c.store()
    try:
        link = store.groups.by_rock(old)
        assert link is not None and link.pco_id == "Team:6600001"
        assert link.created_by_import is False
    finally:
        store.close()
    writes = tc.rock_writes()
    assert tc.cli("teams", "import", "--adopt").exit_code == 0
    assert tc.rock_writes() == writes


def test_without_adopt_a_group_with_a_pco_id_is_left_alone(tc: TeamsChurch) -> None:
    root = tc.serving_teams_id()
    old = tc.rock_create_group("Band (old plugin)", root)
    tc.rock_set_attribute(old, "PcoId", "Team:6600001")
    assert tc.cli("teams", "import").exit_code == 0
    store = tc.c.store()
    try:
        assert store.groups.by_rock(old) is None
        link = store.groups.by_pco("Team:6600001")
        assert link is not None and link.rock_group_id != old
    finally:
        store.close()


def test_a_group_an_admin_inactivated_stays_inactive(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    band = {ref: gid for gid, ref in tc.attribute("PcoId").items()}["Team:6600001"]
    tc.c.rock_control(f"groups/{band}", {"IsActive": False})
    writes = tc.rock_writes()
    assert tc.cli("teams", "import").exit_code == 0
    assert tc.group_state(band) == "inactive"  # the import only undoes what it did itself
    assert tc.rock_writes() == writes


def test_import_without_a_parent_group_makes_planning_center_once(tc: TeamsChurch) -> None:
    import tomllib

    from pcosync.config import write_settings

    raw = tomllib.loads(tc.c.config.read_text())
    del raw["teams"]  # what a plain `pcosync init --non-interactive` leaves
    write_settings(tc.c.config, raw)
    dry = tc.cli("teams", "import", "--dry-run")
    assert dry.exit_code == 0, dry.output
    said = " ".join(dry.output.split())  # as read, whatever the terminal's width
    assert "'Planning Center' would be created" in said and "(to be created)" in said
    assert tc.rock_writes() == 0
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    tops = [
        g
        for g in tc.groups().values()
        if g["Name"] == "Planning Center" and g["ParentGroupId"] is None
    ]
    assert len(tops) == 1, tops
    top = tops[0]["Id"]
    said = " ".join(result.output.split())
    assert f"'Planning Center' (Id {top}) was created" in said
    assert "parent_group_id" in said  # and how to choose another
    folders = {ref: gid for gid, ref in tc.attribute("PcoId").items() if ref.startswith("Folder:")}
    assert folders and {tc.groups()[g]["ParentGroupId"] for g in folders.values()} >= {top}
    # once: a second import uses it, and so does one with a fresh state database
    again = tc.cli("teams", "import")
    assert again.exit_code == 0 and "was created" not in again.output
    _forget_state(tc)
    fresh = tc.cli("teams", "import")
    assert fresh.exit_code == 0, fresh.output
    assert f"(Id {top}), found in Rock" in " ".join(fresh.output.split())
    assert [g for g in tc.groups().values() if g["Name"] == "Planning Center"] == tops


def _forget_state(tc: TeamsChurch) -> None:
    """A fresh state database (lost, or a new machine): Rock keeps what the import made."""
    for name in ("state.db", "state.db-wal", "state.db-shm"):
        (tc.c.config.parent / name).unlink(missing_ok=True)


def test_a_fresh_state_database_adopts_what_an_earlier_import_made(tc: TeamsChurch) -> None:
    assert tc.cli("teams", "import").exit_code == 0
    made = dict(tc.attribute("PcoId"))
    _forget_state(tc)
    writes = tc.rock_writes()
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert f"{len(made)} adopted" in result.output and "created" not in result.output
    assert tc.attribute("PcoId") == made  # no copy of any group
    assert tc.rock_writes() == writes  # adopting writes nothing to Rock
    store = tc.c.store()
    try:
        links = {g.rock_group_id: g for g in store.groups.all()}
    finally:
        store.close()
    assert set(links) == set(made)
    # they are the import's again: a later rename in Planning Center renames them
    assert all(link.created_by_import for link in links.values())
    assert tc.cli("teams", "import").exit_code == 0
    assert tc.rock_writes() == writes


def test_a_lost_answer_to_a_create_makes_no_duplicate(tc: TeamsChurch) -> None:
    # the first group POST is applied but its answer never arrives
    tc.c.rock_control(
        "faults",
        {
            "faults": [
                {
                    "kind": "drop",
                    "method": "POST",
                    "path": "/api/Groups",
                    "after_apply": True,
                    "count": 1,
                }
            ]
        },
    )
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    stats = tc.c.rock_control("stats")
    assert stats["faults_fired"].get("drop") == 1
    names = [g["Name"] for g in tc.groups().values() if g["ParentGroupId"] == tc.serving_teams_id()]
    assert sorted(names) == ["Special Events", "Student Ministry", "Weekend Services"]
    assert len(tc.attribute("PcoId")) == 36


def test_a_group_left_half_written_is_repaired_by_the_next_import(tc: TeamsChurch) -> None:
    # Rock refuses the first attribute write: that group is reported, the rest goes on
    tc.c.rock_control(
        "faults",
        {
            "faults": [
                {
                    "kind": "error",
                    "status": 400,
                    "method": "POST",
                    "path": "/api/Groups/AttributeValue",
                    "count": 1,
                }
            ]
        },
    )
    result = tc.cli("teams", "import")
    assert result.exit_code == 3, result.output
    assert len(tc.attribute("PcoId")) == 35
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    assert "repair" in result.output
    assert len(tc.attribute("PcoId")) == 36
    assert len(tc.attribute("PcoMarker")) == 36
    assert len([g for g in tc.groups().values() if g["Name"] == "Special Events"]) == 1


def test_import_json_lists_every_group_and_action(tc: TeamsChurch) -> None:
    import json

    result = tc.cli("teams", "import", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["dry_run"] is True and plan["applied"] is False
    band = next(i for i in plan["items"] if i["pco_id"] == "Team:6600001")
    assert band["actions"] == ["create"] and band["parent_pco_id"] == "ServiceType:1200001"
    assert len(plan["items"]) == 36
