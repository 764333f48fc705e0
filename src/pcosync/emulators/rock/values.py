"""Value formats at Rock's boundary: local date-times, SQL ``datetime`` precision, JSON output.

Rock stores plain ``datetime`` columns in the organisation's time zone and its v1 API writes
them without an offset, trimming trailing zeros of the fraction (``"2017-12-07T10:03:13.61"``).
SQL Server ``datetime`` keeps 1/300 s, so milliseconds always end in 0, 3 or 7.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

_DECIMAL_MARK = "\u0000DEC:"
_DECIMAL_RE = re.compile(rb'"\\u0000DEC:(-?[0-9.]+)"')
_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME


def sql_datetime(value: datetime) -> datetime:
    """Round to SQL Server ``datetime`` precision (1/300 s): .000, .003, .007, ..."""
    ticks = round(value.microsecond * 300 / 1_000_000)
    base = value.replace(microsecond=0)
    if ticks >= 300:
        return base + timedelta(seconds=1)
    ms = (ticks * 1000 + 150) // 300
    return base.replace(microsecond=ms * 1000)


def to_local(moment: datetime, tz: ZoneInfo) -> datetime:
    """Aware instant → naive organisation-local wall time at SQL precision."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where an aware instant is required")
    return sql_datetime(moment.astimezone(tz).replace(tzinfo=None))


def format_datetime(value: datetime) -> str:
    """.NET ``yyyy-MM-ddTHH:mm:ss.FFFFFFF``: no offset, fraction without trailing zeros."""
    text = value.isoformat()
    return text.rstrip("0") if value.microsecond else text


def parse_datetime_text(text: str) -> datetime | None:
    """Parse what Newtonsoft accepts for a DateTime in a JSON body (offset → dropped to wall time).

    Returns None when the text is not a date-time.
    """
    raw = text.strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def new_guid() -> str:
    return str(uuid.uuid4())


def decimal_out(value: Decimal) -> str:
    """Marker that :func:`dumps` turns into a bare decimal literal such as ``23.0000``."""
    return _DECIMAL_MARK + f"{value:.4f}"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_out(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat() + "T00:00:00"
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    """Compact JSON like ASP.NET Web API writes it; decimals keep their .NET scale."""
    body = orjson.dumps(payload, default=_default, option=_DUMPS_OPTIONS)
    if b"u0000DEC:" in body:
        body = _DECIMAL_RE.sub(rb"\1", body)
    return body


def format_phone(number: str, country_code: str | None) -> str:
    """Rock's US formatting: ``(123) 456-7890`` for ten digits, else the digits as stored."""
    if (country_code or "1") == "1" and len(number) == 10 and number.isdigit():
        return f"({number[:3]}) {number[3:6]}-{number[6:]}"
    return number


def digits_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
