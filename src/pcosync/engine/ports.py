"""The seams between the pure engine and the outside world, as small protocols.

The orchestrator calls these; the Rock and Planning Center clients implement them, and so do
the in-memory fakes of the simulation tests. Everything crossing them is canonical: a
:class:`~pcosync.domain.Person`, aware-UTC datetimes (the Rock client converts from the
organisation's time zone), E.164 phones. Methods are async because the clients are.

Idempotency, the rule behind every writer method: a write that times out is *ambiguous*
(:class:`~pcosync.errors.AmbiguousWriteError`). The orchestrator then re-reads and decides;
it never resends blindly. For that to be possible:

- the journal records an operation as ``sent`` *before* the request goes out;
- a create carries the link hint (the counterpart's id: PCO ``remote_id`` = Rock person Id,
  Rock attribute ``PcoPersonId`` = PCO person id), so :meth:`PeopleSource.find_by_link_hint`
  finds a person whose create answer was lost;
- updates, link writes and membership changes are "set to this value" writes, safe to
  repeat once a re-read shows they did not land.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pcosync.domain.fields import FieldName, FieldValue
from pcosync.domain.identity import GroupRef, PcoPersonId, RockPersonId, Side
from pcosync.domain.person import Person

RecordId = RockPersonId | PcoPersonId


class Clock(Protocol):
    """Wall-clock time, injected so simulations run on a fake clock."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        ...


@dataclass(frozen=True, slots=True)
class ObservedPerson:
    """One person as a side reports them.

    ``modified_at`` is the latest change to any synced field of the record (the client takes
    the newest of the person, phone, email and address rows it read), aware UTC; conflicts
    are decided on it. ``link_hint`` is the counterpart id found on the record, if any.
    ``alias_id`` is Rock's ``PrimaryAliasId`` (None on PCO), kept to follow Rock merges.
    ``in_scope`` says whether the person is synced at all (DESIGN §4).
    """

    side: Side
    id: RecordId
    person: Person
    modified_at: datetime | None
    link_hint: RecordId | None = None
    alias_id: int | None = None
    in_scope: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. Rock family Id


class PeopleSource(Protocol):
    """Reads people from one side. Implementations never write."""

    side: Side

    def fetch_changed(self, since: datetime) -> AsyncIterator[ObservedPerson]:
        """People whose synced fields changed at or after ``since`` (the caller already
        subtracted its look-back window). May repeat people; the caller de-duplicates."""
        ...

    def fetch_all(self) -> AsyncIterator[ObservedPerson]:
        """Every person in scope (full reconcile), each exactly once."""
        ...

    async def fetch_one(self, person_id: RecordId) -> ObservedPerson | None:
        """Re-read one person; None when the id no longer exists (deleted or merged)."""
        ...

    async def find_by_link_hint(self, counterpart_id: RecordId) -> list[ObservedPerson]:
        """People carrying this counterpart id: how a create with a lost answer is found
        again. More than one result is a duplicate to report, never to pick from."""
        ...

    async def resolve_merged(self, person_id: RecordId, alias_id: int | None) -> RecordId | None:
        """The surviving id of a merged person (PCO ``person_mergers``, Rock
        ``GetByPersonAliasId``), or None if the person was deleted."""
        ...


class PersonWriter(Protocol):
    """Writes people on one side. Every method is a single "make it so" request."""

    side: Side

    async def create_person(self, person: Person, *, link_hint: RecordId) -> ObservedPerson:
        """Create the person with the counterpart's id already on the record.

        The operation must be journaled as ``sent`` before calling; on
        AmbiguousWriteError, call :meth:`PeopleSource.find_by_link_hint` before anything else.
        Returns the created record as re-read (its id, alias id, modified time).
        """
        ...

    async def update_person(
        self,
        person_id: RecordId,
        changes: Mapping[FieldName, FieldValue],
        *,
        known: ObservedPerson | None = None,
    ) -> ObservedPerson:
        """Set exactly these fields (others untouched) and return the record as re-read.
        Setting a field to its current value is harmless, so a retry after a re-read is safe.
        ``known`` is the record as the caller last read it: a writer may take the parts it
        did not write from it instead of reading them again."""
        ...

    async def write_link(self, person_id: RecordId, counterpart_id: RecordId | None) -> None:
        """Write (or with None, clear) the counterpart id on the record. Idempotent."""
        ...


class MembershipSource(Protocol):
    """Reads rosters of linked groups / team positions (DESIGN §5: position level)."""

    side: Side

    def fetch_members(self, group: GroupRef) -> AsyncIterator[RecordId]:
        """Ids of the people who are members now (Rock: active GroupMembers; PCO: people with
        an assignment on the position of a team neither archived nor deleted)."""
        ...


class MembershipWriter(Protocol):
    side: Side

    async def add_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Make the person a member; already a member is success. Returns what the journal
        keeps as the after-image (e.g. the GroupMember or assignment id)."""
        ...

    async def remove_member(self, group: GroupRef, person_id: RecordId) -> Mapping[str, Any]:
        """Make the person not a member (Rock: inactivate or delete the GroupMember; PCO:
        delete the assignment); not a member is success. Returns the before-image needed to
        restore it on revert (e.g. PCO ``schedule_preference``, Rock role id)."""
        ...
