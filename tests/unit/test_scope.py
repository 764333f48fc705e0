"""The engine's scope rules: which pairs are planned, adoption, creates held back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pcosync.domain import Person, Side
from pcosync.engine.match import MatchRecord
from pcosync.engine.merge import Base
from pcosync.engine.ports import ObservedPerson
from pcosync.engine.scope import Suppression, adopt_mutual, creates_for, linked_pairs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANN = Person(first_name="Ann", last_name="Lee")


@dataclass(frozen=True)
class L:
    id: int
    rock_person_id: int
    pco_person_id: str


def rock(rid: int, hint: str | None = None, at: datetime = T0) -> ObservedPerson:
    return ObservedPerson(Side.ROCK, rid, ANN, at, link_hint=hint)


def pco(pid: str, hint: int | None = None, at: datetime = T0) -> ObservedPerson:
    return ObservedPerson(Side.PCO, pid, ANN, at, link_hint=hint)


def test_linked_pairs_skip_the_out_of_scope_and_the_unchanged() -> None:
    links = [L(1, 10, "a"), L(2, 20, "b"), L(3, 30, "c"), L(4, 40, "d")]
    bases = {1: Base(ANN), 2: Base(ANN), 3: Base(ANN)}
    out = linked_pairs(
        links,
        bases,
        rock={10: rock(10, "a"), 30: rock(30, "c")},
        pco={"b": pco("b", 20), "d": pco("d", 40)},
        serving={"a", "b", "d"},
        rock_scope={30},
    )
    assert sorted(p.link_id for p in out.pairs if p.link_id) == [1, 2, 3]
    # d has no base and its Rock record was not read: the caller must read it first
    assert [lk.id for lk in out.incomplete] == [4]


def test_out_of_scope_links_are_never_planned_even_when_changed() -> None:
    out = linked_pairs(
        [L(1, 10, "a")], {1: Base(ANN)}, {10: rock(10)}, {"a": pco("a")}, set(), set()
    )
    assert out.pairs == [] and out.incomplete == []


def test_adopt_mutual_needs_both_ids_and_respects_exclusions() -> None:
    pool = {10: rock(10, "a"), 20: rock(20, "x"), 30: rock(30, "c")}
    unlinked = [pco("a", 10), pco("b", 20), pco("c", 30)]
    got = adopt_mutual(unlinked, pool, linked_rock=set(), excluded={(30, "c")})
    assert [(r.id, p.id) for r, p in got.pairs] == [(10, "a")]
    assert [p.id for p in got.remaining] == ["b", "c"]


def test_a_pco_record_whose_remote_id_is_still_owed_is_adopted_by_rock_alone() -> None:
    # Rock's PcoPersonId is written with the link, Planning Center's remote_id later (with
    # the budget left over): the store lost meanwhile, Rock's id alone re-links the pair
    pool = {10: rock(10, "a"), 20: rock(20, "b"), 21: rock(21, "b"), 30: rock(30, "c")}
    unlinked = [pco("a"), pco("b"), pco("c", 99), pco("d")]
    got = adopt_mutual(unlinked, pool, linked_rock=set(), excluded=set())
    assert [(r.id, p.id) for r, p in got.pairs] == [(10, "a")]
    # b: two Rock records claim it (the matcher reports them); c: its remote_id names
    # someone else (never overruled); d: nobody claims it
    assert [p.id for p in got.remaining] == ["b", "c", "d"]


def test_a_one_sided_claim_never_adopts_a_linked_or_excluded_rock_record() -> None:
    pool = {10: rock(10, "a"), 20: rock(20, "b")}
    got = adopt_mutual([pco("a"), pco("b")], pool, linked_rock={10}, excluded={(20, "b")})
    assert got.pairs == []


def test_creates_skip_blocked_and_reverted_people_until_they_change() -> None:
    recs = [MatchRecord(Side.PCO, "a", ANN), MatchRecord(Side.PCO, "b", ANN)]
    recs.append(MatchRecord(Side.ROCK, 10, ANN))
    reverted_at = T0 + timedelta(hours=1)
    creates, held = creates_for(
        recs,
        pco={"a": pco("a"), "b": pco("b", at=T0 + timedelta(hours=2))},
        rock_pool={10: rock(10)},
        serving={"a", "b"},
        rock_unlinked={10},
        blocked={(Side.ROCK, 10)},
        suppressed={
            (Side.ROCK, "a"): Suppression(reverted_at),
            (Side.ROCK, "b"): Suppression(reverted_at),
        },
    )
    # a: taken back by a revert and unchanged since; b: changed after it; 10: blocked
    assert [c.id for c in creates] == ["b"] and held == [(Side.PCO, "a")]


def test_with_a_snapshot_the_values_decide_not_a_timestamp_kept_to_the_second() -> None:
    """CI flake of test_revert: an edit made within the second of the revert carries an
    ``updated_at`` (whole seconds, as Planning Center keeps it) older than the revert, and
    the person was held back for good although their nickname had changed."""
    reverted_at = T0 + timedelta(seconds=10, milliseconds=700)
    same_second = T0 + timedelta(seconds=10)  # the edit, at .9 s, truncated
    edited = ANN.with_values(nickname="Back")
    recs = [MatchRecord(Side.PCO, pid, ANN) for pid in ("a", "b", "c")]
    creates, held = creates_for(
        recs,
        pco={
            "a": ObservedPerson(Side.PCO, "a", edited, same_second),
            "b": ObservedPerson(Side.PCO, "b", ANN, same_second),
            # only an unsynced field changed (e.g. the revert's own remote_id write)
            "c": ObservedPerson(Side.PCO, "c", ANN, T0 + timedelta(seconds=11)),
        },
        rock_pool={},
        serving={"a", "b", "c"},
        rock_unlinked=set(),
        suppressed={(Side.ROCK, p): Suppression(reverted_at, ANN) for p in ("a", "b", "c")},
    )
    assert [c.id for c in creates] == ["a"]
    assert held == [(Side.PCO, "b"), (Side.PCO, "c")]
