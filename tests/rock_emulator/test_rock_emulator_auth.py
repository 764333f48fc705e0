"""Spec §1: REST keys (header or ?apikey=), the .ROCK cookie, 401 with an empty body, rights."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RunningEmulator
from tests.rock_emulator.helpers import some_person


def test_rest_key_in_header_reads_people(rock: httpx.Client) -> None:
    r = rock.get("/api/People", params={"$top": "5"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert len(r.json()) == 5


def test_rest_key_as_apikey_query_parameter(
    anon: httpx.Client, rock_emulator: RunningEmulator
) -> None:
    r = anon.get(
        "/api/People", params={"$top": "1", "apikey": rock_emulator.credentials["api_key"]}
    )
    assert r.status_code == 200
    assert len(r.json()) == 1


def test_no_credentials_is_401_with_an_empty_body(anon: httpx.Client) -> None:
    r = anon.get("/api/People")
    assert r.status_code == 401
    assert r.content == b""


def test_a_wrong_key_falls_back_to_anonymous_which_may_read_nothing(anon: httpx.Client) -> None:
    r = anon.get("/api/People", headers={"Authorization-Token": "not-a-key"})
    assert r.status_code == 401
    assert r.content == b""


def test_anonymous_fallback_reads_what_anonymous_may_read(
    anon: httpx.Client, rock: httpx.Client
) -> None:
    granted = rock.post("/__emulator__/anonymous", json={"view": ["Campuses"]})
    assert granted.status_code == 200
    bad_key = {"Authorization-Token": "a-key-that-does-not-exist"}
    campuses = anon.get("/api/Campuses", headers=bad_key)
    assert campuses.status_code == 200
    assert {c["Name"] for c in campuses.json()} >= {"Main Campus"}
    assert anon.get("/api/People", headers=bad_key).status_code == 401
    assert anon.get("/api/People/GetCurrentPerson", headers=bad_key).status_code == 401


def test_get_current_person_is_the_rest_user(rock: httpx.Client, ids: dict[str, int]) -> None:
    me = rock.get("/api/People/GetCurrentPerson")
    assert me.status_code == 200
    body = me.json()
    assert body["Id"] == ids["person:rest"]
    assert body["RecordTypeValueId"] == ids["dv:record_type:rest_user"]
    assert body["LastName"] == "Planning Center Sync"
    assert body["PrimaryAliasId"] is not None


def test_rest_users_show_up_in_people_unless_filtered(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    everyone = rock.get("/api/People", params={"$select": "Id,RecordTypeValueId"}).json()
    assert ids["person:rest"] in {p["Id"] for p in everyone}
    only_people = rock.get(
        "/api/People",
        params={"$select": "Id", "$filter": f"RecordTypeValueId eq {ids['dv:record_type:person']}"},
    ).json()
    assert ids["person:rest"] not in {p["Id"] for p in only_people}
    assert len(only_people) < len(everyone)


def test_cookie_login_then_requests_with_the_rock_cookie(
    rock_emulator: RunningEmulator, ids: dict[str, int]
) -> None:
    with httpx.Client(base_url=rock_emulator.url) as browser:
        login = browser.post(
            "/api/Auth/Login", json={"Username": "admin", "Password": "admin", "Persisted": True}
        )
        assert login.status_code == 204
        assert ".ROCK" in browser.cookies
        me = browser.get("/api/People/GetCurrentPerson")
        assert me.status_code == 200
        assert me.json()["Id"] == ids["person:admin"]


def test_cookie_wins_over_the_rest_key(rock_emulator: RunningEmulator, ids: dict[str, int]) -> None:
    with httpx.Client(base_url=rock_emulator.url) as browser:
        browser.post("/api/Auth/Login", json={"Username": "admin", "Password": "admin"})
        me = browser.get(
            "/api/People/GetCurrentPerson",
            headers={"Authorization-Token": rock_emulator.credentials["api_key"]},
        )
        assert me.json()["Id"] == ids["person:admin"]


def test_bad_password_is_401_with_an_empty_body(anon: httpx.Client) -> None:
    r = anon.post("/api/Auth/Login", json={"Username": "admin", "Password": "nope"})
    assert r.status_code == 401
    assert r.content == b""
    assert ".ROCK" not in r.cookies


def _restricted(rock: httpx.Client, **rights: Any) -> tuple[httpx.Client, dict[str, Any]]:
    made = rock.post("/__emulator__/rest-keys", json={"name": "Limited", **rights})
    assert made.status_code == 201, made.text
    info = made.json()
    client = httpx.Client(base_url=str(rock.base_url), headers={"Authorization-Token": info["key"]})
    return client, info


def test_restricted_key_may_only_do_what_it_was_granted(
    rock: httpx.Client, ids: dict[str, int]
) -> None:
    client, info = _restricted(rock, view=["People"], edit=[])
    with client:
        me = client.get("/api/People/GetCurrentPerson")
        assert me.status_code == 200
        assert me.json()["Id"] == info["person_id"]
        assert me.json()["RecordTypeValueId"] == ids["dv:record_type:rest_user"]
        assert client.get("/api/People", params={"$top": "1"}).status_code == 200
        denied = client.get("/api/Groups")
        assert (denied.status_code, denied.content) == (401, b"")
        person = some_person(rock, ids)
        patch = client.patch(f"/api/People/{person['Id']}", json={"NickName": "Nope"})
        assert (patch.status_code, patch.content) == (401, b"")
        assert rock.get(f"/api/People/{person['Id']}").json()["NickName"] == person["NickName"]


def test_a_key_without_rights_cannot_even_ask_who_it_is(rock: httpx.Client) -> None:
    client, _ = _restricted(rock)
    with client:
        r = client.get("/api/People/GetCurrentPerson")
        assert (r.status_code, r.content) == (401, b"")


def test_writes_record_the_callers_alias(rock: httpx.Client, ids: dict[str, int]) -> None:
    client, info = _restricted(rock, view=["People"], edit=["People"])
    person = some_person(rock, ids)
    with client:
        assert (
            client.patch(f"/api/People/{person['Id']}", json={"NickName": "Limited"}).status_code
            == 204
        )
    after = rock.get(f"/api/People/{person['Id']}").json()
    assert after["ModifiedByPersonAliasId"] == info["alias_id"]
    assert after["ModifiedByPersonAliasId"] != person["ModifiedByPersonAliasId"]


def test_attribute_level_denial_is_403(rock: httpx.Client, ids: dict[str, int]) -> None:
    client, _ = _restricted(rock, view=["People"], edit=["People"], deny_attributes=["Allergy"])
    person = some_person(rock, ids)
    with client:
        r = client.post(
            f"/api/People/AttributeValue/{person['Id']}",
            params={"attributeKey": "Allergy", "attributeValue": "Peanuts"},
        )
        assert r.status_code == 403
        ok = client.post(
            f"/api/People/AttributeValue/{person['Id']}",
            params={"attributeKey": "BaptismDate", "attributeValue": "2020-01-01"},
        )
        assert ok.status_code == 202


def test_logout_ends_the_cookie_session(rock_emulator: RunningEmulator) -> None:
    with httpx.Client(base_url=rock_emulator.url) as browser:
        browser.post("/api/Auth/Login", json={"Username": "admin", "Password": "admin"})
        token = browser.cookies[".ROCK"]
        assert browser.post("/api/Auth/Logout").status_code == 204
        stale = httpx.get(
            f"{rock_emulator.url}/api/People/GetCurrentPerson", cookies={".ROCK": token}
        )
        assert stale.status_code == 401


def test_the_api_prefix_is_not_case_sensitive(rock: httpx.Client) -> None:
    assert rock.get("/API/People", params={"$top": "1"}).status_code == 200
    assert rock.get("/Api/people/GetCurrentPerson").status_code == 200
    assert rock.get("/other/People").status_code == 404
