"""The gate: hold big or suspicious runs, proceed with ordinary ones."""

from __future__ import annotations

from pcosync.domain import GroupRef, PersonRef, Side
from pcosync.engine import (
    Decision,
    GateConfig,
    Operation,
    OpKind,
    Population,
    Reason,
    Threshold,
    gate,
)
from pcosync.engine.gate import HoldCode, Subject, count_operations
from pcosync.engine.plan import GateCategory

POP = {Side.ROCK: Population(1000, 3000), Side.PCO: Population(1000, 3000)}
BAND = GroupRef(1, 2, "TeamPosition:3")


def ops(kind: OpKind, side: Side, n: int) -> list[Operation]:
    group = BAND if kind in (OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER) else None
    return [
        Operation(i + 1, kind, side, PersonRef(i, i, str(i)), Reason.EDIT, group=group)
        for i in range(n)
    ]


def test_ordinary_run_proceeds() -> None:
    result = gate(ops(OpKind.UPDATE, Side.PCO, 50), POP)
    assert result.decision is Decision.PROCEED and not result.held
    assert result.reasons == ()
    assert result.counts[(Side.PCO, Subject.PEOPLE, GateCategory.UPDATE)] == 50


def test_updates_above_percent_hold_with_a_readable_reason() -> None:
    result = gate(ops(OpKind.UPDATE, Side.PCO, 150), POP)
    assert result.decision is Decision.HOLD
    (reason,) = result.reasons
    assert reason.code is HoldCode.THRESHOLD_PERCENT
    assert (reason.side, reason.count, reason.population) == (Side.PCO, 150, 1000)
    assert "Planning Center" in reason.message and "150" in reason.message
    assert "15.0%" in reason.message and "10%" in reason.message


def test_exactly_at_the_limit_proceeds() -> None:
    assert gate(ops(OpKind.UPDATE, Side.ROCK, 100), POP).decision is Decision.PROCEED
    assert gate(ops(OpKind.UPDATE, Side.ROCK, 101), POP).decision is Decision.HOLD


def test_each_kind_has_its_own_threshold() -> None:
    config = GateConfig(remove=Threshold(percent=1.0))
    assert gate(ops(OpKind.REMOVE_MEMBER, Side.ROCK, 31), POP, config).held  # 31 of 3000 members
    assert not gate(ops(OpKind.REMOVE_MEMBER, Side.ROCK, 30), POP, config).held
    assert not gate(ops(OpKind.UPDATE, Side.ROCK, 30), POP, config).held


def test_memberships_count_against_membership_population() -> None:
    result = gate(ops(OpKind.ADD_MEMBER, Side.PCO, 200), POP)  # 200 of 3000 = 6.7%
    assert result.decision is Decision.PROCEED
    assert result.counts[(Side.PCO, Subject.MEMBERSHIPS, GateCategory.CREATE)] == 200


def test_absolute_cap() -> None:
    config = GateConfig(update=Threshold(percent=None, max_count=25))
    result = gate(ops(OpKind.UPDATE, Side.ROCK, 26), POP, config)
    assert [r.code for r in result.reasons] == [HoldCode.THRESHOLD_COUNT]
    assert not gate(ops(OpKind.UPDATE, Side.ROCK, 25), POP, config).held


def test_zero_percent_holds_any_write_but_not_an_empty_run() -> None:
    config = GateConfig(
        create=Threshold(percent=0), update=Threshold(percent=0), remove=Threshold(percent=0)
    )
    assert gate(ops(OpKind.UPDATE, Side.ROCK, 1), POP, config).held
    assert gate(ops(OpKind.CREATE, Side.PCO, 1), POP, config).held
    assert not gate([], POP, config).held


def test_first_run_against_empty_population_holds_creates() -> None:
    empty = {Side.ROCK: Population(0), Side.PCO: Population(0)}
    result = gate(ops(OpKind.CREATE, Side.PCO, 5), empty)
    assert result.held
    assert "0" in result.reasons[0].message


def test_threshold_none_disables_the_check() -> None:
    config = GateConfig(create=Threshold(percent=None))
    assert not gate(ops(OpKind.CREATE, Side.PCO, 900), POP, config).held


def test_side_that_returned_nobody_holds() -> None:
    result = gate(
        [],
        POP,
        observed={Side.ROCK: 0, Side.PCO: 990},
        previous_observed={Side.ROCK: 1000, Side.PCO: 1000},
    )
    assert result.held
    (reason,) = result.reasons
    assert reason.code is HoldCode.EMPTY_SIDE and reason.side is Side.ROCK
    assert "Rock returned no people" in reason.message


def test_empty_side_holds_even_without_a_previous_full_read() -> None:
    assert gate([], POP, observed={Side.PCO: 0}).held


def test_an_empty_side_approved_as_such_is_not_held_again() -> None:
    """Simulation seed 86: the last serving person left their team; the full run was held
    ("no people in scope, but 1 were synced before") and approved, which records 0 as the
    last full read; yet every later full run was held again, because the link to the person
    now out of scope still counted as synced."""
    synced = POP[Side.PCO].people
    after_approval = gate(
        [],
        POP,
        observed={Side.PCO: 0},
        previous_observed={Side.PCO: 0},
        synced_at_previous={Side.PCO: synced},
    )
    assert not after_approval.held
    # a side that had people at its last full read and returns none is still held
    assert gate([], POP, observed={Side.PCO: 0}, previous_observed={Side.PCO: 3}).held
    # and so is one empty at its last full read when people were synced since (a first
    # full read with nobody serving yet, then links made by incremental runs: review)
    grown = gate(
        [],
        POP,
        observed={Side.PCO: 0},
        previous_observed={Side.PCO: 0},
        synced_at_previous={Side.PCO: 0},
    )
    assert grown.held
    # a 0 recorded without the synced count (an older store): any synced person counts
    assert gate([], POP, observed={Side.PCO: 0}, previous_observed={Side.PCO: 0}).held


def test_drop_guard() -> None:
    prev = {Side.ROCK: 1000, Side.PCO: 1000}
    held = gate([], POP, observed={Side.ROCK: 1000, Side.PCO: 790}, previous_observed=prev)
    assert [r.code for r in held.reasons] == [HoldCode.POPULATION_DROP]
    assert "21%" in held.reasons[0].message
    fine = gate([], POP, observed={Side.ROCK: 1000, Side.PCO: 800}, previous_observed=prev)
    assert not fine.held
    custom = gate(
        [], POP, GateConfig(drop_percent=5), observed={Side.PCO: 940}, previous_observed=prev
    )
    assert custom.held


def test_incremental_runs_skip_the_drop_guard() -> None:
    assert not gate([], POP).held


def test_all_reasons_are_reported_together() -> None:
    plan = ops(OpKind.UPDATE, Side.PCO, 150) + ops(OpKind.CREATE, Side.ROCK, 150)
    result = gate(plan, POP, observed={Side.ROCK: 0})
    assert {r.code for r in result.reasons} == {HoldCode.THRESHOLD_PERCENT, HoldCode.EMPTY_SIDE}
    assert len(result.reasons) == 3


def test_count_operations_by_category() -> None:
    plan = (
        ops(OpKind.CREATE, Side.PCO, 2)
        + ops(OpKind.LINK, Side.PCO, 3)
        + ops(OpKind.REMOVE_MEMBER, Side.ROCK, 4)
    )
    counts = count_operations(plan)
    assert counts[(Side.PCO, Subject.PEOPLE, GateCategory.CREATE)] == 2
    assert counts[(Side.PCO, Subject.PEOPLE, GateCategory.UPDATE)] == 3
    assert counts[(Side.ROCK, Subject.MEMBERSHIPS, GateCategory.REMOVE)] == 4
