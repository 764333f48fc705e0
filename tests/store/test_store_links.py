"""Links, bases, membership bases, exclusions and group links."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from pcosync.domain import Address, FieldName, GroupKind, Person
from pcosync.engine import Base
from pcosync.store import GroupLinkStatus, LinkConflict, LinkStatus, Store

from .conftest import FakeClock

JANE = Person(
    first_name="Jane",
    last_name="Doe",
    gender="female",
    birthdate=date(1988, 6, 2),
    email="jane@example.org",
    mobile_phone="+12025550143",
    home_address=Address("1 Main St", None, "Springfield", "IL", "62701", "US"),
    campus="main",
)


def test_add_and_find_by_any_id(store: Store) -> None:
    link = store.links.add(45, "123", rock_alias_id=9045)
    assert (link.rock_person_id, link.pco_person_id, link.rock_alias_id) == (45, "123", 9045)
    assert link.status is LinkStatus.ACTIVE
    assert store.links.get(link.id) == link
    assert store.links.by_rock(45) == link
    assert store.links.by_pco("123") == link
    assert store.links.by_alias(9045) == link
    assert store.links.find(rock_alias_id=9045) == link
    assert store.links.find(pco_person_id="123") == link
    assert store.links.by_rock(46) is None and store.links.find() is None
    assert store.links.count() == 1


def test_add_is_idempotent_for_the_same_pair(store: Store, clock: FakeClock) -> None:
    first = store.links.add(45, "123")
    clock.advance(minutes=1)
    again = store.links.add(45, "123", rock_alias_id=9045)
    assert again.id == first.id and again.rock_alias_id == 9045
    assert again.updated_at > first.updated_at
    assert store.links.count() == 1


def test_add_refuses_a_second_partner(store: Store) -> None:
    store.links.add(45, "123")
    with pytest.raises(LinkConflict, match="Rock person 45 ⇄ Planning Center person 123"):
        store.links.add(45, "999")
    with pytest.raises(LinkConflict):
        store.links.add(46, "123")
    assert store.links.count() == 1


def test_repoint_follows_a_merge(store: Store) -> None:
    link = store.links.add(45, "123", rock_alias_id=9045)
    moved = store.links.repoint(link.id, rock_person_id=77)
    assert moved.rock_person_id == 77 and moved.rock_alias_id == 9045
    assert store.links.by_rock(45) is None and store.links.by_rock(77) == moved
    moved = store.links.repoint(link.id, pco_person_id="555")
    assert store.links.by_pco("555") == moved


def test_repoint_onto_a_linked_survivor_is_a_conflict(store: Store) -> None:
    a = store.links.add(45, "123")
    store.links.add(46, "124")
    with pytest.raises(LinkConflict, match="merge survivor"):
        store.links.repoint(a.id, rock_person_id=46)
    assert store.links.get(a.id) == a


def test_status_and_listing(store: Store) -> None:
    a = store.links.add(1, "1")
    store.links.add(2, "2")
    store.links.set_status(a.id, LinkStatus.ORPHANED)
    assert store.links.count() == 1
    assert store.links.count(None) == 2
    assert [lk.rock_person_id for lk in store.links.all(LinkStatus.ORPHANED)] == [1]
    assert [lk.rock_person_id for lk in store.links.all()] == [1, 2]


def test_bases_round_trip_in_bulk_with_unknown_fields(store: Store) -> None:
    with store.transaction():  # one transaction for the lot
        links = [store.links.add(i, str(i)) for i in range(1, 1201)]  # more than one chunk
    partial = Base(replace(JANE, email=None), frozenset({FieldName.EMAIL}))
    bases = {lk.id: (partial if lk.id % 2 else Base(JANE)) for lk in links}
    store.links.save_bases(bases)
    assert store.links.load_bases() == bases
    some = [links[0].id, links[1].id, 999_999]
    assert store.links.load_bases(some) == {i: bases[i] for i in some[:2]}
    changed = Base(replace(JANE, campus="north"))
    store.links.save_base(links[0].id, changed)
    assert store.links.load_bases([links[0].id]) == {links[0].id: changed}


def test_remove_returns_what_it_removed_and_cascades(store: Store) -> None:
    group = store.groups.upsert(501, "TeamPosition:77", GroupKind.TEAM_POSITION)
    link = store.links.add(45, "123")
    store.links.save_base(link.id, Base(JANE))
    store.links.save_memberships({(link.id, group.id): True})
    removed, base = store.links.remove(link.id)
    assert removed == link and base == Base(JANE)
    assert store.links.get(link.id) is None
    assert store.links.load_bases() == {}
    assert store.links.load_memberships() == set()
    # The records can be linked again (e.g. to the right partner).
    store.links.add(45, "999")


def test_membership_bases(store: Store) -> None:
    a = store.links.add(1, "1")
    b = store.links.add(2, "2")
    g1 = store.groups.upsert(501, "TeamPosition:1", GroupKind.TEAM_POSITION)
    g2 = store.groups.upsert(502, "TeamPosition:2", GroupKind.TEAM_POSITION)
    store.links.save_memberships({(a.id, g1.id): True, (a.id, g2.id): True, (b.id, g1.id): True})
    store.links.save_memberships({(a.id, g1.id): True})  # again: no duplicate
    assert store.links.load_memberships() == {(a.id, g1.id), (a.id, g2.id), (b.id, g1.id)}
    store.links.save_memberships({(a.id, g2.id): False, (b.id, g2.id): False})
    assert store.links.load_memberships([a.id]) == {(a.id, g1.id)}


def test_exclusions(store: Store) -> None:
    store.links.exclude(45, "123", note="different people (twins)")
    store.links.exclude(45, "123")
    assert store.links.exclusions() == {(45, "123")}
    store.links.allow(45, "123")
    assert store.links.exclusions() == set()


def test_connections_do_not_see_each_other(store: Store) -> None:
    other = store.for_connection("north-campus")
    a = store.links.add(45, "123")
    b = other.links.add(45, "123")  # same ids, another Rock⇄PCO pair
    assert a.id != b.id
    assert store.links.by_rock(45) == a and other.links.by_rock(45) == b
    store.links.save_base(a.id, Base(JANE))
    assert other.links.load_bases() == {}
    assert other.links.get(a.id) is None
    store.watermarks.set("pco.people", "x")
    assert other.watermarks.get("pco.people") is None


def test_group_links(store: Store, clock: FakeClock) -> None:
    g = store.groups.upsert(501, "TeamPosition:77", GroupKind.TEAM_POSITION, created_by_import=True)
    assert g.created_by_import and g.status is GroupLinkStatus.ACTIVE
    clock.advance(minutes=1)
    again = store.groups.upsert(501, "TeamPosition:77", GroupKind.TEAM_POSITION)
    assert again.id == g.id and again.created_by_import  # the import marker sticks
    assert store.groups.by_pco("TeamPosition:77") == again
    assert store.groups.by_rock(501) == again
    with pytest.raises(LinkConflict):
        store.groups.upsert(501, "TeamPosition:78", GroupKind.TEAM_POSITION)
    folder = store.groups.upsert(400, "Folder:1", GroupKind.FOLDER)
    store.groups.set_status(g.id, GroupLinkStatus.INACTIVE)
    assert store.groups.get(g.id).status is GroupLinkStatus.INACTIVE  # type: ignore[union-attr]
    assert [x.id for x in store.groups.all(kind=GroupKind.FOLDER)] == [folder.id]
    assert [x.id for x in store.groups.all(imported_only=True)] == [g.id]
    assert [x.id for x in store.groups.all(status=GroupLinkStatus.ACTIVE)] == [folder.id]
    store.groups.remove(g.id)
    assert store.groups.get(g.id) is None


def test_removing_a_group_link_drops_its_bases_and_only_in_its_connection(store: Store) -> None:
    other = store.for_connection("north-campus")
    link = store.links.add(45, "123")
    group = store.groups.upsert(501, "TeamPosition:77", GroupKind.TEAM_POSITION)
    store.links.save_memberships({(link.id, group.id): True})
    other.groups.remove(group.id)  # not the other connection's group: nothing happens
    assert store.groups.get(group.id) == group
    assert store.links.load_memberships() == {(link.id, group.id)}
    store.groups.remove(group.id)
    assert store.groups.get(group.id) is None
    assert store.links.load_memberships() == set()
