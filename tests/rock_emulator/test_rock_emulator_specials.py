"""Spec §3.5, §3.11, §4: People/Groups special actions, attribute values, addresses, flush,
version."""

from __future__ import annotations

import httpx

from tests.rock_emulator.helpers import some_person


def test_get_by_person_alias_id(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    r = rock.get(f"/api/People/GetByPersonAliasId/{person['PrimaryAliasId']}")
    assert r.status_code == 200 and r.json()["Id"] == person["Id"]
    assert rock.get("/api/People/GetByPersonAliasId/999999999").status_code == 404


def test_get_by_email_is_a_case_insensitive_list(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    found = rock.get(f"/api/People/GetByEmail/{person['Email'].upper()}").json()
    assert [p["Id"] for p in found] == [person["Id"]]
    assert found[0]["PrimaryAliasId"] == person["PrimaryAliasId"]
    assert rock.get("/api/People/GetByEmail/nobody@nowhere.example").json() == []


def test_get_by_phone_number_matches_partial_digits(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    phone = rock.get("/api/PhoneNumbers", params={"$top": "1"}).json()[0]
    found = rock.get(f"/api/People/GetByPhoneNumber/{phone['Number'][-7:]}").json()
    assert phone["PersonId"] in {p["Id"] for p in found}


def test_search_projection_like_rock(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    name = f"{person['LastName']}, {person['NickName']}"
    results = rock.get(
        "/api/People/Search",
        params={"name": name, "includeDetails": "true", "includeHtml": "false"},
    ).json()
    hit = next(r for r in results if r["Id"] == person["Id"])
    assert hit["Name"] == f"{person['LastName']}, {person['NickName']}"
    assert hit["Gender"] in ("Male", "Female", "Unknown")  # a string, unlike the entity
    assert hit["RecordStatus"] == "Active" or hit["IsActive"] is False
    assert hit["Email"] == person["Email"]
    assert {
        "Age",
        "FormattedAge",
        "SpouseName",
        "Address",
        "ConnectionStatus",
        "PickerItemDetailsHtml",
        "ImageHtmlTag",
    } <= set(hit)
    forward = rock.get(
        "/api/People/Search", params={"name": f"{person['NickName']} {person['LastName']}"}
    ).json()
    simple = next(r for r in forward if r["Id"] == person["Id"])
    assert simple["Name"] == f"{person['NickName']} {person['LastName']}"
    assert simple["Email"] is None  # without includeDetails only Id, Name and IsActive


def test_search_is_capped_at_sixty(rock: httpx.Client) -> None:
    results = rock.get("/api/People/Search", params={"email": "example"}).json()
    assert len(results) == 60


def test_add_new_person_to_family(rock: httpx.Client, ids: dict[str, int]) -> None:
    parent = some_person(rock, ids)
    family = parent["PrimaryFamilyId"]
    r = rock.post(
        f"/api/People/AddNewPersonToFamily/{family}",
        params={"groupRoleId": ids["role:family:child"]},
        json={"FirstName": "Kid", "LastName": parent["LastName"], "Gender": 1},
    )
    assert r.status_code == 201
    kid = rock.get(f"/api/People/{r.json()}").json()
    assert kid["PrimaryFamilyId"] == family and kid["AgeClassification"] == 2
    members = rock.get("/api/GroupMembers", params={"$filter": f"PersonId eq {kid['Id']}"}).json()
    assert [(m["GroupId"], m["GroupRoleId"]) for m in members] == [
        (family, ids["role:family:child"])
    ]


def test_add_existing_person_to_family(rock: httpx.Client, ids: dict[str, int]) -> None:
    a = rock.post("/api/People", json={"FirstName": "Ann", "LastName": "One"}).json()
    b = rock.post("/api/People", json={"FirstName": "Bob", "LastName": "Two"}).json()
    fam_a = rock.get(f"/api/People/{a}").json()["PrimaryFamilyId"]
    fam_b = rock.get(f"/api/People/{b}").json()["PrimaryFamilyId"]
    params = {
        "personId": b,
        "familyId": fam_a,
        "groupRoleId": ids["role:family:adult"],
        "removeFromOtherFamilies": "true",
    }
    r = rock.post("/api/People/AddExistingPersonToFamily", params=params)
    assert (r.status_code, r.json()) == (201, b)
    families = rock.get(f"/api/Groups/GetFamilies/{b}").json()
    assert [f["Id"] for f in families] == [fam_a]
    assert rock.get(f"/api/Groups/{fam_b}").status_code == 404  # the empty family is gone
    again = rock.post("/api/People/AddExistingPersonToFamily", params=params)
    assert again.status_code == 400


def test_families_and_children(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    family = rock.get(f"/api/Groups/GetFamily/{person['PrimaryFamilyId']}").json()
    assert family["GroupTypeId"] == ids["grouptype:family"]
    assert family["Members"] == [] and family["Attributes"] is None
    assert rock.get(f"/api/Groups/GetFamily/{ids['group:serving_teams']}").status_code == 404
    tops = rock.get("/api/Groups/GetChildren/0").json()
    assert all(isinstance(t["Id"], str) for t in tops)
    names = {t["Name"] for t in tops}
    assert "Serving Teams" in names and not any(n.endswith(" Family") for n in names)


def test_save_address_moves_the_old_home_to_previous(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    family = person["PrimaryFamilyId"]
    home, previous = ids["dv:location_type:home"], ids["dv:location_type:previous"]
    url = f"/api/Groups/SaveAddress/{family}/{home}"
    first = {"street1": "1 First St", "city": "Dallas", "state": "TX", "postalCode": "75001"}
    assert rock.put(url, params=first).status_code == 204
    second = {
        "street1": "2 Second Ave",
        "street2": "Apt 4",
        "city": "Plano",
        "state": "TX",
        "postalCode": "75024",
        "country": "US",
    }
    assert rock.put(url, params=second).status_code == 204
    rows = rock.get(
        "/api/GroupLocations", params={"$filter": f"GroupId eq {family}", "$expand": "Location"}
    ).json()
    by_type: dict[int, list[str]] = {}
    for gl in rows:
        by_type.setdefault(gl["GroupLocationTypeValueId"], []).append(gl["Location"]["Street1"])
    assert by_type[home] == ["2 Second Ave"]
    assert "1 First St" in by_type[previous]
    assert rock.put(f"/api/Groups/SaveAddress/999999/{home}", params=first).status_code == 404
    wrong_type = rock.put(
        f"/api/Groups/SaveAddress/{family}/{ids['dv:phone_type:mobile']}", params=first
    )
    assert wrong_type.status_code == 404


def test_attribute_value_endpoints_use_the_query_string(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    created = rock.post(
        "/api/Attributes",
        json={
            "IsSystem": False,
            "FieldTypeId": ids["fieldtype:text"],
            "EntityTypeId": ids["entity:Person"],
            "EntityTypeQualifierColumn": "",
            "EntityTypeQualifierValue": "",
            "Key": "PCOId",
            "Name": "PCO Id",
            "Order": 0,
            "IsGridColumn": False,
            "IsMultiValue": False,
            "IsRequired": False,
        },
    )
    attribute_id = created.json()
    person = some_person(rock, ids)
    url = f"/api/People/AttributeValue/{person['Id']}"
    r = rock.post(url, params={"attributeKey": "PCOId", "attributeValue": "a&b 12345"})
    assert (r.status_code, r.json()) == (202, person["Id"])
    bulk = rock.get(
        "/api/AttributeValues",
        params={"$filter": f"AttributeId eq {attribute_id}", "$select": "EntityId,Value"},
    ).json()
    assert bulk == [{"EntityId": person["Id"], "Value": "a&b 12345"}]
    by_key = rock.get(
        "/api/People/GetByAttributeValue",
        params={"attributeKey": "pcoid", "value": "A&B 12345", "$select": "Id"},
    ).json()
    assert by_key == [{"Id": person["Id"]}]
    by_id = rock.get(
        "/api/People/GetByAttributeValue",
        params={"attributeId": attribute_id, "value": "A&B 12345", "caseSensitive": "true"},
    ).json()
    assert by_id == []
    both = rock.get(
        "/api/People/GetByAttributeValue",
        params={"attributeId": attribute_id, "attributeKey": "PCOId", "value": "x"},
    )
    assert both.json() == {
        "Message": "Either attributeKey or attributeId must be specified, but not both"
    }
    assert rock.delete(url, params={"attributeKey": "PCOId"}).status_code == 202
    cleared = rock.get(
        "/api/AttributeValues", params={"$filter": f"AttributeId eq {attribute_id}"}
    ).json()
    assert [v["Value"] for v in cleared] == [""]  # Rock stores "" rather than deleting
    unknown = rock.post(url, params={"attributeKey": "Nope", "attributeValue": "1"})
    assert unknown.status_code == 400


def test_a_json_body_does_not_set_an_attribute_value(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    query = {"$filter": f"AttributeId eq {ids['attribute:Allergy']} and EntityId eq {person['Id']}"}
    before = rock.get("/api/AttributeValues", params=query).json()
    r = rock.post(
        f"/api/People/AttributeValue/{person['Id']}?attributeKey=Allergy",
        json={"attributeValue": "Dairy"},
    )
    assert r.status_code == 404  # no action takes the value from a body
    assert "No action was found" in r.json()["MessageDetail"]
    assert rock.get("/api/AttributeValues", params=query).json() == before


def test_attribute_value_numeric_and_boolean_columns(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    rock.post(
        f"/api/People/AttributeValue/{person['Id']}",
        params={"attributeKey": "Allergy", "attributeValue": "23"},
    )
    raw = rock.get(
        "/api/AttributeValues",
        params={
            "$filter": f"AttributeId eq {ids['attribute:Allergy']} and EntityId eq {person['Id']}"
        },
    )
    assert '"ValueAsNumeric":23.0000' in raw.text  # a .NET decimal keeps its scale
    assert raw.json()[0]["ValueAsBoolean"] is False


def test_flush_and_version(rock: httpx.Client) -> None:
    assert rock.put("/api/Attributes/flush").status_code == 204
    assert rock.put("/api/Attributes/flush/12").status_code == 204
    version = rock.get("/api/Utility/GetRockSemanticVersionNumber")
    assert version.status_code == 200 and version.json() == "1.16.4"


def test_get_by_user_name_includes_phone_numbers(rock: httpx.Client, ids: dict[str, int]) -> None:
    rock.post(
        "/api/PhoneNumbers",
        json={
            "PersonId": ids["person:admin"],
            "Number": "2145550999",
            "NumberTypeValueId": ids["dv:phone_type:mobile"],
        },
    )
    admin = rock.get("/api/People/GetByUserName/admin").json()
    assert admin["Id"] == ids["person:admin"]
    assert [p["Number"] for p in admin["PhoneNumbers"]] == ["2145550999"]
    assert rock.get("/api/People/GetByUserName/nobody").status_code == 404
