"""Parked records for the admin: list them, retry one at the next sync, or dismiss it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pcosync.store import Backoff, ParkedRecord, ParkedRepo, ParkedStatus, Store


@dataclass(frozen=True, slots=True)
class ParkedView:
    id: int
    side: str
    record_key: str
    reason: str
    retry_count: int
    next_attempt_at: datetime
    first_seen_at: datetime
    status: str
    run_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "side": self.side,
            "record": self.record_key,
            "reason": self.reason,
            "retries": self.retry_count,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "first_seen_at": self.first_seen_at.isoformat(),
            "status": self.status,
            "run_id": self.run_id,
        }


def _view(p: ParkedRecord) -> ParkedView:
    return ParkedView(
        p.id,
        p.side.value,
        p.record_key,
        p.reason,
        p.retry_count,
        p.next_attempt_at,
        p.first_seen_at,
        p.status.value,
        p.run_id,
    )


def listing(store: Store, *, show_all: bool = False) -> list[ParkedView]:
    return [_view(p) for p in store.parked.list(None if show_all else ParkedStatus.OPEN)]


def _find(store: Store, parked_id: int) -> ParkedRecord:
    for p in store.parked.list(None):
        if p.id == parked_id:
            return p
    raise LookupError(f"There is no parked record {parked_id}. List them with: pcosync parked")


def retry(store: Store, parked_id: int) -> ParkedView:
    """Due now: the next sync re-reads the record and tries it again (a dismissed one too)."""
    found = _find(store, parked_id)
    now_repo = ParkedRepo(store, Backoff(first=timedelta(0), cap=timedelta(0)))
    again = now_repo.park(found.side, found.record_key, found.reason, run_id=found.run_id)
    return _view(again)


def dismiss(store: Store, parked_id: int) -> ParkedView:
    """Stop retrying; it stays in the list with ``--all``."""
    found = _find(store, parked_id)
    store.parked.dismiss(found.side, found.record_key)
    return _view(_find(store, parked_id))
