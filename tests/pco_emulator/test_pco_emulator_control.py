"""The control API: reset, UI actions, stats, and the injected faults of the shared plane."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import client_for, control, create_person

PEOPLE = "/people/v2/people"


def set_faults(url: str, *faults: dict[str, object]) -> None:
    control(url, "faults", {"faults": list(faults), "seed": 1})


def test_reset_regenerates_the_church_and_forgets_state(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    url = pco_emulator.url
    before = control(url, "info")
    create_person(api, last_name="Ephemeral")
    api.post(
        "/webhooks/v2/webhook_subscriptions",
        json={
            "data": {
                "attributes": {
                    "name": "people.v2.events.person.created",
                    "url": "http://127.0.0.1:9/hook",
                }
            }
        },
    )
    bigger = control(url, "reset", {"seed": 5, "people": 300})
    assert bigger["seed"] == 5 and bigger["people"] > before["people"]
    assert bigger["webhook_subscriptions"] == 0
    assert api.get(PEOPLE, params={"where[last_name]": "Ephemeral"}).json()["data"] == []
    same = control(url, "reset", {"seed": before["seed"], "people": 200})
    assert same["people"] == before["people"]
    assert same["assignments"] == before["assignments"]


def test_edit_in_the_ui_bumps_updated_at_except_for_medical_notes(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    url = pco_emulator.url
    person = api.get(PEOPLE, params={"per_page": 1}).json()["data"][0]
    control(url, "clock", {"now": "2026-09-09T09:09:09Z", "frozen": True})
    edited = control(url, f"people/{person['id']}", {"medical_notes": "Asthma"})
    assert edited["data"]["attributes"]["updated_at"] == person["attributes"]["updated_at"]
    edited = control(url, f"people/{person['id']}", {"last_name": "Edited", "status": "inactive"})
    attrs = edited["data"]["attributes"]
    assert attrs["updated_at"] == "2026-09-09T09:09:09Z"
    assert attrs["inactivated_at"] == "2026-09-09T09:09:09Z"
    assert api.get(f"{PEOPLE}/{person['id']}").json()["data"]["attributes"]["last_name"] == "Edited"
    with httpx.Client(base_url=url) as http:
        assert (
            http.post(f"/__emulator__/people/{person['id']}", json={"shoe": 1}).status_code == 400
        )
        assert http.post("/__emulator__/people/1", json={"last_name": "X"}).status_code == 404


def test_add_archive_and_remove_a_services_person(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    url = pco_emulator.url
    person = create_person(api)
    pid = person["id"]
    added = control(url, f"services/people/{pid}", {})
    assert added["data"]["id"] == pid and added["data"]["attributes"]["archived_at"] is None
    archived = control(url, f"services/people/{pid}/archive", {})
    assert archived["data"]["attributes"]["archived"] is True
    assert api.get(f"/services/v2/people/{pid}").json()["data"]["attributes"]["archived_at"]
    control(url, f"services/people/{pid}", method="DELETE")
    assert api.get(f"/services/v2/people/{pid}").status_code == 404
    assert api.get(f"{PEOPLE}/{pid}/person_apps").json()["data"] == []


def test_stats_count_requests_by_method_route_and_status(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    control(pco_emulator.url, "stats", method="DELETE")
    api.get(PEOPLE)
    person = create_person(api)
    api.get(f"{PEOPLE}/{person['id']}")
    api.get(f"{PEOPLE}/{person['id']}/emails")
    stats = control(pco_emulator.url, "stats")
    assert stats["requests"] == 4
    assert stats["by_method"] == {"GET": 3, "POST": 1}
    assert stats["by_route"]["GET /people/v2/people/{id}"] == 1
    assert stats["by_route"]["GET /people/v2/people/{id}/emails"] == 1
    assert stats["by_status"] == {"200": 3, "201": 1}
    assert stats["throttled"] == 0


def test_5xx_faults_answer_with_pcos_error_document(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    set_faults(pco_emulator.url, {"kind": "error", "status": 503, "count": 2, "path": PEOPLE})
    statuses = [api.get(PEOPLE).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    set_faults(pco_emulator.url, {"kind": "error", "status": 500, "count": 1})
    resp = api.get(PEOPLE)
    [err] = resp.json()["errors"]
    assert (resp.status_code, err["status"], err["title"]) == (500, "500", "Internal Server Error")


def test_a_409_conflict_can_be_injected_for_parallel_create_handling(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    # sequential duplicates are 422 "has already been taken"; PCO's 409 comes from racing
    # parallel creates, which the emulator produces only on request
    set_faults(pco_emulator.url, {"kind": "error", "status": 409, "method": "POST", "count": 1})
    resp = api.post(PEOPLE, json={"data": {"attributes": {"last_name": "Racer"}}})
    assert resp.status_code == 409
    assert resp.json() == {"errors": [{"status": "409", "title": "Conflict", "detail": "Conflict"}]}
    assert (
        api.post(PEOPLE, json={"data": {"attributes": {"last_name": "Racer"}}}).status_code == 201
    )


def test_a_429_storm_is_counted_as_throttled(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    control(pco_emulator.url, "stats", method="DELETE")
    set_faults(pco_emulator.url, {"kind": "rate_limit", "count": 3, "retry_after": 7})
    storm = [api.get(PEOPLE) for _ in range(4)]
    assert [r.status_code for r in storm] == [429, 429, 429, 200]
    assert storm[0].headers["Retry-After"] == "7"
    assert storm[0].json()["errors"][0]["code"] == "429"
    assert control(pco_emulator.url, "stats")["throttled"] == 3


def test_a_timeout_after_apply_is_an_ambiguous_write(pco_emulator: RunningEmulator) -> None:
    set_faults(
        pco_emulator.url,
        {
            "kind": "timeout",
            "method": "POST",
            "path": PEOPLE,
            "seconds": 2,
            "count": 1,
            "after_apply": True,
        },
    )
    with client_for(pco_emulator.url, timeout=0.5) as api:
        with pytest.raises(httpx.ReadTimeout):
            api.post(PEOPLE, json={"data": {"attributes": {"last_name": "Maybe"}}})
        found = api.get(PEOPLE, params={"where[last_name]": "Maybe"}).json()
    assert found["meta"]["total_count"] == 1  # it happened, although nobody heard


def test_a_dropped_connection_loses_the_answer(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    set_faults(pco_emulator.url, {"kind": "drop", "count": 1, "path": PEOPLE})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get(PEOPLE)
    assert api.get(PEOPLE).status_code == 200
    assert control(pco_emulator.url, "stats")["faults_fired"]["drop"] == 1


def test_rate_limit_can_be_changed_at_runtime(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    settings = control(pco_emulator.url, "rate_limit", {"limit": 2, "period": 30, "reset": True})
    assert settings == {
        "limit": 2,
        "period": 30.0,
        "deep_offset_limit": 1,
        "retry_after": "window",
        "window": "fixed",
    }
    assert [api.get(PEOPLE).status_code for _ in range(3)] == [200, 200, 429]
