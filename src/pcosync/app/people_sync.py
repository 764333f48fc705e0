"""One people-sync run: observe → match → plan → gate → apply → record (DESIGN §6).

This is the application layer: it wires the two side adapters, the pure engine and the state
store. The engine decides; this module only reads, journals and writes.

Crash safety. Every write is journaled as *sent* before it goes out and *applied* after it
landed, and a link's base is stored right after its operations, so a run killed at any
instant leaves the journal saying exactly what may be in doubt. The next run starts by
settling those in-doubt operations (a lost create is found again by the link id written on
the new record) before it plans anything, so a retry can never duplicate a person.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pcosync.adapters.common import RejectedRecord
from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople
from pcosync.app.memberships import MembershipSync, Rosters, membership_inputs
from pcosync.app.names import link_owner, name_plan
from pcosync.app.progress import NO_PROGRESS, Progress
from pcosync.app.safety import for_population
from pcosync.domain.fields import FieldName, FieldValue
from pcosync.domain.identity import PcoPersonId, PersonRef, RockPersonId, Side
from pcosync.domain.membership import MembershipKey
from pcosync.domain.policy import DEFAULT_POLICY, SyncPolicy
from pcosync.engine.gate import Decision, GateConfig, Population, Threshold, gate
from pcosync.engine.match import MatchRecord, match_people
from pcosync.engine.plan import (
    MEMBERSHIP_KINDS,
    OneSided,
    Operation,
    OpKind,
    PersonPair,
    SyncPlan,
    plan_leavers,
    plan_memberships,
    plan_people,
    settle_base,
    unapplied_fields,
)
from pcosync.engine.ports import ObservedPerson
from pcosync.errors import (
    AmbiguousWriteError,
    ApiError,
    ClientError,
    NotFoundError,
    PcoSyncError,
    RetriesExhausted,
    SyncDataError,
    TransportError,
)
from pcosync.store import Store
from pcosync.store.journal import JournaledOp, OpStatus
from pcosync.store.links import Link, LinkConflict, LinkStatus
from pcosync.store.runs import RunMode, RunStatus

log = logging.getLogger("pcosync.sync")

WM_PCO = "pco.people"
WM_ROCK = "rock.people"
OBSERVED_PCO = "observed.pco.people"
SERVICES_ARCHIVED = "pco.services_archived"
SERVICES_MARK = "pco.services_people"

NO_THRESHOLDS = GateConfig(
    create=Threshold(None, None), update=Threshold(None, None), remove=Threshold(None, None)
)


class InDoubt(PcoSyncError):
    """A create was sent, its answer lost, and a re-read does not show it (yet)."""


@dataclass
class RunSummary:
    run_id: int
    status: RunStatus
    mode: RunMode
    dry_run: bool
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    members_added: Counter[str] = field(default_factory=Counter)
    members_removed: Counter[str] = field(default_factory=Counter)
    inactivated: Counter[str] = field(default_factory=Counter)  # opt-in: left every team
    linked: int = 0
    conflicts: int = 0
    parked: int = 0
    match_issues: int = 0
    in_doubt: int = 0
    hold_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    planned: int = 0

    @property
    def exit_code(self) -> int:
        if self.status is RunStatus.HELD:
            return 4
        if self.status is RunStatus.FAILED:
            return 1
        if self.status is RunStatus.PARTIAL:
            return 3
        return 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "mode": self.mode.value,
            "dry_run": self.dry_run,
            "created": {"rock": self.created["rock"], "pco": self.created["pco"]},
            "updated": {"rock": self.updated["rock"], "pco": self.updated["pco"]},
            "memberships": {
                "added": {"rock": self.members_added["rock"], "pco": self.members_added["pco"]},
                "removed": {
                    "rock": self.members_removed["rock"],
                    "pco": self.members_removed["pco"],
                },
            },
            "inactivated": {"pco": self.inactivated["pco"]},
            "linked": self.linked,
            "conflicts": self.conflicts,
            "parked": self.parked,
            "match_issues": self.match_issues,
            "in_doubt": self.in_doubt,
            "planned_operations": self.planned,
            "hold_reasons": self.hold_reasons,
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
        }


@dataclass
class SyncOptions:
    full: bool = False
    dry_run: bool = False
    hold: bool = False
    hold_reason: str | None = None  # issue 15: why it is held, when not --hold


@dataclass
class _Observation:
    rock: dict[RockPersonId, ObservedPerson]
    pco: dict[PcoPersonId, ObservedPerson]
    serving: set[PcoPersonId]
    rejected: list[RejectedRecord]
    # parked person records this run re-read: (side, record key) of the unreadable ones
    # read cleanly now, and of the ones whose write was refused
    readable: list[tuple[Side, str]] = field(default_factory=list)
    retried: list[tuple[Side, str]] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _record_key(side: Side, record_id: object) -> str:
    return f"person:{record_id}"


class PeopleSync:
    """Runs people syncs for one connection."""

    def __init__(
        self,
        store: Store,
        rock: RockPeople,
        pco: PcoPeople,
        *,
        policy: SyncPolicy = DEFAULT_POLICY,
        gate_config: GateConfig = NO_THRESHOLDS,
        lookback: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = _utcnow,
        progress: Progress | None = None,
        concurrency: int = 8,
        memberships: MembershipSync | None = None,
        inactivate_leavers: bool = False,
    ) -> None:
        self.concurrency = concurrency
        self.inactivate_leavers = inactivate_leavers
        self.memberships = memberships
        self.store = store
        self.rock = rock
        self.pco = pco
        self.policy = policy
        self.gate_config = gate_config
        self.lookback = lookback
        self.clock = clock
        self.progress = progress or NO_PROGRESS  # issue 15: structured progress events

    def _side(self, side: Side) -> RockPeople | PcoPeople:
        return self.rock if side is Side.ROCK else self.pco

    # ------------------------------------------------------------------ the run

    async def run(self, options: SyncOptions | None = None) -> RunSummary:
        opts = options or SyncOptions()
        started = time.monotonic()
        store = self.store
        pco_mark = store.watermarks.get_time(WM_PCO)
        rock_mark = store.watermarks.get_time(WM_ROCK)
        full = opts.full or pco_mark is None or rock_mark is None
        mode = RunMode.FULL if full else RunMode.INCREMENTAL
        run = store.runs.start(mode, dry_run=opts.dry_run)
        summary = RunSummary(run.id, RunStatus.RUNNING, mode, opts.dry_run)
        observed_at = self.clock()
        try:
            await self.rock.prepare()
            if not opts.dry_run:
                await self._settle_in_doubt(summary)
            self.progress.phase("Reading Planning Center and Rock", unit="requests")
            obs = await self._observe(full, pco_mark, rock_mark)
            self._park_rejected(run.id, obs.rejected, summary)
            if not opts.dry_run:
                await self._follow_merges(full, pco_mark, obs, summary)
            rosters = await self._read_rosters(summary, dry_run=opts.dry_run)
            links = {lk.id: lk for lk in store.links.all(LinkStatus.ACTIVE)}
            self.progress.phase("Matching and planning")
            # issue 15: a dry run records its match issues too, so `people issues` agrees
            # with its "Match issues: N" (findings in our own store, not writes)
            plan, fresh = await self._plan(full, obs, links, summary, record=True, rosters=rosters)
            name_plan(store, plan, obs.rock, obs.pco)  # issue 15: names for output
            summary.planned = len(plan.operations)
            summary.conflicts = len(plan.conflicts)
            decision = self._gate(plan, links, obs, full)
            if opts.hold:
                decision.append(
                    opts.hold_reason
                    or "Held on request (--hold): review it, then approve or reject."
                )
            if opts.dry_run:
                store.journal.record(run.id, plan.operations)
                store.journal.record_conflicts(run.id, plan.conflicts)
                self._count_planned(plan, summary)
                summary.hold_reasons = decision
                summary.status = RunStatus.DONE
            elif decision:
                store.journal.record(run.id, plan.operations)
                store.journal.record_conflicts(run.id, plan.conflicts)
                self._count_planned(plan, summary)
                summary.hold_reasons = decision
                summary.status = RunStatus.HELD
            else:
                self.progress.phase("Writing changes", total=len(plan.operations))
                for side, key in obs.readable:  # read cleanly now (a failed write re-parks)
                    store.parked.resolve(side, key)
                await self._apply(run.id, plan, fresh, summary)
                self._resolve_moot(obs.retried, plan)
                summary.status = (
                    RunStatus.PARTIAL if summary.parked or summary.in_doubt else RunStatus.DONE
                )
                # changes up to `observed_at` are settled (applied, parked, or in the journal)
                store.watermarks.advance_time(WM_PCO, observed_at - timedelta(seconds=1))
                store.watermarks.advance_time(WM_ROCK, observed_at - timedelta(seconds=1))
                if full:
                    store.watermarks.set(OBSERVED_PCO, str(len(obs.serving)))
            summary.requests = {
                "pco": self.pco.client.http.stats.requests,
                "rock": self.rock.client.http.stats.requests,
            }
            summary.seconds = time.monotonic() - started
            if summary.status is not RunStatus.HELD:
                store.runs.finish(run.id, summary.status, counts=summary.as_dict())
            else:
                store.runs.hold(
                    run.id, [{"message": m} for m in summary.hold_reasons], summary.as_dict()
                )
            return summary
        except BaseException as exc:
            summary.status = RunStatus.FAILED
            message = _safe(exc)
            log.error("sync.run_failed run=%s error=%s", run.id, message)
            store.runs.finish(run.id, RunStatus.FAILED, error=message, counts=summary.as_dict())
            raise

    # ------------------------------------------------------------------ observe

    async def _observe(
        self, full: bool, pco_mark: datetime | None, rock_mark: datetime | None
    ) -> _Observation:
        pco_since = (pco_mark - self.lookback) if pco_mark else None
        rock_since = (rock_mark - self.lookback) if rock_mark else None
        # who is archived in Services is remembered between runs, so an incremental run
        # reads only the Services people changed since (spec §5.5: no where[updated_at])
        marks = self.store.watermarks
        if self.pco.services_archived is None and not full:
            saved = marks.get(SERVICES_ARCHIVED)
            if saved is not None:
                self.pco.services_archived = set(json.loads(saved))
                self.pco.services_mark = marks.get_time(SERVICES_MARK)
        serving = await self.pco.serving_ids(full=full, since=pco_since)
        if self.pco.services_archived is not None:
            marks.set(SERVICES_ARCHIVED, json.dumps(sorted(self.pco.services_archived)))
        if self.pco.services_mark is not None:
            marks.advance_time(SERVICES_MARK, self.pco.services_mark)
        if full or pco_since is None or rock_since is None:
            pco = {str(o.id): o async for o in self.pco.fetch_all()}
            rock = {int(o.id): o async for o in self.rock.fetch_all()}
        else:
            pco = {str(o.id): o async for o in self.pco.fetch_changed(pco_since)}
            rock = {int(o.id): o async for o in self.rock.fetch_changed(rock_since)}
        links = self.store.links.all(LinkStatus.ACTIVE)
        linked_pco = {lk.pco_person_id for lk in links}
        # serving people we have never seen (newly assigned, unchanged record)
        # (people in an open match issue wait for a change or a full run, and parked people
        # for their retry time: re-reading them every run costs a request each)
        waiting = {pid for i in self.store.issues.list() for pid in i.pco_ids}
        waiting |= {
            p.record_key.partition(":")[2]
            for p in self.store.parked.list()
            if str(p.side) == Side.PCO.value and p.record_key.startswith("person:")
        }
        unseen = sorted(
            pid
            for pid in serving
            if pid not in pco and pid not in linked_pco and pid not in waiting
        )
        if unseen:
            for o in await self.pco.fetch_many(unseen):
                pco[str(o.id)] = o
        # records parked earlier are re-read every run until they go through; a linked one
        # with its counterpart too, whose edit (by now older than the look-back) is what a
        # refused write was copying: read alone, the pair would look unchanged
        by_rock = {lk.rock_person_id: lk for lk in links}
        by_pco = {lk.pco_person_id: lk for lk in links}
        retried: list[tuple[Side, str]] = []
        for rec in self.store.parked.due(self.clock()):
            kind, _, raw_id = rec.record_key.partition(":")
            if kind != "person" or not raw_id:
                continue
            rock_id: RockPersonId | None = None
            pco_id: PcoPersonId | None = None
            if rec.side == Side.PCO.value:
                pco_id = raw_id
                link = by_pco.get(raw_id)
                rock_id = link.rock_person_id if link is not None else None
            elif raw_id.isdigit():
                rock_id = int(raw_id)
                link = by_rock.get(rock_id)
                pco_id = link.pco_person_id if link is not None else None
            if pco_id is not None and pco_id not in pco:
                found = await self.pco.fetch_one(pco_id)
                if found is not None:
                    pco[pco_id] = found
            if rock_id is not None and rock_id not in rock:
                found = await self.rock.fetch_one(rock_id)
                if found is not None:
                    rock[rock_id] = found
            if (rec.payload or {}).get("op"):
                retried.append((Side(rec.side), rec.record_key))
        rejected = [*self.pco.rejected, *self.rock.rejected]
        self.pco.rejected.clear()
        self.rock.rejected.clear()
        # a record parked because it could not be read, and read cleanly now, is settled
        # (once the run applies: a dry or held run leaves it parked, so it is read again)
        open_parked = {
            (p.side, p.record_key)
            for p in self.store.parked.list()
            if (p.payload or {}).get("field")
        }
        readable = [
            (side, _record_key(side, rid))
            for side, seen in ((Side.PCO, pco), (Side.ROCK, rock))
            for rid in seen
            if (side.value, _record_key(side, rid)) in open_parked
        ]
        return _Observation(rock, pco, serving, rejected, readable, retried)

    def _resolve_moot(self, retried: Iterable[tuple[Side, str]], plan: SyncPlan) -> None:
        """Settle refused writes re-read this run whose person needs no write any more
        (someone made it by hand, or it is out of scope); a person with an operation
        is settled, or parked again, by that operation."""
        busy = {
            (side, _record_key(side, record_id))
            for op in plan.operations
            for side in Side
            if (record_id := op.ref.id_on(side)) is not None
        }
        for side, key in retried:
            if (side, key) not in busy:
                self.store.parked.resolve(side, key)

    def _park_rejected(
        self, run_id: int, rejected: Iterable[RejectedRecord], summary: RunSummary
    ) -> None:
        for rec in rejected:
            self.store.parked.park(
                rec.side,
                _record_key(rec.side, rec.record_id),
                rec.message,
                {"field": rec.field},
                run_id=run_id,
            )
            summary.parked += 1

    # ------------------------------------------------------------------ merges

    async def _follow_merges(
        self, full: bool, pco_mark: datetime | None, obs: _Observation, summary: RunSummary
    ) -> None:
        """Move links to the survivor when either side merged a linked person."""
        links = self.store.links
        since = None if full or pco_mark is None else pco_mark - self.lookback
        for merger in await self.pco.mergers_since(since):
            link = links.by_pco(merger.person_to_remove_id)
            if link is None:
                continue
            self._repoint(link, pco_id=merger.person_to_keep_id, summary=summary)
        if full:
            # a linked Rock person missing from a full read was merged (or deleted)
            for link in links.all(LinkStatus.ACTIVE):
                if link.rock_person_id in obs.rock:
                    continue
                survivor = await self.rock.resolve_merged(link.rock_person_id, link.rock_alias_id)
                if survivor is not None and survivor != link.rock_person_id:
                    self._repoint(link, rock_id=int(survivor), summary=summary)
                elif survivor is None:
                    self.store.links.set_status(link.id, LinkStatus.ORPHANED)
                    summary.notes.append(  # issue 15: whose link, by name
                        f"Rock person {link.rock_person_id} no longer exists (deleted, not "
                        f"merged); {link_owner(self.store, link.id)} is no longer synced."
                    )

    def _repoint(
        self,
        link: Link,
        *,
        summary: RunSummary,
        pco_id: str | None = None,
        rock_id: int | None = None,
    ) -> None:
        try:
            self.store.links.repoint(link.id, pco_person_id=pco_id, rock_person_id=rock_id)
            summary.notes.append(  # issue 15: whose link, by name
                f"The link of {link_owner(self.store, link.id)} followed a merge in "
                f"{'Planning Center' if pco_id else 'Rock'}."
            )
        except LinkConflict as exc:
            # both duplicates were synced: the survivor already has a link of its own
            self.store.links.set_status(link.id, LinkStatus.ORPHANED)
            summary.notes.append(str(exc))

    # ------------------------------------------------------------------ memberships

    async def _read_rosters(self, summary: RunSummary, *, dry_run: bool) -> Rosters | None:
        """Both rosters of every linked team position (None without any group link)."""
        if self.memberships is None or not self.memberships.has_links():
            return None
        self.progress.phase("Reading team rosters", unit="requests")
        rosters = await self.memberships.read(dry_run=dry_run, sweep=self.pco.sweep)
        summary.notes.extend(rosters.skipped)
        return rosters

    # ------------------------------------------------------------------ plan

    async def _plan(
        self,
        full: bool,
        obs: _Observation,
        links: Mapping[int, Link],
        summary: RunSummary,
        *,
        record: bool,
        rosters: Rosters | None = None,
    ) -> tuple[SyncPlan, dict[tuple[int, str], int | None]]:
        by_rock = {lk.rock_person_id: lk for lk in links.values()}
        by_pco = {lk.pco_person_id: lk for lk in links.values()}
        bases = self.store.links.load_bases()
        pairs: list[PersonPair] = []
        # Rock people in scope through an active membership of a linked position (DESIGN §4)
        rock_scope = rosters.rock_scope if rosters is not None else set()

        # links in scope with something new on either side
        for link in links.values():
            if link.pco_person_id not in obs.serving and link.rock_person_id not in rock_scope:
                continue  # out of scope: never written (DESIGN §4)
            r = obs.rock.get(link.rock_person_id)
            p = obs.pco.get(link.pco_person_id)
            base = bases.get(link.id)
            if r is None and p is None and base is not None:
                continue
            if base is None:  # e.g. linked by hand: both records are needed
                r = r or await self.rock.fetch_one(link.rock_person_id)
                p = p or await self.pco.fetch_one(link.pco_person_id)
                if r is None or p is None:
                    continue
            pairs.append(self._pair(link.id, link.rock_person_id, link.pco_person_id, base, r, p))

        # unlinked people in scope: adopt mutual link ids, then match on evidence
        unlinked = [o for pid, o in obs.pco.items() if pid in obs.serving and pid not in by_pco]
        fresh: dict[tuple[int, str], int | None] = {}
        one_sided: list[OneSided] = []
        rock_unlinked = {rid for rid in rock_scope if rid not in by_rock}
        if unlinked or rock_unlinked:
            if full:
                rock_pool = dict(obs.rock)
            else:
                names = {o.person.last_name for o in unlinked if o.person.last_name}
                rock_pool = (
                    {int(o.id): o for o in await self.rock.candidates(names)} if names else {}
                )
                rock_pool.update(obs.rock)
            missing = sorted(rid for rid in rock_unlinked if rid not in rock_pool)
            if missing:
                rock_pool.update({int(o.id): o for o in await self.rock.fetch_many(missing)})
            rock_unlinked &= set(rock_pool)
            still: list[ObservedPerson] = []
            excluded = self.store.links.exclusions()
            for o in unlinked:
                hint = o.link_hint
                r = rock_pool.get(int(hint)) if isinstance(hint, int) else None
                if (
                    r is not None
                    and r.link_hint == o.id
                    and int(r.id) not in by_rock
                    and (int(r.id), str(o.id)) not in excluded
                ):
                    fresh[(int(r.id), str(o.id))] = r.alias_id
                    pairs.append(self._pair(None, int(r.id), str(o.id), None, r, o))
                else:
                    still.append(o)
            claimed_rock = {k[0] for k in fresh}
            rock_records = [
                MatchRecord(
                    Side.ROCK, rid, o.person, by_rock[rid].pco_person_id if rid in by_rock else None
                )
                for rid, o in rock_pool.items()
                if rid not in claimed_rock
            ]
            pco_records = [MatchRecord(Side.PCO, str(o.id), o.person) for o in still]
            # Planning Center people who may be the same as an unlinked Rock member (serving
            # or not): offered so a match links instead of creating a duplicate
            extra_pco = await self._pco_candidates(full, obs, rock_pool, rock_unlinked, still)
            pco_records += [
                MatchRecord(
                    Side.PCO,
                    pid,
                    o.person,
                    by_pco[pid].rock_person_id if pid in by_pco else None,
                )
                for pid, o in extra_pco.items()
            ]

            def in_scope(rock_id: int | None, pco_id: str | None) -> bool:
                return (pco_id is not None and pco_id in obs.serving) or rock_id in rock_unlinked

            result = match_people(
                rock_records, pco_records, never_link=self.store.links.exclusions()
            )
            result.links = [m for m in result.links if in_scope(m.rock_id, m.pco_id)]
            result.issues = [
                i
                for i in result.issues
                if any(in_scope(r, None) for r in i.rock_ids)
                or any(in_scope(None, p) for p in i.pco_ids)
            ]
            pco_seen = {**obs.pco, **extra_pco}
            for m in result.links:
                r, p = rock_pool[m.rock_id], pco_seen[m.pco_id]
                fresh[(m.rock_id, m.pco_id)] = r.alias_id
                pairs.append(self._pair(None, m.rock_id, m.pco_id, None, r, p))
            seen_keys = []
            for issue in result.issues:
                summary.match_issues += 1
                seen_keys.append(issue.key)
                if record:
                    self.store.issues.upsert(issue)
            for rec in result.unmatched:
                if rec.side is Side.PCO and str(rec.id) in obs.serving:
                    o = obs.pco[str(rec.id)]
                    one_sided.append(OneSided(Side.PCO, str(o.id), o.person, o.modified_at))
                elif rec.side is Side.ROCK and rec.id in rock_unlinked:
                    r = rock_pool[int(rec.id)]
                    one_sided.append(OneSided(Side.ROCK, int(r.id), r.person, r.modified_at))
            if record and full:
                self.store.issues.resolve_missing(seen_keys)
        elif record and full:
            self.store.issues.resolve_missing([])

        plan = plan_people(pairs, self.policy, one_sided=one_sided)
        if rosters is not None and rosters.groups:
            inputs = membership_inputs(
                rosters,
                links.values(),
                self.store.links.load_memberships(),
                fresh={r: p for r, p in fresh},
                creating_rock={
                    int(o.id) for o in one_sided if o.side is Side.ROCK and isinstance(o.id, int)
                },
                creating_pco={str(o.id) for o in one_sided if o.side is Side.PCO},
            )
            plan.extend(plan_memberships(inputs, self.policy, people_plan=plan))
            if self.inactivate_leavers and self.pco.sweep is not None:
                held: dict[PcoPersonId, set[str]] = {}
                for team in self.pco.sweep.teams:
                    if team.live:
                        for a in team.assignments:
                            if a.person_id and a.team_position_id:
                                held.setdefault(a.person_id, set()).add(a.team_position_id)
                plan.extend(plan_leavers(plan, held))
        return plan, fresh

    async def _pco_candidates(
        self,
        full: bool,
        obs: _Observation,
        rock_pool: Mapping[int, ObservedPerson],
        rock_unlinked: set[int],
        offered: Iterable[ObservedPerson],
    ) -> dict[str, ObservedPerson]:
        """PCO people sharing a last name with an unlinked Rock member, not offered yet."""
        if not rock_unlinked:
            return {}
        names = {
            rock_pool[rid].person.last_name
            for rid in rock_unlinked
            if rock_pool[rid].person.last_name
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
            found = await self.pco.candidates(n for n in names if n)
        return {str(o.id): o for o in found if str(o.id) not in taken}

    @staticmethod
    def _pair(
        link_id: int | None,
        rock_id: int,
        pco_id: str,
        base: Any,
        r: ObservedPerson | None,
        p: ObservedPerson | None,
    ) -> PersonPair:
        return PersonPair(
            link_id=link_id,
            rock_id=rock_id,
            pco_id=pco_id,
            base=base,
            rock=r.person if r else None,
            pco=p.person if p else None,
            rock_modified=r.modified_at if r else None,
            pco_modified=p.modified_at if p else None,
            rock_link_ok=r is None or r.link_hint == pco_id,
            pco_link_ok=p is None or p.link_hint == rock_id,
        )

    # ------------------------------------------------------------------ gate

    def _gate(
        self, plan: SyncPlan, links: Mapping[int, Link], obs: _Observation, full: bool
    ) -> list[str]:
        synced = len(links)
        members = len(self.store.links.load_memberships())
        population = {side: Population(synced, members) for side in (Side.ROCK, Side.PCO)}
        previous = self.store.watermarks.get(OBSERVED_PCO)
        observed = {Side.PCO: len(obs.serving)} if full else None
        prev = {Side.PCO: int(previous)} if full and previous and previous.isdigit() else None
        # people and memberships each against their own count; with none synced yet (the
        # first sync, the first teams) a positive percent cannot be measured: see app.safety
        people_ops = [op for op in plan.operations if op.kind not in MEMBERSHIP_KINDS]
        member_ops = [op for op in plan.operations if op.kind in MEMBERSHIP_KINDS]
        held = gate(
            people_ops,
            population,
            for_population(self.gate_config, synced),
            observed=observed,
            previous_observed=prev,
        )
        held_members = gate(member_ops, population, for_population(self.gate_config, members))
        return [
            r.message
            for result in (held, held_members)
            if result.decision is Decision.HOLD
            for r in result.reasons
        ]

    @staticmethod
    def _count_planned(plan: SyncPlan, summary: RunSummary) -> None:
        # issue 15: a dry or held run counts the links it would make (fresh matches, creates)
        summary.linked = len({op.ref for op in plan.operations if op.ref.link_id is None})
        for op in plan.operations:
            if op.kind is OpKind.CREATE:
                summary.created[op.side.value] += 1
            elif op.kind is OpKind.UPDATE:
                summary.updated[op.side.value] += 1
            elif op.kind is OpKind.ADD_MEMBER:
                summary.members_added[op.side.value] += 1
            elif op.kind is OpKind.REMOVE_MEMBER:
                summary.members_removed[op.side.value] += 1
            elif op.kind is OpKind.ARCHIVE:
                summary.inactivated[op.side.value] += 1

    # ------------------------------------------------------------------ apply

    async def _apply(
        self,
        run_id: int,
        plan: SyncPlan,
        fresh: Mapping[tuple[int, str], int | None],
        summary: RunSummary,
    ) -> None:
        store = self.store
        store.journal.record(run_id, plan.operations)
        store.journal.record_conflicts(run_id, plan.conflicts)
        old_bases = store.links.load_bases([r.link_id for r in plan.bases if r.link_id])

        def settle(ref: PersonRef, applied: set[int], link_of: Mapping[PersonRef, int]) -> None:
            self._settle(ref, plan, applied, link_of, old_bases)

        applied, link_of = await self.apply_operations(
            run_id, plan.operations, summary, fresh, after_person=settle
        )
        # bases of pairs that needed no operation (both sides already agreed)
        busy = {op.ref for op in plan.operations}
        for ref in plan.bases:
            if ref not in busy:
                settle(ref, applied, link_of)
        self._settle_memberships(plan, applied, link_of)

    def _settle_memberships(
        self, plan: SyncPlan, applied: set[int], link_of: Mapping[PersonRef, int]
    ) -> None:
        """Store membership bases whose write (if any) went through; a failed one keeps its
        old base, so the next run tries again."""
        if not plan.membership_bases:
            return
        seq_of = {
            MembershipKey(op.ref, op.group): op.seq
            for op in plan.operations
            if op.kind in MEMBERSHIP_KINDS and op.group is not None
        }
        out: dict[tuple[int, int], bool] = {}
        for key, value in plan.membership_bases.items():
            seq = seq_of.get(key)
            if seq is not None and seq not in applied:
                continue
            link_id = key.person.link_id or link_of.get(key.person)
            if link_id is None or key.group.group_link_id is None:
                continue
            out[(link_id, key.group.group_link_id)] = value
        self.store.links.save_memberships(out)

    async def apply_operations(
        self,
        run_id: int,
        operations: Iterable[Operation],
        summary: RunSummary,
        fresh: Mapping[tuple[int, str], int | None] | None = None,
        *,
        after_person: Callable[[PersonRef, set[int], Mapping[PersonRef, int]], None] | None = None,
    ) -> tuple[set[int], dict[PersonRef, int]]:
        """Apply operations already in the run's journal, journaling and parking each.

        One chain per person, in plan order; up to ``concurrency`` chains run side by side
        (the PCO limiter paces them) and an operation waits for any it depends on.
        ``fresh`` gives new pairs' Rock alias ids; ``after_person`` is called when a
        person's chain is done (a run stores their base there; an approved held run leaves
        bases to its caller). Returns the applied seqs and the links made on the way.
        """
        new_pairs = fresh or {}
        applied: set[int] = set()
        failed: set[int] = set()
        link_of: dict[PersonRef, int] = {}
        chains: dict[PersonRef, list[Operation]] = {}
        for op in operations:
            chains.setdefault(op.ref, []).append(op)
        done = {op.seq: asyncio.Event() for ops in chains.values() for op in ops}
        slots = asyncio.Semaphore(self.concurrency)

        async def run_chain(ref: PersonRef, ops: list[Operation]) -> None:
            async with slots:
                for op in ops:
                    for dep in op.depends_on:
                        if dep in done:
                            await done[dep].wait()
                    try:
                        await self._apply_step(
                            run_id, op, new_pairs, link_of, summary, applied, failed
                        )
                    finally:
                        done[op.seq].set()
                        self.progress.advance()  # issue 15
                if after_person is not None:
                    after_person(ref, applied, link_of)

        await asyncio.gather(*(run_chain(ref, ops) for ref, ops in chains.items()))
        return applied, link_of

    async def _apply_step(
        self,
        run_id: int,
        op: Operation,
        fresh: Mapping[tuple[int, str], int | None],
        link_of: dict[PersonRef, int],
        summary: RunSummary,
        applied: set[int],
        failed: set[int],
    ) -> None:
        if any(d in failed or d not in applied for d in op.depends_on):
            self.store.journal.mark_skipped(
                run_id, op.seq, "an earlier step for this person did not go through"
            )
            failed.add(op.seq)
            return
        try:
            await self._apply_one(run_id, op, fresh, link_of, summary)
            applied.add(op.seq)
            source = op.side.other if op.kind is OpKind.CREATE else op.side
            record_id = op.ref.id_on(source)
            if op.kind in MEMBERSHIP_KINDS:
                self.store.parked.resolve(op.side, _membership_key(op))
            elif record_id is not None:
                self.store.parked.resolve(source, _record_key(source, record_id))
        except InDoubt as exc:
            summary.in_doubt += 1
            summary.notes.append(str(exc))
            failed.add(op.seq)
        except (ApiError, SyncDataError, LinkConflict) as exc:
            failed.add(op.seq)
            self._fail(run_id, op, exc, summary)

    def _settle(
        self,
        ref: PersonRef,
        plan: SyncPlan,
        applied: set[int],
        link_of: Mapping[PersonRef, int],
        old_bases: Mapping[int, Any],
    ) -> None:
        planned = plan.bases.get(ref)
        link_id = ref.link_id or link_of.get(ref)
        if planned is None or link_id is None:
            return
        unapplied = unapplied_fields(plan.ops_for(ref), applied)
        self.store.links.save_base(link_id, settle_base(old_bases.get(link_id), planned, unapplied))

    def _fail(self, run_id: int, op: Operation, exc: BaseException, summary: RunSummary) -> None:
        message = _safe(exc)
        side_label = op.side.label
        who = op.ref.label()  # issue 15: names first (a parked reason is read by people)
        reason = f"Could not {op.kind.value} on {side_label} for {who}: {message}"
        if isinstance(exc, RetriesExhausted | TransportError):
            reason += " (a temporary problem: it will be retried on the next run)"
        current = store_status(self.store, run_id, op.seq)
        if current in (OpStatus.PLANNED, OpStatus.SENT):
            self.store.journal.mark_failed(run_id, op.seq, reason)
        source = op.side.other if op.kind is OpKind.CREATE else op.side
        record_id = op.ref.id_on(source) if op.kind is OpKind.CREATE else op.target_id
        key = _membership_key(op) if op.kind in MEMBERSHIP_KINDS else _record_key(source, record_id)
        self.store.parked.park(
            source,
            key,
            reason,
            {"op": op.kind.value, "run": run_id, "seq": op.seq},
            run_id=run_id,
        )
        summary.parked += 1
        log.warning(
            "sync.op_parked run=%s seq=%s kind=%s side=%s",
            run_id,
            op.seq,
            op.kind.value,
            op.side.value,
        )

    async def _apply_one(
        self,
        run_id: int,
        op: Operation,
        fresh: Mapping[tuple[int, str], int | None],
        link_of: dict[PersonRef, int],
        summary: RunSummary,
    ) -> None:
        journal = self.store.journal
        if op.kind is OpKind.CREATE:
            await self._create(run_id, op, link_of, summary)
            return
        if op.kind in MEMBERSHIP_KINDS:
            await self._apply_membership(run_id, op, link_of, summary)
            return
        rock_id, pco_id = op.ref.rock_id, op.ref.pco_id
        assert rock_id is not None and pco_id is not None
        link_id = op.ref.link_id or link_of.get(op.ref)
        if link_id is None:  # a fresh match: the link exists from its first operation on
            alias = fresh.get((rock_id, pco_id))
            link_id = self.store.links.add(rock_id, pco_id, rock_alias_id=alias).id
            link_of[op.ref] = link_id
            summary.linked += 1
        writer = self._side(op.side)
        target = rock_id if op.side is Side.ROCK else pco_id
        journal.mark_sent(run_id, op.seq)
        if op.kind in (OpKind.ARCHIVE, OpKind.RESTORE) and op.side is Side.PCO:
            # opt-in: left every team → inactive in People (revert: active again); checked
            # against their assignments now, since the plan (or its approval) may be old
            if op.kind is OpKind.ARCHIVE and await self.pco.client.person_assignments(pco_id):
                journal.mark_skipped(run_id, op.seq, "still assigned to a team position")
                return
            result = await self.pco.set_active(pco_id, op.kind is OpKind.RESTORE)
            if not result["changed"]:  # already so: nothing for a revert to undo
                journal.mark_skipped(run_id, op.seq, f"already {result['status']}")
                return
            journal.mark_applied(run_id, op.seq, before=result, link_id=link_id)
            summary.inactivated[op.side.value] += op.kind is OpKind.ARCHIVE
        elif op.kind is OpKind.LINK:
            counterpart = pco_id if op.side is Side.ROCK else rock_id
            await writer.write_link(target, counterpart)
            journal.mark_applied(run_id, op.seq, link_id=link_id)
        elif op.kind is OpKind.UPDATE:
            changes: dict[FieldName, FieldValue] = {
                f: after for f, (_b, after) in op.changes.items()
            }
            try:
                after = await writer.update_person(target, changes)
            except NotFoundError:
                # merged (or deleted) since it was read: follow the merge, then write once more
                survivor = await self._follow(op.side, link_id, target, summary)
                after = await writer.update_person(survivor, changes)
            journal.mark_applied(run_id, op.seq, after=after.person, link_id=link_id)
            summary.updated[op.side.value] += 1
        else:
            journal.mark_skipped(run_id, op.seq, f"{op.kind.value} is not handled here")

    async def _apply_membership(
        self, run_id: int, op: Operation, link_of: Mapping[PersonRef, int], summary: RunSummary
    ) -> None:
        """Assign / unassign (PCO) or add / inactivate (Rock) one person on one position."""
        if self.memberships is None or op.group is None:
            self.store.journal.mark_skipped(run_id, op.seq, "team memberships are not synced")
            return
        link_id = op.ref.link_id or link_of.get(op.ref)
        target = op.ref.id_on(op.side)
        if target is None:  # created earlier in this run: the link knows the new id
            link = self.store.links.get(link_id) if link_id is not None else None
            if link is None:
                raise SyncDataError(f"{op.ref.describe()} was not created on {op.side.label}")
            target = link.rock_person_id if op.side is Side.ROCK else link.pco_person_id
        writer = self.memberships.writer(op.side)
        self.store.journal.mark_sent(run_id, op.seq)
        if op.kind is OpKind.ADD_MEMBER:
            after = await writer.add_member(op.group, target)
            self.store.journal.mark_applied(run_id, op.seq, after=after, link_id=link_id)
            summary.members_added[op.side.value] += 1
        else:
            before = await writer.remove_member(op.group, target)
            self.store.journal.mark_applied(run_id, op.seq, before=before, link_id=link_id)
            summary.members_removed[op.side.value] += 1

    async def _follow(
        self, side: Side, link_id: int, gone: RockPersonId | PcoPersonId, summary: RunSummary
    ) -> RockPersonId | PcoPersonId:
        """The survivor of a record merged away mid-run; the link is moved to it."""
        link = self.store.links.get(link_id)
        alias = link.rock_alias_id if link is not None and side is Side.ROCK else None
        survivor = await self._side(side).resolve_merged(gone, alias)
        if survivor is None or survivor == gone:
            self.store.links.set_status(link_id, LinkStatus.ORPHANED)
            raise SyncDataError(
                f"the {side.label} record {gone} no longer exists (deleted, not merged); "
                f"link {link_id} is no longer synced"
            )
        if side is Side.ROCK:
            self.store.links.repoint(link_id, rock_person_id=int(survivor))
        else:
            self.store.links.repoint(link_id, pco_person_id=str(survivor))
        summary.notes.append(  # issue 15: whose link, by name
            f"The link of {link_owner(self.store, link_id)} followed a merge in {side.label} "
            f"({gone} → {survivor})."
        )
        return survivor

    async def _create(
        self, run_id: int, op: Operation, link_of: dict[PersonRef, int], summary: RunSummary
    ) -> None:
        """Create the person on ``op.side``; link both records; never duplicate."""
        source_side = op.side.other
        source_id = op.ref.id_on(source_side)
        assert source_id is not None and op.record is not None
        writer = self._side(op.side)
        self.store.journal.mark_sent(run_id, op.seq)
        try:
            created = await writer.create_person(op.record, link_hint=source_id)
        except AmbiguousWriteError:
            created = await self._find_created(op, source_id)
        rock_id = int(created.id) if op.side is Side.ROCK else int(source_id)
        pco_id = str(created.id) if op.side is Side.PCO else str(source_id)
        alias = created.alias_id if op.side is Side.ROCK else None
        link = self.store.links.add(rock_id, pco_id, rock_alias_id=alias)
        link_of[op.ref] = link.id
        self.store.journal.mark_applied(
            run_id,
            op.seq,
            after=created.person,
            link_id=link.id,
            rock_person_id=rock_id,
            pco_person_id=pco_id,
        )
        summary.created[op.side.value] += 1
        summary.linked += 1
        # the source record learns its counterpart's id too (PCO remote_id / Rock PcoPersonId)
        source = self._side(source_side)
        await source.write_link(source_id, created.id)

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

    # ------------------------------------------------------------------ in-doubt

    async def _settle_in_doubt(self, summary: RunSummary) -> None:
        """Operations journaled as sent by a run that did not finish (killed, or lost answers).

        A create is looked up by the link id written on the new record: found → linked and
        marked applied; not found → marked not sent, and planned afresh this run. Other
        writes set values, so they are simply replanned from what the re-read shows.
        """
        journal = self.store.journal
        for jop in journal.in_doubt():
            op = jop.operation
            if op.kind is OpKind.CREATE:
                source_id = op.ref.id_on(op.side.other)
                found = await self._side(op.side).find_by_link_hint(source_id)  # type: ignore[arg-type]
                if len(found) == 1:
                    created = found[0]
                    rock_id = int(created.id) if op.side is Side.ROCK else int(str(source_id))
                    pco_id = str(created.id) if op.side is Side.PCO else str(source_id)
                    try:
                        link = self.store.links.add(
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
                        self.store.links.save_base(link.id, _base_of(op))
                    summary.notes.append(
                        f"A create interrupted in run {jop.run_id} had happened; it is now "
                        "linked (no duplicate was made)."
                    )
                    try:
                        await self._side(op.side.other).write_link(
                            source_id,  # type: ignore[arg-type]
                            created.id,
                        )
                    except ClientError as exc:  # the run's plan writes the link id again
                        summary.notes.append(
                            f"Writing the link id on the {op.side.other.label} record of "
                            f"{op.ref.describe()} failed: {_safe(exc)}"
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
            if op.kind is OpKind.ARCHIVE and op.ref.pco_id is not None:
                # nothing later replans it (the removals it followed are done): finish it
                try:
                    await self.pco.set_active(op.ref.pco_id, False)
                except ClientError as exc:  # e.g. merged or deleted since: one record, not the run
                    message = (
                        f"Could not finish making {op.ref.describe()} inactive in Planning "
                        f"Center (interrupted in run {jop.run_id}): {_safe(exc)}"
                    )
                    journal.mark_failed(jop.run_id, jop.seq, message)
                    summary.notes.append(message)
                    continue
                journal.mark_applied(jop.run_id, jop.seq, before={"status": "active"})
                continue
            journal.mark_skipped(
                jop.run_id, jop.seq, "interrupted before its answer; replanned by a later run"
            )


def _base_of(op: Operation) -> Any:
    from pcosync.engine.merge import Base

    assert op.record is not None
    return Base(op.record, frozenset(f for f in FieldName if f not in op.changes))


def _membership_key(op: Operation) -> str:
    """Parked-record key of a membership: ``membership:<rock id>/<pco id>:TeamPosition:<id>``."""
    group = op.group.pco_id if op.group is not None else "?"
    rock = op.ref.rock_id if op.ref.rock_id is not None else "-"
    pco = op.ref.pco_id if op.ref.pco_id is not None else "-"
    return f"membership:{rock}/{pco}:{group}"


def store_status(store: Store, run_id: int, seq: int) -> OpStatus:
    return store.journal.get(run_id, seq).status


def _safe(exc: BaseException) -> str:
    """An error message fit for logs and the store: our errors carry no personal data."""
    if isinstance(exc, PcoSyncError | LinkConflict):
        return str(exc)
    return f"{type(exc).__name__} (see the debug log)"


__all__ = ["JournaledOp", "PeopleSync", "RunSummary", "SyncOptions"]
