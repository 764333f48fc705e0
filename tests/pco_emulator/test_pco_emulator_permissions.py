"""Simulated access levels (``/__emulator__/permissions``): shown on the user's records and
enforced with PCO's 403 document, for that user only."""

from __future__ import annotations

import httpx

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import control

FORBIDDEN = {
    "errors": [
        {"status": "403", "title": "Forbidden", "detail": "You do not have access to this resource"}
    ]
}


def _person_body(last_name: str) -> dict[str, object]:
    return {"data": {"type": "Person", "attributes": {"first_name": "P", "last_name": last_name}}}


def test_unrestricted_by_default(pco_emulator: RunningEmulator, api: httpx.Client) -> None:
    assert control(pco_emulator.url, "permissions") == {}
    me = api.get("/people/v2/me").json()["data"]["attributes"]
    assert (me["site_administrator"], me["people_permissions"]) == (True, "Manager")
    assert api.post("/people/v2/people", json=_person_body("Allowed")).status_code == 201


def test_people_viewer_reads_but_cannot_write(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    made = control(
        pco_emulator.url, "permissions", {"people": "Viewer", "site_administrator": False}
    )
    assert made["people"] == "Viewer" and made["services"] == "Administrator"
    me = api.get("/people/v2/me")
    assert me.status_code == 200
    attrs = me.json()["data"]["attributes"]
    assert (attrs["site_administrator"], attrs["people_permissions"]) == (False, "Viewer")
    assert api.get("/people/v2/people", params={"per_page": 1}).status_code == 200
    refused = api.post("/people/v2/people", json=_person_body("Refused"))
    assert refused.status_code == 403
    assert refused.json() == FORBIDDEN
    # the gate ran first: rate-limit and version headers are on the refusal
    assert refused.headers["X-PCO-API-Request-Rate-Count"]
    assert refused.headers["X-PCO-API-Processed-As-Version"]
    some = api.get("/people/v2/people", params={"per_page": 1}).json()["data"][0]
    patch = api.patch(
        f"/people/v2/people/{some['id']}",
        json={"data": {"type": "Person", "id": some["id"], "attributes": {"nickname": "X"}}},
    )
    assert patch.status_code == 403
    # Services is untouched
    assert api.get("/services/v2/teams", params={"per_page": 1}).status_code == 200


def test_no_people_access_keeps_me_only(pco_emulator: RunningEmulator, api: httpx.Client) -> None:
    control(pco_emulator.url, "permissions", {"people": "No Access", "site_administrator": False})
    me = api.get("/people/v2/me")
    assert me.status_code == 200
    assert me.json()["data"]["attributes"]["people_permissions"] is None
    listing = api.get("/people/v2/people")
    assert (listing.status_code, listing.json()) == (403, FORBIDDEN)


def test_services_levels(pco_emulator: RunningEmulator, api: httpx.Client) -> None:
    url = pco_emulator.url
    uid = control(url, "info")["api_user_id"]
    control(url, "permissions", {"services": "Viewer"})
    assert api.get(f"/services/v2/people/{uid}").json()["data"]["attributes"]["permissions"] == (
        "Viewer"
    )
    assert api.get("/services/v2/teams", params={"per_page": 1}).status_code == 200
    control(url, "permissions", {"services": "No Access"})
    denied = api.get("/services/v2")
    assert (denied.status_code, denied.json()) == (403, FORBIDDEN)
    # People access is kept
    assert api.get("/people/v2/people", params={"per_page": 1}).status_code == 200


def test_other_users_and_reset(pco_emulator: RunningEmulator, api: httpx.Client) -> None:
    url = pco_emulator.url
    control(url, "permissions", {"people": "No Access", "site_administrator": False})
    assert api.get("/people/v2/people").status_code == 403
    # a bad credential is still a 401, not a 403
    with httpx.Client(base_url=url, auth=("nobody", "nothing")) as stranger:
        assert stranger.get("/people/v2/people").status_code == 401
    with httpx.Client(base_url=url) as raw:
        bad = raw.post("/__emulator__/permissions", json={"people": "Owner"})
        assert bad.status_code == 400
        assert raw.delete("/__emulator__/permissions").json() == {}
    assert api.get("/people/v2/people", params={"per_page": 1}).status_code == 200
    control(url, "permissions", {"services": "No Access"})
    control(url, "reset", {})
    assert control(url, "permissions") == {}
    assert api.get("/services/v2").status_code == 200


def test_services_person_permissions_are_read_and_written_as_the_spec_says(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    """§5.5: ``permissions`` is shown on the Services person and is update-assignable; a
    person added to Services (the PersonApp) starts at the lowest level; there is no create."""
    person = api.post("/people/v2/people", json=_person_body("Newcomer")).json()["data"]
    pid = person["id"]
    assert api.get(f"/services/v2/people/{pid}").status_code == 404  # not in Services yet
    apps = api.get("/people/v2/apps").json()["data"]
    services = next(a["id"] for a in apps if a["attributes"]["name"] == "Services")
    added = api.post(
        f"/people/v2/people/{pid}/person_apps",
        json={"data": {"type": "PersonApp", "attributes": {"app_id": int(services)}}},
    )
    assert added.status_code == 201
    attrs = api.get(f"/services/v2/people/{pid}").json()["data"]["attributes"]
    assert attrs["permissions"] == "Scheduled Viewer"

    def patch(level: object) -> httpx.Response:
        return api.patch(
            f"/services/v2/people/{pid}",
            json={"data": {"type": "Person", "id": pid, "attributes": {"permissions": level}}},
        )

    raised = patch("Viewer")
    assert raised.status_code == 200
    assert raised.json()["data"]["attributes"]["permissions"] == "Viewer"
    assert api.get(f"/services/v2/people/{pid}").json()["data"]["attributes"]["permissions"] == (
        "Viewer"
    )
    wrong = patch("Superuser")
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["source"] == {"parameter": "permissions"}
    # a user below Scheduler cannot write in Services at all
    control(pco_emulator.url, "permissions", {"services": "Viewer"})
    assert patch("Editor").status_code == 403
    control(pco_emulator.url, "permissions", method="DELETE")
    assert api.get(f"/services/v2/people/{pid}").json()["data"]["attributes"]["permissions"] == (
        "Viewer"
    )
