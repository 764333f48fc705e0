"""The review queue of match issues, kept in step with what the matcher reports."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from pcosync.engine.match import MATCHER_KINDS, IssueKind, MatchIssue
from pcosync.store.models import MatchIssueRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


class IssueStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class StoredIssue:
    id: int
    key: str
    kind: IssueKind
    rock_ids: tuple[int, ...]
    pco_ids: tuple[str, ...]
    evidence: Any
    message: str
    status: IssueStatus
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


def _issue(row: MatchIssueRow) -> StoredIssue:
    return StoredIssue(
        row.id,
        row.key,
        IssueKind(row.kind),
        tuple(row.rock_ids),
        tuple(row.pco_ids),
        row.evidence,
        row.message,
        IssueStatus(row.status),
        row.created_at,
        row.updated_at,
        row.resolved_at,
    )


class MatchIssueRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    def upsert(self, issue: MatchIssue) -> StoredIssue:
        """Open (or refresh, or reopen) the issue with this key."""
        now = self._store.now()
        evidence = [
            {"rock_id": e.rock_id, "pco_id": e.pco_id, "evidence": e.evidence.value}
            for e in issue.evidence
        ]
        with self._store.transaction() as s:
            row = s.scalars(
                select(MatchIssueRow).filter_by(connection=self._store.connection, key=issue.key)
            ).first()
            if row is None:
                row = MatchIssueRow(
                    connection=self._store.connection,
                    key=issue.key,
                    kind=issue.kind.value,
                    rock_ids=list(issue.rock_ids),
                    pco_ids=list(issue.pco_ids),
                    evidence=evidence,
                    message=issue.message,
                    status=IssueStatus.OPEN.value,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
            else:
                row.message = issue.message
                row.evidence = evidence
                row.status = IssueStatus.OPEN.value
                row.resolved_at = None
                row.updated_at = now
            s.flush()
            return _issue(row)

    def resolve(self, issue_id: int) -> bool:
        with self._store.transaction() as s:
            result = s.execute(
                update(MatchIssueRow)
                .where(
                    MatchIssueRow.connection == self._store.connection,
                    MatchIssueRow.id == issue_id,
                    MatchIssueRow.status == IssueStatus.OPEN.value,
                )
                .values(
                    status=IssueStatus.RESOLVED.value,
                    resolved_at=self._store.now(),
                    updated_at=self._store.now(),
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def resolve_missing(self, seen_keys: Collection[str]) -> int:
        """Resolve open issues the matcher no longer reports (after a full matching pass);
        issues of other kinds are left to whoever opened them."""
        seen = set(seen_keys)
        resolved = 0
        for issue in self.list(IssueStatus.OPEN):
            if issue.kind not in MATCHER_KINDS:
                continue
            if issue.key not in seen and self.resolve(issue.id):
                resolved += 1
        return resolved

    def get(self, issue_id: int) -> StoredIssue | None:
        with self._store.transaction() as s:
            row = s.scalars(
                select(MatchIssueRow).filter_by(connection=self._store.connection, id=issue_id)
            ).first()
            return _issue(row) if row else None

    def list(self, status: IssueStatus | None = IssueStatus.OPEN) -> builtins.list[StoredIssue]:
        with self._store.transaction() as s:
            stmt = (
                select(MatchIssueRow)
                .filter_by(connection=self._store.connection)
                .order_by(MatchIssueRow.created_at, MatchIssueRow.id)
            )
            if status is not None:
                stmt = stmt.filter_by(status=status.value)
            return [_issue(r) for r in s.scalars(stmt)]

    def involving(
        self, *, rock_id: int | None = None, pco_id: str | None = None
    ) -> builtins.list[StoredIssue]:
        """Open issues that name a record (the orchestrator leaves such people alone)."""
        return [
            i
            for i in self.list(IssueStatus.OPEN)
            if (rock_id is not None and rock_id in i.rock_ids)
            or (pco_id is not None and pco_id in i.pco_ids)
        ]
