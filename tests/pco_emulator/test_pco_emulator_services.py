"""Services: Services people, position assignments, soft-deleted teams, includes, tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import all_pages, control, create_person, jsonapi

S = "/services/v2"
PTPA = "person_team_position_assignments"


def teams_by_state(api: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"active": [], "archived": [], "deleted": []}
    for team in all_pages(api, f"{S}/teams"):
        a = team["attributes"]
        state = "deleted" if a["deleted_at"] else "archived" if a["archived_at"] else "active"
        out[state].append(team)
    return out


def position_of(api: httpx.Client, team: dict[str, Any]) -> tuple[str, str]:
    """(service type id, position id) of a team's first position."""
    st = team["relationships"]["service_type"]["data"]["id"]
    tp = api.get(f"{S}/teams/{team['id']}/team_positions").json()["data"][0]["id"]
    return st, tp


def assign(api: httpx.Client, st: str, tp: str, person_id: str, **attrs: Any) -> httpx.Response:
    return api.post(
        f"{S}/service_types/{st}/team_positions/{tp}/{PTPA}",
        json=jsonapi("PersonTeamPositionAssignment", person_id=int(person_id), **attrs),
    )


def add_to_services(api: httpx.Client, person_id: str) -> None:
    resp = api.post(
        f"/people/v2/people/{person_id}/person_apps", json=jsonapi("PersonApp", app_id=2)
    )
    assert resp.status_code == 201, resp.text


def test_a_people_person_needs_the_services_app_before_an_assignment(api: httpx.Client) -> None:
    person = create_person(api, first_name="Newbie")
    team = teams_by_state(api)["active"][0]
    st, tp = position_of(api, team)
    assert api.get(f"/people/v2/people/{person['id']}").status_code == 200
    assert api.get(f"{S}/people/{person['id']}").status_code == 404
    refused = assign(api, st, tp, person["id"])
    assert refused.status_code == 422
    [err] = refused.json()["errors"]
    assert (err["title"], err["detail"], err["source"]) == (
        "Validation Error",
        "must exist",
        {"parameter": "person"},
    )
    add_to_services(api, person["id"])
    services_person = api.get(f"{S}/people/{person['id']}").json()["data"]
    assert services_person["id"] == person["id"]
    assert services_person["attributes"]["first_name"] == "Newbie"
    created = assign(api, st, tp, person["id"], schedule_preference="Every other week")
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["type"] == "PersonTeamPositionAssignment"
    assert data["relationships"]["person"]["data"] == {"type": "Person", "id": person["id"]}
    assert data["relationships"]["team_position"]["data"] == {"type": "TeamPosition", "id": tp}
    assert data["attributes"]["schedule_preference"] == "Every other week"
    duplicate = assign(api, st, tp, person["id"])
    assert duplicate.status_code == 422


def test_assignments_are_listed_on_every_path_and_can_be_changed(api: httpx.Client) -> None:
    person = create_person(api)
    add_to_services(api, person["id"])
    team = teams_by_state(api)["active"][1]
    st, tp = position_of(api, team)
    # the variant path with /teams/{t}/ routes too (#1417)
    created = api.post(
        f"{S}/service_types/{st}/teams/{team['id']}/team_positions/{tp}/{PTPA}",
        json=jsonapi("PersonTeamPositionAssignment", person_id=int(person["id"])),
    )
    assert created.status_code == 201
    aid = created.json()["data"]["id"]
    for path in (
        f"{S}/teams/{team['id']}/{PTPA}",
        f"{S}/people/{person['id']}/{PTPA}",
        f"{S}/service_types/{st}/team_positions/{tp}/{PTPA}",
    ):
        assert aid in {a["id"] for a in all_pages(api, path)}, path
    wrong_parent = api.get(f"{S}/service_types/999/team_positions/{tp}/{PTPA}")
    assert wrong_parent.status_code == 404
    one = f"{S}/people/{person['id']}/{PTPA}/{aid}"
    patched = api.patch(
        one,
        json=jsonapi(
            "PersonTeamPositionAssignment",
            schedule_preference="Choose Weeks",
            preferred_weeks=["1", "3"],
        ),
    )
    assert patched.status_code == 200
    assert patched.json()["data"]["attributes"]["preferred_weeks"] == ["1", "3"]
    bad = api.patch(one, json=jsonapi("PersonTeamPositionAssignment", schedule_preference="Daily"))
    assert bad.status_code == 422
    moved = api.patch(one, json=jsonapi("PersonTeamPositionAssignment", person_id=1))
    assert moved.json()["errors"][0]["title"] == "Forbidden Attribute"
    assert api.delete(one).status_code == 204
    assert api.get(one).status_code == 404
    assert aid not in {a["id"] for a in all_pages(api, f"{S}/teams/{team['id']}/{PTPA}")}


def test_person_level_lists_include_archived_and_deleted_teams_unless_filtered(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    states = teams_by_state(api)
    person = create_person(api)
    add_to_services(api, person["id"])
    for state in ("active", "archived"):
        st, tp = position_of(api, states[state][0])
        assert assign(api, st, tp, person["id"]).status_code == 201
    # a soft-deleted team's position refuses new assignments: assign, then delete its team
    st, tp = position_of(api, states["active"][2])
    assert assign(api, st, tp, person["id"]).status_code == 201
    control(pco_emulator.url, f"teams/{states['active'][2]['id']}/delete", {})
    path = f"{S}/people/{person['id']}/{PTPA}"
    everything = api.get(path).json()
    assert everything["meta"]["total_count"] == 3
    assert everything["meta"]["can_filter"] == ["not_archived", "not_deleted"]
    assert api.get(path, params={"filter": "not_archived"}).json()["meta"]["total_count"] == 2
    assert api.get(path, params={"filter": "not_deleted"}).json()["meta"]["total_count"] == 2
    serving = api.get(path, params={"filter": "not_archived,not_deleted"}).json()
    assert serving["meta"]["total_count"] == 1


def test_soft_deleted_team_lingers_30_days_then_is_gone(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    url = pco_emulator.url
    team = teams_by_state(api)["active"][0]
    st, tp = position_of(api, team)
    members_before = api.get(f"{S}/teams/{team['id']}/{PTPA}").json()["meta"]["total_count"]
    assert members_before > 0
    deleted = control(url, f"teams/{team['id']}/delete", {})
    assert deleted["data"]["attributes"]["deleted_at"] is not None
    during = api.get(f"{S}/teams/{team['id']}")
    assert during.status_code == 200
    assert (
        during.json()["data"]["attributes"]["deleted_at"]
        == deleted["data"]["attributes"]["deleted_at"]
    )
    assert team["id"] in {t["id"] for t in all_pages(api, f"{S}/teams")}
    assert api.get(f"{S}/teams/{team['id']}/{PTPA}").json()["meta"]["total_count"] == members_before
    person = create_person(api)
    add_to_services(api, person["id"])
    refused = assign(api, st, tp, person["id"])
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["source"] == {"parameter": "team_position"}
    control(url, "clock", {"advance_seconds": 31 * 86400})
    assert api.get(f"{S}/teams/{team['id']}").status_code == 404
    assert api.get(f"{S}/service_types/{st}/team_positions/{tp}").status_code == 404
    assert team["id"] not in {t["id"] for t in all_pages(api, f"{S}/teams")}
    assert assign(api, st, tp, person["id"]).status_code == 404
    teams_in_sweep = api.get(f"{S}/teams", params={"include": PTPA, "per_page": 100}).json()
    assert all(
        a["relationships"]["team_position"]["data"]["id"] != tp for a in teams_in_sweep["included"]
    )


def test_archive_and_restore_through_the_control_api(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    team = teams_by_state(api)["active"][0]
    archived = control(pco_emulator.url, f"teams/{team['id']}/archive", {})
    assert archived["data"]["attributes"]["archived_at"] is not None
    restored = control(pco_emulator.url, f"teams/{team['id']}/restore", {})
    assert restored["data"]["attributes"]["archived_at"] is None
    assert api.get(f"{S}/teams/{team['id']}").json()["data"]["attributes"]["archived_at"] is None


def test_one_request_sweeps_teams_positions_assignments_leaders_and_people(
    api: httpx.Client,
) -> None:
    body = api.get(
        f"{S}/teams",
        params={
            "per_page": 100,
            "include": "team_positions,person_team_position_assignments,team_leaders,people",
        },
    ).json()
    assert body["meta"]["total_count"] == len(body["data"])
    included = {(r["type"], r["id"]): r for r in body["included"]}
    assert len(included) == len(body["included"])
    kinds = {t for t, _ in included}
    assert kinds == {"TeamPosition", "PersonTeamPositionAssignment", "TeamLeader", "Person"}
    for team in body["data"]:
        rels = team["relationships"]
        for ref in rels["person_team_position_assignments"]["data"]:
            a = included[(ref["type"], ref["id"])]
            position = a["relationships"]["team_position"]["data"]
            assert position in rels["team_positions"]["data"]
            person = a["relationships"]["person"]["data"]
            assert person in rels["people"]["data"]
            assert ("Person", person["id"]) in included
    assert "people" in body["meta"]["can_include"]


def test_services_people_have_no_updated_at_filter_but_can_be_ordered(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    everyone = api.get(f"{S}/people").json()
    assert "updated_at" not in everyone["meta"]["can_query_by"]
    ignored = api.get(f"{S}/people", params={"where[updated_at][gte]": "2099-01-01T00:00:00Z"})
    assert ignored.json()["meta"]["total_count"] == everyone["meta"]["total_count"]
    newest = all_pages(api, f"{S}/people", order="-updated_at")
    stamps = [datetime.fromisoformat(p["attributes"]["updated_at"]) for p in newest]
    assert stamps == sorted(stamps, reverse=True)
    # a People name change shows on the Services person and moves it to the top
    control(pco_emulator.url, "clock", {"advance_seconds": 86400 * 400})
    target = newest[-1]["id"]
    control(pco_emulator.url, f"people/{target}", {"last_name": "Renamed"})
    top = api.get(f"{S}/people", params={"order": "-updated_at", "per_page": 1}).json()["data"][0]
    assert top["id"] == target and top["attributes"]["last_name"] == "Renamed"


def test_assign_tags_replaces_all_tags(api: httpx.Client) -> None:
    groups = api.get(f"{S}/tag_groups", params={"include": "tags", "filter": "person"}).json()
    assert groups["meta"]["can_filter"] == ["person", "song", "arrangement", "media"]
    tags = [t for t in groups["included"] if t["type"] == "Tag"]
    person = api.get(f"{S}/people").json()["data"][0]["id"]

    def set_tags(*tag_ids: str) -> httpx.Response:
        return api.post(
            f"{S}/people/{person}/assign_tags",
            json={
                "data": {
                    "type": "TagAssignment",
                    "attributes": {},
                    "relationships": {
                        "tags": {"data": [{"type": "Tag", "id": t} for t in tag_ids]}
                    },
                }
            },
        )

    first = set_tags(tags[0]["id"], tags[1]["id"])
    assert first.status_code == 204 and first.content == b""
    assert {t["id"] for t in api.get(f"{S}/people/{person}/tags").json()["data"]} == {
        tags[0]["id"],
        tags[1]["id"],
    }
    set_tags(tags[2]["id"])
    assert [t["id"] for t in api.get(f"{S}/people/{person}/tags").json()["data"]] == [tags[2]["id"]]
    assert set_tags("999999999").status_code == 422


def test_folders_nest_and_service_types_point_at_them(api: httpx.Client) -> None:
    folders = api.get(f"{S}/folders").json()["data"]
    nested = [f for f in folders if f["relationships"]["parent"]["data"]]
    assert nested, "the seeded church has a nested folder"
    parent = nested[0]["relationships"]["parent"]["data"]["id"]
    children = api.get(f"{S}/folders/{parent}/folders").json()
    assert nested[0]["id"] in {f["id"] for f in children["data"]}
    assert children["meta"]["parent"] == {"id": parent, "type": "Folder"}
    types = api.get(f"{S}/service_types").json()
    assert all(st["relationships"]["parent"]["data"]["type"] == "Folder" for st in types["data"])
    no_parent = api.get(f"{S}/service_types", params={"filter": "no_parent"}).json()
    assert no_parent["meta"]["total_count"] == 0
    team = teams_by_state(api)["active"][0]
    new_position = api.post(
        f"{S}/teams/{team['id']}/team_positions", json=jsonapi("TeamPosition", name="Drone Pilot")
    )
    assert new_position.status_code == 201
    assert new_position.json()["data"]["relationships"]["team"]["data"]["id"] == team["id"]
