"""Undoing an applied run from its journal's before-images, without clobbering newer edits.

Each written field goes back to its before value only if it still holds the value the run
wrote; a field someone changed since is skipped and reported. Memberships go back the same
way. Creates are decided by the application layer (:mod:`pcosync.app.revert`: deleted when
nobody touched or referenced the record since, else kept linked). Links are kept: two
records found to be the same person stay linked, only the values the run wrote go back.
Rock groups the run inactivated or reactivated follow their team and are left as they are.

After the undo the two sides differ on purpose (the written side is back, the other side
keeps the edit the run had copied); the application layer records that as a *split* base,
so the next sync writes neither value until a person edits one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pcosync.domain.fields import FIELD_SPECS, FieldName
from pcosync.domain.identity import GroupRef, PersonRef, Side
from pcosync.domain.person import Person
from pcosync.engine.merge import Reason
from pcosync.engine.plan import Change, Operation, OpKind, SyncPlan


@dataclass(frozen=True, slots=True)
class RevertSkip:
    """Something a revert left as it is, and why (shown to the admin)."""

    seq: int  # the original operation
    side: Side
    ref: PersonRef
    field: FieldName | None
    message: str


@dataclass
class RevertPlan:
    plan: SyncPlan = field(default_factory=SyncPlan)
    skipped: list[RevertSkip] = field(default_factory=list)


CurrentPerson = Callable[[Side, PersonRef], Person | None]
CurrentMembership = Callable[[Side, PersonRef, GroupRef], bool | None]


def plan_revert(
    applied: Sequence[Operation],
    current: CurrentPerson,
    membership_now: CurrentMembership | None = None,
    *,
    start_seq: int = 1,
) -> RevertPlan:
    """Plan the undo of ``applied`` (the run's applied operations, any order).

    ``current`` returns the record on a side as it is now (None if it is gone);
    ``membership_now`` returns whether the person is a member now (None if unknown).
    """
    out = RevertPlan()
    seq = start_seq
    for op in sorted(applied, key=lambda o: o.seq, reverse=True):
        where = op.side.label
        if op.kind is OpKind.CREATE:
            continue  # decided by the caller: deleted if untouched, else kept and reported
        if op.kind in (OpKind.INACTIVATE_GROUP, OpKind.REACTIVATE_GROUP, OpKind.DELETE):
            continue
        if op.kind is OpKind.ARCHIVE:
            # made inactive because they left every team: active again (their assignments
            # come back with the membership undo)
            out.plan.operations.append(
                Operation(seq, OpKind.RESTORE, op.side, op.ref, Reason.REVERT, before=op.before)
            )
            seq += 1
            continue
        if op.kind is OpKind.RESTORE:
            continue  # undoing an undo is not offered
        if op.kind in (OpKind.LINK, OpKind.UNLINK):
            continue  # links stay: the same person on both sides is still the same person
        if op.kind in (OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER):
            assert op.group is not None
            was_added = op.kind is OpKind.ADD_MEMBER
            now = membership_now(op.side, op.ref, op.group) if membership_now else None
            if now is None or now != was_added:
                state = "unknown" if now is None else ("a member" if now else "not a member")
                out.skipped.append(
                    RevertSkip(
                        op.seq,
                        op.side,
                        op.ref,
                        None,
                        f"{where} membership of {op.ref.label()} in "
                        f"{op.group.label()} was left alone: it is {state} now.",
                    )
                )
                continue
            undo = OpKind.REMOVE_MEMBER if was_added else OpKind.ADD_MEMBER
            out.plan.operations.append(
                Operation(seq, undo, op.side, op.ref, Reason.REVERT, group=op.group)
            )
            seq += 1
            continue
        # UPDATE
        record = current(op.side, op.ref)
        if record is None:
            out.skipped.append(
                RevertSkip(
                    op.seq,
                    op.side,
                    op.ref,
                    None,
                    f"The {where} record of {op.ref.label()} no longer exists.",
                )
            )
            continue
        changes: dict[FieldName, Change] = {}
        for name, (before, after) in op.changes.items():
            spec = FIELD_SPECS[name]
            now_value = getattr(record, name.value)
            if spec.same(now_value, after):
                if not spec.same(now_value, before):
                    changes[name] = (now_value, before)
            else:
                out.skipped.append(
                    RevertSkip(
                        op.seq,
                        op.side,
                        op.ref,
                        name,
                        f"{spec.label} of {op.ref.label()} in {where} was changed again "
                        "after this run, so the newer value was kept.",
                    )
                )
        if changes:
            out.plan.operations.append(
                Operation(
                    seq,
                    OpKind.UPDATE,
                    op.side,
                    op.ref,
                    Reason.REVERT,
                    changes,
                    dict.fromkeys(changes, Reason.REVERT),
                    before=record,
                )
            )
            seq += 1
    return out
