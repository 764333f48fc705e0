"""Functions the Rock emulator tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

CHICAGO = ZoneInfo("America/Chicago")


def freeze(client: httpx.Client, when: datetime) -> None:
    """Freeze the emulator clock at an aware instant."""
    r = client.post("/__emulator__/clock", json={"now": when.isoformat(), "frozen": True})
    assert r.status_code == 200, r.text


def local_text(when: datetime, tz: ZoneInfo = CHICAGO) -> str:
    """How Rock writes an instant: org-local wall time, no offset, trailing zeros trimmed."""
    text = when.astimezone(tz).replace(tzinfo=None).isoformat()
    return text.rstrip("0") if "." in text else text


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def person_ids(client: httpx.Client, filter_: str, **params: str) -> list[int]:
    r = client.get("/api/People", params={"$filter": filter_, "$select": "Id", **params})
    assert r.status_code == 200, r.text
    return [p["Id"] for p in r.json()]


def some_person(client: httpx.Client, ids: dict[str, int], **extra: str) -> dict[str, Any]:
    """A seeded adult of record type Person with an email."""
    flt = (
        f"RecordTypeValueId eq {ids['dv:record_type:person']} and Email ne null "
        f"and AgeClassification eq 'Adult' and Id ne {ids['person:admin']}"
    )
    r = client.get("/api/People", params={"$filter": flt, "$top": "1", "$orderby": "Id", **extra})
    assert r.status_code == 200, r.text
    people = r.json()
    assert people, "the seeded church has adults with email"
    person: dict[str, Any] = client.get(f"/api/People/{people[0]['Id']}").json()
    return person
