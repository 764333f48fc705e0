"""The one applier: every write pcosync makes goes through here (DESIGN §6.4).

A sync run, an approved held run and a revert all hand their journaled operations to
:class:`Applier`. Per person, operations run in plan order as one chain; up to
``concurrency`` chains run side by side (the Planning Center limiter paces them), and an
operation waits for those it depends on. Each write is journaled as *sent* before it goes
out and *applied* after it landed; one that fails is parked with its reason, and the run
goes on.

Before a write to a record a person may be editing, the applier makes sure that side's
changes were read no longer than the re-check interval ago (:class:`~pcosync.app.inflight
.InFlight`). A person whose record changed is handled by the policy the caller chose:

- ``REPLAN`` (a sync run): their remaining updates are planned again with the three-way
  merge against the real timestamps (the later edit wins, the loser is recorded);
- ``REVALIDATE`` (an approval or a revert): a field whose value is no longer the one the
  reviewed plan expected is left alone and reported (:class:`Stale`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople
from pcosync.app.inflight import InFlight
from pcosync.app.names import PeopleNames, link_owner
from pcosync.app.refusal import REFUSALS, Refusal
from pcosync.app.summary import RunSummary
from pcosync.clients.http import write_guard
from pcosync.domain.fields import FIELD_SPECS, FieldName, FieldValue
from pcosync.domain.identity import PcoPersonId, PersonRef, RockPersonId, Side
from pcosync.domain.person import Person
from pcosync.domain.policy import SyncPolicy
from pcosync.engine.merge import Base, Reason
from pcosync.engine.plan import (
    GROUP_KINDS,
    MEMBERSHIP_KINDS,
    RECHECKED_KINDS,
    Change,
    Conflict,
    Operation,
    OpKind,
    PersonPair,
    plan_people,
    settle_base,
    unapplied_fields,
)
from pcosync.engine.ports import ObservedPerson
from pcosync.errors import (
    AmbiguousWriteError,
    ApiError,
    LeaseLost,
    NotFoundError,
    PcoSyncError,
    RetriesExhausted,
    SyncDataError,
    TransportError,
    WriteSuperseded,
)
from pcosync.store import OpStatus, Store
from pcosync.store.links import GroupLinkStatus, LinkConflict

if TYPE_CHECKING:
    from pcosync.app.lease import RunLease
    from pcosync.app.people_sync import PeopleSync

log = logging.getLogger("pcosync.sync")


class InDoubt(PcoSyncError):
    """A create was sent, its answer lost, and a re-read does not show it (yet)."""


class OnFresh(Enum):
    REPLAN = "replan"
    REVALIDATE = "revalidate"


@dataclass(frozen=True, slots=True)
class Stale:
    """A planned field left alone: its value changed after the plan was made."""

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
class PersonState:
    """One person's operations in this run and the bases they were planned against."""

    ops: list[Operation]
    base_now: Base | None = None  # the base the current operations were planned from
    planned: Base | None = None  # the base once they are all applied (None: unchanged)


@dataclass
class Records:
    """What the run knows of each record now: as read, then as written or re-read.

    ``human_time`` is the last time a *person* changed the record (our own writes bump the
    record's modified time too, and must not win a conflict against a person's edit)."""

    current: dict[tuple[Side, Any], ObservedPerson] = field(default_factory=dict)
    human_time: dict[tuple[Side, Any], Any] = field(default_factory=dict)

    def add(self, seen: ObservedPerson) -> None:
        key = (seen.side, seen.id)
        self.current[key] = seen
        self.human_time[key] = seen.modified_at

    def wrote(self, seen: ObservedPerson) -> None:
        """The record as re-read after our own write (its time is ours, not a person's)."""
        self.current[(seen.side, seen.id)] = seen


def _copies(op: Operation) -> bool:
    """An update that copies values from the other side (not a revert's restore)."""
    return op.kind is OpKind.UPDATE and any(
        reason in (Reason.EDIT, Reason.CONFLICT_WINNER) for reason in op.field_reasons.values()
    )


def record_key(record_id: object) -> str:
    return f"person:{record_id}"


def membership_key(op: Operation) -> str:
    """Parked-record key of a membership: ``membership:<rock id>/<pco id>:TeamPosition:<id>``."""
    group = op.group.pco_id if op.group is not None else "?"
    rock = op.ref.rock_id if op.ref.rock_id is not None else "-"
    pco = op.ref.pco_id if op.ref.pco_id is not None else "-"
    return f"membership:{rock}/{pco}:{group}"


def safe(exc: BaseException) -> str:
    """An error message fit for logs and the store: our errors carry no personal data."""
    if isinstance(exc, PcoSyncError | LinkConflict):
        return str(exc)
    return f"{type(exc).__name__} (see the debug log)"


class Applier:
    """Applies one run's operations (already in its journal)."""

    def __init__(
        self,
        sync: PeopleSync,
        run_id: int,
        summary: RunSummary,
        *,
        lease: RunLease | None = None,
        inflight: InFlight | None = None,
        on_fresh: OnFresh = OnFresh.REPLAN,
        records: Records | None = None,
        fresh_aliases: Mapping[tuple[int, str], int | None] | None = None,
        people: Mapping[PersonRef, PersonState] | None = None,
        policy: SyncPolicy | None = None,
        after_person: Callable[[PersonRef], None] | None = None,
        planned_when: str = "the run was held",
    ) -> None:
        self.planned_when = planned_when  # for messages: when the reviewed plan was made
        self.sync = sync
        self.store: Store = sync.store
        self.run_id = run_id
        self.summary = summary
        self.lease = lease
        self.inflight = inflight
        self.on_fresh_policy = on_fresh
        self.records = records or Records()
        self.fresh_aliases = dict(fresh_aliases or {})
        self.people: dict[PersonRef, PersonState] = dict(people or {})
        self.policy = policy or sync.policy
        self.after_person = after_person
        self.applied: set[int] = set()
        self.failed: set[int] = set()
        self.retired: set[int] = set()  # links retired during the run (record gone)
        self.link_of: dict[PersonRef, int] = {}
        self.stale: list[Stale] = []
        # a 401/403 is not one bad record: the first stops the run (nothing parked for it)
        self.refusal = Refusal(self.store, run_id)
        self.queues: dict[PersonRef, deque[Operation]] = {}
        self._settled: set[PersonRef] = set()  # after_person already called
        # what is parked now: a write that went through settles its record only if it was
        # (a look-up per write would cost a transaction each, thousands in a first sync)
        self._parked = {(p.side, p.record_key) for p in self.store.parked.list()}
        self._done: dict[int, asyncio.Event] = {}
        self._next_seq = 1
        if inflight is not None:
            inflight.on_fresh = self._on_fresh
            inflight.wanted = self._awaiting_recheck

    # ------------------------------------------------------------------ the run

    async def run(self, operations: Iterable[Operation]) -> set[int]:
        """Apply; returns the seqs applied (also in :attr:`applied`)."""
        for op in operations:
            self.queues.setdefault(op.ref, deque()).append(op)
            self._done[op.seq] = asyncio.Event()
            self._next_seq = max(self._next_seq, op.seq + 1)
            if op.ref not in self.people:
                self.people[op.ref] = PersonState([])
            if op not in self.people[op.ref].ops:
                self.people[op.ref].ops.append(op)
        slots = asyncio.Semaphore(self.sync.concurrency)

        async def run_chain(ref: PersonRef) -> None:
            async with slots:
                queue = self.queues[ref]
                while queue:
                    op = queue[0]
                    guarded = op.kind in RECHECKED_KINDS and self.inflight is not None
                    if not guarded:
                        queue.popleft()
                    for dep in op.depends_on:
                        if dep in self._done:
                            await self._done[dep].wait()
                    if guarded:
                        # (it stayed at the head while it waited: a re-read may have re-planned
                        # or left it out meanwhile)
                        assert self.inflight is not None
                        if self.on_fresh_policy is OnFresh.REVALIDATE and _copies(op):
                            # what it copies must still be what its source holds
                            await self.inflight.ensure_fresh(op.side.other)
                            if not queue or queue[0] is not op:
                                continue
                        await self.inflight.ensure_fresh(op.side)
                        if not queue or queue[0] is not op:
                            continue  # re-planned while we looked: take the new head
                    handled = True
                    try:
                        if guarded:
                            # the op stays at the head of its queue until its first write
                            # is sent, so a re-read while it waits can still re-plan it
                            assert self.inflight is not None
                            guard = _OpGuard(self.inflight, op, queue)
                            token = write_guard.set(guard)
                            try:
                                handled = await self._step(op)
                            finally:
                                # (a chain abandoned mid-await is closed elsewhere, in
                                # another context: nothing is left to reset there)
                                with contextlib.suppress(ValueError):
                                    write_guard.reset(token)
                            if handled and queue and queue[0] is op:
                                queue.popleft()  # ended before sending anything
                        else:
                            await self._step(op)
                    finally:
                        if handled:
                            self._done[op.seq].set()
                            self.sync.progress.advance()
                if self.after_person is not None and ref not in self._settled:
                    self._settled.add(ref)
                    self.after_person(ref)

        await asyncio.gather(*(run_chain(ref) for ref in list(self.queues)))
        self.refusal.raise_if_refused(written=len(self.applied))
        return self.applied

    def as_narrowed(self, operations: Iterable[Operation]) -> list[Operation]:
        """``operations`` as they went out: an approval or a revert narrows an operation to
        the fields nobody changed since it was planned (see :meth:`_revalidate`). Bases and
        a revert's split fields follow what was written, never the plan as reviewed (sim
        seed 119: a field someone had set to the revert's value meanwhile was stored as left
        differing on purpose, and their edit never reached the other side)."""
        latest = {o.seq: o for state in self.people.values() for o in state.ops}
        return [latest.get(op.seq, op) for op in operations]

    async def _step(self, op: Operation) -> bool:
        """Apply ``op`` and journal what happened; False only when it was superseded before
        anything was sent (re-planned or re-validated: the queue holds what replaces it)."""
        journal = self.store.journal
        if self.refusal.stopped:  # credentials refused: nothing more is sent
            self.refusal.skip(op)
            self.failed.add(op.seq)
            return True
        link_id = op.ref.link_id
        if link_id is not None and link_id in self.retired:
            journal.mark_skipped(
                self.run_id, op.seq, "the person's record is gone; their link was retired"
            )
            self.failed.add(op.seq)
            return True
        if any(d in self.failed or d not in self.applied for d in op.depends_on):
            journal.mark_skipped(
                self.run_id, op.seq, "an earlier step for this person did not go through"
            )
            self.failed.add(op.seq)
            return True
        if self.lease is not None:
            self.lease.check()
        try:
            done = await self._apply_one(op)
        except WriteSuperseded:
            if journal.get(self.run_id, op.seq).status is OpStatus.SENT:
                journal.mark_not_sent(self.run_id, op.seq)  # (narrowed: sent again as such)
            return False
        except InDoubt as exc:
            self.summary.in_doubt += 1
            self.summary.notes.append(str(exc))
            self.failed.add(op.seq)
            return True
        except LeaseLost:
            raise
        except REFUSALS as exc:  # a credential problem stops the run, never parked
            self.failed.add(op.seq)
            self.refusal.refuse(op, exc)
            return True
        except (ApiError, SyncDataError, LinkConflict) as exc:
            self.failed.add(op.seq)
            self._fail(op, exc)
            return True
        if not done:
            self.failed.add(op.seq)
            return True
        self.applied.add(op.seq)
        log.info(
            "sync.op_applied run=%s seq=%s kind=%s side=%s",
            self.run_id,
            op.seq,
            op.kind.value,
            op.side.value,
        )
        self._resolve_parked(op)
        return True

    def _resolve_parked(self, op: Operation) -> None:
        """The operation went through: its record (or membership) is no longer parked."""
        if op.kind in MEMBERSHIP_KINDS:
            side, key = op.side, membership_key(op)
        elif op.kind not in GROUP_KINDS:
            side = op.side.other if op.kind is OpKind.CREATE else op.side
            record_id = op.ref.id_on(side)
            if record_id is None:
                return
            key = record_key(record_id)
        else:
            return
        if (side, key) in self._parked:
            self._parked.discard((side, key))
            self.store.parked.resolve(side, key)

    def _fail(self, op: Operation, exc: BaseException) -> None:
        message = safe(exc)
        who = op.ref.label() if op.kind not in GROUP_KINDS else _group_name(op)
        reason = f"Could not {op.kind.value} on {op.side.label} for {who}: {message}"
        if isinstance(exc, RetriesExhausted | TransportError):
            reason += " (a temporary problem: it will be retried on the next run)"
        current = self.store.journal.get(self.run_id, op.seq).status
        if current in (OpStatus.PLANNED, OpStatus.SENT):
            self.store.journal.mark_failed(self.run_id, op.seq, reason)
        if op.kind in GROUP_KINDS:
            self.summary.notes.append(reason)  # tried again by the next run, not parked
            return
        source = op.side.other if op.kind is OpKind.CREATE else op.side
        record_id = op.ref.id_on(source) if op.kind is OpKind.CREATE else op.target_id
        key = membership_key(op) if op.kind in MEMBERSHIP_KINDS else record_key(record_id)
        self.store.parked.park(
            source,
            key,
            reason,
            {"op": op.kind.value, "run": self.run_id, "seq": op.seq},
            run_id=self.run_id,
        )
        self._parked.add((source, key))
        self.summary.parked += 1
        log.warning(
            "sync.op_parked run=%s seq=%s kind=%s side=%s",
            self.run_id,
            op.seq,
            op.kind.value,
            op.side.value,
        )

    # ------------------------------------------------------------------ one operation

    def _side(self, side: Side) -> RockPeople | PcoPeople:
        return self.sync.rock if side is Side.ROCK else self.sync.pco

    def link_id_of(self, ref: PersonRef) -> int | None:
        return ref.link_id or self.link_of.get(ref)

    async def _apply_one(self, op: Operation) -> bool:
        """Apply one operation; False when it was skipped (journaled with the reason)."""
        if op.kind is OpKind.CREATE:
            await self._create(op)
            return True
        if op.kind in MEMBERSHIP_KINDS:
            return await self._membership(op)
        if op.kind in GROUP_KINDS:
            return await self._group(op)
        if op.kind is OpKind.DELETE:
            return await self._delete(op)
        journal = self.store.journal
        rock_id, pco_id = op.ref.rock_id, op.ref.pco_id
        if op.kind in (OpKind.ARCHIVE, OpKind.RESTORE) and op.side is Side.PCO and pco_id:
            journal.mark_sent(self.run_id, op.seq)
            return await self._set_active(op, pco_id, self.link_id_of(op.ref))
        if rock_id is None or pco_id is None:
            journal.mark_skipped(self.run_id, op.seq, "the person has no record on one side")
            return False
        link_id = self.link_id_of(op.ref)
        writer = self._side(op.side)
        target = rock_id if op.side is Side.ROCK else pco_id
        with self.store.transaction():  # one commit for everything before the request
            if link_id is None and op.kind is not OpKind.UNLINK:
                # a fresh match: the link exists from its first operation on
                alias = self.fresh_aliases.get((rock_id, pco_id))
                link_id = self.store.links.add(rock_id, pco_id, rock_alias_id=alias).id
                self.link_of[op.ref] = link_id
                self.summary.linked += 1
            if op.kind is OpKind.LINK and op.side is Side.PCO:
                assert link_id is not None
                self._owe_pco_link(op, link_id)
                return True
            if op.kind is OpKind.LINK:
                # this person's Planning Center link id, waiting next in the chain, is owed
                # in the same commit
                queue = self.queues.get(op.ref)
                pco_link = next(
                    (
                        o
                        for o in queue or ()
                        if o.kind is OpKind.LINK and o.side is Side.PCO and not o.depends_on
                    ),
                    None,
                )
                if queue is not None and pco_link is not None and link_id is not None:
                    queue.remove(pco_link)
                    self._owe_pco_link(pco_link, link_id)
                    self.applied.add(pco_link.seq)
                    self._resolve_parked(pco_link)
                    self._done[pco_link.seq].set()
                    self.sync.progress.advance()
            journal.mark_sent(self.run_id, op.seq)
        if op.kind is OpKind.LINK:
            counterpart = pco_id if op.side is Side.ROCK else rock_id
            try:
                await writer.write_link(target, counterpart)
            except NotFoundError:
                assert link_id is not None
                survivor = await self._follow(op.side, link_id, target, op)
                if survivor is None:
                    return False
                await writer.write_link(survivor, counterpart)
                target = survivor
            with self.store.transaction():  # the person's base too, when this was the last
                journal.mark_applied(
                    self.run_id, op.seq, link_id=link_id, **_written(op.side, target)
                )
                last = not self.queues.get(op.ref) and op.ref not in self._settled
                if last and self.after_person is not None:
                    self._settled.add(op.ref)
                    self.after_person(op.ref)
            return True
        if op.kind is OpKind.UNLINK:
            with contextlib.suppress(NotFoundError):  # gone: nothing carries the id any more
                await writer.write_link(target, None)
            journal.mark_applied(self.run_id, op.seq)
            return True
        if op.kind is OpKind.UPDATE:
            changes: dict[FieldName, FieldValue] = {
                f: after for f, (_b, after) in op.changes.items()
            }
            assert link_id is not None
            # the record as last read (the in-flight re-checks keep it current): the parts
            # of it this update does not write need not be read again
            known = self.records.current.get((op.side, target))
            try:
                after = await writer.update_person(target, changes, known=known)
            except AmbiguousWriteError:
                # the answer was lost: read the record back, never resend blindly. A write
                # that landed is recorded as applied (a revert's undo stays undone: seed 1971
                # took the restored value for a person's edit and copied it back across)
                landed = await self._landed(op, target)
                if landed is None:
                    raise
                after = landed
            except NotFoundError:
                # merged (or deleted) since it was read: follow the merge, then write once more
                survivor = await self._follow(op.side, link_id, target, op)
                if survivor is None:
                    return False
                after = await writer.update_person(survivor, changes)
                target = survivor
            self.records.wrote(after)
            with self.store.transaction():  # one commit: the result and, if last, the base
                # the journal names the record written (a merge's survivor, when followed):
                # a revert undoes it there (simulation seed 1570)
                journal.mark_applied(
                    self.run_id,
                    op.seq,
                    after=after.person,
                    link_id=link_id,
                    **_written(op.side, target),
                )
                self._settle_if_last(op)
            self.summary.updated[op.side.value] += 1
            return True
        journal.mark_skipped(self.run_id, op.seq, f"{op.kind.value} is not handled here")
        return False

    async def _landed(
        self, op: Operation, target: RockPersonId | PcoPersonId
    ) -> ObservedPerson | None:
        """After an update's answer was lost: the record as re-read when it holds every
        value sent (the write landed), else None (it is parked and tried again)."""
        try:
            seen = await self._side(op.side).fetch_one(target)
        except ApiError:
            return None
        if seen is None or not all(
            FIELD_SPECS[name].same(getattr(seen.person, name.value), new)
            for name, (_old, new) in op.changes.items()
        ):
            return None
        return seen

    def _settle_if_last(self, op: Operation) -> None:
        """Inside the transaction that records ``op`` as applied: when it was its person's
        last operation, their base goes in the same commit (else at the end of the chain)."""
        if self.after_person is None or self.queues.get(op.ref) or op.ref in self._settled:
            return
        self.applied.add(op.seq)  # (settling asks what went through; _step adds it too)
        self._settled.add(op.ref)
        self.after_person(op.ref)

    def _owe_pco_link(self, op: Operation, link_id: int) -> None:
        """People's data first: the link lives in the store (and on Rock as PcoPersonId);
        the Planning Center record's remote_id is owed, written with the rate budget left
        over (app.link_ids), so it never delays anyone's data."""
        with self.store.transaction():
            self.store.links.owe_pco_link([link_id])
            self.store.journal.mark_applied(self.run_id, op.seq, link_id=link_id)
        self.summary.link_ids_owed += 1

    async def _set_active(self, op: Operation, pco_id: PcoPersonId, link_id: int | None) -> bool:
        """Opt-in: left every team → inactive in People (revert: active again), checked
        against their assignments now, since the plan (or its approval) may be old."""
        journal = self.store.journal
        if op.kind is OpKind.ARCHIVE:
            try:
                if await self.sync.pco.client.person_assignments(pco_id):
                    journal.mark_skipped(self.run_id, op.seq, "still assigned to a team position")
                    return False
                result = await self.sync.pco.set_active(pco_id, False)
            except NotFoundError:  # merged or deleted since: nobody left to make inactive
                message = (
                    f"Planning Center person {pco_id} was not made inactive: they no longer "
                    "exist (merged or deleted)."
                )
                journal.mark_skipped(self.run_id, op.seq, message)
                self.summary.notes.append(message)
                return False
        else:
            window_end = self._revert_window_end()
            result = await self.sync.pco.set_active(
                pco_id, True, unless_inactivated_after=window_end
            )
            if result.get("left_alone"):
                message = (
                    f"{op.ref.describe()} was made inactive in Planning Center again after "
                    "the run; left inactive."
                )
                journal.mark_skipped(self.run_id, op.seq, message)
                self.summary.notes.append(message)
                return False
        if not result["changed"]:  # already so: nothing for a revert to undo
            journal.mark_skipped(self.run_id, op.seq, f"already {result['status']}")
            return False
        journal.mark_applied(self.run_id, op.seq, before=result, link_id=link_id)
        if op.kind is OpKind.ARCHIVE:
            self.summary.inactivated[op.side.value] += 1
        return True

    def _revert_window_end(self) -> Any:
        run = self.store.runs.get(self.run_id)
        if run is None or run.reverts_run_id is None:
            return None
        original = self.store.runs.get(run.reverts_run_id)
        return original.ended_at if original is not None else None

    async def _membership(self, op: Operation) -> bool:
        """Assign / unassign (PCO) or add / inactivate (Rock) one person on one position."""
        memberships = self.sync.memberships
        if memberships is None or op.group is None:
            self.store.journal.mark_skipped(self.run_id, op.seq, "team memberships are not synced")
            return False
        link_id = self.link_id_of(op.ref)
        target = op.ref.id_on(op.side)
        if target is None:  # created earlier in this run: the link knows the new id
            link = self.store.links.get(link_id) if link_id is not None else None
            if link is None:
                raise SyncDataError(f"{op.ref.describe()} was not created on {op.side.label}")
            target = link.rock_person_id if op.side is Side.ROCK else link.pco_person_id
        writer = memberships.writer(op.side)
        self.store.journal.mark_sent(self.run_id, op.seq)
        if op.kind is OpKind.ADD_MEMBER:
            try:
                after = await writer.add_member(op.group, target)
            except (NotFoundError, AmbiguousWriteError) as exc:
                # the person merged or deleted since the read (not the position): follow the
                # merge or retire the link, as for an update; else every run retried the
                # same 404 for ever (simulation seed 1078 of the sim tier). Rock answers a
                # member added for a merged-away Id with a 500 (a key to no row, reported as
                # an unknown outcome), and an incremental run reads only the survivor: every
                # run failed that add (seed 761). A person still there: the error stands.
                if isinstance(exc, AmbiguousWriteError) and op.side is not Side.ROCK:
                    raise
                if link_id is None or await self._side(op.side).fetch_one(target) is not None:
                    raise
                survivor = await self._follow(op.side, link_id, target, op)
                if survivor is None:
                    return False
                after = await writer.add_member(op.group, survivor)
                target = survivor
            self.store.journal.mark_applied(
                self.run_id, op.seq, after=after, link_id=link_id, **_written(op.side, target)
            )
            self.summary.members_added[op.side.value] += 1
        else:
            before = await writer.remove_member(op.group, target)
            self.store.journal.mark_applied(self.run_id, op.seq, before=before, link_id=link_id)
            self.summary.members_removed[op.side.value] += 1
        return True

    async def _group(self, op: Operation) -> bool:
        """Inactivate the Rock group of a team archived or deleted in Planning Center (or
        reactivate it: the team is live again). Its link's status follows."""
        assert op.group is not None and op.group.group_link_id is not None
        activate = op.kind is OpKind.REACTIVATE_GROUP
        link = self.store.groups.get(op.group.group_link_id)
        wanted_from = GroupLinkStatus.INACTIVE if activate else GroupLinkStatus.ACTIVE
        if link is None or link.status is not wanted_from:
            self.store.journal.mark_skipped(
                self.run_id, op.seq, "the group's link changed since the run was planned"
            )
            return False
        self.store.journal.mark_sent(self.run_id, op.seq)
        await self.sync.rock.client.update_group(op.group.rock_group_id, {"IsActive": activate})
        status = GroupLinkStatus.ACTIVE if activate else GroupLinkStatus.INACTIVE
        self.store.groups.set_status(link.id, status)
        if not activate:  # its parked membership changes can no longer go through: settled
            for parked in self.store.parked.list():
                key = parked.record_key
                if key.startswith("membership:") and key.endswith(f":{link.pco_id}"):
                    self.store.parked.resolve(parked.side, key)
        self.store.journal.mark_applied(self.run_id, op.seq, before={"IsActive": not activate})
        if activate:
            self.summary.groups_reactivated += 1
        else:
            self.summary.groups_inactivated += 1
        return True

    async def _delete(self, op: Operation) -> bool:
        """A revert removes a record the reverted run created (checked untouched when the
        revert was planned, and re-checked just now by the in-flight read)."""
        target = op.target_id
        if target is None:
            self.store.journal.mark_skipped(self.run_id, op.seq, "no record to delete")
            return False
        self.store.journal.mark_sent(self.run_id, op.seq)
        writer = self._side(op.side)
        gone_before = not await writer.delete_person(target)
        link_id = self.link_id_of(op.ref)
        if link_id is not None and self.store.links.get(link_id) is not None:
            self.store.links.remove(link_id)
        self.store.journal.mark_applied(
            self.run_id, op.seq, before={"already_gone": gone_before} if gone_before else None
        )
        self.summary.deleted[op.side.value] += 1
        return True

    async def _follow(
        self,
        side: Side,
        link_id: int,
        gone: RockPersonId | PcoPersonId,
        op: Operation,
    ) -> RockPersonId | PcoPersonId | None:
        """The survivor of a record merged away mid-run; the link is moved to it. A record
        deleted (not merged) retires the link: noted once, nothing parked, no retry loop."""
        link = self.store.links.get(link_id)
        if link is None:
            # unlinked since the plan (a revert, a retired link: an approval applies a plan
            # made earlier): nobody to follow, nothing to write (sim seed 412 of the sim tier)
            message = f"the link of {gone} no longer exists; nothing was written"
            self.store.journal.mark_skipped(self.run_id, op.seq, message)
            return None
        alias = link.rock_alias_id if side is Side.ROCK else None
        survivor = await self._side(side).resolve_merged(gone, alias)
        if survivor is None or survivor == gone:
            message = retire_link(self.store, link_id, side, gone)
            self.retired.add(link_id)
            self.summary.notes.append(message)
            self.store.journal.mark_skipped(self.run_id, op.seq, message)
            return None
        try:
            if side is Side.ROCK:
                self.store.links.repoint(link_id, rock_person_id=int(survivor))
            else:
                self.store.links.repoint(link_id, pco_person_id=str(survivor))
        except LinkConflict:
            message = retire_link(self.store, link_id, side, gone, merged_into=survivor)
            self.retired.add(link_id)
            self.summary.notes.append(message)
            self.store.journal.mark_skipped(self.run_id, op.seq, message)
            return None
        self.summary.notes.append(
            f"The link of {link_owner(self.store, link_id)} followed a merge in {side.label} "
            f"({gone} → {survivor})."
        )
        return survivor

    async def _create(self, op: Operation) -> None:
        """Create the person on ``op.side``; link both records; never duplicate."""
        source_side = op.side.other
        source_id = op.ref.id_on(source_side)
        assert source_id is not None and op.record is not None
        writer = self._side(op.side)
        self.store.journal.mark_sent(self.run_id, op.seq)
        try:
            created = await writer.create_person(op.record, link_hint=source_id)
        except AmbiguousWriteError:
            created = await self._find_created(op, source_id)
        rock_id = int(created.id) if op.side is Side.ROCK else int(source_id)
        pco_id = str(created.id) if op.side is Side.PCO else str(source_id)
        alias = created.alias_id if op.side is Side.ROCK else None
        # one commit for the link, the result and what it leaves owed (and the person's base
        # when nothing else is to come for them): a crash before it leaves the create sent,
        # which the next run finds again by its link id (app.recover)
        with self.store.transaction():
            link = self.store.links.add(rock_id, pco_id, rock_alias_id=alias)
            self.link_of[op.ref] = link.id
            self.records.wrote(created)
            self.store.journal.mark_applied(
                self.run_id,
                op.seq,
                after=created.person,
                link_id=link.id,
                rock_person_id=rock_id,
                pco_person_id=pco_id,
            )
            # the person's base as created, at once: the run may die before their other
            # writes, and a link without a base would fill their empty fields from the
            # created record over an edit made meanwhile (simulation seed 1285); the base
            # settled at the end of the person's chain (an approval: of the run) replaces it
            self.store.links.save_base(link.id, created_base(op, created.person))
            # the source record learns its counterpart's id too: Rock's PcoPersonId now, a
            # Planning Center remote_id with the budget left over (app.link_ids)
            if source_side is Side.PCO:
                self.store.links.owe_pco_link([link.id])
                self._settle_if_last(op)
        self.summary.created[op.side.value] += 1
        self.summary.linked += 1
        if source_side is Side.PCO:
            self.summary.link_ids_owed += 1
        else:
            await self._side(source_side).write_link(source_id, created.id)

    async def _find_created(self, op: Operation, source_id: object) -> ObservedPerson:
        """After a lost create answer: re-read by the link id written on the new record."""
        found = await self._side(op.side).find_by_link_hint(source_id)  # type: ignore[arg-type]
        if len(found) == 1:
            return found[0]
        if not found:
            raise InDoubt(
                f"Creating {op.ref.describe()} on {op.side.label}: the answer was lost and the "
                "record is not visible yet. The next run checks again before doing anything, "
                "so it will not be created twice."
            )
        raise SyncDataError(
            f"{len(found)} {op.side.label} records carry the link id of {op.ref.describe()}; "
            "merge the duplicates, then run the sync again"
        )

    # ------------------------------------------------------------------ edits mid-run

    def _awaiting_recheck(self, side: Side) -> set[str]:
        """Records on ``side`` a re-read can still matter for: the targets of its updates
        and deletes not done yet (a superset of what :meth:`_on_fresh` looks at: one being
        sent is in it too, as it may be refused and queued again)."""
        out: set[str] = set()
        revalidate = self.on_fresh_policy is OnFresh.REVALIDATE
        for state in self.people.values():
            for op in state.ops:
                done = self._done.get(op.seq)
                if done is None or done.is_set():
                    continue
                if op.side is side and op.kind in RECHECKED_KINDS:
                    if op.target_id is not None:
                        out.add(str(op.target_id))
                elif revalidate and op.side is side.other and _copies(op):
                    source = op.ref.id_on(side)  # an approval checks its sources too
                    if source is not None:
                        out.add(str(source))
        return out

    def _on_fresh(self, side: Side, records: Sequence[ObservedPerson]) -> None:
        pending: dict[tuple[Side, str], PersonRef] = {}
        sources: dict[str, PersonRef] = {}  # an approval: the records its updates copy from
        revalidate = self.on_fresh_policy is OnFresh.REVALIDATE
        for ref, queue in self.queues.items():
            for op in queue:
                if op.kind in RECHECKED_KINDS and op.side is side:
                    target = op.target_id
                    if target is not None:
                        pending[(side, str(target))] = ref
                elif revalidate and op.kind is OpKind.UPDATE and op.side is side.other:
                    source = ref.id_on(side)
                    if source is not None:
                        sources[str(source)] = ref
        for seen in records:
            source_of = sources.get(str(seen.id))
            if source_of is not None:
                self._revalidate_source(source_of, side, seen)
            found = pending.get((side, str(seen.id)))
            if found is None:
                continue
            ref = found
            known = self.records.current.get((side, seen.id))
            if known is not None and known.person == seen.person:
                continue  # unchanged, or our own write coming back
            self.records.add(seen)
            if self.on_fresh_policy is OnFresh.REPLAN:
                self._replan(ref, side, seen)
            else:
                self._revalidate(ref, side, seen)

    def _replan(self, ref: PersonRef, side: Side, seen: ObservedPerson) -> None:
        """Someone edited this person while the run worked: plan their remaining updates
        again from what both records hold now (the later edit wins; the loser is kept)."""
        state = self.people.get(ref)
        queue = self.queues[ref]
        old = [op for op in queue if op.kind is OpKind.UPDATE]
        if state is None or not old:
            return
        base_now = state.base_now
        if state.planned is not None:
            base_now = settle_base(
                state.base_now, state.planned, unapplied_fields(state.ops, self.applied)
            )
        rock = self.records.current.get((Side.ROCK, ref.rock_id))
        pco = self.records.current.get((Side.PCO, ref.pco_id))
        if base_now is None and (rock is None or pco is None):
            return  # cannot merge without both records: the next run does
        assert ref.rock_id is not None and ref.pco_id is not None
        pair = PersonPair(
            link_id=ref.link_id,
            rock_id=ref.rock_id,
            pco_id=ref.pco_id,
            base=base_now,
            rock=rock.person if rock else None,
            pco=pco.person if pco else None,
            rock_modified=self.records.human_time.get((Side.ROCK, ref.rock_id)),
            pco_modified=self.records.human_time.get((Side.PCO, ref.pco_id)),
        )
        again = plan_people([pair], self.policy, start_seq=self._next_seq)
        new = [op for op in again.operations if op.kind is OpKind.UPDATE]
        if _same_updates(old, new):
            return
        self._next_seq = max([self._next_seq, *(op.seq + 1 for op in new)])
        who = _person_name(seen) or ref.describe()
        reason = (
            f"re-planned: {who} was edited in {side.label} while the run worked (the later "
            "edit wins; see the run's conflicts)"
        )
        for op in old:
            self.store.journal.mark_skipped(self.run_id, op.seq, reason)
            self._done[op.seq].set()
            queue.remove(op)
        self.store.journal.record(self.run_id, new)
        conflicts: list[Conflict] = list(again.conflicts)
        if conflicts:
            self.store.journal.record_conflicts(self.run_id, conflicts)
        for op in new:
            queue.append(op)
            self._done[op.seq] = asyncio.Event()
        state.ops = [op for op in state.ops if op not in old] + new
        state.base_now = base_now
        state.planned = again.bases.get(ref, base_now)
        self.summary.replanned += 1
        self.summary.conflicts += len(conflicts)
        self.summary.notes.append(f"{who}: edited in {side.label} during the run; re-planned.")
        log.info("sync.replanned run=%s side=%s ops=%s", self.run_id, side.value, len(new))

    def _revalidate(self, ref: PersonRef, side: Side, seen: ObservedPerson) -> None:
        """An approval or a revert writes what was reviewed, or nothing: a field whose value
        changed since the plan was made keeps the newer value (the next sync merges it)."""
        queue = self.queues[ref]
        for op in list(queue):
            if op.side is not side or op.kind not in RECHECKED_KINDS:
                continue
            if op.kind is OpKind.DELETE:
                if op.before is not None and seen.person != op.before:
                    message = (
                        f"{_person_name(seen) or ref.describe()} was edited in {side.label} "
                        f"after {self.planned_when}, so the record stays (linked)."
                    )
                    self.store.journal.mark_skipped(self.run_id, op.seq, message)
                    self.stale.append(Stale(op.seq, side, ref, None, message))
                    self._drop(queue, op, dependents=True)
                continue
            kept: dict[FieldName, Change] = {}
            for name, (before, after) in op.changes.items():
                spec = FIELD_SPECS[name]
                value = getattr(seen.person, name.value)
                if spec.same(value, before):
                    kept[name] = (before, after)
                elif spec.same(value, after):
                    continue  # someone already made the same change
                else:
                    self.stale.append(
                        Stale(
                            op.seq,
                            side,
                            ref,
                            name,
                            f"{spec.label} of {_person_name(seen) or ref.describe()} in "
                            f"{side.label} changed after {self.planned_when}, so the newer "
                            "value was kept (the next sync merges it).",
                        )
                    )
            if len(kept) == len(op.changes):
                continue
            if not kept:
                self.store.journal.mark_skipped(
                    self.run_id,
                    op.seq,
                    f"not applied: every field changed after {self.planned_when}, or "
                    "already holds its value",
                )
                self._drop(queue, op)
                continue
            narrowed = replace(
                op,
                changes=kept,
                field_reasons={f: r for f, r in op.field_reasons.items() if f in kept},
            )
            self.store.journal.narrow(self.run_id, narrowed)
            queue[queue.index(op)] = narrowed
            state = self.people.get(ref)
            if state is not None:
                state.ops = [narrowed if o is op else o for o in state.ops]

    def _revalidate_source(self, ref: PersonRef, side: Side, seen: ObservedPerson) -> None:
        """An approval copies what was reviewed from a record that still holds it: a field
        whose source changed since the plan (put back by hand, say) is not written over the
        other side; the next sync merges it (fourth review of the seed 1385 fix)."""
        queue = self.queues[ref]
        for op in list(queue):
            if op.side is not side.other or not _copies(op):
                continue
            kept: dict[FieldName, Change] = {}
            for name, (before, after) in op.changes.items():
                spec = FIELD_SPECS[name]
                copied = op.field_reasons.get(name) in (Reason.EDIT, Reason.CONFLICT_WINNER)
                if not copied or spec.same(getattr(seen.person, name.value), after):
                    kept[name] = (before, after)
                    continue
                self.stale.append(
                    Stale(
                        op.seq,
                        op.side,
                        ref,
                        name,
                        f"{spec.label} of {_person_name(seen) or ref.describe()} in "
                        f"{side.label} changed after {self.planned_when}, so it was not "
                        f"copied to {op.side.label} (the next sync merges it).",
                    )
                )
            if len(kept) == len(op.changes):
                continue
            if not kept:
                self.store.journal.mark_skipped(
                    self.run_id,
                    op.seq,
                    f"not applied: its source changed after {self.planned_when}",
                )
                self._drop(queue, op)
                continue
            narrowed = replace(
                op,
                changes=kept,
                field_reasons={f: r for f, r in op.field_reasons.items() if f in kept},
            )
            self.store.journal.narrow(self.run_id, narrowed)
            queue[queue.index(op)] = narrowed
            state = self.people.get(ref)
            if state is not None:
                state.ops = [narrowed if o is op else o for o in state.ops]

    def _drop(self, queue: deque[Operation], op: Operation, *, dependents: bool = False) -> None:
        queue.remove(op)
        self.failed.add(op.seq)
        self._done[op.seq].set()
        self.sync.progress.advance()  # settled: it will not come to the head of the queue
        if dependents:  # e.g. clearing the link id of a record that stays
            for other in list(queue):
                if op.seq in other.depends_on:
                    self.store.journal.mark_skipped(
                        self.run_id, other.seq, "the record it belonged to stays"
                    )
                    self._drop(queue, other, dependents=True)


class _OpGuard:
    """The write guard of one operation (:data:`pcosync.clients.http.write_guard`): before
    each of its writes is sent, and after any wait for the rate limit, the target side was
    read no longer than the re-check interval ago. Until its first write goes out the
    operation stays at the head of its person's queue, where a re-read may re-plan or
    narrow it; then the write is not sent (:class:`WriteSuperseded`). A first write refused
    unapplied (429, 503, no connection) puts it back there until it is tried again."""

    # a write that keeps finding its look stale by the time its rate slot comes (a tiny
    # interval on a busy limit) goes after this many looks rather than never
    MAX_LOOKS = 8

    def __init__(self, inflight: InFlight, op: Operation, queue: deque[Operation]) -> None:
        self.inflight = inflight
        self.op = op
        self.queue = queue
        self.committed = False
        self.looks = 0
        self.sent = 0  # writes sent (go() said yes) ...
        self.refused = 0  # ... of which certainly not applied (429, 503, no connection)

    def _check(self) -> None:
        if not self.committed and (not self.queue or self.queue[0] is not self.op):
            raise WriteSuperseded(f"operation {self.op.seq} was re-planned before it was sent")

    async def look(self) -> None:
        self.looks += 1
        await self.inflight.ensure_fresh(self.op.side)
        self._check()

    def go(self, *, waited: bool) -> bool:
        self._check()
        # stale without waiting for the slot: the read itself took longer than the interval,
        # and another look would be no fresher (Rock, or a tiny interval): send
        stale = waited and not self.inflight.fresh_enough(self.op.side)
        if stale and self.looks < self.MAX_LOOKS:
            return False
        self.sent += 1
        if not self.committed:
            self.committed = True
            if self.queue and self.queue[0] is self.op:
                self.queue.popleft()
        return True

    def not_applied(self) -> None:
        # refused unapplied and nothing else of it landed: re-plannable until retried
        self.refused += 1
        if self.committed and self.refused >= self.sent:
            self.committed = False
            if not self.queue or self.queue[0] is not self.op:
                self.queue.appendleft(self.op)


def _same_updates(old: Sequence[Operation], new: Sequence[Operation]) -> bool:
    if len(old) != len(new):
        return False
    return all(
        a.side is b.side and dict(a.changes) == dict(b.changes)
        for a, b in zip(old, new, strict=True)
    )


def _written(side: Side, record: RockPersonId | PcoPersonId) -> dict[str, Any]:
    """The journal's id of the record an operation wrote on ``side``."""
    if side is Side.ROCK:
        return {"rock_person_id": int(record)}
    return {"pco_person_id": str(record)}


def created_base(op: Operation, held: Person | None = None) -> Base:
    """The base of a create: the values sent, or those the created record ``held``."""
    assert op.record is not None
    person = op.record
    if held is not None:
        person = replace(
            person,
            **{
                f.value: getattr(held, f.value)
                for f in FieldName
                if not FIELD_SPECS[f].same(getattr(held, f.value), getattr(person, f.value))
            },
        )
    return Base(person, frozenset(f for f in FieldName if f not in op.changes))


def _person_name(seen: ObservedPerson | None) -> str:
    if seen is None:
        return ""
    p = seen.person
    return " ".join(x for x in (p.nickname or p.first_name, p.last_name) if x)


def _group_name(op: Operation) -> str:
    return op.group.label() if op.group is not None else "a group"


def retire_link(
    store: Store,
    link_id: int,
    side: Side,
    gone: object,
    *,
    merged_into: object | None = None,
) -> str:
    """A linked record that no longer exists ends its link (kept in the journal and the
    run's notes); the other record is then treated like anyone unlinked. Returns the note."""
    link = store.links.get(link_id)
    name = PeopleNames.from_store(store, [link_id]).by_link.get(link_id) if link else None
    if link is not None:
        store.links.remove(link_id)
    who = f" ({name})" if name else ""
    other = side.other
    other_id = None
    if link is not None:
        other_id = link.pco_person_id if side is Side.ROCK else link.rock_person_id
    if merged_into is not None:
        return (
            f"The {side.label} record {gone}{who} was merged into {merged_into}, which is "
            f"already linked to someone else; the link of {gone} was retired "
            f"(its {other.label} record {other_id} is reported as a likely duplicate)."
        )
    return (
        f"The {side.label} record {gone}{who} no longer exists (deleted, not merged); its link "
        f"to {other.label} record {other_id} was retired. If that person is still in scope, "
        f"the next sync matches or creates them in {side.label} again."
    )


__all__ = [
    "Applier",
    "InDoubt",
    "OnFresh",
    "PersonState",
    "Records",
    "Stale",
    "membership_key",
    "record_key",
    "retire_link",
    "safe",
]
