"""Column types that keep the store honest about time, JSON and text on both databases.

Text and JSON pass :func:`~pcosync.domain.text.scrub` on the way in: a NUL, another C0
control character or an unpaired surrogate is stored as a visible stand-in, never as itself
(PostgreSQL refuses a NUL in text and JSONB, and one refused write would fail every later run).
The adapters already keep such values out of people's fields; this is the last line of
defence for everything else kept (error messages, parked payloads, before and after images).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from pcosync.domain.text import scrub, scrub_json


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so the value is stored as
    naive UTC text (which sorts correctly) and the zone is put back on the way out. A naive
    datetime is refused: inside pcosync it is always a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class SafeText(TypeDecorator[str]):
    """Text whose unstorable characters are replaced by visible stand-ins on the way in."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else scrub(value)


class SafeJSON(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL, every string in it scrubbed on the way in;
    Python None is stored as SQL NULL."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return scrub_json(value)


def json_type() -> TypeEngine[Any]:
    """The JSON column type of every table: :class:`SafeJSON`."""
    return SafeJSON()
