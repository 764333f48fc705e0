"""``/people/v2`` routes: people and their emails, phone numbers, addresses, apps, merges,
households.

Writes accept only the documented assignable attributes (422 "Forbidden Attribute"
otherwise), validate like PCO (422 ``Validation Error`` with ``source.parameter``), and bump
the person's ``updated_at`` for contact changes (spec §4.11). Merged-away and deleted people
are 404; nested URLs with the wrong parent id are 404 (#994).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pcosync.emulators.pco.jsonapi import (
    Ctx,
    Json,
    ResourceSpec,
    attributes_of,
    check_assignable,
    collection_doc,
    ctx_of,
    document,
    no_content,
    not_found,
    parent_meta,
    read_data,
    single_doc,
    unprocessable,
    validation_error,
)
from pcosync.emulators.pco.model import Address, Email, Person, PhoneNumber
from pcosync.emulators.pco.people_resources import (
    ADDRESS,
    APP,
    CAMPUS,
    EMAIL,
    GENDER_OPTIONS,
    HOUSEHOLD,
    MERGER,
    ORGANIZATION,
    PERSON,
    PERSON_APP,
    PHONE,
    P,
    get_person,
    org_parent,
    person_parent,
)
from pcosync.emulators.pco.store import whole_seconds
from pcosync.emulators.pco.versions import PEOPLE_STREET_LINES

# ---- write validation ----------------------------------------------------------------------

PERSON_ASSIGNABLE = frozenset({
    "given_name", "first_name", "nickname", "middle_name", "last_name", "birthdate",
    "anniversary", "gender", "grade", "child", "graduation_year", "site_administrator",
    "accounting_administrator", "people_permissions", "membership", "inactivated_at", "status",
    "medical_notes", "avatar", "primary_campus_id", "gender_id", "remote_id",
})  # fmt: skip
_STRINGS = (
    "given_name",
    "first_name",
    "nickname",
    "middle_name",
    "last_name",
    "people_permissions",
    "membership",
    "medical_notes",
    "avatar",
)
_BOOLS = ("child", "site_administrator", "accounting_administrator")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        raise ValueError(value)
    return date.fromisoformat(value.strip()[:10])


def parse_time(value: Any, ctx: Ctx) -> datetime:
    if not isinstance(value, str):
        raise ValueError(value)
    when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=ctx.tz)
    return whole_seconds(when.astimezone(UTC))


def person_values(ctx: Ctx, attrs: Json, *, creating: bool) -> dict[str, Any]:
    """Canonical values from assignable attributes, or 422 listing every invalid one."""
    errors: list[Json] = []
    out: dict[str, Any] = {}

    def bad(name: str, detail: str) -> None:
        errors.append(validation_error(name, detail, "Person"))

    for name, value in attrs.items():
        if name in _STRINGS:
            out[name] = None if value is None else str(value)
        elif name in _BOOLS:
            b = _as_bool(value)
            if b is None:
                bad(name, "is not included in the list")
            else:
                out[name] = b
        elif name in ("birthdate", "anniversary"):
            if value in (None, ""):
                out[name] = None
            else:
                try:
                    out[name] = parse_date(value)
                except ValueError:
                    bad(name, "is invalid")
        elif name == "gender":
            g = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(str(value or "").lower())
            if value in (None, ""):
                out["gender"] = None
            elif g is None:
                bad(name, "is not included in the list")
            else:
                out["gender"] = g
        elif name == "gender_id":
            gid = _as_int(value)
            if value is None:
                out["gender"] = None
            elif gid not in GENDER_OPTIONS:
                bad("gender", "must exist")
            else:
                out["gender"] = GENDER_OPTIONS[gid]
        elif name in ("grade", "graduation_year", "remote_id"):
            n = _as_int(value)
            if value is None or value == "":
                out[name] = None
            elif n is None:
                bad(name, "is not a number")
            elif name == "grade" and not -1 <= n <= 12:
                bad(name, "is not included in the list")
            else:
                out[name] = n
        elif name == "status":
            inactive = str(value).lower() == "inactive"
            out["status"] = "inactive" if inactive else "active"
            out["inactivated_at"] = whole_seconds(ctx.now) if inactive else None
        elif name == "primary_campus_id":
            cid = _as_int(value)
            if value is None or value == "":
                out[name] = None
            elif cid is None or ctx.store.campuses.get(cid) is None:
                bad("primary_campus", "must exist")
            else:
                out[name] = cid
    if "inactivated_at" in attrs:  # a timestamp inactivates, null reactivates (#807, #369)
        raw = attrs["inactivated_at"]
        if raw in (None, ""):
            out["inactivated_at"] = None
            out["status"] = "active"
        else:
            try:
                out["inactivated_at"] = parse_time(raw, ctx)
                out["status"] = "inactive"
            except ValueError:
                bad("inactivated_at", "is invalid")
    if creating and not (out.get("first_name") or out.get("last_name") or out.get("given_name")):
        bad("first_name", "can't be blank")
    if errors:
        raise unprocessable(errors)
    return out


def keep_inactivation(person: Person, values: dict[str, Any], attrs: Json) -> dict[str, Any]:
    """``status: "inactive"`` for someone already inactive keeps their inactivation date."""
    if (
        values.get("status") == "inactive"
        and person.status == "inactive"
        and "inactivated_at" not in attrs
    ):
        values["inactivated_at"] = person.inactivated_at
    return values


def contact_values(ctx: Ctx, kind: str, attrs: Json, *, creating: bool) -> dict[str, Any]:
    resource = {"email": "Email", "phone_number": "PhoneNumber", "address": "Address"}[kind]
    errors: list[Json] = []
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if name == "primary":
            b = _as_bool(value)
            if b is None:
                errors.append(validation_error(name, "is not included in the list", resource))
            else:
                out[name] = b
        elif name == "street":  # the pre-2023-03-21 single street
            lines = str(value or "").split("\n", 1)
            out["street_line_1"] = lines[0] or None
            out["street_line_2"] = lines[1] if len(lines) > 1 else None
        else:
            out[name] = None if value is None else str(value)
    if kind == "email" and ("address" in out or creating):
        address = (out.get("address") or "").strip()
        if not address:
            errors.append(validation_error("address", "can't be blank", resource))
        elif not EMAIL_RE.match(address):
            errors.append(validation_error("address", "is invalid", resource))
        else:
            out["address"] = address
    if kind == "phone_number":
        if ("number" in out or creating) and not (out.get("number") or "").strip():
            errors.append(validation_error("number", "can't be blank", resource))
        if ("location" in out or creating) and not (out.get("location") or "").strip():
            errors.append(validation_error("location", "can't be blank", resource))
    if kind != "phone_number" and "location" in out and not out["location"]:
        out["location"] = "Home"
    if errors:
        raise unprocessable(errors)
    return out


def contact_assignable(ctx: Ctx, kind: str) -> frozenset[str]:
    if kind == "email":
        return frozenset({"address", "location", "primary"})
    if kind == "phone_number":
        return frozenset({"number", "carrier", "location", "primary"})
    if ctx.version < PEOPLE_STREET_LINES:
        return frozenset({"city", "state", "zip", "street", "location", "primary"})
    return frozenset(
        {
            "street_line_1",
            "street_line_2",
            "city",
            "state",
            "zip",
            "country_code",
            "location",
            "primary",
        }
    )


# ---- route handlers ------------------------------------------------------------------------


def _pid(request: Request, name: str = "person_id") -> int:
    value: int = request.path_params[name]
    return value


async def organization(request: Request) -> Response:
    ctx = ctx_of(request)
    doc = single_doc(ctx, ORGANIZATION, (ctx.store.org, P), parent=org_parent(ctx), query=ctx.query)
    doc["meta"].pop("parent", None)
    return document(doc)


async def me(request: Request) -> Response:
    ctx = ctx_of(request)
    if ctx.user_id is None:
        raise not_found()
    person = get_person(ctx, ctx.user_id)
    return document(single_doc(ctx, PERSON, person, parent=org_parent(ctx), query=ctx.query))


async def people_collection(request: Request) -> Response:
    ctx = ctx_of(request)
    if request.method == "POST":
        data = await read_data(request, "Person")
        attrs = attributes_of(data)
        check_assignable(attrs, PERSON_ASSIGNABLE)
        values = person_values(ctx, attrs, creating=True)
        person = ctx.store.create_person(values, ctx.now)
        return document(
            single_doc(ctx, PERSON, person, parent=org_parent(ctx), query=ctx.query), 201
        )
    doc = collection_doc(
        ctx,
        PERSON,
        ctx.store.people.values(),
        path=request.url.path,
        parent=org_parent(ctx),
        query=ctx.query,
    )
    return document(doc)


async def person_resource(request: Request) -> Response:
    ctx = ctx_of(request)
    person = get_person(ctx, _pid(request))
    if request.method == "DELETE":
        ctx.store.delete_person(person)
        return no_content()
    if request.method == "PATCH":
        data = await read_data(request, "Person", person.id)
        attrs = attributes_of(data)
        check_assignable(attrs, PERSON_ASSIGNABLE)
        values = keep_inactivation(person, person_values(ctx, attrs, creating=False), attrs)
        ctx.store.update_person(person, values, ctx.now)
    return document(single_doc(ctx, PERSON, person, parent=org_parent(ctx), query=ctx.query))


_CONTACT = {
    "emails": ("email", EMAIL),
    "phone_numbers": ("phone_number", PHONE),
    "addresses": ("address", ADDRESS),
}


def _new_contact(ctx: Ctx, kind: str, person: Person, values: dict[str, Any]) -> Any:
    s = ctx.store
    now = whole_seconds(ctx.now)
    primary = bool(values.get("primary", False))
    if kind == "email":
        return Email(
            s.new_id("email"),
            person.id,
            values["address"],
            values.get("location") or "Home",
            primary,
            now,
            now,
        )
    if kind == "phone_number":
        return PhoneNumber(
            s.new_id("phone_number"),
            person.id,
            values["number"],
            values["location"],
            primary,
            now,
            now,
            carrier=values.get("carrier"),
        )
    return Address(
        s.new_id("address"),
        person.id,
        values.get("street_line_1"),
        values.get("street_line_2"),
        values.get("city"),
        values.get("state"),
        values.get("zip"),
        values.get("location") or "Home",
        primary,
        now,
        now,
        country_code=values.get("country_code") or ctx.store.org.country_code,
    )


def _contact_handlers(
    collection: str,
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    kind, spec = _CONTACT[collection]

    async def nested(request: Request) -> Response:
        ctx = ctx_of(request)
        person = get_person(ctx, _pid(request))
        table = ctx.store._contact_table(kind)
        if request.method == "POST":
            data = await read_data(request, spec.type)
            attrs = attributes_of(data)
            check_assignable(attrs, contact_assignable(ctx, kind))
            values = contact_values(ctx, kind, attrs, creating=True)
            row = ctx.store.add_contact(
                kind, person, _new_contact(ctx, kind, person, values), ctx.now
            )
            return document(
                single_doc(ctx, spec, row, parent=person_parent(person.id), query=ctx.query), 201
            )
        doc = collection_doc(
            ctx,
            spec,
            table.children(person.id),
            path=request.url.path,
            parent=person_parent(person.id),
            query=ctx.query,
        )
        return document(doc)

    async def org_wide(request: Request) -> Response:
        ctx = ctx_of(request)
        table = ctx.store._contact_table(kind)
        doc = collection_doc(
            ctx,
            spec,
            table.values(),
            path=request.url.path,
            parent=org_parent(ctx),
            query=ctx.query,
        )
        return document(doc)

    async def one(request: Request) -> Response:
        ctx = ctx_of(request)
        table = ctx.store._contact_table(kind)
        row = table.get(request.path_params["rid"])
        owner = request.path_params.get("person_id")
        if row is None or (owner is not None and row.person_id != owner):
            raise not_found()  # nested URLs with the wrong parent id 404 (#994)
        person = ctx.store.people.get(row.person_id)
        parent = person_parent(row.person_id) if owner is not None else org_parent(ctx)
        if request.method == "DELETE":
            ctx.store.delete_contact(kind, row, person, ctx.now)
            return no_content()
        if request.method == "PATCH":
            data = await read_data(request, spec.type, row.id)
            attrs = attributes_of(data)
            check_assignable(attrs, contact_assignable(ctx, kind))
            values = contact_values(ctx, kind, attrs, creating=False)
            if person is None:
                raise not_found()
            ctx.store.update_contact(kind, row, values, person, ctx.now)
        return document(single_doc(ctx, spec, row, parent=parent, query=ctx.query))

    return nested, org_wide, one


async def email_person(request: Request) -> Response:
    ctx = ctx_of(request)
    email = ctx.store.emails.get(request.path_params["rid"])
    if email is None:
        raise not_found()
    person = get_person(ctx, email.person_id)
    return document(single_doc(ctx, PERSON, person, parent=org_parent(ctx), query=ctx.query))


async def person_organization(request: Request) -> Response:
    ctx = ctx_of(request)
    person = get_person(ctx, _pid(request))
    doc = single_doc(
        ctx,
        ORGANIZATION,
        (ctx.store.org, f"{P}/people/{person.id}/organization"),
        parent=person_parent(person.id),
        query=ctx.query,
    )
    return document(doc)


def _simple_collection(spec: ResourceSpec, rows: Callable[[Ctx], list[Any]]) -> Callable[..., Any]:
    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        return document(
            collection_doc(
                ctx, spec, rows(ctx), path=request.url.path, parent=org_parent(ctx), query=ctx.query
            )
        )

    return handler


def _simple_one(spec: ResourceSpec, get: Callable[[Ctx, int], Any]) -> Callable[..., Any]:
    async def handler(request: Request) -> Response:
        ctx = ctx_of(request)
        row = get(ctx, request.path_params["rid"])
        if row is None:
            raise not_found()
        return document(single_doc(ctx, spec, row, parent=org_parent(ctx), query=ctx.query))

    return handler


async def person_apps(request: Request) -> Response:
    ctx = ctx_of(request)
    person = get_person(ctx, _pid(request))
    if request.method == "POST":
        data = await read_data(request, "PersonApp")
        attrs = attributes_of(data)
        check_assignable(attrs, ("app_id",))  # allow_pco_login etc. are refused (#328, #249)
        app_id = _as_int(attrs.get("app_id"))
        if app_id is None or ctx.store.apps.get(app_id) is None:
            raise unprocessable([validation_error("app", "must exist", "PersonApp")])
        if any(pa.app_id == app_id for pa in ctx.store.person_apps.children(person.id)):
            raise unprocessable([validation_error("app", "has already been taken", "PersonApp")])
        pa = ctx.store.add_person_app(person, app_id, ctx.now)
        return document(
            single_doc(ctx, PERSON_APP, pa, parent=person_parent(person.id), query=ctx.query), 201
        )
    doc = collection_doc(
        ctx,
        PERSON_APP,
        ctx.store.person_apps.children(person.id),
        path=request.url.path,
        parent=person_parent(person.id),
        query=ctx.query,
    )
    return document(doc)


async def person_app(request: Request) -> Response:
    ctx = ctx_of(request)
    person = get_person(ctx, _pid(request))
    pa = ctx.store.person_apps.get(request.path_params["rid"])
    if pa is None or pa.person_id != person.id:
        raise not_found()
    if request.method == "DELETE":
        ctx.store.remove_person_app(pa)
        return no_content()
    return document(
        single_doc(ctx, PERSON_APP, pa, parent=person_parent(person.id), query=ctx.query)
    )


async def person_app_list(request: Request) -> Response:
    """``/people/{id}/apps``: the apps this person can use."""
    ctx = ctx_of(request)
    person = get_person(ctx, _pid(request))
    apps = [
        a
        for pa in ctx.store.person_apps.children(person.id)
        if (a := ctx.store.apps.get(pa.app_id)) is not None
    ]
    return document(
        collection_doc(
            ctx, APP, apps, path=request.url.path, parent=person_parent(person.id), query=ctx.query
        )
    )


async def person_households(request: Request) -> Response:
    ctx = ctx_of(request)
    person = get_person(ctx, _pid(request))
    s = ctx.store
    rows = [
        s.households.rows[h]
        for h in s.households_by_person.get(person.id, ())
        if h in s.households.rows
    ]
    return document(
        collection_doc(
            ctx,
            HOUSEHOLD,
            rows,
            path=request.url.path,
            parent=person_parent(person.id),
            query=ctx.query,
        )
    )


async def households(request: Request) -> Response:
    ctx = ctx_of(request)
    if request.method == "POST":
        data = await read_data(request, "Household")
        attrs = attributes_of(data)
        check_assignable(attrs, ("name",))
        rels = data.get("relationships") or {}
        errors: list[Json] = []
        members: list[int] = []
        for item in (rels.get("people") or {}).get("data") or []:
            pid = _as_int((item or {}).get("id"))
            if pid is None or ctx.store.people.get(pid) is None:
                errors.append(validation_error("people", "must exist", "Household"))
                break
            members.append(pid)
        contact = _as_int(((rels.get("primary_contact") or {}).get("data") or {}).get("id"))
        if not members:
            errors.append(validation_error("people", "can't be blank", "Household"))
        if contact is None or contact not in members:
            errors.append(validation_error("primary_contact", "must exist", "Household"))
        if errors:
            raise unprocessable(errors)
        assert contact is not None
        name = str(attrs.get("name") or f"{ctx.store.people.rows[contact].last_name} Household")
        h = ctx.store.create_household(name, members, contact, ctx.now)
        return document(single_doc(ctx, HOUSEHOLD, h, parent=org_parent(ctx), query=ctx.query), 201)
    return document(
        collection_doc(
            ctx,
            HOUSEHOLD,
            ctx.store.households.values(),
            path=request.url.path,
            parent=org_parent(ctx),
            query=ctx.query,
        )
    )


async def household_people(request: Request) -> Response:
    ctx = ctx_of(request)
    h = ctx.store.households.get(request.path_params["rid"])
    if h is None:
        raise not_found()
    rows = sorted(
        (p for i in h.member_ids if (p := ctx.store.people.get(i)) is not None), key=lambda p: p.id
    )
    return document(
        collection_doc(
            ctx,
            PERSON,
            rows,
            path=request.url.path,
            parent=parent_meta("Household", h.id),
            query=ctx.query,
        )
    )


def routes() -> list[Route]:
    """Every ``/people/v2`` route; unknown methods on these paths answer 405."""
    out = [
        Route(P, organization, methods=["GET"]),
        Route(f"{P}/me", me, methods=["GET"]),
        Route(f"{P}/people", people_collection, methods=["GET", "POST"]),
        Route(f"{P}/people/{{person_id:int}}", person_resource, methods=["GET", "PATCH", "DELETE"]),
        Route(f"{P}/people/{{person_id:int}}/organization", person_organization, methods=["GET"]),
        Route(f"{P}/people/{{person_id:int}}/person_apps", person_apps, methods=["GET", "POST"]),
        Route(
            f"{P}/people/{{person_id:int}}/person_apps/{{rid:int}}",
            person_app,
            methods=["GET", "DELETE"],
        ),
        Route(f"{P}/people/{{person_id:int}}/apps", person_app_list, methods=["GET"]),
        Route(f"{P}/people/{{person_id:int}}/households", person_households, methods=["GET"]),
        Route(f"{P}/emails/{{rid:int}}/person", email_person, methods=["GET"]),
        Route(
            f"{P}/campuses",
            _simple_collection(CAMPUS, lambda c: c.store.campuses.values()),
            methods=["GET"],
        ),
        Route(
            f"{P}/campuses/{{rid:int}}",
            _simple_one(CAMPUS, lambda c, i: c.store.campuses.get(i)),
            methods=["GET"],
        ),
        Route(
            f"{P}/person_mergers",
            _simple_collection(MERGER, lambda c: c.store.mergers.values()),
            methods=["GET"],
        ),
        Route(
            f"{P}/person_mergers/{{rid:int}}",
            _simple_one(MERGER, lambda c, i: c.store.mergers.get(i)),
            methods=["GET"],
        ),
        Route(
            f"{P}/apps", _simple_collection(APP, lambda c: c.store.apps.values()), methods=["GET"]
        ),
        Route(
            f"{P}/apps/{{rid:int}}",
            _simple_one(APP, lambda c, i: c.store.apps.get(i)),
            methods=["GET"],
        ),
        Route(f"{P}/households", households, methods=["GET", "POST"]),
        Route(
            f"{P}/households/{{rid:int}}",
            _simple_one(HOUSEHOLD, lambda c, i: c.store.households.get(i)),
            methods=["GET"],
        ),
        Route(f"{P}/households/{{rid:int}}/people", household_people, methods=["GET"]),
    ]
    for collection in _CONTACT:
        nested, org_wide, one = _contact_handlers(collection)
        out += [
            Route(f"{P}/people/{{person_id:int}}/{collection}", nested, methods=["GET", "POST"]),
            Route(
                f"{P}/people/{{person_id:int}}/{collection}/{{rid:int}}",
                one,
                methods=["GET", "PATCH", "DELETE"],
            ),
            Route(f"{P}/{collection}", org_wide, methods=["GET"]),
            Route(f"{P}/{collection}/{{rid:int}}", one, methods=["GET", "PATCH", "DELETE"]),
        ]
    return out
