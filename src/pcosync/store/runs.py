"""Runs: one sync (or revert) of one connection, with its status and review trail."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from pcosync.errors import PcoSyncError
from pcosync.store.models import RunRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


class RunStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    PARTIAL = "partial"  # finished, some records parked
    FAILED = "failed"
    HELD = "held"  # the gate stopped it: the plan waits in the journal for review
    APPROVED = "approved"  # an admin approved the held plan; applying it comes next
    REJECTED = "rejected"
    REVERTED = "reverted"
    INTERRUPTED = "interrupted"  # its process died (lease expired); settled by the next run


class RunMode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"
    REVERT = "revert"


TERMINAL = frozenset(
    {
        RunStatus.DONE,
        RunStatus.PARTIAL,
        RunStatus.FAILED,
        RunStatus.REJECTED,
        RunStatus.INTERRUPTED,
    }
)
# runs whose writes happened (some or all): the ones a revert can undo
APPLIED = frozenset({RunStatus.DONE, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.INTERRUPTED})

ALLOWED: Mapping[RunStatus, frozenset[RunStatus]] = {
    RunStatus.RUNNING: frozenset(
        {
            RunStatus.DONE,
            RunStatus.PARTIAL,
            RunStatus.FAILED,
            RunStatus.HELD,
            RunStatus.INTERRUPTED,
        }
    ),
    RunStatus.HELD: frozenset({RunStatus.APPROVED, RunStatus.REJECTED}),
    RunStatus.APPROVED: frozenset(
        {
            RunStatus.RUNNING,
            RunStatus.DONE,
            RunStatus.PARTIAL,
            RunStatus.FAILED,
            RunStatus.INTERRUPTED,
        }
    ),
    RunStatus.DONE: frozenset({RunStatus.REVERTED}),
    RunStatus.PARTIAL: frozenset({RunStatus.REVERTED}),
    RunStatus.FAILED: frozenset({RunStatus.REVERTED}),
    RunStatus.INTERRUPTED: frozenset({RunStatus.REVERTED}),
    RunStatus.REJECTED: frozenset(),
    RunStatus.REVERTED: frozenset(),
}


class RunStateError(PcoSyncError):
    """A run cannot move to the requested status (e.g. approving a run that is not held)."""


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    connection: str
    started_at: datetime
    ended_at: datetime | None
    status: RunStatus
    mode: RunMode
    dry_run: bool
    counts: Mapping[str, Any]
    hold_reasons: Sequence[Mapping[str, Any]]
    error: str | None
    reverts_run_id: int | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    observed_at: datetime | None = None
    host: str | None = None


def _run(row: RunRow) -> Run:
    return Run(
        row.id,
        row.connection,
        row.started_at,
        row.ended_at,
        RunStatus(row.status),
        RunMode(row.mode),
        row.dry_run,
        dict(row.counts or {}),
        list(row.hold_reasons or []),
        row.error,
        row.reverts_run_id,
        row.reviewed_by,
        row.reviewed_at,
        row.observed_at,
        row.host,
    )


class RunRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def start(
        self,
        mode: RunMode,
        *,
        dry_run: bool = False,
        reverts_run_id: int | None = None,
        host: str | None = None,
    ) -> Run:
        now = self._store.now()
        with self._store.transaction() as s:
            row = RunRow(
                connection=self._store.connection,
                started_at=now,
                status=RunStatus.RUNNING.value,
                mode=mode.value,
                dry_run=dry_run,
                counts={},
                reverts_run_id=reverts_run_id,
                updated_at=now,
                host=host,
            )
            s.add(row)
            s.flush()
            return _run(row)

    def set_observed(self, run_id: int, observed_at: datetime) -> None:
        """When the run's observation began (an approval re-reads changes since then)."""
        with self._store.transaction() as s:
            row = self._row(s, run_id)
            if row is not None:
                row.observed_at = observed_at

    def set_counts(self, run_id: int, counts: Mapping[str, Any]) -> None:
        with self._store.transaction() as s:
            row = self._row(s, run_id)
            if row is not None:
                row.counts = dict(counts)
                row.updated_at = self._store.now()

    def get(self, run_id: int) -> Run | None:
        with self._store.transaction() as s:
            row = self._row(s, run_id)
            return _run(row) if row else None

    def _row(self, s: Any, run_id: int) -> RunRow | None:
        row: RunRow | None = s.scalars(
            select(RunRow).filter_by(connection=self._store.connection, id=run_id)
        ).first()
        return row

    def transition(
        self,
        run_id: int,
        status: RunStatus,
        *,
        counts: Mapping[str, Any] | None = None,
        error: str | None = None,
        hold_reasons: Sequence[Mapping[str, Any]] | None = None,
        reviewed_by: str | None = None,
    ) -> Run:
        """Move a run to ``status`` if the lifecycle allows it, else :class:`RunStateError`."""
        now = self._store.now()
        with self._store.transaction() as s:
            row = self._row(s, run_id)
            if row is None:
                raise LookupError(f"run {run_id} does not exist")
            current = RunStatus(row.status)
            if status not in ALLOWED[current]:
                raise RunStateError(
                    f"Run {run_id} is {current.value}; it cannot become {status.value}."
                )
            row.status = status.value
            row.updated_at = now
            if counts is not None:
                row.counts = dict(counts)
            if error is not None:
                row.error = error
            if hold_reasons is not None:
                row.hold_reasons = [dict(r) for r in hold_reasons]
            if reviewed_by is not None:
                row.reviewed_by = reviewed_by
                row.reviewed_at = now
            if status in TERMINAL or status is RunStatus.HELD:
                row.ended_at = now
            elif status is RunStatus.RUNNING:
                row.ended_at = None
            return _run(row)

    def finish(
        self,
        run_id: int,
        status: RunStatus,
        *,
        counts: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> Run:
        if status not in TERMINAL:
            raise RunStateError(f"{status.value} is not a final status for a run")
        return self.transition(run_id, status, counts=counts, error=error)

    def hold(
        self, run_id: int, reasons: Sequence[Mapping[str, Any]], counts: Mapping[str, Any]
    ) -> Run:
        return self.transition(run_id, RunStatus.HELD, counts=counts, hold_reasons=reasons)

    def approve(self, run_id: int, by: str) -> Run:
        return self.transition(run_id, RunStatus.APPROVED, reviewed_by=by)

    def reject(self, run_id: int, by: str) -> Run:
        return self.transition(run_id, RunStatus.REJECTED, reviewed_by=by)

    def mark_reverted(self, run_id: int) -> Run:
        return self.transition(run_id, RunStatus.REVERTED)

    def list(self, limit: int = 50, *, status: RunStatus | None = None) -> builtins.list[Run]:
        """Newest first."""
        with self._store.transaction() as s:
            stmt = (
                select(RunRow)
                .filter_by(connection=self._store.connection)
                .order_by(RunRow.started_at.desc(), RunRow.id.desc())
                .limit(limit)
            )
            if status is not None:
                stmt = stmt.filter_by(status=status.value)
            return [_run(r) for r in s.scalars(stmt)]

    def unfinished(self) -> builtins.list[Run]:
        """Runs still marked running (or approved, about to run). Called by the holder of the
        run lease, so their process died: the next run settles them from the journal."""
        with self._store.transaction() as s:
            stmt = (
                select(RunRow)
                .filter_by(connection=self._store.connection)
                .where(RunRow.status.in_([RunStatus.RUNNING.value, RunStatus.APPROVED.value]))
                .order_by(RunRow.id)
            )
            return [_run(r) for r in s.scalars(stmt)]
