"""Who is synced, and which records belong together, before any field is merged (DESIGN §3-4).

Pure rules over what a run observed: which linked pairs are in scope and need planning,
which unlinked records already point at each other (mutual link ids: adopted, no matching
needed), which matcher results count, and who is created on the other side. The
orchestrator reads and writes; these functions only decide.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pcosync.domain.identity import PcoPersonId, RockPersonId, Side
from pcosync.domain.person import Person
from pcosync.engine.match import MatchedPair, MatchIssue, MatchRecord
from pcosync.engine.merge import Base
from pcosync.engine.plan import OneSided, PersonPair
from pcosync.engine.ports import ObservedPerson


class LinkLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def rock_person_id(self) -> RockPersonId: ...
    @property
    def pco_person_id(self) -> PcoPersonId: ...


def in_scope(link: LinkLike, serving: Collection[str], rock_scope: Collection[int]) -> bool:
    """Serving in Planning Center Services, or an active member of a linked Rock group."""
    return link.pco_person_id in serving or link.rock_person_id in rock_scope


def pair_of(
    link_id: int | None,
    rock_id: RockPersonId,
    pco_id: PcoPersonId,
    base: Base | None,
    rock: ObservedPerson | None,
    pco: ObservedPerson | None,
) -> PersonPair:
    return PersonPair(
        link_id=link_id,
        rock_id=rock_id,
        pco_id=pco_id,
        base=base,
        rock=rock.person if rock else None,
        pco=pco.person if pco else None,
        rock_modified=rock.modified_at if rock else None,
        pco_modified=pco.modified_at if pco else None,
        rock_link_ok=rock is None or rock.link_hint == pco_id,
        pco_link_ok=pco is None or pco.link_hint == rock_id,
    )


@dataclass
class LinkedPairs:
    pairs: list[PersonPair] = field(default_factory=list)
    # in scope without a base (e.g. linked by hand) and missing a record: read them, then
    # call :func:`linked_pairs` again with both records
    incomplete: list[LinkLike] = field(default_factory=list)


def linked_pairs(
    links: Iterable[LinkLike],
    bases: Mapping[int, Base],
    rock: Mapping[RockPersonId, ObservedPerson],
    pco: Mapping[PcoPersonId, ObservedPerson],
    serving: Collection[str],
    rock_scope: Collection[int],
) -> LinkedPairs:
    """Linked pairs in scope with something new on either side (or no base yet)."""
    out = LinkedPairs()
    for link in links:
        if not in_scope(link, serving, rock_scope):
            continue  # out of scope: never written (DESIGN §4)
        r = rock.get(link.rock_person_id)
        p = pco.get(link.pco_person_id)
        base = bases.get(link.id)
        if base is None:
            if r is None or p is None:
                out.incomplete.append(link)
                continue
        elif r is None and p is None:
            continue
        out.pairs.append(pair_of(link.id, link.rock_person_id, link.pco_person_id, base, r, p))
    return out


@dataclass
class Adoption:
    pairs: list[tuple[ObservedPerson, ObservedPerson]] = field(default_factory=list)
    remaining: list[ObservedPerson] = field(default_factory=list)  # left for the matcher


def adopt_mutual(
    unlinked_pco: Iterable[ObservedPerson],
    rock_pool: Mapping[RockPersonId, ObservedPerson],
    linked_rock: Collection[RockPersonId],
    excluded: Collection[tuple[RockPersonId, PcoPersonId]],
) -> Adoption:
    """Records that carry each other's id (written by an earlier sync, e.g. before the state
    store was lost) are linked again without matching, unless an admin kept them apart.

    Rock's ``PcoPersonId`` is written with the link; Planning Center's ``remote_id`` may
    still be owed (written with the rate budget left over, app.link_ids). So a Planning
    Center record *without* a ``remote_id`` is adopted by the one unlinked Rock record whose
    ``PcoPersonId`` names it (two such Rock records: left to the matcher, which reports
    them). A ``remote_id`` naming someone else is never overruled here."""
    claims: dict[str, list[ObservedPerson]] = {}
    for seen in rock_pool.values():
        if seen.link_hint is not None and int(seen.id) not in linked_rock:
            claims.setdefault(str(seen.link_hint), []).append(seen)
    out = Adoption()
    for o in unlinked_pco:
        hint = o.link_hint
        r: ObservedPerson | None = rock_pool.get(int(hint)) if isinstance(hint, int) else None
        if hint is None:
            claimants = claims.get(str(o.id), [])
            r = claimants[0] if len(claimants) == 1 else None
        if (
            r is not None
            and r.link_hint == o.id
            and int(r.id) not in linked_rock
            and (int(r.id), str(o.id)) not in excluded
        ):
            out.pairs.append((r, o))
        else:
            out.remaining.append(o)
    return out


def matches_in_scope(
    links: Iterable[MatchedPair],
    issues: Iterable[MatchIssue],
    serving: Collection[str],
    rock_unlinked: Collection[int],
) -> tuple[list[MatchedPair], list[MatchIssue]]:
    """The matcher sees candidates outside scope too (so a match links instead of creating
    a duplicate); only links and issues that touch someone in scope count."""

    def touches(rock_id: int | None, pco_id: str | None) -> bool:
        return (pco_id is not None and pco_id in serving) or rock_id in rock_unlinked

    kept_links = [m for m in links if touches(m.rock_id, m.pco_id)]
    kept_issues = [
        i
        for i in issues
        if any(touches(r, None) for r in i.rock_ids) or any(touches(None, p) for p in i.pco_ids)
    ]
    return kept_links, kept_issues


@dataclass(frozen=True, slots=True)
class Suppression:
    """A person a revert took back out of the other side: when, and their synced values on
    their own side just after the revert (``snapshot``; None when it could not be read)."""

    at: datetime
    snapshot: Person | None = None

    def holds(self, person: Person, modified_at: datetime | None) -> bool:
        """Still held back: nothing synced changed since the revert. With a snapshot the
        values decide (a timestamp kept to the second, as Planning Center's is, makes an edit
        within the revert's second look older than it); without one, the modified time."""
        if self.snapshot is not None:
            return person == self.snapshot
        return modified_at is None or modified_at <= self.at


def creates_for(
    unmatched: Iterable[MatchRecord],
    pco: Mapping[PcoPersonId, ObservedPerson],
    rock_pool: Mapping[RockPersonId, ObservedPerson],
    serving: Collection[str],
    rock_unlinked: Collection[int],
    *,
    blocked: Collection[tuple[Side, object]] = (),
    suppressed: Mapping[tuple[Side, str], Suppression] | None = None,
) -> tuple[list[OneSided], list[tuple[Side, object]]]:
    """People in scope with no counterpart: created on the other side.

    Not created: records ``blocked`` by an open issue (e.g. the other half of two linked
    people Planning Center merged), and records a revert took back (``suppressed``: created
    on that side by a run that was reverted) unless they changed after the revert
    (:meth:`Suppression.holds`).
    Returns the creates and the (side, id) of the people held back by a revert.
    """
    suppressed = suppressed or {}
    creates: list[OneSided] = []
    held_back: list[tuple[Side, object]] = []
    for rec in unmatched:
        if rec.side is Side.PCO and str(rec.id) in serving:
            o = pco[str(rec.id)]
        elif rec.side is Side.ROCK and rec.id in rock_unlinked:
            o = rock_pool[int(rec.id)]
        else:
            continue
        if (rec.side, rec.id) in blocked:
            continue
        taken_back = suppressed.get((rec.side.other, str(rec.id)))
        if taken_back is not None and taken_back.holds(o.person, o.modified_at):
            held_back.append((rec.side, rec.id))
            continue
        creates.append(OneSided(rec.side, o.id, o.person, o.modified_at))
    return creates, held_back


__all__ = [
    "Adoption",
    "LinkLike",
    "LinkedPairs",
    "Suppression",
    "adopt_mutual",
    "creates_for",
    "in_scope",
    "linked_pairs",
    "matches_in_scope",
    "pair_of",
]
