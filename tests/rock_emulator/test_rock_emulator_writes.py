"""Spec §2.5, §3: POST (201 + bare id), PUT (full replace), PATCH (partial), DELETE (archive),
computed fields ignored on write, validation answers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningEmulator
from tests.rock_emulator.helpers import some_person


def _new_person(rock: httpx.Client, **fields: Any) -> int:
    body = {
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Email": "ada@example.org",
        "Gender": 2,
        **fields,
    }
    r = rock.post("/api/People", json=body)
    assert r.status_code == 201, r.text
    new_id: int = r.json()
    return new_id


def test_post_answers_201_with_the_bare_id(rock: httpx.Client, ids: dict[str, int]) -> None:
    r = rock.post(
        "/api/DefinedValues",
        json={"DefinedTypeId": ids["dt:connection_status"], "Value": "Online", "IsActive": True},
    )
    assert r.status_code == 201
    assert r.text.isdigit()  # the whole body is the number, no object around it
    created = rock.get(f"/api/DefinedValues/{int(r.text)}").json()
    assert created["Value"] == "Online"
    assert created["Guid"] and created["CreatedDateTime"] == created["ModifiedDateTime"]


def test_post_people_creates_a_family_an_alias_and_an_adult_membership(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    pid = _new_person(rock)
    person = rock.get(f"/api/People/{pid}").json()
    assert person["PrimaryAliasId"] is not None
    alias = rock.get(f"/api/PersonAlias/{person['PrimaryAliasId']}").json()
    assert alias["PersonId"] == pid
    assert person["RecordTypeValueId"] == ids["dv:record_type:person"]
    families = rock.get(f"/api/Groups/GetFamilies/{pid}").json()
    assert [f["Id"] for f in families] == [person["PrimaryFamilyId"]]
    assert families[0]["Name"] == "Lovelace Family"
    assert families[0]["GroupTypeId"] == ids["grouptype:family"]
    assert families[0]["CampusId"] is None
    members = rock.get("/api/GroupMembers", params={"$filter": f"PersonId eq {pid}"}).json()
    assert [(m["GroupId"], m["GroupRoleId"]) for m in members] == [
        (person["PrimaryFamilyId"], ids["role:family:adult"])
    ]
    assert person["AgeClassification"] == 1


def test_computed_fields_are_ignored_on_write(rock: httpx.Client, ids: dict[str, int]) -> None:
    pid = _new_person(
        rock,
        BirthDay=3,
        BirthMonth=4,
        BirthYear=1990,
        PrimaryCampusId=ids["campus:Main Campus"],
        PrimaryFamilyId=1,
        AgeClassification=2,
        BirthDate="2000-01-01T00:00:00",
        FullName="Someone Else",
    )
    person = rock.get(f"/api/People/{pid}").json()
    assert person["BirthDate"] == "1990-04-03T00:00:00"
    assert person["FullName"] == "Ada Lovelace"
    assert person["PrimaryCampusId"] is None
    assert person["PrimaryFamilyId"] != 1
    assert person["AgeClassification"] == 1
    r = rock.patch(
        f"/api/People/{pid}",
        json={"PrimaryCampusId": ids["campus:North Campus"], "AgeClassification": 2},
    )
    assert r.status_code == 204
    again = rock.get(f"/api/People/{pid}").json()
    assert again["PrimaryCampusId"] is None and again["AgeClassification"] == 1
    read_only = rock.patch(f"/api/People/{pid}", json={"FullName": "X"})
    assert (read_only.status_code, read_only.json()) == (400, {"Message": "Cannot write FullName"})


def test_campus_comes_from_the_family(rock: httpx.Client, ids: dict[str, int]) -> None:
    pid = _new_person(rock)
    family = rock.get(f"/api/People/{pid}").json()["PrimaryFamilyId"]
    assert (
        rock.patch(
            f"/api/Groups/{family}", json={"CampusId": ids["campus:North Campus"]}
        ).status_code
        == 204
    )
    assert rock.get(f"/api/People/{pid}").json()["PrimaryCampusId"] == ids["campus:North Campus"]


def test_put_replaces_the_whole_row(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    r = rock.put(
        f"/api/People/{person['Id']}",
        json={"Id": person["Id"], "FirstName": "Only", "LastName": "Names"},
    )
    assert r.status_code == 204
    after = rock.get(f"/api/People/{person['Id']}").json()
    assert (after["FirstName"], after["LastName"]) == ("Only", "Names")
    assert after["Email"] is None and after["Gender"] == 0
    assert after["RecordTypeValueId"] is None and after["RecordStatusValueId"] is None
    assert after["Guid"] != person["Guid"]  # a Guid left out is regenerated
    assert after["CreatedDateTime"] is None  # even the audit columns are copied from the body


def test_put_of_a_complete_object_changes_nothing_but_what_differs(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    body = dict(person, NickName="Renamed")
    assert rock.put(f"/api/People/{person['Id']}", json=body).status_code == 204
    after = rock.get(f"/api/People/{person['Id']}").json()
    assert after["NickName"] == "Renamed"
    assert after["Guid"] == person["Guid"] and after["Email"] == person["Email"]
    assert after["CreatedDateTime"] == person["CreatedDateTime"]


def test_put_without_the_id_in_the_body_fails(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    r = rock.put(f"/api/People/{person['Id']}", json={"FirstName": "No", "LastName": "Id"})
    assert r.status_code == 500
    assert "key information" in r.json()["ExceptionMessage"]


def test_patch_changes_only_what_is_sent(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    assert (
        rock.patch(f"/api/People/{person['Id']}", json={"NickName": "Patched"}).status_code == 204
    )
    after = rock.get(f"/api/People/{person['Id']}").json()
    assert after["NickName"] == "Patched"
    unchanged = {
        k
        for k in person
        if k not in ("NickName", "FullName", "ModifiedDateTime", "ModifiedByPersonAliasId")
    }
    assert {k: after[k] for k in unchanged} == {k: person[k] for k in unchanged}


def test_patch_rejections(rock: httpx.Client, ids: dict[str, int]) -> None:
    pid = some_person(rock, ids)["Id"]
    unknown = rock.patch(f"/api/People/{pid}", json={"Foo": 1})
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"Message": "Person does not have attribute Foo"},
    )
    wrong_case = rock.patch(f"/api/People/{pid}", json={"nickname": "x"})
    assert wrong_case.status_code == 400  # PATCH names are case-sensitive
    with_id = rock.patch(f"/api/People/{pid}", json={"Id": 5})
    assert with_id.json() == {"Message": "Cannot set Id"}
    empty = rock.patch(f"/api/People/{pid}", json={})
    assert empty.json() == {"Message": "No values were sent in the body"}
    enum_name = rock.patch(f"/api/People/{pid}", json={"Gender": "Female"})
    assert enum_name.status_code == 500  # Convert.ToInt32("Female"): send numbers
    assert rock.patch(f"/api/People/{pid}", json={"Gender": 2}).status_code == 204
    assert rock.get(f"/api/People/{pid}").json()["Gender"] == 2


def test_missing_ids_are_404_with_an_empty_body(rock: httpx.Client) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        r = rock.request(method, "/api/People/999999999", json={"NickName": "x"})
        assert (r.status_code, r.content) == (404, b"")
    bad = rock.get("/api/People/abc")
    assert bad.status_code == 400 and bad.json()["Message"] == "The request is invalid."


def test_histories_are_read_only(rock: httpx.Client) -> None:
    r = rock.post("/api/Histories", json={"Verb": "ADD"})
    assert r.status_code == 405


def _serving_team(rock: httpx.Client, ids: dict[str, int]) -> int:
    r = rock.post(
        "/api/Groups",
        json={
            "Name": "Band",
            "GroupTypeId": ids["grouptype:serving_team"],
            "ParentGroupId": ids["group:serving_teams"],
        },
    )
    assert r.status_code == 201
    team: int = r.json()
    return team


def _add_member(rock: httpx.Client, group: int, person: int, role: int) -> httpx.Response:
    return rock.post(
        "/api/GroupMembers",
        json={"GroupId": group, "PersonId": person, "GroupRoleId": role, "GroupMemberStatus": 1},
    )


def test_group_member_validation(rock: httpx.Client, ids: dict[str, int]) -> None:
    team = _serving_team(rock, ids)
    person = some_person(rock, ids)
    first = _add_member(rock, team, person["Id"], ids["role:serving_team:member"])
    assert first.status_code == 201
    again = _add_member(rock, team, person["Id"], ids["role:serving_team:member"])
    assert again.status_code == 400
    assert "cannot be added again with the same role" in again.json()["Message"]
    leader = _add_member(rock, team, person["Id"], ids["role:serving_team:leader"])
    assert leader.status_code == 201  # same person, another role: allowed
    wrong_type = _add_member(rock, team, person["Id"], ids["role:family:adult"])
    assert wrong_type.status_code == 400
    assert "not a valid role" in wrong_type.json()["Message"]
    member = rock.get(f"/api/GroupMembers/{first.json()}").json()
    assert member["GroupTypeId"] == ids["grouptype:serving_team"]
    assert member["DateTimeAdded"] is not None


def test_delete_archives_a_member_where_the_group_type_keeps_history(
    rock: httpx.Client, ids: dict[str, int], rock_emulator: RunningEmulator
) -> None:
    team = _serving_team(rock, ids)
    person = some_person(rock, ids)
    member_id = _add_member(rock, team, person["Id"], ids["role:serving_team:member"]).json()
    assert rock.delete(f"/api/GroupMembers/{member_id}").status_code == 204
    assert rock.get(f"/api/GroupMembers/{member_id}").status_code == 404
    assert rock.get("/api/GroupMembers", params={"$filter": f"GroupId eq {team}"}).json() == []
    assert (
        rock.patch(f"/api/GroupMembers/{member_id}", json={"GroupMemberStatus": 1}).status_code
        == 404
    )
    data = rock_emulator.app.state.emulator.data
    row = data.get("GroupMember", member_id)
    assert row is not None and data.val("GroupMember", row, "IsArchived") is True
    assert data.val("GroupMember", row, "ArchivedDateTime") is not None


def test_delete_removes_a_family_member_for_real(
    rock: httpx.Client, ids: dict[str, int], rock_emulator: RunningEmulator
) -> None:
    pid = _new_person(rock)
    member = rock.get("/api/GroupMembers", params={"$filter": f"PersonId eq {pid}"}).json()[0]
    assert rock.delete(f"/api/GroupMembers/{member['Id']}").status_code == 204
    assert rock_emulator.app.state.emulator.data.get("GroupMember", member["Id"]) is None
    assert rock.get(f"/api/People/{pid}").json()["PrimaryFamilyId"] is None


def test_phone_numbers_are_stored_as_digits(rock: httpx.Client, ids: dict[str, int]) -> None:
    pid = _new_person(rock)
    r = rock.post(
        "/api/PhoneNumbers",
        json={
            "PersonId": pid,
            "Number": "(214) 555-0101",
            "NumberTypeValueId": ids["dv:phone_type:mobile"],
            "IsMessagingEnabled": True,
        },
    )
    assert r.status_code == 201
    phone = rock.get(f"/api/PhoneNumbers/{r.json()}").json()
    assert phone["Number"] == "2145550101"
    assert phone["CountryCode"] == "1"
    assert phone["NumberFormatted"] == "(214) 555-0101"
    assert phone["NumberFormattedWithCountryCode"] == "+1 (214) 555-0101"
    e164 = rock.post(
        "/api/PhoneNumbers",
        json={
            "PersonId": pid,
            "Number": "+1 214 555 0102",
            "NumberTypeValueId": ids["dv:phone_type:work"],
        },
    )
    stored = rock.get(f"/api/PhoneNumbers/{e164.json()}").json()
    assert stored["Number"] == "12145550102"  # Rock keeps the digits; the 1 is not stripped
    assert stored["NumberFormatted"] == "12145550102"


def test_modified_audit_values_already_updated_keeps_the_callers_stamp(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    r = rock.patch(
        f"/api/People/{person['Id']}",
        json={
            "NickName": "Imported",
            "ModifiedAuditValuesAlreadyUpdated": True,
            "ModifiedDateTime": "2020-02-02T02:02:02",
        },
    )
    assert r.status_code == 204
    assert rock.get(f"/api/People/{person['Id']}").json()["ModifiedDateTime"] == (
        "2020-02-02T02:02:02"
    )


def test_validation_messages_are_joined(rock: httpx.Client, ids: dict[str, int]) -> None:
    r = rock.post(
        "/api/Groups", json={"GroupTypeId": ids["grouptype:small_group"], "Name": "x" * 101}
    )
    assert r.status_code == 400
    assert "maximum length of '100'" in r.json()["Message"]
    missing = rock.post("/api/Groups", json={"GroupTypeId": ids["grouptype:small_group"]})
    assert missing.json() == {"Message": "The Name field is required."}


def test_a_malformed_email_is_refused_on_post_and_patch(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    refused = rock.post("/api/People", json={"FirstName": "Bo", "LastName": "X", "Email": "bo@"})
    assert (refused.status_code, refused.json()) == (
        400,
        {"Message": "The Email address is invalid"},
    )
    person = some_person(rock, ids)
    patched = rock.patch(f"/api/People/{person['Id']}", json={"Email": "no at sign"})
    assert patched.status_code == 400
    assert rock.get(f"/api/People/{person['Id']}").json()["Email"] == person["Email"]
    # Rock's pattern is looser than RFC 5322: doubled dots and '+' tags pass, empty clears
    assert (
        rock.patch(f"/api/People/{person['Id']}", json={"Email": "a..b+x@c.org"}).status_code == 204
    )
    assert rock.patch(f"/api/People/{person['Id']}", json={"Email": ""}).status_code == 204


def test_unknown_controller_and_action(rock: httpx.Client) -> None:
    r = rock.get("/api/Widgets")
    assert r.status_code == 404
    assert r.json()["MessageDetail"] == (
        "No type was found that matches the controller named 'Widgets'."
    )
    assert rock.get("/api/people", params={"$top": "1"}).status_code == 200  # not case-sensitive
