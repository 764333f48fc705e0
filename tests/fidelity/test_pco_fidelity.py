"""The Planning Center emulator against real recorded PCO responses (``tests/fixtures/pco``).

Each test makes the emulator answer the request a fixture recorded (or the closest one it
emulates) and compares **shapes**: key names, JSON types, explicit ``null`` versus a missing
key, date/time formats, ``links``/``meta`` layout, error bodies and header names. Values
differ (it is another church), so a ``null`` on either side matches any value; where the
value itself is the point (error bodies, ``can_*`` lists, link formats) it is compared too.

Fixtures recorded before API version 2018-08-01 (the ``-2018`` files from February/March
2018) carry an older attribute set; the emulator's oldest version is 2018-08-01, so those are
compared as a stable subset: every key the fixture has must be there, extra keys are allowed.
Fixtures processed as 2018-08-01 are requested with ``X-PCO-API-Version: 2018-08-01`` and
compared exactly.
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
FIXTURES = Path(__file__).parents[1] / "fixtures" / "pco"

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
V2018 = "2018-08-01"


# ---- the shape comparison ------------------------------------------------------------------


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _first_by_type(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key = item.get("type", "") if isinstance(item, dict) else ""
        out.setdefault(key, item)
    return out


def shape_problems(
    expected: Any, actual: Any, path: str = "$", *, subset: bool = False
) -> list[str]:
    """Where ``actual`` does not have the shape of ``expected`` (empty: same shape).

    ``null`` on either side matches any value (the key's presence is what is checked);
    arrays compare their first element of each resource ``type``; ``subset`` allows keys
    the fixture does not have.
    """
    if expected is None or actual is None:
        return []
    ek, ak = kind(expected), kind(actual)
    if ek != ak:
        return [f"{path}: {ek} in the fixture, {ak} here"]
    problems: list[str] = []
    if isinstance(expected, dict):
        for key in expected.keys() - actual.keys():
            problems.append(f"{path}.{key}: missing here")
        if not subset:
            for key in actual.keys() - expected.keys():
                problems.append(f"{path}.{key}: not in the fixture")
        for key in expected.keys() & actual.keys():
            problems += shape_problems(expected[key], actual[key], f"{path}.{key}", subset=subset)
    elif isinstance(expected, list) and expected and actual:
        theirs, ours = _first_by_type(expected), _first_by_type(actual)
        for key in theirs.keys() & ours.keys():
            problems += shape_problems(theirs[key], ours[key], f"{path}[{key or 0}]", subset=subset)
    elif isinstance(expected, str):
        for pattern, label in ((DATETIME, "date-time"), (DATE, "date")):
            if pattern.match(expected) and not pattern.match(actual):
                problems.append(f"{path}: {label} {expected!r} in the fixture, {actual!r} here")
    return problems


def header_problems(
    recorded: dict[str, str], response: httpx.Response, ignore: tuple[str, ...] = ()
) -> list[str]:
    """Header names the recording has and the emulator's answer lacks."""
    skip = {h.lower() for h in ("Date", *ignore)}
    return [
        f"header {name} missing"
        for name in recorded
        if name.lower() not in skip and name not in response.headers
    ]


def test_the_shape_comparison_notices_differences() -> None:
    recorded = {"a": 1, "b": None, "c": {"d": "2019-11-23T21:12:37Z"}, "e": [{"type": "T", "x": 1}]}
    assert shape_problems(recorded, json.loads(json.dumps(recorded))) == []
    assert shape_problems(recorded, {**recorded, "b": "anything"}) == []  # null: any value
    assert shape_problems(recorded, {**recorded, "a": "1"}) == [
        "$.a: number in the fixture, string here"
    ]
    assert shape_problems(recorded, {k: v for k, v in recorded.items() if k != "b"}) == [
        "$.b: missing here"
    ]
    assert shape_problems(recorded, {**recorded, "z": 1}) == ["$.z: not in the fixture"]
    assert shape_problems(recorded, {**recorded, "z": 1}, subset=True) == []
    assert shape_problems(recorded, {**recorded, "c": {"d": "2019-11-23 21:12:37"}})
    assert shape_problems(recorded, {**recorded, "e": [{"type": "T", "x": True}]})


def assert_same_shape(expected: Any, actual: Any, *, subset: bool = False) -> None:
    problems = shape_problems(expected, actual, subset=subset)
    assert not problems, "\n".join(problems)


# ---- helpers ---------------------------------------------------------------------------------


def client(emu: RunningEmulator, version: str | None = None) -> httpx.Client:
    creds = emu.credentials
    headers = {"X-PCO-API-Version": version} if version else {}
    return httpx.Client(
        base_url=emu.url, auth=(creds["app_id"], creds["secret"]), headers=headers, timeout=10
    )


def person_with(api: httpx.Client, include: str) -> dict[str, Any]:
    """A person who has at least one of ``include`` (emails / addresses)."""
    record = api.get(f"/people/v2/{include}").json()["data"][0]
    pid = record["relationships"]["person"]["data"]["id"]
    person: dict[str, Any] = api.get(f"/people/v2/people/{pid}").json()["data"]
    return person


def new_person(api: httpx.Client, **attributes: Any) -> str:
    attributes.setdefault("first_name", "Fixture")
    attributes.setdefault("last_name", "Compare")
    resp = api.post(
        "/people/v2/people", json={"data": {"type": "Person", "attributes": attributes}}
    )
    assert resp.status_code == 201
    pid: str = resp.json()["data"]["id"]
    return pid


@pytest.fixture
def emu(pco_emulator: RunningEmulator) -> RunningEmulator:
    return pco_emulator


# ---- People ----------------------------------------------------------------------------------


def test_single_person(emu: RunningEmulator) -> None:
    rec = fixture("people-person-get-single.json")
    with client(emu, V2018) as api:
        pid = person_with(api, "emails")["id"]
        resp = api.get(f"/people/v2/people/{pid}")
    assert resp.status_code == rec["status"]
    assert_same_shape(rec["body"], resp.json())
    assert not header_problems(rec["headers"], resp)
    assert resp.headers["Content-Type"] == rec["headers"]["Content-Type"]
    assert resp.headers["Cache-Control"] == rec["headers"]["Cache-Control"]
    assert resp.headers["X-PCO-API-Processed-As-Version"] == V2018
    assert resp.headers["X-PCO-API-Request-Rate-Period"] == "20"
    assert resp.headers["ETag"].startswith('W/"')
    body = resp.json()
    assert list(body["data"]["links"]) == list(rec["body"]["data"]["links"])
    assert body["meta"]["can_include"] == rec["body"]["meta"]["can_include"]


def test_single_person_with_includes(emu: RunningEmulator) -> None:
    rec = fixture("people-person-get-include-emails-organization.json")
    with client(emu, V2018) as api:
        pid = person_with(api, "emails")["id"]
        resp = api.get(f"/people/v2/people/{pid}", params={"include": "emails,organization"})
    body = resp.json()
    assert_same_shape(rec["body"], body)
    assert list(body["data"]["relationships"]) == ["primary_campus", "emails", "organization"]
    assert [r["type"] for r in body["included"]][-1] == "Organization"
    org = body["included"][-1]
    assert org["links"]["self"].endswith(f"/people/v2/people/{pid}/organization")


def test_collection_without_paging_params(emu: RunningEmulator) -> None:
    rec = fixture("people-people-list-where-first-name-no-paging-params.json")
    with client(emu, V2018) as api:
        name = person_with(api, "emails")["attributes"]["first_name"].lower()
        resp = api.get("/people/v2/people", params={"where[first_name]": name})
    body = resp.json()
    assert_same_shape(rec["body"], body)
    assert body["links"]["self"].endswith(f"/people/v2/people?where[first_name]={name}")
    for key in ("can_query_by", "can_include", "can_filter"):
        assert body["meta"][key] == rec["body"]["meta"][key], key


def test_first_and_last_pages(emu: RunningEmulator) -> None:
    first, last = (
        fixture("people-people-list-first-page-offset0-per25.json"),
        fixture("people-people-list-last-page-offset175-per25.json"),
    )
    with client(emu, V2018) as api:
        page1 = api.get("/people/v2/people", params={"offset": 0, "per_page": 25})
        total = page1.json()["meta"]["total_count"]
        offset = total - 25
        tail = api.get("/people/v2/people", params={"offset": offset, "per_page": 25})
    assert_same_shape(first["body"], page1.json())
    assert not header_problems(first["headers"], page1)
    assert page1.json()["meta"]["can_order_by"] == first["body"]["meta"]["can_order_by"]
    assert page1.json()["links"]["self"].endswith("/people/v2/people?offset=0&per_page=25")
    assert page1.json()["links"]["next"].endswith("/people/v2/people?offset=25&per_page=25")
    body = tail.json()
    assert_same_shape(last["body"], body)
    assert set(body["links"]) == set(last["body"]["links"]) == {"self", "prev"}
    assert {k for k in body["meta"] if not k.startswith("can_")} == {
        k for k in last["body"]["meta"] if not k.startswith("can_")
    }
    assert body["meta"]["prev"] == {"offset": offset - 25}


def test_collection_with_includes_and_where(emu: RunningEmulator) -> None:
    rec = fixture("people-people-list-include-emails-organization-where-first-page.json")
    with client(emu, V2018) as api:
        resp = api.get(
            "/people/v2/people",
            params={
                "offset": 0,
                "per_page": 25,
                "include": "emails,organization",
                "where[site_administrator]": "false",
            },
        )
    body = resp.json()
    assert_same_shape(rec["body"], body)
    assert [r["type"] for r in body["included"]].count("Organization") == 1
    assert body["links"]["self"].split("?", 1)[1] == rec["body"]["links"]["self"].split("?", 1)[1]
    assert body["links"]["next"].split("?", 1)[1] == rec["body"]["links"]["next"].split("?", 1)[1]


def test_collection_with_included_addresses(emu: RunningEmulator) -> None:
    rec = fixture("people-people-list-include-addresses-where-first-name.json")
    with client(emu, V2018) as api:
        name = person_with(api, "addresses")["attributes"]["first_name"]
        resp = api.get(
            "/people/v2/people",
            params={"offset": 0, "per_page": 25, "include": "addresses", "where[first_name]": name},
        )
    body = resp.json()
    assert_same_shape(rec["body"], body)
    address = next(r for r in body["included"] if r["type"] == "Address")
    assert set(address["attributes"]) == set(rec["body"]["included"][0]["attributes"])


def test_person_create_2018_subset(emu: RunningEmulator) -> None:
    # recorded 2018-02, before version 2018-08-01 added accounting_administrator and
    # passed_background_check: compare the stable subset
    rec = fixture("people-person-create-201-2018.json")
    with client(emu, V2018) as api:
        resp = api.post("/people/v2/people", json=rec["request"]["body"])
    assert resp.status_code == rec["status"] == 201
    assert "Location" not in resp.headers
    body = resp.json()
    assert_same_shape(rec["body"], body, subset=True)
    assert body["data"]["attributes"]["name"] == rec["body"]["data"]["attributes"]["name"]
    assert body["included"] == []


def test_nested_email_list_2018(emu: RunningEmulator) -> None:
    rec = fixture("people-person-emails-list-2018.json")
    with client(emu, V2018) as api:
        pid = person_with(api, "emails")["id"]
        resp = api.get(f"/people/v2/people/{pid}/emails")
    body = resp.json()
    assert_same_shape(rec["body"], body)
    assert body["meta"]["parent"] == {"id": pid, "type": "Person"}
    assert body["meta"]["can_query_by"] == rec["body"]["meta"]["can_query_by"]
    assert body["meta"]["can_order_by"] == rec["body"]["meta"]["can_order_by"]


def test_empty_nested_collection_2018(emu: RunningEmulator) -> None:
    rec = fixture("people-person-addresses-empty-list-2018.json")
    with client(emu, V2018) as api:
        pid = new_person(api)
        resp = api.get(f"/people/v2/people/{pid}/addresses")
    body = resp.json()
    assert_same_shape(rec["body"], body)
    assert body["data"] == [] and body["meta"]["total_count"] == 0
    assert body["meta"]["can_query_by"] == rec["body"]["meta"]["can_query_by"]
    assert body["meta"]["can_order_by"] == rec["body"]["meta"]["can_order_by"]


def test_nested_address_create_2018(emu: RunningEmulator) -> None:
    rec = fixture("people-person-address-create-201-2018.json")
    with client(emu, V2018) as api:
        pid = new_person(api)
        resp = api.post(f"/people/v2/people/{pid}/addresses", json=rec["request"]["body"])
    assert resp.status_code == 201
    body = resp.json()
    assert_same_shape(rec["body"], body)
    sent = rec["request"]["body"]["data"]["attributes"]
    assert {k: body["data"]["attributes"][k] for k in sent} == sent  # "Va" stays "Va"


def test_household_create_and_include_people_2018(emu: RunningEmulator) -> None:
    created, shown = (
        fixture("people-household-create-201-2018.json"),
        fixture("people-household-get-include-people-2018.json"),
    )
    with client(emu, V2018) as api:
        ids = [new_person(api, last_name="Lincoln") for _ in range(3)]
        request = json.loads(json.dumps(created["request"]["body"]))
        request["data"]["relationships"]["primary_contact"]["data"]["id"] = ids[0]
        for ref, pid in zip(request["data"]["relationships"]["people"]["data"], ids, strict=True):
            ref["id"] = pid
        resp = api.post("/people/v2/households", json=request)
        hid = resp.json()["data"]["id"]
        again = api.get(f"/people/v2/households/{hid}", params={"include": "people"})
    assert resp.status_code == 201
    assert_same_shape(created["body"], resp.json())
    assert resp.json()["data"]["attributes"]["member_count"] is None
    # the 2018 Person attribute set is older: compare the included people as a subset
    assert_same_shape(shown["body"], again.json(), subset=True)
    assert [p["id"] for p in again.json()["data"]["relationships"]["people"]["data"]] == ids


def test_empty_to_many_include_2018(emu: RunningEmulator) -> None:
    rec = fixture("people-person-get-include-social-profiles-empty-2018.json")
    with client(emu, V2018) as api:
        pid = new_person(api)
        resp = api.get(f"/people/v2/people/{pid}", params={"include": "social_profiles"})
    body = resp.json()
    assert_same_shape(rec["body"], body, subset=True)  # older attribute set
    assert body["data"]["relationships"]["social_profiles"] == {
        "links": {"related": f"{emu.url}/people/v2/people/{pid}/social_profiles"},
        "data": [],
    }


# ---- errors and edge answers -------------------------------------------------------------


def test_post_without_data_is_the_recorded_400(emu: RunningEmulator) -> None:
    rec = fixture("people-person-post-missing-data-key-400.json")
    with client(emu, V2018) as api:
        resp = api.post("/people/v2/people", json=rec["request"]["body"])
    assert resp.status_code == rec["status"]
    assert resp.json() == rec["body"]
    assert resp.headers["Content-Type"] == rec["headers"]["Content-Type"]
    assert resp.headers["Cache-Control"] == rec["headers"]["Cache-Control"]
    assert not header_problems(rec["headers"], resp)


def test_unknown_path_is_the_recorded_404(emu: RunningEmulator) -> None:
    rec = fixture("unknown-path-bogus-404.json")
    with client(emu) as api:
        resp = api.get(rec["request"]["path_and_query"])
    assert resp.status_code == 404
    assert resp.json() == rec["body"]
    assert not header_problems(rec["headers"], resp)
    assert resp.headers["Content-Type"] == rec["headers"]["Content-Type"]
    assert resp.headers["X-PCO-API-Request-Rate-Period"] == "20 seconds"
    assert "X-PCO-API-Processed-As-Version" not in resp.headers


def test_put_is_the_recorded_html_404(emu: RunningEmulator) -> None:
    rec = fixture("services-song-put-unsupported-404-html.json")
    with client(emu) as api:
        pid = new_person(api)
        resp = api.put(f"/people/v2/people/{pid}", json=rec["request"]["body"])
    assert resp.status_code == rec["status"] == 404
    assert rec["body_is_text"] and "<title>404</title>" in rec["body"]
    assert resp.headers["Content-Type"] == rec["headers"]["Content-Type"]
    assert "<title>404</title>" in resp.text
    assert {h.lower() for h in rec["headers"]} <= {h.lower() for h in resp.headers}


def test_rate_limit_body_has_the_recorded_shape(emu: RunningEmulator) -> None:
    rec = fixture("rate-limit-429-from-issue-log.json")
    with httpx.Client(base_url=emu.url) as http:
        http.post("/__emulator__/rate_limit", json={"limit": 1, "reset": True})
    with client(emu) as api:
        api.get("/people/v2/people")
        resp = api.get("/people/v2/people")
    assert resp.status_code == rec["status"] == 429
    assert_same_shape(rec["body"], resp.json())
    pattern = re.compile(r"^Rate limit exceeded: \d+ of \d+ requests per \d+ seconds$")
    assert pattern.match(rec["body"]["errors"][0]["detail"])
    assert pattern.match(resp.json()["errors"][0]["detail"])
    assert "status" not in resp.json()["errors"][0]  # "code", not "status"
    assert int(resp.headers["Retry-After"]) >= 1


def test_204_answers_have_no_content_type(emu: RunningEmulator) -> None:
    rec = fixture("people-list-run-204-2023.json")
    with client(emu, "2022-07-14") as api:
        pid = person_with(api, "emails")["id"]
        eid = api.get(f"/people/v2/people/{pid}/emails").json()["data"][0]["id"]
        resp = api.delete(f"/people/v2/emails/{eid}")
    assert resp.status_code == 204 and resp.content == b""
    assert not header_problems(rec["headers"], resp)
    assert "Content-Type" not in resp.headers
    assert resp.headers["Cache-Control"] == rec["headers"]["Cache-Control"]
    assert (
        resp.headers["X-PCO-API-Processed-As-Version"]
        == rec["headers"]["X-PCO-API-Processed-As-Version"]
    )


# ---- Services --------------------------------------------------------------------------------


def test_service_types_list_2018(emu: RunningEmulator) -> None:
    rec = fixture("services-service-types-list-2018.json")
    with client(emu, V2018) as api:
        resp = api.get("/services/v2/service_types")
    body = resp.json()
    assert_same_shape(rec["body"], body)
    for key in ("can_order_by", "can_query_by", "can_include"):
        assert body["meta"][key] == rec["body"]["meta"][key], key
    # recorded with the mixed-case spelling; HTTP header names are case-insensitive
    assert resp.headers["X-Pco-Api-Processed-As-Version"] == V2018


def _assignment(api: httpx.Client) -> tuple[str, str]:
    """A fresh assignment's (item URL under its position, id)."""
    teams = api.get("/services/v2/teams", params={"per_page": 100}).json()["data"]
    team = next(t for t in teams if not t["attributes"]["deleted_at"])
    st = team["relationships"]["service_type"]["data"]["id"]
    tp = api.get(f"/services/v2/teams/{team['id']}/team_positions").json()["data"][0]["id"]
    pid = new_person(api)
    api.post(
        f"/people/v2/people/{pid}/person_apps",
        json={"data": {"type": "PersonApp", "attributes": {"app_id": 2}}},
    )
    path = f"/services/v2/service_types/{st}/team_positions/{tp}/person_team_position_assignments"
    created = api.post(
        path,
        json={
            "data": {"type": "PersonTeamPositionAssignment", "attributes": {"person_id": int(pid)}}
        },
    )
    assert created.status_code == 201
    aid: str = created.json()["data"]["id"]
    return f"{path}/{aid}", aid


def test_create_patch_delete_and_404_like_the_recorded_song(emu: RunningEmulator) -> None:
    # Songs are not emulated; a PersonTeamPositionAssignment goes through the same motions
    create, patch = (
        fixture("services-song-create-201.json"),
        fixture("services-song-patch-200.json"),
    )
    delete, after = (
        fixture("services-song-delete-204.json"),
        fixture("services-song-get-after-delete-404.json"),
    )
    with client(emu) as api:
        item, _ = _assignment(api)
        created = api.get(item)
        with httpx.Client(base_url=emu.url) as http:
            http.post("/__emulator__/clock", json={"advance_seconds": 90})
        patched = api.patch(
            item,
            json={
                "data": {
                    "type": "PersonTeamPositionAssignment",
                    "attributes": {"schedule_preference": "Twice a month"},
                }
            },
        )
        deleted = api.delete(item)
        gone = api.get(item)
    # a Song has nothing to include, an assignment has: meta may add can_include
    skeleton = {k: v for k, v in create["body"].items() if k != "data"}
    ours = {k: v for k, v in created.json().items() if k != "data"}
    assert_same_shape(skeleton, ours, subset=True)
    assert set(ours["meta"]) - set(skeleton["meta"]) == {"can_include"}
    assert set(create["body"]["data"]) <= set(created.json()["data"])
    assert not header_problems(create["headers"], created)
    assert patched.status_code == patch["status"]
    before, after_patch = created.json()["data"]["attributes"], patched.json()["data"]["attributes"]
    assert after_patch["created_at"] == before["created_at"]
    assert after_patch["updated_at"] > before["updated_at"]
    assert deleted.status_code == delete["status"] == 204
    assert not header_problems(delete["headers"], deleted)
    assert "Content-Type" not in deleted.headers
    assert gone.status_code == after["status"] == 404
    assert gone.json() == after["body"]
    assert gone.headers["Content-Type"] == after["headers"]["Content-Type"]
    assert not header_problems(after["headers"], gone)


def test_collection_links_insert_offset_in_order(emu: RunningEmulator) -> None:
    # the Plans fixture (not emulated) shows ?filter=future&per_page=2 → next adds offset
    rec = fixture("services-service-type-plans-list-filter-future.json")
    assert rec["body"]["links"]["next"].endswith("?filter=future&offset=2&per_page=2")
    with client(emu) as api:
        body = api.get("/people/v2/people", params={"filter": "admins", "per_page": 1}).json()
    assert body["meta"]["total_count"] >= 1
    with client(emu) as api:
        body = api.get("/services/v2/teams", params={"filter": "x", "per_page": 2}).json()
    assert body["links"]["self"].endswith("/services/v2/teams?filter=x&per_page=2")
    assert body["links"]["next"].endswith("/services/v2/teams?filter=x&offset=2&per_page=2")
    assert_same_shape(
        {k: v for k, v in rec["body"]["meta"].items() if not k.startswith("can_")},
        {k: v for k, v in body["meta"].items() if not k.startswith("can_")},
    )


def test_resources_without_relationships_omit_the_key(emu: RunningEmulator) -> None:
    # ReportTemplates (not emulated) carry no relationships key at all; neither do Campuses
    rec = fixture("services-report-templates-list-first-page.json")
    assert "relationships" not in rec["body"]["data"][0]
    with client(emu) as api:
        body = api.get("/people/v2/campuses").json()
    assert body["data"] and all("relationships" not in c for c in body["data"])
    assert set(body) == set(rec["body"])


# Recorded Services resources the emulator does not serve (Plans, PlanPeople, PlanTimes,
# ReportTemplates) are used above only for their document-level lessons.


# ---- strict where a sync client depends on it (issue 13) ------------------------------------


def test_sparse_fieldset_drops_the_relationships_it_does_not_name(emu: RunningEmulator) -> None:
    # JSON:API: fields[Type] lists attributes *and* relationships; Planning Center's own
    # JavaScript client warns "when including records you also need to define the relation
    # in fields". The included records still come (JSON:API's exception to full linkage).
    with client(emu) as api:
        pid = person_with(api, "emails")["id"]
        narrow = api.get(
            f"/people/v2/people/{pid}",
            params={"fields[Person]": "first_name", "include": "emails"},
        ).json()
        kept = api.get(
            f"/people/v2/people/{pid}",
            params={"fields[Person]": "first_name,emails", "include": "emails"},
        ).json()
        page = api.get(
            "/people/v2/people",
            params={"fields[Person]": "first_name", "include": "emails", "per_page": 5},
        ).json()
    assert set(narrow["data"]["attributes"]) == {"first_name"}
    assert narrow["data"]["relationships"] == {}  # emails and primary_campus both dropped
    assert [r["type"] for r in narrow["included"]] and {r["type"] for r in narrow["included"]} == {
        "Email"
    }
    assert set(kept["data"]["relationships"]) == {"emails"}
    linked = {e["id"] for e in kept["data"]["relationships"]["emails"]["data"]}
    assert linked == {r["id"] for r in kept["included"]}
    assert all(set(p["relationships"]) == set() for p in page["data"])


def test_deep_offsets_are_held_to_a_limit_the_headers_do_not_announce(
    emu: RunningEmulator,
) -> None:
    # the recorded 429 of #1449 says "23 of 10" at offset 32,700 while the headers said 100
    rec = fixture("rate-limit-429-from-issue-log.json")
    with httpx.Client(base_url=emu.url) as http:
        http.post("/__emulator__/rate_limit", json={"deep_offset_limit": 10, "reset": True})
    with client(emu) as api:
        answers = [
            api.get("/people/v2/people", params={"per_page": 100, "offset": 32_700})
            for _ in range(23)
        ]
    statuses = [r.status_code for r in answers]
    assert statuses == [200] * 10 + [429] * 13
    assert {r.headers["X-PCO-API-Request-Rate-Limit"] for r in answers} == {"100"}
    assert answers[-1].headers["X-PCO-API-Request-Rate-Count"] == "23"
    assert answers[-1].json() == rec["body"]  # word for word what the log shows


@pytest.mark.parametrize(("setting", "header"), [(None, None), (-5, "-5"), ("window", "positive")])
def test_a_429_can_come_without_retry_after_or_with_a_negative_one(
    emu: RunningEmulator, setting: int | str | None, header: str | None
) -> None:
    # #606 saw a negative Retry-After; spec §3 and pitfall 16: it may be missing altogether
    with httpx.Client(base_url=emu.url) as http:
        http.post("/__emulator__/rate_limit", json={"limit": 1, "retry_after": setting,
                                                     "reset": True})  # fmt: skip
    with client(emu) as api:
        api.get("/people/v2/people")
        refused = api.get("/people/v2/people")
    assert refused.status_code == 429
    if header is None:
        assert "Retry-After" not in refused.headers
    elif header == "positive":
        assert int(refused.headers["Retry-After"]) >= 1
    else:
        assert refused.headers["Retry-After"] == header


@pytest.mark.parametrize("retry_after", [None, -3, "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_an_injected_429_sends_retry_after_as_configured(
    emu: RunningEmulator, retry_after: int | str | None
) -> None:
    with httpx.Client(base_url=emu.url) as http:
        http.post(
            "/__emulator__/faults",
            json={"faults": [{"kind": "rate_limit", "count": 1, "retry_after": retry_after}]},
        )
    with client(emu) as api:
        refused = api.get("/people/v2/people")
    assert refused.status_code == 429
    assert refused.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))


def test_a_patch_whose_type_or_id_does_not_match_the_url_is_409(emu: RunningEmulator) -> None:
    # JSON:API: "A server MUST return 409 Conflict when processing a PATCH request in which
    # the resource object's type and id do not match the server's endpoint"
    with client(emu) as api:
        pid = new_person(api, last_name="Conflict")
        other = new_person(api, last_name="Other")
        url = f"/people/v2/people/{pid}"
        wrong_type = api.patch(
            url, json={"data": {"type": "Email", "id": pid, "attributes": {"nickname": "A"}}}
        )
        wrong_id = api.patch(
            url, json={"data": {"type": "Person", "id": other, "attributes": {"nickname": "B"}}}
        )
        wrong_post = api.post(
            "/people/v2/people",
            json={"data": {"type": "Household", "attributes": {"first_name": "C"}}},
        )
        no_id = api.patch(url, json={"data": {"type": "Person", "attributes": {"nickname": "D"}}})
        after_other = api.get(f"/people/v2/people/{other}").json()["data"]["attributes"]
    for resp in (wrong_type, wrong_id, wrong_post):
        assert resp.status_code == 409, resp.text
        assert resp.json()["errors"][0]["status"] == "409"
        assert resp.json()["errors"][0]["title"] == "Conflict"
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    # without an id, as the recorded PATCH (pypco) sends it: accepted
    assert no_id.status_code == 200
    assert no_id.json()["data"]["attributes"]["nickname"] == "D"
    assert after_other["nickname"] is None  # the mismatched id did not touch anyone


def test_a_refused_write_changes_nothing(emu: RunningEmulator) -> None:
    with client(emu) as api:
        pid = new_person(api, last_name="Intact")
        before = api.get(f"/people/v2/people/{pid}").json()["data"]["attributes"]
        with httpx.Client(base_url=emu.url) as http:
            http.post("/__emulator__/clock", json={"advance_seconds": 60})
        mixed = api.patch(
            f"/people/v2/people/{pid}",
            json={"data": {"type": "Person", "attributes": {"nickname": "Changed",
                                                            "gender": "Martian"}}},
        )  # fmt: skip
        forbidden = api.patch(
            f"/people/v2/people/{pid}",
            json={"data": {"type": "Person", "attributes": {"nickname": "Changed", "id": 5}}},
        )
        bad_email = api.post(
            f"/people/v2/people/{pid}/emails",
            json={"data": {"type": "Email", "attributes": {"address": "not an address"}}},
        )
        after = api.get(f"/people/v2/people/{pid}").json()["data"]["attributes"]
        emails = api.get(f"/people/v2/people/{pid}/emails").json()["data"]
    assert (mixed.status_code, forbidden.status_code, bad_email.status_code) == (422, 422, 422)
    assert after == before  # neither the nickname nor updated_at moved
    assert emails == []
