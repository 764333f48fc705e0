"""JSON:API documents as Planning Center serves them: resources, pages, included lookup,
and the query builder that refuses parameters an endpoint does not offer.

PCO silently ignores an unsupported ``where``/``include``/``filter``/``order`` and returns the
unfiltered collection (spec §2.3). :meth:`Query.check` compares the request with the
endpoint's ``meta.can_*`` lists and raises :class:`UnsupportedQueryError` before any record
of such a response is used.

Sparse fieldsets (``fields[Type]=…``, spec §2.6) name attributes *and* relationships: PCO drops
every relationship a fieldset leaves out, even one the request includes, and a person read
that way would look as if they had no emails at all. :meth:`Query.with_fields` therefore
keeps the includes in the primary type's fieldset, and :meth:`Query.check_linked` refuses a
page whose records lost the link to what was included.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pcosync.errors import UnsupportedQueryError

MAX_PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class Resource:
    type: str
    id: str
    attributes: Mapping[str, Any]
    relationships: Mapping[str, Any]
    links: Mapping[str, Any]

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Resource:
        return cls(
            type=str(raw.get("type", "")),
            id=str(raw.get("id", "")),
            attributes=raw.get("attributes") or {},
            relationships=raw.get("relationships") or {},
            links=raw.get("links") or {},
        )

    def rel_data(self, name: str) -> list[tuple[str, str]]:
        """(type, id) pairs a relationship points to; empty when unset or not sent."""
        rel = self.relationships.get(name)
        if isinstance(rel, tuple):  # compacted while decoding (:func:`decode_document`)
            return list(rel)
        if not isinstance(rel, Mapping):
            return []
        data = rel.get("data")
        if data is None:
            return []
        items = data if isinstance(data, list) else [data]
        return [(str(d.get("type", "")), str(d.get("id", ""))) for d in items if d]

    def rel_id(self, name: str) -> str | None:
        found = self.rel_data(name)
        return found[0][1] if found else None

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)


@dataclass
class Document:
    """One response body: primary data plus an index of ``included`` resources."""

    data: list[Resource]
    included: dict[tuple[str, str], Resource]
    meta: Mapping[str, Any]
    links: Mapping[str, Any]
    single: bool = False

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Document:
        """A decoded body; its resources may already be :class:`Resource`\\ s (decoded by
        :func:`decode_document`) or still plain mappings."""
        raw = body.get("data")
        single = isinstance(raw, Mapping | Resource)
        items = [raw] if single else (raw or [])
        included = {}
        for inc in body.get("included") or []:
            res = _resource(inc)
            if res is not None:
                included[(res.type, res.id)] = res
        return cls(
            data=[res for r in items for res in [_resource(r)] if res is not None],
            included=included,
            meta=body.get("meta") or {},
            links=body.get("links") or {},
            single=single,
        )

    def related(self, res: Resource, name: str) -> list[Resource]:
        """The included resources ``res.relationships[name]`` points to, in order."""
        out = []
        for key in res.rel_data(name):
            found = self.included.get(key)
            if found is not None:
                out.append(found)
        return out

    @property
    def next_url(self) -> str | None:
        nxt = self.links.get("next")
        return str(nxt) if nxt else None

    @property
    def total_count(self) -> int | None:
        total = self.meta.get("total_count")
        return int(total) if isinstance(total, int) else None


def _resource(raw: object) -> Resource | None:
    if isinstance(raw, Resource):
        return raw
    return Resource.parse(raw) if isinstance(raw, Mapping) else None


_NO_LINKS: Mapping[str, Any] = {}


def _compact(obj: dict[str, Any]) -> Any:
    """``object_hook``: a resource object becomes a :class:`Resource` as soon as it is
    decoded, its relationships reduced to ``(type, id)`` tuples and its ``links`` (the
    record's own URL, never read) dropped. The JSON decoder builds inner objects first, so
    each resource's nested dicts are freed right away instead of living as long as the page:
    at 100,000 people the one-page team sweep (every assignment included) is ~36 MB of JSON
    that plain decoding turns into ~185 MiB of dicts per 50,000 people."""
    kind, rid, attributes = obj.get("type"), obj.get("id"), obj.get("attributes")
    if not (isinstance(kind, str) and isinstance(rid, str) and isinstance(attributes, dict)):
        return obj
    rels = obj.get("relationships")
    compact: dict[str, Any] = {}
    if isinstance(rels, dict):
        for name, rel in rels.items():
            data = rel.get("data") if isinstance(rel, dict) else None
            if isinstance(rel, dict) and "data" not in rel:
                compact[name] = rel  # a link-only relationship: kept as sent
                continue
            items = data if isinstance(data, list) else [data] if data else []
            compact[name] = tuple(
                (sys.intern(str(d.get("type", ""))), str(d.get("id", "")))
                for d in items
                if isinstance(d, dict) and d
            )
    return Resource(sys.intern(kind), rid, attributes, compact, _NO_LINKS)


def decode_document(content: bytes | str) -> Document:
    """A response body as a :class:`Document`, each resource compacted while it is decoded
    (see :func:`_compact`): the same records, a fraction of the memory of ``json.loads``."""
    body = json.loads(content, object_hook=_compact)
    if not isinstance(body, Mapping):
        raise ValueError("a JSON:API document is an object")
    return Document.parse(body)


def format_time(when: datetime) -> str:
    """Full UTC timestamp, the only safe form for PCO date filters (spec §2.3)."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    return date.fromisoformat(value[:10])


@dataclass
class Query:
    """Parameters for one collection request, checked against the endpoint's ``meta.can_*``."""

    where: list[tuple[str, str | None, str]] = field(default_factory=list)
    order: str | None = None
    include: list[str] = field(default_factory=list)
    filter: list[str] = field(default_factory=list)
    per_page: int = MAX_PER_PAGE
    extra: dict[str, str] = field(default_factory=dict)
    fields: dict[str, list[str]] = field(default_factory=dict)
    primary_type: str | None = None  # the fieldset that must keep the included relationships

    def where_eq(self, attr: str, value: str | int) -> Query:
        self.where.append((attr, None, str(value)))
        return self

    def where_op(self, attr: str, op: str, value: str | datetime) -> Query:
        if op not in {"gt", "gte", "lt", "lte"}:
            raise ValueError(f"unknown where operator {op!r}")
        text = format_time(value) if isinstance(value, datetime) else value
        self.where.append((attr, op, text))
        return self

    def with_include(self, *names: str) -> Query:
        self.include.extend(n for n in names if n not in self.include)
        return self

    def with_filter(self, *names: str) -> Query:
        self.filter.extend(n for n in names if n not in self.filter)
        return self

    def ordered(self, order: str) -> Query:
        self.order = order
        return self

    def with_fields(self, type_: str, *names: str, primary: bool = True) -> Query:
        """Only these attributes of ``type_``. For the primary type (the records asked for,
        not an included type) every include is added to the set when the request is built,
        so narrowing the fields never drops a relationship the read needs."""
        wanted = self.fields.setdefault(type_, [])
        wanted.extend(n for n in names if n not in wanted)
        if primary:
            self.primary_type = type_
        return self

    def fieldset(self, type_: str) -> list[str]:
        names = list(self.fields.get(type_, []))
        if type_ == self.primary_type:
            names += [i.split(".", 1)[0] for i in self.include]
        return list(dict.fromkeys(names))

    def params(self, offset: int | None = None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for attr, op, value in self.where:
            key = f"where[{attr}]" + (f"[{op}]" if op else "")
            out.append((key, value))
        if self.order:
            out.append(("order", self.order))
        if self.include:
            out.append(("include", ",".join(self.include)))
        if self.filter:
            out.append(("filter", ",".join(self.filter)))
        for type_ in self.fields:
            out.append((f"fields[{type_}]", ",".join(self.fieldset(type_))))
        out.append(("per_page", str(min(MAX_PER_PAGE, max(1, self.per_page)))))
        if offset:
            out.append(("offset", str(offset)))
        out.extend(self.extra.items())
        return out

    def check(self, meta: Mapping[str, Any], path: str) -> None:
        """Raise when the endpoint would silently ignore part of this query."""
        problems: list[str] = []

        def names(key: str) -> set[str] | None:
            raw = meta.get(key)
            if raw is None:
                return None
            return {str(x) for x in _flatten(raw)}

        can_query = names("can_query_by")
        if self.where:
            wanted = {attr for attr, _, _ in self.where}
            missing = wanted - (can_query or set())
            if missing:
                problems.append(f"where[{', '.join(sorted(missing))}]")
        if self.include:
            can_include = names("can_include") or set()
            missing = set(self.include) - can_include
            if missing:
                problems.append(f"include={','.join(sorted(missing))}")
        if self.order:
            can_order = names("can_order_by") or set()
            if self.order.lstrip("-") not in can_order:
                problems.append(f"order={self.order}")
        if self.filter:
            can_filter = names("can_filter") or set()
            missing = set(self.filter) - can_filter
            if missing:
                problems.append(f"filter={','.join(sorted(missing))}")
        if problems:
            raise UnsupportedQueryError(
                f"Planning Center {path} does not support {'; '.join(problems)}; it would "
                "silently return unfiltered results, so the request was not used",
                service="pco",
                method="GET",
                path=path,
            )

    def check_linked(self, doc: Document, path: str) -> None:
        """Raise when the page's records carry no link for something this query included
        (a sparse fieldset that left the relationship out drops it for every record); using
        them would read every included list as empty."""
        if not self.include or not doc.data:
            return
        present: set[str] = set()
        for res in doc.data:
            present.update(res.relationships)
        lost = [
            name
            for name in self.include
            if not present & _RELATIONSHIP_NAMES.get(name.split(".", 1)[0], {name.split(".")[0]})
        ]
        if lost:
            raise UnsupportedQueryError(
                f"Planning Center {path} returned records without their "
                f"{', '.join(lost)} relationship (a fields[...] that does not name it drops "
                "it), so the included records could not be matched and the page was not used",
                service="pco",
                method="GET",
                path=path,
            )


# includes whose relationship key differs from the include's name
_RELATIONSHIP_NAMES: dict[str, set[str]] = {"people": {"people", "person"}}


def _flatten(raw: Any) -> Iterable[Any]:
    if isinstance(raw, list | tuple):
        for item in raw:
            yield from _flatten(item)
    elif isinstance(raw, Mapping):
        yield from raw.keys()
    else:
        yield raw
