"""Names for output: what a person reads names people and groups first, ids second.

The sync decides by ids; names ride along on :class:`PersonRef` / :class:`GroupRef` (never
part of their equality) so runs show, review, notices and the demo can say who. A person's
name comes from their records as read this run, else from the base (the values both sides
agreed on at the last sync), which the store keeps for every linked person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TypeVar

from pcosync.domain.identity import PcoPersonId, PersonRef, RockPersonId, Side
from pcosync.domain.person import Person
from pcosync.engine.plan import SyncPlan
from pcosync.engine.ports import ObservedPerson
from pcosync.store import Store
from pcosync.store.links import GroupLink, Link

K = TypeVar("K", RockPersonId, PcoPersonId)


def name_of(person: Person | None) -> str | None:
    """The name an admin recognises, or None for a record without one."""
    if person is None or not (person.first_name or person.nickname or person.last_name):
        return None
    return person.display_name


class PeopleNames:
    """Names by link id, Rock id or Planning Center id, from the agreed bases (and from
    records read this run, which win)."""

    def __init__(
        self,
        by_link: Mapping[int, str],
        links: Iterable[Link] = (),
        rock: Mapping[RockPersonId, str] | None = None,
        pco: Mapping[PcoPersonId, str] | None = None,
    ) -> None:
        self.by_link = dict(by_link)
        self.rock = dict(rock or {})
        self.pco = dict(pco or {})
        for link in links:
            name = self.by_link.get(link.id)
            if name:
                self.rock.setdefault(link.rock_person_id, name)
                self.pco.setdefault(link.pco_person_id, name)

    @classmethod
    def from_store(cls, store: Store, link_ids: Iterable[int] | None = None) -> PeopleNames:
        """Every linked person's name (or just these links'), from the stored bases."""
        bases = store.links.load_bases(link_ids)
        names = {lid: n for lid, base in bases.items() if (n := name_of(base.person))}
        return cls(names, store.links.all())

    def of(self, ref: PersonRef) -> str | None:
        if ref.name:
            return ref.name
        if ref.link_id is not None and ref.link_id in self.by_link:
            return self.by_link[ref.link_id]
        if ref.pco_id is not None and ref.pco_id in self.pco:
            return self.pco[ref.pco_id]
        if ref.rock_id is not None and ref.rock_id in self.rock:
            return self.rock[ref.rock_id]
        return None

    def named(self, ref: PersonRef) -> PersonRef:
        return ref if ref.name else ref.named(self.of(ref))


def link_owner(store: Store, link_id: int) -> str:
    """Whose a link is, for a note: "Jane Doe (link 12)", or "link 12" without a name."""
    names = PeopleNames.from_store(store, [link_id])
    name = names.by_link.get(link_id)
    return f"{name} (link {link_id})" if name else f"link {link_id}"


def changed_people(store: Store, run_id: int, *, limit: int = 6) -> tuple[list[str], int]:
    """Who a run wrote (or would write) about, by name, first ``limit``; and how many."""
    seen: dict[tuple[int | None, str | None], str] = {}
    fallback = None
    for j in store.journal.list(run_id):
        ref = j.operation.ref
        key = (ref.rock_id, ref.pco_id)
        if key in seen:
            continue
        if not ref.name and fallback is None:
            fallback = PeopleNames.from_store(store)
        seen[key] = ref.name or (fallback.of(ref) if fallback else None) or ref.ids()
    names = sorted(seen.values(), key=str.casefold)
    return names[:limit], len(names)


def record_label(
    side: Side, record_key: str, names: PeopleNames, groups: Mapping[str, GroupLink]
) -> str | None:
    """Who a parked record is about, by name: ``person:<id>`` (an id of ``side``) or
    ``membership:<rock id>/<pco id>:<PcoId of the group>``. None when nobody is known."""
    kind, _, rest = record_key.partition(":")
    if kind == "person":
        if side is Side.ROCK:
            return names.rock.get(int(rest)) if rest.isdigit() else None
        return names.pco.get(rest)
    if kind == "membership":
        people, _, group_id = rest.partition(":")
        rock, _, pco = people.partition("/")
        ref = PersonRef(None, int(rock) if rock.isdigit() else None, pco if pco != "-" else None)
        person = names.of(ref)
        group = groups.get(group_id)
        where = group.name if group is not None and group.name else group_id
        return f"{person or 'someone'} in {where}" if where else person
    return None


def _names_of(records: Mapping[K, ObservedPerson], ids: Iterable[K]) -> dict[K, str]:
    """Names of just these records (those read and named)."""
    return {i: n for i in ids if (o := records.get(i)) is not None and (n := name_of(o.person))}


def name_plan(
    store: Store,
    plan: SyncPlan,
    rock: Mapping[RockPersonId, ObservedPerson],
    pco: Mapping[PcoPersonId, ObservedPerson],
) -> None:
    """Name every operation and conflict the planner could not name itself (memberships of
    people whose records did not change), from this run's records and the stored bases."""
    missing = [op for op in plan.operations if not op.ref.name]
    if not missing:
        return
    link_ids = {op.ref.link_id for op in missing if op.ref.link_id is not None}
    bases = store.links.load_bases(link_ids) if link_ids else {}
    # only the records an unnamed operation is about, not a name built for everyone read
    # (201,000 records at 100,000 a side, while the plan is held: issue 14)
    rock_ids = {op.ref.rock_id for op in missing if op.ref.rock_id is not None}
    pco_ids = {op.ref.pco_id for op in missing if op.ref.pco_id is not None}
    names = PeopleNames(
        {lid: n for lid, base in bases.items() if (n := name_of(base.person))},
        rock={
            r: n for r in rock_ids if (o := rock.get(r)) is not None and (n := name_of(o.person))
        },
        pco=_names_of(pco, pco_ids),
    )
    for op in plan.operations:
        ref = op.ref
        if ref.name:
            if (ref.link_id or -1) in link_ids:
                names.by_link.setdefault(ref.link_id or -1, ref.name)
            if ref.pco_id in pco_ids:
                names.pco.setdefault(ref.pco_id, ref.name)
            if ref.rock_id in rock_ids:
                names.rock.setdefault(ref.rock_id, ref.name)
    plan.operations[:] = [
        op if op.ref.name else replace(op, ref=names.named(op.ref)) for op in plan.operations
    ]


__all__ = ["PeopleNames", "name_of", "name_plan"]
