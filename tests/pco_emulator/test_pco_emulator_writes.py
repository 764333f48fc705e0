"""Writing: creates, updates, deletes, assignable attributes, validation and malformed bodies."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.conftest import RunningEmulator
from tests.pco_emulator.helpers import control, create_person, jsonapi

PEOPLE = "/people/v2/people"


def test_create_returns_201_with_the_full_resource(api: httpx.Client) -> None:
    resp = api.post(
        PEOPLE,
        json=jsonapi(
            "Person", first_name="Nathan", last_name="Hale", remote_id=77, birthdate="1755-06-06"
        ),
    )
    assert resp.status_code == 201
    assert "Location" not in resp.headers
    body = resp.json()
    attrs = body["data"]["attributes"]
    assert attrs["name"] == "Nathan Hale"
    assert attrs["remote_id"] == 77 and attrs["birthdate"] == "1755-06-06"
    assert attrs["status"] == "active" and attrs["inactivated_at"] is None
    assert attrs["created_at"] == attrs["updated_at"]
    assert body["included"] == [] and body["meta"]["parent"]["type"] == "Organization"
    links = body["data"]["links"]
    assert links["self"].endswith(f"/people/v2/people/{body['data']['id']}")
    assert links["emails"] == links["self"] + "/emails" and links["school"] is None
    fetched = api.get(links["self"]).json()["data"]
    assert fetched["attributes"] == attrs


def test_non_assignable_attributes_are_forbidden(api: httpx.Client) -> None:
    resp = api.post(
        PEOPLE,
        json=jsonapi(
            "Person", first_name="A", name="Not Allowed", created_at="2020-01-01T00:00:00Z"
        ),
    )
    assert resp.status_code == 422
    assert resp.json() == {
        "errors": [
            {"status": "422", "title": "Forbidden Attribute", "detail": "name cannot be assigned"},
            {
                "status": "422",
                "title": "Forbidden Attribute",
                "detail": "created_at cannot be assigned",
            },
        ]
    }
    person = create_person(api)
    patch = api.patch(f"{PEOPLE}/{person['id']}", json=jsonapi("Person", bogus="x"))
    assert patch.status_code == 422
    assert patch.json()["errors"][0]["detail"] == "bogus cannot be assigned"


def test_invalid_values_are_422_with_source_parameter(api: httpx.Client) -> None:
    resp = api.post(
        PEOPLE,
        json=jsonapi(
            "Person", first_name="A", birthdate="31/12/1990", remote_id="abc", gender="Robot"
        ),
    )
    assert resp.status_code == 422
    errors = {e["source"]["parameter"]: e for e in resp.json()["errors"]}
    assert set(errors) == {"birthdate", "remote_id", "gender"}
    assert errors["birthdate"]["title"] == "Validation Error"
    assert errors["birthdate"]["meta"]["resource"] == "Person"
    blank = api.post(PEOPLE, json=jsonapi("Person", nickname="Nobody"))
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["source"] == {"parameter": "first_name"}


def test_malformed_bodies_get_pcos_exact_errors(api: httpx.Client) -> None:
    empty = api.post(PEOPLE, json={})
    assert empty.status_code == 400
    assert empty.json() == {
        "errors": [
            {
                "status": "400",
                "title": "Bad Request",
                "code": "invalid_resource_payload",
                "detail": "The payload given does not contain a 'data' key.",
            }
        ]
    }
    assert empty.headers["Content-Type"] == "application/json; charset=utf-8"
    capitalised = api.post(
        PEOPLE, json={"Data": {"Type": "Person", "Attributes": {"first_name": "X"}}}
    )
    assert capitalised.status_code == 422
    assert capitalised.json()["errors"][0]["code"] == "invalid_payload"
    assert capitalised.json()["errors"][0]["detail"] == (
        "The top level data object must be an array or hash."
    )
    as_array = api.post(PEOPLE, json={"data": [{"type": "Person", "attributes": {}}]})
    assert as_array.status_code == 400
    assert as_array.json()["errors"][0]["code"] == "invalid_resource_payload"
    not_json = api.post(PEOPLE, content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.json()["errors"][0]["code"] == "invalid_json"


def test_put_is_a_404_html_page(api: httpx.Client) -> None:
    person = create_person(api)
    resp = api.put(f"{PEOPLE}/{person['id']}", json=jsonapi("Person", first_name="X"))
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.text.lstrip().startswith("<!DOCTYPE html>")
    assert "X-PCO-API-Request-Rate-Count" not in resp.headers
    assert api.get(f"{PEOPLE}/{person['id']}").json()["data"]["attributes"]["first_name"] == "Test"


def test_wrong_method_on_a_known_path_is_405(api: httpx.Client) -> None:
    resp = api.delete(PEOPLE)
    assert resp.status_code == 405
    assert resp.json()["errors"][0]["status"] == "405"


def test_delete_is_204_without_body_then_404(api: httpx.Client) -> None:
    person = create_person(api)
    resp = api.delete(f"{PEOPLE}/{person['id']}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert "Content-Type" not in resp.headers
    gone = api.get(f"{PEOPLE}/{person['id']}")
    assert gone.status_code == 404
    assert gone.headers["Content-Type"] == "application/json; charset=utf-8"
    assert gone.json() == {
        "errors": [
            {
                "status": "404",
                "title": "Not Found",
                "detail": "The resource you requested could not be found",
            }
        ]
    }


def test_status_and_inactivated_at_move_together(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    control(pco_emulator.url, "clock", {"now": "2026-04-01T09:30:00Z", "frozen": True})
    person = create_person(api)
    url = f"{PEOPLE}/{person['id']}"
    off = api.patch(url, json=jsonapi("Person", status="inactive")).json()["data"]["attributes"]
    assert off["status"] == "inactive" and off["inactivated_at"] == "2026-04-01T09:30:00Z"
    on = api.patch(url, json=jsonapi("Person", status="active")).json()["data"]["attributes"]
    assert on["status"] == "active" and on["inactivated_at"] is None
    dated = api.patch(url, json=jsonapi("Person", inactivated_at="2026-03-01T00:00:00Z"))
    assert dated.json()["data"]["attributes"]["status"] == "inactive"
    back = api.patch(url, json=jsonapi("Person", inactivated_at=None)).json()["data"]
    assert back["attributes"]["status"] == "active"
    listed = api.get(PEOPLE, params={"where[status]": "inactive"}).json()
    assert listed["meta"]["total_count"] > 0  # inactive people are listed too (#912)


def test_updated_at_follows_person_and_contact_edits_but_not_medical_notes(
    pco_emulator: RunningEmulator, api: httpx.Client
) -> None:
    url = pco_emulator.url
    control(url, "clock", {"now": "2026-06-01T10:00:00Z", "frozen": True})
    person = create_person(api)
    path = f"{PEOPLE}/{person['id']}"

    def stamp() -> str:
        value: str = api.get(path).json()["data"]["attributes"]["updated_at"]
        return value

    control(url, "clock", {"advance_seconds": 60})
    api.patch(path, json=jsonapi("Person", medical_notes="peanuts"))
    assert stamp() == "2026-06-01T10:00:00Z"
    api.patch(path, json=jsonapi("Person", nickname="Tes"))
    assert stamp() == "2026-06-01T10:01:00Z"
    control(url, "clock", {"advance_seconds": 60})
    email = api.post(
        f"{path}/emails",
        json=jsonapi("Email", address="t@example.org", location="Home", primary=True),
    )
    assert email.status_code == 201
    assert stamp() == "2026-06-01T10:02:00Z"
    control(url, "clock", {"advance_seconds": 60})
    eid = email.json()["data"]["id"]
    api.patch(f"/people/v2/emails/{eid}", json=jsonapi("Email", address="t2@example.org"))
    assert stamp() == "2026-06-01T10:03:00Z"
    control(url, "clock", {"advance_seconds": 60})
    assert api.delete(f"{path}/emails/{eid}").status_code == 204
    assert stamp() == "2026-06-01T10:04:00Z"


def test_email_validation_primary_and_nested_parent(api: httpx.Client) -> None:
    person = create_person(api)
    other = create_person(api)
    path = f"{PEOPLE}/{person['id']}/emails"
    bad = api.post(path, json=jsonapi("Email", address="not-an-email", location="Home"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["source"] == {"parameter": "address"}
    first = api.post(path, json=jsonapi("Email", address="a@example.org", primary=True)).json()
    second = api.post(path, json=jsonapi("Email", address="b@example.org", primary=True)).json()
    listed = api.get(path).json()
    primaries = {e["attributes"]["address"]: e["attributes"]["primary"] for e in listed["data"]}
    assert primaries == {"a@example.org": False, "b@example.org": True}
    assert listed["meta"]["parent"] == {"id": person["id"], "type": "Person"}
    # an email id under someone else's URL is 404 (#994)
    wrong = api.get(f"{PEOPLE}/{other['id']}/emails/{first['data']['id']}")
    assert wrong.status_code == 404
    assert (
        api.get(f"/people/v2/emails/{second['data']['id']}/person").json()["data"]["id"]
        == person["id"]
    )


def test_phone_numbers_compute_their_formats_and_need_a_location(api: httpx.Client) -> None:
    person = create_person(api)
    path = f"{PEOPLE}/{person['id']}/phone_numbers"
    missing = api.post(path, json=jsonapi("PhoneNumber", number="214-555-0123"))
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["source"] == {"parameter": "location"}
    resp = api.post(path, json=jsonapi("PhoneNumber", number="214.555.0123", location="Mobile"))
    assert resp.status_code == 201
    attrs = resp.json()["data"]["attributes"]
    assert attrs["number"] == "214.555.0123"
    assert attrs["e164"] == "+12145550123"
    assert attrs["national"] == "(214) 555-0123"
    assert attrs["international"] == "+1 214-555-0123"
    assert attrs["country_code"] == "US"
    changed = api.patch(
        f"/people/v2/phone_numbers/{resp.json()['data']['id']}",
        json=jsonapi("PhoneNumber", number="+44 20 7946 0958"),
    ).json()
    assert changed["data"]["attributes"]["e164"] == "+442079460958"
    assert changed["data"]["attributes"]["country_code"] == "GB"


def test_address_attributes_depend_on_the_version(
    api: httpx.Client, versioned: Callable[[str], httpx.Client]
) -> None:
    person = create_person(api)
    path = f"{PEOPLE}/{person['id']}/addresses"
    old = versioned("2018-08-01").post(
        path,
        json=jsonapi(
            "Address",
            street="123 Mount Vernon Rd",
            city="Mount Vernon",
            state="Va",
            zip="11111",
            location="Home",
            primary=True,
        ),
    )
    assert old.status_code == 201
    assert old.json()["data"]["attributes"]["street"] == "123 Mount Vernon Rd"
    assert old.json()["data"]["attributes"]["state"] == "Va"  # stored as sent
    refused = api.post(path, json=jsonapi("Address", street="1 Main St", city="X"))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["title"] == "Forbidden Attribute"
    new = api.post(
        path,
        json=jsonapi("Address", street_line_1="1 Main St", street_line_2="Apt 2", city="Dallas"),
    )
    assert new.status_code == 201
    assert new.json()["data"]["attributes"]["street_line_2"] == "Apt 2"
    as_old = versioned("2018-08-01").get(f"/people/v2/addresses/{new.json()['data']['id']}")
    assert as_old.json()["data"]["attributes"]["street"] == "1 Main St\nApt 2"


def test_person_apps_accept_only_app_id(api: httpx.Client) -> None:
    person = create_person(api)
    path = f"{PEOPLE}/{person['id']}/person_apps"
    refused = api.post(path, json=jsonapi("PersonApp", app_id=2, allow_pco_login=True))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["detail"] == "allow_pco_login cannot be assigned"
    created = api.post(path, json=jsonapi("PersonApp", app_id=2))
    assert created.status_code == 201
    assert created.json()["data"]["relationships"]["app"]["data"] == {"type": "App", "id": "2"}
    apps = api.get("/people/v2/apps").json()
    assert {"2": "Services"}.items() <= {
        a["id"]: a["attributes"]["name"] for a in apps["data"]
    }.items()
    unknown = api.post(path, json=jsonapi("PersonApp", app_id=999))
    assert unknown.status_code == 422


def test_household_create_takes_relationships(api: httpx.Client) -> None:
    a, b = create_person(api, last_name="Lincoln"), create_person(api, last_name="Lincoln")
    resp = api.post(
        "/people/v2/households",
        json={
            "data": {
                "type": "Household",
                "attributes": {"name": "Lincoln Household"},
                "relationships": {
                    "primary_contact": {"data": {"type": "Person", "id": a["id"]}},
                    "people": {
                        "data": [
                            {"type": "Person", "id": a["id"]},
                            {"type": "Person", "id": b["id"]},
                        ]
                    },
                },
            }
        },
    )
    assert resp.status_code == 201
    attrs = resp.json()["data"]["attributes"]
    assert attrs["member_count"] is None  # as recorded right after a create
    assert attrs["primary_contact_id"] == a["id"]
    hid = resp.json()["data"]["id"]
    people = api.get(f"/people/v2/households/{hid}", params={"include": "people"}).json()
    assert {p["id"] for p in people["included"]} == {a["id"], b["id"]}
