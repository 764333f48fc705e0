"""OData v3 filter text as Rock's v1 API accepts it (spec §2.2–2.3, §7).

- date-times are sent as ``datetime'YYYY-MM-DDTHH:MM:SS'`` in the organisation's local time
  (an offset makes Rock answer 400; a ``Z`` is ignored, so UTC would be silently wrong);
- GUIDs as ``guid'…'``; strings single-quoted with inner quotes doubled;
- enums compared as quoted names (a bare number is a 400);
- long ``or`` chains split into batches, below OData's node-count limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from zoneinfo import ZoneInfo

# OData counts `Field eq value` as four nodes (operator, the implicit $it, the property, the
# constant) and each `or` as one more; Rock's default MaxNodeCount is 100. Fifteen terms use 74,
# leaving room for another clause joined with `and`.
OR_BATCH = 15


class EnumName(str):
    """A value of a C# enum, written as its quoted name (``GroupMemberStatus eq 'Active'``)."""


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def to_local(when: datetime, tz: ZoneInfo) -> datetime:
    """Aware UTC → Rock's naive organisation-local wall time."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime")
    return when.astimezone(tz).replace(tzinfo=None)


def from_local(text: str | None, tz: ZoneInfo) -> datetime | None:
    """Rock's offset-less organisation-local text → aware UTC (DST fall-back: first hour)."""
    if not text:
        return None
    naive = datetime.fromisoformat(text.rstrip("Z"))
    if naive.tzinfo is not None:  # v2-style output with an offset: already absolute
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def literal(value: object, tz: ZoneInfo) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, EnumName):
        return quote(str(value))
    if isinstance(value, Enum):
        return quote(str(value.name))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"datetime'{to_local(value, tz):%Y-%m-%dT%H:%M:%S}'"
    if isinstance(value, date):
        return f"datetime'{value:%Y-%m-%d}T00:00:00'"
    return quote(str(value))


def guid(value: str) -> str:
    return f"guid'{value}'"


def cmp(field: str, op: str, value: object, tz: ZoneInfo) -> str:
    if op not in {"eq", "ne", "gt", "ge", "lt", "le"}:
        raise ValueError(f"unknown OData operator {op!r}")
    return f"{field} {op} {literal(value, tz)}"


def all_of(*clauses: str | None) -> str:
    parts = [c for c in clauses if c]
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({c})" for c in parts)


def any_of(field: str, values: Iterable[object], tz: ZoneInfo, batch: int = OR_BATCH) -> list[str]:
    """``field eq a or field eq b …`` split into several filters of at most ``batch`` terms."""
    items: Sequence[object] = list(dict.fromkeys(values))
    out = []
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        out.append(" or ".join(f"{field} eq {literal(v, tz)}" for v in chunk))
    return out
