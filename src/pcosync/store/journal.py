"""The operation journal: every planned write, before and after it is sent.

The rule that makes retries safe: an operation is marked ``sent`` (durably) before its
request goes out. After a crash, ``sent`` operations are *in doubt* — re-read the record
(for a create, find it by its link hint) and then mark them applied or planned again;
never resend blindly.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from pcosync.domain.fields import (
    FIELD_SPECS,
    FieldName,
    person_from_json,
    person_to_json,
    value_to_json,
)
from pcosync.domain.identity import GroupRef, PersonRef, Side
from pcosync.domain.person import Person
from pcosync.engine.merge import ConflictRule, Reason
from pcosync.engine.plan import Change, Conflict, Operation, OpKind
from pcosync.errors import PcoSyncError
from pcosync.store.models import ConflictRow, OperationRow, RunRow

if TYPE_CHECKING:
    from pcosync.store.base import Store


class OpStatus(StrEnum):
    PLANNED = "planned"
    SENT = "sent"  # journaled before the request: in doubt until marked applied/failed
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # not attempted (dry run, dependency failed, rejected run)


_NEXT: Mapping[OpStatus, frozenset[OpStatus]] = {
    OpStatus.PLANNED: frozenset(
        {OpStatus.SENT, OpStatus.APPLIED, OpStatus.FAILED, OpStatus.SKIPPED}
    ),
    OpStatus.SENT: frozenset(
        {OpStatus.SENT, OpStatus.APPLIED, OpStatus.FAILED, OpStatus.SKIPPED, OpStatus.PLANNED}
    ),
    OpStatus.FAILED: frozenset({OpStatus.SENT, OpStatus.APPLIED, OpStatus.SKIPPED}),
    OpStatus.APPLIED: frozenset(),
    OpStatus.SKIPPED: frozenset(),
}


class JournalError(PcoSyncError):
    """A journal entry cannot move to the requested status."""


@dataclass(frozen=True, slots=True)
class JournaledOp:
    id: int
    run_id: int
    status: OpStatus
    operation: Operation
    error: str | None
    after_image: Any  # the record as meant (create) or as re-read after the write
    before_image: Any
    journaled_at: datetime
    sent_at: datetime | None
    applied_at: datetime | None

    @property
    def seq(self) -> int:
        return self.operation.seq


def _changes_json(op: Operation) -> dict[str, Any]:
    return {
        name.value: {
            "before": value_to_json(before),
            "after": value_to_json(after),
            "reason": op.field_reasons.get(name, op.reason).value,
        }
        for name, (before, after) in op.changes.items()
    }


def _image(value: Person | Mapping[str, Any] | None) -> Any:
    if value is None:
        return None
    if isinstance(value, Person):
        return person_to_json(value)
    return dict(value)


def _row_values(run_id: int, op: Operation, status: OpStatus, now: datetime) -> dict[str, Any]:
    group = op.group
    return {
        "run_id": run_id,
        "seq": op.seq,
        "side": op.side.value,
        "kind": op.kind.value,
        "reason": op.reason.value,
        "link_id": op.ref.link_id,
        "rock_person_id": op.ref.rock_id,
        "pco_person_id": op.ref.pco_id,
        "group_link_id": group.group_link_id if group else None,
        "rock_group_id": group.rock_group_id if group else None,
        "pco_group_id": group.pco_id if group else None,
        "depends_on": list(op.depends_on) if op.depends_on else None,
        "field_changes": _changes_json(op),
        "before_image": _image(op.before),
        "after_image": _image(op.record),
        "status": status.value,
        "journaled_at": now,
        "sent_at": now if status is OpStatus.SENT else None,
        "person_name": op.ref.name,
        "group_name": group.name if group else None,
    }


def _operation(row: OperationRow) -> Operation:
    changes: dict[FieldName, Change] = {}
    reasons: dict[FieldName, Reason] = {}
    for key, item in (row.field_changes or {}).items():
        name = FieldName(key)
        spec = FIELD_SPECS[name]
        changes[name] = (spec.from_json(item.get("before")), spec.from_json(item.get("after")))
        reasons[name] = Reason(item.get("reason", row.reason))
    kind = OpKind(row.kind)
    person_image = kind in (OpKind.UPDATE, OpKind.LINK, OpKind.UNLINK, OpKind.ARCHIVE)
    before = person_from_json(row.before_image)[0] if person_image and row.before_image else None
    record = (
        person_from_json(row.after_image)[0] if kind is OpKind.CREATE and row.after_image else None
    )
    group = (
        GroupRef(row.group_link_id, row.rock_group_id, row.pco_group_id, row.group_name)
        if row.rock_group_id is not None and row.pco_group_id is not None
        else None
    )
    return Operation(
        seq=row.seq,
        kind=kind,
        side=Side(row.side),
        ref=PersonRef(row.link_id, row.rock_person_id, row.pco_person_id, row.person_name),
        reason=Reason(row.reason),
        changes=changes,
        field_reasons=reasons,
        before=before,
        record=record,
        group=group,
        depends_on=tuple(row.depends_on or ()),
    )


def _journaled(row: OperationRow) -> JournaledOp:
    return JournaledOp(
        row.id,
        row.run_id,
        OpStatus(row.status),
        _operation(row),
        row.error,
        row.after_image,
        row.before_image,
        row.journaled_at,
        row.sent_at,
        row.applied_at,
    )


class OperationJournal:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _check_run(self, s: Any, run_id: int) -> None:
        found = s.scalar(select(RunRow.id).filter_by(connection=self._store.connection, id=run_id))
        if found is None:
            raise LookupError(
                f"run {run_id} does not exist in connection {self._store.connection!r}"
            )

    def record(
        self, run_id: int, operations: Iterable[Operation], status: OpStatus = OpStatus.PLANNED
    ) -> int:
        """Journal a plan's operations (bulk, 1,000 rows at a time: a first sync's plan as
        rows with their images would otherwise be held all at once). Returns how many were
        written."""
        now = self._store.now()
        ops = iter(operations)
        first = next(ops, None)
        if first is None:
            return 0
        written = 0
        with self._store.transaction() as s:
            self._check_run(s, run_id)
            batch = [_row_values(run_id, first, status, now)]
            for op in ops:
                if len(batch) == 1000:
                    s.execute(insert(OperationRow), batch)
                    written += len(batch)
                    batch = []
                batch.append(_row_values(run_id, op, status, now))
            s.execute(insert(OperationRow), batch)
            written += len(batch)
        return written

    def _row(self, s: Any, run_id: int, seq: int) -> OperationRow:
        row: OperationRow | None = s.scalars(
            select(OperationRow)
            .join(RunRow, RunRow.id == OperationRow.run_id)
            .where(
                RunRow.connection == self._store.connection,
                OperationRow.run_id == run_id,
                OperationRow.seq == seq,
            )
        ).first()
        if row is None:
            raise LookupError(f"operation {seq} of run {run_id} is not in the journal")
        return row

    def _move(self, row: OperationRow, status: OpStatus) -> None:
        current = OpStatus(row.status)
        if status not in _NEXT[current]:
            raise JournalError(
                f"Operation {row.seq} of run {row.run_id} is {current.value}; "
                f"it cannot become {status.value}."
            )
        row.status = status.value

    def _fast(self, run_id: int, seq: int, status: OpStatus, **values: Any) -> bool:
        """Move one operation with a single UPDATE (the hot path of a run: thousands of
        moves, each its own commit). False when it did not apply (a status it cannot leave,
        or no such row): the caller then takes the checked path, which says why."""
        allowed = [s.value for s, nxt in _NEXT.items() if status in nxt]
        runs = select(RunRow.id).where(RunRow.connection == self._store.connection)
        with self._store.transaction() as s:
            result = s.execute(
                update(OperationRow)
                .where(
                    OperationRow.run_id == run_id,
                    OperationRow.seq == seq,
                    OperationRow.status.in_(allowed),
                    OperationRow.run_id.in_(runs),
                )
                .values(status=status.value, **values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def mark_sent(self, run_id: int, seq: int) -> None:
        """Call (and let it commit) *before* sending the request."""
        if self._fast(run_id, seq, OpStatus.SENT, sent_at=self._store.now(), error=None):
            return
        with self._store.transaction() as s:
            row = self._row(s, run_id, seq)
            self._move(row, OpStatus.SENT)
            row.sent_at = self._store.now()
            row.error = None

    def mark_applied(
        self,
        run_id: int,
        seq: int,
        *,
        after: Person | Mapping[str, Any] | None = None,
        before: Mapping[str, Any] | None = None,
        link_id: int | None = None,
        rock_person_id: int | None = None,
        pco_person_id: str | None = None,
    ) -> None:
        """The write landed. ``after`` is the record as re-read; ``before`` adds details only
        the writer knows (e.g. a removed assignment's schedule preference) to the before
        image; the ids fill in what a create or a new link produced."""
        if before is None:
            values: dict[str, Any] = {"applied_at": self._store.now(), "error": None}
            if after is not None:
                values["after_image"] = _image(after)
            for key, value in (
                ("link_id", link_id),
                ("rock_person_id", rock_person_id),
                ("pco_person_id", pco_person_id),
            ):
                if value is not None:
                    values[key] = value
            if self._fast(run_id, seq, OpStatus.APPLIED, **values):
                return
        with self._store.transaction() as s:
            row = self._row(s, run_id, seq)
            self._move(row, OpStatus.APPLIED)
            row.applied_at = self._store.now()
            row.error = None
            if after is not None:
                row.after_image = _image(after)
            if before is not None:
                row.before_image = {**(row.before_image or {}), **dict(before)}
            if link_id is not None:
                row.link_id = link_id
            if rock_person_id is not None:
                row.rock_person_id = rock_person_id
            if pco_person_id is not None:
                row.pco_person_id = pco_person_id

    def mark_failed(self, run_id: int, seq: int, error: str) -> None:
        with self._store.transaction() as s:
            row = self._row(s, run_id, seq)
            self._move(row, OpStatus.FAILED)
            row.error = error

    def mark_skipped(self, run_id: int, seq: int, reason: str) -> None:
        with self._store.transaction() as s:
            row = self._row(s, run_id, seq)
            self._move(row, OpStatus.SKIPPED)
            row.error = reason

    def mark_not_sent(self, run_id: int, seq: int) -> None:
        """A re-read proved an in-doubt write did not happen: back to planned."""
        with self._store.transaction() as s:
            row = self._row(s, run_id, seq)
            self._move(row, OpStatus.PLANNED)
            row.sent_at = None

    def narrow(self, run_id: int, op: Operation) -> None:
        """Fewer fields than planned will be written (the others changed since the plan
        was made): the journal keeps what is really written, so a revert undoes just that."""
        with self._store.transaction() as s:
            row = self._row(s, run_id, op.seq)
            row.field_changes = _changes_json(op)

    def get(self, run_id: int, seq: int) -> JournaledOp:
        with self._store.transaction() as s:
            return _journaled(self._row(s, run_id, seq))

    def list(
        self, run_id: int, status: OpStatus | Sequence[OpStatus] | None = None
    ) -> builtins.list[JournaledOp]:
        """A run's operations in plan order."""
        with self._store.transaction() as s:
            self._check_run(s, run_id)
            stmt = (
                select(OperationRow).where(OperationRow.run_id == run_id).order_by(OperationRow.seq)
            )
            if isinstance(status, OpStatus):
                stmt = stmt.where(OperationRow.status == status.value)
            elif status is not None:
                stmt = stmt.where(OperationRow.status.in_([st.value for st in status]))
            return [_journaled(r) for r in s.scalars(stmt)]

    def operations(self, run_id: int, status: OpStatus | None = None) -> builtins.list[Operation]:
        """The engine's view: for approving a held run, or reverting an applied one."""
        return [j.operation for j in self.list(run_id, status)]

    def in_doubt(self) -> builtins.list[JournaledOp]:
        """Operations sent but not confirmed, in any run of this connection."""
        with self._store.transaction() as s:
            stmt = (
                select(OperationRow)
                .join(RunRow, RunRow.id == OperationRow.run_id)
                .where(
                    RunRow.connection == self._store.connection,
                    OperationRow.status == OpStatus.SENT.value,
                )
                .order_by(OperationRow.run_id, OperationRow.seq)
            )
            return [_journaled(r) for r in s.scalars(stmt)]

    def counts(self, run_id: int) -> dict[str, int]:
        """Operations per status, for the run summary."""
        out: dict[str, int] = {}
        for j in self.list(run_id):
            out[j.status.value] = out.get(j.status.value, 0) + 1
        return out

    # --- conflicts ----------------------------------------------------------------------

    def record_conflicts(self, run_id: int, conflicts: Iterable[Conflict]) -> int:
        """Journal a plan's conflicts, 1,000 rows at a time (a first sync of 100,000 a side
        has tens of thousands: as rows all at once they were the run's peak, issue 14)."""
        now = self._store.now()

        def row(c: Conflict) -> dict[str, Any]:
            return {
                "run_id": run_id,
                "link_id": c.ref.link_id,
                "rock_person_id": c.ref.rock_id,
                "pco_person_id": c.ref.pco_id,
                "field": c.field.value,
                "rock_value": _wrap(c.rock_value),
                "pco_value": _wrap(c.pco_value),
                "base_value": _wrap(c.base_value),
                "had_base": c.had_base,
                "rock_modified_at": c.rock_modified,
                "pco_modified_at": c.pco_modified,
                "winner": c.winner.value,
                "rule": c.rule.value,
                "created_at": now,
                "person_name": c.ref.name,
            }

        items = iter(conflicts)
        batch = [row(c) for c in itertools.islice(items, 1000)]
        if not batch:
            return 0
        written = 0
        with self._store.transaction() as s:
            self._check_run(s, run_id)
            while batch:
                s.execute(insert(ConflictRow), batch)
                written += len(batch)
                batch = [row(c) for c in itertools.islice(items, 1000)]
        return written

    def conflicts(
        self, run_id: int | None = None, *, link_id: int | None = None
    ) -> builtins.list[Conflict]:
        """Conflicts of a run, or a link's history across runs (oldest first)."""
        with self._store.transaction() as s:
            stmt = (
                select(ConflictRow)
                .join(RunRow, RunRow.id == ConflictRow.run_id)
                .where(RunRow.connection == self._store.connection)
                .order_by(ConflictRow.id)
            )
            if run_id is not None:
                stmt = stmt.where(ConflictRow.run_id == run_id)
            if link_id is not None:
                stmt = stmt.where(ConflictRow.link_id == link_id)
            out = []
            for row in s.scalars(stmt):
                spec = FIELD_SPECS[FieldName(row.field)]
                out.append(
                    Conflict(
                        ref=PersonRef(
                            row.link_id, row.rock_person_id, row.pco_person_id, row.person_name
                        ),
                        field=spec.name,
                        rock_value=spec.from_json(_unwrap(row.rock_value)),
                        pco_value=spec.from_json(_unwrap(row.pco_value)),
                        base_value=spec.from_json(_unwrap(row.base_value)),
                        had_base=row.had_base,
                        rock_modified=row.rock_modified_at,
                        pco_modified=row.pco_modified_at,
                        winner=Side(row.winner),
                        rule=ConflictRule(row.rule),
                    )
                )
            return out


def _wrap(value: Any) -> Any:
    """Values are wrapped so a stored empty value (JSON null) differs from SQL NULL."""
    return {"v": value_to_json(value)}


def _unwrap(raw: Any) -> Any:
    return raw.get("v") if isinstance(raw, Mapping) else None
