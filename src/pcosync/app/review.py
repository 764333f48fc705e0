"""Held runs and undo: review a held plan, approve (all or part of) it, reject it, revert a run.

A held run's plan waits in the journal with status *planned* (DESIGN §6.3). Approving it
applies the plan later, so every operation is first checked against what is there *now*:
a field whose value changed since the plan was made is left alone and reported, never
overwritten with a stale decision. Reverting is a run of its own (mode ``revert``) built
from the before-images by :func:`pcosync.engine.revert.plan_revert`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pcosync.app.people_sync import PeopleSync, RunSummary, _safe
from pcosync.domain.fields import FIELD_SPECS, FieldName, FieldValue
from pcosync.domain.identity import GroupRef, PersonRef, Side
from pcosync.domain.person import Person
from pcosync.engine.merge import Base, Reason
from pcosync.engine.plan import MEMBERSHIP_KINDS, Change, Operation, OpKind, base_after_ops
from pcosync.engine.revert import plan_revert
from pcosync.errors import ApiError, PcoSyncError, SyncDataError
from pcosync.store import JournaledOp, OpStatus, Run, RunMode, RunStateError, RunStatus, Store

log = logging.getLogger("pcosync.review")

REASON_TEXT = {
    Reason.EDIT: "edited on the other side",
    Reason.CONFLICT_WINNER: "conflict: this side's value lost to the later edit",
    Reason.NEW_LINK: "new link: filled in from the other side",
    Reason.NEW_MEMBER: "added on the other side",
    Reason.CREATED: "created: exists only on the other side",
    Reason.REVERT: "revert: the value before the reverted run",
}


class ReviewError(PcoSyncError):
    """The run cannot be reviewed, approved, rejected or reverted as asked."""


# ---------------------------------------------------------------------------- review


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    label: str
    before: str
    after: str
    why: str


@dataclass(frozen=True, slots=True)
class OpDiff:
    seq: int
    status: str
    kind: str
    side: str  # "rock" / "pco"
    where: str  # "Rock" / "Planning Center"
    why: str
    fields: tuple[FieldDiff, ...]
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.seq,
            "status": self.status,
            "kind": self.kind,
            "side": self.side,
            "why": self.why,
            "fields": [
                {"field": f.field, "before": f.before, "after": f.after, "why": f.why}
                for f in self.fields
            ],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class PersonDiff:
    person: str
    rock_id: int | None
    pco_id: str | None
    operations: tuple[OpDiff, ...]


@dataclass(frozen=True, slots=True)
class RunReview:
    run: Run
    people: tuple[PersonDiff, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": {
                "id": self.run.id,
                "status": self.run.status.value,
                "mode": self.run.mode.value,
                "hold_reasons": [dict(h).get("message", "") for h in self.run.hold_reasons],
                "counts": dict(self.run.counts),
            },
            "people": [
                {
                    "person": p.person,
                    "rock_id": p.rock_id,
                    "pco_id": p.pco_id,
                    "operations": [o.as_dict() for o in p.operations],
                }
                for p in self.people
            ],
        }


def _display(name: FieldName, value: FieldValue) -> str:
    return FIELD_SPECS[name].display(value)


def _op_why(op: Operation) -> str:
    if op.kind is OpKind.LINK:
        return "new link: write the other side's id on this record"
    if op.kind is OpKind.UNLINK:
        return "unlink: clear the other side's id on this record"
    return REASON_TEXT.get(op.reason, op.reason.value)


def _label(ref: PersonRef, person: Person | None) -> str:
    """The admin reads a name first; the ids tell the records apart."""
    if ref.name or person is None:  # issue 15: the name recorded with the operation
        return ref.label()
    name = " ".join(p for p in (person.nickname or person.first_name, person.last_name) if p)
    return ref.named(name or None).label()


def review(store: Store, run_id: int) -> RunReview:
    """A run's plan as a field-level diff, grouped by person, in plan order."""
    run = store.runs.get(run_id)
    if run is None:
        raise ReviewError(f"There is no run {run_id}. List runs with: pcosync runs")
    grouped: dict[tuple[int | None, str | None], list[OpDiff]] = {}
    names: dict[tuple[int | None, str | None], PersonRef] = {}
    shown: dict[tuple[int | None, str | None], Person] = {}
    for j in store.journal.list(run_id):
        op = j.operation
        key = (op.ref.rock_id, op.ref.pco_id)
        names.setdefault(key, op.ref)
        record = op.before or op.record
        if record is not None and key not in shown:
            shown[key] = record
        fields = tuple(
            FieldDiff(
                name.value,
                FIELD_SPECS[name].label,
                _display(name, before),
                _display(name, after),
                REASON_TEXT.get(op.field_reasons.get(name, op.reason), op.reason.value),
            )
            for name, (before, after) in op.changes.items()
        )
        grouped.setdefault(key, []).append(
            OpDiff(
                j.seq,
                j.status.value,
                op.kind.value,
                op.side.value,
                op.side.label,
                _op_why(op),
                fields,
                j.error,
            )
        )
    people = tuple(
        PersonDiff(_label(names[key], shown.get(key)), key[0], key[1], tuple(ops))
        for key, ops in grouped.items()
    )
    return RunReview(run, people)


# ---------------------------------------------------------------------------- approve


@dataclass(frozen=True, slots=True)
class Stale:
    """A planned field left alone at approval: its value changed after the plan was made."""

    seq: int
    side: Side
    ref: PersonRef
    field: FieldName | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.seq,
            "side": self.side.value,
            "rock_id": self.ref.rock_id,
            "pco_id": self.ref.pco_id,
            "field": self.field.value if self.field else None,
            "message": self.message,
        }


@dataclass
class ApproveResult:
    summary: RunSummary
    stale: list[Stale] = field(default_factory=list)
    left_out: list[int] = field(default_factory=list)


def _select(
    planned: Sequence[JournaledOp], only: Collection[int] | None, skip: Collection[int] | None
) -> tuple[list[JournaledOp], list[JournaledOp]]:
    seqs = {j.seq for j in planned}
    unknown = sorted({*(only or ()), *(skip or ())} - seqs)
    if unknown:
        raise ReviewError(
            f"Operation(s) {', '.join(map(str, unknown))} are not planned in this run; "
            "see the operation numbers with: pcosync review ID"
        )
    keep = [
        j
        for j in planned
        if (only is None or j.seq in only) and (skip is None or j.seq not in skip)
    ]
    kept = {j.seq for j in keep}
    return keep, [j for j in planned if j.seq not in kept]


async def _revalidate(
    sync: PeopleSync, op: Operation, stale: list[Stale]
) -> tuple[Operation | None, str | None]:
    """The operation as it may still be applied now, or None with the reason it may not."""
    store = sync.store
    if op.kind is OpKind.CREATE:
        source_side = op.side.other
        source_id = op.ref.id_on(source_side)
        linked = (
            store.links.by_rock(int(str(source_id)))
            if source_side is Side.ROCK
            else store.links.by_pco(str(source_id))
        )
        if linked is not None:
            return None, f"{op.ref.label()} was linked after the run was held ({linked.id})"
        found = await sync._side(op.side).find_by_link_hint(source_id)  # type: ignore[arg-type]
        if found:
            return None, f"{op.side.label} already has a record for {op.ref.label()}"
        return op, None
    if op.kind is OpKind.LINK and op.ref.link_id is None:
        assert op.ref.rock_id is not None and op.ref.pco_id is not None
        for other in (store.links.by_rock(op.ref.rock_id), store.links.by_pco(op.ref.pco_id)):
            if other is not None and (other.rock_person_id, other.pco_person_id) != (
                op.ref.rock_id,
                op.ref.pco_id,
            ):
                return None, f"{other.describe()} was made after the run was held"
        return op, None
    if op.kind is not OpKind.UPDATE:
        return op, None
    target = op.target_id
    assert target is not None
    now = await sync._side(op.side).fetch_one(target)
    if now is None:
        return None, f"the {op.side.label} record of {op.ref.label()} no longer exists"
    kept: dict[FieldName, Change] = {}
    for name, (before, after) in op.changes.items():
        spec = FIELD_SPECS[name]
        value = getattr(now.person, name.value)
        if spec.same(value, before):
            kept[name] = (before, after)
        elif spec.same(value, after):
            continue  # someone already made the same change: nothing to write
        else:
            stale.append(
                Stale(
                    op.seq,
                    op.side,
                    op.ref,
                    name,
                    f"{spec.label} of {op.ref.label()} in {op.side.label} changed after the "
                    "run was held, so the newer value was kept (the next sync merges it).",
                )
            )
    if not kept:
        return None, "every field changed after the run was held, or already holds its value"
    reasons = {f: r for f, r in op.field_reasons.items() if f in kept}
    return replace(op, changes=kept, field_reasons=reasons), None


async def _fresh_aliases(
    sync: PeopleSync, ops: Iterable[Operation]
) -> dict[tuple[int, str], int | None]:
    """New pairs' Rock alias ids, stored with the link so it can follow a Rock merge."""
    out: dict[tuple[int, str], int | None] = {}
    for op in ops:
        ref = op.ref
        if ref.link_id is not None or ref.rock_id is None or ref.pco_id is None:
            continue
        if op.kind is OpKind.CREATE or (ref.rock_id, ref.pco_id) in out:
            continue
        seen = await sync.rock.fetch_one(ref.rock_id)
        out[(ref.rock_id, ref.pco_id)] = seen.alias_id if seen is not None else None
    return out


def _fill_agreed(base: Base, ops: Iterable[Operation]) -> Base:
    """For a new pair: a field both records held alike when planned is known too."""
    rock = next((o.before for o in ops if o.side is Side.ROCK and o.before is not None), None)
    pco = next((o.before for o in ops if o.side is Side.PCO and o.before is not None), None)
    if rock is None or pco is None:
        return base
    values = {name: getattr(base.person, name.value) for name in FieldName}
    unknown = set(base.unknown)
    for name in list(unknown):
        a, b = getattr(rock, name.value), getattr(pco, name.value)
        if FIELD_SPECS[name].same(a, b):
            values[name] = a
            unknown.discard(name)
    return Base(Person(**{n.value: v for n, v in values.items()}), frozenset(unknown))


def _save_bases(
    sync: PeopleSync,
    ops: Sequence[Operation],
    applied: set[int],
    link_of: Mapping[PersonRef, int],
) -> None:
    by_ref: dict[PersonRef, list[Operation]] = {}
    for op in ops:
        by_ref.setdefault(op.ref, []).append(op)
    link_ids = {r.link_id for r in by_ref if r.link_id is not None}
    old_bases = sync.store.links.load_bases(link_ids)
    for ref, ref_ops in by_ref.items():
        done = [o for o in ref_ops if o.seq in applied]
        link_id = ref.link_id or link_of.get(ref)
        if link_id is None or not done:
            continue
        old = old_bases.get(link_id)
        base = base_after_ops(old, done)
        if old is None and all(o.kind is not OpKind.CREATE for o in ref_ops):
            base = _fill_agreed(base, ref_ops)
        sync.store.links.save_base(link_id, base)


async def approve(
    sync: PeopleSync,
    run_id: int,
    *,
    only: Collection[int] | None = None,
    skip: Collection[int] | None = None,
    by: str = "cli",
) -> ApproveResult:
    """Apply a held run's plan (or the chosen operations of it), checked against now."""
    store = sync.store
    started = time.monotonic()
    run = store.runs.get(run_id)
    if run is None:
        raise ReviewError(f"There is no run {run_id}. List runs with: pcosync runs")
    if run.status is not RunStatus.HELD:
        raise RunStateError(f"Run {run_id} is {run.status.value}; only a held run is approved.")
    planned = store.journal.list(run_id, OpStatus.PLANNED)
    chosen, left_out = _select(planned, only, skip)
    store.runs.approve(run_id, by)
    store.runs.transition(run_id, RunStatus.RUNNING)
    summary = RunSummary(run_id, RunStatus.RUNNING, run.mode, False)
    # what the held run found stays part of its record
    summary.conflicts = int(run.counts.get("conflicts", 0))
    summary.match_issues = int(run.counts.get("match_issues", 0))
    result = ApproveResult(summary, left_out=[j.seq for j in left_out])
    try:
        for j in left_out:
            store.journal.mark_skipped(run_id, j.seq, "left out when the run was approved")
        await sync.rock.prepare()
        ready: list[Operation] = []
        sync.progress.phase("Checking the plan against what is there now", total=len(chosen))
        for j in chosen:
            sync.progress.advance()  # issue 15: progress
            op, why = await _revalidate(sync, j.operation, result.stale)
            if op is None:
                store.journal.mark_skipped(run_id, j.seq, f"not applied: {why}")
                result.stale.append(Stale(j.seq, j.operation.side, j.operation.ref, None, str(why)))
                continue
            ready.append(op)
        summary.planned = len(ready)
        sync.progress.phase("Writing changes", total=len(ready))  # issue 15: progress
        applied, link_of = await sync.apply_operations(
            run_id, ready, summary, await _fresh_aliases(sync, ready)
        )
        _save_bases(sync, ready, applied, link_of)
        summary.notes.extend(s.message for s in result.stale)
        summary.status = RunStatus.PARTIAL if summary.parked or summary.in_doubt else RunStatus.DONE
        summary.seconds = time.monotonic() - started
        counts = summary.as_dict()
        counts["approved_by"] = by
        counts["left_out"] = result.left_out
        counts["stale"] = [s.as_dict() for s in result.stale]
        store.runs.finish(run_id, summary.status, counts=counts)
        log.info(
            "review.approved run=%s applied=%s stale=%s left_out=%s",
            run_id,
            len(applied),
            len(result.stale),
            len(left_out),
        )
        return result
    except BaseException as exc:
        summary.status = RunStatus.FAILED
        store.runs.finish(run_id, RunStatus.FAILED, error=_safe(exc), counts=summary.as_dict())
        raise


def reject(store: Store, run_id: int, *, by: str = "cli") -> int:
    """Discard a held run's plan: nothing is written. Returns how many operations it had."""
    run = store.runs.get(run_id)
    if run is None:
        raise ReviewError(f"There is no run {run_id}. List runs with: pcosync runs")
    store.runs.reject(run_id, by)
    planned = store.journal.list(run_id, OpStatus.PLANNED)
    for j in planned:
        store.journal.mark_skipped(run_id, j.seq, "the run was rejected")
    return len(planned)


# ---------------------------------------------------------------------------- revert


@dataclass
class RevertResult:
    summary: RunSummary
    reverted_run: int
    left_alone: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # people the run created: unlinked, kept


def _without_stale(ops: Sequence[Operation], run: Run) -> list[Operation]:
    """Fields an approval left alone were never written, so they are not reverted."""
    stale = {
        (int(s["op"]), str(s["field"]))
        for s in (run.counts.get("stale") or [])
        if isinstance(s, Mapping) and s.get("field")
    }
    out = []
    for op in ops:
        changes = {f: c for f, c in op.changes.items() if (op.seq, f.value) not in stale}
        out.append(replace(op, changes=changes) if len(changes) != len(op.changes) else op)
    return out


async def revert(sync: PeopleSync, run_id: int) -> RevertResult:
    """Undo an applied run on both systems from its before-images (a run of mode revert)."""
    store = sync.store
    original = store.runs.get(run_id)
    if original is None:
        raise ReviewError(f"There is no run {run_id}. List runs with: pcosync runs")
    if original.mode is RunMode.REVERT:
        raise ReviewError(f"Run {run_id} is itself a revert; run `pcosync sync` instead.")
    if original.dry_run or original.status not in (
        RunStatus.DONE,
        RunStatus.PARTIAL,
        RunStatus.FAILED,
    ):
        raise RunStateError(
            f"Run {run_id} is {original.status.value}"
            f"{' (a dry run)' if original.dry_run else ''}; only an applied run can be reverted."
        )
    applied = _without_stale(store.journal.operations(run_id, OpStatus.APPLIED), original)
    started = time.monotonic()
    run = store.runs.start(RunMode.REVERT, reverts_run_id=run_id)
    summary = RunSummary(run.id, RunStatus.RUNNING, RunMode.REVERT, False)
    result = RevertResult(summary, run_id)
    try:
        await sync.rock.prepare()
        current: dict[tuple[Side, Any], Person | None] = {}
        for op in applied:
            if op.kind is OpKind.UPDATE and op.target_id is not None:
                key = (op.side, op.target_id)
                if key not in current:
                    seen = await sync._side(op.side).fetch_one(op.target_id)
                    current[key] = seen.person if seen else None
        membership_now = await _membership_now(sync, applied)
        undo = plan_revert(
            [op for op in applied if op.kind is not OpKind.CREATE],
            lambda side, ref: current.get((side, ref.id_on(side))),
            membership_now,
        )
        result.left_alone = [s.message for s in undo.skipped]
        ops = list(undo.plan.operations)
        seq = ops[-1].seq + 1 if ops else 1
        # a person the run created is unlinked on both records and kept (never deleted)
        for op in applied:
            if op.kind is not OpKind.CREATE:
                continue
            for side in (op.side, op.side.other):
                ops.append(Operation(seq, OpKind.UNLINK, side, op.ref, Reason.REVERT))
                seq += 1
        store.journal.record(run.id, ops)
        window = (original.started_at, original.ended_at)
        sync.progress.phase("Undoing the run", total=len(ops))  # issue 15: progress
        for op in ops:
            await _apply_revert_op(sync, run.id, op, window, summary)
            sync.progress.advance()
        for op in applied:
            if op.kind is OpKind.CREATE:
                result.kept.append(
                    f"The {op.side.label} person made for {op.ref.label()} was unlinked and "
                    f"kept (pcosync never deletes people); archive or remove them in "
                    f"{op.side.label} by hand if they should go. While the other record is in "
                    "scope, the next sync may match them again."
                )
        summary.notes.extend([*result.left_alone, *result.kept])
        summary.status = RunStatus.PARTIAL if summary.parked else RunStatus.DONE
        summary.planned = len(ops)
        summary.seconds = time.monotonic() - started
        counts = summary.as_dict()
        counts["reverts_run"] = run_id
        counts["left_alone"] = result.left_alone
        counts["kept"] = result.kept
        store.runs.finish(run.id, summary.status, counts=counts)
        store.runs.mark_reverted(run_id)
        return result
    except BaseException as exc:
        summary.status = RunStatus.FAILED
        store.runs.finish(run.id, RunStatus.FAILED, error=_safe(exc), counts=summary.as_dict())
        raise


async def _membership_now(
    sync: PeopleSync, applied: Sequence[Operation]
) -> Callable[[Side, PersonRef, GroupRef], bool | None] | None:
    """Who is a member of the run's positions now, read once (nothing is written: a dry run
    of the roster read), so a membership someone changed since is left alone."""
    if sync.memberships is None or not any(op.kind in MEMBERSHIP_KINDS for op in applied):
        return None
    rosters = await sync.memberships.read(dry_run=True)

    def now(side: Side, ref: PersonRef, group: GroupRef) -> bool | None:
        pool = rosters.rock if side is Side.ROCK else rosters.pco
        members = pool.get(group.group_link_id) if group.group_link_id is not None else None
        person = _person_on(sync, side, ref)
        if members is None or person is None:
            return None
        return person in members

    return now


def _person_on(sync: PeopleSync, side: Side, ref: PersonRef) -> Any:
    """The person's id on ``side``, through the link when the run created them there."""
    found = ref.id_on(side)
    if found is None and ref.link_id is not None:
        link = sync.store.links.get(ref.link_id)
        if link is not None:
            found = link.rock_person_id if side is Side.ROCK else link.pco_person_id
    return found


async def _apply_revert_op(
    sync: PeopleSync,
    run_id: int,
    op: Operation,
    window: tuple[Any, Any],
    summary: RunSummary,
) -> None:
    store = sync.store
    writer = sync._side(op.side)
    target = op.target_id
    if op.kind in MEMBERSHIP_KINDS:
        target = _person_on(sync, op.side, op.ref)
    if target is None:
        store.journal.mark_skipped(run_id, op.seq, "the record has no id on this side")
        return
    store.journal.mark_sent(run_id, op.seq)
    try:
        if op.kind is OpKind.UPDATE:
            changes = {f: before for f, (_now, before) in op.changes.items()}
            after = await writer.update_person(target, changes)
            store.journal.mark_applied(run_id, op.seq, after=after.person)
            summary.updated[op.side.value] += 1
        elif op.kind is OpKind.UNLINK:
            await writer.write_link(target, None)
            link = (
                store.links.by_rock(int(str(target)))
                if op.side is Side.ROCK
                else store.links.by_pco(str(target))
            )
            start, end = window
            # only a link the reverted run made goes; an older link only had its id rewritten
            if (
                link is not None
                and start <= link.created_at
                and (end is None or link.created_at <= end)
            ):
                store.links.remove(link.id)
            store.journal.mark_applied(run_id, op.seq)
        elif op.kind in MEMBERSHIP_KINDS and sync.memberships is not None:
            assert op.group is not None
            members = sync.memberships.writer(op.side)
            if op.kind is OpKind.ADD_MEMBER:
                added = await members.add_member(op.group, target)
                store.journal.mark_applied(run_id, op.seq, after=added)
                summary.members_added[op.side.value] += 1
            else:
                before = await members.remove_member(op.group, target)
                store.journal.mark_applied(run_id, op.seq, before=before)
                summary.members_removed[op.side.value] += 1
        elif op.kind is OpKind.RESTORE and op.side is Side.PCO:
            # made inactive for leaving every team: active again (already active: as wanted)
            restored = await sync.pco.set_active(target, True, unless_inactivated_after=window[1])
            if restored.get("left_alone"):
                message = (
                    f"{op.ref.label()} was made inactive in Planning Center again after the "
                    "run; left inactive."
                )
                store.journal.mark_skipped(run_id, op.seq, message)
                summary.notes.append(message)
            else:
                store.journal.mark_applied(run_id, op.seq, before=restored)
        else:
            store.journal.mark_skipped(run_id, op.seq, f"{op.kind.value} is not reverted here")
    except (ApiError, SyncDataError) as exc:
        message = (
            f"Could not revert {op.kind.value} on {op.side.label} for {op.ref.label()}: "
            f"{_safe(exc)}"
        )
        store.journal.mark_failed(run_id, op.seq, message)
        summary.parked += 1
        summary.notes.append(message)
