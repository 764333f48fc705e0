"""Observe: what changed on each side since the watermarks (or everything), and who is in
scope (DESIGN §6.1). Reads only, apart from the store's own bookkeeping: parked records,
links that follow merges, links retired because their record is gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pcosync.adapters.common import RejectedRecord
from pcosync.app.applier import record_key, retire_link
from pcosync.app.memory import release_free_memory
from pcosync.app.names import link_owner
from pcosync.app.summary import RunSummary
from pcosync.domain.identity import PcoPersonId, RockPersonId, Side
from pcosync.engine.match import IssueKind, MatchIssue, RecordIdentity
from pcosync.engine.ports import ObservedPerson
from pcosync.store.links import Link, LinkConflict, LinkStatus

if TYPE_CHECKING:
    from pcosync.app.people_sync import PeopleSync

SERVICES_ARCHIVED = "pco.services_archived"
SERVICES_MARK = "pco.services_people"


@dataclass
class Observation:
    rock: dict[RockPersonId, ObservedPerson]
    pco: dict[PcoPersonId, ObservedPerson]
    serving: set[PcoPersonId]
    rejected: list[RejectedRecord]
    # parked person records this run re-read: (side, record key) of the unreadable ones
    # read cleanly now, and of the ones whose write was refused
    readable: list[tuple[Side, str]] = field(default_factory=list)
    retried: list[tuple[Side, str]] = field(default_factory=list)
    # unlinked Rock people who absorbed a linked person in a merge: never created anew
    merge_survivors: set[RockPersonId] = field(default_factory=set)


async def observe(
    sync: PeopleSync, full: bool, pco_since: datetime | None, rock_since: datetime | None
) -> Observation:
    """Read both sides: changes since the marks (minus the look-back, already applied by
    the caller), or everyone on a full run; plus serving people never seen, and parked
    records due for a retry (with their counterparts)."""
    store = sync.store
    # who is archived in Services is remembered between runs, so an incremental run
    # reads only the Services people changed since (spec §5.5: no where[updated_at])
    marks = store.watermarks
    if sync.pco.services_archived is None and not full:
        saved = marks.get(SERVICES_ARCHIVED)
        if saved is not None:
            sync.pco.services_archived = set(json.loads(saved))
            sync.pco.services_mark = marks.get_time(SERVICES_MARK)
    serving = await sync.pco.serving_ids(full=full, since=pco_since)
    release_free_memory()  # the team sweep's page (~72 MB at 100,000 people) is freed
    if sync.pco.services_archived is not None:
        marks.set(SERVICES_ARCHIVED, json.dumps(sorted(sync.pco.services_archived)))
    if sync.pco.services_mark is not None:
        marks.advance_time(SERVICES_MARK, sync.pco.services_mark)
    if full or pco_since is None or rock_since is None:
        pco = {str(o.id): o async for o in sync.pco.fetch_all()}
        rock = {int(o.id): o async for o in sync.rock.fetch_all()}
    else:
        pco = {str(o.id): o async for o in sync.pco.fetch_changed(pco_since)}
        rock = {int(o.id): o async for o in sync.rock.fetch_changed(rock_since)}
    links = store.links.all(LinkStatus.ACTIVE)
    linked_pco = {lk.pco_person_id for lk in links}
    # serving people we have never seen (newly assigned, unchanged record)
    # (people in an open match issue wait for a change or a full run, and parked people
    # for their retry time: re-reading them every run costs a request each)
    waiting = {pid for i in store.issues.list() for pid in i.pco_ids}
    waiting |= {
        p.record_key.partition(":")[2]
        for p in store.parked.list()
        if str(p.side) == Side.PCO.value and p.record_key.startswith("person:")
    }
    unseen = sorted(
        pid for pid in serving if pid not in pco and pid not in linked_pco and pid not in waiting
    )
    if unseen:
        for o in await sync.pco.fetch_many(unseen):
            pco[str(o.id)] = o
    # records parked earlier are re-read every run until they go through; a linked one
    # with its counterpart too, whose edit (by now older than the look-back) is what a
    # refused write was copying: read alone, the pair would look unchanged
    by_rock = {lk.rock_person_id: lk for lk in links}
    by_pco = {lk.pco_person_id: lk for lk in links}
    retried: list[tuple[Side, str]] = []
    for rec in store.parked.due(sync.clock()):
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
            found = await sync.pco.fetch_one(pco_id)
            if found is not None:
                pco[pco_id] = found
        if rock_id is not None and rock_id not in rock:
            found = await sync.rock.fetch_one(rock_id)
            if found is not None:
                rock[rock_id] = found
        if (rec.payload or {}).get("op"):
            retried.append((Side(rec.side), rec.record_key))
    rejected = [*sync.pco.rejected, *sync.rock.rejected]
    sync.pco.rejected.clear()
    sync.rock.rejected.clear()
    # a record parked because it could not be read, and read cleanly now, is settled
    # (once the run applies: a dry or held run leaves it parked, so it is read again)
    open_parked = {
        (p.side, p.record_key) for p in store.parked.list() if (p.payload or {}).get("field")
    }
    readable = [
        (side, record_key(rid))
        for side, seen in ((Side.PCO, pco), (Side.ROCK, rock))
        for rid in seen
        if (side.value, record_key(rid)) in open_parked
    ]
    return Observation(rock, pco, serving, rejected, readable, retried)


def park_rejected(
    sync: PeopleSync, run_id: int, rejected: Iterable[RejectedRecord], summary: RunSummary
) -> None:
    seen: set[tuple[Side, str]] = set()  # one record read twice in a run is parked once
    for rec in rejected:
        key = (rec.side, record_key(rec.record_id))
        if key in seen:
            continue
        seen.add(key)
        sync.store.parked.park(
            rec.side,
            record_key(rec.record_id),
            rec.message,
            {"field": rec.field},
            run_id=run_id,
        )
        summary.parked += 1


# ---------------------------------------------------------------------------- merges


async def follow_merges(
    sync: PeopleSync,
    full: bool,
    since: datetime | None,
    obs: Observation,
    summary: RunSummary,
) -> None:
    """Links follow merges on either side. Two linked people merged into one leave one
    link; the other half's record is reported as a likely duplicate (a match issue), never
    copied into a new person. A linked record deleted (not merged) retires its link."""
    links = sync.store.links
    for merger in await sync.pco.mergers_since(None if full else since):
        link = links.by_pco(merger.person_to_remove_id)
        if link is None:
            continue
        _repoint(sync, link, summary, pco_id=merger.person_to_keep_id, obs=obs)
    if not full:
        return
    # a linked Rock person missing from a full read was merged (or deleted)
    for link in links.all(LinkStatus.ACTIVE):
        if link.rock_person_id in obs.rock:
            continue
        survivor = await sync.rock.resolve_merged(link.rock_person_id, link.rock_alias_id)
        if survivor is not None and survivor != link.rock_person_id:
            _repoint(sync, link, summary, rock_id=int(survivor), obs=obs)
        elif survivor is None:
            summary.notes.append(retire_link(sync.store, link.id, Side.ROCK, link.rock_person_id))
    for link in links.all(LinkStatus.ORPHANED):  # left by pcosync < 0.2: retired now
        links.remove(link.id)


async def follow_rock_merges_seen(
    sync: PeopleSync, rock_ids: Iterable[RockPersonId], obs: Observation
) -> None:
    """An incremental run sees a Rock merge's survivor (read as changed, or as a member of
    a synced group), never the person merged away: an unlinked survivor carrying the alias
    of a linked person is that person. It is not created in Planning Center (it was, a
    second time beside the linked person: simulation seed 1023 of the sim tier); the link
    follows the merge at its next write (a 404 on the old Id) or the next full run."""
    links = sync.store.links
    unlinked = sorted(rid for rid in rock_ids if links.by_rock(rid) is None)
    if not unlinked:
        return
    for alias_id, person_id in (await sync.rock.aliases_of(unlinked)).items():
        link = links.by_alias(alias_id)
        if link is not None and link.rock_person_id != person_id:
            obs.merge_survivors.add(person_id)


def _repoint(
    sync: PeopleSync,
    link: Link,
    summary: RunSummary,
    *,
    obs: Observation,
    pco_id: str | None = None,
    rock_id: int | None = None,
) -> None:
    store = sync.store
    try:
        store.links.repoint(link.id, pco_person_id=pco_id, rock_person_id=rock_id)
        summary.notes.append(
            f"The link of {link_owner(store, link.id)} followed a merge in "
            f"{'Planning Center' if pco_id else 'Rock'}."
        )
        return
    except LinkConflict:
        pass
    # both duplicates were synced: the survivor already has a link of its own
    side = Side.PCO if pco_id is not None else Side.ROCK
    survivor = pco_id if pco_id is not None else rock_id
    keeper = store.links.by_pco(pco_id) if pco_id is not None else store.links.by_rock(rock_id)  # type: ignore[arg-type]
    summary.notes.append(
        retire_link(
            store,
            link.id,
            side,
            link.pco_person_id if side is Side.PCO else link.rock_person_id,
            merged_into=survivor,
        )
    )
    if keeper is None:
        return
    issue = merged_duplicate_issue(side, link, keeper, obs)
    store.issues.upsert(issue)
    summary.match_issues += 1


def merged_duplicate_issue(side: Side, gone: Link, keeper: Link, obs: Observation) -> MatchIssue:
    """``side`` merged the records of two linked people: the other side still holds two."""
    other = side.other
    if other is Side.ROCK:
        ids: list[object] = [keeper.rock_person_id, gone.rock_person_id]
        survivor: object = keeper.pco_person_id
        seen = obs.rock
    else:
        ids = [keeper.pco_person_id, gone.pco_person_id]
        survivor = keeper.rock_person_id
        seen = obs.pco  # type: ignore[assignment]

    def name(record_id: object) -> str:
        found = seen.get(record_id)  # type: ignore[call-overload]
        if found is None:
            return "(not read this run)"
        p = found.person
        return " ".join(x for x in (p.nickname or p.first_name, p.last_name) if x) or "(no name)"

    records = tuple(RecordIdentity(other, rid, name(rid)) for rid in ids)  # type: ignore[arg-type]
    message = (
        f"{side.label} merged two people who were both synced, into {side.label} record "
        f"{survivor}. {other.label} still has both of them: {records[0].describe()} (kept "
        f"in sync with it) and {records[1].describe()} (no longer synced). They are "
        f"probably the same person: merge them in {other.label}. Until then "
        f"{records[1].describe()} is not copied anywhere."
    )
    return MatchIssue(IssueKind.MERGED_DUPLICATE, records, (), message)


__all__ = [
    "Observation",
    "follow_merges",
    "follow_rock_merges_seen",
    "observe",
    "park_rejected",
]
