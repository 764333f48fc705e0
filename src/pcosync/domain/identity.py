"""Who is who: the two sides, and references to linked records.

Rock ids are integers and Planning Center ids are strings (JSON:API ids), everywhere; keeping
the two types apart lets mypy catch a Rock id passed where a PCO id belongs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Side(StrEnum):
    ROCK = "rock"
    PCO = "pco"

    @property
    def other(self) -> Side:
        return Side.PCO if self is Side.ROCK else Side.ROCK

    @property
    def label(self) -> str:
        """How the side is named to a church admin."""
        return "Rock" if self is Side.ROCK else "Planning Center"


RockPersonId = int
PcoPersonId = str
RockGroupId = int
PcoGroupId = str  # typed, e.g. "TeamPosition:123" (DESIGN §3)


@dataclass(frozen=True, slots=True)
class PersonRef:
    """One person as the sync knows them: a stored link, or one side's record awaiting a link.

    ``link_id`` is None until the store has the link (a fresh match or a create in flight);
    a side id is None while that side's record does not exist yet.
    """

    link_id: int | None
    rock_id: RockPersonId | None
    pco_id: PcoPersonId | None
    # the name an admin recognises, when known; never part of equality, and never in
    # ``describe()`` (which goes into errors and logs, where personal data must not)
    name: str | None = field(default=None, compare=False)

    def id_on(self, side: Side) -> RockPersonId | PcoPersonId | None:
        return self.rock_id if side is Side.ROCK else self.pco_id

    def describe(self) -> str:
        parts = []
        if self.rock_id is not None:
            parts.append(f"Rock Id {self.rock_id}")
        if self.pco_id is not None:
            parts.append(f"Planning Center id {self.pco_id}")
        if self.link_id is not None:
            parts.append(f"link {self.link_id}")
        return ", ".join(parts) or "unidentified person"

    def ids(self) -> str:
        """The record ids, for a secondary column next to the name."""
        parts = []
        if self.rock_id is not None:
            parts.append(f"Rock {self.rock_id}")
        if self.pco_id is not None:
            parts.append(f"Planning Center {self.pco_id}")
        return ", ".join(parts) or "-"

    def label(self) -> str:
        """For a person reading output: the name first, the ids after it."""
        if not self.name:
            return self.describe()
        return f"{self.name} ({self.ids()})"

    def named(self, name: str | None) -> PersonRef:
        return PersonRef(self.link_id, self.rock_id, self.pco_id, name or self.name)


class GroupKind(StrEnum):
    """What a Rock group is linked to in Planning Center (DESIGN §3, §7)."""

    TEAM_POSITION = "team_position"  # membership syncs at this level
    TEAM = "team"
    SERVICE_TYPE = "service_type"
    FOLDER = "folder"
    TAG = "tag"  # membership = has the tag (optional, DESIGN §7)
    TAG_GROUP = "tag_group"


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A Rock group linked to a PCO object (usually a team position)."""

    group_link_id: int | None
    rock_group_id: RockGroupId
    pco_id: PcoGroupId  # "TeamPosition:123"
    name: str | None = field(default=None, compare=False)  # e.g. "Band › Drums", when known

    def describe(self) -> str:
        return f"Rock group Id {self.rock_group_id} ⇄ Planning Center {self.pco_id}"

    def label(self) -> str:
        """For a person reading output: the name first, the ids after it."""
        if not self.name:
            return self.describe()
        return f"{self.name} (Rock group {self.rock_group_id}, Planning Center {self.pco_id})"
