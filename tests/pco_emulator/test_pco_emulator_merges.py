"""Merging two people in the web UI: the removed id 404s and person_mergers leads on."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import control, create_person, jsonapi

PEOPLE = "/people/v2/people"


def serving_person(api: httpx.Client) -> dict[str, Any]:
    """A Services person with at least one assignment."""
    for person in api.get("/services/v2/people", params={"per_page": 100}).json()["data"]:
        rows = api.get(f"/services/v2/people/{person['id']}/person_team_position_assignments")
        if rows.json()["data"]:
            return person
    raise AssertionError("the seeded church has serving people")


def test_merge_moves_records_and_the_removed_id_404s(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    url = pco_emulator.url
    keep = create_person(api, first_name="Keeper", last_name="Same")
    remove = serving_person(api)
    rid = remove["id"]
    api.post(f"{PEOPLE}/{rid}/emails", json=jsonapi("Email", address="dup@example.org"))
    api.post(
        f"{PEOPLE}/{keep['id']}/emails",
        json=jsonapi("Email", address="DUP@example.org", primary=True),
    )
    api.post(f"{PEOPLE}/{rid}/emails", json=jsonapi("Email", address="unique@example.org"))
    assignments = api.get(f"/services/v2/people/{rid}/person_team_position_assignments").json()
    theirs = {
        e["attributes"]["address"].lower() for e in api.get(f"{PEOPLE}/{rid}/emails").json()["data"]
    }
    control(url, "clock", {"now": "2026-07-01T08:00:00Z", "frozen": True})

    merger = control(url, "merge", {"keep": keep["id"], "remove": rid})

    assert merger["data"]["type"] == "PersonMerger"
    assert merger["data"]["attributes"]["person_to_keep_id"] == keep["id"]
    assert api.get(f"{PEOPLE}/{rid}").status_code == 404
    assert api.get(f"/services/v2/people/{rid}").status_code == 404
    found = api.get("/people/v2/person_mergers", params={"where[person_to_remove_id]": rid}).json()[
        "data"
    ]
    assert [m["attributes"]["person_to_keep_id"] for m in found] == [keep["id"]]
    since = api.get(
        "/people/v2/person_mergers", params={"where[created_at][gte]": "2026-07-01T00:00:00Z"}
    ).json()
    assert since["meta"]["total_count"] == 1
    kept = api.get(f"{PEOPLE}/{keep['id']}", params={"include": "emails"}).json()
    addresses = sorted(e["attributes"]["address"].lower() for e in kept["included"])
    assert addresses == sorted(theirs)  # the duplicate folded into the survivor's own
    assert {"dup@example.org", "unique@example.org"} <= theirs
    assert kept["data"]["attributes"]["updated_at"] == "2026-07-01T08:00:00Z"
    moved = api.get(f"/services/v2/people/{keep['id']}/person_team_position_assignments").json()
    assert {a["id"] for a in moved["data"]} == {a["id"] for a in assignments["data"]}


def test_merge_refuses_nonsense(pco_emulator: RunningEmulator, api: httpx.Client) -> None:
    person = create_person(api)
    with httpx.Client(base_url=pco_emulator.url) as http:
        same = http.post("/__emulator__/merge", json={"keep": person["id"], "remove": person["id"]})
        missing = http.post("/__emulator__/merge", json={"keep": person["id"], "remove": 12})
    assert same.status_code == 400
    assert missing.status_code == 404
    assert api.get(f"{PEOPLE}/{person['id']}").status_code == 200
