"""The planner's operations: what gets written where, with which before-image and reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from pcosync.domain import (
    FIELDS,
    Address,
    Direction,
    FieldName,
    GroupRef,
    Membership,
    MembershipKey,
    Person,
    PersonRef,
    Side,
    SyncPolicy,
)
from pcosync.engine import (
    Base,
    OneSided,
    OpKind,
    PersonPair,
    Reason,
    agreed_by,
    base_after_ops,
    held_reading,
    plan_leavers,
    plan_memberships,
    plan_people,
    plan_revert,
    settle_base,
    unapplied_fields,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
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


def linked(
    rock: Person | None = JANE, pco: Person | None = JANE, base: Person = JANE, **kw: object
) -> PersonPair:
    return PersonPair(7, 45, "123", Base(base), rock, pco, T0, T0, **kw)  # type: ignore[arg-type]


def test_unchanged_pair_plans_nothing() -> None:
    plan = plan_people([linked()])
    assert plan.operations == [] and plan.conflicts == [] and plan.bases == {}


def test_rock_edit_becomes_one_pco_update_with_before_image() -> None:
    rock = replace(JANE, email="jane.doe@example.org", last_name="Doe-Smith")
    plan = plan_people([linked(rock=rock)])
    (op,) = plan.operations
    assert (op.kind, op.side, op.reason, op.seq) == (OpKind.UPDATE, Side.PCO, Reason.EDIT, 1)
    assert op.ref == PersonRef(7, 45, "123")
    assert op.target_id == "123" and op.link_hint == 45
    assert op.changes == {
        FieldName.EMAIL: ("jane@example.org", "jane.doe@example.org"),
        FieldName.LAST_NAME: ("Doe", "Doe-Smith"),
    }
    assert op.before == JANE
    assert plan.bases[op.ref] == Base(rock)


def test_edits_on_both_sides_make_two_updates() -> None:
    rock = replace(JANE, email="new@example.org")
    pco = replace(JANE, mobile_phone="+12025550199")
    plan = plan_people([linked(rock=rock, pco=pco)])
    by_side = {op.side: op for op in plan.operations}
    assert by_side[Side.PCO].changes == {FieldName.EMAIL: ("jane@example.org", "new@example.org")}
    assert by_side[Side.ROCK].changes == {FieldName.MOBILE_PHONE: ("+12025550143", "+12025550199")}
    assert [op.seq for op in plan.operations] == [1, 2]
    assert plan.bases[PersonRef(7, 45, "123")] == Base(
        replace(JANE, email="new@example.org", mobile_phone="+12025550199")
    )


def test_our_own_write_coming_back_is_not_an_edit() -> None:
    """After we copied Rock's email to PCO, both equal the new base: nothing to do."""
    new = replace(JANE, email="new@example.org")
    assert plan_people([linked(rock=new, pco=new, base=new)]).operations == []


def test_new_link_writes_link_ids_on_both_records_then_fills() -> None:
    pco = replace(JANE, mobile_phone=None, campus=None)
    pair = PersonPair(None, 45, "123", None, JANE, pco, T0, T0)
    plan = plan_people([pair])
    kinds = [(op.kind, op.side) for op in plan.operations]
    assert kinds == [(OpKind.LINK, Side.ROCK), (OpKind.LINK, Side.PCO), (OpKind.UPDATE, Side.PCO)]
    update = plan.operations[2]
    assert update.reason is Reason.NEW_LINK
    assert set(update.changes) == {FieldName.MOBILE_PHONE, FieldName.CAMPUS}
    assert plan.bases[PersonRef(None, 45, "123")] == Base(JANE)


def test_missing_link_id_on_a_record_is_written_again() -> None:
    plan = plan_people([linked(pco_link_ok=False)])
    ((op),) = plan.operations
    assert (op.kind, op.side) == (OpKind.LINK, Side.PCO)
    assert plan.bases == {}


def test_a_pair_without_base_needs_both_records() -> None:
    with pytest.raises(ValueError, match="both records"):
        plan_people([PersonPair(None, 45, "123", None, JANE, None)])


def test_create_carries_full_record_and_link_hint() -> None:
    single = OneSided(Side.ROCK, 45, JANE, T0)
    plan = plan_people([], one_sided=[single])
    (op,) = plan.operations
    assert (op.kind, op.side, op.reason) == (OpKind.CREATE, Side.PCO, Reason.CREATED)
    assert op.record == JANE
    assert op.target_id is None and op.link_hint == 45
    assert op.before is None
    assert set(op.changes) == set(FIELDS)
    assert plan.bases[PersonRef(None, 45, None)] == Base(JANE)


def test_create_leaves_out_fields_that_do_not_flow_that_way() -> None:
    policy = SyncPolicy().with_fields(campus="pco_to_rock", email="off")
    single = OneSided(Side.ROCK, 45, JANE, T0)
    plan = plan_people([], policy, one_sided=[single])
    (op,) = plan.operations
    assert op.record is not None
    assert op.record.campus is None and op.record.email is None
    assert FieldName.CAMPUS not in op.changes and FieldName.EMAIL not in op.changes
    base = plan.bases[PersonRef(None, 45, None)]
    assert base.unknown == {FieldName.CAMPUS, FieldName.EMAIL}


def test_create_then_next_run_converges_even_with_one_way_fields() -> None:
    policy = SyncPolicy().with_fields(campus="pco_to_rock", email="off")
    plan = plan_people([], policy, one_sided=[OneSided(Side.ROCK, 45, JANE, T0)])
    (op,) = plan.operations
    assert op.record is not None
    base = plan.bases[PersonRef(None, 45, None)]
    again = plan_people([PersonPair(9, 45, "900", base, JANE, op.record, T0, T0)], policy)
    assert again.operations == []  # Rock's campus is not wiped by PCO's empty one


def test_pco_only_person_creates_in_rock() -> None:
    plan = plan_people([], one_sided=[OneSided(Side.PCO, "123", JANE)])
    (op,) = plan.operations
    assert op.side is Side.ROCK and op.link_hint == "123"
    assert op.ref == PersonRef(None, None, "123")


def test_off_field_is_never_written() -> None:
    rock = replace(JANE, email="new@example.org", campus="north")
    plan = plan_people([linked(rock=rock)], SyncPolicy().with_fields(email="off"))
    (op,) = plan.operations
    assert set(op.changes) == {FieldName.CAMPUS}


def test_seqs_continue_from_start_seq() -> None:
    rock = replace(JANE, email="new@example.org")
    plan = plan_people([linked(rock=rock)], start_seq=41)
    assert plan.operations[0].seq == 41 and plan.next_seq == 42


def test_unchanged_side_not_reread_stands_in_from_base() -> None:
    rock = replace(JANE, email="new@example.org")
    plan = plan_people([linked(rock=rock, pco=None)])
    (op,) = plan.operations
    assert op.side is Side.PCO and op.before == JANE


def test_many_pairs_keep_order_and_only_changed_bases() -> None:
    pairs = []
    for i in range(50):
        rock = replace(JANE, email=f"p{i}@example.org") if i % 10 == 0 else JANE
        pairs.append(PersonPair(i, 1000 + i, str(2000 + i), Base(JANE), rock, JANE, T0, T0))
    plan = plan_people(pairs)
    assert [op.ref.link_id for op in plan.operations] == [0, 10, 20, 30, 40]
    assert {ref.link_id for ref in plan.bases} == {0, 10, 20, 30, 40}


def test_settle_base_keeps_old_base_for_failed_fields() -> None:
    rock = replace(JANE, email="new@example.org")
    pco = replace(JANE, mobile_phone="+12025550199")
    plan = plan_people([linked(rock=rock, pco=pco)])
    ref = PersonRef(7, 45, "123")
    pco_op = next(op for op in plan.operations if op.side is Side.PCO)
    failed = unapplied_fields(
        plan.ops_for(ref), applied_seqs=[o.seq for o in plan.ops_for(ref) if o is not pco_op]
    )
    assert failed == {FieldName.EMAIL}
    settled = settle_base(Base(JANE), plan.bases[ref], failed)
    assert settled.person.email == JANE.email  # retried next run
    assert settled.person.mobile_phone == "+12025550199"
    # Next run with the failed write still pending re-plans it.
    rock_now = replace(rock, mobile_phone="+12025550199")  # the Rock write landed
    again = plan_people([linked(rock=rock_now, pco=pco, base=settled.person)])
    assert [(o.side, set(o.changes)) for o in again.operations] == [(Side.PCO, {FieldName.EMAIL})]


def test_settle_base_without_old_base_marks_failed_unknown() -> None:
    planned = Base(JANE)
    settled = settle_base(None, planned, {FieldName.EMAIL})
    assert settled.unknown == {FieldName.EMAIL}
    assert settle_base(None, planned) is planned


def test_base_after_ops_for_approved_runs() -> None:
    rock = replace(JANE, email="new@example.org")
    plan = plan_people([linked(rock=rock)])
    assert base_after_ops(Base(JANE), plan.operations) == Base(rock)
    created = plan_people([], one_sided=[OneSided(Side.ROCK, 1, JANE)])
    assert base_after_ops(None, created.operations) == Base(JANE)


def test_base_json_round_trip_keeps_unknown() -> None:
    base = Base(replace(JANE, email=None), frozenset({FieldName.EMAIL}))
    raw = base.to_json()
    assert "email" not in raw
    assert raw["birthdate"] == "1988-06-02"
    assert Base.from_json(raw) == base


def test_naive_modified_time_is_rejected() -> None:
    rock = replace(JANE, email="x@example.org")
    pair = PersonPair(7, 45, "123", Base(JANE), rock, JANE, datetime(2025, 1, 1), T0)
    with pytest.raises(ValueError, match="naive"):
        plan_people([pair])


# --- memberships ------------------------------------------------------------------------

BAND = GroupRef(3, 501, "TeamPosition:77")
REF = PersonRef(7, 45, "123")


def mem(base: bool | None, rock: bool | None, pco: bool | None, ref: PersonRef = REF) -> Membership:
    return Membership(MembershipKey(ref, BAND), base, rock, pco)


def test_membership_added_in_rock_is_added_in_pco() -> None:
    plan = plan_memberships([mem(None, True, False)])
    (op,) = plan.operations
    assert (op.kind, op.side, op.group, op.reason) == (
        OpKind.ADD_MEMBER,
        Side.PCO,
        BAND,
        Reason.NEW_MEMBER,
    )
    assert plan.membership_bases[MembershipKey(REF, BAND)] is True


def test_membership_removed_in_pco_is_removed_in_rock() -> None:
    plan = plan_memberships([mem(True, True, False)])
    (op,) = plan.operations
    assert (op.kind, op.side) == (OpKind.REMOVE_MEMBER, Side.ROCK)
    assert plan.membership_bases[MembershipKey(REF, BAND)] is False


def test_membership_without_base_never_removes() -> None:
    plan = plan_memberships([mem(None, False, True)])
    assert [op.kind for op in plan.operations] == [OpKind.ADD_MEMBER]


def test_membership_agreement_and_unread_sides() -> None:
    assert plan_memberships([mem(True, True, True)]).operations == []
    assert plan_memberships([mem(True, None, None)]).operations == []
    plan = plan_memberships([mem(True, False, None)])  # PCO roster not re-read: unchanged
    assert [(op.kind, op.side) for op in plan.operations] == [(OpKind.REMOVE_MEMBER, Side.PCO)]
    both_removed = plan_memberships([mem(True, False, False)])
    assert both_removed.operations == []
    assert both_removed.membership_bases[MembershipKey(REF, BAND)] is False


def test_membership_one_way_and_off() -> None:
    rock_master = SyncPolicy(membership=Direction.ROCK_TO_PCO)
    plan = plan_memberships([mem(True, True, False)], rock_master)
    assert [(op.kind, op.side) for op in plan.operations] == [(OpKind.ADD_MEMBER, Side.PCO)]
    off = SyncPolicy(membership=Direction.OFF)
    assert plan_memberships([mem(None, True, False)], off).operations == []


def test_membership_of_person_being_created_waits_for_the_create() -> None:
    people = plan_people([], one_sided=[OneSided(Side.ROCK, 45, JANE)])
    waiting = PersonRef(None, 45, None)
    plan = plan_memberships([mem(None, True, False, ref=waiting)], people_plan=people)
    (op,) = plan.operations
    assert op.depends_on == (people.operations[0].seq,)
    assert op.seq == people.next_seq
    people.extend(plan)
    assert [o.kind for o in people.operations] == [OpKind.CREATE, OpKind.ADD_MEMBER]


def test_membership_of_unlinked_person_without_create_is_deferred() -> None:
    waiting = PersonRef(None, 45, None)
    plan = plan_memberships([mem(None, True, False, ref=waiting)])
    assert plan.operations == [] and plan.deferred == [MembershipKey(waiting, BAND)]


def test_extend_refuses_overlapping_seqs() -> None:
    a = plan_people([linked(rock=replace(JANE, email="a@example.org"))])
    b = plan_memberships([mem(None, True, False)], start_seq=1)
    with pytest.raises(ValueError, match="overlap"):
        a.extend(b)


# --- revert -----------------------------------------------------------------------------


def test_revert_restores_untouched_fields_and_skips_newer_edits() -> None:
    rock = replace(JANE, email="new@example.org", campus="north")
    plan = plan_people([linked(rock=rock)])
    pco_after = replace(JANE, email="new@example.org", campus="downtown")  # campus edited since

    def current(side: Side, ref: PersonRef) -> Person | None:
        return pco_after if side is Side.PCO else rock

    rev = plan_revert(plan.operations, current)
    (op,) = rev.plan.operations
    assert (op.kind, op.side, op.reason) == (OpKind.UPDATE, Side.PCO, Reason.REVERT)
    assert op.changes == {FieldName.EMAIL: ("new@example.org", "jane@example.org")}
    (skip,) = rev.skipped
    assert skip.field is FieldName.CAMPUS and "Campus" in skip.message


def test_revert_leaves_created_people_to_the_application() -> None:
    """Whether a created record may be deleted needs reads (edited? referenced?): the
    engine plans neither a delete nor a skip for it."""
    plan = plan_people([], one_sided=[OneSided(Side.ROCK, 45, JANE)])
    rev = plan_revert(plan.operations, lambda side, ref: None)
    assert rev.plan.operations == [] and rev.skipped == []


def test_revert_memberships_and_links() -> None:
    adds = plan_memberships([mem(None, True, False)])
    still = plan_revert(adds.operations, lambda s, r: None, lambda s, r, g: True)
    assert [(o.kind, o.side) for o in still.plan.operations] == [(OpKind.REMOVE_MEMBER, Side.PCO)]
    gone = plan_revert(adds.operations, lambda s, r: None, lambda s, r, g: False)
    assert gone.plan.operations == [] and len(gone.skipped) == 1
    links = plan_people([PersonPair(None, 45, "123", None, JANE, JANE)])
    assert [o.kind for o in links.operations] == [OpKind.LINK, OpKind.LINK]
    undo = plan_revert(links.operations, lambda s, r: JANE)
    assert undo.plan.operations == []  # the same person stays linked; values go back


def test_after_reverting_a_conflict_the_next_run_writes_neither_value() -> None:
    """The revert puts the loser back on the written side; the other side keeps the edit.
    With the base left *split*, the next run writes nothing until someone edits again."""
    rock = replace(JANE, campus="north")
    pco = replace(JANE, campus="downtown")
    pair = PersonPair(7, 45, "123", Base(JANE), rock, pco, T0, T0 + timedelta(minutes=1))
    plan = plan_people([pair])
    (op,) = plan.operations
    assert op.side is Side.ROCK  # PCO was later
    rock_after = replace(rock, campus="downtown")
    rev = plan_revert(plan.operations, lambda s, r: rock_after)
    (undo,) = rev.plan.operations
    assert undo.changes == {FieldName.CAMPUS: ("downtown", "north")}
    split = Base(rock, split=((FieldName.CAMPUS, "north", "downtown"),))
    quiet = plan_people([PersonPair(7, 45, "123", split, rock, pco, T0, T0)])
    assert quiet.operations == [] and quiet.conflicts == [] and quiet.bases == {}
    # an edit on either side afterwards syncs as usual, and the split ends
    edited = replace(pco, campus="south")
    later = plan_people([PersonPair(7, 45, "123", split, rock, edited, T0, T0)])
    (spread,) = later.operations
    assert (spread.side, spread.changes) == (Side.ROCK, {FieldName.CAMPUS: ("north", "south")})
    assert later.bases[PersonRef(7, 45, "123")].split == ()
    assert later.conflicts == []


def test_split_base_both_edited_is_a_conflict_decided_by_time() -> None:
    split = Base(JANE, split=((FieldName.EMAIL, "a@example.org", "b@example.org"),))
    rock = replace(JANE, email="c@example.org")
    pco = replace(JANE, email="d@example.org")
    plan = plan_people([PersonPair(7, 45, "123", split, rock, pco, T0, T0 + timedelta(1))])
    (op,) = plan.operations
    assert op.side is Side.ROCK and op.changes[FieldName.EMAIL][1] == "d@example.org"
    (conflict,) = plan.conflicts
    assert conflict.loser_value == "c@example.org"
    same = plan_people([PersonPair(7, 45, "123", split, rock, rock, T0, T0)])
    assert same.operations == [] and same.bases[PersonRef(7, 45, "123")].split == ()


def test_split_base_round_trips_through_json() -> None:
    split = Base(JANE, split=((FieldName.BIRTHDATE, date(1990, 1, 2), None),))
    again = Base.from_json(split.to_json())
    assert again == split


def test_a_membership_left_differing_stays_until_someone_changes_it() -> None:
    person = PersonRef(7, 45, "123")
    group = GroupRef(3, 300, "TeamPosition:9")
    key = MembershipKey(person, group)
    still = plan_memberships([Membership(key, None, False, True, split=Side.PCO)])
    assert still.operations == [] and still.membership_bases == {}
    left = plan_memberships([Membership(key, None, False, False, split=Side.PCO)])
    assert left.operations == [] and left.membership_bases == {key: False}
    joined = plan_memberships([Membership(key, None, True, True, split=Side.PCO)])
    assert joined.operations == [] and joined.membership_bases == {key: True}


# ---------------------------------------------------------------------------- leavers (opt-in)


def _removals(*positions: str, ref: PersonRef | None = None) -> list[Membership]:
    who = ref or PersonRef(7, 45, "123")
    return [
        # base: member; Rock: removed; PCO: still assigned → remove in PCO
        Membership(MembershipKey(who, GroupRef(i, 100 + i, f"TeamPosition:{p}")), True, False, True)
        for i, p in enumerate(positions, start=1)
    ]


def test_the_last_position_taken_away_plans_an_archive_after_the_removals() -> None:
    plan = plan_memberships(_removals("1", "2"))
    assert [op.kind for op in plan.operations] == [OpKind.REMOVE_MEMBER] * 2
    leavers = plan_leavers(plan, {"123": {"1", "2"}})
    [archive] = leavers.operations
    assert archive.kind is OpKind.ARCHIVE and archive.side is Side.PCO
    assert archive.reason is Reason.LEFT_EVERY_TEAM
    assert archive.depends_on == tuple(op.seq for op in plan.operations)
    assert archive.seq == plan.next_seq


def test_someone_still_on_another_position_or_just_added_is_not_archived() -> None:
    plan = plan_memberships(_removals("1"))
    assert not plan_leavers(plan, {"123": {"1", "9"}}).operations
    who = PersonRef(7, 45, "123")
    moved = plan_memberships(
        [
            *_removals("1"),
            Membership(MembershipKey(who, GroupRef(5, 105, "TeamPosition:5")), False, True, False),
        ]
    )
    assert {op.kind for op in moved.operations} == {OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER}
    assert not plan_leavers(moved, {"123": {"1"}}).operations


def test_rock_side_removals_and_tags_never_archive() -> None:
    who = PersonRef(7, 45, "123")
    rock_removal = plan_memberships(
        [Membership(MembershipKey(who, GroupRef(1, 101, "TeamPosition:1")), True, True, False)]
    )
    assert [op.side for op in rock_removal.operations] == [Side.ROCK]
    assert not plan_leavers(rock_removal, {}).operations
    tag = plan_memberships(
        [Membership(MembershipKey(who, GroupRef(1, 101, "Tag:5")), True, False, True)]
    )
    assert [op.side for op in tag.operations] == [Side.PCO]
    assert not plan_leavers(tag, {}).operations


def test_reverting_an_archive_restores_the_person() -> None:
    plan = plan_memberships(_removals("1"))
    plan.extend(plan_leavers(plan, {"123": {"1"}}))
    undo = plan_revert(plan.operations, lambda _side, _ref: JANE, lambda *_: False)
    kinds = [op.kind for op in undo.plan.operations]
    assert kinds[0] is OpKind.RESTORE and OpKind.ADD_MEMBER in kinds


def test_a_side_a_held_run_read_as_changed_counts_as_changed_when_put_back() -> None:
    """Seed 1385: Rock's email changed, a held run read it, a person put it back; Planning
    Center's changed meanwhile. Both sides changed: the later record wins, the other value
    is a conflict; without the held mark Planning Center's value was copied silently."""
    held = Base(JANE, held=frozenset({(FieldName.EMAIL, Side.ROCK, 3)}), held_by=3)
    pco = replace(JANE, email="new@example.org")
    ref = PersonRef(7, 45, "123")
    rock_later = plan_people([PersonPair(7, 45, "123", held, JANE, pco, T0 + timedelta(1), T0)])
    (op,) = rock_later.operations
    assert op.side is Side.PCO and op.changes == {FieldName.EMAIL: (pco.email, JANE.email)}
    (conflict,) = rock_later.conflicts
    assert conflict.winner is Side.ROCK and conflict.loser_value == "new@example.org"
    assert rock_later.bases[ref] == Base(JANE)  # the mark is used up
    pco_later = plan_people([PersonPair(7, 45, "123", held, JANE, pco, T0, T0 + timedelta(1))])
    (op,) = pco_later.operations
    assert op.side is Side.ROCK and pco_later.conflicts[0].loser_value == JANE.email
    # put back where the other side still is: nothing to write, the mark is dropped
    quiet = plan_people([PersonPair(7, 45, "123", held, JANE, JANE, T0, T0)])
    assert quiet.operations == [] and quiet.conflicts == [] and quiet.bases[ref] == Base(JANE)
    # without the mark: an edit on one side only, copied across
    plain = plan_people([PersonPair(7, 45, "123", Base(JANE), JANE, pco, T0 + timedelta(1), T0)])
    assert plain.conflicts == [] and plain.operations[0].side is Side.ROCK


def test_a_held_reading_notes_every_side_that_differs_from_the_base() -> None:
    rock = replace(JANE, email="rock@example.org", campus="north")
    pco = replace(JANE, campus="north", nickname="Janie")
    base = Base(JANE, frozenset({FieldName.NICKNAME}))
    notes = held_reading(base, rock, pco, 12)
    # both sides changed alike (campus) is noted too; a field without a base is not
    assert notes == {
        (FieldName.EMAIL, Side.ROCK, 12),
        (FieldName.CAMPUS, Side.ROCK, 12),
        (FieldName.CAMPUS, Side.PCO, 12),
    }
    # earlier notes stay (a side put back since still changed after the base), a newer
    # reading of the same side takes the newer run's id, a side not read is left as it was
    earlier = Base(
        JANE,
        held=frozenset({(FieldName.EMAIL, Side.PCO, 4), (FieldName.LAST_NAME, Side.ROCK, 4)}),
        held_by=4,
    )
    assert held_reading(earlier, None, replace(JANE, email="x@example.org"), 9) == {
        (FieldName.EMAIL, Side.PCO, 9),
        (FieldName.LAST_NAME, Side.ROCK, 4),
    }
    marked = Base(JANE).with_held(notes, 12)
    assert marked.held_by == 12 and Base.from_json(marked.to_json()) == marked
    ops = plan_people([PersonPair(7, 45, "123", marked, rock, pco, T0, T0)]).operations
    settled = base_after_ops(marked, [op for op in ops if op.side is Side.PCO])
    assert settled.held == {(FieldName.CAMPUS, Side.ROCK, 12), (FieldName.CAMPUS, Side.PCO, 12)}
    assert settled.held_by == 12


def test_approving_the_last_held_run_to_read_a_person_keeps_only_what_it_read_changed() -> None:
    base = Base(
        JANE,
        held=frozenset(
            {
                (FieldName.EMAIL, Side.ROCK, 4),  # put back before run 9 read it
                (FieldName.CAMPUS, Side.ROCK, 4),
                (FieldName.CAMPUS, Side.PCO, 9),  # run 9 read campus changed on one side
            }
        ),
        held_by=9,
    )
    agreed = agreed_by(base, 9)
    assert agreed.held == {(FieldName.CAMPUS, Side.ROCK, 4), (FieldName.CAMPUS, Side.PCO, 9)}
    assert agreed_by(base, 4) is base  # not the last held run to read them: nothing known
