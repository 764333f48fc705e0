"""Undo an applied run on both systems (DESIGN §6.5): preview, confirm, gate, apply.

A revert is a run of its own (mode ``revert``), under the run lease, written by the one
applier. What it does, person by person:

- a field the run wrote goes back to its value before the run, if it still holds what the
  run wrote (else the newer value stays, listed);
- a membership the run added or removed goes back, if nobody changed it since;
- a person the run **created** is deleted again if nobody edited or referenced the record
  since (it was ours), and the sync will not create them again until their record changes;
  otherwise the record stays, linked, and is listed;
- links stay, and so do Rock groups the run inactivated or reactivated (they follow their
  team in Planning Center).

Afterwards the two sides differ on purpose where the run had copied an edit across (the
written side is back; the edited side keeps the edit). Those fields, and memberships, are
stored as *left differing*: the next sync writes neither value until a person edits one of
them (then that edit syncs as usual). A revert is measured against the safety limits like
any run and can be held; ``dry_run`` only shows what it would do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pcosync.app.applier import Applier, OnFresh, safe
from pcosync.app.lease import RunLease
from pcosync.app.recover import close_unfinished
from pcosync.app.safety import for_population
from pcosync.app.summary import RunSummary
from pcosync.domain.fields import FIELD_SPECS, FieldName
from pcosync.domain.identity import GroupRef, PersonRef, Side
from pcosync.domain.person import Person
from pcosync.engine.gate import Decision, Population, gate
from pcosync.engine.merge import Base, Reason
from pcosync.engine.plan import MEMBERSHIP_KINDS, Operation, OpKind
from pcosync.engine.revert import plan_revert
from pcosync.errors import ApiError, PcoSyncError, SyncDataError
from pcosync.store import OpStatus, Run, RunMode, RunStateError, RunStatus
from pcosync.store.runs import APPLIED

if TYPE_CHECKING:
    from pcosync.app.people_sync import PeopleSync

# a record pcosync created counts as edited when it changed later than this after the
# create (phones, address and the link id are written within seconds of it)
CREATE_SETTLE = timedelta(minutes=2)


class RevertError(PcoSyncError):
    """The run cannot be reverted as asked (or the admin said no)."""


@dataclass(frozen=True, slots=True)
class PreviewLine:
    """One change a revert makes, as the admin reads it."""

    person: str
    where: str  # "Rock" / "Planning Center"
    what: str  # "Email", "member of <group>", "delete the record"
    now: str
    back_to: str

    def as_dict(self) -> dict[str, str]:
        return {
            "person": self.person,
            "where": self.where,
            "what": self.what,
            "now": self.now,
            "back_to": self.back_to,
        }


@dataclass
class RevertResult:
    summary: RunSummary
    reverted_run: int
    lines: list[PreviewLine] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # records the run created that stay
    held: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        out = self.summary.as_dict()
        out.update(
            {
                "reverted_run": self.reverted_run,
                "changes": [line.as_dict() for line in self.lines],
                "left_alone": self.left_alone,
                "kept": self.kept,
            }
        )
        return out


@dataclass
class _RevertPlan:
    operations: list[Operation]
    lines: list[PreviewLine]
    left_alone: list[str]
    kept: list[str]


def _name(person: Person | None, fallback: str) -> str:
    if person is None:
        return fallback
    name = " ".join(p for p in (person.nickname or person.first_name, person.last_name) if p)
    return name or fallback


def _check(original: Run | None, run_id: int, store: Any) -> Run:
    if original is None:
        raise RevertError(f"There is no run {run_id}. List runs with: pcosync runs")
    if original.mode is RunMode.REVERT:
        raise RevertError(f"Run {run_id} is itself a revert; run `pcosync sync` instead.")
    if original.dry_run or original.status not in APPLIED:
        raise RunStateError(
            f"Run {run_id} is {original.status.value}"
            f"{' (a dry run)' if original.dry_run else ''}; only an applied run can be reverted."
        )
    for other in store.runs.list(200):
        if other.reverts_run_id == run_id and other.status is RunStatus.HELD:
            raise RunStateError(
                f"Run {other.id} (a revert of run {run_id}) is waiting for review: approve "
                f"or reject it first (pcosync review {other.id})."
            )
    return original


async def revert(
    sync: PeopleSync,
    run_id: int,
    *,
    dry_run: bool = False,
    hold: bool = False,
    confirm: Callable[[RevertResult], bool] | None = None,
    wait: bool = False,
) -> RevertResult:
    """Revert ``run_id``. ``dry_run``: plan and show, write nothing. ``confirm``: called
    with the preview before anything is written; False cancels (nothing is recorded).
    Held (exit 4) when the revert is over the safety limits, or with ``hold``."""
    store = sync.store
    async with RunLease(
        store, "revert", wait=wait, on_wait=sync.progress.phase, sleep=sync.sleep
    ) as lease:
        original = _check(store.runs.get(run_id), run_id, store)
        started = time.monotonic()
        planned_at = sync.clock()
        await sync.rock.prepare()
        plan = await _plan(sync, original)
        preview = RevertResult(
            RunSummary(0, RunStatus.RUNNING, RunMode.REVERT, dry_run),
            run_id,
            plan.lines,
            plan.left_alone,
            plan.kept,
            dry_run=dry_run,
        )
        # asked in a thread, so the lease is renewed while the admin reads and decides
        if not dry_run and confirm is not None and not await asyncio.to_thread(confirm, preview):
            raise RevertError(f"Run {run_id} was not reverted: cancelled, nothing was written.")
        run = store.runs.start(
            RunMode.REVERT, dry_run=dry_run, reverts_run_id=run_id, host=lease.host
        )
        lease.attach(run.id)
        store.runs.set_observed(run.id, planned_at)
        summary = RunSummary(run.id, RunStatus.RUNNING, RunMode.REVERT, dry_run)
        if not dry_run:
            close_unfinished(sync, run.id, summary)  # runs a dead process left behind
        preview.summary = summary
        summary.planned = len(plan.operations)
        try:
            store.journal.record(run.id, plan.operations)
            decision = _gate(sync, plan.operations)
            if hold:
                decision.append("Held on request (--hold): review it, then approve or reject.")
            summary.notes.extend([*plan.left_alone, *plan.kept])
            if dry_run or decision:
                for op in plan.operations:
                    summary.count_operation(op)
                summary.hold_reasons = decision
                summary.seconds = time.monotonic() - started
                counts = {**summary.as_dict(), "reverts_run": run_id}
                if dry_run:
                    summary.status = RunStatus.DONE
                    store.runs.finish(run.id, RunStatus.DONE, counts=counts)
                else:
                    summary.status = RunStatus.HELD
                    preview.held = True
                    store.runs.hold(run.id, [{"message": m} for m in decision], counts)
                return preview
            from pcosync.app.review import revalidating_inflight

            sync.progress.phase("Undoing the run", total=len(plan.operations))
            applier = Applier(
                sync,
                run.id,
                summary,
                lease=lease,
                inflight=revalidating_inflight(sync, planned_at),
                on_fresh=OnFresh.REVALIDATE,
                planned_when="the revert was planned",
            )
            applied = await applier.run(plan.operations)
            preview.left_alone.extend(s.message for s in applier.stale)
            summary.notes.extend(s.message for s in applier.stale)
            done = applier.as_narrowed(plan.operations)
            snapshots = await snapshots_of_sources(sync, done, applied)
            finish_revert(
                sync,
                store.runs.get(run.id),
                done,
                applied,
                summary,
                snapshots=snapshots,
            )
            summary.status = RunStatus.PARTIAL if summary.parked else RunStatus.DONE
            summary.seconds = time.monotonic() - started
            counts = summary.as_dict()
            counts.update(
                reverts_run=run_id,
                left_alone=preview.left_alone,
                kept=plan.kept,
                stale=[s.as_dict() for s in applier.stale],
            )
            store.runs.finish(run.id, summary.status, counts=counts)
            return preview
        except BaseException as exc:
            summary.status = RunStatus.FAILED
            store.runs.finish(run.id, RunStatus.FAILED, error=safe(exc), counts=summary.as_dict())
            raise


def _gate(sync: PeopleSync, operations: Sequence[Operation]) -> list[str]:
    """A revert is measured against the safety limits like any run."""
    synced = sync.store.links.count()
    members = len(sync.store.links.load_memberships())
    population = {side: Population(synced, members) for side in Side}
    people_ops = [op for op in operations if op.kind not in MEMBERSHIP_KINDS]
    member_ops = [op for op in operations if op.kind in MEMBERSHIP_KINDS]
    config = sync.gate_config
    results = [
        gate(people_ops, population, for_population(config, synced)),
        gate(member_ops, population, for_population(config, members)),
    ]
    return [r.message for res in results if res.decision is Decision.HOLD for r in res.reasons]


async def _plan(sync: PeopleSync, original: Run) -> _RevertPlan:
    """Read what is there now and plan the undo (nothing is written)."""
    store = sync.store
    applied = store.journal.operations(original.id, OpStatus.APPLIED)
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
    left_alone = [s.message for s in undo.skipped]
    operations = list(undo.plan.operations)
    seq = operations[-1].seq + 1 if operations else 1
    kept: list[str] = []
    for op in applied:
        if op.kind is not OpKind.CREATE:
            continue
        decision = await _created_record(sync, original, op, applied)
        if isinstance(decision, str):
            kept.append(decision)
            continue
        record = decision
        removals = tuple(
            o.seq
            for o in operations
            if o.kind is OpKind.REMOVE_MEMBER and o.ref.link_id == op.ref.link_id
        )
        delete = Operation(
            seq,
            OpKind.DELETE,
            op.side,
            op.ref,
            Reason.REVERT,
            before=record,
            depends_on=removals,
        )
        operations.append(delete)
        seq += 1
        operations.append(
            Operation(
                seq, OpKind.UNLINK, op.side.other, op.ref, Reason.REVERT, depends_on=(delete.seq,)
            )
        )
        seq += 1
    lines = _preview(sync, operations, current)
    return _RevertPlan(operations, lines, left_alone, kept)


async def _created_record(
    sync: PeopleSync, original: Run, op: Operation, applied: Sequence[Operation]
) -> Person | str:
    """The record the run created, when it may be deleted (nobody edited or referenced it
    since); otherwise the sentence that says why it stays."""
    created_id = op.ref.id_on(op.side)
    who = _name(op.record, op.ref.describe())
    where = op.side.label
    if created_id is None:
        return f"The {where} record made for {who} is not known; it stays."
    seen = await sync._side(op.side).fetch_one(created_id)
    if seen is None:
        return f"The {where} record made for {who} no longer exists."
    record = seen.person
    if op.record is not None and any(
        not FIELD_SPECS[f].same(getattr(record, f.value), getattr(op.record, f.value))
        for f in op.changes
    ):
        return f"The {where} record made for {who} was edited since, so it stays (still linked)."
    made = original.ended_at or original.started_at
    if seen.modified_at is not None and seen.modified_at > made + CREATE_SETTLE:
        return f"The {where} record made for {who} was changed since, so it stays (still linked)."
    ours = {
        o.group.rock_group_id if op.side is Side.ROCK else o.group.pco_id
        for o in applied
        if o.kind is OpKind.ADD_MEMBER
        and o.group is not None
        and o.side is op.side
        and o.ref.link_id == op.ref.link_id
    }
    if await _referenced(sync, op.side, created_id, ours):
        return (
            f"The {where} record made for {who} is now used elsewhere (a group or team "
            "added since), so it stays (still linked)."
        )
    return record


async def _referenced(sync: PeopleSync, side: Side, person_id: Any, ours: set[Any]) -> bool:
    """Whether anything but the run's own memberships (and, in Rock, the person's family)
    points at the record."""
    if side is Side.ROCK:
        ids = await sync.rock.prepare()
        rows = await sync.rock.client.query(
            "GroupMembers",
            filter=f"PersonId eq {int(person_id)}",
            select=["Id", "GroupId", "GroupTypeId"],
        )
        others = [
            r
            for r in rows
            if int(r["GroupId"]) not in ours and r.get("GroupTypeId") != ids.family_group_type
        ]
        untyped = [int(r["GroupId"]) for r in others if r.get("GroupTypeId") is None]
        if untyped:  # older Rock: no GroupTypeId on the member; ask the groups
            groups = await sync.rock.client.query_any(
                "Groups", "Id", untyped, select=["Id", "GroupTypeId"]
            )
            families = {
                int(g["Id"]) for g in groups if g.get("GroupTypeId") == ids.family_group_type
            }
            others = [r for r in others if int(r["GroupId"]) not in families]
        return bool(others)
    assignments = await sync.pco.client.person_assignments(str(person_id))
    positions = {f"TeamPosition:{a.team_position_id}" for a in assignments}
    return bool(positions - ours)


async def _membership_now(
    sync: PeopleSync, applied: Sequence[Operation]
) -> Callable[[Side, PersonRef, GroupRef], bool | None] | None:
    """Who is a member of the run's positions now, read once (nothing is written)."""
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


def _preview(
    sync: PeopleSync,
    operations: Iterable[Operation],
    current: dict[tuple[Side, Any], Person | None],
) -> list[PreviewLine]:
    lines: list[PreviewLine] = []
    for op in operations:
        person = op.before or current.get((op.side, op.target_id))
        who = _name(person, op.ref.describe())
        where = op.side.label
        if op.kind is OpKind.UPDATE:
            for name, (now, back) in op.changes.items():
                spec = FIELD_SPECS[name]
                lines.append(
                    PreviewLine(who, where, spec.label, spec.display(now), spec.display(back))
                )
        elif op.kind in MEMBERSHIP_KINDS and op.group is not None:
            added = op.kind is OpKind.ADD_MEMBER
            lines.append(
                PreviewLine(
                    who,
                    where,
                    f"member of {op.group.describe()}",
                    "no" if added else "yes",
                    "yes" if added else "no",
                )
            )
        elif op.kind is OpKind.DELETE:
            lines.append(PreviewLine(who, where, "the record pcosync created", "exists", "deleted"))
        elif op.kind is OpKind.RESTORE:
            lines.append(PreviewLine(who, where, "status", "inactive", "active"))
    return lines


async def snapshots_of_sources(
    sync: PeopleSync, operations: Sequence[Operation], applied: set[int]
) -> dict[tuple[Side, str], Person]:
    """The people whose created counterpart the revert deleted, as they are now on their own
    side (after the revert's writes): the next syncs leave them alone while these values
    hold. One read per person on that side (Planning Center: one request each, paced); a
    person who cannot be read gets no snapshot and falls back to their modified time."""
    wanted: dict[Side, list[Any]] = {Side.ROCK: [], Side.PCO: []}
    for op in operations:
        source = op.ref.id_on(op.side.other)
        if op.kind is OpKind.DELETE and op.seq in applied and source is not None:
            wanted[op.side.other].append(source)
    found: dict[tuple[Side, str], Person] = {}
    for side, ids in wanted.items():
        if not ids:
            continue
        try:
            seen = await sync._side(side).fetch_many(ids)
        except (ApiError, SyncDataError):
            # any refusal or failure (a 401/403 included): the revert has written, and must
            # still finish; without a snapshot the modified time decides (docs/operations.md)
            continue
        found.update({(side, str(o.id)): o.person for o in seen})
    return found


def finish_revert(
    sync: PeopleSync,
    run: Run | None,
    operations: Sequence[Operation],
    applied: set[int],
    summary: RunSummary,
    *,
    complete: bool = True,
    snapshots: Mapping[tuple[Side, str], Person] | None = None,
) -> None:
    """After the undo: fields and memberships left differing on purpose are recorded so,
    records deleted are not created again until they change (``snapshots``: the source
    people as the revert left them, see :func:`snapshots_of_sources`), and the original run
    is marked reverted (``complete``; a revert interrupted half-way keeps what it undid,
    but the original run stays revertable)."""
    snapshots = snapshots or {}
    if run is None:
        return
    store = sync.store
    bases = store.links.load_bases(
        {op.ref.link_id for op in operations if op.ref.link_id is not None}
    )
    changed: dict[int, Base] = {}
    splits: dict[tuple[int, int], bool | str] = {}
    for op in operations:
        if op.seq not in applied:
            continue
        link_id = op.ref.link_id
        if op.kind is OpKind.UPDATE and link_id is not None:
            base = changed.get(link_id) or bases.get(link_id)
            if base is None:
                continue
            changed[link_id] = _left_differing(base, op)
        elif op.kind in MEMBERSHIP_KINDS and link_id is not None and op.group is not None:
            gid = op.group.group_link_id
            if gid is None:
                continue
            # an undone add leaves the other side a member; an undone removal this one
            member = op.side.other if op.kind is OpKind.REMOVE_MEMBER else op.side
            splits[(link_id, gid)] = member.value
        elif op.kind is OpKind.DELETE:
            source = op.ref.id_on(op.side.other)
            if source is not None:
                snapshot = snapshots.get((op.side.other, str(source)))
                store.suppressions.add(op.side, source, run.id, snapshot)
    for link_id, base in changed.items():
        if store.links.get(link_id) is not None:
            store.links.save_base(link_id, base)
    # a person this revert deleted took their link along, and a group may have been
    # unlinked meanwhile: a membership base for either would break the store (seed 8)
    live_groups = {g.id for g in store.groups.all()}
    splits = {
        (link_id, gid): v
        for (link_id, gid), v in splits.items()
        if gid in live_groups and store.links.get(link_id) is not None
    }
    if splits:
        store.links.save_memberships(splits)
    if complete and run.reverts_run_id is not None:
        original = store.runs.get(run.reverts_run_id)
        if original is not None and original.status is not RunStatus.REVERTED:
            store.runs.mark_reverted(run.reverts_run_id)
    if changed or splits:
        summary.notes.append(
            "Where the reverted run had copied an edit across, the two sides now differ on "
            "purpose; the next syncs leave both values as they are until someone edits one "
            "of them (see pcosync runs show for the list)."
        )


def _left_differing(base: Base, op: Operation) -> Base:
    """The base after undoing ``op`` on its side: each field restored there differs from
    the other side, which still holds the value the run had copied across."""
    split = {n: (r, p) for n, r, p in base.split}
    values = {name: getattr(base.person, name.value) for name in FieldName}
    unknown = set(base.unknown)
    for name, (copied, restored) in op.changes.items():
        if FIELD_SPECS[name].same(copied, restored):
            continue
        rock, pco = (restored, copied) if op.side is Side.ROCK else (copied, restored)
        split[name] = (rock, pco)
        values[name] = rock
        unknown.discard(name)
    return Base(
        Person(**{n.value: v for n, v in values.items()}),
        frozenset(unknown),
        tuple((n, r, p) for n, (r, p) in split.items()),
        frozenset(m for m in base.held if m[0] not in op.changes),
        base.held_by,
    )


__all__ = [
    "PreviewLine",
    "RevertError",
    "RevertResult",
    "finish_revert",
    "revert",
    "snapshots_of_sources",
]
