"""People resources: how each People record renders, and what can be queried, ordered,
included and filtered, per API version.

Renderings follow the requested People version (spec §4, §7.1): ``gender`` is ``"M"``/``"F"``
before 2022-07-14 and ``"Male"``/``"Female"`` from it; addresses have one ``street`` before
2023-03-21 and ``street_line_1``/``street_line_2`` from it; the 2018-08-01 attribute and
``can_*`` lists are those of the recorded fixtures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Any

import phonenumbers

from pcosync.emulators.pco.jsonapi import (
    Ctx,
    Field,
    FilterFn,
    Include,
    Json,
    ResourceSpec,
    fmt_date,
    fmt_dt,
    ident,
    not_found,
    parent_meta,
    sparse,
    to_one,
)
from pcosync.emulators.pco.model import (
    Address,
    App,
    Campus,
    Email,
    Household,
    Person,
    PersonApp,
    PersonMerger,
    PhoneNumber,
)
from pcosync.emulators.pco.store import Organization
from pcosync.emulators.pco.versions import (
    PEOPLE_2022,
    PEOPLE_2025,
    PEOPLE_FULL_GENDER,
    PEOPLE_STREET_LINES,
)

P = "/people/v2"
STATIC = "https://people.planningcenteronline.com/static"

GENDER_OPTIONS = {1: "M", 2: "F"}  # gender_id → canonical gender (Gender options)


# ---- helpers -----------------------------------------------------------------------------


def org_parent(ctx: Ctx) -> Json:
    return parent_meta("Organization", ctx.store.org.id)


def person_parent(person_id: int) -> Json:
    return parent_meta("Person", person_id)


def get_person(ctx: Ctx, person_id: int) -> Person:
    """A live person; merged-away and deleted people are 404 (spec §4.9)."""
    person = ctx.store.people.get(person_id)
    if person is None:
        raise not_found()
    return person


def render_gender(ctx: Ctx, gender: str | None) -> str | None:
    if gender is None or ctx.version < PEOPLE_FULL_GENDER:
        return gender
    return {"M": "Male", "F": "Female"}.get(gender, gender)


def avatar(person: Person) -> str:
    if person.avatar:
        return person.avatar
    if person.gender is None:
        return f"{STATIC}/no_photo_thumbnail_gray.png"
    kind = {("M", False): "man", ("F", False): "woman", ("M", True): "boy", ("F", True): "girl"}
    return f"{STATIC}/no_photo_thumbnail_{kind[(person.gender, person.child)]}_gray.svg"


def person_name(person: Person) -> str:
    return " ".join(n for n in (person.first_name, person.last_name) if n)


_PHONE_FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
)


_NANP = re.compile(r"^[2-9]\d{2}[2-9]\d{6}$")
_NANP_REGION: dict[str, str | None] = {}


def _has_letters(value: str) -> bool:
    return any(ch.isalpha() for ch in value)


def phone_computed(
    phone: PhoneNumber, region: str
) -> tuple[str | None, str | None, str | None, str | None]:
    """``(e164, national, international, country_code)``, computed once per number."""
    if phone.computed is None and region in ("US", "CA"):
        digits = "".join(ch for ch in phone.number if ch.isdigit())
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) == 10 and _NANP.match(digits) and not _has_letters(phone.number):
            area = digits[:3]
            if area not in _NANP_REGION:  # phonenumbers decides once per area code
                parsed = phonenumbers.parse("+1" + digits, region)
                _NANP_REGION[area] = phonenumbers.region_code_for_number(parsed)
            a, e, n = digits[:3], digits[3:6], digits[6:]
            phone.computed = (
                f"+1{digits}",
                f"({a}) {e}-{n}",
                f"+1 {a}-{e}-{n}",
                _NANP_REGION[area],
            )
    if phone.computed is None:
        try:
            parsed = phonenumbers.parse(phone.number, region)
            if not phonenumbers.is_possible_number(parsed):
                raise phonenumbers.NumberParseException(1, "impossible")
            e164, national, international = (
                phonenumbers.format_number(parsed, f) for f in _PHONE_FORMATS
            )
            phone.computed = (
                e164,
                national,
                international,
                phonenumbers.region_code_for_number(parsed),
            )
        except phonenumbers.NumberParseException:
            phone.computed = (None, None, None, None)
    return phone.computed


# ---- renderers -------------------------------------------------------------------------

_PERSON_LINKS = (
    "addresses", "apps", "connected_people", "emails", "field_data", "household_memberships",
    "households", "inactive_reason", "marital_status", "message_groups", "messages",
    "name_prefix", "name_suffix", "notes", "organization", "person_apps", "phone_numbers",
    "platform_notifications", "primary_campus", "school", "social_profiles", "workflow_cards",
)  # fmt: skip
_UNSET_TO_ONE = frozenset(
    {"inactive_reason", "marital_status", "name_prefix", "name_suffix", "school"}
)


def render_person(ctx: Ctx, p: Person, full: bool) -> Json:
    v = ctx.version
    attrs: Json = {
        "accounting_administrator": p.accounting_administrator,
        "anniversary": fmt_date(p.anniversary),
        "avatar": avatar(p),
        "birthdate": fmt_date(p.birthdate),
        "child": p.child,
        "created_at": fmt_dt(p.created_at),
        "demographic_avatar_url": avatar(p) if not p.avatar else _demographic(p),
        "first_name": p.first_name,
        "gender": render_gender(ctx, p.gender),
        "given_name": p.given_name,
        "grade": p.grade,
        "graduation_year": p.graduation_year,
        "inactivated_at": fmt_dt(p.inactivated_at),
        "last_name": p.last_name,
        "medical_notes": p.medical_notes,
        "membership": p.membership,
        "middle_name": p.middle_name,
        "name": person_name(p),
        "nickname": p.nickname,
        "passed_background_check": p.passed_background_check,
        "people_permissions": p.people_permissions,
        "remote_id": p.remote_id,
        "school_type": p.school_type,
        "site_administrator": p.site_administrator,
        "status": p.status,
        "updated_at": fmt_dt(p.updated_at),
    }
    if v >= PEOPLE_2022:
        attrs["can_create_forms"] = p.can_create_forms
        attrs["can_email_lists"] = p.can_email_lists
        attrs["directory_status"] = p.directory_status
    if v >= PEOPLE_2025:
        attrs["login_identifier"] = p.login_identifier
        attrs["mfa_configured"] = False
        attrs["resource_permission_flags"] = {}
        attrs["stripe_customer_identifier"] = None
    if ctx.wants("Person", "directory_shared_info"):
        attrs["directory_shared_info"] = {}
    attrs = sparse(ctx, "Person", dict(sorted(attrs.items())))
    self_url = ctx.url(f"{P}/people/{p.id}")
    res: Json = {
        "type": "Person",
        "id": str(p.id),
        "attributes": attrs,
        "relationships": {"primary_campus": to_one("Campus", p.primary_campus_id)},
    }
    if not full:
        res["links"] = {"self": self_url}
        return res
    links: Json = {"": self_url + "/"}  # the recorded API really has this odd key
    for name in _PERSON_LINKS:
        if name in _UNSET_TO_ONE:
            links[name] = None
        elif name == "primary_campus":
            links[name] = (
                ctx.url(f"{P}/campuses/{p.primary_campus_id}") if p.primary_campus_id else None
            )
        else:
            links[name] = f"{self_url}/{name}"
    links["self"] = self_url
    res["links"] = links
    return res


def _demographic(p: Person) -> str:
    return avatar(
        Person(p.id, None, None, p.created_at, p.updated_at, gender=p.gender, child=p.child)
    )


def render_email(ctx: Ctx, e: Email, full: bool) -> Json:
    attrs: Json = {"address": e.address}
    if ctx.version >= PEOPLE_2022:
        attrs["blocked"] = e.blocked
    attrs.update(
        created_at=fmt_dt(e.created_at),
        location=e.location,
        primary=e.primary,
        updated_at=fmt_dt(e.updated_at),
    )
    self_url = ctx.url(f"{P}/emails/{e.id}")
    links: Json = {"person": f"{self_url}/person", "self": self_url} if full else {"self": self_url}
    return {
        "type": "Email",
        "id": str(e.id),
        "attributes": sparse(ctx, "Email", attrs),
        "relationships": {"person": to_one("Person", e.person_id)},
        "links": links,
    }


def render_phone(ctx: Ctx, ph: PhoneNumber, full: bool) -> Json:
    e164, national, international, country = phone_computed(ph, ctx.store.org.country_code)
    attrs: Json = {
        "carrier": ph.carrier,
        "country_code": country,
        "created_at": fmt_dt(ph.created_at),
        "e164": e164,
        "international": international,
        "location": ph.location,
        "national": national,
        "number": ph.number,
        "primary": ph.primary,
        "updated_at": fmt_dt(ph.updated_at),
    }
    if ctx.wants("PhoneNumber", "formatted_number"):
        attrs["formatted_number"] = national or ph.number
        attrs = dict(sorted(attrs.items()))
    self_url = ctx.url(f"{P}/phone_numbers/{ph.id}")
    return {
        "type": "PhoneNumber",
        "id": str(ph.id),
        "attributes": sparse(ctx, "PhoneNumber", attrs),
        "relationships": {"person": to_one("Person", ph.person_id)},
        "links": {"self": self_url},
    }


COUNTRY_NAMES = {"US": "United States", "CA": "Canada", "MX": "Mexico", "GB": "United Kingdom"}


def render_address(ctx: Ctx, a: Address, full: bool) -> Json:
    attrs: Json = {"city": a.city}
    if ctx.version >= PEOPLE_2022:
        attrs["country_code"] = a.country_code
        attrs["country_name"] = COUNTRY_NAMES.get(a.country_code or "", a.country_code)
    attrs.update(
        created_at=fmt_dt(a.created_at), location=a.location, primary=a.primary, state=a.state
    )
    if ctx.version >= PEOPLE_STREET_LINES:
        attrs["street_line_1"] = a.street_line_1
        attrs["street_line_2"] = a.street_line_2
    else:
        attrs["street"] = "\n".join(s for s in (a.street_line_1, a.street_line_2) if s) or None
    attrs["updated_at"] = fmt_dt(a.updated_at)
    attrs["zip"] = a.zip
    return {
        "type": "Address",
        "id": str(a.id),
        "attributes": sparse(ctx, "Address", attrs),
        "relationships": {"person": to_one("Person", a.person_id)},
        "links": {"self": ctx.url(f"{P}/addresses/{a.id}")},
    }


def render_campus(ctx: Ctx, c: Campus, full: bool) -> Json:
    attrs: Json = {
        "avatar_url": None,
        "church_center_enabled": True,
        "city": c.city,
        "contact_email_address": None,
        "country": c.country,
        "created_at": fmt_dt(c.created_at),
        "date_format": 0,
        "description": None,
        "geolocation_set_manually": False,
        "latitude": None,
        "longitude": None,
        "name": c.name,
        "phone_number": c.phone_number,
        "state": c.state,
        "street": c.street,
        "time_zone": c.time_zone,
        "twenty_four_hour_time": False,
        "updated_at": fmt_dt(c.updated_at),
        "website": None,
        "zip": c.zip,
    }
    return {
        "type": "Campus",
        "id": str(c.id),
        "attributes": sparse(ctx, "Campus", attrs),
        "links": {"self": ctx.url(f"{P}/campuses/{c.id}")},
    }


OrgRef = tuple[Organization, str]


def render_org(ctx: Ctx, ref: OrgRef, full: bool) -> Json:
    org, path = ref
    return {
        "type": "Organization",
        "id": str(org.id),
        "attributes": {
            "country_code": org.country_code,
            "date_format": org.date_format,
            "name": org.name,
            "time_zone": org.time_zone,
        },
        "links": {"self": ctx.url(path)},
    }


def render_app(ctx: Ctx, app: App, full: bool) -> Json:
    return {
        "type": "App",
        "id": str(app.id),
        "attributes": {"name": app.name, "url": app.url},
        "links": {"self": ctx.url(f"{P}/apps/{app.id}")},
    }


def render_person_app(ctx: Ctx, pa: PersonApp, full: bool) -> Json:
    return {
        "type": "PersonApp",
        "id": str(pa.id),
        "attributes": {
            "allow_pco_login": pa.allow_pco_login,
            "people_permissions": pa.people_permissions,
        },
        "relationships": {
            "app": to_one("App", pa.app_id),
            "person": to_one("Person", pa.person_id),
        },
        "links": {"self": ctx.url(f"{P}/people/{pa.person_id}/person_apps/{pa.id}")},
    }


def render_merger(ctx: Ctx, m: PersonMerger, full: bool) -> Json:
    return {
        "type": "PersonMerger",
        "id": str(m.id),
        "attributes": {
            "created_at": fmt_dt(m.created_at),
            "person_to_keep_id": str(m.person_to_keep_id),
            "person_to_remove_id": str(m.person_to_remove_id),
        },
        "relationships": {
            "person_to_keep": to_one("Person", m.person_to_keep_id),
            "person_to_remove": to_one("Person", m.person_to_remove_id),
        },
        "links": {"self": ctx.url(f"{P}/person_mergers/{m.id}")},
    }


def render_household(ctx: Ctx, h: Household, full: bool) -> Json:
    contact = ctx.store.people.get(h.primary_contact_id)
    self_url = ctx.url(f"{P}/households/{h.id}")
    links: Json = {"self": self_url}
    if full:
        links = {
            "household_memberships": f"{self_url}/household_memberships",
            "people": f"{self_url}/people",
            "self": self_url,
        }
    return {
        "type": "Household",
        "id": str(h.id),
        "attributes": {
            "created_at": fmt_dt(h.created_at),
            "member_count": len(h.member_ids) if h.member_count_known else None,
            "name": h.name,
            "primary_contact_id": None
            if h.primary_contact_id is None
            else str(h.primary_contact_id),
            "primary_contact_name": person_name(contact) if contact else None,
            "updated_at": fmt_dt(h.updated_at),
        },
        "links": links,
    }


def _render_nothing(ctx: Ctx, record: Any, full: bool) -> Json:
    return {}


# ---- specifications ----------------------------------------------------------------------


def _f(name: str, kind: str, get: Callable[[Any], Any] | None = None) -> Field:
    return Field(name, kind, get or attrgetter(name))


def _gender_test(value: str) -> Callable[[Any], bool]:
    v = value.strip().lower()
    want = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(v)
    if not v:
        return lambda p: p.gender is None
    return lambda p: want is not None and p.gender == want


def _search_fields(ctx: Ctx) -> dict[str, Field]:
    store = ctx.store

    def names(value: str) -> Callable[[Any], bool]:
        tokens = [t for t in value.lower().replace("%", " ").split() if t]

        def test(p: Person) -> bool:
            parts = [
                x.lower()
                for x in (p.first_name, p.last_name, p.nickname, p.given_name, p.middle_name)
                if x
            ]
            return bool(tokens) and all(any(x.startswith(t) for x in parts) for t in tokens)

        return test

    def email_ids(value: str) -> set[int]:
        v = value.strip().lower()
        return (
            {e.person_id for e in store.emails if e.address.lower().startswith(v)} if v else set()
        )

    def phone_ids(value: str, e164_only: bool = False) -> set[int]:
        digits = "".join(ch for ch in value if ch.isdigit())
        if not digits:
            return set()
        region = store.org.country_code
        out: set[int] = set()
        for ph in store.phones:
            e164 = phone_computed(ph, region)[0] or ""
            if e164_only:
                if e164 == value.strip():
                    out.add(ph.person_id)
            elif digits in e164 or digits in "".join(c for c in ph.number if c.isdigit()):
                out.add(ph.person_id)
        return out

    def or_(
        *tests: Callable[[str], Callable[[Any], bool] | set[int]],
    ) -> Callable[[str], Callable[[Any], bool]]:
        def prepare(value: str) -> Callable[[Any], bool]:
            preds: list[Callable[[Any], bool]] = []
            for make in tests:
                made = make(value)
                if isinstance(made, set):
                    ids = made
                    preds.append(lambda p, ids=ids: p.id in ids)  # type: ignore[misc]
                else:
                    preds.append(made)
            return lambda p: any(t(p) for t in preds)

        return prepare

    return {
        "search_name": Field("search_name", "str", prepare=names),
        "search_name_or_email": Field("search_name_or_email", "str", prepare=or_(names, email_ids)),
        "search_name_or_email_or_phone_number": Field(
            "search_name_or_email_or_phone_number", "str", prepare=or_(names, email_ids, phone_ids)
        ),
        "search_phone_number": Field("search_phone_number", "str", prepare=or_(phone_ids)),
        "search_phone_number_e164": Field(
            "search_phone_number_e164", "str", prepare=or_(lambda v: phone_ids(v, e164_only=True))
        ),
    }


def _person_field(ctx: Ctx, name: str) -> Field:
    if name == "gender":
        return Field("gender", "str", attrgetter("gender"), prepare=_gender_test)
    if name in ("birthdate", "anniversary"):
        return _f(name, "date")
    if name in ("created_at", "updated_at", "inactivated_at"):
        return _f(name, "datetime")
    if name in ("grade", "graduation_year", "remote_id"):
        return _f(name, "int")
    if name in ("child", "site_administrator", "accounting_administrator", "mfa_configured"):
        return _f(name, "bool", (lambda p: False) if name == "mfa_configured" else None)
    if name in ("id", "primary_campus_id"):
        return _f(name, "id")
    return _f(name, "str")


PERSON_QUERY_2018 = (
    "given_name", "first_name", "nickname", "middle_name", "last_name", "birthdate",
    "anniversary", "gender", "grade", "child", "school_type", "graduation_year",
    "site_administrator", "accounting_administrator", "people_permissions", "membership",
    "inactivated_at", "status", "medical_notes", "created_at", "updated_at", "search_name",
    "search_name_or_email", "search_name_or_email_or_phone_number", "remote_id", "id",
)  # fmt: skip
PERSON_QUERY = (
    "accounting_administrator", "anniversary", "birthdate", "child", "created_at",
    "first_name", "gender", "given_name", "grade", "graduation_year", "id", "inactivated_at",
    "last_name", "medical_notes", "membership", "mfa_configured", "middle_name", "nickname",
    "people_permissions", "primary_campus_id", "remote_id", "search_name",
    "search_name_or_email", "search_name_or_email_or_phone_number", "search_phone_number",
    "search_phone_number_e164", "site_administrator", "status", "updated_at",
)  # fmt: skip
PERSON_ORDER_2018 = (
    "given_name", "first_name", "nickname", "middle_name", "last_name", "birthdate",
    "anniversary", "gender", "grade", "child", "school_type", "graduation_year",
    "site_administrator", "accounting_administrator", "people_permissions", "membership",
    "inactivated_at", "status", "created_at", "updated_at", "remote_id",
)  # fmt: skip
PERSON_ORDER = (
    "accounting_administrator", "anniversary", "birthdate", "child", "created_at",
    "first_name", "gender", "given_name", "grade", "graduation_year", "inactivated_at",
    "last_name", "membership", "middle_name", "nickname", "people_permissions", "remote_id",
    "site_administrator", "status", "updated_at",
)  # fmt: skip


def person_query_by(ctx: Ctx) -> list[Field]:
    names: tuple[str, ...] = PERSON_QUERY_2018 if ctx.version < PEOPLE_2022 else PERSON_QUERY
    if ctx.version < PEOPLE_2025:
        names = tuple(n for n in names if n != "mfa_configured")
    search = _search_fields(ctx)
    return [search[n] if n in search else _person_field(ctx, n) for n in names]


def person_order_by(ctx: Ctx) -> list[Field]:
    names = PERSON_ORDER_2018 if ctx.version < PEOPLE_2022 else PERSON_ORDER
    return [_person_field(ctx, n) for n in names]


def person_filters(ctx: Ctx) -> dict[str, FilterFn]:
    def created_since(c: Ctx, rows: list[Any]) -> list[Any]:
        raw = dict(c.query.params).get("created_since")
        if not raw:
            return rows
        try:
            since = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return rows
        if since.tzinfo is None:
            since = since.replace(tzinfo=c.tz)
        return [p for p in rows if p.created_at >= since]

    return {
        "created_since": created_since,
        "admins": lambda c, rows: [
            p for p in rows if p.site_administrator or p.people_permissions in ("Editor", "Manager")
        ],
        "organization_admins": lambda c, rows: [p for p in rows if p.site_administrator],
    }


def _related(path: str) -> Callable[[Ctx, Any], str]:
    return lambda ctx, r: ctx.url(f"{P}/people/{r.id}/{path}")


def _empty(ctx: Ctx, record: Any) -> list[Any]:
    return []


def _missing(ctx: Ctx, record: Any) -> None:
    return None


NOTHING: ResourceSpec = ResourceSpec("Nothing", _render_nothing)


def person_includes(ctx: Ctx) -> list[Include]:
    s = ctx.store
    return [
        Include(
            "addresses",
            lambda: ADDRESS,
            lambda c, p: s.addresses.children(p.id),
            True,
            _related("addresses"),
        ),
        Include(
            "emails", lambda: EMAIL, lambda c, p: s.emails.children(p.id), True, _related("emails")
        ),
        Include("field_data", lambda: NOTHING, _empty, True, _related("field_data")),
        Include(
            "households",
            lambda: HOUSEHOLD,
            lambda c, p: [
                s.households.rows[h]
                for h in s.households_by_person.get(p.id, ())
                if h in s.households.rows
            ],
            True,
            _related("households"),
        ),
        Include("inactive_reason", lambda: NOTHING, _missing, False, _related("inactive_reason")),
        Include("marital_status", lambda: NOTHING, _missing, False, _related("marital_status")),
        Include("name_prefix", lambda: NOTHING, _missing, False, _related("name_prefix")),
        Include("name_suffix", lambda: NOTHING, _missing, False, _related("name_suffix")),
        Include(
            "organization",
            lambda: ORGANIZATION,
            lambda c, p: (s.org, f"{P}/people/{p.id}/organization"),
            False,
            _related("organization"),
        ),
        Include(
            "person_apps",
            lambda: PERSON_APP,
            lambda c, p: s.person_apps.children(p.id),
            True,
            _related("person_apps"),
        ),
        Include(
            "phone_numbers",
            lambda: PHONE,
            lambda c, p: s.phones.children(p.id),
            True,
            _related("phone_numbers"),
        ),
        Include(
            "platform_notifications",
            lambda: NOTHING,
            _empty,
            True,
            _related("platform_notifications"),
        ),
        Include(
            "primary_campus",
            lambda: CAMPUS,
            lambda c, p: s.campuses.get(p.primary_campus_id),
            False,
            _related("primary_campus"),
        ),
        Include("school", lambda: NOTHING, _missing, False, _related("school")),
        Include("social_profiles", lambda: NOTHING, _empty, True, _related("social_profiles")),
    ]


PERSON: ResourceSpec = ResourceSpec(
    "Person", render_person, person_query_by, person_order_by, person_includes, person_filters
)


def _fields(*spec: tuple[str, str]) -> Callable[[Ctx], list[Field]]:
    fields = [_f(n, k) for n, k in spec]
    return lambda ctx: fields


def email_query_by(ctx: Ctx) -> list[Field]:
    if ctx.version < PEOPLE_2022:
        return [_f("address", "str"), _f("location", "str"), _f("primary", "bool")]
    return [
        _f("address", "str"),
        _f("blocked", "bool"),
        _f("created_at", "datetime"),
        _f("location", "str"),
        _f("primary", "bool"),
        _f("updated_at", "datetime"),
    ]


def email_order_by(ctx: Ctx) -> list[Field]:
    if ctx.version < PEOPLE_2022:
        return [
            _f("address", "str"),
            _f("location", "str"),
            _f("primary", "bool"),
            _f("created_at", "datetime"),
            _f("updated_at", "datetime"),
        ]
    return [
        _f("address", "str"),
        _f("created_at", "datetime"),
        _f("location", "str"),
        _f("primary", "bool"),
        _f("updated_at", "datetime"),
    ]


EMAIL: ResourceSpec = ResourceSpec("Email", render_email, email_query_by, email_order_by)

_PHONE_FIELDS = (
    ("carrier", "str"),
    ("created_at", "datetime"),
    ("location", "str"),
    ("number", "str"),
    ("primary", "bool"),
    ("updated_at", "datetime"),
)
PHONE: ResourceSpec = ResourceSpec(
    "PhoneNumber", render_phone, _fields(*_PHONE_FIELDS), _fields(*_PHONE_FIELDS)
)


def _street(a: Address) -> str | None:
    return "\n".join(s for s in (a.street_line_1, a.street_line_2) if s) or None


def address_query_by(ctx: Ctx) -> list[Field]:
    if ctx.version < PEOPLE_STREET_LINES:
        return [
            _f("city", "str"),
            _f("state", "str"),
            _f("zip", "str"),
            Field("street", "str", _street),
            _f("location", "str"),
            _f("primary", "bool"),
        ]
    return [
        _f("city", "str"),
        _f("country_code", "str"),
        _f("location", "str"),
        _f("primary", "bool"),
        _f("state", "str"),
        _f("street_line_1", "str"),
        _f("street_line_2", "str"),
        _f("zip", "str"),
    ]


def address_order_by(ctx: Ctx) -> list[Field]:
    if ctx.version < PEOPLE_STREET_LINES:
        return [*address_query_by(ctx), _f("created_at", "datetime"), _f("updated_at", "datetime")]
    return [
        _f("city", "str"),
        _f("country_code", "str"),
        _f("created_at", "datetime"),
        _f("location", "str"),
        _f("primary", "bool"),
        _f("state", "str"),
        _f("street_line_1", "str"),
        _f("street_line_2", "str"),
        _f("updated_at", "datetime"),
        _f("zip", "str"),
    ]


ADDRESS: ResourceSpec = ResourceSpec("Address", render_address, address_query_by, address_order_by)
CAMPUS: ResourceSpec = ResourceSpec(
    "Campus",
    render_campus,
    _fields(("created_at", "datetime"), ("updated_at", "datetime")),
    _fields(("created_at", "datetime"), ("name", "str"), ("updated_at", "datetime")),
)
ORGANIZATION: ResourceSpec = ResourceSpec("Organization", render_org)
APP: ResourceSpec = ResourceSpec("App", render_app)
PERSON_APP: ResourceSpec = ResourceSpec(
    "PersonApp",
    render_person_app,
    includes=lambda ctx: [
        Include(
            "app",
            lambda: APP,
            lambda c, pa: c.store.apps.get(pa.app_id),
            False,
            lambda c, pa: c.url(f"{P}/apps/{pa.app_id}"),
        )
    ],
)
MERGER: ResourceSpec = ResourceSpec(
    "PersonMerger",
    render_merger,
    _fields(("created_at", "datetime"), ("person_to_keep_id", "id"), ("person_to_remove_id", "id")),
    _fields(("created_at", "datetime")),
    lambda ctx: [
        Include(
            "person_to_keep",
            lambda: PERSON,
            lambda c, m: c.store.people.get(m.person_to_keep_id),
            False,
            lambda c, m: c.url(f"{P}/person_mergers/{m.id}/person_to_keep"),
        ),
        Include(
            "person_to_remove",
            lambda: PERSON,
            lambda c, m: c.store.people.get(m.person_to_remove_id),
            False,
            lambda c, m: c.url(f"{P}/person_mergers/{m.id}/person_to_remove"),
        ),
    ],
)
_HOUSEHOLD_FIELDS = (
    ("created_at", "datetime"),
    ("member_count", "int"),
    ("name", "str"),
    ("primary_contact_name", "str"),
    ("updated_at", "datetime"),
)


def _member_count(h: Household) -> int:
    return len(h.member_ids)


def _household_query_by(ctx: Ctx) -> list[Field]:
    people = ctx.store.people

    def contact_name(h: Household) -> str | None:
        p = people.get(h.primary_contact_id)
        return person_name(p) if p else None

    special: dict[str, Callable[[Any], Any]] = {
        "member_count": _member_count,
        "primary_contact_name": contact_name,
    }
    return [Field(n, k, special.get(n) or attrgetter(n)) for n, k in _HOUSEHOLD_FIELDS]


HOUSEHOLD: ResourceSpec = ResourceSpec(
    "Household",
    render_household,
    _household_query_by,
    _fields(
        ("created_at", "datetime"),
        ("member_count", "int"),
        ("name", "str"),
        ("updated_at", "datetime"),
    ),
    lambda ctx: [
        Include(
            "people",
            lambda: PERSON,
            lambda c, h: [p for i in h.member_ids if (p := c.store.people.get(i)) is not None],
            True,
            lambda c, h: c.url(f"{P}/households/{h.id}/people"),
        )
    ],
)


def render_for_event(ctx: Ctx, kind: str, record: Any) -> Json:
    """The ``data`` of a webhook payload for one People record."""
    spec = {
        "person": PERSON,
        "email": EMAIL,
        "phone_number": PHONE,
        "address": ADDRESS,
        "person_merger": MERGER,
        "household": HOUSEHOLD,
    }[kind]
    return spec.render(ctx, record, True)


def event_type(kind: str) -> str:
    return {
        "person": "Person",
        "email": "Email",
        "phone_number": "PhoneNumber",
        "address": "Address",
        "person_merger": "PersonMerger",
        "household": "Household",
    }[kind]


def event_ident(kind: str, rid: int) -> Json:
    return ident(event_type(kind), rid)
