"""Parked records: what could not be written, why, and when to try again.

One failing record never stops a run (DESIGN §6): it is parked with its reason and retried
with exponential backoff. Parking the same record again updates the same row.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pcosync.domain.identity import Side
from pcosync.store.models import ParkedRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


class ParkedStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"  # an admin said: stop retrying
    RESOLVED = "resolved"  # the write went through later


@dataclass(frozen=True, slots=True)
class ParkedRecord:
    id: int
    side: Side
    record_key: str  # e.g. "person:123", "membership:45:TeamPosition:77"
    reason: str
    payload: Any
    retry_count: int
    next_attempt_at: datetime
    first_seen_at: datetime
    last_seen_at: datetime
    status: ParkedStatus
    run_id: int | None


def _parked(row: ParkedRow) -> ParkedRecord:
    return ParkedRecord(
        row.id,
        Side(row.side),
        row.record_key,
        row.reason,
        row.payload,
        row.retry_count,
        row.next_attempt_at,
        row.first_seen_at,
        row.last_seen_at,
        ParkedStatus(row.status),
        row.run_id,
    )


@dataclass(frozen=True, slots=True)
class Backoff:
    """``first`` after the first failure, doubling up to ``cap``."""

    first: timedelta = timedelta(minutes=15)
    cap: timedelta = timedelta(hours=24)

    def delay(self, retry_count: int) -> timedelta:
        return min(self.cap, self.first * (1 << min(retry_count, 30)))


class ParkedRepo:
    def __init__(self, store: Store, backoff: Backoff | None = None) -> None:
        self._store = store
        self.backoff = backoff or Backoff()

    def _find(self, s: Any, side: Side, record_key: str) -> ParkedRow | None:
        row: ParkedRow | None = s.scalars(
            select(ParkedRow).filter_by(
                connection=self._store.connection, side=side.value, record_key=record_key
            )
        ).first()
        return row

    def park(
        self,
        side: Side,
        record_key: str,
        reason: str,
        payload: Mapping[str, Any] | None = None,
        *,
        run_id: int | None = None,
    ) -> ParkedRecord:
        """Park (or re-park, counting a retry) a record. ``reason`` is shown to the admin:
        say what failed and what to do; keep personal data out of it."""
        now = self._store.now()
        with self._store.transaction() as s:
            row = self._find(s, side, record_key)
            if row is None:
                row = ParkedRow(
                    connection=self._store.connection,
                    side=side.value,
                    record_key=record_key,
                    reason=reason,
                    payload=dict(payload) if payload is not None else None,
                    retry_count=0,
                    next_attempt_at=now + self.backoff.delay(0),
                    first_seen_at=now,
                    last_seen_at=now,
                    status=ParkedStatus.OPEN.value,
                    run_id=run_id,
                )
                s.add(row)
            else:
                if row.status == ParkedStatus.OPEN.value:
                    row.retry_count += 1
                else:
                    row.retry_count = 0  # it broke again after being fixed: start over
                row.status = ParkedStatus.OPEN.value
                row.reason = reason
                if payload is not None:
                    row.payload = dict(payload)
                row.last_seen_at = now
                row.next_attempt_at = now + self.backoff.delay(row.retry_count)
                row.run_id = run_id if run_id is not None else row.run_id
            s.flush()
            return _parked(row)

    def get(self, side: Side, record_key: str) -> ParkedRecord | None:
        with self._store.transaction() as s:
            row = self._find(s, side, record_key)
            return _parked(row) if row else None

    def is_parked(self, side: Side, record_key: str) -> bool:
        found = self.get(side, record_key)
        return found is not None and found.status is ParkedStatus.OPEN

    def due(self, now: datetime | None = None) -> builtins.list[ParkedRecord]:
        """Open records whose next attempt is due."""
        when = now or self._store.now()
        with self._store.transaction() as s:
            stmt = (
                select(ParkedRow)
                .filter_by(connection=self._store.connection, status=ParkedStatus.OPEN.value)
                .where(ParkedRow.next_attempt_at <= when)
                .order_by(ParkedRow.next_attempt_at, ParkedRow.id)
            )
            return [_parked(r) for r in s.scalars(stmt)]

    def list(self, status: ParkedStatus | None = ParkedStatus.OPEN) -> builtins.list[ParkedRecord]:
        with self._store.transaction() as s:
            stmt = (
                select(ParkedRow)
                .filter_by(connection=self._store.connection)
                .order_by(ParkedRow.first_seen_at, ParkedRow.id)
            )
            if status is not None:
                stmt = stmt.filter_by(status=status.value)
            return [_parked(r) for r in s.scalars(stmt)]

    def _set_status(self, side: Side, record_key: str, status: ParkedStatus) -> bool:
        with self._store.transaction() as s:
            row = self._find(s, side, record_key)
            if row is None:
                return False
            row.status = status.value
            row.last_seen_at = self._store.now()
            return True

    def resolve(self, side: Side, record_key: str) -> bool:
        """The record went through: stop retrying. False if it was not parked."""
        return self._set_status(side, record_key, ParkedStatus.RESOLVED)

    def unpark(self, side: Side, record_key: str) -> bool:
        """Same as :meth:`resolve`: the record no longer needs retrying."""
        return self.resolve(side, record_key)

    def dismiss(self, side: Side, record_key: str) -> bool:
        return self._set_status(side, record_key, ParkedStatus.DISMISSED)
