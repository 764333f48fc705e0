"""Webhook subscriptions and signed, retried deliveries to a real receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pcosync.emulators.server import BackgroundServer
from tests.pco_emulator.helpers import client_for, control, create_person, jsonapi, running

SUBS = "/webhooks/v2/webhook_subscriptions"
PEOPLE = "/people/v2/people"


@dataclass
class Receiver:
    """A webhook endpoint that records what it gets and answers with scripted statuses."""

    url: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        with self.arrived:
            self.received.append((dict(request.headers), body))
            status = self.answers.pop(0) if self.answers else 200
            self.arrived.notify_all()
        return Response(status_code=status)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} deliveries, got {len(self.received)}")
                self.arrived.wait(left)
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/hook", rec.endpoint, methods=["POST"])])
    with BackgroundServer(app) as url:
        rec.url = f"{url}/hook"
        yield rec


def subscribe(api: httpx.Client, name: str, url: str) -> dict[str, Any]:
    resp = api.post(SUBS, json=jsonapi("WebhookSubscription", name=name, url=url, active=True))
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def verify(secret: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-pco-webhooks-authenticity"], expected)
    doc: dict[str, Any] = json.loads(body)
    return doc


def test_person_update_is_delivered_signed_with_a_string_payload(
    api: httpx.Client, receiver: Receiver
) -> None:
    sub = subscribe(api, "people.v2.events.person.updated", receiver.url)
    secret = sub["attributes"]["authenticity_secret"]
    assert len(secret) == 64 and int(secret, 16) >= 0
    person = create_person(api)  # person.created: not subscribed, not delivered
    api.patch(f"{PEOPLE}/{person['id']}", json=jsonapi("Person", last_name="Changed"))
    [(headers, body)] = receiver.wait_for(1)
    doc = verify(secret, headers, body)
    [delivery] = doc["data"]
    assert delivery["type"] == "EventDelivery"
    assert delivery["attributes"]["name"] == "people.v2.events.person.updated"
    assert delivery["attributes"]["attempt"] == 1
    assert isinstance(delivery["attributes"]["payload"], str)
    payload = json.loads(delivery["attributes"]["payload"])
    assert payload["data"]["id"] == person["id"]
    assert payload["data"]["attributes"]["last_name"] == "Changed"
    assert delivery["relationships"]["organization"]["data"]["type"] == "Organization"
    events = api.get(f"{SUBS}/{sub['id']}/events").json()["data"]
    assert [e["attributes"]["uuid"] for e in events] == [delivery["id"]]


def test_contact_and_destroy_events_carry_what_pco_sends(
    api: httpx.Client, receiver: Receiver
) -> None:
    email_sub = subscribe(api, "people.v2.events.email.created", receiver.url)
    subscribe(api, "people.v2.events.person.destroyed", receiver.url)
    person = create_person(api)
    api.post(f"{PEOPLE}/{person['id']}/emails", json=jsonapi("Email", address="w@example.org"))
    api.delete(f"{PEOPLE}/{person['id']}")
    received = receiver.wait_for(2)
    by_name = {}
    for headers, body in received:
        delivery = json.loads(body)["data"][0]
        by_name[delivery["attributes"]["name"]] = (headers, body, delivery)
    headers, body, email = by_name["people.v2.events.email.created"]
    verify(email_sub["attributes"]["authenticity_secret"], headers, body)
    payload = json.loads(email["attributes"]["payload"])
    assert payload["data"]["relationships"]["person"]["data"]["id"] == person["id"]
    destroyed = json.loads(by_name["people.v2.events.person.destroyed"][2]["attributes"]["payload"])
    assert destroyed["data"] == {"type": "Person", "id": person["id"]}  # ids only (#864)


def test_failed_deliveries_are_retried_with_the_same_id(receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    with running(webhook_retry_scale=0.001) as emu, client_for(emu.url) as api:
        subscribe(api, "people.v2.events.person.created", receiver.url)
        create_person(api)
        received = receiver.wait_for(3)
        sub_id = api.get(SUBS).json()["data"][0]["id"]
        deadline = time.monotonic() + 5  # the emulator records the 200 after the receiver
        while (event := api.get(f"{SUBS}/{sub_id}/events").json()["data"][0])["attributes"][
            "status"
        ] == "pending" and time.monotonic() < deadline:
            time.sleep(0.02)
        deliveries = api.get(f"{SUBS}/{sub_id}/events/{event['id']}/deliveries").json()["data"]
    attempts = [json.loads(body)["data"][0] for _, body in received]
    assert [a["attributes"]["attempt"] for a in attempts] == [1, 2, 3]
    assert len({a["id"] for a in attempts}) == 1
    assert event["attributes"]["status"] == "delivered"
    assert [d["attributes"]["status"] for d in deliveries] == [500, 503, 200]


def test_410_deactivates_the_subscription(api: httpx.Client, receiver: Receiver) -> None:
    receiver.answers = [410]
    sub = subscribe(api, "people.v2.events.person.created", receiver.url)
    create_person(api)
    receiver.wait_for(1)
    deadline = time.monotonic() + 5
    while api.get(f"{SUBS}/{sub['id']}").json()["data"]["attributes"]["active"]:
        assert time.monotonic() < deadline, "the subscription stayed active"
        time.sleep(0.02)
    create_person(api)
    time.sleep(0.2)
    assert len(receiver.received) == 1


def test_subscription_management(api: httpx.Client, receiver: Receiver) -> None:
    available = api.get("/webhooks/v2/available_events", params={"per_page": 100}).json()
    names = {e["attributes"]["name"] for e in available["data"]}
    assert {
        "people.v2.events.person.created",
        "people.v2.events.person_merger.created",
        "people.v2.events.phone_number.updated",
    } <= names
    bad = api.post(
        SUBS, json=jsonapi("WebhookSubscription", name="people.v2.events.pet.fed", url=receiver.url)
    )
    assert bad.status_code == 422
    sub = subscribe(api, "people.v2.events.person.created", receiver.url)
    again = api.post(
        SUBS,
        json=jsonapi(
            "WebhookSubscription", name="people.v2.events.person.created", url=receiver.url
        ),
    )
    assert again.status_code == 422
    path = f"{SUBS}/{sub['id']}"
    renamed = api.patch(path, json=jsonapi("WebhookSubscription", url="https://x.example/"))
    assert renamed.json()["errors"][0]["title"] == "Forbidden Attribute"
    old_secret = sub["attributes"]["authenticity_secret"]
    rotated = api.post(f"{path}/rotate_secret").json()["data"]["attributes"]
    assert rotated["authenticity_secret"] != old_secret
    paused = api.patch(path, json=jsonapi("WebhookSubscription", active=False))
    assert paused.json()["data"]["attributes"]["active"] is False
    create_person(api)
    time.sleep(0.2)
    assert receiver.received == []
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_a_merge_in_the_ui_fires_person_merger_created(
    api: httpx.Client, receiver: Receiver
) -> None:
    sub = subscribe(api, "people.v2.events.person_merger.created", receiver.url)
    a, b = create_person(api), create_person(api)
    control(str(api.base_url).rstrip("/"), "merge", {"keep": a["id"], "remove": b["id"]})
    [(headers, body)] = receiver.wait_for(1)
    payload = json.loads(
        verify(sub["attributes"]["authenticity_secret"], headers, body)["data"][0]["attributes"][
            "payload"
        ]
    )
    assert payload["data"]["attributes"]["person_to_remove_id"] == b["id"]
