"""The planner: a pure function from (bases, both sides' records, links) to small operations.

A plan never writes anything. The orchestrator journals its operations, gates them, applies
them one by one, and stores each link's new base only after the operations that justify it
have been applied (:func:`settle_base`). Held runs keep the plan in the journal until someone
approves it; reverts are plans too (:mod:`pcosync.engine.revert`).
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform

from pcosync.domain.fields import FIELDS, SPECS_IN_ORDER, FieldName, FieldValue
from pcosync.domain.identity import GroupRef, PcoPersonId, PersonRef, RockPersonId, Side
from pcosync.domain.membership import Membership, MembershipKey
from pcosync.domain.person import PERSON_ATTRS, Person
from pcosync.domain.policy import DEFAULT_POLICY, Direction, SyncPolicy
from pcosync.engine.merge import (
    Base,
    ConflictRule,
    Reason,
    conflict_winner,
    equal,
    merge_flag,
    merge_split,
    merge_value,
)


class OpKind(StrEnum):
    CREATE = "create"  # a person on the other side has no counterpart: create them here
    UPDATE = "update"  # write changed fields
    LINK = "link"  # write the counterpart's id onto this record (PCO remote_id / Rock PcoPersonId)
    UNLINK = "unlink"  # clear that id (admin unlink, or reverting a link)
    ADD_MEMBER = "add_member"
    REMOVE_MEMBER = "remove_member"
    ARCHIVE = "archive"  # opt-in: make a PCO person who left every team inactive
    RESTORE = "restore"  # undo an ARCHIVE (revert): active again
    DELETE = "delete"  # revert: remove a record the reverted run created (nobody touched it)
    INACTIVATE_GROUP = "inactivate_group"  # Rock group of a team archived/deleted in PCO
    REACTIVATE_GROUP = "reactivate_group"  # ... whose team is live again


class GateCategory(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REMOVE = "remove"


OP_CATEGORY: Mapping[OpKind, GateCategory] = {
    OpKind.CREATE: GateCategory.CREATE,
    OpKind.ADD_MEMBER: GateCategory.CREATE,
    OpKind.UPDATE: GateCategory.UPDATE,
    OpKind.LINK: GateCategory.UPDATE,
    OpKind.UNLINK: GateCategory.REMOVE,
    OpKind.REMOVE_MEMBER: GateCategory.REMOVE,
    OpKind.ARCHIVE: GateCategory.REMOVE,
    OpKind.RESTORE: GateCategory.UPDATE,
    OpKind.DELETE: GateCategory.REMOVE,
    OpKind.INACTIVATE_GROUP: GateCategory.REMOVE,
    OpKind.REACTIVATE_GROUP: GateCategory.UPDATE,
}

MEMBERSHIP_KINDS = frozenset({OpKind.ADD_MEMBER, OpKind.REMOVE_MEMBER})
GROUP_KINDS = frozenset({OpKind.INACTIVATE_GROUP, OpKind.REACTIVATE_GROUP})
# the writes whose target record a person may be editing while the run works: re-checked
# just before they are sent (see app.inflight)
RECHECKED_KINDS = frozenset({OpKind.UPDATE, OpKind.DELETE})

Change = tuple[FieldValue, FieldValue]  # (before, after) on the operation's side

_R = TypeVar("_R")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def _plan_record(cls: type[_R]) -> type[_R]:
    """A plan record: immutable to the type checker (mypy reports any assignment, as for a
    frozen dataclass), a plain slotted dataclass at run time.

    A first sync plans two or three of these per pair, and a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__`` (about 2 µs for eleven fields, four times
    a plain one). Equality and hashing are those of the frozen dataclass (``unsafe_hash``
    hashes the same fields).
    """
    return dataclass(slots=True, unsafe_hash=True)(cls)


@_plan_record
class Operation:
    """One small write on one side, with everything needed to journal, review and undo it.

    ``changes`` maps each field to (value on ``side`` before, value after); for a create it
    lists every field the new record gets. ``before`` is the whole record on ``side`` before
    the write (None for a create). ``depends_on`` names operations (by seq) that must be
    applied first, e.g. the create that gives a new person the id a membership needs.
    """

    seq: int
    kind: OpKind
    side: Side
    ref: PersonRef
    reason: Reason
    changes: Mapping[FieldName, Change] = field(default_factory=dict)
    field_reasons: Mapping[FieldName, Reason] = field(default_factory=dict)
    before: Person | None = None
    record: Person | None = None  # create: the record sent
    group: GroupRef | None = None  # membership operations
    depends_on: tuple[int, ...] = ()

    @property
    def target_id(self) -> RockPersonId | PcoPersonId | None:
        """The record written (None for a create: it does not exist yet)."""
        return self.ref.id_on(self.side)

    @property
    def link_hint(self) -> RockPersonId | PcoPersonId | None:
        """The counterpart id written onto the record, so a lost create can be found again."""
        return self.ref.id_on(self.side.other)

    @property
    def category(self) -> GateCategory:
        return OP_CATEGORY[self.kind]


@_plan_record
class Conflict:
    """Both sides changed a field differently (or a one-way field overwrote an edit)."""

    ref: PersonRef
    field: FieldName
    rock_value: FieldValue
    pco_value: FieldValue
    base_value: FieldValue  # None also when there was no base
    had_base: bool
    rock_modified: datetime | None
    pco_modified: datetime | None
    winner: Side
    rule: ConflictRule

    @property
    def loser_value(self) -> FieldValue:
        return self.pco_value if self.winner is Side.ROCK else self.rock_value

    @property
    def winner_value(self) -> FieldValue:
        return self.rock_value if self.winner is Side.ROCK else self.pco_value


@dataclass(frozen=True, slots=True)
class PersonPair:
    """A linked (or just matched) pair as observed this run.

    ``rock`` / ``pco`` None means that side was not re-read because it has not changed since
    the base (incremental runs); the base then stands in for it. ``link_id`` None marks a
    fresh match: the plan links both records. ``*_link_ok`` False means the record does not
    carry the counterpart's id (someone cleared it), so the plan writes it again.
    """

    link_id: int | None
    rock_id: RockPersonId
    pco_id: PcoPersonId
    base: Base | None
    rock: Person | None
    pco: Person | None
    rock_modified: datetime | None = None
    pco_modified: datetime | None = None
    rock_link_ok: bool = True
    pco_link_ok: bool = True

    @property
    def ref(self) -> PersonRef:
        return PersonRef(self.link_id, self.rock_id, self.pco_id, self.name)

    @property
    def name(self) -> str | None:
        """How output names the pair: as both sides agreed at the last sync (the name the
        admin knows them by), else Planning Center's record, else Rock's. Never used to
        decide anything."""
        for person in (self.base.person if self.base else None, self.pco, self.rock):
            if person is not None and (person.first_name or person.last_name):
                return person.display_name
        return None


@dataclass(frozen=True, slots=True)
class OneSided:
    """A person in scope on one side only, with no counterpart and no open match issue."""

    side: Side
    id: RockPersonId | PcoPersonId
    person: Person
    modified_at: datetime | None = None

    @property
    def ref(self) -> PersonRef:
        name = self.person.display_name if self.person.first_name or self.person.last_name else None
        if self.side is Side.ROCK:
            assert isinstance(self.id, int)
            return PersonRef(None, self.id, None, name)
        assert isinstance(self.id, str)
        return PersonRef(None, None, self.id, name)


@dataclass
class SyncPlan:
    """Operations in order, the conflicts they settle, and the bases to store afterwards.

    ``bases`` holds the new base of every link whose base changes, keyed by the plan's
    PersonRef (for a create, the ref with the new side's id still None). Store a base only
    once its link's operations are applied; see :func:`settle_base`.
    """

    operations: list[Operation] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    bases: dict[PersonRef, Base] = field(default_factory=dict)
    membership_bases: dict[MembershipKey, bool] = field(default_factory=dict)
    deferred: list[MembershipKey] = field(default_factory=list)  # person not linked or created

    @property
    def next_seq(self) -> int:
        return self.operations[-1].seq + 1 if self.operations else 1

    def counts(self) -> Counter[tuple[Side, OpKind]]:
        return Counter((op.side, op.kind) for op in self.operations)

    def ops_for(self, ref: PersonRef) -> list[Operation]:
        return [op for op in self.operations if op.ref == ref]

    def extend(self, other: SyncPlan) -> SyncPlan:
        """Append another plan whose seqs continue this one's (as plan_memberships makes)."""
        if other.operations and self.operations and other.operations[0].seq <= self.next_seq - 1:
            raise ValueError("the appended plan's operation numbers overlap this plan's")
        self.operations.extend(other.operations)
        self.conflicts.extend(other.conflicts)
        self.bases.update(other.bases)
        self.membership_bases.update(other.membership_bases)
        self.deferred.extend(other.deferred)
        return self


_values_getter = attrgetter(*PERSON_ATTRS)


def _person_values(person: Person) -> tuple[Any, ...]:
    values: tuple[Any, ...] = _values_getter(person)
    return values


_values = _person_values


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one planning pass.

    The planner allocates many small acyclic objects while 100,000s of input records are
    alive, so generation-2 collections would rescan all of them again and again (a third of
    the time at 100k pairs). Reference counting still frees everything; the previous GC
    state is restored on exit.

    On exit the objects the pass made go straight to the oldest generation (``gc.freeze``
    then ``gc.unfreeze``), as if they had survived the young collections: otherwise the
    first allocation after the pass starts a young collection that scans every one of them
    (a quarter of a first sync's planning time at 100k pairs, for a plan that holds no
    cycles). The young generations are collected first, so only the pass's objects are
    promoted. Skipped when the process keeps frozen objects of its own (``unfreeze`` would
    hand them back to the collector).
    """
    was_enabled = gc.isenabled()
    promote = was_enabled and gc.get_freeze_count() == 0
    if promote:
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        if promote:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def link_op(seq: int, side: Side, ref: PersonRef, before: Person) -> Operation:
    """Write the counterpart's id onto ``side``'s record (a new link, or an id cleared)."""
    return Operation(seq, OpKind.LINK, side, ref, Reason.NEW_LINK, {}, {}, before)


# PersonRef and Base stay frozen dataclasses (a ref is a dict key everywhere, a base is
# stored); the planner, which makes one of each per pair of a first sync, fills their slots
# directly instead of going through the frozen __init__ (half the time). The field lists are
# checked here so a new field cannot be left unset.
assert tuple(f.name for f in fields(PersonRef)) == ("link_id", "rock_id", "pco_id", "name")
assert tuple(f.name for f in fields(Base)) == ("person", "unknown", "split", "held", "held_by")
_new_instance = object.__new__
_set_link_id, _set_rock_id, _set_pco_id, _set_name = (
    PersonRef.__dict__[n].__set__ for n in ("link_id", "rock_id", "pco_id", "name")
)
_set_person, _set_unknown, _set_split, _set_held, _set_held_by = (
    Base.__dict__[n].__set__ for n in ("person", "unknown", "split", "held", "held_by")
)
_NOTHING_UNKNOWN: frozenset[FieldName] = frozenset()
_NOTHING_HELD: frozenset[tuple[FieldName, Side, int]] = frozenset()
assert len(PERSON_ATTRS) == 13
(_p0, _p1, _p2, _p3, _p4, _p5, _p6, _p7, _p8, _p9, _p10, _p11, _p12) = (
    Person.__dict__[n].__set__ for n in PERSON_ATTRS
)


def _new_person(v: Sequence[Any]) -> Person:
    """``Person(*v)``, built faster (a frozen ``__init__`` of 13 fields costs about 2 µs;
    the planner makes one for every base that changes)."""
    person: Person = _new_instance(Person)
    _p0(person, v[0])
    _p1(person, v[1])
    _p2(person, v[2])
    _p3(person, v[3])
    _p4(person, v[4])
    _p5(person, v[5])
    _p6(person, v[6])
    _p7(person, v[7])
    _p8(person, v[8])
    _p9(person, v[9])
    _p10(person, v[10])
    _p11(person, v[11])
    _p12(person, v[12])
    return person


def _new_ref(
    link_id: int | None, rock_id: RockPersonId, pco_id: PcoPersonId, name: str | None
) -> PersonRef:
    """``PersonRef(link_id, rock_id, pco_id, name)``, built faster."""
    ref: PersonRef = _new_instance(PersonRef)
    _set_link_id(ref, link_id)
    _set_rock_id(ref, rock_id)
    _set_pco_id(ref, pco_id)
    _set_name(ref, name)
    return ref


def _new_base(
    person: Person,
    unknown: frozenset[FieldName] = _NOTHING_UNKNOWN,
    split: tuple[tuple[FieldName, Any, Any], ...] = (),
) -> Base:
    """``Base(person, unknown, split)``, built faster (a planned base holds no ``held``)."""
    base: Base = _new_instance(Base)
    _set_person(base, person)
    _set_unknown(base, unknown)
    _set_split(base, split)
    _set_held(base, _NOTHING_HELD)
    _set_held_by(base, None)
    return base


def plan_people(
    pairs: Iterable[PersonPair],
    policy: SyncPolicy = DEFAULT_POLICY,
    *,
    one_sided: Iterable[OneSided] = (),
    start_seq: int = 1,
) -> SyncPlan:
    """Plan the person fields of every pair, plus a create for every one-sided person.

    Hot loop: a pair whose two records both equal the base costs two tuple comparisons.
    """
    with _cyclic_gc_paused():
        return _plan_people(pairs, policy, one_sided, start_seq)


def _plan_people(
    pairs: Iterable[PersonPair],
    policy: SyncPolicy,
    one_sided: Iterable[OneSided],
    start_seq: int,
    *,
    fast_paths: bool = True,
) -> SyncPlan:
    """``fast_paths=False`` sends every pair through the field-by-field merge (tests compare
    the two: the shortcuts must plan exactly what the merge plans)."""
    plan = SyncPlan()
    ops = plan.operations
    conflicts = plan.conflicts
    bases = plan.bases
    link_kind, new_link_reason = OpKind.LINK, Reason.NEW_LINK
    seq = start_seq
    directions = policy.directions_in_order()
    off = frozenset(f for f, d in zip(FIELDS, directions, strict=True) if d is Direction.OFF)
    tie_winner = policy.tie_winner
    n_fields = len(FIELDS)
    # Per field: (name, comparison, direction), bound once so the loop only indexes tuples.
    columns = tuple(
        (spec.name, spec.same, d) for spec, d in zip(SPECS_IN_ORDER, directions, strict=True)
    )
    all_unknown = frozenset(FIELDS)
    no_values = (None,) * n_fields
    rock_side, pco_side, off_direction = Side.ROCK, Side.PCO, Direction.OFF
    conflict_reason = Reason.CONFLICT_WINNER

    for pair in pairs:
        base = pair.base
        rock_seen = pair.rock is not None
        pco_seen = pair.pco is not None
        if base is None:
            if pair.rock is None or pair.pco is None:
                raise ValueError(f"{pair.ref.describe()}: no base, so both records must be read")
            rock, pco = pair.rock, pair.pco
            if (rock is pco or rock == pco) and not off and fast_paths:
                # a fresh match whose records agree already (most of a first sync): the base
                # is that record, and only the link ids are written. ``pair.ref`` inlined:
                # without a base the name is Planning Center's (the same as Rock's here).
                link_id = pair.link_id
                ref = _new_ref(
                    link_id,
                    pair.rock_id,
                    pair.pco_id,
                    pco.display_name if pco.first_name or pco.last_name else None,
                )
                if link_id is None or not pair.rock_link_ok:
                    ops.append(
                        Operation(seq, link_kind, rock_side, ref, new_link_reason, {}, {}, rock)
                    )
                    seq += 1
                if link_id is None or not pair.pco_link_ok:
                    ops.append(
                        Operation(seq, link_kind, pco_side, ref, new_link_reason, {}, {}, pco)
                    )
                    seq += 1
                bases[ref] = _new_base(rock)
                continue
            bt: tuple[Any, ...] = no_values
            unknown = all_unknown
        else:
            base_person = base.person
            rock = pair.rock if pair.rock is not None else base_person
            pco = pair.pco if pair.pco is not None else base_person
            unknown = base.unknown
            if (
                not base.split
                and not base.held
                and rock == base_person
                and pco == base_person
                and pair.link_id is not None
                and pair.rock_link_ok
                and pair.pco_link_ok
                and (not unknown or unknown <= off)
            ):
                continue
            bt = _person_values(base_person)

        rt = _person_values(rock)
        pt = _person_values(pco)
        ref = _new_ref(pair.link_id, pair.rock_id, pair.pco_id, pair.name)
        new_values: list[Any] | None = None
        new_unknown: set[FieldName] | None = None
        rock_changes: dict[FieldName, Change] | None = None
        pco_changes: dict[FieldName, Change] | None = None
        rock_reasons: dict[FieldName, Reason] | None = None
        pco_reasons: dict[FieldName, Reason] | None = None
        winner = conflict_winner(pair.rock_modified, pair.pco_modified, tie_winner)
        # fields a revert left differing (rare): merged against each side's own value
        split = dict((n, (sr, sp)) for n, sr, sp in base.split) if base and base.split else None
        new_split = dict(split) if split else None
        # fields a run held for review read as changed (rare): that side counts as changed
        held = base.held_sides() if base is not None and base.held else None

        for (name, same, direction), r, p, b, i in zip(
            columns, rt, pt, bt, range(n_fields), strict=True
        ):
            known = not unknown or name not in unknown
            if split is not None and name in split:
                out_split = merge_split(same, split[name], r, p, direction, winner)
                if out_split is None:
                    continue  # nobody edited it since: both values stay
                assert new_split is not None
                del new_split[name]
                out = out_split
                if new_values is None:
                    new_values = list(bt)
                new_values[i] = out.value
                known = False  # the conflict record has no single base value
            else:
                if known:
                    if r == b and p == b:
                        continue
                elif r == p and direction is not off_direction:
                    # no base, both records agree: that is the base, nothing is written
                    if r is not b:
                        if new_values is None:
                            new_values = list(bt)
                        new_values[i] = r
                    continue
                if not known and not (rock_seen and pco_seen) and direction is not off_direction:
                    # One side was not re-read and there is no base to stand in for it.
                    if new_unknown is None:
                        new_unknown = set()
                    new_unknown.add(name)
                    continue
                if held is None:
                    out = merge_value(same, b, known, r, p, direction, winner)
                else:
                    out = merge_value(
                        same,
                        b,
                        known,
                        r,
                        p,
                        direction,
                        winner,
                        rock_held=(name, rock_side) in held,
                        pco_held=(name, pco_side) in held,
                    )
                if not out.known:
                    if new_unknown is None:
                        new_unknown = set()
                    new_unknown.add(name)
                    continue
            value = out.value
            if value is not b:
                if new_values is None:
                    new_values = list(bt)
                new_values[i] = value
            write_to = out.write_to
            if write_to is None:
                continue
            if write_to is rock_side:
                if rock_changes is None:
                    rock_changes = {}
                    rock_reasons = {}
                assert rock_reasons is not None
                rock_changes[name] = (r, value)
                rock_reasons[name] = out.reason or Reason.EDIT
            else:
                if pco_changes is None:
                    pco_changes = {}
                    pco_reasons = {}
                assert pco_reasons is not None
                pco_changes[name] = (p, value)
                pco_reasons[name] = out.reason or Reason.EDIT
            if out.rule is not None:
                conflicts.append(
                    Conflict(
                        ref=ref,
                        field=name,
                        rock_value=r,
                        pco_value=p,
                        base_value=b if known else None,
                        had_base=known,
                        rock_modified=pair.rock_modified,
                        pco_modified=pair.pco_modified,
                        winner=write_to.other,
                        rule=out.rule,
                    )
                )

        new_link = pair.link_id is None
        if new_link or not pair.rock_link_ok:
            ops.append(Operation(seq, OpKind.LINK, rock_side, ref, Reason.NEW_LINK, before=rock))
            seq += 1
        if new_link or not pair.pco_link_ok:
            ops.append(Operation(seq, OpKind.LINK, pco_side, ref, Reason.NEW_LINK, before=pco))
            seq += 1
        if rock_changes and rock_reasons:
            reason = _overall(rock_reasons, conflict_reason)
            ops.append(
                Operation(
                    seq, OpKind.UPDATE, rock_side, ref, reason, rock_changes, rock_reasons, rock
                )
            )
            seq += 1
        if pco_changes and pco_reasons:
            reason = _overall(pco_reasons, conflict_reason)
            ops.append(
                Operation(seq, OpKind.UPDATE, pco_side, ref, reason, pco_changes, pco_reasons, pco)
            )
            seq += 1

        still_unknown = frozenset(new_unknown) if new_unknown else frozenset()
        if (
            base is not None
            and new_values is None
            and still_unknown == unknown
            and new_split == split
            and held is None
        ):
            continue  # the base does not move (e.g. only our own link writes are planned)
        kept_split = tuple((n, v[0], v[1]) for n, v in new_split.items()) if new_split else ()
        new_base = _new_base(
            _new_person(new_values if new_values is not None else bt), still_unknown, kept_split
        )
        if base is None or new_base != base:
            bases[ref] = new_base

    for single in one_sided:
        target = single.side.other
        written: dict[FieldName, Change] = {}
        values: list[Any] = []
        unknown_fields: set[FieldName] = set()
        source_values = _values(single.person)
        for i, name in enumerate(FIELDS):
            if directions[i].writes(target):
                values.append(source_values[i])
                written[name] = (None, source_values[i])
            else:
                values.append(None)
                unknown_fields.add(name)
        record = Person(*values)
        ref = single.ref
        ops.append(
            Operation(
                seq,
                OpKind.CREATE,
                target,
                ref,
                Reason.CREATED,
                written,
                dict.fromkeys(written, Reason.CREATED),
                before=None,
                record=record,
            )
        )
        seq += 1
        plan.bases[ref] = Base(record, frozenset(unknown_fields))
    return plan


def _overall(reasons: Mapping[FieldName, Reason], conflict: Reason) -> Reason:
    """An operation's headline reason: a conflict outranks a fill, which outranks an edit."""
    values = reasons.values()
    if conflict in values:
        return conflict
    if Reason.NEW_LINK in values:
        return Reason.NEW_LINK
    return Reason.EDIT


def plan_memberships(
    memberships: Iterable[Membership],
    policy: SyncPolicy = DEFAULT_POLICY,
    *,
    people_plan: SyncPlan | None = None,
    start_seq: int | None = None,
) -> SyncPlan:
    """Plan "is member" per (person, position) with the same three-way merge as fields.

    A person that exists on one side only gets their memberships through the create in
    ``people_plan`` (the add waits for it via ``depends_on``); a person neither linked nor
    being created (e.g. held by a match issue) is ``deferred``.
    """
    plan = SyncPlan()
    if start_seq is None:
        start_seq = people_plan.next_seq if people_plan is not None else 1
    seq = start_seq
    creates: dict[tuple[Side, RockPersonId | PcoPersonId | None], int] = {}
    if people_plan is not None:
        for op in people_plan.operations:
            if op.kind is OpKind.CREATE:
                creates[(op.side, op.link_hint)] = op.seq
    direction = policy.membership

    for m in memberships:
        if m.split is not None:  # a revert left the sides differing: until someone edits
            rock = m.rock if m.rock is not None else m.split is Side.ROCK
            pco = m.pco if m.pco is not None else m.split is Side.PCO
            split_out = merge_split(
                equal,
                (m.split is Side.ROCK, m.split is Side.PCO),
                rock,
                pco,
                direction,
                policy.tie_winner,
                empty=False,
            )
            if split_out is None:
                continue
            out = split_out
        elif m.base is None and (m.rock is None or m.pco is None):
            rock = bool(m.rock)
            pco = bool(m.pco)
        else:
            rock = m.rock if m.rock is not None else bool(m.base)
            pco = m.pco if m.pco is not None else bool(m.base)
        if m.split is None:
            if m.base is not None and rock == m.base and pco == m.base:
                continue
            out = merge_flag(m.base, rock, pco, direction, policy.tie_winner)
        if out.write_to is None:
            if out.known and (out.value != m.base or m.split is not None):
                plan.membership_bases[m.key] = bool(out.value)
            continue
        ref = m.key.person
        depends: tuple[int, ...] = ()
        if ref.id_on(out.write_to) is None:
            other_id = ref.id_on(out.write_to.other)
            create_seq = creates.get((out.write_to, other_id))
            if create_seq is None or not out.value:
                plan.deferred.append(m.key)
                continue
            depends = (create_seq,)
        kind = OpKind.ADD_MEMBER if out.value else OpKind.REMOVE_MEMBER
        reason = Reason.NEW_MEMBER if out.value else Reason.EDIT
        plan.operations.append(
            Operation(seq, kind, out.write_to, ref, reason, group=m.key.group, depends_on=depends)
        )
        seq += 1
        plan.membership_bases[m.key] = bool(out.value)
    return plan


def plan_leavers(plan: SyncPlan, positions_held: Mapping[PcoPersonId, Iterable[str]]) -> SyncPlan:
    """Opt-in (DESIGN §7, ``[teams] inactivate_leavers``): after ``plan`` (with its
    membership operations), who in Planning Center has no team position left? Each person
    whose last assignment on a live team ``plan`` takes away gets an ``ARCHIVE`` operation,
    after (and depending on) those removals, so a removal that fails keeps them active.
    ``positions_held``: each person's positions on live teams, as read this run."""
    out = SyncPlan()
    removed: dict[PersonRef, list[Operation]] = {}
    added: set[PersonRef] = set()
    for op in plan.operations:
        if op.side is not Side.PCO or op.group is None:
            continue
        if not op.group.pco_id.startswith("TeamPosition:"):
            continue  # tags are not team positions
        if op.kind is OpKind.REMOVE_MEMBER:
            removed.setdefault(op.ref, []).append(op)
        elif op.kind is OpKind.ADD_MEMBER:
            added.add(op.ref)
    seq = plan.next_seq
    for ref, ops in removed.items():
        if ref in added or ref.pco_id is None:
            continue
        gone = {op.group.pco_id.partition(":")[2] for op in ops if op.group is not None}
        if set(positions_held.get(ref.pco_id, ())) - gone:
            continue  # still on another position
        out.operations.append(
            Operation(
                seq,
                OpKind.ARCHIVE,
                Side.PCO,
                ref,
                Reason.LEFT_EVERY_TEAM,
                depends_on=tuple(op.seq for op in ops),
            )
        )
        seq += 1
    return out


HeldNote = tuple[FieldName, Side, int]


def held_reading(
    base: Base, rock: Person | None, pco: Person | None, run_id: int
) -> frozenset[HeldNote]:
    """``base``'s notes (see ``Base.held``) after held run ``run_id`` read these records:
    every known field a side holds differently from the base is noted with this run, both
    sides changed alike included (nothing is planned for that, yet a later put-back is an
    edit). Earlier notes stay: a side put back since still changed after the base (a side
    not read, ``None``, keeps them as they were)."""
    notes = {(name, side): run for name, side, run in base.held}
    for side, person in ((Side.ROCK, rock), (Side.PCO, pco)):
        if person is None:
            continue
        for spec in SPECS_IN_ORDER:
            name = spec.name
            if not base.knows(name) or base.split_of(name) is not None:
                continue
            if not spec.same(getattr(person, name.value), getattr(base.person, name.value)):
                notes[(name, side)] = run_id
    return frozenset((name, side, run) for (name, side), run in notes.items())


def agreed_by(base: Base, run_id: int) -> Base:
    """``base`` once held run ``run_id`` is approved, for a person it was the last held run
    to read: a field it noted on neither side was read agreeing with the base on both, so
    older notes of it are dropped (their change was put back before this run read it)."""
    if base.held_by != run_id or not base.held:
        return base
    read_changed = {name for name, _side, run in base.held if run == run_id}
    kept = frozenset(m for m in base.held if m[2] == run_id or m[0] in read_changed)
    return base.with_held(kept, base.held_by)


def settle_base(old: Base | None, planned: Base, unapplied: Iterable[FieldName] = ()) -> Base:
    """The base to store when some of a link's planned writes did not happen.

    A field whose write failed (parked) keeps its old base (and an old ``split`` or
    ``held``), so the next run sees the edit again and retries it; every other field takes
    the planned base.
    """
    failed = frozenset(unapplied)
    if not failed:
        return planned
    values = list(_values(planned.person))
    unknown = set(planned.unknown)
    old_values = _values(old.person) if old is not None else (None,) * len(FIELDS)
    split = {n: (r, p) for n, r, p in planned.split if n not in failed}
    for i, name in enumerate(FIELDS):
        if name in failed:
            values[i] = old_values[i]
            if old is None or not old.knows(name):
                unknown.add(name)
            else:
                unknown.discard(name)
            kept = old.split_of(name) if old is not None else None
            if kept is not None:
                split[name] = kept
    held = frozenset(m for m in old.held if m[0] in failed) if old is not None else frozenset()
    return Base(
        Person(*values),
        frozenset(unknown),
        tuple((n, r, p) for n, (r, p) in split.items()),
        planned.held | held,
        old.held_by if held and old is not None else None,
    )


def unapplied_fields(ops: Sequence[Operation], applied_seqs: Iterable[int]) -> set[FieldName]:
    """Fields of ``ops`` whose operation was not applied (input for :func:`settle_base`)."""
    done = set(applied_seqs)
    missing: set[FieldName] = set()
    for op in ops:
        if op.seq not in done:
            missing.update(op.changes)
    return missing


def base_after_ops(old: Base | None, applied: Iterable[Operation]) -> Base:
    """A link's base after applying operations, from the operations alone.

    For approving a held run, whose plan lives in the journal without its planned bases:
    each written field takes the value written (and stops being left differing). Fields
    that merely agreed are left for the next run to settle (they produce no writes either
    way).
    """
    values = list(_values(old.person)) if old is not None else [None] * len(FIELDS)
    unknown = set(old.unknown) if old is not None else set(FIELDS)
    split = {n: (r, p) for n, r, p in old.split} if old is not None else {}
    held = set(old.held) if old is not None else set()
    index = {name: i for i, name in enumerate(FIELDS)}
    for op in applied:
        if op.kind not in (OpKind.UPDATE, OpKind.CREATE):
            continue
        for name, (_before, after) in op.changes.items():
            values[index[name]] = after
            unknown.discard(name)
            split.pop(name, None)
            held = {m for m in held if m[0] is not name}
    return Base(
        Person(*values),
        frozenset(unknown),
        tuple((n, r, p) for n, (r, p) in split.items()),
        frozenset(held),
        old.held_by if old is not None else None,
    )
