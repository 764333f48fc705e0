"""The Rock emulator against real Rock responses (``tests/fixtures/rock``).

Each test asks the emulator for what a fixture shows (the endpoints are the README's guesses:
the rock_rms gem recorded no requests) and compares **shapes**: key names and casing, JSON
types, date-time formats (no offset), ``null`` versus ``[]`` for navigation properties, and
which keys a full entity has against an OData projection.

What is trustworthy (fixtures/README.md, "Caveats"): the gem's authors trimmed and anonymised
these by hand. Key names, casing, value types and formats are real; completeness is not
(``campuses-list`` lost its nav props, ``defined-values…`` was cut to 9 keys, nested
``Attribute`` objects were trimmed), and some GUIDs are truncated (``"ed7ac06f"``) or values
are placeholders (``"Email": "some"``). So:

- every key a fixture has must be present; extra keys are allowed (trimming, and newer Rock
  versions add columns such as ``AgeClassification``), except for the 2023 ``$expand=Person``
  fixture, which is untrimmed newer Rock output and is compared key for key;
- a ``null`` in the fixture only says the property is nullable, so it matches any value; a
  value in the fixture must meet a value of the same JSON type or ``null``; ``[]`` must meet a
  list;
- a date-time string must look like Rock's (``yyyy-MM-ddTHH:mm:ss`` plus up to seven
  fraction digits, no offset) on our side too; GUID values are checked against the GUID form
  on our side only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import RunningEmulator

# recorded real responses, kept in the repository (copied from the shared reference folder)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "rock"

ROCK_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# keys only the full entity (plain GET) has; an OData projection must not
FULL_ONLY = {
    "PrimaryAliasId",
    "FullName",
    "Attributes",
    "AttributeValues",
    "PhoneNumbers",
    "RecordTypeValue",
    "GroupType",
    "Users",
    "Members",
}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


class Compared:
    """Counts what was really compared, so an all-null sample cannot pass by accident."""

    def __init__(self) -> None:
        self.values = 0
        self.datetimes = 0


def shape_problems(
    expected: Any,
    actual: Any,
    path: str = "$",
    *,
    exact: bool = False,
    seen: Compared | None = None,
) -> list[str]:
    """Where ``actual`` does not have the shape of ``expected`` (empty list: same shape)."""
    seen = seen or Compared()
    if expected is None:
        return []
    if actual is None:
        if isinstance(expected, list):
            return [f"{path}: [] in the fixture, null here"]
        return []
    ek, ak = kind(expected), kind(actual)
    if ek != ak:
        return [f"{path}: {ek} in the fixture, {ak} here"]
    seen.values += 1
    problems: list[str] = []
    if isinstance(expected, dict) and path.endswith((".Attributes", ".AttributeValues")):
        # keyed by attribute Key: the keys are install data, the entries are the shape
        if expected and actual:
            first = next(iter(expected))
            problems += shape_problems(
                expected[first],
                next(iter(actual.values())),
                f"{path}.{first}",
                exact=exact,
                seen=seen,
            )
        elif expected:
            problems.append(f"{path}: empty here")
    elif isinstance(expected, dict):
        missing = sorted(set(expected) - set(actual))
        problems += [f"{path}.{k}: missing here" for k in missing]
        if exact:
            problems += [
                f"{path}.{k}: not in the fixture" for k in sorted(set(actual) - set(expected))
            ]
        for key in expected:
            if key in actual:
                problems += shape_problems(
                    expected[key], actual[key], f"{path}.{key}", exact=exact, seen=seen
                )
    elif isinstance(expected, list):
        if expected and actual:
            problems += shape_problems(expected[0], actual[0], f"{path}[0]", exact=exact, seen=seen)
    elif isinstance(expected, str):
        if ROCK_DATETIME.match(expected):
            seen.datetimes += 1
            if not ROCK_DATETIME.match(actual):
                problems.append(f"{path}: {actual!r} is not a Rock date-time (no offset)")
        if path.endswith(".Guid") and not GUID.match(actual):
            problems.append(f"{path}: {actual!r} is not a GUID")
    return problems


def assert_same_shape(
    expected: Any, actual: Any, *, exact: bool = False, min_values: int = 10
) -> None:
    seen = Compared()
    problems = shape_problems(expected, actual, exact=exact, seen=seen)
    assert not problems, "\n".join(problems)
    assert seen.values >= min_values, f"only {seen.values} values were compared"


@pytest.fixture
def rock(rock_emulator: RunningEmulator) -> Any:
    headers = {"Authorization-Token": rock_emulator.credentials["api_key"]}
    with httpx.Client(base_url=rock_emulator.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def ids(rock_emulator: RunningEmulator) -> dict[str, int]:
    values: dict[str, int] = rock_emulator.app.state.emulator.data.ids.values
    return values


def _get(rock: httpx.Client, url: str, **params: str) -> Any:
    r = rock.get(url, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def _small_group(rock: httpx.Client, ids: dict[str, int]) -> int:
    groups = _get(
        rock,
        "/api/Groups",
        **{"$filter": f"GroupTypeId eq {ids['grouptype:small_group']}", "$select": "Id"},
    )
    group_id: int = groups[0]["Id"]
    return group_id


def _adult(rock: httpx.Client, ids: dict[str, int]) -> dict[str, Any]:
    people = _get(
        rock,
        "/api/People",
        **{
            "$filter": f"RecordTypeValueId eq {ids['dv:record_type:person']} and "
            "ModifiedDateTime ne null and BirthYear ne null and Email ne null and "
            "GraduationYear eq null and AgeClassification eq 'Adult'",
            "$orderby": "Id",
            "$top": "1",
        },
    )
    person: dict[str, Any] = people[0]
    return person


# ---- one test per fixture -------------------------------------------------------------------


def test_person_by_alias_is_the_full_entity(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("people-get-by-person-alias-id.json")["body"]
    person = _adult(rock, ids)
    # PhoneNumbers, Users and the DefinedValue navigations come back []/null unexpanded;
    # GradeOffset/HasGraduated are null without a GraduationYear, as in Rock
    actual = _get(rock, f"/api/People/GetByPersonAliasId/{person['PrimaryAliasId']}")
    for key in ("GradeOffset", "HasGraduated", "GraduationYear"):
        expected = {k: v for k, v in expected.items() if k != key} | {key: None}
    assert_same_shape(expected, actual, min_values=30)
    assert actual["Attributes"] is None and actual["PhoneNumbers"] == []
    assert isinstance(actual["Gender"], int)  # enums are numbers in the entity


def test_group_members_expand_person_is_the_edm_shape(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    expected = fixture("group-members-list-expand-person.json")["body"]
    adult = _adult(rock, ids)
    actual = _get(
        rock, "/api/GroupMembers", **{"$expand": "Person", "$filter": f"PersonId eq {adult['Id']}"}
    )
    # the 2023 fixture is untrimmed newer Rock output: same keys exactly, no more
    assert_same_shape(expected, actual, exact=True, min_values=40)
    assert not FULL_ONLY & set(actual[0]["Person"])
    assert next(iter(actual[0])) == "Person"  # the expanded navigation is written first


def test_groups_expand_members_grouprole(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("groups-list-expand-members-grouprole.json")["body"]
    group = _small_group(rock, ids)
    actual = _get(
        rock, "/api/Groups", **{"$expand": "Members/GroupRole", "$filter": f"Id eq {group}"}
    )
    assert_same_shape(expected, actual, min_values=30)
    assert not (FULL_ONLY - {"Members"}) & set(actual[0])  # no unexpanded navigations
    assert isinstance(actual[0]["Members"][0]["GroupMemberStatus"], int)


def test_group_get_single(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("group-get-single.json")["body"]
    actual = _get(rock, f"/api/Groups/{_small_group(rock, ids)}")
    assert_same_shape(expected, actual, min_values=15)
    assert actual["Members"] == [] and actual["GroupType"] is None  # not loaded on a GET


def test_groups_get_families(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("groups-get-families-for-person.json")["body"]
    actual = _get(rock, f"/api/Groups/GetFamilies/{_adult(rock, ids)['Id']}")
    assert_same_shape(expected, actual, min_values=15)
    assert actual[0]["GroupTypeId"] == ids["grouptype:family"]


def test_group_locations_expand_location(rock: httpx.Client) -> None:
    expected = fixture("group-locations-list-expand-location.json")["body"]
    actual = _get(rock, "/api/GroupLocations", **{"$expand": "Location", "$top": "1"})
    assert_same_shape(expected, actual, exact=True, min_values=25)


def test_phone_numbers_list(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("phone-numbers-list.json")["body"]
    actual = _get(rock, "/api/PhoneNumbers", **{"$filter": "ModifiedDateTime ne null", "$top": "1"})
    assert_same_shape(expected, actual, exact=True, min_values=15)
    assert actual[0]["CountryCode"] == "1" and actual[0]["Number"].isdigit()


def test_campuses_list(rock: httpx.Client) -> None:
    expected = fixture("campuses-list.json")["body"]
    actual = _get(rock, "/api/Campuses")
    assert_same_shape(expected, actual, min_values=12)


def test_attributes_list(rock: httpx.Client) -> None:
    expected = fixture("attributes-list.json")["body"]
    actual = _get(rock, "/api/Attributes", **{"$filter": "Key eq 'Allergy'"})
    assert_same_shape(expected, actual, min_values=25)


def test_attribute_values_expand_attribute(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("attribute-values-list-expand-attribute.json")["body"]
    # pick a value that is a number, like the fixture's "23", to compare ValueAsNumeric
    person = _adult(rock, ids)
    rock.post(
        f"/api/People/AttributeValue/{person['Id']}",
        params={"attributeKey": "Allergy", "attributeValue": "23"},
    )
    raw = rock.get(
        "/api/AttributeValues",
        params={
            "$expand": "Attribute",
            "$filter": f"AttributeId eq {ids['attribute:Allergy']} and EntityId eq {person['Id']}",
        },
    )
    assert_same_shape(expected, raw.json(), min_values=15)
    assert '"ValueAsNumeric":23.0000' in raw.text  # the decimal literal keeps its scale


def test_defined_values_load_attributes_simple(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("defined-values-list-load-attributes-simple.json")["body"]
    made = rock.post(
        "/api/Attributes",
        json={
            "FieldTypeId": ids["fieldtype:text"],
            "EntityTypeId": ids["entity:DefinedValue"],
            "EntityTypeQualifierColumn": "DefinedTypeId",
            "EntityTypeQualifierValue": str(ids["dt:record_type"]),
            "Key": "SortOrder",
            "Name": "SortOrder",
        },
    )
    assert made.status_code == 201
    person_type = ids["dv:record_type:person"]
    rock.post(
        f"/api/DefinedValues/AttributeValue/{person_type}",
        params={"attributeKey": "SortOrder", "attributeValue": "1"},
    )
    actual = _get(
        rock,
        "/api/DefinedValues",
        **{"loadAttributes": "simple", "$filter": f"Id eq {person_type}"},
    )
    assert_same_shape(expected, actual, min_values=15)
    assert actual[0]["Guid"] == "36cf10d6-c695-413d-8e7c-4546efef385e"  # Rock's system GUID
    assert actual[0]["AttributeValues"]["SortOrder"]["Value"] == "1"


def test_people_search(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("people-search-by-name.json")["body"]
    person = _adult(rock, ids)
    actual = _get(
        rock,
        "/api/People/Search",
        name=f"{person['LastName']}, {person['NickName']}",
        includeHtml="false",
        includeDetails="true",
        includeBusinesses="false",
        includeDeceased="false",
    )
    mine = [r for r in actual if r["Id"] == person["Id"]]
    assert_same_shape(expected, mine, min_values=10)
    assert isinstance(mine[0]["Gender"], str)  # a name here, unlike the entity's number


def test_group_member_create_returns_the_bare_id(rock: httpx.Client, ids: dict[str, int]) -> None:
    expected = fixture("group-members-create-201-returns-bare-id.json")
    person = _adult(rock, ids)
    r = rock.post(
        "/api/GroupMembers",
        json={
            "GroupId": ids["group:serving_teams"],
            "PersonId": person["Id"],
            "GroupRoleId": ids["role:serving_team:member"],
            "GroupMemberStatus": 1,
        },
    )
    assert r.status_code == expected["status_guess"] == 201
    assert kind(r.json()) == kind(expected["body"]) == "number"
    assert re.fullmatch(r"\d+", r.text)


def test_html_error_page(rock: httpx.Client) -> None:
    expected = fixture("html-error-page-internal-error.json")
    rock.post(
        "/__emulator__/faults",
        json={"faults": [{"kind": "error", "status": 200, "body": "html", "count": 1}]},
    )
    r = rock.get("/api/People")
    assert r.headers["content-type"] == expected["content_type_guess"]
    for marker in (
        "<title>Rock - Error</title>",
        "That Wasn't Supposed To Happen...",
        'id="pnlException"',
    ):
        assert marker in expected["body"] and marker in r.text
    # the gem detects the page by this sentence, whatever the status
    sentence = "An error has occurred while processing your request"
    assert sentence in " ".join(expected["body"].split())
    assert sentence in " ".join(r.text.split())


# ---- strict where a sync client depends on it (issue 13) ------------------------------------
#
# No recording shows a Rock 500 in JSON; its shape is spec §2.7 (``RockApiExceptionHandler``):
# ``{"Message": "An error has occurred."}``, the exception's details only for an administrator.

LOOKUP_COLUMNS = (
    "RecordTypeValueId",
    "ConnectionStatusValueId",
    "RecordStatusValueId",
    "MaritalStatusValueId",
    "TitleValueId",
)
MISSING = 987_654


def _rock_500(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 500, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert "Traceback" not in resp.text and ".py" not in resp.text
    body: dict[str, Any] = resp.json()
    assert body["Message"] == "An error has occurred."
    return body


def _foreign_key_500(resp: httpx.Response, column: str) -> None:
    body = _rock_500(resp)
    assert body["ExceptionType"] == "System.Data.Entity.Infrastructure.DbUpdateException"
    sql = body["InnerException"]["InnerException"]
    assert sql["ExceptionType"] == "System.Data.SqlClient.SqlException"
    assert "FOREIGN KEY constraint" in sql["ExceptionMessage"]
    assert sql["ExceptionMessage"].split('"')[1].endswith(f"_{column}")


def _count(rock: httpx.Client, entity: str, flt: str) -> int:
    return len(_get(rock, f"/api/{entity}", **{"$filter": flt, "$select": "Id"}))


@pytest.mark.parametrize("column", LOOKUP_COLUMNS)
def test_a_lookup_value_that_does_not_exist_is_the_foreign_key_500(
    rock: httpx.Client, ids: dict[str, int], column: str
) -> None:
    person = _adult(rock, ids)
    before = _get(rock, f"/api/People/{person['Id']}")
    created = rock.post(
        "/api/People", json={"FirstName": "Fk", "LastName": "Probe", column: MISSING}
    )
    patched = rock.patch(f"/api/People/{person['Id']}", json={column: MISSING, "NickName": "X"})
    _foreign_key_500(created, column)
    _foreign_key_500(patched, column)
    # nothing of either write was kept: no person, no family, no history; no field changed
    assert _count(rock, "People", "LastName eq 'Probe'") == 0
    assert _count(rock, "Groups", "Name eq 'Probe Family'") == 0
    after = _get(rock, f"/api/People/{person['Id']}")
    assert after == before
    # an id that exists is accepted (a real lookup value of another list: only the key is checked)
    ok = rock.patch(f"/api/People/{person['Id']}", json={column: ids["dv:record_type:person"]})
    assert ok.status_code == 204


def test_a_phone_type_that_does_not_exist_is_the_foreign_key_500(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    person = _adult(rock, ids)
    phones = _count(rock, "PhoneNumbers", f"PersonId eq {person['Id']}")
    resp = rock.post(
        "/api/PhoneNumbers",
        json={"PersonId": person["Id"], "Number": "2145550199", "NumberTypeValueId": MISSING},
    )
    _foreign_key_500(resp, "NumberTypeValueId")
    assert _count(rock, "PhoneNumbers", f"PersonId eq {person['Id']}") == phones
    # the owner was not touched either (a phone save bumps the person)
    assert (
        _get(rock, f"/api/People/{person['Id']}")["ModifiedDateTime"]
        == (person["ModifiedDateTime"])
    )


def test_a_write_that_fails_half_way_keeps_nothing(rock: httpx.Client, ids: dict[str, int]) -> None:
    # AddNewPersonToFamily saves the person and the membership together; a role that does not
    # exist fails the membership, so the person (with alias and history) must not stay
    family = _adult(rock, ids)["PrimaryFamilyId"]
    people, aliases = _count(rock, "People", "Id gt 0"), _count(rock, "PersonAlias", "Id gt 0")
    histories = _count(rock, "Histories", "Id gt 0")
    resp = rock.post(
        f"/api/People/AddNewPersonToFamily/{family}",
        params={"groupRoleId": str(MISSING)},
        json={"FirstName": "Half", "LastName": "Written", "Gender": 1},
    )
    _foreign_key_500(resp, "GroupRoleId")
    assert _count(rock, "People", "LastName eq 'Written'") == 0
    assert _count(rock, "People", "Id gt 0") == people
    assert _count(rock, "PersonAlias", "Id gt 0") == aliases
    assert _count(rock, "Histories", "Id gt 0") == histories


def test_an_emulator_fault_mid_write_is_rocks_500_and_rolled_back(
    rock_emulator: RunningEmulator, rock: httpx.Client, ids: dict[str, int]
) -> None:
    # a failure after the row was written (a save hook raising) stands for any emulator bug:
    # the answer must still be Rock's 500, never a traceback, and the write undone
    hooks = rock_emulator.app.state.emulator.data.hooks["Person"]

    def broken(*args: Any) -> None:
        raise RuntimeError("a save hook failed at /tmp/x.py line 1")

    hooks.after_update = broken  # an instance attribute: only this emulator is affected
    person = _adult(rock, ids)
    resp = rock.patch(f"/api/People/{person['Id']}", json={"NickName": "Halfway"})
    body = _rock_500(resp)
    assert "a save hook failed" not in resp.text
    assert body["StackTrace"] is None
    del hooks.after_update
    assert _get(rock, f"/api/People/{person['Id']}")["NickName"] == person["NickName"]


def test_server_error_details_only_for_an_administrator(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    made = rock.post("/__emulator__/rest-keys", json={"name": "Editor", "view": ["People"],
                                                      "edit": ["People"]})  # fmt: skip
    assert made.status_code == 201, made.text
    person = _adult(rock, ids)
    with httpx.Client(
        base_url=str(rock.base_url), headers={"Authorization-Token": made.json()["key"]}
    ) as editor:
        resp = editor.patch(f"/api/People/{person['Id']}", json={"TitleValueId": MISSING})
    assert _rock_500(resp) == {"Message": "An error has occurred."}


def test_an_undefined_enum_number_is_stored_as_rock_stores_it(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    # Rock's PATCH converts numbers with Enum.ToObject, which takes any integer: 204, and the
    # value reads back as sent; later valid writes of that person still work
    person = _adult(rock, ids)
    odd = rock.patch(f"/api/People/{person['Id']}", json={"Gender": 7})
    assert odd.status_code == 204, odd.text
    assert _get(rock, f"/api/People/{person['Id']}")["Gender"] == 7
    # an OData enum comparison meets the undefined value without failing the whole list
    assert (
        _get(rock, "/api/People", **{"$filter": f"Id eq {person['Id']} and Gender eq 'Male'"}) == []
    )
    assert rock.patch(f"/api/People/{person['Id']}", json={"Gender": 2}).status_code == 204
    assert _get(rock, f"/api/People/{person['Id']}")["Gender"] == 2
    history = _get(
        rock,
        "/api/Histories",
        **{"$filter": f"EntityId eq {person['Id']} and ValueName eq 'Gender'", "$orderby": "Id"},
    )
    assert [(h["OldValue"], h["NewValue"]) for h in history][-1] == ("7", "Female")


def test_inlinecount_is_ignored_and_count_refused_as_rock_does(rock: httpx.Client) -> None:
    # spec §2.3: "$inlinecount=allpages is silently ignored (response stays a plain array);
    # $count gives 400" (observed on v17.7/v18.4)
    plain = _get(rock, "/api/People", **{"$top": "3", "$orderby": "Id"})
    counted = _get(
        rock, "/api/People", **{"$top": "3", "$orderby": "Id", "$inlinecount": "allpages"}
    )
    assert isinstance(counted, list) and counted == plain
    refused = rock.get("/api/People", params={"$count": "true"})
    assert refused.status_code == 400
    assert "$count" in refused.json()["Message"]
