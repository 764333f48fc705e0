"""Async Planning Center client (People, Services, Webhooks) on the shared HTTP layer.

Reads use the fewest requests the API allows (spec §8): ``per_page=100``, ``include=`` for
contact records, org-wide collections and full-UTC ``updated_at`` filters. Every query is
checked against the endpoint's ``meta.can_*`` before its records are used, because PCO
ignores unsupported parameters silently.

All requests made with one PCO login share one :class:`HeaderPacedRateLimiter` (the limit is
per user), whichever client object sends them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from pcosync.clients.http import (
    DEEP_LANE,
    ApiHttpClient,
    Clock,
    HeaderPacedRateLimiter,
    RetryPolicy,
    SystemClock,
)
from pcosync.clients.pco.auth import OAuthAuth, pat_auth
from pcosync.clients.pco.errors import classify_pco
from pcosync.clients.pco.jsonapi import MAX_PER_PAGE, Document, Query, Resource, decode_document
from pcosync.clients.pco.models import (
    PcoAddress,
    PcoAssignment,
    PcoCampus,
    PcoEmail,
    PcoFolder,
    PcoPerson,
    PcoPersonMerger,
    PcoPhone,
    PcoServicesPerson,
    PcoServiceType,
    PcoTag,
    PcoTagGroup,
    PcoTeam,
    PcoWebhookSubscription,
)
from pcosync.errors import ConfigError, NotFoundError, PaginationError

DEFAULT_URL = "https://api.planningcenteronline.com"

# The versions pcosync is written and tested against; pinned per product (spec §7.1).
API_VERSIONS = {
    "people": "2025-11-10",
    "services": "2018-11-01",
    "webhooks": "2022-10-20",
}

CONTACT_INCLUDES = ("emails", "phone_numbers", "addresses")

T = TypeVar("T")

_LIMITERS: dict[str, HeaderPacedRateLimiter] = {}


def shared_limiter(
    base_url: str, user_key: str, clock: Clock | None = None
) -> HeaderPacedRateLimiter:
    """The one limiter of a PCO user (keyed by a hash, so no credential is kept as a key)."""
    key = hashlib.sha256(f"{base_url}\0{user_key}".encode()).hexdigest()
    limiter = _LIMITERS.get(key)
    if limiter is None:
        limiter = HeaderPacedRateLimiter(clock=clock)
        _LIMITERS[key] = limiter
    return limiter


# Requests with an offset above this live under a stricter limit (75 of 100 per 20 s) that
# the rate-limit headers do not announce (spec §3; #1449, #1450).
DEEP_OFFSET = 30_000


def rate_lane(path: str, params: Any = None) -> str | None:
    """The limiter lane of a request: ``"deep"`` past offset 30,000, else the common one."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(params, Mapping):
        pairs = list(params.items())
    elif params:
        pairs = list(params)
    pairs += list(httpx.URL(path).params.multi_items())
    for key, value in pairs:
        if key == "offset" and str(value).isdigit() and int(value) > DEEP_OFFSET:
            return DEEP_LANE
    return None


def _product(path: str) -> str | None:
    parts = httpx.URL(path).path.strip("/").split("/")
    return parts[0] if parts and parts[0] in API_VERSIONS else None


class PcoClient:
    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        app_id: str | None = None,
        secret: str | None = None,
        oauth: OAuthAuth | None = None,
        limiter: HeaderPacedRateLimiter | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 30.0,
        max_in_flight: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        if oauth is None and not (app_id and secret):
            raise ConfigError(
                "Planning Center needs an application id and secret, or OAuth tokens",
                key="pco.app_id",
            )
        auth: httpx.Auth = oauth if oauth is not None else pat_auth(app_id or "", secret or "")
        user_key = app_id or (oauth.client_id if oauth else "")
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.limiter = limiter or shared_limiter(self.base_url, user_key, self.clock)
        self.versions = dict(API_VERSIONS, **(versions or {}))
        self.http = ApiHttpClient(
            service="pco",
            base_url=self.base_url,
            classify=classify_pco,
            auth=auth,
            headers={"Accept": "application/json", "User-Agent": "pcosync"},
            limiter=self.limiter,
            retry=retry,
            clock=self.clock,
            timeout=timeout,
            max_in_flight=max_in_flight,
            transport=transport,
        )
        self._services_app_id: str | None = None
        self._services_app_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> PcoClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---------------------------------------------------------------- transport helpers

    def _headers(self, path: str) -> dict[str, str]:
        product = _product(path)
        return {"X-PCO-API-Version": self.versions[product]} if product else {}

    async def request_document(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> Document | None:
        response = await self.http.request(
            method,
            path,
            params=params,
            json=body,
            headers=self._headers(path),
            idempotent=idempotent,
            rate_lane=rate_lane(path, params),
        )
        if response.status_code == 204 or not response.content:
            return None
        # the body's bytes are let go before the records are built: a one-page team sweep
        # at 100,000 people is ~72 MB of JSON, as bytes and again as text while decoding
        raw = response.content
        del response
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        del raw
        return decode_document(text)

    async def get(
        self, path: str, query: Query | None = None, params: Sequence[tuple[str, str]] | None = None
    ) -> Document:
        doc = await self.request_document(
            "GET", path, params=list(query.params()) if query else params
        )
        if doc is None:
            raise NotFoundError(
                f"Planning Center GET {path} returned no document",
                service="pco",
                method="GET",
                path=path,
                status=204,
            )
        if query is not None:
            query.check(doc.meta, path)
            query.check_linked(doc, path)
        return doc

    async def get_one(self, path: str, include: Sequence[str] = ()) -> Document:
        """One resource; its includes are checked against ``meta.can_include``."""
        doc = await self.get(path, params=[("include", ",".join(include))] if include else None)
        if include:
            wanted = Query().with_include(*include)
            wanted.check({"can_include": doc.meta.get("can_include", [])}, path)
            wanted.check_linked(doc, path)
        if not doc.data:
            raise NotFoundError(
                f"Planning Center GET {path} returned no resource",
                service="pco",
                method="GET",
                path=path,
            )
        return doc

    async def pages(
        self, path: str, query: Query | None = None, *, first: Document | None = None
    ) -> AsyncIterator[Document]:
        """Pages of a collection, following ``links.next``; a repeated link stops with an error.

        ``first`` is a first page already read (it is yielded again, not re-requested)."""
        query = query or Query()
        doc = first if first is not None else await self.get(path, query)
        yield doc
        seen: set[str] = set()
        pages = 1
        total = doc.total_count
        limit = (total // max(1, query.per_page) + 3) if total is not None else None
        while doc.next_url:
            url = doc.next_url
            if url in seen or (limit is not None and pages > limit) or not doc.data:
                raise PaginationError(
                    f"Planning Center paging of {path} did not advance after {pages} pages",
                    service="pco",
                    method="GET",
                    path=path,
                )
            seen.add(url)
            next_doc = await self.request_document("GET", url)
            if next_doc is None:
                break
            doc = next_doc
            pages += 1
            yield doc

    async def collect(
        self, path: str, query: Query | None = None, *, concurrency: int = 4
    ) -> list[tuple[Resource, Document]]:
        """Every record of a collection with the page it came in (for include lookup).

        Fine for small collections; large ones should use :meth:`collect_as`, which keeps
        only the converted records, not every page's JSON.
        """
        return await self.collect_as(
            path, lambda res, doc: (res, doc), query, concurrency=concurrency
        )

    async def collect_as(
        self,
        path: str,
        convert: Callable[[Resource, Document], T],
        query: Query | None = None,
        *,
        concurrency: int = 4,
    ) -> list[T]:
        """Every record of a collection, converted page by page as the pages arrive.

        The first page tells the total; the remaining pages are fetched by offset, up to
        ``concurrency`` at a time (the rate limiter still paces them). Each page is converted
        and dropped as soon as it arrives, so memory holds the converted records, not the raw
        JSON of every page. Records are deduplicated by id, since offset paging can repeat a
        record when the collection shifts mid-scan; a page past the first count that brings
        nothing new means the paging did not advance, and stops with :class:`PaginationError`.
        """
        query = query or Query()
        out: list[T] = []
        seen: set[str] = set()

        def take(doc: Document) -> int:
            query.check_linked(doc, path)
            before = len(out)
            for res in doc.data:
                if res.id not in seen:
                    seen.add(res.id)
                    out.append(convert(res, doc))
            return len(out) - before

        first = await self.get(path, query)
        take(first)
        total = first.total_count
        per_page = min(MAX_PER_PAGE, max(1, query.per_page))
        if total is not None and total > len(first.data) and first.data and concurrency > 1:
            sem = asyncio.Semaphore(concurrency)
            offsets = range(per_page, total, per_page)

            async def fetch(offset: int) -> bool:
                async with sem:
                    doc = await self.request_document("GET", path, params=query.params(offset))
                if doc is None:
                    return False
                take(doc)  # converted now; the page's JSON is dropped with `doc`
                return bool(doc.next_url and doc.data)

            more = await asyncio.gather(*(fetch(o) for o in offsets))
            # anything added after the first page's count was taken is on a page past the end
            extra_offset = per_page * (len(offsets) + 1)
            going = bool(more and more[-1])
            while going:
                doc = await self.request_document("GET", path, params=query.params(extra_offset))
                if doc is None or not doc.data:
                    break
                if not take(doc):
                    raise PaginationError(
                        f"Planning Center paging of {path} repeated records at offset "
                        f"{extra_offset}",
                        service="pco",
                        method="GET",
                        path=path,
                    )
                going = bool(doc.next_url)
                extra_offset += per_page
        elif first.next_url:
            async for doc in self.pages(path, query, first=first):
                if doc is not first:  # the first page was taken above
                    take(doc)
        return out

    async def create(
        self,
        path: str,
        type_: str,
        attributes: Mapping[str, Any],
        relationships: Mapping[str, Any] | None = None,
    ) -> Document:
        data: dict[str, Any] = {"type": type_, "attributes": dict(attributes)}
        if relationships:
            data["relationships"] = dict(relationships)
        doc = await self.request_document("POST", path, body={"data": data})
        if doc is None:
            raise NotFoundError(
                f"Planning Center POST {path} returned no document",
                service="pco",
                method="POST",
                path=path,
            )
        return doc

    async def update(
        self, path: str, type_: str, id_: str, attributes: Mapping[str, Any]
    ) -> Document:
        body = {"data": {"type": type_, "id": str(id_), "attributes": dict(attributes)}}
        doc = await self.request_document("PATCH", path, body=body)
        if doc is None:
            raise NotFoundError(
                f"Planning Center PATCH {path} returned no document",
                service="pco",
                method="PATCH",
                path=path,
            )
        return doc

    async def delete(self, path: str) -> None:
        await self.request_document("DELETE", path)

    # ---------------------------------------------------------------- People

    async def people(
        self,
        *,
        updated_since: datetime | None = None,
        include: Sequence[str] = CONTACT_INCLUDES,
        active_only: bool = False,
        concurrency: int = 4,
    ) -> list[PcoPerson]:
        """All people (or those changed since a moment), with their contact records.

        Changed people are read newest first: offset paging over a list that shifts while it
        is read can only repeat a record then (someone edited meanwhile moves to the front,
        pushing the rest back; repeats are dropped by id), never skip one, as the oldest-first
        order would when a record already read moves to the end."""
        return await self.people_as(
            lambda p: p,
            updated_since=updated_since,
            include=include,
            active_only=active_only,
            concurrency=concurrency,
        )

    async def people_as(
        self,
        convert: Callable[[PcoPerson], T],
        *,
        updated_since: datetime | None = None,
        include: Sequence[str] = CONTACT_INCLUDES,
        active_only: bool = False,
        concurrency: int = 4,
    ) -> list[T]:
        """:meth:`people`, each person passed through ``convert`` as its page arrives: a
        caller that keeps only its own form of a person never holds every
        :class:`PcoPerson` as well (issue 14: memory at 100,000 people)."""
        query = Query().with_include(*include)
        if updated_since is not None:
            query.where_op("updated_at", "gte", updated_since).ordered("-updated_at")
        if active_only:
            query.where_eq("status", "active")
        return await self.collect_as(
            "/people/v2/people",
            lambda res, doc: convert(PcoPerson.from_resource(res, doc)),
            query,
            concurrency=concurrency,
        )

    async def person(self, person_id: str, include: Sequence[str] = CONTACT_INCLUDES) -> PcoPerson:
        doc = await self.get_one(f"/people/v2/people/{person_id}", include)
        return PcoPerson.from_resource(doc.data[0], doc)

    async def find_people(
        self, where: Mapping[str, str | int], include: Sequence[str] = CONTACT_INCLUDES
    ) -> list[PcoPerson]:
        query = Query().with_include(*include)
        for attr, value in where.items():
            query.where_eq(attr, value)
        rows = await self.collect("/people/v2/people", query, concurrency=1)
        return [PcoPerson.from_resource(res, doc) for res, doc in rows]

    async def create_person(self, attributes: Mapping[str, Any]) -> PcoPerson:
        """POST a person. A lost answer raises AmbiguousWriteError: re-read by remote_id."""
        doc = await self.create("/people/v2/people", "Person", attributes)
        return PcoPerson.from_resource(doc.data[0], doc)

    async def update_person(self, person_id: str, attributes: Mapping[str, Any]) -> PcoPerson:
        doc = await self.update(f"/people/v2/people/{person_id}", "Person", person_id, attributes)
        return PcoPerson.from_resource(doc.data[0], doc)

    async def create_email(
        self, person_id: str, address: str, *, location: str = "Home", primary: bool = True
    ) -> PcoEmail:
        doc = await self.create(
            f"/people/v2/people/{person_id}/emails",
            "Email",
            {"address": address, "location": location, "primary": primary},
        )
        return PcoEmail.from_resource(doc.data[0])

    async def update_email(self, email_id: str, attributes: Mapping[str, Any]) -> PcoEmail:
        doc = await self.update(f"/people/v2/emails/{email_id}", "Email", email_id, attributes)
        return PcoEmail.from_resource(doc.data[0])

    async def delete_email(self, email_id: str) -> None:
        await self.delete(f"/people/v2/emails/{email_id}")

    async def create_phone(
        self, person_id: str, number: str, *, location: str = "Mobile", primary: bool = False
    ) -> PcoPhone:
        doc = await self.create(
            f"/people/v2/people/{person_id}/phone_numbers",
            "PhoneNumber",
            {"number": number, "location": location, "primary": primary},
        )
        return PcoPhone.from_resource(doc.data[0])

    async def update_phone(self, phone_id: str, attributes: Mapping[str, Any]) -> PcoPhone:
        doc = await self.update(
            f"/people/v2/phone_numbers/{phone_id}", "PhoneNumber", phone_id, attributes
        )
        return PcoPhone.from_resource(doc.data[0])

    async def delete_phone(self, phone_id: str) -> None:
        await self.delete(f"/people/v2/phone_numbers/{phone_id}")

    async def create_address(self, person_id: str, attributes: Mapping[str, Any]) -> PcoAddress:
        doc = await self.create(f"/people/v2/people/{person_id}/addresses", "Address", attributes)
        return PcoAddress.from_resource(doc.data[0])

    async def update_address(self, address_id: str, attributes: Mapping[str, Any]) -> PcoAddress:
        doc = await self.update(
            f"/people/v2/addresses/{address_id}", "Address", address_id, attributes
        )
        return PcoAddress.from_resource(doc.data[0])

    async def delete_address(self, address_id: str) -> None:
        await self.delete(f"/people/v2/addresses/{address_id}")

    async def emails_changed_since(self, since: datetime) -> list[PcoEmail]:
        query = Query().where_op("updated_at", "gte", since).ordered("-updated_at")
        return [
            PcoEmail.from_resource(r) for r, _ in await self.collect("/people/v2/emails", query)
        ]

    async def phones_changed_since(self, since: datetime) -> list[PcoPhone]:
        query = Query().where_op("updated_at", "gte", since).ordered("-updated_at")
        rows = await self.collect("/people/v2/phone_numbers", query)
        return [PcoPhone.from_resource(r) for r, _ in rows]

    async def addresses_changed_since(self, since: datetime) -> list[PcoAddress]:
        """Addresses have no ``where[updated_at]``: read newest first and stop at ``since``."""
        out: list[PcoAddress] = []
        async for doc in self.pages("/people/v2/addresses", Query().ordered("-updated_at")):
            for res in doc.data:
                addr = PcoAddress.from_resource(res)
                if addr.updated_at is not None and addr.updated_at < since:
                    return out
                out.append(addr)
        return out

    async def person_mergers(self, since: datetime | None = None) -> list[PcoPersonMerger]:
        query = Query()
        if since is not None:
            query.where_op("created_at", "gte", since)
        rows = await self.collect("/people/v2/person_mergers", query)
        return [PcoPersonMerger.from_resource(r) for r, _ in rows]

    async def merger_for_removed(self, person_id: str) -> PcoPersonMerger | None:
        """After a 404: who was this person merged into? ``None`` means deleted (spec §4.9)."""
        query = Query().where_eq("person_to_remove_id", person_id)
        rows = await self.collect("/people/v2/person_mergers", query, concurrency=1)
        return PcoPersonMerger.from_resource(rows[0][0]) if rows else None

    async def campuses(self) -> list[PcoCampus]:
        rows = await self.collect("/people/v2/campuses", Query())
        return [PcoCampus.from_resource(r) for r, _ in rows]

    async def services_app_id(self) -> str:
        """The id of the Services app (staff: "I think it's 2"; read it, don't assume); read
        once, even when many writers ask at the same time."""
        async with self._services_app_lock:
            return await self._read_services_app_id()

    async def _read_services_app_id(self) -> str:
        if self._services_app_id is None:
            rows = await self.collect("/people/v2/apps", Query())
            for res, _ in rows:
                if str(res.attr("name", "")).lower() == "services":
                    self._services_app_id = res.id
                    break
            else:
                raise NotFoundError(
                    "Planning Center lists no Services app for this organisation",
                    service="pco",
                    method="GET",
                    path="/people/v2/apps",
                )
        return self._services_app_id

    async def add_person_to_services(self, person_id: str) -> None:
        """Create the Services PersonApp a person needs before any Services write (spec §5.5)."""
        app_id = await self.services_app_id()
        await self.create(
            f"/people/v2/people/{person_id}/person_apps",
            "PersonApp",
            {"app_id": int(app_id) if app_id.isdigit() else app_id},
        )

    # ---------------------------------------------------------------- Services

    async def folders(self) -> list[PcoFolder]:
        rows = await self.collect("/services/v2/folders", Query())
        return [PcoFolder.from_resource(r) for r, _ in rows]

    async def service_types(self) -> list[PcoServiceType]:
        rows = await self.collect("/services/v2/service_types", Query())
        return [PcoServiceType.from_resource(r) for r, _ in rows]

    async def teams(self, *, with_assignments: bool = True) -> list[PcoTeam]:
        """All teams with positions (and assignments): the org-wide sweep of spec §8(b)."""
        include = ["team_positions"]
        if with_assignments:
            include.append("person_team_position_assignments")
        rows = await self.collect("/services/v2/teams", Query().with_include(*include))
        return [PcoTeam.from_resource(r, d) for r, d in rows]

    async def team(self, team_id: str) -> PcoTeam:
        doc = await self.get_one(f"/services/v2/teams/{team_id}", ["team_positions"])
        return PcoTeam.from_resource(doc.data[0], doc)

    async def team_assignments(self, team_id: str) -> list[PcoAssignment]:
        query = Query().with_include("person", "team_position")
        rows = await self.collect(
            f"/services/v2/teams/{team_id}/person_team_position_assignments", query
        )
        return [PcoAssignment.from_resource(r) for r, _ in rows]

    async def person_assignments(
        self, person_id: str, *, live_only: bool = True
    ) -> list[PcoAssignment]:
        query = Query()
        if live_only:
            query.with_filter("not_archived", "not_deleted")
        rows = await self.collect(
            f"/services/v2/people/{person_id}/person_team_position_assignments", query
        )
        return [PcoAssignment.from_resource(r) for r, _ in rows]

    async def services_person(self, person_id: str) -> PcoServicesPerson:
        doc = await self.get(f"/services/v2/people/{person_id}")
        return PcoServicesPerson.from_resource(doc.data[0])

    async def set_services_permission(self, person_id: str, level: str) -> PcoServicesPerson:
        """The person's Services permission (spec §5.5: ``permissions`` is update-assignable
        on the Services person; there is no create)."""
        doc = await self.update(
            f"/services/v2/people/{person_id}", "Person", person_id, {"permissions": level}
        )
        return PcoServicesPerson.from_resource(doc.data[0])

    async def services_people_changed_since(self, since: datetime) -> list[PcoServicesPerson]:
        """No ``where[updated_at]`` on Services people: newest first until older than ``since``."""
        out: list[PcoServicesPerson] = []
        async for doc in self.pages("/services/v2/people", Query().ordered("-updated_at")):
            for res in doc.data:
                person = PcoServicesPerson.from_resource(res)
                if person.updated_at is not None and person.updated_at < since:
                    return out
                out.append(person)
        return out

    async def create_assignment(
        self,
        service_type_id: str,
        team_position_id: str,
        person_id: str,
        *,
        schedule_preference: str = "Every week",
    ) -> PcoAssignment:
        path = (
            f"/services/v2/service_types/{service_type_id}/team_positions/"
            f"{team_position_id}/person_team_position_assignments"
        )
        doc = await self.create(
            path,
            "PersonTeamPositionAssignment",
            {
                "person_id": int(person_id) if person_id.isdigit() else person_id,
                "schedule_preference": schedule_preference,
            },
        )
        return PcoAssignment.from_resource(doc.data[0])

    async def delete_assignment(
        self, service_type_id: str, team_position_id: str, assignment_id: str
    ) -> None:
        await self.delete(
            f"/services/v2/service_types/{service_type_id}/team_positions/"
            f"{team_position_id}/person_team_position_assignments/{assignment_id}"
        )

    async def tag_groups(self) -> list[PcoTagGroup]:
        query = Query().with_include("tags").with_filter("person")
        rows = await self.collect("/services/v2/tag_groups", query)
        return [PcoTagGroup.from_resource(r, d) for r, d in rows]

    async def services_people(self, *, with_tags: bool = False) -> list[PcoServicesPerson]:
        """Every Services person (⌈Nₛ/100⌉ requests); ``with_tags`` includes their tags on
        the same pages, since tag assignments carry no timestamp to read changes by."""
        query = Query().with_include("tags") if with_tags else Query()
        return await self.collect_as(
            "/services/v2/people",
            lambda res, doc: PcoServicesPerson.from_resource(res, doc if with_tags else None),
            query,
        )

    async def person_tags(self, person_id: str) -> list[PcoTag]:
        rows = await self.collect(f"/services/v2/people/{person_id}/tags", Query())
        return [PcoTag.from_resource(r) for r, _ in rows]

    async def assign_tags(self, person_id: str, tag_ids: Sequence[str]) -> None:
        """Replaces **all** of the person's tags: pass the complete set (spec §5.8)."""
        body = {
            "data": {
                "type": "TagAssignment",
                "attributes": {},
                "relationships": {
                    "tags": {"data": [{"type": "Tag", "id": str(t)} for t in tag_ids]}
                },
            }
        }
        await self.request_document(
            "POST", f"/services/v2/people/{person_id}/assign_tags", body=body, idempotent=True
        )

    # ---------------------------------------------------------------- Webhooks

    async def webhook_subscriptions(self) -> list[PcoWebhookSubscription]:
        rows = await self.collect("/webhooks/v2/webhook_subscriptions", Query())
        return [PcoWebhookSubscription.from_resource(r) for r, _ in rows]

    async def create_webhook_subscription(
        self, name: str, url: str, *, active: bool = True
    ) -> PcoWebhookSubscription:
        doc = await self.create(
            "/webhooks/v2/webhook_subscriptions",
            "WebhookSubscription",
            {"name": name, "url": url, "active": active},
        )
        return PcoWebhookSubscription.from_resource(doc.data[0])

    async def delete_webhook_subscription(self, subscription_id: str) -> None:
        await self.delete(f"/webhooks/v2/webhook_subscriptions/{subscription_id}")

    async def available_events(self) -> list[str]:
        rows = await self.collect("/webhooks/v2/available_events", Query())
        return [str(r.attr("name")) for r, _ in rows]
