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
