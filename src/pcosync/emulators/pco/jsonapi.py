"""JSON:API the way Planning Center speaks it: queries, documents, errors.

Queries: ``where[attr]`` (case-insensitive equality, ``%`` prefix/suffix, ``[gt|gte|lt|lte]``
on numbers, dates and times, date-only values spanning that day in the organisation's time
zone), ``order`` (``-attr`` descending), ``include``, ``filter``, ``fields[Type]``,
``per_page`` (default 25, clamped to 1..100) and ``offset``. A ``where``/``order``/
``include``/``filter`` the resource does not list in ``meta.can_*`` is **silently ignored**,
exactly like the real API (spec §2.3, pitfall 1).

Documents: ``data``/``included``/``links``/``meta`` with string ids; ``links.self`` echoes
the query with keys sorted and brackets unescaped (fixtures); collection items carry only
``links.self``, single resources their full association links. Errors are
``{"errors": [{"status", "title", "code"?, "detail", "source": {"parameter"}?, "meta"?}]}``
served as ``application/json`` (fixtures), never with ``source.pointer``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from pcosync.emulators.pco.store import Store

JSONAPI_TYPE = "application/vnd.api+json; charset=utf-8"
ERROR_TYPE = "application/json; charset=utf-8"
CACHE_OK = "max-age=0, private, must-revalidate"
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
DEEP_OFFSET = 30_000  # offsets above this get the stricter rate limit

Json = dict[str, Any]


# ---- request context -----------------------------------------------------------------


@dataclass
class Ctx:
    """What a handler needs to answer: data, clock, version, URLs, the asking user."""

    store: Store
    now: datetime
    tz: ZoneInfo
    version: str
    product: str
    base: str
    user_id: int | None = None
    query: Query = field(default_factory=lambda: parse_query([]))

    @property
    def fields(self) -> dict[str, list[str]]:
        return self.query.fields

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def wants(self, type_name: str, attr: str) -> bool:
        """Is a ``?fields``-only attribute asked for (sparse fieldsets, spec §2.6)?"""
        return attr in self.fields.get(type_name, ())


def ctx_of(request: Request) -> Ctx:
    ctx: Ctx = request.scope["state"]["pco_ctx"]
    return ctx


# ---- rendering helpers ---------------------------------------------------------------


def fmt_dt(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def ident(type_name: str, rid: int | str) -> Json:
    return {"type": type_name, "id": str(rid)}


def to_one(type_name: str, rid: int | str | None) -> Json:
    return {"data": None if rid is None else ident(type_name, rid)}


def sparse(ctx: Ctx, type_name: str, attributes: Json) -> Json:
    wanted = ctx.fields.get(type_name)
    if not wanted:
        return attributes
    return {k: v for k, v in attributes.items() if k in wanted}


def apply_fieldset(ctx: Ctx, res: Json) -> Json:
    """JSON:API sparse fieldsets: ``fields[Type]`` names attributes *and* relationships, so a
    relationship it leaves out is dropped, even one the request includes (Planning Center's
    JavaScript client: "when including records you also need to define the relation in
    fields"). The included records themselves are still sent, as JSON:API allows when a
    fieldset removed the linkage."""
    wanted = ctx.fields.get(str(res.get("type")))
    if not wanted:
        return res
    if "attributes" in res:
        res["attributes"] = {k: v for k, v in res["attributes"].items() if k in wanted}
    if "relationships" in res:
        res["relationships"] = {k: v for k, v in res["relationships"].items() if k in wanted}
    return res


# ---- resource specifications ---------------------------------------------------------

Render = Callable[[Ctx, Any, bool], Json]


def _nothing(record: Any) -> Any:
    return None


@dataclass(frozen=True)
class Field:
    """A queryable or orderable attribute: its kind decides how ``where`` compares it.

    ``prepare`` replaces the kind's equality: given the ``where`` value it returns the test
    (used for searches across related records and for values with several spellings).
    """

    name: str
    kind: str  # str | int | bool | date | datetime | id
    get: Callable[[Any], Any] = _nothing
    prepare: Callable[[str], Callable[[Any], bool]] | None = None


@dataclass(frozen=True)
class Include:
    name: str
    spec: Callable[[], ResourceSpec]
    resolve: Callable[[Ctx, Any], Any]  # record | None | list of records
    many: bool
    related: Callable[[Ctx, Any], str]
    rel_name: str | None = None  # relationship key when it differs from the include name


FilterFn = Callable[[Ctx, list[Any]], list[Any]]


def _none(ctx: Ctx) -> list[Any]:
    return []


def _no_filters(ctx: Ctx) -> dict[str, FilterFn]:
    return {}


@dataclass(frozen=True)
class ResourceSpec:
    type: str
    render: Render
    query_by: Callable[[Ctx], list[Field]] = _none
    order_by: Callable[[Ctx], list[Field]] = _none
    includes: Callable[[Ctx], list[Include]] = _none
    filters: Callable[[Ctx], dict[str, FilterFn]] = _no_filters


# ---- errors ----------------------------------------------------------------------------


class ApiError(Exception):
    """Raised by handlers; the app turns it into the error document."""

    def __init__(
        self,
        status: int,
        errors: list[Json],
        *,
        content_type: str = ERROR_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
        self.content_type = content_type
        self.headers = headers or {}

    def response(self) -> Response:
        body = dumps({"errors": self.errors})
        headers = {"Cache-Control": "no-cache", **self.headers}
        return Response(body, self.status, headers=headers, media_type=self.content_type)


def error(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    code: str | None = None,
    parameter: str | None = None,
    meta: Json | None = None,
) -> Json:
    out: Json = {"status": str(status), "title": title}
    if code is not None:
        out["code"] = code
    if detail is not None:
        out["detail"] = detail
    if parameter is not None:
        out["source"] = {"parameter": parameter}
    if meta is not None:
        out["meta"] = meta
    return out


NOT_FOUND_DETAIL = "The resource you requested could not be found"


def not_found() -> ApiError:
    return ApiError(404, [error(404, "Not Found", NOT_FOUND_DETAIL)])


def bad_request(detail: str, code: str | None = None) -> ApiError:
    return ApiError(400, [error(400, "Bad Request", detail, code=code)])


def forbidden(detail: str = "You do not have access to this resource") -> ApiError:
    return ApiError(403, [error(403, "Forbidden", detail)])


def method_not_allowed() -> ApiError:
    return ApiError(
        405, [error(405, "Method Not Allowed", "This action is not allowed on this resource")]
    )


def rate_limit_error(count: int, limit: int, period: float) -> Json:
    """PCO's 429 error object: ``code``, not ``status`` (spec §3)."""
    return {
        "code": "429",
        "title": "Too Many Requests",
        "detail": f"Rate limit exceeded: {count} of {limit} requests per {period:g} seconds",
    }


def validation_error(parameter: str, detail: str, resource: str) -> Json:
    return error(
        422,
        "Validation Error",
        detail,
        parameter=parameter,
        meta={"resource": resource, "associated_resources": []},
    )


def unprocessable(errors: list[Json]) -> ApiError:
    return ApiError(422, errors)


def forbidden_attributes(names: Sequence[str]) -> ApiError:
    """``{"status":"422","title":"Forbidden Attribute","detail":"bogus cannot be assigned"}``."""
    return ApiError(
        422, [error(422, "Forbidden Attribute", f"{name} cannot be assigned") for name in names]
    )


# ---- payloads --------------------------------------------------------------------------

_INVALID_PAYLOAD = "The top level data object must be an array or hash."


def conflict(detail: str) -> ApiError:
    return ApiError(409, [error(409, "Conflict", detail)])


async def read_data(request: Request, type_: str | None = None, rid: int | None = None) -> Json:
    """The request's ``data`` object, or the exact error PCO gives for a malformed body.

    With ``type_`` (and ``rid`` for a PATCH), a body naming another type or another id than
    the URL is 409 Conflict, as JSON:API requires ("A server MUST return 409 Conflict when
    processing a PATCH request in which the resource object's type and id do not match the
    server's endpoint"); PCO documents nothing here. Leaving ``type`` or ``id`` out is
    accepted: recorded PATCHes (pypco) send no ``id``."""
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise bad_request("Your request could not be processed", "invalid_json") from None
    if isinstance(body, dict) and "data" not in body:
        if not body:  # fixture people-person-post-missing-data-key-400
            raise bad_request(
                "The payload given does not contain a 'data' key.", "invalid_resource_payload"
            )
        # keys are case-sensitive: {"Data": ...} (#918)
        raise ApiError(
            422, [error(422, "Invalid Payload", _INVALID_PAYLOAD, code="invalid_payload")]
        )
    if not isinstance(body, dict):
        raise ApiError(
            422, [error(422, "Invalid Payload", _INVALID_PAYLOAD, code="invalid_payload")]
        )
    data = body["data"]
    if isinstance(data, list):  # a create takes one object, not an array (#424)
        raise bad_request("Your request could not be processed", "invalid_resource_payload")
    if not isinstance(data, dict):
        raise ApiError(
            422, [error(422, "Invalid Payload", _INVALID_PAYLOAD, code="invalid_payload")]
        )
    if type_ is not None and "type" in data and data["type"] != type_:
        raise conflict(f"The type {data['type']!r} does not match this endpoint's {type_}.")
    if rid is not None and "id" in data and str(data["id"]) != str(rid):
        raise conflict(f"The id {data['id']!r} does not match the id in the URL ({rid}).")
    attributes = data.get("attributes", {})
    if attributes is None:
        data["attributes"] = {}
    elif not isinstance(attributes, dict):
        raise ApiError(
            422,
            [
                error(
                    422, "Invalid Payload", "The attributes must be a hash.", code="invalid_payload"
                )
            ],
        )
    return data


def attributes_of(data: Json) -> Json:
    attrs: Json = data.get("attributes") or {}
    return attrs


def check_assignable(attributes: Json, allowed: Sequence[str] | frozenset[str]) -> None:
    bad = [name for name in attributes if name not in allowed]
    if bad:
        raise forbidden_attributes(bad)


# ---- query parsing ---------------------------------------------------------------------

_WHERE = re.compile(r"^where\[([^\]]+)\](?:\[([^\]]*)\])?$")
_FIELDS = re.compile(r"^fields\[([^\]]+)\]$")
_OPS = frozenset({"gt", "gte", "lt", "lte"})


@dataclass
class Query:
    params: list[tuple[str, str]]
    where: list[tuple[str, str | None, str]]
    order: list[tuple[str, bool]]
    include: list[str]
    filters: list[str]
    per_page: int
    offset: int
    fields: dict[str, list[str]]
    paged: bool  # was per_page or offset given


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def parse_query(params: list[tuple[str, str]]) -> Query:
    where: list[tuple[str, str | None, str]] = []
    fields: dict[str, list[str]] = {}
    single: dict[str, str] = {}
    for key, value in params:
        if m := _WHERE.match(key):
            attr, op = m.group(1), m.group(2)
            if op == "":  # where[x][]=… is not PCO syntax: ignored like any unknown param
                continue
            where.append((attr, op, value))
        elif m := _FIELDS.match(key):
            fields[m.group(1)] = [f for f in value.split(",") if f]
        else:
            single[key] = value
    order: list[tuple[str, bool]] = []
    for part in single.get("order", "").split(","):
        part = part.strip()
        if part:
            order.append((part.lstrip("-"), part.startswith("-")))
    per_page = min(max(_int(single.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    offset = max(_int(single.get("offset"), 0), 0)
    return Query(
        params=params,
        where=where,
        order=order,
        include=[i.strip() for i in single.get("include", "").split(",") if i.strip()],
        filters=[f.strip() for f in single.get("filter", "").split(",") if f.strip()],
        per_page=per_page,
        offset=offset,
        fields=fields,
        paged="per_page" in single or "offset" in single,
    )


def requested_offset(query_string: str) -> int:
    """The ``offset`` of a raw query string (for the deep-offset rate limit)."""
    for part in query_string.split("&"):
        if part.startswith("offset="):
            return max(_int(part[7:], 0), 0)
    return 0


# ---- where -----------------------------------------------------------------------------


def _parse_moment(value: str, tz: ZoneInfo) -> tuple[datetime, datetime | None]:
    """``(instant, None)`` for a timestamp; ``(day start, next day start)`` for a date."""
    value = value.strip()
    if len(value) == 10:
        day = date.fromisoformat(value)
        start = datetime.combine(day, time(0), tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
        return start, end
    when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T"))
    if when.tzinfo is None:  # a timestamp without zone is read in the organisation's zone
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC).replace(microsecond=0), None


def _compare(op: str | None, left: Any, right: Any) -> bool:
    if op is None:
        return bool(left == right)
    if op == "gt":
        return bool(left > right)
    if op == "gte":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    return bool(left <= right)


def _string_matcher(value: str) -> Callable[[Any], bool]:
    v = value.lower()
    if v == "":
        return lambda x: x is None or x == ""
    if len(v) >= 2 and v.startswith("%") and v.endswith("%"):
        inner = v[1:-1]
        return lambda x: x is not None and inner in str(x).lower()
    if v.endswith("%"):
        head = v[:-1]
        return lambda x: x is not None and str(x).lower().startswith(head)
    if v.startswith("%"):
        tail = v[1:]
        return lambda x: x is not None and str(x).lower().endswith(tail)
    return lambda x: x is not None and str(x).lower() == v


def _predicate(ctx: Ctx, f: Field, op: str | None, value: str) -> Callable[[Any], bool] | None:
    """A test for one ``where`` condition, or ``None`` to ignore it (unsupported operator)."""
    get = f.get
    if f.prepare is not None:
        return f.prepare(value) if op is None else None
    if f.kind == "str":
        if op is not None:
            return None
        m = _string_matcher(value)
        return lambda r: m(get(r))
    if f.kind == "bool":
        if op is not None:
            return None
        want = value.strip().lower() in ("true", "1", "t", "yes")
        return lambda r: bool(get(r)) is want
    if f.kind == "id":
        if op is not None:
            return None
        return lambda r: get(r) is not None and str(get(r)) == value.strip()
    if op is not None and op not in _OPS:
        return None
    if f.kind == "int":
        try:
            target = int(value)
        except ValueError:
            return lambda r: False
        return lambda r: get(r) is not None and _compare(op, get(r), target)
    if f.kind == "date":
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise bad_request(f"Invalid date for where[{f.name}]: {value!r}") from None
        return lambda r: get(r) is not None and _compare(op, get(r), day)
    # datetime
    try:
        start, end = _parse_moment(value, ctx.tz)
    except ValueError:
        raise bad_request(f"Invalid date/time for where[{f.name}]: {value!r}") from None
    if end is None:
        return lambda r: get(r) is not None and _compare(op, get(r), start)
    lo, hi = start, end  # the whole day [lo, hi) in the organisation's time zone
    if op is None:
        return lambda r: (v := get(r)) is not None and lo <= v < hi
    if op == "gt":
        return lambda r: (v := get(r)) is not None and v >= hi
    if op == "gte":
        return lambda r: (v := get(r)) is not None and v >= lo
    if op == "lt":
        return lambda r: (v := get(r)) is not None and v < lo
    return lambda r: (v := get(r)) is not None and v < hi


def apply_where(
    ctx: Ctx, rows: Sequence[Any], fields: list[Field], where: list[tuple[str, str | None, str]]
) -> Sequence[Any]:
    by_name = {f.name: f for f in fields}
    tests = []
    for attr, op, value in where:
        f = by_name.get(attr)
        if f is None:
            continue  # silently ignored, like PCO
        test = _predicate(ctx, f, op, value)
        if test is not None:
            tests.append(test)
    if not tests:
        return rows
    if len(tests) == 1:
        only = tests[0]
        return [r for r in rows if only(r)]
    return [r for r in rows if all(t(r) for t in tests)]


def apply_order(rows: Sequence[Any], fields: list[Field], order: list[tuple[str, bool]]) -> Any:
    by_name = {f.name: f for f in fields}
    keys = [(by_name[name], desc) for name, desc in order if name in by_name]
    if not keys:
        return rows
    out = list(rows)  # already in id order: stable sorts keep id as the tie-breaker
    for f, desc in reversed(keys):
        get = f.get

        def key(r: Any, get: Callable[[Any], Any] = get) -> tuple[bool, Any]:
            v = get(r)
            if isinstance(v, str):
                v = v.lower()
            return (v is None, v)

        # PostgreSQL defaults: ascending puts nulls last, descending puts them first
        out.sort(key=key, reverse=desc)
    return out


# ---- documents -------------------------------------------------------------------------


def _encode_params(pairs: list[tuple[str, str]]) -> str:
    items = sorted(pairs, key=lambda kv: kv[0])
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in items)


def page_url(ctx: Ctx, path: str, params: list[tuple[str, str]], offset: int | None) -> str:
    pairs = [(k, v) for k, v in params if k != "offset" or offset is None]
    if offset is not None:
        pairs.append(("offset", str(offset)))
    qs = _encode_params(pairs)
    return ctx.url(path) + (f"?{qs}" if qs else "")


class Included:
    """Sideloaded resources, each once (fixture: one Organization for 25 people)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Json] = {}

    def add(self, ctx: Ctx, spec: ResourceSpec, record: Any) -> Json:
        res = apply_fieldset(ctx, spec.render(ctx, record, False))
        key = (res["type"], res["id"])
        if key not in self.items:
            self.items[key] = res
        return ident(res["type"], res["id"])

    def values(self) -> list[Json]:
        return list(self.items.values())


def render_one(
    ctx: Ctx, spec: ResourceSpec, record: Any, includes: list[Include], out: Included, full: bool
) -> Json:
    res = spec.render(ctx, record, full)
    if not includes:
        return apply_fieldset(ctx, res)
    rels = res.setdefault("relationships", {})
    for inc in includes:
        target = inc.resolve(ctx, record)
        target_spec = inc.spec()
        data: Any
        if inc.many:
            data = [out.add(ctx, target_spec, t) for t in (target or ())]
        else:
            data = None if target is None else out.add(ctx, target_spec, target)
        rels[inc.rel_name or inc.name] = {
            "links": {"related": inc.related(ctx, record)},
            "data": data,
        }
    return apply_fieldset(ctx, res)


def _wanted_includes(ctx: Ctx, spec: ResourceSpec, names: list[str]) -> list[Include]:
    available = {i.name: i for i in spec.includes(ctx)}
    seen: list[Include] = []
    for name in names:
        inc = available.get(name)
        if inc is not None and inc not in seen:
            seen.append(inc)
    return seen


def parent_meta(type_name: str, rid: int | str) -> Json:
    return {"id": str(rid), "type": type_name}


def collection_doc(
    ctx: Ctx,
    spec: ResourceSpec,
    rows: Sequence[Any],
    *,
    path: str,
    parent: Json,
    query: Query,
    filters: dict[str, FilterFn] | None = None,
    query_by: list[Field] | None = None,
) -> Json:
    qfields = spec.query_by(ctx) if query_by is None else query_by
    ofields = spec.order_by(ctx)
    named = spec.filters(ctx) if filters is None else filters
    rows = apply_where(ctx, rows, qfields, query.where)
    for name in dict.fromkeys(query.filters):
        fn = named.get(name)
        if fn is not None:
            rows = fn(ctx, list(rows))
    rows = apply_order(rows, ofields, query.order)
    total = len(rows)
    start, size = query.offset, query.per_page
    page = rows[start : start + size]
    includes = _wanted_includes(ctx, spec, query.include)
    out = Included()
    data = [render_one(ctx, spec, r, includes, out, False) for r in page]
    links: Json = {"self": page_url(ctx, path, query.params, None)}
    meta: Json = {"total_count": total, "count": len(page)}
    if start + size < total:
        links["next"] = page_url(ctx, path, query.params, start + size)
        meta["next"] = {"offset": start + size}
    if start > 0:
        prev = max(start - size, 0)
        links["prev"] = page_url(ctx, path, query.params, prev)
        meta["prev"] = {"offset": prev}
    for key, names in (
        ("can_order_by", [f.name for f in ofields]),
        ("can_query_by", [f.name for f in qfields]),
        ("can_include", [i.name for i in spec.includes(ctx)]),
        ("can_filter", list(named)),
    ):
        if names:
            meta[key] = names
    meta["parent"] = parent
    return {"links": links, "data": data, "included": out.values(), "meta": meta}


def single_doc(ctx: Ctx, spec: ResourceSpec, record: Any, *, parent: Json, query: Query) -> Json:
    includes = _wanted_includes(ctx, spec, query.include)
    out = Included()
    data = render_one(ctx, spec, record, includes, out, True)
    meta: Json = {}
    can_include = [i.name for i in spec.includes(ctx)]
    if can_include:
        meta["can_include"] = can_include
    meta["parent"] = parent
    return {"data": data, "included": out.values(), "meta": meta}


# ---- responses -------------------------------------------------------------------------


def dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def document(doc: Json, status: int = 200) -> Response:
    body = dumps(doc)
    etag = 'W/"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
    return Response(
        body, status, media_type=JSONAPI_TYPE, headers={"Cache-Control": CACHE_OK, "ETag": etag}
    )


def no_content() -> Response:
    """204 with no body and no Content-Type (fixture services-song-delete-204)."""
    return Response(status_code=204, headers={"Cache-Control": "no-cache"})
