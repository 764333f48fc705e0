"""Matching unlinked people: link only on unique evidence, report everything else.

Properties: any link made is unique on both sides, joins two unlinked records, is supported
by evidence no other record shares, is never contradicted, and — with ground truth — never
joins two different people.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from pcosync.domain import Person, Side
from pcosync.engine import Evidence, IssueKind, MatchRecord, match_people
from pcosync.engine.match import ISSUE_KEY_MAX, TIERS, _keys, contradicts, evidence_between

JANE = Person(
    first_name="Jane",
    last_name="Doe",
    birthdate=date(1988, 6, 2),
    email="jane@example.org",
    mobile_phone="+12025550143",
)


def rock(rid: int, person: Person, linked_to: str | None = None) -> MatchRecord:
    return MatchRecord(Side.ROCK, rid, person, linked_to)


def pco(pid: str, person: Person, linked_to: int | None = None) -> MatchRecord:
    return MatchRecord(Side.PCO, pid, person, linked_to)


def test_email_and_last_name_links() -> None:
    other = replace(JANE, mobile_phone=None, birthdate=None)
    result = match_people([rock(45, JANE)], [pco("123", other)])
    (link,) = result.links
    assert (link.rock_id, link.pco_id, link.evidence) == (45, "123", Evidence.EMAIL_LAST_NAME)
    assert result.issues == [] and result.unmatched == []


def test_matching_ignores_case_and_accents() -> None:
    a = replace(JANE, email="JANE@Example.org", last_name="Dóe", first_name="JANE")
    result = match_people([rock(45, a)], [pco("123", JANE)])
    assert [(lk.rock_id, lk.pco_id) for lk in result.links] == [(45, "123")]


def test_mobile_and_last_name_when_emails_differ() -> None:
    other = replace(JANE, email="jd@work.example.com")
    (link,) = match_people([rock(45, JANE)], [pco("123", other)]).links
    assert link.evidence is Evidence.MOBILE_LAST_NAME


def test_name_and_birthdate_as_last_resort() -> None:
    other = replace(JANE, email=None, mobile_phone=None)
    (link,) = match_people([rock(45, JANE)], [pco("123", other)]).links
    assert link.evidence is Evidence.NAME_BIRTHDATE


def test_no_candidate_means_create_across() -> None:
    result = match_people([rock(45, JANE)], [pco("9", Person(first_name="Bob", last_name="Ray"))])
    assert result.links == [] and result.issues == []
    assert {r.id for r in result.unmatched} == {45, "9"}


def test_a_weaker_claim_still_contests() -> None:
    """PCO 124 matches Rock 45 only by name and birthdate, but that is 124's best match:
    two PCO records claim one Rock person, so nobody is linked (124 is likely a duplicate)."""
    twin_name = replace(JANE, email="other@example.org", mobile_phone=None)
    result = match_people([rock(45, JANE)], [pco("123", JANE), pco("124", twin_name)])
    assert result.links == []
    (issue,) = result.issues
    assert issue.kind is IssueKind.CONTESTED
    assert issue.pco_ids == ("123", "124") and issue.rock_ids == (45,)
    assert {e.evidence for e in issue.evidence} == {
        Evidence.EMAIL_LAST_NAME,
        Evidence.NAME_BIRTHDATE,
    }


def test_strongest_tier_decides_between_candidates() -> None:
    """Rock 45's email match is unique, so a weaker mobile match elsewhere does not count."""
    mobile_only = Person(
        first_name="Jane",
        last_name="Doe",
        mobile_phone="+12025550143",
        birthdate=JANE.birthdate,
        email="jane@example.org",
    )
    other_mobile = replace(JANE, email="b@example.org", birthdate=None)
    b_rock = replace(other_mobile, mobile_phone="+12025550999")
    result = match_people(
        [rock(45, mobile_only), rock(46, b_rock)], [pco("123", JANE), pco("124", other_mobile)]
    )
    assert [(lk.rock_id, lk.pco_id, lk.evidence) for lk in result.links] == [
        (45, "123", Evidence.EMAIL_LAST_NAME),
        (46, "124", Evidence.EMAIL_LAST_NAME),
    ]


def test_family_sharing_an_email_does_not_link_the_spouse() -> None:
    john = Person(
        first_name="John", last_name="Doe", birthdate=date(1985, 1, 1), email="jane@example.org"
    )
    result = match_people([rock(45, JANE), rock(46, john)], [pco("123", JANE)])
    assert [(lk.rock_id, lk.pco_id) for lk in result.links] == [(45, "123")]
    assert [r.id for r in result.unmatched] == [46]


def test_nickname_bridges_given_names_for_the_veto() -> None:
    bob = Person(first_name="Robert", nickname="Bob", last_name="Ray", email="bob@example.org")
    bob_pco = Person(first_name="Bob", last_name="Ray", email="bob@example.org")
    assert not contradicts(bob, bob_pco)
    assert len(match_people([rock(1, bob)], [pco("1", bob_pco)]).links) == 1


def test_different_birthdates_are_different_people() -> None:
    junior = replace(JANE, birthdate=date(2015, 6, 2))
    result = match_people([rock(45, JANE)], [pco("123", junior)])
    assert result.links == []


def test_ambiguous_two_candidates() -> None:
    result = match_people([rock(45, JANE), rock(46, JANE)], [pco("123", JANE)])
    assert result.links == []
    (issue,) = result.issues
    assert issue.kind is IssueKind.CONTESTED  # two Rock records claim the same PCO person
    assert issue.rock_ids == (45, 46) and issue.pco_ids == ("123",)
    assert "Rock person Jane Doe (Id 45)" in issue.message
    assert "Rock person Jane Doe (Id 46)" in issue.message
    assert "Planning Center person Jane Doe (id 123)" in issue.message
    assert "merge the duplicates in Rock" in issue.message
    assert "pcosync people link ROCK_ID PCO_ID" in issue.message
    assert [(e.rock_id, e.pco_id, e.evidence) for e in issue.evidence] == [
        (45, "123", Evidence.EMAIL_LAST_NAME),
        (46, "123", Evidence.EMAIL_LAST_NAME),
    ]


def test_ambiguous_one_record_with_several_candidates() -> None:
    """PCO 123 matches two Rock people; each Rock person's own best match is elsewhere."""
    r45 = replace(JANE, email="r45@example.org")  # matches 123 by mobile only
    r46 = replace(JANE, email="r46@example.org")
    p1 = replace(JANE, email="r45@example.org", mobile_phone=None, birthdate=None)
    p2 = replace(JANE, email="r46@example.org", mobile_phone=None, birthdate=None)
    p123 = replace(JANE, email=None)
    result = match_people(
        [rock(45, r45), rock(46, r46)], [pco("1", p1), pco("2", p2), pco("123", p123)]
    )
    kinds = Counter(i.kind for i in result.issues)
    assert result.links == []
    assert kinds == {IssueKind.AMBIGUOUS: 1}
    (issue,) = result.issues
    assert "matches 2 Rock people by mobile number and last name" in issue.message


def test_already_linked_message_names_everyone_and_the_fix() -> None:
    smith = replace(JANE, last_name="Smith", email="smith@example.org", mobile_phone=None)
    result = match_people(
        [rock(45, JANE, linked_to="99")],
        [pco("123", JANE), pco("99", smith, linked_to=45)],
    )
    assert result.links == []
    (issue,) = result.issues
    assert issue.kind is IssueKind.ALREADY_LINKED
    assert issue.message.startswith(
        "Planning Center person Jane Doe (id 123) matches Rock person Jane Doe (Id 45) by "
        "email and last name, but Rock person 45 is already being synced with Planning "
        "Center person 99 (Jane Smith)."
    )
    assert "merge the duplicates in Planning Center" in issue.message
    assert "`pcosync people link ROCK_ID PCO_ID`" in issue.message
    assert issue.key == "already_linked:rock=45:pco=123"
    record = next(r for r in issue.records if r.id == 45)
    assert (record.linked_to, record.linked_to_name) == ("99", "Jane Smith")


def test_linked_records_do_not_match_again() -> None:
    result = match_people([rock(45, JANE, linked_to="123")], [pco("123", JANE, linked_to=45)])
    assert result.links == [] and result.issues == [] and result.unmatched == []


def test_never_link_excludes_a_pair() -> None:
    result = match_people([rock(45, JANE)], [pco("123", JANE)], never_link={(45, "123")})
    assert result.links == []
    assert {r.id for r in result.unmatched} == {45, "123"}


def test_issue_key_is_stable() -> None:
    a = match_people([rock(45, JANE), rock(46, JANE)], [pco("123", JANE)]).issues[0]
    b = match_people([rock(46, JANE), rock(45, JANE)], [pco("123", JANE)]).issues[0]
    assert a.key == b.key == "contested:rock=45,46:pco=123"
    assert a.message == b.message


def test_issue_key_too_long_for_the_store_becomes_a_stable_digest() -> None:
    office = Person(last_name="Member", mobile_phone="+12025550143")
    pcos = [pco(str(100_000_000 + i), office) for i in range(40)]
    (issue,) = match_people([rock(1, office)], pcos).issues
    (again,) = match_people([rock(1, office)], list(reversed(pcos))).issues
    assert issue.key == again.key and issue.key.startswith("contested:sha256=")
    assert len(issue.key) <= ISSUE_KEY_MAX
    (fewer,) = match_people([rock(1, office)], pcos[:-1]).issues
    assert fewer.key != issue.key  # other records involved: another issue


def test_thousands_sharing_one_office_email_make_one_issue() -> None:
    """A placeholder email on a whole congregation is one big component: reported, no crash."""
    shared = Person(last_name="Member", email="office@church.org")
    pcos = [pco(str(i), shared) for i in range(1500)]
    result = match_people([rock(1, shared), rock(2, shared)], pcos)
    assert result.links == [] and result.unmatched == []
    (issue,) = result.issues
    assert len(issue.records) == 1502


# --- properties -------------------------------------------------------------------------

FIRSTS = ["Ann", "Bob", "Cara", "Dan"]
LASTS = ["Lee", "Moe"]
EMAILS = ["f1@x.org", "f2@x.org", "f3@x.org", None]
PHONES = ["+12025550101", "+12025550102", None]
BIRTHS = [date(1980, 1, 1), date(1990, 2, 2), None]

records = st.builds(
    Person,
    first_name=st.sampled_from(FIRSTS),
    last_name=st.sampled_from(LASTS),
    email=st.sampled_from(EMAILS),
    mobile_phone=st.sampled_from(PHONES),
    birthdate=st.sampled_from(BIRTHS),
)


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[MatchRecord], list[MatchRecord]]:
    rocks = draw(st.lists(records, max_size=7))
    pcos = draw(st.lists(records, max_size=7))
    rock_recs = [rock(i + 1, p) for i, p in enumerate(rocks)]
    pco_recs = [pco(str(100 + i), p) for i, p in enumerate(pcos)]
    # Link some existing pairs (whatever their data) to exercise "already linked".
    n = draw(st.integers(0, min(len(rock_recs), len(pco_recs), 2)))
    for i in range(n):
        rock_recs[i] = replace(rock_recs[i], linked_to=pco_recs[i].id)
        pco_recs[i] = replace(pco_recs[i], linked_to=rock_recs[i].id)
    return rock_recs, pco_recs


def tier_of(a: Person, b: Person) -> int | None:
    if contradicts(a, b):
        return None
    ev = evidence_between(a, b)
    return TIERS.index(ev) if ev is not None else None


def best_tier(rec: MatchRecord, others: list[MatchRecord]) -> int | None:
    """The record's strongest productive tier, computed the slow way."""
    found = None
    for o in others:
        for t, (ka, kb) in enumerate(zip(_keys(rec.person), _keys(o.person), strict=True)):
            if ka is not None and ka == kb and not contradicts(rec.person, o.person):
                found = t if found is None else min(found, t)
    return found


@settings(max_examples=500)
@given(populations())
def test_never_a_wrong_link(pop: tuple[list[MatchRecord], list[MatchRecord]]) -> None:
    rocks, pcos = pop
    result = match_people(rocks, pcos)
    by_rock = {r.id: r for r in rocks}
    by_pco = {p.id: p for p in pcos}
    # Unique on both sides.
    assert len({lk.rock_id for lk in result.links}) == len(result.links)
    assert len({lk.pco_id for lk in result.links}) == len(result.links)
    for link in result.links:
        r, p = by_rock[link.rock_id], by_pco[link.pco_id]
        # Neither was linked before.
        assert r.linked_to is None and p.linked_to is None
        # Supported by the evidence it names, and nothing contradicts it.
        assert not contradicts(r.person, p.person)
        assert TIERS.index(link.evidence) == tier_of(r.person, p.person)
        # Nobody else shares evidence this strong with either record.
        t = TIERS.index(link.evidence)
        for other in pcos:
            if other.id != p.id:
                ot = tier_of(r.person, other.person)
                assert ot is None or ot > t, f"PCO {other.id} ties Rock {r.id}"
        for other in rocks:
            if other.id == r.id:
                continue
            ot = tier_of(other.person, p.person)
            assert ot is None or ot > t, f"Rock {other.id} ties PCO {p.id}"
            if other.linked_to is None and ot is not None:
                assert best_tier(other, pcos) != ot, f"Rock {other.id} claims PCO {p.id}"
        for other in pcos:
            if other.id == p.id or other.linked_to is not None:
                continue
            ot = tier_of(r.person, other.person)
            if ot is not None:
                assert best_tier(other, rocks) != ot, f"PCO {other.id} claims Rock {r.id}"
    # Every unlinked record ends up in exactly one place: linked, in an issue, or unmatched.
    linked_nodes = {(Side.ROCK, lk.rock_id) for lk in result.links} | {
        (Side.PCO, lk.pco_id) for lk in result.links
    }
    issue_nodes = [(r.side, r.id) for i in result.issues for r in i.records]
    unmatched = {(r.side, r.id) for r in result.unmatched}
    assert len(issue_nodes) == len(set(issue_nodes)), "a record in two issues"
    for rec in (*rocks, *pcos):
        if rec.linked_to is not None:
            continue
        places = [
            (rec.side, rec.id) in linked_nodes,
            (rec.side, rec.id) in set(issue_nodes),
            (rec.side, rec.id) in unmatched,
        ]
        assert sum(places) == 1, (rec, places)
    for issue in result.issues:
        assert issue.message and issue.records


@st.composite
def church(draw: st.DrawFn) -> tuple[list[MatchRecord], list[MatchRecord], dict[object, int]]:
    """Ground truth: people, each recorded on Rock and/or PCO (sometimes twice), with noise.

    Distinct people are distinguishable in principle: two people who share first and last
    name always have (different) birthdates on every record.
    """
    n = draw(st.integers(1, 8))
    truths: list[Person] = []
    for i in range(n):
        first = draw(st.sampled_from(FIRSTS))
        last = draw(st.sampled_from(LASTS))
        truths.append(
            Person(
                first_name=first,
                last_name=last,
                birthdate=date(1970 + i, 1 + i % 12, 1),
                email=draw(st.sampled_from([f"fam{draw(st.integers(0, 2))}@x.org", None])),
                mobile_phone=draw(st.sampled_from([f"+1202555{1000 + i}", None])),
            )
        )
    name_clash = Counter((t.first_name, t.last_name) for t in truths)
    owner: dict[object, int] = {}
    rocks: list[MatchRecord] = []
    pcos: list[MatchRecord] = []
    for t_index, truth in enumerate(truths):
        for side in (Side.ROCK, Side.PCO):
            copies = draw(st.sampled_from([0, 1, 1, 1, 2]))
            for _ in range(copies):
                noisy = truth
                if name_clash[(truth.first_name, truth.last_name)] == 1 and draw(st.booleans()):
                    noisy = replace(noisy, birthdate=None)
                if draw(st.booleans()):
                    noisy = replace(noisy, email=None)
                if draw(st.booleans()):
                    noisy = replace(noisy, mobile_phone=None)
                if side is Side.ROCK:
                    rec = rock(len(rocks) + 1, noisy)
                    rocks.append(rec)
                else:
                    rec = pco(str(len(pcos) + 1), noisy)
                    pcos.append(rec)
                owner[rec.node] = t_index
    return rocks, pcos, owner


@settings(max_examples=500)
@given(church())
def test_links_never_join_two_different_people(
    world: tuple[list[MatchRecord], list[MatchRecord], dict[object, int]],
) -> None:
    rocks, pcos, owner = world
    result = match_people(rocks, pcos)
    for link in result.links:
        assert owner[(Side.ROCK, link.rock_id)] == owner[(Side.PCO, link.pco_id)], link


# --------------------------------------------------------------- name only (issue 12)

ANN = Person(first_name="Ann", last_name="Lee")


def test_the_same_name_and_nothing_else_is_a_possible_duplicate_not_a_create() -> None:
    result = match_people([rock(45, ANN)], [pco("123", replace(ANN, first_name="ANN"))])
    assert result.links == [] and result.unmatched == []
    (issue,) = result.issues
    assert issue.kind is IssueKind.POSSIBLE_DUPLICATE
    assert (issue.rock_ids, issue.pco_ids) == ((45,), ("123",))
    assert [e.evidence for e in issue.evidence] == [Evidence.NAME_ONLY]
    assert issue.message.startswith("Possible duplicate: Planning Center person ANN Lee (id 123)")
    assert "and Rock person Ann Lee (Id 45) have the same first" in issue.message
    assert "`pcosync people link 45 123`" in issue.message
    assert "`pcosync people issues create`" in issue.message


def test_data_on_one_side_only_does_not_tell_them_apart() -> None:
    known = replace(ANN, email="ann@example.org", birthdate=date(1990, 1, 1))
    (issue,) = match_people([rock(45, ANN)], [pco("123", known)]).issues
    assert issue.kind is IssueKind.POSSIBLE_DUPLICATE


def test_anything_that_differs_means_two_people_created() -> None:
    for field, a, b in (
        ("email", "ann@a.org", "ann@b.org"),
        ("mobile_phone", "+12025550101", "+12025550102"),
        ("birthdate", date(1990, 1, 1), date(1991, 1, 1)),
    ):
        r, p = replace(ANN, **{field: a}), replace(ANN, **{field: b})
        result = match_people([rock(45, r)], [pco("123", p)])
        assert result.issues == [] and {x.id for x in result.unmatched} == {45, "123"}, field


def test_name_only_can_be_switched_off_and_never_link_is_respected() -> None:
    off = match_people([rock(45, ANN)], [pco("123", ANN)], name_only=False)
    assert off.issues == [] and {x.id for x in off.unmatched} == {45, "123"}
    kept = match_people([rock(45, ANN)], [pco("123", ANN)], never_link={(45, "123")})
    assert kept.issues == [] and {x.id for x in kept.unmatched} == {45, "123"}


def test_several_of_one_name_make_one_issue_and_others_are_untouched() -> None:
    bob = Person(first_name="Bob", last_name="Ray")
    result = match_people([rock(45, ANN), rock(46, ANN)], [pco("123", ANN), pco("9", bob)])
    (issue,) = result.issues
    assert (issue.rock_ids, issue.pco_ids) == ((45, 46), ("123",))
    assert "link the right pair" in issue.message
    assert [x.id for x in result.unmatched] == ["9"]
    # a linked record is never a possible duplicate
    linked = match_people([rock(45, ANN, linked_to="7")], [pco("123", ANN)])
    assert linked.issues == [] and [x.id for x in linked.unmatched] == ["123"]
