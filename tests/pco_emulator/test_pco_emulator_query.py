"""Reading: pagination, where, order, include, fields, versions, and ignored parameters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import all_pages, control, create_person

PEOPLE = "/people/v2/people"


def ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["data"]]


def test_default_page_is_25_with_next_and_total(api: httpx.Client) -> None:
    body = api.get(PEOPLE).json()
    total = body["meta"]["total_count"]
    assert total > 100
    assert len(body["data"]) == body["meta"]["count"] == 25
    assert body["meta"]["next"] == {"offset": 25}
    assert "prev" not in body["meta"]
    assert body["links"]["next"].endswith("/people/v2/people?offset=25")
    assert "prev" not in body["links"]
    assert all(isinstance(r["id"], str) for r in body["data"])
    assert ids(body) == sorted(ids(body), key=int)  # default order: by id
    assert body["meta"]["parent"]["type"] == "Organization"


def test_last_page_has_only_prev(api: httpx.Client) -> None:
    total = api.get(PEOPLE, params={"per_page": 1}).json()["meta"]["total_count"]
    offset = total - 5
    body = api.get(PEOPLE, params={"offset": offset, "per_page": 25}).json()
    assert body["meta"]["count"] == 5
    assert body["meta"]["prev"] == {"offset": offset - 25}
    assert "next" not in body["meta"] and "next" not in body["links"]
    assert f"offset={offset - 25}&per_page=25" in body["links"]["prev"]


def test_per_page_is_clamped_to_1_and_100(api: httpx.Client) -> None:
    assert len(api.get(PEOPLE, params={"per_page": 500}).json()["data"]) == 100
    assert len(api.get(PEOPLE, params={"per_page": 0}).json()["data"]) == 1
    assert len(api.get(PEOPLE, params={"per_page": "lots"}).json()["data"]) == 25


def test_following_next_links_reads_everyone_once(api: httpx.Client) -> None:
    total = api.get(PEOPLE, params={"per_page": 1}).json()["meta"]["total_count"]
    rows = all_pages(api, PEOPLE)
    assert len(rows) == total == len({r["id"] for r in rows})


def test_self_link_echoes_params_sorted_with_brackets_unescaped(api: httpx.Client) -> None:
    plain = api.get(PEOPLE, params={"where[first_name]": "paul"}).json()
    assert plain["links"]["self"].endswith("/people/v2/people?where[first_name]=paul")
    paged = api.get(
        PEOPLE,
        params={
            "per_page": 25,
            "offset": 0,
            "include": "emails,organization",
            "where[site_administrator]": "false",
        },
    ).json()
    assert paged["links"]["self"].endswith(
        "/people/v2/people?include=emails%2Corganization&offset=0&per_page=25"
        "&where[site_administrator]=false"
    )


def test_where_is_case_insensitive_and_supports_percent_wildcards(api: httpx.Client) -> None:
    people = all_pages(api, PEOPLE)
    target = people[7]["attributes"]["last_name"]
    expected = {p["id"] for p in people if p["attributes"]["last_name"] == target}
    exact = all_pages(api, PEOPLE, **{"where[last_name]": target.upper()})
    assert {p["id"] for p in exact} == expected
    prefix = target[:3]
    starts = all_pages(api, PEOPLE, **{"where[last_name]": prefix.lower() + "%"})
    assert {p["id"] for p in starts} == {
        p["id"] for p in people if p["attributes"]["last_name"].lower().startswith(prefix.lower())
    }
    suffix = target[-3:]
    ends = all_pages(api, PEOPLE, **{"where[last_name]": "%" + suffix.upper()})
    assert {p["id"] for p in ends} == {
        p["id"] for p in people if p["attributes"]["last_name"].lower().endswith(suffix.lower())
    }


def test_where_on_booleans_ints_and_several_conditions(api: httpx.Client) -> None:
    person = create_person(api, first_name="Remy", last_name="Remote", remote_id=918273)
    found = api.get(PEOPLE, params={"where[remote_id]": "918273"}).json()
    assert ids(found) == [person["id"]]
    admins = all_pages(api, PEOPLE, **{"where[site_administrator]": "true"})
    assert admins and all(p["attributes"]["site_administrator"] for p in admins)
    both = api.get(PEOPLE, params={"where[first_name]": "remy", "where[last_name]": "nobody"})
    assert both.json()["meta"]["total_count"] == 0


def test_unsupported_where_include_filter_and_order_are_silently_ignored(
    api: httpx.Client,
) -> None:
    baseline = api.get(PEOPLE).json()
    for params in [
        {"where[shoe_size]": "11"},
        {"filter": "everyone_nice"},
        {"order": "shoe_size"},
        {"include": "pets"},
        {"where[team_ids][]": "1"},
    ]:
        resp = api.get(PEOPLE, params=params)
        assert resp.status_code == 200, params
        body = resp.json()
        assert body["meta"]["total_count"] == baseline["meta"]["total_count"], params
        assert ids(body) == ids(baseline), params
        assert body["included"] == []
    meta = baseline["meta"]
    assert "shoe_size" not in meta["can_query_by"] and "updated_at" in meta["can_query_by"]
    assert "emails" in meta["can_include"] and "pets" not in meta["can_include"]
    assert meta["can_filter"] == ["created_since", "admins", "organization_admins"]


def test_where_dates_with_full_utc_timestamps(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    control(pco_emulator.url, "clock", {"now": "2026-02-01T12:00:00Z", "frozen": True})
    early = create_person(api, last_name="Early")
    control(pco_emulator.url, "clock", {"now": "2026-02-01T12:00:05Z", "frozen": True})
    late = create_person(api, last_name="Late")
    gte = all_pages(api, PEOPLE, **{"where[updated_at][gte]": "2026-02-01T12:00:05Z"})
    assert [p["id"] for p in gte] == [late["id"]]
    gt = all_pages(api, PEOPLE, **{"where[created_at][gt]": "2026-02-01T11:59:59Z"})
    assert {p["id"] for p in gt} == {early["id"], late["id"]}
    exact = all_pages(api, PEOPLE, **{"where[created_at]": "2026-02-01T12:00:00Z"})
    assert [p["id"] for p in exact] == [early["id"]]
    lt = all_pages(api, PEOPLE, **{"where[created_at][lt]": "2026-02-01T12:00:00Z"})
    assert early["id"] not in {p["id"] for p in lt} and len(lt) > 100
    bad = api.get(PEOPLE, params={"where[updated_at][gte]": "yesterday-ish"})
    assert bad.status_code == 400


def test_date_only_values_mean_that_day_in_the_organisations_time_zone(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    # 03:30 UTC on 10 March is 22:30 on 9 March in Chicago (CDT, UTC-5)
    control(pco_emulator.url, "clock", {"now": "2026-03-10T03:30:00Z", "frozen": True})
    person = create_person(api, last_name="Nightowl")

    def found(**params: str) -> bool:
        rows = all_pages(api, PEOPLE, **{"where[last_name]": "Nightowl", **params})
        return person["id"] in {p["id"] for p in rows}

    assert found(**{"where[created_at]": "2026-03-09"})
    assert not found(**{"where[created_at]": "2026-03-10"})
    assert not found(**{"where[created_at][gt]": "2026-03-09"})
    assert found(**{"where[created_at][gte]": "2026-03-09"})
    assert found(**{"where[created_at][lt]": "2026-03-10"})
    assert found(**{"where[created_at][lte]": "2026-03-09"})
    assert not found(**{"where[created_at][lt]": "2026-03-09"})


def test_order_ascending_descending_and_nulls(api: httpx.Client) -> None:
    by_last = all_pages(api, PEOPLE, order="last_name")
    names = [p["attributes"]["last_name"].lower() for p in by_last]
    assert names == sorted(names)
    newest = all_pages(api, PEOPLE, order="-updated_at")
    stamps = [datetime.fromisoformat(p["attributes"]["updated_at"]) for p in newest]
    assert stamps == sorted(stamps, reverse=True)
    births = [p["attributes"]["birthdate"] for p in all_pages(api, PEOPLE, order="birthdate")]
    known = [b for b in births if b is not None]
    assert known == sorted(known) and births[len(known) :] == [None] * (len(births) - len(known))


def test_includes_are_deduplicated_and_linked_from_relationships(api: httpx.Client) -> None:
    body = api.get(
        PEOPLE, params={"per_page": 100, "include": "emails,phone_numbers,addresses,organization"}
    ).json()
    included = {(r["type"], r["id"]): r for r in body["included"]}
    assert len(included) == len(body["included"])  # no duplicates
    assert sum(1 for r in body["included"] if r["type"] == "Organization") == 1
    referenced = set()
    for person in body["data"]:
        rels = person["relationships"]
        assert next(iter(rels)) == "primary_campus"
        for name in ("emails", "phone_numbers", "addresses"):
            assert rels[name]["links"]["related"].endswith(f"/people/{person['id']}/{name}")
            for ref in rels[name]["data"]:
                referenced.add((ref["type"], ref["id"]))
                assert (
                    included[(ref["type"], ref["id"])]["relationships"]["person"]["data"]["id"]
                    == person["id"]
                )
        assert rels["organization"]["data"]["type"] == "Organization"
    assert referenced == {k for k in included if k[0] != "Organization"}
    assert {t for t, _ in included} == {"Email", "PhoneNumber", "Address", "Organization"}


def test_include_on_a_single_person_and_empty_to_many(api: httpx.Client) -> None:
    person = create_person(api, last_name="Loner")
    body = api.get(f"{PEOPLE}/{person['id']}", params={"include": "emails,social_profiles"}).json()
    rels = body["data"]["relationships"]
    assert rels["emails"]["data"] == [] and rels["social_profiles"]["data"] == []
    assert body["included"] == []
    assert "emails" in body["meta"]["can_include"]


def test_sparse_fieldsets(api: httpx.Client) -> None:
    body = api.get(PEOPLE, params={"fields[Person]": "first_name,last_name"}).json()
    assert set(body["data"][0]["attributes"]) == {"first_name", "last_name"}
    phones = api.get("/people/v2/phone_numbers").json()
    assert "formatted_number" not in phones["data"][0]["attributes"]
    asked = api.get(
        "/people/v2/phone_numbers", params={"fields[PhoneNumber]": "number,formatted_number"}
    ).json()
    assert set(asked["data"][0]["attributes"]) == {"number", "formatted_number"}


def test_renderings_follow_the_requested_people_version(
    api: httpx.Client, versioned: Callable[[str], httpx.Client]
) -> None:
    with_address = api.get("/people/v2/addresses").json()["data"][0]
    pid = with_address["relationships"]["person"]["data"]["id"]
    new = api.get(f"{PEOPLE}/{pid}", params={"include": "addresses"})
    old = versioned("2018-08-01").get(f"{PEOPLE}/{pid}", params={"include": "addresses"})
    mid = versioned("2022-08-01").get(f"{PEOPLE}/{pid}", params={"include": "addresses"})
    assert new.headers["X-PCO-API-Processed-As-Version"] == "2025-11-10"
    assert old.headers["X-PCO-API-Processed-As-Version"] == "2018-08-01"
    assert mid.headers["X-PCO-API-Processed-As-Version"] == "2022-07-14"
    genders = {
        new.json()["data"]["attributes"]["gender"],
        old.json()["data"]["attributes"]["gender"],
    }
    assert genders <= {"Male", "Female", "M", "F", None}
    if new.json()["data"]["attributes"]["gender"]:
        assert len(old.json()["data"]["attributes"]["gender"]) == 1
        assert len(mid.json()["data"]["attributes"]["gender"]) > 1
    new_addr = new.json()["included"][0]["attributes"]
    old_addr = old.json()["included"][0]["attributes"]
    assert "street_line_1" in new_addr and "street" not in new_addr
    assert "street" in old_addr and "street_line_1" not in old_addr
    assert old_addr["street"].startswith(new_addr["street_line_1"])
    assert "street" in mid.json()["included"][0]["attributes"]


def test_versions_resolve_down_and_old_ones_are_refused(
    versioned: Callable[[str], httpx.Client],
) -> None:
    assert (
        versioned("2019-05-01").get(PEOPLE).headers["X-PCO-API-Processed-As-Version"]
        == "2019-01-14"
    )
    assert versioned("LATEST").get(PEOPLE).headers["X-PCO-API-Processed-As-Version"] == "2025-11-10"
    services = versioned("2025-11-10").get("/services/v2/teams")
    assert services.headers["X-PCO-API-Processed-As-Version"] == "2018-11-01"
    for bad in ("2017-12-31", "yesterday"):
        resp = versioned(bad).get(PEOPLE)
        assert resp.status_code == 400
        assert resp.json()["errors"][0]["code"] == "unsupported_version_error"


def test_org_wide_contact_collections_filter_by_updated_at(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    control(pco_emulator.url, "clock", {"now": "2026-05-05T10:00:00Z", "frozen": True})
    person = create_person(api, last_name="Mailer")
    api.post(
        f"{PEOPLE}/{person['id']}/emails",
        json={
            "data": {
                "type": "Email",
                "attributes": {"address": "m@example.org", "location": "Home"},
            }
        },
    )
    emails = api.get("/people/v2/emails", params={"where[updated_at][gte]": "2026-05-05T00:00:00Z"})
    assert [e["attributes"]["address"] for e in emails.json()["data"]] == ["m@example.org"]
    # addresses have no where[updated_at] (ignored); order=-updated_at works instead
    addresses = api.get(
        "/people/v2/addresses", params={"where[updated_at][gte]": "2030-01-01T00:00:00Z"}
    ).json()
    assert addresses["meta"]["total_count"] > 0
    assert "updated_at" not in addresses["meta"]["can_query_by"]
    assert "updated_at" in addresses["meta"]["can_order_by"]


def test_search_by_email_and_phone(api: httpx.Client) -> None:
    email = api.get("/people/v2/emails").json()["data"][0]
    owner = email["relationships"]["person"]["data"]["id"]
    found = all_pages(
        api, PEOPLE, **{"where[search_name_or_email]": email["attributes"]["address"].upper()}
    )
    assert owner in {p["id"] for p in found}
    phone = api.get("/people/v2/phone_numbers").json()["data"][0]
    by_e164 = all_pages(
        api, PEOPLE, **{"where[search_phone_number_e164]": phone["attributes"]["e164"]}
    )
    assert phone["relationships"]["person"]["data"]["id"] in {p["id"] for p in by_e164}
