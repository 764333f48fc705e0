"""``/webhooks/v2`` subscriptions and the delivery of People events to them (spec §6).

A delivery is an HTTP POST of ``{"data": [{"id": <event uuid>, "type": "EventDelivery",
"attributes": {"name", "attempt", "payload"}, "relationships": {"organization": ...}}]}``
whose ``payload`` is the resource document as a **JSON string** (new values only; destroyed
events carry just ``type``/``id``). ``X-PCO-Webhooks-Authenticity`` is the hex HMAC-SHA256
of the raw body keyed with the subscription's ``authenticity_secret``.

Deliveries run in background asyncio tasks after the request that caused them. Only a
``200`` counts as delivered; ``410`` deactivates the subscription at once; anything else
(or no answer) is retried on PCO's schedule (30 s, 1 min, 2 min … 16 retries, ~5.4 days)
multiplied by ``retry_scale`` (1/60 by default: 0.5 s, 1 s, 2 s …), after which the
subscription is deactivated.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pcosync.emulators.pco import people_resources as people
from pcosync.emulators.pco.jsonapi import (
    Ctx,
    Field,
    Json,
    ResourceSpec,
    attributes_of,
    check_assignable,
    collection_doc,
    ctx_of,
    document,
    fmt_dt,
    no_content,
    not_found,
    parent_meta,
    read_data,
    single_doc,
    unprocessable,
    validation_error,
)
from pcosync.emulators.pco.model import WebhookDelivery, WebhookEvent, WebhookSubscription
from pcosync.emulators.pco.store import QueuedEvent, Table, whole_seconds

if TYPE_CHECKING:
    from pcosync.emulators.pco.app import PcoEmulator

log = logging.getLogger("pcosync.emulators.pco.webhooks")

W = "/webhooks/v2"
RETRY_SCHEDULE = (
    30,
    60,
    120,
    240,
    480,
    960,
    1920,
    3840,
    7560,
    15120,
    30600,
    61200,
    86400,
    86400,
    86400,
    86400,
)

PEOPLE_EVENTS = (
    "person.created", "person.updated", "person.destroyed", "person_merger.created",
    "email.created", "email.updated", "email.destroyed",
    "phone_number.created", "phone_number.updated", "phone_number.destroyed",
    "address.created", "address.updated", "address.destroyed",
    "field_datum.created", "field_datum.updated", "field_datum.destroyed",
    "field_definition.created", "field_definition.updated", "field_definition.destroyed",
    "household.created", "household.updated", "household.destroyed",
    "list.created", "list.destroyed", "list.refreshed",
    "list_result.created", "list_result.destroyed", "note.created", "note.destroyed",
    "form_submission.created",
)  # fmt: skip
SERVICES_EVENTS = (
    "plan.created", "plan.updated", "plan.destroyed", "plan.live.updated",
    "plan_item.created", "plan_item.destroyed", "plan_note.created", "plan_note.updated",
    "plan_note.destroyed", "song.created", "song.updated", "arrangement.created",
    "arrangement.updated", "arrangement.destroyed", "key.created", "key.updated",
    "key.destroyed",
)  # fmt: skip


def _available(app: str, events: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """``(name, app, resource, action)`` of each event."""
    out = []
    for event in events:
        resource, action = event.rsplit(".", 1)
        out.append((f"{app}.v2.events.{event}", app, resource, action))
    return out


AVAILABLE_EVENTS = _available("people", PEOPLE_EVENTS) + _available("services", SERVICES_EVENTS)
EVENT_NAMES = frozenset(name for name, *_ in AVAILABLE_EVENTS)


# ---- renderers ---------------------------------------------------------------------------


def render_subscription(ctx: Ctx, s: WebhookSubscription, full: bool) -> Json:
    self_url = ctx.url(f"{W}/webhook_subscriptions/{s.id}")
    return {
        "type": "WebhookSubscription",
        "id": str(s.id),
        "attributes": {
            "active": s.active,
            "application_id": s.application_id,
            "authenticity_secret": s.authenticity_secret,
            "created_at": fmt_dt(s.created_at),
            "name": s.name,
            "updated_at": fmt_dt(s.updated_at),
            "url": s.url,
        },
        "links": {
            "events": f"{self_url}/events",
            "rotate_secret": f"{self_url}/rotate_secret",
            "self": self_url,
        }
        if full
        else {"self": self_url},
    }


def render_event(ctx: Ctx, e: WebhookEvent, full: bool) -> Json:
    self_url = ctx.url(f"{W}/webhook_subscriptions/{e.subscription_id}/events/{e.id}")
    return {
        "type": "Event",
        "id": str(e.id),
        "attributes": {
            "created_at": fmt_dt(e.created_at),
            "payload": e.payload,
            "status": e.status,
            "updated_at": fmt_dt(e.updated_at),
            "uuid": e.uuid,
        },
        "links": {"deliveries": f"{self_url}/deliveries", "self": self_url},
    }


def render_delivery(ctx: Ctx, ref: tuple[WebhookEvent, WebhookDelivery], full: bool) -> Json:
    event, d = ref
    return {
        "type": "Delivery",
        "id": str(d.id),
        "attributes": {
            "created_at": fmt_dt(d.created_at),
            "object_url": None,
            "request_body": d.request_body,
            "request_headers": d.request_headers,
            "response_body": d.response_body,
            "response_headers": d.response_headers,
            "status": d.status,
            "timing": d.timing,
        },
        "links": {
            "self": ctx.url(
                f"{W}/webhook_subscriptions/{event.subscription_id}"
                f"/events/{event.id}/deliveries/{d.id}"
            )
        },
    }


def render_available(ctx: Ctx, ref: tuple[int, tuple[str, str, str, str]], full: bool) -> Json:
    n, (name, app, resource, action) = ref
    return {
        "type": "AvailableEvent",
        "id": str(n),
        "attributes": {
            "action": action,
            "app": app,
            "name": name,
            "resource": resource,
            "type": "Event",
            "version": "v2",
        },
        "links": {"self": ctx.url(f"{W}/available_events/{n}")},
    }


def _attr(name: str, kind: str) -> Field:
    return Field(name, kind, lambda r: getattr(r, name))


SUBSCRIPTION = ResourceSpec(
    "WebhookSubscription",
    render_subscription,
    lambda ctx: [_attr("application_id", "str")],
    lambda ctx: [_attr("created_at", "datetime"), _attr("name", "str")],
)
EVENT = ResourceSpec(
    "Event",
    render_event,
    lambda ctx: [_attr("status", "str"), _attr("uuid", "str")],
    lambda ctx: [_attr("created_at", "datetime")],
)
DELIVERY = ResourceSpec("Delivery", render_delivery)
AVAILABLE = ResourceSpec(
    "AvailableEvent",
    render_available,
    lambda ctx: [Field("app", "str", lambda r: r[1][1]), Field("name", "str", lambda r: r[1][0])],
)


# ---- delivery ------------------------------------------------------------------------------


class WebhookDispatcher:
    """Turns queued People events into signed, retried deliveries."""

    def __init__(self, emulator: PcoEmulator, retry_scale: float, timeout: float = 5.0) -> None:
        self.emulator = emulator
        self.retry_scale = retry_scale
        self.timeout = timeout
        self.tasks: set[asyncio.Task[None]] = set()
        self._client: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None
        self.attempts: list[Json] = []  # what was sent where, for the control API

    @property
    def schedule(self) -> list[float]:
        return [s * self.retry_scale for s in RETRY_SCHEDULE]

    def publish(self, queued: list[QueuedEvent], make_ctx: Callable[[], Ctx]) -> None:
        store = self.emulator.store
        active = [s for s in store.subscriptions if s.active]
        if not active or not queued:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (e.g. called from a test thread): nothing can be delivered
        ctx = make_ctx()
        for item in queued:
            subs = [s for s in active if s.name == item.name]
            if not subs:
                continue
            payload = self._payload(ctx, item)
            if payload is None:
                continue
            now = whole_seconds(self.emulator.control.clock.now())
            for sub in subs:
                event = WebhookEvent(
                    store.new_id("webhook_event"),
                    str(uuid.uuid4()),
                    sub.id,
                    item.name,
                    payload,
                    "pending",
                    now,
                    now,
                )
                store.events.add(event, load=True)
                task = loop.create_task(self._deliver(event.id))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def _payload(self, ctx: Ctx, item: QueuedEvent) -> str | None:
        store = self.emulator.store
        tables: dict[str, Table[Any]] = {
            "person": store.people,
            "email": store.emails,
            "phone_number": store.phones,
            "address": store.addresses,
            "person_merger": store.mergers,
            "household": store.households,
        }
        table = tables.get(item.kind)
        if table is None:
            return None
        if item.name.endswith(".destroyed"):
            data: Json = people.event_ident(item.kind, item.rid)
        else:
            record = table.get(item.rid)
            if record is None:
                return None
            data = people.render_for_event(ctx, item.kind, record)
        doc = {
            "data": data,
            "included": [],
            "meta": {"parent": parent_meta("Organization", store.org.id)},
        }
        return json.dumps(doc, separators=(",", ":"))

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client[0] is not loop:
            self._client = (loop, httpx.AsyncClient(timeout=self.timeout))
        return self._client[1]

    async def _deliver(self, event_id: int) -> None:
        store = self.emulator.store
        attempt = 1
        while True:
            event = store.events.get(event_id)
            sub = store.subscriptions.get(event.subscription_id) if event else None
            if event is None or sub is None or not sub.active:
                return
            status = await self._post(sub, event, attempt)
            now = whole_seconds(self.emulator.control.clock.now())
            event.updated_at = now
            if status == 200:  # "Anything else counts as failure" (spec §6.2)
                event.status = "delivered"
                return
            if status == 410:
                self._deactivate(sub, now)
                event.status = "failed"
                return
            if attempt > len(RETRY_SCHEDULE):
                self._deactivate(sub, now)
                event.status = "failed"
                return
            await asyncio.sleep(self.schedule[attempt - 1])
            attempt += 1

    def _deactivate(self, sub: WebhookSubscription, now: datetime) -> None:
        sub.active = False
        sub.updated_at = now
        self.emulator.store.mark("webhook_subscription", sub.id)
        self.emulator.commit()

    async def _post(self, sub: WebhookSubscription, event: WebhookEvent, attempt: int) -> int:
        org = self.emulator.store.org
        body = json.dumps(
            {
                "data": [
                    {
                        "id": event.uuid,
                        "type": "EventDelivery",
                        "attributes": {
                            "name": event.name,
                            "attempt": attempt,
                            "payload": event.payload,
                        },
                        "relationships": {
                            "organization": {"data": {"type": "Organization", "id": str(org.id)}}
                        },
                    }
                ]
            },
            separators=(",", ":"),
        ).encode()
        signature = hmac.new(sub.authenticity_secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PCO-Webhooks",
            "X-PCO-Webhooks-Authenticity": signature,
        }
        started = time.perf_counter()
        status, response_headers, response_body = 0, "", ""
        try:
            response = await self._http().post(sub.url, content=body, headers=headers)
            status = response.status_code
            response_headers = json.dumps(dict(response.headers))
            response_body = response.text[:2000]
        except httpx.HTTPError as exc:
            response_body = type(exc).__name__
        timing = round(time.perf_counter() - started, 4)
        delivery = WebhookDelivery(
            len(event.deliveries) + 1,
            status,
            json.dumps(headers),
            body.decode(),
            response_headers,
            response_body,
            timing,
            whole_seconds(self.emulator.control.clock.now()),
        )
        event.deliveries.append(delivery)
        self.attempts.append(
            {
                "subscription_id": sub.id,
                "event": event.name,
                "event_uuid": event.uuid,
                "attempt": attempt,
                "status": status,
            }
        )
        log.info(
            "pco_emulator.webhook_delivery subscription=%s event=%s attempt=%d status=%d",
            sub.id,
            event.name,
            attempt,
            status,
        )
        return status

    async def drain(self) -> None:
        """Wait for the deliveries in flight (tests and shutdown)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks))


# ---- routes --------------------------------------------------------------------------------


def _sub_or_404(ctx: Ctx, rid: int) -> WebhookSubscription:
    sub = ctx.store.subscriptions.get(rid)
    if sub is None:
        raise not_found()
    return sub


def _org(ctx: Ctx) -> Json:
    return parent_meta("Organization", ctx.store.org.id)


def _valid_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def routes(application_id: Callable[[Request], str]) -> list[Route]:
    async def subscriptions(request: Request) -> Response:
        ctx = ctx_of(request)
        if request.method == "POST":
            data = await read_data(request, "WebhookSubscription")
            attrs = attributes_of(data)
            check_assignable(attrs, ("name", "url", "active"))
            errors: list[Json] = []
            name, url = attrs.get("name"), attrs.get("url")
            if name not in EVENT_NAMES:
                errors.append(
                    validation_error("name", "is not included in the list", "WebhookSubscription")
                )
            if not _valid_url(url):
                errors.append(validation_error("url", "is invalid", "WebhookSubscription"))
            if not errors and any(s.name == name and s.url == url for s in ctx.store.subscriptions):
                errors.append(
                    validation_error("name", "has already been taken", "WebhookSubscription")
                )
            if errors:
                raise unprocessable(errors)
            now = whole_seconds(ctx.now)
            sub = WebhookSubscription(
                ctx.store.new_id("webhook_subscription"),
                str(name),
                str(url),
                bool(attrs.get("active", True)),
                secrets.token_hex(32),
                application_id(request),
                now,
                now,
            )
            ctx.store.subscriptions.add(sub)
            return document(
                single_doc(ctx, SUBSCRIPTION, sub, parent=_org(ctx), query=ctx.query), 201
            )
        return document(
            collection_doc(
                ctx,
                SUBSCRIPTION,
                ctx.store.subscriptions.values(),
                path=request.url.path,
                parent=_org(ctx),
                query=ctx.query,
            )
        )

    async def subscription(request: Request) -> Response:
        ctx = ctx_of(request)
        sub = _sub_or_404(ctx, request.path_params["rid"])
        if request.method == "DELETE":
            ctx.store.subscriptions.remove(sub)
            return no_content()
        if request.method == "PATCH":
            data = await read_data(request, "WebhookSubscription", sub.id)
            attrs = attributes_of(data)
            check_assignable(attrs, ("active",))  # the only update-assignable attribute
            if "active" in attrs:
                sub.active = bool(attrs["active"])
                sub.updated_at = whole_seconds(ctx.now)
                ctx.store.mark("webhook_subscription", sub.id)
        return document(single_doc(ctx, SUBSCRIPTION, sub, parent=_org(ctx), query=ctx.query))

    async def rotate_secret(request: Request) -> Response:
        ctx = ctx_of(request)
        sub = _sub_or_404(ctx, request.path_params["rid"])
        sub.authenticity_secret = secrets.token_hex(32)
        sub.updated_at = whole_seconds(ctx.now)
        ctx.store.mark("webhook_subscription", sub.id)
        return document(single_doc(ctx, SUBSCRIPTION, sub, parent=_org(ctx), query=ctx.query))

    async def events(request: Request) -> Response:
        ctx = ctx_of(request)
        sub = _sub_or_404(ctx, request.path_params["rid"])
        return document(
            collection_doc(
                ctx,
                EVENT,
                ctx.store.events.children(sub.id),
                path=request.url.path,
                parent=parent_meta("WebhookSubscription", sub.id),
                query=ctx.query,
            )
        )

    def _event(ctx: Ctx, request: Request) -> WebhookEvent:
        sub = _sub_or_404(ctx, request.path_params["rid"])
        event = ctx.store.events.get(request.path_params["eid"])
        if event is None or event.subscription_id != sub.id:
            raise not_found()
        return event

    async def event(request: Request) -> Response:
        ctx = ctx_of(request)
        e = _event(ctx, request)
        return document(
            single_doc(
                ctx,
                EVENT,
                e,
                parent=parent_meta("WebhookSubscription", e.subscription_id),
                query=ctx.query,
            )
        )

    async def deliveries(request: Request) -> Response:
        ctx = ctx_of(request)
        e = _event(ctx, request)
        rows = [(e, d) for d in e.deliveries]
        return document(
            collection_doc(
                ctx,
                DELIVERY,
                rows,
                path=request.url.path,
                parent=parent_meta("Event", e.id),
                query=ctx.query,
            )
        )

    async def available(request: Request) -> Response:
        ctx = ctx_of(request)
        rows = list(enumerate(AVAILABLE_EVENTS, start=1))
        return document(
            collection_doc(
                ctx, AVAILABLE, rows, path=request.url.path, parent=_org(ctx), query=ctx.query
            )
        )

    subs = f"{W}/webhook_subscriptions"
    return [
        Route(subs, subscriptions, methods=["GET", "POST"]),
        Route(f"{subs}/{{rid:int}}", subscription, methods=["GET", "PATCH", "DELETE"]),
        Route(f"{subs}/{{rid:int}}/rotate_secret", rotate_secret, methods=["POST"]),
        Route(f"{subs}/{{rid:int}}/events", events, methods=["GET"]),
        Route(f"{subs}/{{rid:int}}/events/{{eid:int}}", event, methods=["GET"]),
        Route(f"{subs}/{{rid:int}}/events/{{eid:int}}/deliveries", deliveries, methods=["GET"]),
        Route(f"{W}/available_events", available, methods=["GET"]),
    ]
