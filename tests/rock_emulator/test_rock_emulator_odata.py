"""Spec §2.2–2.3, §7: OData v3 as Rock accepts it — literals, enums, functions, navigation,
paging, projection, and the validation limits."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from tests.rock_emulator.helpers import freeze, local_text, person_ids, some_person, utc


def _odata_error(r: httpx.Response) -> str:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["Message"] == "The query specified in the URI is not valid."
    assert body["ExceptionType"] == "Microsoft.Data.OData.ODataException"
    message: str = body["ExceptionMessage"]
    return message


def _all_people(rock: httpx.Client, select: str) -> list[dict[str, Any]]:
    r = rock.get("/api/People", params={"$select": select})
    assert r.status_code == 200
    people: list[dict[str, Any]] = r.json()
    return people


# -- literals -----------------------------------------------------------------------------


def test_datetime_literal_is_org_local_and_a_z_is_ignored(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    when = utc(2026, 3, 10, 15, 0, 0)  # 10:00 in Chicago (CDT, -5)
    freeze(rock, when)
    assert rock.post(
        f"/__emulator__/people/{person['Id']}", json={"NickName": "Clocked"}
    ).is_success
    stamp = rock.get(f"/api/People/{person['Id']}").json()["ModifiedDateTime"]
    assert stamp == "2026-03-10T10:00:00" == local_text(when)
    local = "ModifiedDateTime eq datetime'2026-03-10T10:00:00'"
    assert person["Id"] in person_ids(rock, local)
    assert person["Id"] in person_ids(rock, "ModifiedDateTime eq datetime'2026-03-10T10:00:00Z'")
    as_utc = "ModifiedDateTime eq datetime'2026-03-10T15:00:00'"
    assert person["Id"] not in person_ids(rock, as_utc)


def test_datetime_literal_with_an_offset_is_rejected(rock: httpx.Client) -> None:
    r = rock.get(
        "/api/People", params={"$filter": "ModifiedDateTime gt datetime'2024-01-01T00:00:00+00:00'"}
    )
    assert "Unrecognized 'Edm.DateTime' literal" in _odata_error(r)


def test_v4_bare_datetime_is_a_syntax_error(rock: httpx.Client) -> None:
    r = rock.get("/api/People", params={"$filter": "ModifiedDateTime gt 2024-01-01T00:00:00Z"})
    _odata_error(r)


def test_guid_literal(rock: httpx.Client, ids: dict[str, int]) -> None:
    r = rock.get(
        "/api/GroupTypes", params={"$filter": "Guid eq guid'790E3215-3B10-442B-AF69-616C0DCB998E'"}
    )
    assert r.status_code == 200
    assert [g["Id"] for g in r.json()] == [ids["grouptype:family"]]
    as_string = rock.get(
        "/api/GroupTypes", params={"$filter": "Guid eq '790E3215-3B10-442B-AF69-616C0DCB998E'"}
    )
    assert "'Edm.Guid' and 'Edm.String'" in _odata_error(as_string)
    bad = rock.get("/api/GroupTypes", params={"$filter": "Guid eq guid'not-a-guid'"})
    assert "Unrecognized 'Edm.Guid' literal" in _odata_error(bad)


def test_string_literal_with_a_doubled_quote(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    rock.post(f"/__emulator__/people/{person['Id']}", json={"LastName": "O'Brien"})
    assert person_ids(rock, "LastName eq 'O''Brien'") == [person["Id"]]
    unterminated = rock.get("/api/People", params={"$filter": "LastName eq 'O"})
    assert "unterminated string literal" in _odata_error(unterminated)


def test_null_and_boolean_literals(rock: httpx.Client) -> None:
    everyone = _all_people(rock, "Id,Email,IsDeceased")
    no_email = {p["Id"] for p in everyone if p["Email"] is None}
    assert no_email, "the seeded church has people without email"
    assert set(person_ids(rock, "Email eq null")) == no_email
    assert set(person_ids(rock, "Email ne null")) == {p["Id"] for p in everyone} - no_email
    assert set(person_ids(rock, "IsDeceased eq false")) == {p["Id"] for p in everyone}


def test_string_comparison_is_case_insensitive_like_sql_server(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    assert person_ids(rock, f"Email eq '{person['Email'].upper()}'") == [person["Id"]]


# -- enums -------------------------------------------------------------------------------


def test_enum_compares_with_a_quoted_name_or_quoted_number(rock: httpx.Client) -> None:
    by_name = rock.get(
        "/api/GroupMembers",
        params={"$filter": "GroupMemberStatus eq 'Active'", "$select": "Id,GroupMemberStatus"},
    ).json()
    by_digit = rock.get(
        "/api/GroupMembers", params={"$filter": "GroupMemberStatus eq '1'", "$select": "Id"}
    ).json()
    assert by_name and [m["Id"] for m in by_name] == [m["Id"] for m in by_digit]
    assert {m["GroupMemberStatus"] for m in by_name} == {1}  # numbers in JSON output


def test_enum_against_a_bare_number_is_400(rock: httpx.Client) -> None:
    r = rock.get("/api/GroupMembers", params={"$filter": "GroupMemberStatus eq 1"})
    message = _odata_error(r)
    assert "A binary operator with incompatible types was detected" in message
    assert "'Edm.String' and 'Edm.Int32'" in message


def test_gender_by_name(rock: httpx.Client) -> None:
    males = rock.get(
        "/api/People", params={"$filter": "Gender eq 'Male'", "$select": "Id,Gender"}
    ).json()
    assert males and {p["Gender"] for p in males} == {1}
    bad = rock.get("/api/People", params={"$filter": "Gender eq 'Martian'"})
    _odata_error(bad)


# -- operators and functions ---------------------------------------------------------------


def test_and_or_not_with_parentheses(rock: httpx.Client) -> None:
    everyone = _all_people(rock, "Id,Gender,BirthYear,Email")
    expected = {
        p["Id"]
        for p in everyone
        if (p["Gender"] == 1 or (p["BirthYear"] is not None and p["BirthYear"] < 1970))
        and p["Email"] is not None
    }
    got = person_ids(rock, "(Gender eq 'Male' or BirthYear lt 1970) and not (Email eq null)")
    assert set(got) == expected
    assert expected


def test_comparison_operators_on_ids(rock: httpx.Client) -> None:
    all_ids = sorted(p["Id"] for p in _all_people(rock, "Id"))
    mid = all_ids[len(all_ids) // 2]
    assert person_ids(rock, f"Id gt {mid}") == [i for i in all_ids if i > mid]
    assert person_ids(rock, f"Id ge {mid}") == [i for i in all_ids if i >= mid]
    assert person_ids(rock, f"Id lt {mid}") == [i for i in all_ids if i < mid]
    assert person_ids(rock, f"Id le {mid}") == [i for i in all_ids if i <= mid]
    assert person_ids(rock, f"Id ne {mid}") == [i for i in all_ids if i != mid]


def test_text_functions(rock: httpx.Client) -> None:
    everyone = _all_people(rock, "Id,LastName,Email")
    sample = next(p for p in everyone if p["Email"] and p["LastName"] and len(p["LastName"]) > 3)
    prefix = sample["LastName"][:3].lower()
    starts = {p["Id"] for p in everyone if (p["LastName"] or "").lower().startswith(prefix)}
    assert set(person_ids(rock, f"startswith(LastName,'{prefix}')")) == starts
    suffix = sample["LastName"][-2:]
    ends = {p["Id"] for p in everyone if (p["LastName"] or "").lower().endswith(suffix.lower())}
    assert set(person_ids(rock, f"endswith(LastName,'{suffix}')")) == ends
    domain = sample["Email"].split("@")[1]
    has = {p["Id"] for p in everyone if domain in (p["Email"] or "")}
    assert set(person_ids(rock, f"substringof('{domain}',Email)")) == has
    assert person_ids(rock, f"tolower(Email) eq '{sample['Email'].lower()}'") == [sample["Id"]]
    assert sample["Id"] in person_ids(rock, f"toupper(LastName) eq '{sample['LastName'].upper()}'")


def test_v4_contains_is_an_unknown_function(rock: httpx.Client) -> None:
    r = rock.get("/api/People", params={"$filter": "contains(LastName,'a')"})
    assert "An unknown function with name 'contains' was found" in _odata_error(r)


def test_function_argument_types_are_checked(rock: httpx.Client) -> None:
    r = rock.get("/api/People", params={"$filter": "startswith(Id,'1')"})
    assert "No function signature for the function with name 'startswith'" in _odata_error(r)


def test_unknown_and_non_column_properties_are_400(rock: httpx.Client) -> None:
    assert "Could not find a property named 'Foo' on type 'Rock.Model.Person'" in _odata_error(
        rock.get("/api/People", params={"$filter": "Foo eq 1"})
    )
    # PrimaryAliasId and FullName are C# properties, not stored columns of the EDM model
    assert "'PrimaryAliasId'" in _odata_error(
        rock.get("/api/People", params={"$filter": "PrimaryAliasId eq 1"})
    )


def test_syntax_errors_are_400(rock: httpx.Client) -> None:
    assert "Expression expected at position 5" in _odata_error(
        rock.get("/api/People", params={"$filter": "Id eq"})
    )
    assert "Expression expected" in _odata_error(
        rock.get("/api/People", params={"$filter": "Id eq 1 and"})
    )
    assert "')' or operator expected" in _odata_error(
        rock.get("/api/People", params={"$filter": "(Id eq 1"})
    )
    assert "Syntax error" in _odata_error(rock.get("/api/People", params={"$filter": "Id eq 1 1"}))


# -- navigation ------------------------------------------------------------------------------


def test_navigation_paths_on_group_members(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    mine = rock.get(
        "/api/GroupMembers",
        params={"$filter": f"Person/Email eq '{person['Email']}'", "$select": "PersonId"},
    ).json()
    assert mine and {m["PersonId"] for m in mine} == {person["Id"]}
    leaders = rock.get(
        "/api/GroupMembers",
        params={
            "$filter": "GroupRole/IsLeader eq true",
            "$expand": "GroupRole",
            "$select": "Id,GroupRole/IsLeader,GroupRoleId",
        },
    ).json()
    assert leaders and all(m["GroupRole"]["IsLeader"] for m in leaders)
    assert {m["GroupRoleId"] for m in leaders} <= {
        ids["role:small_group:leader"],
        ids["role:serving_team:leader"],
    }


def test_non_datamember_navigation_is_not_in_the_model(rock: httpx.Client) -> None:
    r = rock.get("/api/GroupMembers", params={"$filter": "Group/Name eq 'Young Adults'"})
    assert "Could not find a property named 'Group' on type 'Rock.Model.GroupMember'" in (
        _odata_error(r)
    )


def test_any_over_a_collection_navigation(rock: httpx.Client, ids: dict[str, int]) -> None:
    person = some_person(rock, ids)
    groups = rock.get(
        "/api/Groups",
        params={"$filter": f"Members/any(m: m/PersonId eq {person['Id']})", "$select": "Id"},
    ).json()
    memberships = rock.get(
        "/api/GroupMembers", params={"$filter": f"PersonId eq {person['Id']}", "$select": "GroupId"}
    ).json()
    assert {g["Id"] for g in groups} == {m["GroupId"] for m in memberships}
    assert groups


# -- ordering, paging, projection ---------------------------------------------------------


def test_orderby_several_keys_with_directions(rock: httpx.Client) -> None:
    got = rock.get(
        "/api/People",
        params={"$orderby": "LastName desc,FirstName,Id desc", "$select": "Id,LastName,FirstName"},
    ).json()

    def key(p: dict[str, Any]) -> tuple[Any, ...]:
        return ((p["LastName"] or "").casefold(),)

    assert [key(p) for p in got] == sorted((key(p) for p in got), reverse=True)
    for a, b in itertools.pairwise(got):
        if (a["LastName"] or "").casefold() == (b["LastName"] or "").casefold():
            assert (a["FirstName"] or "").casefold() <= (b["FirstName"] or "").casefold()


def test_modified_since_pages_are_complete_and_stable(rock: httpx.Client) -> None:
    everyone = _all_people(rock, "Id,ModifiedDateTime")
    mark = sorted(p["ModifiedDateTime"] for p in everyone if p["ModifiedDateTime"])[20]
    flt = f"ModifiedDateTime gt datetime'{mark}'"
    expected = sorted(
        (
            (p["ModifiedDateTime"], p["Id"])
            for p in everyone
            if p["ModifiedDateTime"] and p["ModifiedDateTime"] > mark
        ),
        key=lambda t: (t[0], t[1]),
    )
    pages: list[tuple[str, int]] = []
    skip = 0
    while True:
        page = rock.get(
            "/api/People",
            params={
                "$filter": flt,
                "$orderby": "ModifiedDateTime,Id",
                "$top": "17",
                "$skip": str(skip),
                "$select": "Id,ModifiedDateTime",
            },
        ).json()
        pages += [(p["ModifiedDateTime"], p["Id"]) for p in page]
        if len(page) < 17:
            break
        skip += 17
    assert pages == expected
    assert len(pages) > 17


def test_nulls_sort_first_ascending(rock: httpx.Client) -> None:
    ordered = rock.get(
        "/api/People", params={"$orderby": "ModifiedDateTime,Id", "$select": "Id,ModifiedDateTime"}
    ).json()
    stamps = [p["ModifiedDateTime"] for p in ordered]
    nulls = stamps.count(None)
    assert nulls > 0, "some seeded rows have no ModifiedDateTime, like old Rock rows"
    assert stamps[:nulls] == [None] * nulls
    desc = rock.get(
        "/api/People", params={"$orderby": "ModifiedDateTime desc", "$select": "ModifiedDateTime"}
    ).json()
    assert desc[-1]["ModifiedDateTime"] is None


def test_no_page_limit_without_top(rock: httpx.Client, rock_emulator: Any) -> None:
    everyone = rock.get("/api/People").json()
    data = rock_emulator.app.state.emulator.data
    hidden = 1  # the anonymous visitor
    assert len(everyone) == len(data.table("Person")) - hidden


def test_select_keeps_only_the_named_columns(rock: httpx.Client) -> None:
    rows = rock.get("/api/People", params={"$select": "Id,Email", "$top": "3"}).json()
    assert [set(r) for r in rows] == [{"Id", "Email"}] * 3
    bad = rock.get("/api/People", params={"$select": "FullName"})
    assert "'FullName'" in _odata_error(bad)


def test_plain_list_is_the_full_entity_but_projection_is_the_edm_shape(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = some_person(rock, ids)
    plain = rock.get("/api/People", params={"$filter": f"Id eq {person['Id']}"}).json()[0]
    assert plain["PrimaryAliasId"] is not None and plain["FullName"]
    assert plain["PhoneNumbers"] == [] and plain["RecordTypeValue"] is None
    assert plain["Attributes"] is None and plain["AttributeValues"] is None
    expanded = rock.get(
        "/api/People", params={"$filter": f"Id eq {person['Id']}", "$expand": "PhoneNumbers"}
    ).json()[0]
    assert "PrimaryAliasId" not in expanded and "FullName" not in expanded
    assert "Attributes" not in expanded and "RecordTypeValue" not in expanded
    assert isinstance(expanded["PhoneNumbers"], list)
    phones = rock.get("/api/PhoneNumbers", params={"$filter": f"PersonId eq {person['Id']}"})
    assert sorted(p["Id"] for p in expanded["PhoneNumbers"]) == sorted(
        p["Id"] for p in phones.json()
    )
    assert next(iter(expanded)) == "PhoneNumbers"  # expanded navigations come first


@pytest.mark.parametrize(
    ("path", "expand", "nav"),
    [
        ("/api/GroupMembers", "Person,GroupRole", "Person"),
        ("/api/GroupLocations", "Location", "Location"),
        ("/api/Groups", "Members,GroupLocations", "Members"),
    ],
)
def test_datamember_navigations_expand(
    rock: httpx.Client, path: str, expand: str, nav: str
) -> None:
    rows = rock.get(path, params={"$expand": expand, "$top": "3"}).json()
    assert rows and all(nav in r for r in rows)
    assert all(r[nav] is not None for r in rows)


def test_expanding_a_non_datamember_navigation_is_400(rock: httpx.Client) -> None:
    r = rock.get("/api/GroupMembers", params={"$expand": "Group"})
    assert _odata_error(r).startswith("Could not find a property named 'Group'")
    parent = rock.get("/api/Groups", params={"$expand": "ParentGroup"})
    assert "'ParentGroup'" in _odata_error(parent)


def test_expansion_depth_is_limited(rock: httpx.Client, ids: dict[str, int]) -> None:
    deep = rock.get("/api/Groups", params={"$expand": "Members/Person/PhoneNumbers"})
    assert "too deep" in _odata_error(deep)
    person = some_person(rock, ids)
    families = rock.get(
        f"/api/Groups/GetFamilies/{person['Id']}", params={"$expand": "Members/Person/PhoneNumbers"}
    )
    assert families.status_code == 200  # GetFamilies raises the limit to 4
    members = families.json()[0]["Members"]
    assert any(m["PersonId"] == person["Id"] for m in members)


def test_count_is_400_and_inlinecount_is_ignored(rock: httpx.Client) -> None:
    count = rock.get("/api/People", params={"$count": "true"})
    assert count.status_code == 400
    assert count.json() == {"Message": "The query parameter '$count' is not supported."}
    inline = rock.get("/api/People", params={"$inlinecount": "allpages", "$top": "2"})
    assert inline.status_code == 200 and isinstance(inline.json(), list)
    assert len(inline.json()) == 2


def test_top_must_be_a_non_negative_integer(rock: httpx.Client) -> None:
    assert "$top" in _odata_error(rock.get("/api/People", params={"$top": "-1"}))
    assert rock.get("/api/People", params={"$top": "0"}).json() == []


def test_max_node_count_limits_long_or_chains(rock: httpx.Client) -> None:
    all_ids = [p["Id"] for p in _all_people(rock, "Id")][:25]
    twenty = " or ".join(f"Id eq {i}" for i in all_ids[:20])
    assert sorted(person_ids(rock, twenty)) == sorted(all_ids[:20])
    too_many = " or ".join(f"Id eq {i}" for i in all_ids[:21])
    r = rock.get("/api/People", params={"$filter": too_many})
    assert "The node count limit of '100' has been exceeded" in _odata_error(r)


def test_load_attributes_per_item_and_ignored_with_expand(
    rock: httpx.Client, rock_emulator: Any
) -> None:
    data = rock_emulator.app.state.emulator.data
    allergy = data.ids["attribute:Allergy"]
    value = rock.get(
        "/api/AttributeValues", params={"$filter": f"AttributeId eq {allergy}", "$top": "1"}
    ).json()[0]
    rows = rock.get(
        "/api/People", params={"$filter": f"Id eq {value['EntityId']}", "loadAttributes": "simple"}
    ).json()
    attributes, values = rows[0]["Attributes"], rows[0]["AttributeValues"]
    assert attributes["Allergy"]["Id"] == allergy and attributes["Allergy"]["Key"] == "Allergy"
    assert values["Allergy"]["Value"] == value["Value"]
    assert values["Allergy"]["EntityId"] == value["EntityId"]
    assert set(values["Allergy"]) >= {"AttributeId", "ValueFormatted", "IsPersistedValueDirty"}
    expanded = rock.get(
        "/api/People",
        params={
            "$filter": f"Id eq {value['EntityId']}",
            "loadAttributes": "simple",
            "$expand": "PhoneNumbers",
        },
    ).json()
    assert "Attributes" not in expanded[0]
    limited = rock.get(
        f"/api/People/{value['EntityId']}",
        params={"loadAttributes": "expanded", "attributeKeys": "BaptismDate"},
    )
    assert set(limited.json()["Attributes"]) == {"BaptismDate"}
    assert "FieldType" in limited.json()["Attributes"]["BaptismDate"]


def test_numeric_literals(rock: httpx.Client) -> None:
    locations = rock.get("/api/Locations", params={"$select": "Id,Latitude"}).json()
    mid = sorted(loc["Latitude"] for loc in locations if loc["Latitude"] is not None)[5]
    north = rock.get(
        "/api/Locations", params={"$filter": f"Latitude gt {mid}", "$select": "Id"}
    ).json()
    assert {x["Id"] for x in north} == {
        loc["Id"] for loc in locations if loc["Latitude"] is not None and loc["Latitude"] > mid
    }
    first = locations[0]["Id"]
    assert rock.get(
        "/api/Locations", params={"$filter": f"Id eq {first}L", "$select": "Id"}
    ).json() == [{"Id": first}]
    assert rock.get(
        "/api/Locations", params={"$filter": f"Id eq {first}.0M", "$select": "Id"}
    ).json() == [{"Id": first}]
    text = rock.get("/api/Locations", params={"$filter": f"Id eq '{first}'"})
    assert "'Edm.Int32' and 'Edm.String'" in _odata_error(text)
