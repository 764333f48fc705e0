"""The three-way merge of one value against its base: the heart of the sync.

The **base** is the value both sides agreed on after the last sync. Comparing each side with
the base tells a human edit from our own write (our writes come back equal to the base), so:

- only one side changed → copy it across;
- both changed to the same value → nothing to write, it becomes the new base;
- both changed differently → a conflict: the later-modified record wins, and the losing
  value is recorded, never dropped silently.

Without a base (a new link, or a field just switched on) an empty side is filled from the
other and differing values are a conflict decided by time.

One-way fields: the source side always wins, with one guard: an empty source never erases
the destination unless the source itself was cleared since the last sync (base non-empty).
Otherwise switching a field to one-way, or creating a person on the source side, would wipe
data the source never had. A destination value that gets overwritten after a human changed it
is recorded as a conflict (rule ``one_way``), so even policy-driven losses are visible.
``off`` fields are never written and keep their old base.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from pcosync.domain.fields import (
    FIELD_SPECS,
    FIELDS,
    FieldName,
    person_from_json,
    person_to_json,
    value_to_json,
)
from pcosync.domain.identity import Side
from pcosync.domain.person import Person
from pcosync.domain.policy import Direction


class ConflictRule(StrEnum):
    LATER_EDIT = "later_edit"  # both sides changed differently: the later record won
    ONE_WAY = "one_way"  # a one-way field overwrote a value someone had set on the destination


class Reason(StrEnum):
    """Why an operation (or one field of it) is in the plan."""

    EDIT = "edit"  # one side changed since the base: copied across
    CONFLICT_WINNER = "conflict_winner"  # both changed: this value won (see the Conflict)
    NEW_LINK = "new_link"  # no base yet (new link, or field just switched on): filled in
    NEW_MEMBER = "new_member"  # membership added on one side
    CREATED = "created"  # the person exists on one side only
    REVERT = "revert"  # undoing an earlier run
    LEFT_EVERY_TEAM = "left_every_team"  # opt-in: their last assignment went this run


SplitValue = tuple[Any, Any]  # (Rock value, Planning Center value)


@dataclass(frozen=True, slots=True)
class Base:
    """What both sides agreed on after the last sync, per field.

    ``unknown`` lists the fields without a base (never synced: ``off``, or a one-way field
    not written at create time); their slot in ``person`` is a placeholder None.

    ``split`` holds fields the two sides are *left differing* on purpose (after a revert):
    each maps to the (Rock, Planning Center) values as they were left. Such a field is
    written only once a person edits it on either side; until then both values stay.

    ``held`` notes (field, side, run id): a run held for review (the newest such run) read
    that side's value of that field differing from this base, and nothing synced it since.
    That side counts as changed even if a person has since put the value back: putting it
    back is an edit too, later than the change the hold saw, and may win a conflict
    (simulation seed 1385). Notes are only added while runs are held; the next applied run
    that plans the pair drops them (its new base has none), an approval drops those of the
    fields it writes and, for the people it was the last held run to read, those of the
    fields it read agreeing again. ``held_by`` is that last held run.
    """

    person: Person
    unknown: frozenset[FieldName] = frozenset()
    split: tuple[tuple[FieldName, Any, Any], ...] = ()
    held: frozenset[tuple[FieldName, Side, int]] = frozenset()
    held_by: int | None = None

    def held_sides(self) -> frozenset[tuple[FieldName, Side]]:
        """The (field, side) pairs of ``held``, without the runs that noted them."""
        return frozenset((name, side) for name, side, _run in self.held)

    def knows(self, name: FieldName) -> bool:
        return name not in self.unknown

    def split_of(self, name: FieldName) -> SplitValue | None:
        for field_name, rock, pco in self.split:
            if field_name is name:
                return rock, pco
        return None

    def to_json(self) -> dict[str, Any]:
        """Only the known fields are stored; a missing key reads back as unknown."""
        known = frozenset(FIELDS) - self.unknown
        out = person_to_json(self.person, known)
        if self.split:
            out[SPLIT_KEY] = {
                name.value: [value_to_json(rock), value_to_json(pco)]
                for name, rock, pco in self.split
            }
        if self.held:
            sides: dict[str, dict[str, int]] = {}
            for name, side, run in sorted(self.held):
                sides.setdefault(name.value, {})[side.value] = run
            out[HELD_KEY] = sides
        if self.held_by is not None:
            out[HELD_BY_KEY] = self.held_by
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Base:
        person, present = person_from_json(raw)
        split: list[tuple[FieldName, Any, Any]] = []
        for key, pair in (raw.get(SPLIT_KEY) or {}).items():
            try:
                name = FieldName(key)
            except ValueError:
                continue
            spec = FIELD_SPECS[name]
            split.append((name, spec.from_json(pair[0]), spec.from_json(pair[1])))
        held: set[tuple[FieldName, Side, int]] = set()
        for key, sides in (raw.get(HELD_KEY) or {}).items():
            try:
                held.update((FieldName(key), Side(side), int(run)) for side, run in sides.items())
            except (ValueError, TypeError, AttributeError):
                continue
        by = raw.get(HELD_BY_KEY)
        return cls(
            person,
            frozenset(FIELDS) - present,
            tuple(split),
            frozenset(held),
            by if isinstance(by, int) else None,
        )

    def with_held(self, marks: Iterable[tuple[FieldName, Side, int]], by: int | None) -> Base:
        """This base with exactly ``marks`` noted, last read by held run ``by``."""
        held = frozenset(marks)
        if held == self.held and self.held_by == by:
            return self
        return Base(self.person, self.unknown, self.split, held, by)


SPLIT_KEY = "_split"
HELD_KEY = "_held"
HELD_BY_KEY = "_held_by"


_ROCK, _PCO = Side.ROCK, Side.PCO
_BOTH, _OFF, _ROCK_TO_PCO = Direction.BOTH, Direction.OFF, Direction.ROCK_TO_PCO
_EDIT, _NEW_LINK, _CONFLICT_WINNER = Reason.EDIT, Reason.NEW_LINK, Reason.CONFLICT_WINNER
_LATER_EDIT, _ONE_WAY = ConflictRule.LATER_EDIT, ConflictRule.ONE_WAY


def conflict_winner(
    rock_time: datetime | None, pco_time: datetime | None, tie_winner: Side
) -> Side:
    """The side whose record was modified later; an unknown time loses; a tie goes to
    ``tie_winner``. Times must be aware (the Rock client converts from org-local time)."""
    if rock_time is not None and rock_time.tzinfo is None:
        raise ValueError("rock modified time is naive; convert it to aware UTC at the client")
    if pco_time is not None and pco_time.tzinfo is None:
        raise ValueError("pco modified time is naive; convert it to aware UTC at the client")
    if rock_time is None and pco_time is None:
        return tie_winner
    if pco_time is None:
        return Side.ROCK
    if rock_time is None:
        return Side.PCO
    if rock_time > pco_time:
        return Side.ROCK
    if pco_time > rock_time:
        return Side.PCO
    return tie_winner


class Outcome(NamedTuple):
    """What to do with one value. At most one side is written per value.

    A NamedTuple rather than a dataclass: the planner makes one per differing field.
    """

    write_to: Side | None  # the side that receives ``value``
    value: Any  # the new base (and the value written, if any)
    known: bool  # whether the new base is known (False only for ``off`` without a base)
    rule: ConflictRule | None  # set when a value was overruled: record a Conflict
    reason: Reason | None  # why the write happens


def merge_value(
    same: Callable[[Any, Any], bool],
    base: Any,
    base_known: bool,
    rock: Any,
    pco: Any,
    direction: Direction,
    winner: Side,
    empty: Any = None,
    *,
    rock_held: bool = False,
    pco_held: bool = False,
) -> Outcome:
    """Merge one value. ``winner`` is the side a conflict would go to (see conflict_winner).

    ``empty`` is the "no value" of the domain: None for person fields, False for membership.
    ``rock_held`` / ``pco_held``: a run held for review read that side as changed from the
    base (``Base.held``), so it counts as changed even where it equals the base again.
    """
    if direction is _OFF:
        return Outcome(None, base, base_known, None, None)
    if direction is _BOTH:
        if base_known:
            rock_changed = rock_held or not same(rock, base)
            pco_changed = pco_held or not same(pco, base)
            if not rock_changed and not pco_changed:
                return Outcome(None, base, True, None, None)
            if (rock_held or pco_held) and same(rock, pco):
                return Outcome(None, rock, True, None, None)  # put back where the other is
            if not pco_changed:
                return Outcome(_PCO, rock, True, None, _EDIT)
            if not rock_changed:
                return Outcome(_ROCK, pco, True, None, _EDIT)
            if same(rock, pco):
                return Outcome(None, rock, True, None, None)
            won = winner
            value = rock if won is _ROCK else pco
            return Outcome(won.other, value, True, _LATER_EDIT, _CONFLICT_WINNER)
        if same(rock, pco):
            return Outcome(None, rock, True, None, None)
        if same(rock, empty):
            return Outcome(_ROCK, pco, True, None, _NEW_LINK)
        if same(pco, empty):
            return Outcome(_PCO, rock, True, None, _NEW_LINK)
        won = winner
        value = rock if won is _ROCK else pco
        return Outcome(won.other, value, True, _LATER_EDIT, _CONFLICT_WINNER)

    if direction is _ROCK_TO_PCO:
        target, src, dst = _PCO, rock, pco
    else:
        target, src, dst = _ROCK, pco, rock
    if same(src, dst):
        return Outcome(None, src, True, None, None)
    if same(src, empty):
        cleared_since_base = base_known and not same(base, empty)
        if not cleared_since_base:
            # The source never had a value: leave the destination's alone.
            return Outcome(None, src, True, None, None)
    dst_edited = (not same(dst, base)) if base_known else (not same(dst, empty))
    if dst_edited:
        return Outcome(target, src, True, _ONE_WAY, _CONFLICT_WINNER)
    return Outcome(target, src, True, None, _EDIT if base_known else _NEW_LINK)


def merge_split(
    same: Callable[[Any, Any], bool],
    split: SplitValue,
    rock: Any,
    pco: Any,
    direction: Direction,
    winner: Side,
    empty: Any = None,
) -> Outcome | None:
    """Merge a field the sides were left differing on (a revert's ``split`` base).

    None: neither side changed its value since, so both stay as they are. Otherwise the
    side that changed is treated as an edit against the other's unchanged value; both
    changed is a conflict (or agreement) like any other.
    """
    rock_base, pco_base = split
    rock_changed = not same(rock, rock_base)
    pco_changed = not same(pco, pco_base)
    if direction is _OFF or (not rock_changed and not pco_changed):
        return None
    if not pco_changed:  # only Rock edited: as if Planning Center's value were the base
        return merge_value(same, pco, True, rock, pco, direction, winner, empty)
    if not rock_changed:
        return merge_value(same, rock, True, rock, pco, direction, winner, empty)
    if same(rock, pco):
        return Outcome(None, rock, True, None, None)
    if direction is _BOTH:
        value = rock if winner is _ROCK else pco
        return Outcome(winner.other, value, True, _LATER_EDIT, _CONFLICT_WINNER)
    # one-way with both edited: the destination's edit loses to the source (recorded)
    dst_base = pco_base if direction is _ROCK_TO_PCO else rock_base
    return merge_value(same, dst_base, True, rock, pco, direction, winner, empty)


def equal(a: Any, b: Any) -> bool:
    return bool(a == b)


def merge_flag(
    base: bool | None,
    rock: bool,
    pco: bool,
    direction: Direction,
    tie_winner: Side = Side.ROCK,
) -> Outcome:
    """The same merge for a boolean such as "is a member" (empty = False).

    With a base two booleans cannot disagree after both changed, and without a base the
    empty side is filled, so membership never produces a conflict: a member on either side
    stays a member unless someone removed them since the last sync.
    """
    return merge_value(
        equal,
        bool(base) if base is not None else False,
        base is not None,
        rock,
        pco,
        direction,
        tie_winner,
        empty=False,
    )
