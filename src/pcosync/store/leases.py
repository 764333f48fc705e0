"""The run lease: one process at a time may run on a connection (DESIGN §6.0).

One row per connection in ``run_leases``. A process takes it with a random token for a
short time (``ttl``) and renews it while it works; when it ends, it releases it. A holder
that died stops renewing, so its lease expires and the next process takes it over (and
then settles what the dead run left). The row is read and changed inside one transaction
that locks it (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` takes the
database's write lock), so two processes can never both hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from pcosync.store.base import upsert
from pcosync.store.models import RunLeaseRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds (or held) a connection's lease."""

    token: str
    run_id: int | None
    purpose: str | None
    host: str | None
    pid: int | None
    acquired_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Acquired:
    """The outcome of :meth:`LeaseRepo.try_acquire`.

    ``ok``: the lease is ours. ``holder``: when refused, who holds it; when ``ok``, the
    previous holder whose lease had expired (or who was declared dead), if any.
    """

    ok: bool
    holder: LeaseHolder | None


def _holder(row: RunLeaseRow) -> LeaseHolder | None:
    if row.token is None:
        return None
    return LeaseHolder(
        row.token, row.run_id, row.purpose, row.host, row.pid, row.acquired_at, row.expires_at
    )


class LeaseRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def try_acquire(
        self,
        token: str,
        *,
        ttl: timedelta,
        purpose: str,
        host: str,
        pid: int,
        dead: frozenset[str] = frozenset(),
    ) -> Acquired:
        """Take the lease if it is free, expired, or held by a token in ``dead`` (a holder
        known to have died, e.g. a process on this host that no longer exists)."""
        now = self._store.now()
        conn = self._store.connection
        with self._store.transaction() as s:
            table: Any = RunLeaseRow.__table__
            s.execute(upsert(s, table).values(connection=conn).on_conflict_do_nothing())
            row = s.scalars(select(RunLeaseRow).filter_by(connection=conn).with_for_update()).one()
            current = _holder(row)
            if (
                current is not None
                and current.token != token
                and current.token not in dead
                and row.expires_at is not None
                and row.expires_at > now
            ):
                return Acquired(False, current)
            previous = current if current is not None and current.token != token else None
            row.token = token
            row.run_id = None
            row.purpose = purpose
            row.host = host
            row.pid = pid
            row.acquired_at = now
            row.expires_at = now + ttl
            return Acquired(True, previous)

    def renew(self, token: str, ttl: timedelta) -> bool:
        """Extend our lease; False if it is no longer ours (it expired and was taken)."""
        now = self._store.now()
        with self._store.transaction() as s:
            result = s.execute(
                update(RunLeaseRow)
                .where(
                    RunLeaseRow.connection == self._store.connection,
                    RunLeaseRow.token == token,
                )
                .values(expires_at=now + ttl)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def attach_run(self, token: str, run_id: int) -> None:
        """Say which run the holder is working on (shown to a process that has to wait)."""
        with self._store.transaction() as s:
            s.execute(
                update(RunLeaseRow)
                .where(
                    RunLeaseRow.connection == self._store.connection,
                    RunLeaseRow.token == token,
                )
                .values(run_id=run_id)
            )

    def release(self, token: str) -> None:
        with self._store.transaction() as s:
            s.execute(
                update(RunLeaseRow)
                .where(
                    RunLeaseRow.connection == self._store.connection,
                    RunLeaseRow.token == token,
                )
                .values(token=None, run_id=None, purpose=None, expires_at=None)
            )

    def current(self) -> LeaseHolder | None:
        """The live holder, if any (an expired lease counts as free)."""
        now = self._store.now()
        with self._store.transaction() as s:
            row = s.scalars(
                select(RunLeaseRow).filter_by(connection=self._store.connection)
            ).first()
            if row is None or row.expires_at is None or row.expires_at <= now:
                return None
            return _holder(row)
