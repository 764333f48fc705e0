"""Spec §5: what moves ``Person.ModifiedDateTime`` (and what does not), in organisation-local
time from the settable clock; and the History rows Rock writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from pcosync.emulators.rock.app import create_app
from pcosync.emulators.server import BackgroundServer
from tests.rock_emulator.helpers import freeze, local_text, some_person, utc

T0 = utc(2026, 1, 15, 18, 30, 0)  # 12:30 CST
T1 = T0 + timedelta(hours=2)


@pytest.fixture
def frozen(rock: httpx.Client) -> httpx.Client:
    freeze(rock, T0)
    return rock


def _stamp(rock: httpx.Client, pid: int) -> str:
    stamp: str = rock.get(f"/api/People/{pid}").json()["ModifiedDateTime"]
    return stamp


def _later(rock: httpx.Client) -> None:
    freeze(rock, T1)


def _modified_person(rock: httpx.Client, ids: dict[str, int]) -> dict[str, Any]:
    """A person whose ModifiedDateTime is T0 (org-local), set by a UI edit."""
    person = some_person(rock, ids)
    assert rock.post(f"/__emulator__/people/{person['Id']}", json={"MiddleName": "T0"}).is_success
    assert _stamp(rock, person["Id"]) == local_text(T0)
    return person


def test_person_edit_sets_org_local_time_and_the_caller(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = _modified_person(frozen, ids)
    _later(frozen)
    assert frozen.patch(f"/api/People/{person['Id']}", json={"NickName": "New"}).status_code == 204
    after = frozen.get(f"/api/People/{person['Id']}").json()
    assert after["ModifiedDateTime"] == "2026-01-15T14:30:00" == local_text(T1)
    rest_alias = frozen.get("/api/People/GetCurrentPerson").json()["PrimaryAliasId"]
    assert after["ModifiedByPersonAliasId"] == rest_alias


def test_summer_time_offset_is_applied(frozen: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(frozen, ids)
    freeze(frozen, utc(2026, 7, 4, 12, 0, 0))
    frozen.patch(f"/api/People/{person['Id']}", json={"NickName": "July"})
    assert _stamp(frozen, person["Id"]) == "2026-07-04T07:00:00"  # CDT is UTC-5


def test_fractional_seconds_are_sql_datetime_precision(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(frozen, ids)
    freeze(frozen, T0 + timedelta(microseconds=612_345))
    frozen.patch(f"/api/People/{person['Id']}", json={"NickName": "Precise"})
    assert _stamp(frozen, person["Id"]) == "2026-01-15T12:30:00.613"  # 1/300 s, trimmed


def test_patch_with_identical_values_does_not_bump(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = _modified_person(frozen, ids)
    _later(frozen)
    same = {"NickName": person["NickName"], "Email": person["Email"]}
    assert frozen.patch(f"/api/People/{person['Id']}", json=same).status_code == 204
    assert _stamp(frozen, person["Id"]) == local_text(T0)


@pytest.mark.parametrize("action", ["add", "change", "delete"])
def test_phone_saves_bump_the_person(
    frozen: httpx.Client, ids: dict[str, int], action: str
) -> None:
    person = _modified_person(frozen, ids)
    pid = person["Id"]
    phone = frozen.post(
        "/api/PhoneNumbers",
        json={
            "PersonId": pid,
            "Number": "6155550199",
            "NumberTypeValueId": ids["dv:phone_type:work"],
        },
    )
    phone_id = phone.json()
    freeze(frozen, T0 + timedelta(minutes=1))
    if action == "add":
        assert _stamp(frozen, pid) == local_text(T0)  # the POST itself happened at T0
        frozen.post(
            "/api/PhoneNumbers",
            json={
                "PersonId": pid,
                "Number": "6155550198",
                "NumberTypeValueId": ids["dv:phone_type:home"],
            },
        )
    elif action == "change":
        frozen.patch(f"/api/PhoneNumbers/{phone_id}", json={"Number": "6155550100"})
    else:
        frozen.delete(f"/api/PhoneNumbers/{phone_id}")
    assert _stamp(frozen, pid) == local_text(T0 + timedelta(minutes=1))


def test_person_attribute_value_saves_bump_the_person(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = _modified_person(frozen, ids)
    _later(frozen)
    url = f"/api/People/AttributeValue/{person['Id']}"
    assert (
        frozen.post(url, params={"attributeKey": "Allergy", "attributeValue": "Bees"}).status_code
        == 202
    )
    assert _stamp(frozen, person["Id"]) == local_text(T1)
    freeze(frozen, T1 + timedelta(hours=1))
    frozen.post(url, params={"attributeKey": "Allergy", "attributeValue": "Bees"})  # unchanged
    assert _stamp(frozen, person["Id"]) == local_text(T1)


def test_group_attribute_values_do_not_bump_the_group(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    attr = frozen.post(
        "/api/Attributes",
        json={
            "FieldTypeId": ids["fieldtype:text"],
            "EntityTypeId": ids["entity:Group"],
            "EntityTypeQualifierColumn": "",
            "EntityTypeQualifierValue": "",
            "Key": "PcoId",
            "Name": "PCO Id",
        },
    )
    assert attr.status_code == 201
    group = ids["group:serving_teams"]
    before = frozen.get(f"/api/Groups/{group}").json()["ModifiedDateTime"]
    _later(frozen)
    r = frozen.post(
        f"/api/Groups/AttributeValue/{group}",
        params={"attributeKey": "PcoId", "attributeValue": "Team:1"},
    )
    assert r.status_code == 202
    assert frozen.get(f"/api/Groups/{group}").json()["ModifiedDateTime"] == before


def test_membership_changes_do_not_bump_the_person(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = _modified_person(frozen, ids)
    _later(frozen)
    added = frozen.post(
        "/__emulator__/group-members",
        json={"GroupId": ids["group:serving_teams"], "PersonId": person["Id"]},
    )
    assert added.status_code == 201
    member_id = added.json()["Id"]
    member = frozen.get(f"/api/GroupMembers/{member_id}").json()
    assert member["ModifiedDateTime"] == local_text(T1)
    frozen.patch(f"/api/GroupMembers/{member_id}", json={"GroupMemberStatus": 0})
    assert frozen.get(f"/api/GroupMembers/{member_id}").json()["InactiveDateTime"] == (
        local_text(T1)
    )
    frozen.delete(f"/api/GroupMembers/{member_id}")
    assert _stamp(frozen, person["Id"]) == local_text(T0)


def test_address_and_family_changes_do_not_bump_the_person(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = _modified_person(frozen, ids)
    _later(frozen)
    family = person["PrimaryFamilyId"]
    r = frozen.put(
        f"/api/Groups/SaveAddress/{family}/{ids['dv:location_type:home']}",
        params={"street1": "9 Elm St", "city": "Austin", "state": "TX", "postalCode": "73301"},
    )
    assert r.status_code == 204
    other = frozen.post("/api/People", json={"FirstName": "New", "LastName": "Family"}).json()
    new_family = frozen.get(f"/api/People/{other}").json()["PrimaryFamilyId"]
    r = frozen.post(
        "/api/People/AddExistingPersonToFamily",
        params={
            "personId": person["Id"],
            "familyId": new_family,
            "groupRoleId": ids["role:family:adult"],
            "removeFromOtherFamilies": "true",
        },
    )
    assert r.status_code == 201
    after = frozen.get(f"/api/People/{person['Id']}").json()
    assert after["PrimaryFamilyId"] == new_family  # recomputed ...
    assert after["ModifiedDateTime"] == local_text(T0)  # ... by SQL, without a bump


def test_ui_edits_bump_like_a_save_in_rock(frozen: httpx.Client, ids: dict[str, int]) -> None:
    person = _modified_person(frozen, ids)
    _later(frozen)
    r = frozen.post(
        f"/__emulator__/people/{person['Id']}",
        json={"LastName": "Changed", "PhoneNumbers": {"Mobile": "2145550177"}},
    )
    assert r.status_code == 200
    after = frozen.get(f"/api/People/{person['Id']}").json()
    assert after["ModifiedDateTime"] == local_text(T1)
    assert after["ModifiedByPersonAliasId"] == ids["alias:admin"]
    phones = frozen.get(
        "/api/PhoneNumbers",
        params={
            "$filter": f"PersonId eq {person['Id']} and NumberTypeValueId eq "
            f"{ids['dv:phone_type:mobile']}"
        },
    ).json()
    assert [p["Number"] for p in phones] == ["2145550177"]


def test_history_rows_for_person_phone_and_membership_changes(
    frozen: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(frozen, ids)
    pid = person["Id"]
    frozen.patch(f"/api/People/{pid}", json={"FirstName": "Historic"})
    frozen.post(
        "/api/PhoneNumbers",
        json={
            "PersonId": pid,
            "Number": "6155550111",
            "NumberTypeValueId": ids["dv:phone_type:work"],
        },
    )
    member = frozen.post(
        "/__emulator__/group-members", json={"GroupId": ids["group:serving_teams"], "PersonId": pid}
    ).json()["Id"]
    frozen.delete(f"/api/GroupMembers/{member}")
    rows = frozen.get(
        "/api/Histories",
        params={
            "$filter": f"EntityTypeId eq {ids['entity:Person']} and EntityId eq {pid} and "
            f"CreatedDateTime ge datetime'{local_text(T0)}'",
            "$orderby": "Id",
        },
    ).json()
    seen = [(h["Verb"], h["ValueName"]) for h in rows]
    assert ("MODIFY", "First Name") in seen
    assert ("ADD", "Work Phone") in seen
    assert ("ADDEDTOGROUP", "Member") in seen and ("REMOVEDFROMGROUP", "Member") in seen
    change = next(h for h in rows if h["ValueName"] == "First Name")
    assert (change["OldValue"], change["NewValue"]) == (person["FirstName"], "Historic")
    group_rows = [h for h in rows if h["Verb"] == "ADDEDTOGROUP"]
    assert group_rows[0]["RelatedEntityTypeId"] == ids["entity:Group"]
    assert group_rows[0]["RelatedEntityId"] == ids["group:serving_teams"]
    assert group_rows[0]["Caption"] == "Serving Teams"


@pytest.fixture
def berlin() -> Iterator[str]:
    app = create_app(seed=3, people=30, time_zone="Europe/Berlin")
    with BackgroundServer(app) as url:
        yield url


def test_the_organisation_time_zone_is_configurable(berlin: str) -> None:
    from pcosync.emulators.rock.app import DEFAULT_API_KEY

    with httpx.Client(base_url=berlin, headers={"Authorization-Token": DEFAULT_API_KEY}) as rock:
        freeze(rock, T0)
        pid = rock.post("/api/People", json={"FirstName": "Zeit", "LastName": "Zone"}).json()
        stamp = rock.get(f"/api/People/{pid}").json()["CreatedDateTime"]
        assert stamp == local_text(T0, ZoneInfo("Europe/Berlin")) == "2026-01-15T19:30:00"
