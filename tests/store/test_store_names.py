"""Names for output: :func:`name_plan` names the operations the planner left unnamed."""

from __future__ import annotations

from pcosync.app.names import name_plan
from pcosync.domain import Person, Side
from pcosync.domain.identity import PersonRef
from pcosync.engine.merge import Reason
from pcosync.engine.plan import Operation, OpKind, SyncPlan
from pcosync.engine.ports import ObservedPerson
from pcosync.store import Store


def _op(seq: int, ref: PersonRef) -> Operation:
    return Operation(seq, OpKind.ADD_MEMBER, Side.ROCK, ref, Reason.NEW_MEMBER)


def test_unnamed_operations_are_named_from_records_then_named_operations(store: Store) -> None:
    rock = {
        rid: ObservedPerson(Side.ROCK, rid, Person(first_name=f"R{rid}", last_name="Rock"), None)
        for rid in range(1, 50)
    }
    rock[2] = ObservedPerson(Side.ROCK, 2, Person(), None)  # no name on the record
    pco = {"7": ObservedPerson(Side.PCO, "7", Person(first_name="Pia", last_name="Pco"), None)}
    plan = SyncPlan(
        [
            _op(1, PersonRef(None, 1, "7")),  # Planning Center's record names it first
            _op(2, PersonRef(None, 3, None)),
            _op(3, PersonRef(None, 2, None)),  # named by a named operation about the same id
            _op(4, PersonRef(None, 2, "8", name="Named Elsewhere")),
            _op(5, PersonRef(None, 3, "9", name="Not Used")),  # the record's name wins
            _op(6, PersonRef(None, 99, "99")),  # nobody knows this one
        ]
    )
    name_plan(store, plan, rock, pco)
    assert [op.ref.name for op in plan.operations] == [
        "Pia Pco",
        "R3 Rock",
        "Named Elsewhere",
        "Named Elsewhere",
        "Not Used",
        None,
    ]
