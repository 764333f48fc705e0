"""Held runs: review a held plan, approve (all or part of) it, or reject it.

A held run's plan waits in the journal with status *planned* (DESIGN §6.3). Approving it
applies the plan later through the one applier, under the run lease: one read of
everything changed since the plan was made, then the usual re-checks while writing, and a
field whose value changed since is left alone and reported, never overwritten with a stale
decision. Reverting is a run of its own (:mod:`pcosync.app.revert`); a held revert is
approved here like any held run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pcosync.app.applier import Applier, OnFresh, Stale, safe
from pcosync.app.inflight import InFlight
from pcosync.app.lease import RunLease
from pcosync.app.recover import close_unfinished, settle_in_doubt
from pcosync.app.summary import RunSummary
from pcosync.domain.fields import FIELD_SPECS, FieldName, FieldValue
from pcosync.domain.identity import PersonRef, Side
from pcosync.domain.person import Person
from pcosync.engine.merge import Base, Reason
from pcosync.engine.plan import Operation, OpKind, base_after_ops
from pcosync.engine.ports import ObservedPerson
from pcosync.errors import PcoSyncError
from pcosync.store import JournaledOp, OpStatus, Run, RunMode, RunStateError, RunStatus, Store

if TYPE_CHECKING:
    from pcosync.app.people_sync import PeopleSync

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
    if ref.name or person is None:  # the name recorded with the operation
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


def _still_valid(store: Store, op: Operation) -> str | None:
    """Why an operation of a held plan may no longer be applied (None: it may). Values are
    re-checked while applying, from one read of everything changed since the plan."""
    if op.kind is OpKind.CREATE:
        source_side = op.side.other
        source_id = op.ref.id_on(source_side)
        linked = (
            store.links.by_rock(int(str(source_id)))
            if source_side is Side.ROCK
            else store.links.by_pco(str(source_id))
        )
        if linked is not None:
            return f"{op.ref.describe()} was linked after the run was held ({linked.id})"
        return None
    if op.kind is OpKind.LINK and op.ref.link_id is None:
        assert op.ref.rock_id is not None and op.ref.pco_id is not None
        for other in (store.links.by_rock(op.ref.rock_id), store.links.by_pco(op.ref.pco_id)):
            if other is not None and (other.rock_person_id, other.pco_person_id) != (
                op.ref.rock_id,
                op.ref.pco_id,
            ):
                return f"{other.describe()} was made after the run was held"
    return None


def _synced_since(op: Operation, link_ids: set[int]) -> str | None:
    if op.kind is OpKind.UPDATE and op.ref.link_id in link_ids:
        return (
            f"{op.ref.label()} was synced again after the run was held; the next sync "
            "merges what is left"
        )
    return None


def _changed_since(op: Operation, notes: Mapping[int, Base], run_id: int) -> str | None:
    base = notes.get(op.ref.link_id) if op.ref.link_id is not None else None
    if op.kind is not OpKind.UPDATE or base is None or not base.held:
        return None
    for name, side, by in base.held:
        if by > run_id and side is op.side and name in op.changes:
            return (
                f"{op.ref.label()} changed since the run was held (a later run held for "
                "review read it); the next sync merges what is left"
            )
    return None


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
    person = Person(**{n.value: v for n, v in values.items()})
    return Base(person, frozenset(unknown), base.split, base.held, base.held_by)


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
        if link_id is None or not done or sync.store.links.get(link_id) is None:
            continue
        old = old_bases.get(link_id)
        base = base_after_ops(old, done)
        if old is None and all(o.kind is not OpKind.CREATE for o in ref_ops):
            base = _fill_agreed(base, ref_ops)
        sync.store.links.save_base(link_id, base)


def revalidating_inflight(sync: PeopleSync, since: datetime) -> InFlight:
    """Re-reads for applying a plan made earlier (an approval, a revert): the first read
    takes everything changed since the plan (contacts cross-checked), later ones are the
    run's usual one-request re-checks."""

    async def pco_first(
        after: datetime, _wanted: Callable[[], Collection[str]] | None = None
    ) -> list[ObservedPerson]:
        return [o async for o in sync.pco.fetch_changed(after)]

    return InFlight(
        {Side.ROCK: sync.rock.fetch_recent, Side.PCO: sync.pco.fetch_recent},
        lambda _side, _records: None,
        since={Side.ROCK: since, Side.PCO: since},
        clock=sync.clock,
        interval=sync.recheck,
        first_readers={Side.PCO: pco_first},
    )


async def approve(
    sync: PeopleSync,
    run_id: int,
    *,
    only: Collection[int] | None = None,
    skip: Collection[int] | None = None,
    by: str = "cli",
    wait: bool = False,
) -> ApproveResult:
    """Apply a held run's plan (or the chosen operations of it), checked against now."""
    store = sync.store
    run = store.runs.get(run_id)
    if run is None:
        raise ReviewError(f"There is no run {run_id}. List runs with: pcosync runs")
    async with RunLease(
        store, "approve", wait=wait, on_wait=sync.progress.phase, sleep=sync.sleep
    ) as lease:
        run = store.runs.get(run_id)
        assert run is not None
        if run.status is not RunStatus.HELD:
            raise RunStateError(f"Run {run_id} is {run.status.value}; only a held run is approved.")
        return await _approve(sync, run, lease, only, skip, by)


async def _approve(
    sync: PeopleSync,
    run: Run,
    lease: RunLease,
    only: Collection[int] | None,
    skip: Collection[int] | None,
    by: str,
) -> ApproveResult:
    store = sync.store
    run_id = run.id
    started = time.monotonic()
    planned = store.journal.list(run_id, OpStatus.PLANNED)
    chosen, left_out = _select(planned, only, skip)
    summary = RunSummary(run_id, RunStatus.RUNNING, run.mode, False)
    await sync.rock.prepare()
    # what a dead process had sent is settled first, as a sync does: a create it made whose
    # answer was lost is linked, so the held plan's create of that person is stale
    # (simulation seed 1159 created them twice). Before the run leaves "held": if a read
    # fails here, it stays held, to be approved again.
    carried = (await settle_in_doubt(sync, summary)).operations
    store.runs.approve(run_id, by)
    store.runs.transition(run_id, RunStatus.RUNNING)
    lease.attach(run_id)
    # what the held run found stays part of its record
    summary.conflicts = int(run.counts.get("conflicts", 0))
    summary.match_issues = int(run.counts.get("match_issues", 0))
    result = ApproveResult(summary, left_out=[j.seq for j in left_out])
    try:
        close_unfinished(sync, run_id, summary)  # runs a dead process left behind
        for j in left_out:
            store.journal.mark_skipped(run_id, j.seq, "left out when the run was approved")
        ready: list[Operation] = []
        sync.progress.phase("Checking the plan against what is there now", total=len(chosen))
        # a person a later run synced since the hold: the plan's "before" values may have
        # come back by hand (seed 1163: copied across, then set back), so its writes would
        # land on an edit; the next sync merges them against the base that run left
        # (not a revert's: each of its fields is checked against what the reverted run
        # wrote, and a restore left out would leave the run marked reverted, undone)
        updated = [
            j.operation.ref.link_id
            for j in chosen
            if j.operation.kind is OpKind.UPDATE and j.operation.ref.link_id is not None
        ]
        synced_since: set[int] = set()
        notes: dict[int, Base] = {}
        if run.mode is not RunMode.REVERT:
            synced_since = store.links.bases_saved_since(updated, run.observed_at or run.started_at)
            notes = store.links.load_bases(updated)
        # a field a newer held run read changed on the side this plan writes: its "before"
        # value may have come back by hand since (then the put-back is the newest edit); left
        # to the next sync, which reads these people again (the watermarks stay)
        read_since = False
        for j in chosen:
            sync.progress.advance()
            why = _still_valid(store, j.operation) or _synced_since(j.operation, synced_since)
            if why is None:
                why = _changed_since(j.operation, notes, run_id)
                read_since = read_since or why is not None
            if why is not None:
                store.journal.mark_skipped(run_id, j.seq, f"not applied: {why}")
                result.stale.append(Stale(j.seq, j.operation.side, j.operation.ref, None, str(why)))
                continue
            ready.append(j.operation)
        if carried:  # what the settled writes still owe (a source record's link id)
            seq = max((j.seq for j in store.journal.list(run_id)), default=0) + 1
            owed = [replace(op, seq=seq + i) for i, op in enumerate(carried)]
            store.journal.record(run_id, owed)
            ready += owed
        summary.planned = len(ready)
        sync.progress.phase("Writing changes", total=len(ready))
        applier = Applier(
            sync,
            run_id,
            summary,
            lease=lease,
            inflight=revalidating_inflight(sync, run.observed_at or run.started_at),
            on_fresh=OnFresh.REVALIDATE,
            fresh_aliases=await _fresh_aliases(sync, ready),
        )
        applied = await applier.run(ready)
        result.stale.extend(applier.stale)
        ready = applier.as_narrowed(ready)
        _save_bases(sync, ready, applied, applier.link_of)
        if summary.link_ids_owed:  # as a run does: link ids with the rate budget left over
            from pcosync.app.link_ids import write_owed

            ids = await write_owed(sync, lease=lease)
            summary.link_ids_written = ids.written
            summary.link_ids_pending = ids.pending
            summary.notes.extend(ids.notes)
        if run.mode is RunMode.REVERT:
            from pcosync.app.revert import finish_revert, snapshots_of_sources

            snapshots = await snapshots_of_sources(sync, ready, applied)
            finish_revert(sync, run, ready, applied, summary, snapshots=snapshots)
        summary.notes.extend(s.message for s in result.stale)
        summary.status = RunStatus.PARTIAL if summary.parked or summary.in_doubt else RunStatus.DONE
        summary.seconds = time.monotonic() - started
        counts = summary.as_dict()
        counts["approved_by"] = by
        counts["left_out"] = result.left_out
        counts["stale"] = [s.as_dict() for s in result.stale]
        if run.mode is RunMode.REVERT:
            counts["reverts_run"] = run.reverts_run_id
        store.runs.finish(run_id, summary.status, counts=counts)
        if run.mode is not RunMode.REVERT:
            store.links.agree_held(run_id)
        _advance_marks(sync, run, left_out=bool(left_out) or read_since)
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
        store.runs.finish(run_id, RunStatus.FAILED, error=safe(exc), counts=summary.as_dict())
        raise


def _advance_marks(sync: PeopleSync, run: Run, *, left_out: bool) -> None:
    """An approved sync settled what its observation saw, as an unheld run would have: the
    next run reads only what changed since (a first sync approved is not read in full
    again). Not when operations were left out: their records must be read again for the
    next run to plan them. An approved full run's population is the drop guard's baseline."""
    from pcosync.app.pipeline import OBSERVED_PCO, OBSERVED_PCO_SYNCED, WM_PCO, WM_ROCK

    if run.mode is RunMode.REVERT:
        return
    observed = run.counts.get("observed_pco")
    if run.mode is RunMode.FULL and isinstance(observed, int):
        # approving a full run accepts the population it saw: the drop guard measures the
        # next full read against it, not against the count before the drop it was held for
        # (else every full run is held again for the same drop: simulation seed 8)
        sync.store.watermarks.set(OBSERVED_PCO, str(observed))
        sync.store.watermarks.set(OBSERVED_PCO_SYNCED, str(sync.store.links.count()))
    if left_out or run.observed_at is None:
        return
    mark = run.observed_at - timedelta(seconds=1)
    sync.store.watermarks.advance_time(WM_PCO, mark)
    sync.store.watermarks.advance_time(WM_ROCK, mark)


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


# reverting lives in app.revert; re-exported for the callers that import it from here
from pcosync.app.revert import RevertResult, revert  # noqa: E402

__all__ = [
    "ApproveResult",
    "RevertResult",
    "ReviewError",
    "RunReview",
    "Stale",
    "approve",
    "reject",
    "revert",
    "review",
]
