"""One sync run: lease → settle → observe → plan → gate → apply → record (DESIGN §6).

The application layer's sequence of steps. The rules live in the pure engine (scope,
match, plan, gate); the one applier writes (:mod:`pcosync.app.applier`). The CLI, ``serve``
and the worker all call :func:`run_sync`.

Crash safety. Every write is journaled as *sent* before it goes out and *applied* after it
landed, and a link's base is stored right after its operations, so a run killed at any
instant leaves the journal saying exactly what may be in doubt. The next run (the next
holder of the run lease) settles those before it plans anything, so a retry can never
duplicate a person. Watermarks advance only after the changes they cover were applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pcosync.app.applier import (
    Applier,
    OnFresh,
    PersonState,
    Records,
    record_key,
    retire_link,
    safe,
)
from pcosync.app.inflight import InFlight
from pcosync.app.lease import RunLease
from pcosync.app.link_ids import write_owed
from pcosync.app.memberships import Rosters, membership_inputs
from pcosync.app.memory import release_free_memory
from pcosync.app.names import name_plan
from pcosync.app.observe import (
    Observation,
    follow_merges,
    follow_rock_merges_seen,
    observe,
    park_rejected,
)
from pcosync.app.recover import close_unfinished, settle_in_doubt
from pcosync.app.safety import for_population
from pcosync.app.summary import RunSummary, SyncOptions
from pcosync.app.unsynced import report_unsynced
from pcosync.domain.fields import FIELD_SPECS, FIELDS
from pcosync.domain.identity import GroupRef, PcoPersonId, PersonRef, Side
from pcosync.engine.gate import Decision, Population, gate
from pcosync.engine.match import IssueKind, MatchRecord, match_people
from pcosync.engine.merge import Base, Reason
from pcosync.engine.plan import (
    GROUP_KINDS,
    MEMBERSHIP_KINDS,
    HeldNote,
    OneSided,
    Operation,
    OpKind,
    PersonPair,
    SyncPlan,
    held_reading,
    plan_leavers,
    plan_memberships,
    plan_people,
    settle_base,
    unapplied_fields,
)
from pcosync.engine.ports import ObservedPerson
from pcosync.engine.scope import (
    adopt_mutual,
    creates_for,
    linked_pairs,
    matches_in_scope,
    pair_of,
)
from pcosync.store import Store
from pcosync.store.links import Link, LinkConflict, LinkStatus
from pcosync.store.runs import RunMode, RunStatus

if TYPE_CHECKING:
    from pcosync.app.people_sync import PeopleSync

log = logging.getLogger("pcosync.sync")

WM_PCO = "pco.people"
WM_ROCK = "rock.people"
OBSERVED_PCO = "observed.pco.people"
# how many people were synced (linked) when that full read was accepted: the drop guard
# tells a side still empty from one emptied since people were synced
OBSERVED_PCO_SYNCED = "observed.pco.synced"


@dataclass
class Planned:
    plan: SyncPlan
    fresh: dict[tuple[int, str], int | None]  # new pairs → their Rock alias id
    records: Records


async def run_sync(sync: PeopleSync, options: SyncOptions | None = None) -> RunSummary:
    """One run for one connection, under its run lease."""
    opts = options or SyncOptions()
    async with RunLease(
        sync.store,
        "sync",
        wait=opts.wait,
        on_wait=sync.progress.phase,
        sleep=sync.sleep,
    ) as lease:
        return await _run(sync, opts, lease)


async def _run(sync: PeopleSync, opts: SyncOptions, lease: RunLease) -> RunSummary:
    started = time.monotonic()
    store = sync.store
    pco_mark = store.watermarks.get_time(WM_PCO)
    rock_mark = store.watermarks.get_time(WM_ROCK)
    full = opts.full or pco_mark is None or rock_mark is None
    mode = RunMode.FULL if full else RunMode.INCREMENTAL
    run = store.runs.start(mode, dry_run=opts.dry_run, host=lease.host)
    lease.attach(run.id)
    summary = RunSummary(run.id, RunStatus.RUNNING, mode, opts.dry_run)
    try:
        await sync.rock.prepare()
        carried: list[Operation] = []
        if not opts.dry_run:
            carried = (await settle_in_doubt(sync, summary)).operations
            close_unfinished(sync, run.id, summary)
        # after settling (which may store bases): an approval of this run, if it is held,
        # tells people synced since from what this run itself settled
        observed_at = sync.clock()
        store.runs.set_observed(run.id, observed_at)
        sync.progress.phase("Reading Planning Center and Rock", unit="requests")
        pco_since = (pco_mark - sync.lookback) if pco_mark else None
        rock_since = (rock_mark - sync.lookback) if rock_mark else None
        obs = await observe(sync, full, pco_since, rock_since)
        park_rejected(sync, run.id, obs.rejected, summary)
        # several phones of one kind: the others are named once, never silently dropped
        summary.notes += report_unsynced(store, (sync.pco, sync.rock), record=not opts.dry_run)
        if not opts.dry_run:
            await follow_merges(sync, full, pco_since, obs, summary)
            if full:
                _resolve_merged_duplicates(sync, obs)
        rosters = await _read_rosters(sync, summary, dry_run=opts.dry_run)
        if not full:
            scope = rosters.rock_scope if rosters is not None else set()
            await follow_rock_merges_seen(sync, {*obs.rock, *scope}, obs)
        links = {lk.id: lk for lk in store.links.all(LinkStatus.ACTIVE)}
        release_free_memory()  # what the reads freed, before the matcher's peak (issue 14)
        sync.progress.phase("Matching and planning")
        # a dry run records its match issues too, so `people issues` agrees with its "Match
        # issues: N" (findings in our own store, nothing written to Rock or Planning Center)
        planned = await build_plan(
            sync, full, obs, links, summary, record=True, rosters=rosters, dry_run=opts.dry_run
        )
        plan = planned.plan
        if full:
            summary.observed_pco = len(obs.serving)
        _append(plan, carried)
        name_plan(store, plan, obs.rock, obs.pco)  # names for output, never for matching
        summary.planned = len(plan.operations)
        summary.conflicts = len(plan.conflicts)
        decision = gate_plan(sync, plan, links, obs, full)
        if opts.hold:
            decision.append(
                opts.hold_reason or "Held on request (--hold): review it, then approve or reject."
            )
        store.journal.record(run.id, plan.operations)
        store.journal.record_conflicts(run.id, plan.conflicts)
        if opts.dry_run or decision:
            for op in plan.operations:
                summary.count_operation(op)
            summary.linked = _planned_links(plan)
            summary.hold_reasons = decision
            summary.status = RunStatus.DONE if opts.dry_run else RunStatus.HELD
            if not opts.dry_run:  # what it read stays an edit if put back (seed 1385)
                store.links.set_held(_held_marks(store, plan, planned.records, run.id), run.id)
        else:
            sync.progress.phase("Writing changes", total=len(plan.operations))
            for side, key in obs.readable:  # read cleanly now (a failed write re-parks)
                store.parked.resolve(side, key)
            await apply_plan(sync, run.id, planned, summary, lease, observed_at)
            _resolve_moot(sync, obs.retried, plan)
            # people's data is through: link ids owed on Planning Center records get the
            # rate budget left over (never the next run's reads)
            ids = await write_owed(sync, lease=lease)
            summary.link_ids_written = ids.written
            summary.notes.extend(ids.notes)
            summary.status = (
                RunStatus.PARTIAL if summary.parked or summary.in_doubt else RunStatus.DONE
            )
            # changes up to `observed_at` are settled (applied, parked, or in the journal)
            store.watermarks.advance_time(WM_PCO, observed_at - timedelta(seconds=1))
            store.watermarks.advance_time(WM_ROCK, observed_at - timedelta(seconds=1))
            if full:
                store.watermarks.set(OBSERVED_PCO, str(len(obs.serving)))
                store.watermarks.set(OBSERVED_PCO_SYNCED, str(store.links.count()))
        summary.link_ids_pending = len(store.links.owed_pco_links())
        if summary.link_ids_pending and not opts.dry_run:
            summary.notes.append(
                f"{summary.link_ids_pending} link id(s) are still to be written on Planning "
                "Center records (remote_id); they go out with the rate budget left over, in "
                "the next runs. The links themselves are in place (see docs/operations.md)."
            )
        summary.requests.update(  # (``rechecks`` was counted while applying)
            pco=sync.pco.client.http.stats.requests,
            rock=sync.rock.client.http.stats.requests,
        )
        summary.seconds = time.monotonic() - started
        if summary.status is RunStatus.HELD:
            store.runs.hold(
                run.id, [{"message": m} for m in summary.hold_reasons], summary.as_dict()
            )
        else:
            store.runs.finish(run.id, summary.status, counts=summary.as_dict())
        return summary
    except BaseException as exc:
        summary.status = RunStatus.FAILED
        message = safe(exc)
        log.error("sync.run_failed run=%s error=%s", run.id, message)
        store.runs.finish(run.id, RunStatus.FAILED, error=message, counts=summary.as_dict())
        raise


def _held_marks(
    store: Store, plan: SyncPlan, records: Records, run_id: int
) -> dict[int, frozenset[HeldNote]]:
    """For every linked person a held plan planned, its base's notes with the fields this
    run read as changed on each side (seed 1385) added."""
    refs = {ref.link_id: ref for ref in plan.bases if ref.link_id is not None}
    for op in plan.operations:
        if op.kind is OpKind.UPDATE and op.ref.link_id is not None:
            refs.setdefault(op.ref.link_id, op.ref)
    out: dict[int, frozenset[HeldNote]] = {}
    for link_id, base in store.links.load_bases(refs).items():
        ref = refs[link_id]
        rock = records.current.get((Side.ROCK, ref.rock_id))
        pco = records.current.get((Side.PCO, ref.pco_id))
        out[link_id] = held_reading(
            base, rock.person if rock is not None else None, pco.person if pco else None, run_id
        )
    return out


def _append(plan: SyncPlan, carried: Iterable[Operation]) -> None:
    seq = plan.next_seq
    for op in carried:
        plan.operations.append(replace(op, seq=seq))
        seq += 1


def _planned_links(plan: SyncPlan) -> int:
    """New links the plan makes: every create, and every fresh match (its Rock link op)."""
    return sum(
        1
        for op in plan.operations
        if op.kind is OpKind.CREATE
        or (op.kind is OpKind.LINK and op.ref.link_id is None and op.side is Side.ROCK)
    )


def _resolve_merged_duplicates(sync: PeopleSync, obs: Observation) -> None:
    """A likely duplicate left by a merge is settled once one of the records is gone (the
    admin merged them) — seen on a full read."""
    for issue in sync.store.issues.list():
        if issue.kind is not IssueKind.MERGED_DUPLICATE:
            continue
        rock_gone = any(rid not in obs.rock for rid in issue.rock_ids)
        pco_gone = any(pid not in obs.pco for pid in issue.pco_ids)
        if rock_gone or pco_gone:
            sync.store.issues.resolve(issue.id)


def _resolve_moot(sync: PeopleSync, retried: Iterable[tuple[Side, str]], plan: SyncPlan) -> None:
    """Settle refused writes re-read this run whose person needs no write any more
    (someone made it by hand, or it is out of scope); a person with an operation
    is settled, or parked again, by that operation."""
    busy = {
        (side, record_key(record_id))
        for op in plan.operations
        for side in Side
        if (record_id := op.ref.id_on(side)) is not None
    }
    for side, key in retried:
        if (side, key) not in busy:
            sync.store.parked.resolve(side, key)


async def _read_rosters(sync: PeopleSync, summary: RunSummary, *, dry_run: bool) -> Rosters | None:
    """Both rosters of every linked team position (None without any group link)."""
    if sync.memberships is None or not sync.memberships.has_links():
        return None
    sync.progress.phase("Reading team rosters", unit="requests")
    rosters = await sync.memberships.read(dry_run=dry_run, sweep=sync.pco.sweep)
    summary.notes.extend(rosters.skipped)
    return rosters


# ---------------------------------------------------------------------------- plan


@dataclass
class _Unlinked:
    """What matching the unlinked people in scope produced."""

    pairs: list[PersonPair] = field(default_factory=list)
    fresh: dict[tuple[int, str], int | None] = field(default_factory=dict)
    creates: list[OneSided] = field(default_factory=list)


async def build_plan(
    sync: PeopleSync,
    full: bool,
    obs: Observation,
    links: Mapping[int, Link],
    summary: RunSummary,
    *,
    record: bool,
    rosters: Rosters | None = None,
    dry_run: bool = False,
) -> Planned:
    """Scope, match and plan (the engine decides; this gathers what it needs to read).
    ``record``: keep match issues in the store; ``dry_run``: change no link."""
    rock_scope = rosters.rock_scope if rosters is not None else set()
    records = Records()
    for o in [*obs.rock.values(), *obs.pco.values()]:
        records.add(o)
    pairs = await _linked(sync, obs, links, rock_scope, records)
    unlinked = await _match_unlinked(
        sync, full, obs, links, rock_scope, records, summary, record=record
    )
    plan = plan_people([*pairs, *unlinked.pairs], sync.policy, one_sided=unlinked.creates)
    if rosters is not None:
        _plan_groups(plan, rosters)
        if rosters.groups:
            await _plan_members(sync, plan, rosters, links, unlinked, summary, record=not dry_run)
    return Planned(plan, unlinked.fresh, records)


async def _linked(
    sync: PeopleSync,
    obs: Observation,
    links: Mapping[int, Link],
    rock_scope: set[int],
    records: Records,
) -> list[PersonPair]:
    """Linked pairs in scope with something new (engine.scope), reading what a pair
    without a base still lacks."""
    bases = sync.store.links.load_bases()
    scoped = linked_pairs(links.values(), bases, obs.rock, obs.pco, obs.serving, rock_scope)
    # a Planning Center link id already owed is not planned again (it is written with the
    # budget left over): a full read after a first sync plans no thousands of link ops
    owed = sync.store.links.owed_pco_link_ids()
    pairs = [
        replace(p, pco_link_ok=True) if p.link_id in owed and not p.pco_link_ok else p
        for p in scoped.pairs
    ]
    # a side a held run read changed (``Base.held``) may hold anything now: the base cannot
    # stand in for it (fourth review of the seed 1385 fix), so it is read
    for i, pair in enumerate(pairs):
        if pair.base is None or not pair.base.held or (pair.rock and pair.pco):
            continue
        r = None if pair.rock is not None else await sync.rock.fetch_one(pair.rock_id)
        p = None if pair.pco is not None else await sync.pco.fetch_one(pair.pco_id)
        for seen in (r, p):
            if seen is not None:
                records.add(seen)
        pairs[i] = replace(
            pair,
            rock=r.person if r is not None else pair.rock,
            rock_modified=r.modified_at if r is not None else pair.rock_modified,
            pco=p.person if p is not None else pair.pco,
            pco_modified=p.modified_at if p is not None else pair.pco_modified,
        )
    for link in scoped.incomplete:  # e.g. linked by hand: both records are needed
        r = obs.rock.get(link.rock_person_id) or await sync.rock.fetch_one(link.rock_person_id)
        p = obs.pco.get(link.pco_person_id) or await sync.pco.fetch_one(link.pco_person_id)
        if r is None or p is None:
            continue
        records.add(r)
        records.add(p)
        pairs.append(pair_of(link.id, link.rock_person_id, link.pco_person_id, None, r, p))
    return pairs


async def _match_unlinked(
    sync: PeopleSync,
    full: bool,
    obs: Observation,
    links: Mapping[int, Link],
    rock_scope: set[int],
    records: Records,
    summary: RunSummary,
    *,
    record: bool,
) -> _Unlinked:
    """Unlinked people in scope: adopt mutual link ids, match on evidence (issues for
    what cannot be decided), and create the rest on the other side."""
    store = sync.store
    by_rock = {lk.rock_person_id: lk for lk in links.values()}
    by_pco = {lk.pco_person_id: lk for lk in links.values()}
    out = _Unlinked()
    unlinked = [o for pid, o in obs.pco.items() if pid in obs.serving and pid not in by_pco]
    rock_unlinked = {
        rid for rid in rock_scope if rid not in by_rock and rid not in obs.merge_survivors
    }
    if not unlinked and not rock_unlinked:
        if record and full:
            store.issues.resolve_missing([])
        return out
    rock_pool = await _rock_pool(sync, full, obs, unlinked, rock_unlinked)
    rock_unlinked &= set(rock_pool)
    for o in rock_pool.values():
        records.add(o)
    excluded = store.links.exclusions()
    adoption = adopt_mutual(unlinked, rock_pool, set(by_rock), excluded)
    for r, o in adoption.pairs:
        out.fresh[(int(r.id), str(o.id))] = r.alias_id
        out.pairs.append(pair_of(None, int(r.id), str(o.id), None, r, o))
    claimed_rock = {k[0] for k in out.fresh}
    rock_records = [
        MatchRecord(
            Side.ROCK, rid, o.person, by_rock[rid].pco_person_id if rid in by_rock else None
        )
        for rid, o in rock_pool.items()
        if rid not in claimed_rock
    ]
    pco_records = [MatchRecord(Side.PCO, str(o.id), o.person) for o in adoption.remaining]
    # Planning Center people who may be the same as an unlinked Rock member (serving or
    # not): offered so a match links instead of creating a duplicate
    extra_pco = await _pco_candidates(sync, full, obs, rock_pool, rock_unlinked, adoption.remaining)
    for o in extra_pco.values():
        records.add(o)
    pco_records += [
        MatchRecord(Side.PCO, pid, o.person, lk.rock_person_id if lk else None)
        for pid, o in extra_pco.items()
        for lk in [by_pco.get(pid)]
    ]
    result = match_people(
        rock_records, pco_records, never_link=excluded, name_only=sync.name_only_issues
    )
    result.links, result.issues = matches_in_scope(
        result.links, result.issues, obs.serving, rock_unlinked
    )
    pco_seen = {**obs.pco, **extra_pco}
    for m in result.links:
        r, p = rock_pool[m.rock_id], pco_seen[m.pco_id]
        out.fresh[(m.rock_id, m.pco_id)] = r.alias_id
        out.pairs.append(pair_of(None, m.rock_id, m.pco_id, None, r, p))
    summary.match_issues += len(result.issues)
    if record:
        for issue in result.issues:
            store.issues.upsert(issue)
        if full:
            store.issues.resolve_missing([i.key for i in result.issues])
    out.creates, held_back = creates_for(
        result.unmatched,
        pco_seen,  # a serving candidate read for a Rock member may be unmatched (seed 1066)
        rock_pool,
        obs.serving,
        rock_unlinked,
        blocked=_blocked_by_issues(sync),
        suppressed=store.suppressions.all(),
    )
    if held_back:
        summary.notes.append(
            f"{len(held_back)} person(s) a revert took back are not created again until "
            "their record changes (see docs/operations.md, Undoing a run)."
        )
    return out


async def _rock_pool(
    sync: PeopleSync,
    full: bool,
    obs: Observation,
    unlinked: Sequence[ObservedPerson],
    rock_unlinked: set[int],
) -> dict[int, ObservedPerson]:
    """Rock records the unlinked people could match: everyone read on a full run, else
    those sharing a last name, plus the unlinked Rock members in scope."""
    if full:
        pool = dict(obs.rock)
    else:
        names = {o.person.last_name for o in unlinked if o.person.last_name}
        pool = {int(o.id): o for o in await sync.rock.candidates(names)} if names else {}
        pool.update(obs.rock)
    missing = sorted(rid for rid in rock_unlinked if rid not in pool)
    if missing:
        pool.update({int(o.id): o for o in await sync.rock.fetch_many(missing)})
    return pool


async def _plan_members(
    sync: PeopleSync,
    plan: SyncPlan,
    rosters: Rosters,
    links: Mapping[int, Link],
    unlinked: _Unlinked,
    summary: RunSummary,
    *,
    record: bool,
) -> None:
    """Team memberships (and, opted in, leavers), after the people they depend on."""
    creates = unlinked.creates
    inputs = membership_inputs(
        rosters,
        links.values(),
        sync.store.links.load_memberships(),
        fresh={r: p for r, p in unlinked.fresh},
        creating_rock={int(o.id) for o in creates if o.side is Side.ROCK},
        creating_pco={str(o.id) for o in creates if o.side is Side.PCO},
        splits=sync.store.links.load_membership_splits(),
    )
    members = plan_memberships(inputs, sync.policy, people_plan=plan)
    plan.extend(_after_reactivations(members, plan))
    await _keep_memberships_of_vanished(sync, plan, summary, record=record)
    if sync.inactivate_leavers and sync.pco.sweep is not None:
        held: dict[PcoPersonId, set[str]] = {}
        for team in sync.pco.sweep.teams:
            if not team.live:
                continue
            for a in team.assignments:
                if a.person_id and a.team_position_id:
                    held.setdefault(a.person_id, set()).add(a.team_position_id)
        plan.extend(plan_leavers(plan, held))


async def _keep_memberships_of_vanished(
    sync: PeopleSync, plan: SyncPlan, summary: RunSummary, *, record: bool
) -> None:
    """A person missing from one side's roster may be gone from that side altogether
    (deleted, or merged away): that is no reason to take them off the other side's team.
    Before a removal is copied across, the person is looked up where they went missing
    (Rock: one query for all; Planning Center: one request each, removals are few). Gone
    people's links are retired (merged ones follow the merge) and nothing of theirs is
    written this run."""
    removals = [op for op in plan.operations if op.kind is OpKind.REMOVE_MEMBER and op.ref.link_id]
    if not removals:
        return
    gone: set[PersonRef] = set()
    rock_ids = sorted({op.ref.rock_id for op in removals if op.side is Side.PCO and op.ref.rock_id})
    if rock_ids:
        rows = await sync.rock.client.query_any("People", "Id", rock_ids, select=["Id"])
        present = {int(r["Id"]) for r in rows}
        for op in removals:
            rid = op.ref.rock_id
            missing = op.side is Side.PCO and rid is not None and rid not in present
            if missing and await _vanished(sync, Side.ROCK, op.ref, summary, record=record):
                gone.add(op.ref)
    for op in removals:
        pid = op.ref.pco_id
        if op.side is not Side.ROCK or pid is None or op.ref in gone:
            continue
        if await sync.pco.fetch_one(pid) is None and await _vanished(
            sync, Side.PCO, op.ref, summary, record=record
        ):
            gone.add(op.ref)
    if gone:
        plan.operations = [op for op in plan.operations if op.ref not in gone]
        plan.membership_bases = {
            k: v for k, v in plan.membership_bases.items() if k.person not in gone
        }
        for ref in gone:
            plan.bases.pop(ref, None)


async def _vanished(
    sync: PeopleSync, side: Side, ref: PersonRef, summary: RunSummary, *, record: bool
) -> bool:
    """True when the person is gone from ``side`` (deleted, or merged into someone): the
    link is retired (or follows the merge) when the run records anything."""
    assert ref.link_id is not None
    link = sync.store.links.get(ref.link_id)
    if link is None:
        return True
    record_id = link.rock_person_id if side is Side.ROCK else link.pco_person_id
    alias = link.rock_alias_id if side is Side.ROCK else None
    survivor = await (sync.rock if side is Side.ROCK else sync.pco).resolve_merged(record_id, alias)
    if survivor is not None and str(survivor) == str(record_id):
        return False  # still there, only hidden (e.g. deceased in Rock): a real removal
    if not record:
        summary.notes.append(
            f"The {side.label} record {record_id} no longer exists; its link would be "
            "retired and its team memberships left alone."
        )
        return True
    if survivor is not None:
        try:
            if side is Side.ROCK:
                sync.store.links.repoint(link.id, rock_person_id=int(survivor))
            else:
                sync.store.links.repoint(link.id, pco_person_id=str(survivor))
            summary.notes.append(
                f"Link {link.id} followed a merge in {side.label} ({record_id} → {survivor})."
            )
            return True
        except LinkConflict:
            summary.notes.append(
                retire_link(sync.store, link.id, side, record_id, merged_into=survivor)
            )
            return True
    summary.notes.append(retire_link(sync.store, link.id, side, record_id))
    return True


def _blocked_by_issues(sync: PeopleSync) -> set[tuple[Side, object]]:
    """Records the run opened an issue about (a likely duplicate left by a merge): never
    copied to the other side while the issue is open."""
    out: set[tuple[Side, object]] = set()
    for issue in sync.store.issues.list():
        if issue.kind is IssueKind.MERGED_DUPLICATE:
            out.update((Side.ROCK, rid) for rid in issue.rock_ids)
            out.update((Side.PCO, pid) for pid in issue.pco_ids)
    return out


def _plan_groups(plan: SyncPlan, rosters: Rosters) -> None:
    """Rock groups to inactivate (team archived or deleted) or reactivate (team back)."""
    seq = plan.next_seq
    nobody = PersonRef(None, None, None)
    for change in rosters.changes:
        link = change.link
        kind = OpKind.REACTIVATE_GROUP if change.activate else OpKind.INACTIVATE_GROUP
        plan.operations.append(
            Operation(
                seq,
                kind,
                Side.ROCK,
                nobody,
                Reason.EDIT,
                group=GroupRef(link.id, link.rock_group_id, link.pco_id),
            )
        )
        seq += 1


def _after_reactivations(members: SyncPlan, plan: SyncPlan) -> SyncPlan:
    """Memberships of a group reactivated this run wait for its reactivation."""
    first = {
        op.group.group_link_id: op.seq
        for op in plan.operations
        if op.kind is OpKind.REACTIVATE_GROUP and op.group is not None
    }
    if not first:
        return members
    members.operations = [
        replace(op, depends_on=(*op.depends_on, first[op.group.group_link_id]))
        if op.group is not None and op.group.group_link_id in first
        else op
        for op in members.operations
    ]
    return members


async def _pco_candidates(
    sync: PeopleSync,
    full: bool,
    obs: Observation,
    rock_pool: Mapping[int, ObservedPerson],
    rock_unlinked: set[int],
    offered: Iterable[ObservedPerson],
) -> dict[str, ObservedPerson]:
    """PCO people sharing a last name with an unlinked Rock member, not offered yet."""
    if not rock_unlinked:
        return {}
    names = {
        rock_pool[rid].person.last_name for rid in rock_unlinked if rock_pool[rid].person.last_name
    }
    taken = {str(o.id) for o in offered}
    if full:
        folded = {n.casefold() for n in names if n}
        found = [
            o
            for o in obs.pco.values()
            if o.person.last_name and o.person.last_name.casefold() in folded
        ]
    else:
        found = await sync.pco.candidates(n for n in names if n)
    return {str(o.id): o for o in found if str(o.id) not in taken}


# ---------------------------------------------------------------------------- gate


def gate_plan(
    sync: PeopleSync, plan: SyncPlan, links: Mapping[int, Link], obs: Observation, full: bool
) -> list[str]:
    """Hold reasons for the plan (empty: go ahead)."""
    synced = len(links)
    members = len(sync.store.links.load_memberships())
    groups = sum(1 for g in sync.store.groups.all() if g.status.value == "active")
    population = {side: Population(synced, members) for side in (Side.ROCK, Side.PCO)}
    previous = sync.store.watermarks.get(OBSERVED_PCO)
    observed = {Side.PCO: len(obs.serving)} if full else None
    prev = {Side.PCO: int(previous)} if full and previous and previous.isdigit() else None
    then = sync.store.watermarks.get(OBSERVED_PCO_SYNCED)
    synced_then = {Side.PCO: int(then)} if prev and then and then.isdigit() else None
    # people, memberships and groups each against their own count; with none synced yet
    # (the first sync, the first teams) a positive percent cannot be measured: app.safety
    people_ops = [
        op
        for op in plan.operations
        if op.kind not in MEMBERSHIP_KINDS and op.kind not in GROUP_KINDS
    ]
    member_ops = [op for op in plan.operations if op.kind in MEMBERSHIP_KINDS]
    group_ops = [op for op in plan.operations if op.kind in GROUP_KINDS]
    config = sync.gate_config
    results = [
        gate(
            people_ops,
            population,
            for_population(config, synced),
            observed=observed,
            previous_observed=prev,
            synced_at_previous=synced_then,
        ),
        gate(member_ops, population, for_population(config, members)),
    ]
    if group_ops:
        group_population = {side: Population(groups, groups) for side in (Side.ROCK, Side.PCO)}
        results.append(gate(group_ops, group_population, for_population(config, groups)))
        stopping = sum(1 for op in group_ops if op.kind is OpKind.INACTIVATE_GROUP)
        drop = config.drop_percent
        if drop is not None and groups and stopping > 1 and stopping * 100 >= drop * groups:
            reasons = [
                f"{stopping} of {groups} linked Rock groups would be inactivated because "
                "their teams are no longer live in Planning Center (more than "
                f"{drop:g} %): check Planning Center, then approve or reject this run."
            ]
            return [
                r.message for res in results if res.decision is Decision.HOLD for r in res.reasons
            ] + reasons
    return [r.message for res in results if res.decision is Decision.HOLD for r in res.reasons]


# ---------------------------------------------------------------------------- apply


async def apply_plan(
    sync: PeopleSync,
    run_id: int,
    planned: Planned,
    summary: RunSummary,
    lease: RunLease,
    observed_at: datetime,
) -> None:
    """Apply a run's plan (journaled already), re-planning people edited meanwhile, and
    store each person's base once their operations are through."""
    store = sync.store
    plan = planned.plan
    old_bases = store.links.load_bases([r.link_id for r in plan.bases if r.link_id])
    people: dict[PersonRef, PersonState] = {}
    for op in plan.operations:
        people.setdefault(op.ref, PersonState([])).ops.append(op)
    for ref, state in people.items():
        state.base_now = old_bases.get(ref.link_id) if ref.link_id is not None else None
        state.planned = plan.bases.get(ref)

    applier: Applier
    retired: set[int] = set()

    def settle(ref: PersonRef) -> None:
        state = applier.people.get(ref)
        link_id = ref.link_id or applier.link_of.get(ref)
        if state is None or state.planned is None or link_id is None:
            return
        if link_id in retired or store.links.get(link_id) is None:
            retired.add(link_id)  # its record was gone: the link was retired meanwhile
            return
        unapplied = unapplied_fields(state.ops, applier.applied)
        base = settle_base(state.base_now, state.planned, unapplied)
        store.links.save_base(link_id, _as_created(applier, state.ops, link_id, base))

    inflight = InFlight(
        {Side.ROCK: sync.rock.fetch_recent, Side.PCO: sync.pco.fetch_recent},
        lambda _side, _records: None,
        since={Side.ROCK: observed_at, Side.PCO: observed_at},
        clock=sync.clock,
        interval=sync.recheck,
    )
    applier = Applier(
        sync,
        run_id,
        summary,
        lease=lease,
        inflight=inflight,
        on_fresh=OnFresh.REPLAN,
        records=planned.records,
        fresh_aliases=planned.fresh,
        people=people,
        after_person=settle,
    )
    await applier.run(plan.operations)
    # bases of pairs that needed no operation (both sides already agreed)
    for ref, base in plan.bases.items():
        if ref not in people:
            link_id = ref.link_id
            if link_id is not None:
                store.links.save_base(link_id, settle_base(old_bases.get(link_id), base))
    live = {lk.id for lk in store.links.all()}
    _settle_memberships(sync, plan, applier.applied, applier.link_of, live)
    summary.requests["rechecks"] = sum(inflight.reads.values())


def _as_created(applier: Applier, ops: Sequence[Operation], link_id: int, base: Base) -> Base:
    """A created record may not hold every value sent (a contact write refused, a value the
    other system stores differently): its base is what it holds as re-read, so the next run
    writes the source's value to it again, never the created record's gap back over the
    source (simulation seed 123 of the test tier: a phone number lost that way)."""
    create = next(
        (op for op in ops if op.kind is OpKind.CREATE and op.seq in applier.applied), None
    )
    link = applier.store.links.get(link_id) if create is not None else None
    if create is None or link is None:
        return base
    made = link.rock_person_id if create.side is Side.ROCK else link.pco_person_id
    seen = applier.records.current.get((create.side, made))
    if seen is None:
        return base
    values = {}
    for name in FIELDS:
        if not base.knows(name):
            continue
        held = getattr(seen.person, name.value)
        if not FIELD_SPECS[name].same(held, getattr(base.person, name.value)):
            values[name.value] = held
    return replace(base, person=replace(base.person, **values)) if values else base


def _settle_memberships(
    sync: PeopleSync,
    plan: SyncPlan,
    applied: set[int],
    link_of: Mapping[PersonRef, int],
    live: set[int],
) -> None:
    """Store membership bases whose write (if any) went through; a failed one keeps its
    old base, so the next run tries again."""
    if not plan.membership_bases:
        return
    from pcosync.domain.membership import MembershipKey

    seq_of = {
        MembershipKey(op.ref, op.group): op.seq
        for op in plan.operations
        if op.kind in MEMBERSHIP_KINDS and op.group is not None
    }
    out: dict[tuple[int, int], bool | str] = {}
    for key, value in plan.membership_bases.items():
        seq = seq_of.get(key)
        if seq is not None and seq not in applied:
            continue
        link_id = key.person.link_id or link_of.get(key.person)
        if link_id is None or link_id not in live or key.group.group_link_id is None:
            continue
        out[(link_id, key.group.group_link_id)] = value
    sync.store.links.save_memberships(out)


__all__ = ["Planned", "apply_plan", "build_plan", "gate_plan", "run_sync"]
