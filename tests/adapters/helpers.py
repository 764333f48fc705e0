"""Control-API helpers shared by the adapter tests (real HTTP to the emulators)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def control(url: str, path: str, payload: Any = None, *, method: str | None = None) -> Any:
    with httpx.Client(base_url=url, timeout=10) as http:
        verb = method or ("GET" if payload is None else "POST")
        resp = http.request(verb, f"/__emulator__/{path}", json=payload)
        resp.raise_for_status()
        return resp.json() if resp.content else None


def reset_stats(url: str) -> None:
    control(url, "stats", method="DELETE")


def request_count(url: str) -> int:
    return int(control(url, "stats")["requests"])


def routes(url: str) -> dict[str, int]:
    return dict(control(url, "stats")["by_route"])


def set_faults(url: str, *faults: dict[str, Any]) -> None:
    control(url, "faults", {"faults": list(faults), "seed": 1})


def freeze_clock(url: str, when: datetime) -> datetime:
    """Freeze the emulator's clock at ``when`` (whole seconds) and return it."""
    when = when.astimezone(UTC).replace(microsecond=0)
    control(url, "clock", {"now": when.isoformat(), "frozen": True})
    return when


def future(days: int = 30) -> datetime:
    """A moment later than any seeded timestamp, in whole seconds."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)
