"""Runs, the operation journal and conflicts: the records that make held runs, crash
recovery and revert possible."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from pcosync.domain import Address, FieldName, GroupRef, Membership, MembershipKey, Person, Side
from pcosync.domain.identity import PersonRef
from pcosync.engine import (
    Base,
    OneSided,
    OpKind,
    PersonPair,
    SyncPlan,
    plan_memberships,
    plan_people,
    plan_revert,
)
from pcosync.store import (
    JournalError,
    OpStatus,
    RunMode,
    RunStateError,
    RunStatus,
    Store,
)

from .conftest import FakeClock

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
BAND = GroupRef(3, 501, "TeamPosition:77")


def sample_plan() -> SyncPlan:
    rock = replace(JANE, email="new@example.org")
    pco = replace(JANE, campus="north")
    plan = plan_people(
        [
            PersonPair(7, 45, "123", Base(JANE), rock, pco, T0, T0 + timedelta(minutes=1)),
            PersonPair(None, 46, "124", None, JANE, replace(JANE, email=None), T0, T0),
        ],
        one_sided=[OneSided(Side.ROCK, 47, JANE, T0)],
    )
    members = plan_memberships(
        [Membership(MembershipKey(PersonRef(None, 47, None), BAND), None, True, False)],
        people_plan=plan,
    )
    return plan.extend(members)


def test_run_lifecycle_and_newest_first(store: Store, clock: FakeClock) -> None:
    first = store.runs.start(RunMode.FULL)
    assert first.status is RunStatus.RUNNING and first.ended_at is None
    clock.advance(minutes=5)
    done = store.runs.finish(first.id, RunStatus.DONE, counts={"updated": 3})
    assert done.status is RunStatus.DONE and done.ended_at == clock.current
    assert done.counts == {"updated": 3}
    clock.advance(minutes=5)
    second = store.runs.start(RunMode.INCREMENTAL, dry_run=True)
    clock.advance(minutes=5)
    third = store.runs.start(RunMode.INCREMENTAL)
    store.runs.finish(third.id, RunStatus.PARTIAL, error="2 records parked")
    assert [r.id for r in store.runs.list()] == [third.id, second.id, first.id]
    assert [r.id for r in store.runs.list(limit=1)] == [third.id]
    assert [r.id for r in store.runs.list(status=RunStatus.DONE)] == [first.id]
    assert store.runs.get(second.id).dry_run  # type: ignore[union-attr]
    assert [r.id for r in store.runs.unfinished()] == [second.id]


def test_held_run_review(store: Store) -> None:
    run = store.runs.start(RunMode.FULL)
    reasons = [{"code": "threshold_percent", "message": "PCO: 150 of 1,000 people would change"}]
    held = store.runs.hold(run.id, reasons, {"update": 150})
    assert held.status is RunStatus.HELD and held.hold_reasons == reasons
    approved = store.runs.approve(run.id, by="admin@church.org")
    assert approved.status is RunStatus.APPROVED
    assert approved.reviewed_by == "admin@church.org" and approved.reviewed_at is not None
    store.runs.transition(run.id, RunStatus.RUNNING)
    assert store.runs.finish(run.id, RunStatus.DONE).status is RunStatus.DONE
    reverting = store.runs.start(RunMode.REVERT, reverts_run_id=run.id)
    assert reverting.reverts_run_id == run.id
    assert store.runs.mark_reverted(run.id).status is RunStatus.REVERTED


def test_rejected_and_invalid_transitions(store: Store) -> None:
    run = store.runs.start(RunMode.FULL)
    with pytest.raises(RunStateError, match="running; it cannot become approved"):
        store.runs.approve(run.id, by="x")
    store.runs.hold(run.id, [], {})
    assert store.runs.reject(run.id, by="x").status is RunStatus.REJECTED
    with pytest.raises(RunStateError):
        store.runs.mark_reverted(run.id)
    with pytest.raises(RunStateError):
        store.runs.finish(run.id, RunStatus.HELD)
    assert store.runs.get(999) is None
    with pytest.raises(LookupError):
        store.runs.approve(999, by="x")


def test_journal_round_trips_every_kind_of_operation(store: Store) -> None:
    plan = sample_plan()
    kinds = {op.kind for op in plan.operations}
    assert {OpKind.UPDATE, OpKind.LINK, OpKind.CREATE, OpKind.ADD_MEMBER} <= kinds
    run = store.runs.start(RunMode.FULL)
    assert store.journal.record(run.id, plan.operations) == len(plan.operations)
    assert store.journal.operations(run.id) == plan.operations
    journaled = store.journal.list(run.id)
    assert all(j.status is OpStatus.PLANNED for j in journaled)
    create = next(j for j in journaled if j.operation.kind is OpKind.CREATE)
    assert create.after_image["first_name"] == "Jane"
    add = next(j for j in journaled if j.operation.kind is OpKind.ADD_MEMBER)
    assert add.operation.depends_on == (create.seq,)


def test_a_create_is_journaled_as_sent_before_the_request(store: Store, engine: Engine) -> None:
    """mark_sent commits at once: another process sees the create in doubt."""
    plan = sample_plan()
    run = store.runs.start(RunMode.FULL)
    store.journal.record(run.id, plan.operations)
    create = next(op for op in plan.operations if op.kind is OpKind.CREATE)
    store.journal.mark_sent(run.id, create.seq)
    observer = Store(engine)  # a separate session, as after a crash
    (doubt,) = observer.journal.in_doubt()
    assert (doubt.run_id, doubt.seq, doubt.status) == (run.id, create.seq, OpStatus.SENT)
    assert doubt.operation.link_hint == 47 and doubt.sent_at is not None
    # The re-read finds the person: record the outcome with the new id.
    store.journal.mark_applied(
        run.id, create.seq, after=replace(JANE, campus="main"), pco_person_id="900", link_id=12
    )
    done = store.journal.get(run.id, create.seq)
    assert done.status is OpStatus.APPLIED and done.applied_at is not None
    assert done.operation.ref == PersonRef(12, 47, "900")
    assert observer.journal.in_doubt() == []


def test_journal_status_rules(store: Store) -> None:
    plan = sample_plan()
    run = store.runs.start(RunMode.FULL)
    store.journal.record(run.id, plan.operations)
    first, second, third = (op.seq for op in plan.operations[:3])
    store.journal.mark_sent(run.id, first)
    store.journal.mark_not_sent(run.id, first)  # a re-read proved it did not happen
    assert store.journal.get(run.id, first).status is OpStatus.PLANNED
    store.journal.mark_failed(run.id, second, "422: email is invalid")
    assert store.journal.get(run.id, second).error == "422: email is invalid"
    store.journal.mark_applied(run.id, second)  # retried later and it went through
    with pytest.raises(JournalError, match="applied; it cannot become sent"):
        store.journal.mark_sent(run.id, second)
    store.journal.mark_skipped(run.id, third, "dry run")
    counts = store.journal.counts(run.id)
    assert counts["applied"] == 1 and counts["skipped"] == 1
    assert [j.seq for j in store.journal.list(run.id, OpStatus.APPLIED)] == [second]
    assert len(store.journal.list(run.id, [OpStatus.APPLIED, OpStatus.SKIPPED])) == 2
    with pytest.raises(LookupError):
        store.journal.mark_sent(run.id, 999)


def test_membership_removal_keeps_writer_details_for_revert(store: Store) -> None:
    ref = PersonRef(7, 45, "123")
    plan = plan_memberships([Membership(MembershipKey(ref, BAND), True, True, False)])
    (op,) = plan.operations
    assert op.kind is OpKind.REMOVE_MEMBER
    run = store.runs.start(RunMode.INCREMENTAL)
    store.journal.record(run.id, plan.operations)
    store.journal.mark_sent(run.id, op.seq)
    store.journal.mark_applied(
        run.id, op.seq, before={"group_member_id": 8812, "group_role_id": 24}
    )
    j = store.journal.get(run.id, op.seq)
    assert j.before_image == {"group_member_id": 8812, "group_role_id": 24}
    assert j.operation.group == BAND and j.operation.ref == ref


def test_revert_from_the_journal(store: Store) -> None:
    rock = replace(JANE, email="new@example.org")
    plan = plan_people([PersonPair(7, 45, "123", Base(JANE), rock, JANE, T0, T0)])
    run = store.runs.start(RunMode.INCREMENTAL)
    store.journal.record(run.id, plan.operations)
    for op in plan.operations:
        store.journal.mark_applied(run.id, op.seq)
    applied = store.journal.operations(run.id, OpStatus.APPLIED)
    undo = plan_revert(applied, lambda side, ref: rock)
    (op,) = undo.plan.operations
    assert op.side is Side.PCO
    assert op.changes == {FieldName.EMAIL: ("new@example.org", "jane@example.org")}


def test_conflicts_round_trip(store: Store) -> None:
    rock = replace(JANE, email="rock@example.org", home_address=None)
    pco = replace(
        JANE, email="pco@example.org", home_address=Address("9 Oak", None, "X", None, None, None)
    )
    plan = plan_people([PersonPair(7, 45, "123", Base(JANE), rock, pco, T0, T0 + timedelta(1))])
    assert len(plan.conflicts) == 2
    run = store.runs.start(RunMode.INCREMENTAL)
    assert store.journal.record_conflicts(run.id, plan.conflicts) == 2
    assert store.journal.conflicts(run.id) == plan.conflicts
    assert store.journal.conflicts(link_id=7) == plan.conflicts
    assert store.journal.conflicts(link_id=8) == []
    other = store.runs.start(RunMode.INCREMENTAL)
    assert store.journal.conflicts(other.id) == []


def test_many_conflicts_are_recorded_in_batches_in_order(store: Store) -> None:
    rock = replace(JANE, email="rock@example.org")
    pco = replace(JANE, email="pco@example.org")
    (one,) = plan_people([PersonPair(7, 45, "123", Base(JANE), rock, pco, T0, T0)]).conflicts
    many = [replace(one, ref=PersonRef(n, n, str(n))) for n in range(1, 2502)]  # 3 batches
    run = store.runs.start(RunMode.FULL)
    assert store.journal.record_conflicts(run.id, iter(many)) == 2501
    assert store.journal.conflicts(run.id) == many
    assert store.journal.record_conflicts(run.id, []) == 0


def test_transaction_is_all_or_nothing(store: Store) -> None:
    run = store.runs.start(RunMode.FULL)
    plan = sample_plan()
    store.journal.record(run.id, plan.operations)
    create = next(op for op in plan.operations if op.kind is OpKind.CREATE)
    with pytest.raises(RuntimeError), store.transaction():
        store.journal.mark_applied(run.id, create.seq, pco_person_id="900")
        link = store.links.add(47, "900")
        store.links.save_base(link.id, Base(JANE))
        raise RuntimeError("crash between the writes")
    assert store.journal.get(run.id, create.seq).status is OpStatus.PLANNED
    assert store.links.by_rock(47) is None
    assert store.links.load_bases() == {}
    with store.transaction():
        store.journal.mark_applied(run.id, create.seq, pco_person_id="900")
        link = store.links.add(47, "900")
        store.links.save_base(link.id, Base(JANE))
    assert store.links.load_bases() == {link.id: Base(JANE)}


def test_journal_is_per_connection(store: Store) -> None:
    run = store.runs.start(RunMode.FULL)
    other = store.for_connection("other")
    with pytest.raises(LookupError):
        other.journal.record(run.id, sample_plan().operations)
    assert other.runs.get(run.id) is None
    assert other.runs.list() == []
