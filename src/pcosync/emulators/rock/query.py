"""Running an OData-queryable GET: plan, filter, order, page, then write each row's shape.

The planner picks the cheapest way to produce rows in the requested order:

1. an equality on a hash-indexed column (``GroupId eq 42``) → those rows only, then sort;
2. an ``$orderby`` a sorted index can serve (``ModifiedDateTime,Id``; ``Id desc``; none at all,
   which is Id order) → walk the index, bisecting to the range the ANDed filter allows
   (``ModifiedDateTime gt datetime'…'``), and stop after ``$skip + $top`` matches;
3. otherwise scan, filter and sort.

Like Web API's ``EnsureStableOrdering``, the key ``Id`` is appended to every ``$orderby``.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pcosync.emulators.rock.core import ApiError, RockData
from pcosync.emulators.rock.odata import (
    MAX_EXPANSION_DEPTH,
    ExpandTree,
    Filter,
    ODataError,
    OrderKey,
    Selection,
    compile_filter,
    parse_count,
    parse_expand,
    parse_orderby,
    parse_select,
)
from pcosync.emulators.rock.schema import ENTITIES, Access, EntityDef, Nav, Prop, PType
from pcosync.emulators.rock.store import Row, Table, sort_key

SYSTEM_OPTIONS = frozenset(
    {
        "$filter",
        "$orderby",
        "$top",
        "$skip",
        "$select",
        "$expand",
        "$inlinecount",
        "$format",
        "$skiptoken",
    }
)
_INDEXABLE = (PType.INT, PType.DATETIME, PType.ENUM)

Visible = Callable[[Row], bool]


def odata_error(message: str) -> ApiError:
    """How ``EnableQuery`` reports an ``ODataException`` (spec §2.7)."""
    return ApiError(
        400,
        body={
            "Message": "The query specified in the URI is not valid.",
            "ExceptionMessage": message,
            "ExceptionType": "Microsoft.Data.OData.ODataException",
            "StackTrace": None,
        },
    )


def check_query_parameters(params: Iterable[str]) -> None:
    """Web API rejects ``$``-prefixed options it does not know (``$count`` is v4)."""
    for name in params:
        if name.startswith("$") and name not in SYSTEM_OPTIONS:
            raise ApiError(400, f"The query parameter '{name}' is not supported.")


@dataclass
class QueryOptions:
    filter: Filter | None = None
    order: list[OrderKey] | None = None
    top: int | None = None
    skip: int = 0
    expand: ExpandTree | None = None
    select: Selection | None = None
    projected: bool = False  # $select or $expand given: EDM shape

    @classmethod
    def parse(
        cls,
        data: RockData,
        entity: EntityDef,
        params: Mapping[str, str],
        *,
        max_expansion_depth: int = MAX_EXPANSION_DEPTH,
    ) -> QueryOptions:
        check_query_parameters(params)
        opts = cls()
        try:
            if (raw := params.get("$top")) is not None:
                opts.top = parse_count("$top", raw)
            if (raw := params.get("$skip")) is not None:
                opts.skip = parse_count("$skip", raw)
            expand_text = params.get("$expand")
            select_text = params.get("$select")
            if expand_text is not None:
                opts.expand = parse_expand(expand_text, entity, data, max_expansion_depth)
            if select_text is not None:
                opts.select = parse_select(select_text, entity, opts.expand or ExpandTree(), data)
            opts.projected = expand_text is not None or select_text is not None
            if (raw := params.get("$filter")) is not None:
                opts.filter = compile_filter(raw, entity, data, data.max_node_count)
            if (raw := params.get("$orderby")) is not None:
                opts.order = parse_orderby(raw, entity, data)
        except ODataError as exc:
            raise odata_error(str(exc)) from None
        return opts


def run(
    table: Table, visible: Visible | None, opts: QueryOptions, candidates: list[Row] | None = None
) -> list[Row]:
    """Rows of ``table`` that are visible and match, in order, paged."""
    filt = opts.filter
    predicate = _combine(visible, filt.predicate if filt else None)
    order = opts.order or []
    limit = None if opts.top is None else opts.skip + opts.top
    simple = filt.simple if filt else []
    entity = table.entity

    if candidates is None:
        hashed = _hash_candidates(table, simple)
        if hashed is not None:
            candidates = hashed
        elif _index_friendly(entity, order):
            column = order[0].column if order else "Id"
            assert column is not None
            descending = bool(order) and order[0].descending
            if (
                filt is not None
                and filt.only_simple
                and all(c == column and op != "ne" for c, op, _ in simple)
            ):
                predicate = visible  # the index range is the whole filter
            rows = _index_scan(table, column, descending, simple, predicate, limit)
            return rows[opts.skip :]
    source: Iterable[Row] = candidates if candidates is not None else table.in_order()
    matched = [r for r in source if predicate(r)] if predicate else list(source)
    if order or candidates is not None:
        _sort(matched, order)
    return matched[opts.skip : limit]


def _combine(a: Visible | None, b: Visible | None) -> Visible | None:
    if a is None:
        return b
    if b is None:
        return a
    return lambda r: a(r) and b(r)


def _hash_candidates(table: Table, simple: list[tuple[str, str, Any]]) -> list[Row] | None:
    for column, op, value in simple:
        if op == "eq" and value is not None and table.has_hash(column):
            return table.lookup(column, value)
        if op == "eq" and column == "Id" and isinstance(value, int):
            row = table.get(value)
            return [] if row is None else [row]
    return None


def _index_friendly(entity: EntityDef, order: list[OrderKey]) -> bool:
    if not order:
        return True
    first = order[0]
    if first.column is None or entity.props[first.column].ptype not in _INDEXABLE:
        return False
    if len(order) == 1:
        return first.column == "Id" or not first.descending
    second = order[1]
    return len(order) == 2 and second.column == "Id" and second.descending == first.descending


def _index_scan(
    table: Table,
    column: str,
    descending: bool,
    simple: list[tuple[str, str, Any]],
    predicate: Visible | None,
    limit: int | None,
) -> list[Row]:
    if column == "Id" and table.in_id_order and not any(c == "Id" for c, _, _ in simple):
        ordered: Iterable[Row] = table.rows.values()
        if descending:
            ordered = reversed(list(table.rows.values()))
        return _collect(ordered, predicate, limit)
    entries = table.sorted_index(column).entries
    start, end = 0, len(entries)
    for col, op, value in simple:
        if col != column or value is None:
            continue
        key = (1, value)
        if op in ("gt", "ge", "lt", "le", "eq"):
            start = max(start, bisect_left(entries, ((1,),)))  # ranges exclude NULLs
        if op == "gt":
            start = max(start, bisect_right(entries, (key, math.inf)))
        elif op == "ge":
            start = max(start, bisect_left(entries, (key, -math.inf)))
        elif op == "lt":
            end = min(end, bisect_left(entries, (key, -math.inf)))
        elif op == "le":
            end = min(end, bisect_right(entries, (key, math.inf)))
        elif op == "eq":
            start = max(start, bisect_left(entries, (key, -math.inf)))
            end = min(end, bisect_right(entries, (key, math.inf)))
    rows = table.rows
    span = range(end - 1, start - 1, -1) if descending else range(start, end)
    return _collect((rows[entries[k][1]] for k in span), predicate, limit)


def _collect(rows: Iterable[Row], predicate: Visible | None, limit: int | None) -> list[Row]:
    out: list[Row] = []
    if limit == 0:
        return out
    for row in rows:
        if predicate is None or predicate(row):
            out.append(row)
            if limit is not None and len(out) >= limit:
                break
    return out


def _sort(rows: list[Row], order: list[OrderKey]) -> None:
    keys = list(order)
    if not any(k.column == "Id" for k in keys):
        keys.append(OrderKey(operator.itemgetter(0), False, "Id", False))
    for key in reversed(keys):
        rows.sort(key=_sort_function(key), reverse=key.descending)


def _sort_function(key: OrderKey) -> Callable[[Row], Any]:
    getter = key.getter
    if key.strings:
        return lambda r: sort_key(_fold(getter(r)))
    return lambda r: sort_key(getter(r))


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------
# output shapes


_NAV_EMPTY_LIST: list[Any] = []


@dataclass(frozen=True)
class _FullPlan:
    keys: tuple[str, ...]
    computed: list[Callable[[Row], Any]]
    constants: list[Any]
    pick: Callable[[list[Any]], tuple[Any, ...]]

    def render(self, row: Row) -> dict[str, Any]:
        extended = row + [fn(row) for fn in self.computed] + self.constants
        return dict(zip(self.keys, self.pick(extended), strict=True))


class Shapes:
    """Writes rows as Rock's JSON: the full entity, or the EDM projection of $expand/$select."""

    def __init__(self, data: RockData) -> None:
        self.data = data
        self._full: dict[str, _FullPlan] = {}
        self._edm: dict[str, list[tuple[str, Callable[[Row], Any]]]] = {}

    def _getter(self, entity: EntityDef, prop: Prop) -> Callable[[Row], Any]:
        return self.data.getter(entity, prop)

    def full_plan(self, entity: EntityDef) -> _FullPlan:
        """Keys in layout order plus one ``itemgetter`` over ``row + computed + constants``."""
        plan = self._full.get(entity.name)
        if plan is None:
            keys: list[str] = []
            positions: list[int] = []
            computed: list[Callable[[Row], Any]] = []
            constants: list[Any] = []
            width = len(entity.stored)
            extra: list[tuple[str, Any]] = []  # ("fn", getter) or ("const", value)
            for f in entity.layout:
                if isinstance(f, Nav):
                    if not f.data_member:
                        continue
                    keys.append(f.name)
                    extra.append(("const", _NAV_EMPTY_LIST if f.many else None))
                    positions.append(-len(extra))
                elif f.access is Access.HIDDEN:
                    continue
                elif f.stored:
                    keys.append(f.name)
                    positions.append(entity.col[f.name])
                else:
                    keys.append(f.name)
                    extra.append(("fn", self._getter(entity, f)))
                    positions.append(-len(extra))
            # computed values first, constants after, right behind the stored columns
            order = [k for k, (kind, _) in enumerate(extra) if kind == "fn"] + [
                k for k, (kind, _) in enumerate(extra) if kind == "const"
            ]
            slot = {k: width + n for n, k in enumerate(order)}
            for k in order:
                kind, value = extra[k]
                if kind == "fn":
                    computed.append(value)
                else:
                    constants.append(value)
            final = [p if p >= 0 else slot[-p - 1] for p in positions]
            plan = _FullPlan(tuple(keys), computed, constants, operator.itemgetter(*final))
            self._full[entity.name] = plan
        return plan

    def edm_plan(self, entity: EntityDef) -> list[tuple[str, Callable[[Row], Any]]]:
        plan = self._edm.get(entity.name)
        if plan is None:
            plan = [
                (p.name, self._getter(entity, p))
                for p in entity.edm_props
                if p.access is not Access.HIDDEN
            ]
            self._edm[entity.name] = plan
        return plan

    def full(self, entity: EntityDef, row: Row) -> dict[str, Any]:
        return self.full_plan(entity).render(row)

    def full_many(self, entity: EntityDef, rows: Iterable[Row]) -> list[dict[str, Any]]:
        render = self.full_plan(entity).render
        return [render(row) for row in rows]

    def edm(
        self, entity: EntityDef, row: Row, tree: ExpandTree | None, select: Selection | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if tree is not None:
            for name, sub in tree.children.items():
                if select is not None and name not in select:
                    continue
                inner = select.get(name) if select is not None else None
                nav = entity.navs[name]
                target = ENTITIES[nav.target] if nav.target else None
                if nav.many:
                    if target is None:
                        out[name] = []
                        continue
                    related = self.data.nav_many(entity, nav)(row)
                    out[name] = [self.edm(target, r, sub, inner) for r in related]
                else:
                    if target is None:
                        out[name] = None
                        continue
                    one = self.data.nav_single(entity, nav)(row)
                    out[name] = None if one is None else self.edm(target, one, sub, inner)
        for key, getter in self.edm_plan(entity):
            if select is None or key in select:
                out[key] = getter(row)
        return out
