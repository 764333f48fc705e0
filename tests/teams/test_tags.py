"""Services tags ⇄ Rock groups (issue #5 §3, optional): imported as groups, membership = has
the tag, written through ``assign_tags`` without clobbering tags the sync does not manage."""

from __future__ import annotations

import tomllib

import httpx

from pcosync.config import write_settings
from pcosync.store.links import GroupLinkStatus
from pcosync.store.runs import RunStatus
from tests.teams.conftest import TeamsChurch
from tests.teams.test_membership_sync import links, rock_active


def enable_tags(tc: TeamsChurch, *, groups: list[str] | None = None, on: bool = True) -> None:
    data = tomllib.loads(tc.c.config.read_text())
    data["teams"]["tags"] = on
    data["teams"]["tag_groups"] = groups or []
    write_settings(tc.c.config, data)


def tag_catalogue(tc: TeamsChurch) -> dict[str, dict[str, str]]:
    """Tag group name → {tag name: tag id}."""
    doc = tc.c.pco_get("/services/v2/tag_groups", include="tags", per_page=100)
    names = {t["id"]: t["attributes"]["name"] for t in doc.get("included", [])}
    return {
        g["attributes"]["name"]: {
            names[t["id"]]: t["id"] for t in g["relationships"]["tags"]["data"]
        }
        for g in doc["data"]
    }


def person_tags(tc: TeamsChurch) -> dict[str, set[str]]:
    """Services person id → tag ids, as PCO holds them now."""
    out: dict[str, set[str]] = {}
    offset = 0
    while True:
        doc = tc.c.pco_get("/services/v2/people", include="tags", per_page=100, offset=offset)
        for p in doc["data"]:
            out[p["id"]] = {t["id"] for t in p["relationships"]["tags"]["data"]}
        if not doc.get("links", {}).get("next"):
            return out
        offset += 100


def assign(tc: TeamsChurch, person: str, tags: set[str]) -> None:
    with httpx.Client(base_url=tc.c.pco_url, auth=(tc.c.app_id, tc.c.secret)) as http:
        resp = http.post(
            f"/services/v2/people/{person}/assign_tags",
            json={
                "data": {
                    "type": "TagAssignment",
                    "attributes": {},
                    "relationships": {
                        "tags": {"data": [{"type": "Tag", "id": t} for t in sorted(tags)]}
                    },
                }
            },
        )
        resp.raise_for_status()


def imported(tc: TeamsChurch) -> dict[str, int]:
    result = tc.cli("teams", "import")
    assert result.exit_code == 0, result.output
    return {ref: gid for gid, ref in tc.attribute("PcoId").items()}


def test_tags_are_not_imported_unless_switched_on(tc: TeamsChurch) -> None:
    refs = imported(tc)
    assert refs and not [r for r in refs if r.startswith(("Tag:", "TagGroup:"))]


def test_import_mirrors_the_chosen_tag_groups_and_their_tags(tc: TeamsChurch) -> None:
    catalogue = tag_catalogue(tc)
    enable_tags(tc, groups=["skills"])  # names match case-insensitively
    refs = imported(tc)
    groups = tc.groups()
    skills = refs[f"TagGroup:{next(iter(_group_ids(tc, 'Skills')))}"]
    assert groups[skills]["ParentGroupId"] == tc.serving_teams_id()
    for name, tid in catalogue["Skills"].items():
        gid = refs[f"Tag:{tid}"]
        assert groups[gid]["Name"] == name and groups[gid]["ParentGroupId"] == skills
    others = {tid for g, tags in catalogue.items() if g != "Skills" for tid in tags.values()}
    assert not {f"Tag:{t}" for t in others} & set(refs)
    # idempotent: a second import changes nothing
    before = tc.rock_writes()
    again = tc.cli("teams", "import")
    assert again.exit_code == 0 and tc.rock_writes() == before


def test_an_unknown_tag_group_is_named_in_the_error(tc: TeamsChurch) -> None:
    enable_tags(tc, groups=["Hobbies"])
    result = tc.cli("teams", "import")
    assert result.exit_code != 0
    assert "Hobbies" in result.output and "Skills" in result.output


def _group_ids(tc: TeamsChurch, name: str) -> list[str]:
    doc = tc.c.pco_get("/services/v2/tag_groups", per_page=100)
    return [g["id"] for g in doc["data"] if g["attributes"]["name"] == name]


def _synced(tc: TeamsChurch) -> tuple[dict[str, int], dict[str, str], dict[str, int]]:
    """Tags on for Skills only, imported and synced: (refs, Skills tag ids by name, links)."""
    enable_tags(tc, groups=["Skills"])
    refs = imported(tc)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    return refs, tag_catalogue(tc)["Skills"], links(tc)


def test_who_has_a_tag_becomes_the_rock_group_membership(tc: TeamsChurch) -> None:
    refs, skills, linked = _synced(tc)
    held = person_tags(tc)
    checked = 0
    for tid in skills.values():
        expected = {linked[p] for p, tags in held.items() if tid in tags and p in linked}
        assert rock_active(tc, refs[f"Tag:{tid}"]) == expected
        checked += len(expected)
    assert checked > 0, "the seeded church has tagged people"
    assert tc.c.sync().planned == 0


def test_rock_changes_set_tags_and_keep_the_tags_the_sync_does_not_manage(
    tc: TeamsChurch,
) -> None:
    refs, skills, linked = _synced(tc)
    keys = skills["Keys"]
    unmanaged = {t for g, tags in tag_catalogue(tc).items() if g != "Skills" for t in tags.values()}
    held = person_tags(tc)
    # someone linked, without Keys, who carries a tag from a group the sync leaves alone
    person = next(
        p for p in sorted(linked) if keys not in held.get(p, set()) and held.get(p, set())
    )
    kept = set(held[person]) | {next(iter(sorted(unmanaged)))}
    assign(tc, person, kept)
    member = tc.add_member(refs[f"Tag:{keys}"], linked[person])

    added = tc.c.sync()
    assert added.status is RunStatus.DONE, added.as_dict()
    assert added.members_added["pco"] == 1
    assert person_tags(tc)[person] == kept | {keys}

    tc.remove_member(member)
    removed = tc.c.sync()
    assert removed.status is RunStatus.DONE, removed.as_dict()
    assert removed.members_removed["pco"] == 1
    assert person_tags(tc)[person] == kept


def test_a_tag_given_in_planning_center_adds_the_rock_member(tc: TeamsChurch) -> None:
    refs, skills, linked = _synced(tc)
    drums = skills["Drums"]
    held = person_tags(tc)
    person = next(p for p in sorted(linked) if p in held and drums not in held[p])
    assign(tc, person, held[person] | {drums})
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert linked[person] in rock_active(tc, refs[f"Tag:{drums}"])
    assert summary.members_added["rock"] == 1


def test_a_deleted_tag_stops_its_group_and_the_run_goes_on(tc: TeamsChurch) -> None:
    refs, skills, _linked = _synced(tc)
    audio = skills["Audio"]
    group = refs[f"Tag:{audio}"]
    members = rock_active(tc, group)
    store = tc.pco_emu.store
    store.tags.remove(store.tags.get(int(audio)))  # only the PCO web UI deletes tags
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE and summary.exit_code == 0, summary.as_dict()
    assert any(f"tag {audio}" in n and str(group) in n for n in summary.notes), summary.notes
    assert tc.group_state(group) == "inactive"
    assert rock_active(tc, group) == members  # nobody removed from the group
    s = tc.c.store()
    try:
        link = s.groups.by_rock(group)
    finally:
        s.close()
    assert link is not None and link.status is GroupLinkStatus.INACTIVE


def test_switching_tags_off_leaves_tag_groups_alone(tc: TeamsChurch) -> None:
    refs, skills, linked = _synced(tc)
    keys_group = refs[f"Tag:{skills['Keys']}"]
    held = person_tags(tc)
    person = next(p for p in sorted(linked) if skills["Keys"] not in held.get(p, set()))
    enable_tags(tc, on=False)
    tc.add_member(keys_group, linked[person])
    before = tc.c.writes()["pco"]
    assert imported(tc)
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE
    assert tc.c.writes()["pco"] == before  # no tag was written
    assert tc.group_state(keys_group) == "active"  # and the import did not stop the group


def test_remove_import_takes_the_tag_groups_too(tc: TeamsChurch) -> None:
    enable_tags(tc, groups=["Languages"])
    refs = imported(tc)
    tag_groups = [gid for ref, gid in refs.items() if ref.startswith(("Tag:", "TagGroup:"))]
    assert tag_groups
    result = tc.cli("teams", "remove-import", "--yes")
    assert result.exit_code == 0, result.output
    assert all(tc.group_state(g) in {"deleted", "archived"} for g in tag_groups)


def test_an_existing_group_linked_to_a_tag_by_hand_syncs_its_holders(tc: TeamsChurch) -> None:
    enable_tags(tc)
    spanish = tag_catalogue(tc)["Languages"]["Spanish"]
    group = tc.rock_create_group("Spanish speakers", tc.serving_teams_id())
    bad = tc.cli("teams", "link", str(group), "Tag:999999")
    assert bad.exit_code != 0 and "999999" in bad.output
    linked_now = tc.cli("teams", "link", str(group), f"Tag:{spanish}")
    assert linked_now.exit_code == 0, linked_now.output
    assert tc.attribute("PcoId")[group] == f"Tag:{spanish}"
    summary = tc.c.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    people = links(tc)
    expected = {people[p] for p, tags in person_tags(tc).items() if spanish in tags and p in people}
    assert expected and rock_active(tc, group) == expected


def test_a_held_run_sets_no_tag(tc: TeamsChurch) -> None:
    """Issue #10 §3: held means held, tags included."""
    refs, skills, linked = _synced(tc)
    keys = skills["Keys"]
    held = person_tags(tc)
    person = next(p for p in sorted(linked) if keys not in held.get(p, set()))
    tc.add_member(refs[f"Tag:{keys}"], linked[person])
    before = tc.c.writes()
    run = tc.c.sync(hold=True)
    assert run.status is RunStatus.HELD and run.members_added["pco"] == 1
    assert tc.c.writes() == before
    assert keys not in person_tags(tc).get(person, set())
