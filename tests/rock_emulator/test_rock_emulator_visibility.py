"""Spec §3.2, §3.6, §3.9, §7.9: rows Rock hides — archived groups and members, deceased people
and their memberships, the anonymous visitor."""

from __future__ import annotations

import httpx

from tests.rock_emulator.helpers import person_ids, some_person


def test_archived_groups_are_hidden_everywhere(rock: httpx.Client, ids: dict[str, int]) -> None:
    groups = rock.get(
        "/api/Groups",
        params={"$filter": f"GroupTypeId eq {ids['grouptype:small_group']}", "$select": "Id"},
    ).json()
    target = groups[0]["Id"]
    r = rock.post(f"/__emulator__/groups/{target}", json={"IsArchived": True})
    assert r.status_code == 200 and r.json()["ArchivedDateTime"] is not None
    assert rock.get(f"/api/Groups/{target}").status_code == 404
    remaining = rock.get("/api/Groups", params={"$select": "Id"}).json()
    assert target not in {g["Id"] for g in remaining}
    assert rock.get("/api/Groups", params={"$filter": "IsArchived eq true"}).json() == []


def test_deceased_people_are_hidden_from_the_list_but_not_by_id(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    r = rock.post(f"/__emulator__/people/{person['Id']}/deceased", json={"date": "2026-01-05"})
    assert r.status_code == 200
    assert person["Id"] not in person_ids(rock, f"Id eq {person['Id']}")
    assert person["Id"] in person_ids(rock, f"Id eq {person['Id']}", includeDeceased="true")
    by_id = rock.get(f"/api/People/{person['Id']}").json()
    assert by_id["IsDeceased"] is True and by_id["DeceasedDate"] == "2026-01-05T00:00:00"
    assert by_id["RecordStatusValueId"] == ids["dv:record_status:inactive"]
    assert by_id["RecordStatusReasonValueId"] == ids["dv:record_status_reason:deceased"]
    found = rock.get(f"/api/People/GetByEmail/{person['Email']}").json()
    assert [p["Id"] for p in found] == [person["Id"]]  # GetByEmail includes the deceased


def test_deceased_peoples_memberships_are_hidden_unless_asked(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    flt = {"$filter": f"PersonId eq {person['Id']}", "$select": "Id"}
    before = rock.get("/api/GroupMembers", params=flt).json()
    assert before
    rock.post(f"/__emulator__/people/{person['Id']}/deceased", json={})
    assert rock.get("/api/GroupMembers", params=flt).json() == []
    again = rock.get("/api/GroupMembers", params={**flt, "IncludeDeceased": "true"}).json()
    assert again == before
    assert rock.get(f"/api/GroupMembers/{before[0]['Id']}").status_code == 404


def test_the_anonymous_visitor_is_never_listed(rock: httpx.Client, ids: dict[str, int]) -> None:
    everyone = rock.get("/api/People", params={"$select": "Id", "includeDeceased": "true"}).json()
    assert ids["person:anonymous"] not in {p["Id"] for p in everyone}
    assert ids["person:admin"] in {p["Id"] for p in everyone}
