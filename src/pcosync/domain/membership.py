"""Team membership as a boolean field of a (person, position) pair.

PCO assigns people to team *positions* (PersonTeamPositionAssignment); Rock has active
GroupMembers of the group linked to that position. Reduced to "is member", a membership has
a base like any person field, so the planner can run the same three-way merge on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pcosync.domain.identity import GroupRef, PersonRef, Side


@dataclass(frozen=True, slots=True)
class MembershipKey:
    person: PersonRef
    group: GroupRef

    def describe(self) -> str:
        return f"{self.person.describe()} in {self.group.describe()}"


@dataclass(frozen=True, slots=True)
class Membership:
    """One observation of a pair on both sides, with the base both agreed on last time.

    ``rock`` / ``pco`` None means "not observed this run, unchanged since the base" (an
    incremental run need not re-read unchanged rosters). ``base`` None means no base yet.
    ``split`` names the one side that is a member in a pair a revert left differing: both
    stay as they are until a person changes either side.
    """

    key: MembershipKey
    base: bool | None
    rock: bool | None
    pco: bool | None
    split: Side | None = None
