"""What a run that died left behind, settled by the next holder of the run lease.

Two things, both before anything is planned:

- **In-doubt writes** (journaled *sent*, never confirmed): re-read, then decide. A create is
  found again by the link id written on the new record (found → linked, never created
  twice); a leaver's inactivation or a revert's delete is checked on the record. Nothing
  is written here: what still has to be written (the source record's link id, an
  inactivation to finish) becomes an operation of the current run's plan, so a held run
  still writes nothing.
- **Unfinished runs** (still *running* or *approved*): their process is gone, since we hold
  the lease. Each becomes *interrupted*, with the counts its journal shows, and can be
  reverted like any applied run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pcosync.app.applier import created_base, safe
from pcosync.app.summary import RunSummary, summary_of_applied
from pcosync.domain.fields import FIELD_SPECS
from pcosync.domain.identity import PersonRef, Side
from pcosync.engine.merge import Reason
from pcosync.engine.plan import Operation, OpKind
from pcosync.engine.ports import ObservedPerson
from pcosync.errors import ApiError, ClientError
from pcosync.store import OpStatus
from pcosync.store.links import LinkConflict
from pcosync.store.runs import RunMode, RunStatus

if TYPE_CHECKING:
    from pcosync.app.people_sync import PeopleSync

log = logging.getLogger("pcosync.sync")


@dataclass
class Carried:
    """Operations the current run carries over from interrupted ones (seq assigned later)."""

    operations: list[Operation] = field(default_factory=list)


async def settle_in_doubt(sync: PeopleSync, summary: RunSummary) -> Carried:
    """Settle every operation journaled as sent but never confirmed (any earlier run)."""
    journal = sync.store.journal
    carried = Carried()
    for jop in journal.in_doubt():
        op = jop.operation
        if op.kind is OpKind.CREATE:
            source_side = op.side.other
            source_id = op.ref.id_on(source_side)
            writer = sync.rock if op.side is Side.ROCK else sync.pco
            found = await writer.find_by_link_hint(source_id)  # type: ignore[arg-type]
            if len(found) == 1:
                created = found[0]
                rock_id = int(created.id) if op.side is Side.ROCK else int(str(source_id))
                pco_id = str(created.id) if op.side is Side.PCO else str(source_id)
                try:
                    link = sync.store.links.add(
                        rock_id,
                        pco_id,
                        rock_alias_id=created.alias_id if op.side is Side.ROCK else None,
                    )
                except LinkConflict as exc:
                    journal.mark_failed(jop.run_id, jop.seq, str(exc))
                    continue
                journal.mark_applied(
                    jop.run_id,
                    jop.seq,
                    after=created.person,
                    link_id=link.id,
                    rock_person_id=rock_id,
                    pco_person_id=pco_id,
                )
                if op.record is not None:
                    # what the record holds: a create killed between its person and its
                    # contact writes holds less than was sent (sim seed 25 of the sim tier)
                    sync.store.links.save_base(link.id, created_base(op, created.person))
                summary.notes.append(
                    f"A create interrupted in run {jop.run_id} had happened; it is now "
                    "linked (no duplicate was made)."
                )
                # the source record learns its counterpart's id in this run's plan
                carried.operations.append(
                    Operation(
                        0,
                        OpKind.LINK,
                        source_side,
                        PersonRef(link.id, rock_id, pco_id),
                        Reason.NEW_LINK,
                    )
                )
                continue
            if len(found) > 1:
                message = (
                    f"{len(found)} {op.side.label} records carry the link id of "
                    f"{op.ref.describe()} (a create interrupted in run {jop.run_id}); "
                    "merge the duplicates, then run the sync again"
                )
                journal.mark_failed(jop.run_id, jop.seq, message)
                summary.notes.append(message)
                continue
            journal.mark_skipped(
                jop.run_id, jop.seq, "interrupted before it was made; planned again if needed"
            )
            continue
        if op.kind is OpKind.ARCHIVE and op.ref.pco_id is not None:
            # nothing later replans it (the removals it followed are done): carried over,
            # and checked against their assignments again when it is applied
            journal.mark_skipped(jop.run_id, jop.seq, "interrupted; carried over to the next run")
            carried.operations.append(
                Operation(0, OpKind.ARCHIVE, Side.PCO, op.ref, op.reason, before=op.before)
            )
            continue
        if op.kind is OpKind.DELETE and op.target_id is not None:
            writer = sync.rock if op.side is Side.ROCK else sync.pco
            try:
                still = await writer.fetch_one(op.target_id)
            except ClientError as exc:
                journal.mark_failed(jop.run_id, jop.seq, safe(exc))
                continue
            if still is None:
                journal.mark_applied(jop.run_id, jop.seq)
                if op.ref.link_id is not None and sync.store.links.get(op.ref.link_id):
                    sync.store.links.remove(op.ref.link_id)
            else:
                journal.mark_failed(
                    jop.run_id,
                    jop.seq,
                    "interrupted before the record was deleted; it stays (and stays linked)",
                )
            continue
        if op.kind is OpKind.UPDATE and op.target_id is not None and _of_a_revert(sync, jop.run_id):
            # a revert's write is no edit for a sync to copy across: whether it landed is
            # read here, and the interrupted revert's record says so (close_unfinished then
            # keeps the two sides apart on purpose, as a finished revert does: seed 8)
            writer = sync.rock if op.side is Side.ROCK else sync.pco
            try:
                now = await writer.fetch_one(op.target_id)
            except ClientError as exc:
                journal.mark_failed(jop.run_id, jop.seq, safe(exc))
                continue
            landed = now is not None and any(
                FIELD_SPECS[name].same(getattr(now.person, name.value), new)
                for name, (_old, new) in op.changes.items()
            )
            if landed:
                journal.mark_applied(jop.run_id, jop.seq)
            else:
                journal.mark_skipped(
                    jop.run_id, jop.seq, "interrupted before it was made; not reverted"
                )
            continue
        if op.kind is OpKind.UPDATE and op.target_id is not None and op.ref.link_id is not None:
            written = await _settle_update(sync, jop.run_id, op, jop.sent_at, summary)
            if written is not None:  # every value sent is there: the run's record says so
                journal.mark_applied(jop.run_id, jop.seq, after=written.person)
                continue
        journal.mark_skipped(
            jop.run_id, jop.seq, "interrupted before its answer; replanned by a later run"
        )
    return carried


# Planning Center keeps ``updated_at`` to the second, and the servers' clocks are not ours
_CLOCKS = timedelta(seconds=2)


async def _settle_update(
    sync: PeopleSync, run_id: int, op: Operation, sent_at: datetime | None, summary: RunSummary
) -> ObservedPerson | None:
    """An update sent without an answer: read the record. A field that holds the value sent
    is settled by the next plan (both sides agree). A field that does not may never have
    been written, or been written and then changed back by a person (simulation seed 622):
    when the record was modified after the write was sent, nothing tells the two apart, so
    the field is left *split* between the two values, and the next plan treats both sides as
    edited — a conflict decided by the later edit, its losing value recorded — instead of
    copying the value across again over what may be a person's edit. Returns the record
    when every value sent is there (the write landed)."""
    assert op.target_id is not None and op.ref.link_id is not None
    writer = sync.rock if op.side is Side.ROCK else sync.pco
    try:
        now = await writer.fetch_one(op.target_id)
    except ApiError:
        return None  # unreadable now: replanned as before (a later run reads it again)
    if now is None:
        return None
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=UTC)
    touched = now.modified_at is None or sent_at is None or now.modified_at >= sent_at - _CLOCKS
    unsure = [
        (name, old, new)
        for name, (old, new) in op.changes.items()
        if not FIELD_SPECS[name].same(getattr(now.person, name.value), new)
    ]
    if not unsure:
        return now
    if not touched or len(unsure) < len(op.changes):
        # untouched since: it never landed. Part of it there: the process died between its
        # requests, and the record's newer time may be our own write's; what was not sent
        # is planned again like any edit (a person's undo of one field of a write that
        # landed whole is the case this cannot see)
        return None
    link_id = op.ref.link_id
    base = sync.store.links.load_bases([link_id]).get(link_id)
    if base is None or sync.store.links.get(link_id) is None:
        return None
    split = {n: (r, p) for n, r, p in base.split}
    for name, old, new in unsure:
        # the side written counts as edited unless it holds the value sent, the other side
        # unless it holds the value the write replaced
        split[name] = (new, old) if op.side is Side.ROCK else (old, new)
    sync.store.links.save_base(
        link_id, replace(base, split=tuple((n, r, p) for n, (r, p) in split.items()))
    )
    fields = ", ".join(FIELD_SPECS[name].label for name, _old, _new in unsure)
    who = " ".join(
        x for x in (now.person.nickname or now.person.first_name, now.person.last_name) if x
    )
    summary.notes.append(
        f"A change to {who or op.ref.describe()} ({fields}) interrupted in run {run_id} may have "
        f"been made, and their {op.side.label} record was edited since: the next sync "
        "decides it as a conflict (the later edit wins; the other value is kept)."
    )
    return None


def _of_a_revert(sync: PeopleSync, run_id: int) -> bool:
    run = sync.store.runs.get(run_id)
    return run is not None and run.mode is RunMode.REVERT


def close_unfinished(sync: PeopleSync, current_run_id: int | None, summary: RunSummary) -> None:
    """Runs left *running* or *approved* by a process that died become *interrupted*,
    with the counts their journal shows (so they can be listed and reverted)."""
    store = sync.store
    for run in store.runs.unfinished():
        if run.id == current_run_id:
            continue
        applied = store.journal.operations(run.id, OpStatus.APPLIED)
        counts = summary_of_applied(run.id, RunStatus.INTERRUPTED, run.mode, applied).as_dict()
        counts["applied_operations"] = len(applied)
        counts["notes"] = [
            "This run stopped before it finished (its process was killed or its machine "
            f"went away); run {current_run_id} settled what it had sent."
        ]
        if run.mode is RunMode.REVERT:
            # what the revert had undone stays undone, and the next syncs leave it so
            from pcosync.app.revert import finish_revert

            ops = store.journal.operations(run.id)
            done = {j.seq for j in store.journal.list(run.id, OpStatus.APPLIED)}
            finish_revert(sync, run, ops, done, summary, complete=False)
        store.runs.transition(
            run.id,
            RunStatus.INTERRUPTED,
            counts={**dict(run.counts), **counts},
            error="interrupted: its process stopped before the run finished",
        )
        summary.notes.append(
            f"Run {run.id} had stopped before it finished; it is now marked interrupted "
            f"({len(applied)} change(s) it made are in its record and can be reverted)."
        )
        log.info("sync.run_interrupted run=%s applied=%s", run.id, len(applied))


__all__ = ["Carried", "close_unfinished", "settle_in_doubt"]
