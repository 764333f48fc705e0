"""Planning Center People as the engine sees it: :class:`PcoPeople` maps PCO records to the
canonical :class:`~pcosync.domain.Person` and implements ``PeopleSource`` + ``PersonWriter``.

Mapping (DESIGN §5):

- names, ``gender`` ("Male"/"Female", or "M"/"F" before 2022-07-14), ``birthdate``,
  ``anniversary`` straight from the person;
- email = the primary Email, else the first (a person's only email can be ``primary: false``);
- mobile/home/work phone = the PhoneNumber whose ``location`` is the configured label
  (case-insensitive), in E.164 from ``e164`` or else parsed from ``number``;
- home address = the primary Address, else the one located "Home";
- campus = ``primary_campus`` through the campus map;
- ``link_hint`` = ``remote_id`` (the Rock person Id); ``modified_at`` = the newest
  ``updated_at`` of the person and its emails, phones and addresses.

Request counts (spec §8): ``fetch_all`` is ⌈N/100⌉ requests (contacts come in through
``include=``); ``fetch_changed`` is 4 when nothing changed (people plus the org-wide emails,
phone numbers and addresses changed since), plus one per person whose contact record changed
without the person row being returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pcosync.adapters.common import (
    CampusMap,
    RejectedRecord,
    SharedExtras,
    UnsyncedPhones,
    display_name,
)
from pcosync.adapters.sanitize import screen
from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.models import (
    PcoAddress,
    PcoEmail,
    PcoPerson,
    PcoPersonMerger,
    PcoPhone,
    PcoTeam,
)
from pcosync.domain import (
    Address,
    FieldName,
    InvalidValue,
    Person,
    Side,
    build_person,
    gender_to_pco,
    normalize_address,
    normalize_phone,
)
from pcosync.domain.fields import FieldValue
from pcosync.engine.ports import ObservedPerson, PeopleSource, PersonWriter, RecordId
from pcosync.errors import NotFoundError

DEFAULT_PHONE_LOCATIONS: Mapping[str, str] = {
    "mobile_phone": "Mobile",
    "home_phone": "Home",
    "work_phone": "Work",
}
PHONE_FIELDS = (FieldName.MOBILE_PHONE, FieldName.HOME_PHONE, FieldName.WORK_PHONE)
CONTACT_FIELDS = frozenset({FieldName.EMAIL, *PHONE_FIELDS, FieldName.HOME_ADDRESS})
_NAME_ATTRS = {
    FieldName.FIRST_NAME: "first_name",
    FieldName.NICKNAME: "nickname",
    FieldName.MIDDLE_NAME: "middle_name",
    FieldName.LAST_NAME: "last_name",
}
_MAX_MERGE_HOPS = 10


def _id_key(record_id: str) -> tuple[int, str]:
    return (int(record_id), "") if record_id.isdigit() else (1 << 62, record_id)


_Contact = TypeVar("_Contact", PcoEmail, PcoPhone, PcoAddress)


def _ordered(records: Iterable[_Contact]) -> list[_Contact]:
    """Primary first, then oldest id first: a stable choice when there are several."""
    return sorted(records, key=lambda r: (not r.primary, _id_key(r.id)))


def _newest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


def _as_pco_id(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _iso(value: FieldValue) -> str | None:
    return value.isoformat() if isinstance(value, date) else None


def _address_attrs(address: Address) -> dict[str, Any]:
    return {
        "street_line_1": address.street1,
        "street_line_2": address.street2,
        "city": address.city,
        "state": address.state,
        "zip": address.postal_code,
        "country_code": address.country,
    }


@dataclass
class ServicesSweep:
    """What one run read of Services, shared by the scope and the team rosters: every team
    with its positions and assignments (spec §8(b), one sweep per run) and, when tags sync,
    every Services person's tag ids (None when tags were not read)."""

    teams: list[PcoTeam]
    tags: dict[str, frozenset[str]] | None = None
    services_people: frozenset[str] | None = None  # every Services person, when all were read


class PcoPeople:
    """People on the Planning Center side: a ``PeopleSource`` and a ``PersonWriter``.

    ``rejected`` collects records that could not be read (the orchestrator drains it).
    ``scope``, when set (by :meth:`serving_ids` or by the caller), marks people outside it
    ``in_scope=False``; unset, every person reads as in scope.
    """

    side = Side.PCO

    def __init__(
        self,
        client: PcoClient,
        campus_map: CampusMap,
        *,
        default_region: str = "US",
        phone_locations: Mapping[str, str] | None = None,
        read_tags: bool = False,
    ) -> None:
        self.client = client
        self.read_tags = read_tags
        self.sweep: ServicesSweep | None = None  # this run's, once serving_ids has run
        self.campus_map = campus_map
        self.default_region = default_region
        self._extras = SharedExtras()
        locations = dict(DEFAULT_PHONE_LOCATIONS, **(phone_locations or {}))
        self.phone_locations: dict[FieldName, str] = {f: locations[f.value] for f in PHONE_FIELDS}
        self.rejected: list[RejectedRecord] = []
        self.unsynced: list[UnsyncedPhones] = []  # several numbers of one kind (issue 12)
        self.scope: set[str] | None = None
        # Services people archived, as last read; lets serving_ids(full=False) stay cheap
        self.services_archived: set[str] | None = None
        self.services_mark: datetime | None = None

    # ------------------------------------------------------------------ mapping

    def email_of(self, p: PcoPerson) -> PcoEmail | None:
        emails = _ordered(p.emails)
        return emails[0] if emails else None

    def phones_of(self, p: PcoPerson, name: FieldName) -> list[PcoPhone]:
        """The person's numbers at this field's location: the one that syncs first."""
        label = self.phone_locations[name].casefold()
        return _ordered(x for x in p.phone_numbers if (x.location or "").casefold() == label)

    def phone_of(self, p: PcoPerson, name: FieldName) -> PcoPhone | None:
        phones = self.phones_of(p, name)
        return phones[0] if phones else None

    def _note_unsynced(self, p: PcoPerson) -> None:
        """Numbers beyond the first of one location, of someone in scope: not synced."""
        if self.scope is not None and p.id not in self.scope:
            return
        for name in PHONE_FIELDS:
            extra = [x.id for x in self.phones_of(p, name)[1:] if (x.e164 or x.number)]
            if extra:
                who = display_name(p.first_name, p.nickname, p.last_name)
                self.unsynced.append(UnsyncedPhones(Side.PCO, p.id, who, name.value, tuple(extra)))

    def address_of(self, p: PcoPerson) -> PcoAddress | None:
        primary = _ordered(a for a in p.addresses if a.primary)
        if primary:
            return primary[0]
        home = _ordered(a for a in p.addresses if (a.location or "").casefold() == "home")
        return home[0] if home else None

    def _phone_value(self, phone: PcoPhone | None, name: FieldName) -> str | None:
        if phone is None:
            return None
        raw = phone.e164 or phone.number
        return normalize_phone(raw, self.default_region, field=name.value)

    def to_person(self, p: PcoPerson) -> Person:
        """The canonical person; raises :class:`InvalidValue` naming the first bad field."""
        email = self.email_of(p)
        addr = self.address_of(p)
        phones = {f: self.phone_of(p, f) for f in PHONE_FIELDS}
        screen(
            {
                **{f.value: getattr(p, attr) for f, attr in _NAME_ATTRS.items()},
                "gender": p.gender,
                "email": email.address if email is not None else None,
                "home_address": None
                if addr is None
                else (addr.street_line_1, addr.street_line_2, addr.city, addr.state, addr.zip),
                **{f.value: ph.e164 or ph.number for f, ph in phones.items() if ph is not None},
            }
        )
        home_address = (
            normalize_address(
                addr.street_line_1,
                addr.street_line_2,
                addr.city,
                addr.state,
                addr.zip,
                addr.country_code,
            )
            if addr is not None
            else None
        )
        person = build_person(
            first_name=p.first_name,
            nickname=p.nickname,
            middle_name=p.middle_name,
            last_name=p.last_name,
            gender=p.gender,
            birthdate=p.birthdate,
            anniversary=p.anniversary,
            email=email.address if email is not None else None,
            home_address=home_address,
            campus=self.campus_map.from_pco(p.primary_campus_id),
            default_region=self.default_region,
        )
        return person.with_values(**{f.value: self._phone_value(ph, f) for f, ph in phones.items()})

    def modified_at(self, p: PcoPerson) -> datetime | None:
        times = [p.updated_at]
        times += [c.updated_at for c in p.emails]
        times += [c.updated_at for c in p.phone_numbers]
        times += [c.updated_at for c in p.addresses]
        return _newest(*times)

    def observed(self, p: PcoPerson) -> ObservedPerson:
        """Map one record; raises :class:`InvalidValue` when a value does not normalise."""
        person = self.to_person(p)
        self._note_unsynced(p)
        return ObservedPerson(
            side=Side.PCO,
            id=p.id,
            person=person,
            modified_at=self.modified_at(p),
            link_hint=p.remote_id,
            alias_id=None,
            in_scope=self.scope is None or p.id in self.scope,
            extra=self._extras.get(status=p.status, child=p.child),
        )

    def observe(self, p: PcoPerson) -> ObservedPerson | None:
        """Map one record, or keep it in ``rejected`` and return None."""
        try:
            return self.observed(p)
        except InvalidValue as exc:
            name = display_name(p.first_name, p.nickname, p.last_name)
            self.rejected.append(RejectedRecord.from_invalid(Side.PCO, p.id, name, exc))
            return None

    def _observe_all(self, people: Iterable[PcoPerson]) -> list[ObservedPerson]:
        out = []
        for p in people:
            seen = self.observe(p)
            if seen is not None:
                out.append(seen)
        return out

    # ------------------------------------------------------------------ PeopleSource

    async def fetch_all(self) -> AsyncIterator[ObservedPerson]:
        """Everyone, with contacts included: ⌈N/100⌉ requests."""
        # mapped as each page arrives: the PcoPerson records are never all held at once
        for seen in await self.client.people_as(self.observe):
            if seen is not None:
                yield seen

    async def fetch_changed(self, since: datetime) -> AsyncIterator[ObservedPerson]:
        """People updated since ``since``, plus (defensively, spec §8(c)) the owners of
        emails, phone numbers and addresses changed since then."""
        people, emails, phones, addresses = await asyncio.gather(
            self.client.people(updated_since=since, concurrency=1),
            self.client.emails_changed_since(since),
            self.client.phones_changed_since(since),
            self.client.addresses_changed_since(since),
        )
        returned = {p.id for p in people}
        owners: dict[str, None] = {}
        contact_owners = [e.person_id for e in emails]
        contact_owners += [x.person_id for x in phones]
        contact_owners += [a.person_id for a in addresses]
        for owner in contact_owners:
            if owner and owner not in returned:
                owners[owner] = None
        for seen in self._observe_all(people):
            yield seen
        for seen in await self.fetch_many(list(owners)):
            yield seen

    async def fetch_recent(
        self, since: datetime, wanted: Callable[[], Collection[str]] | None = None
    ) -> list[ObservedPerson]:
        """People updated since ``since``, contacts included, newest first: the one-request
        re-read a run makes before writing (an email, phone or address edit bumps the
        person's ``updated_at``, spec §4.11). Contacts come in the same request here, so
        ``wanted`` (see the Rock adapter) saves nothing and is not used."""
        return self._observe_all(await self.client.people(updated_since=since, concurrency=1))

    async def delete_person(self, person_id: RecordId) -> bool:
        """Delete a person pcosync created (a revert). False when already gone."""
        try:
            await self.client.delete(f"/people/v2/people/{int(str(person_id))}")
        except NotFoundError:
            return False
        return True

    async def _read(self, person_id: str) -> PcoPerson | None:
        try:
            return await self.client.person(str(person_id))
        except NotFoundError:
            return None

    async def fetch_one(self, person_id: RecordId) -> ObservedPerson | None:
        p = await self._read(str(person_id))
        return None if p is None else self.observe(p)

    async def fetch_many(self, person_ids: Sequence[RecordId]) -> list[ObservedPerson]:
        """Several people by id, one request each (PCO has no multi-id filter); ids that no
        longer exist are left out."""
        ids = list(dict.fromkeys(str(i) for i in person_ids))
        found = await asyncio.gather(*(self._read(i) for i in ids))
        return self._observe_all(p for p in found if p is not None)

    async def candidates(self, last_names: Iterable[str]) -> list[ObservedPerson]:
        """People sharing one of these last names (PCO compares case-insensitively); every
        tier of matching evidence requires the same last name. One request per name."""
        names: dict[str, str] = {}
        for name in last_names:
            text = " ".join(name.split())
            if text and "%" not in text:  # % would turn PCO's equality into a prefix match
                names.setdefault(text.casefold(), text)
        batches = await asyncio.gather(
            *(self.client.find_people({"last_name": n}) for n in names.values())
        )
        unique = {p.id: p for batch in batches for p in batch}
        return self._observe_all(unique.values())

    async def find_by_link_hint(self, counterpart_id: RecordId) -> list[ObservedPerson]:
        """People whose ``remote_id`` is this Rock person Id."""
        rows = await self.client.find_people({"remote_id": int(counterpart_id)})
        return self._observe_all(p for p in rows if p.remote_id == int(counterpart_id))

    async def resolve_merged(self, person_id: RecordId, alias_id: int | None) -> RecordId | None:
        """Follow ``person_mergers`` from a removed id to the survivor (through chains of
        merges); None when the person was deleted rather than merged."""
        current = str(person_id)
        for _ in range(_MAX_MERGE_HOPS):
            merger = await self.client.merger_for_removed(current)
            if merger is None:
                return None  # deleted, not merged (or the survivor was deleted since)
            current = merger.person_to_keep_id
            if await self._read(current) is not None:
                return current
        return None

    async def mergers_since(self, since: datetime | None) -> list[PcoPersonMerger]:
        return await self.client.person_mergers(since)

    # ------------------------------------------------------------------ scope (DESIGN §4)

    async def serving_ids(self, full: bool = True, since: datetime | None = None) -> set[str]:
        """Ids of people actively serving: an assignment on a team neither archived nor
        deleted (one org-wide teams sweep, usually 1 request), minus people archived in
        Services. A full run reads every Services person; otherwise only those changed
        since ``since`` (default: the newest change seen last time) update what is known.
        When tags sync (``read_tags``), every Services person is read with their tags on
        every run, since tag assignments carry no timestamp. The result also becomes
        :attr:`scope`; what was read stays in :attr:`sweep` for the team rosters."""
        teams_task = self.client.teams(with_assignments=True)
        every = full or self.read_tags or self.services_archived is None
        every_read = every or (since or self.services_mark) is None
        if every_read:
            teams, services = await asyncio.gather(
                teams_task, self.client.services_people(with_tags=self.read_tags)
            )
            archived: set[str] = set()
        else:
            changed_since = since or self.services_mark
            assert changed_since is not None and self.services_archived is not None
            teams, services = await asyncio.gather(
                teams_task, self.client.services_people_changed_since(changed_since)
            )
            archived = set(self.services_archived)
        for sp in services:
            if sp.archived_at is not None:
                archived.add(sp.id)
            else:
                archived.discard(sp.id)
        self.services_archived = archived
        self.services_mark = _newest(self.services_mark, *(sp.updated_at for sp in services))
        assigned = {
            a.person_id
            for team in teams
            if team.live
            for a in team.assignments
            if a.person_id is not None
        }
        self.scope = assigned - archived
        tags = {sp.id: sp.tag_ids for sp in services if sp.tag_ids} if self.read_tags else None
        everyone = frozenset(sp.id for sp in services) if every_read else None
        self.sweep = ServicesSweep(teams, tags, everyone)
        return set(self.scope)

    # ------------------------------------------------------------------ PersonWriter

    def _person_attrs(self, changes: Mapping[FieldName, FieldValue]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        for name, value in changes.items():
            if name in _NAME_ATTRS:
                attrs[_NAME_ATTRS[name]] = value
            elif name is FieldName.GENDER:
                attrs["gender"] = gender_to_pco(value)  # type: ignore[arg-type]
            elif name in (FieldName.BIRTHDATE, FieldName.ANNIVERSARY):
                attrs[name.value] = _iso(value)
            elif name is FieldName.CAMPUS:
                campus = self.campus_map.to_pco(value if isinstance(value, str) else None)
                attrs["primary_campus_id"] = None if campus is None else _as_pco_id(campus)
        return attrs

    async def _write_contacts(
        self, current: PcoPerson, changes: Mapping[FieldName, FieldValue]
    ) -> None:
        """One request per changed contact field: update the record, create it when missing,
        delete it when the new value is None. Serial: PCO asks for one create at a time."""
        pid = current.id
        has_phone = bool(current.phone_numbers)
        for name, value in changes.items():
            if name is FieldName.EMAIL:
                email = self.email_of(current)
                if value is None:
                    if email is not None:
                        await self.client.delete_email(email.id)
                elif email is not None:
                    await self.client.update_email(email.id, {"address": value})
                else:
                    await self.client.create_email(pid, str(value), location="Home", primary=True)
            elif name in self.phone_locations:
                phone = self.phone_of(current, name)
                if value is None:
                    if phone is not None:
                        await self.client.delete_phone(phone.id)
                elif phone is not None:
                    await self.client.update_phone(phone.id, {"number": value})
                else:
                    await self.client.create_phone(
                        pid,
                        str(value),
                        location=self.phone_locations[name],
                        primary=not has_phone,
                    )
                    has_phone = True
            elif name is FieldName.HOME_ADDRESS:
                addr = self.address_of(current)
                if not isinstance(value, Address):
                    if addr is not None:
                        await self.client.delete_address(addr.id)
                elif addr is not None:
                    await self.client.update_address(addr.id, _address_attrs(value))
                else:
                    await self.client.create_address(
                        pid, {**_address_attrs(value), "location": "Home", "primary": True}
                    )

    async def _reread(self, person_id: str) -> ObservedPerson:
        return self.observed(await self.client.person(person_id))

    async def update_person(
        self,
        person_id: RecordId,
        changes: Mapping[FieldName, FieldValue],
        *,
        known: ObservedPerson | None = None,
    ) -> ObservedPerson:
        """Person attributes in one PATCH, each contact field through its own record, then
        one re-read. Contact changes cost one read first (to find the record ids). The
        re-read is one request here whatever was written, so ``known`` is not needed."""
        pid = str(person_id)
        attrs = self._person_attrs(changes)  # validates the campus before anything is sent
        contact = {k: v for k, v in changes.items() if k in CONTACT_FIELDS}
        current = None
        if FieldName.FIRST_NAME in changes and FieldName.NICKNAME not in changes:
            # a nickname equal to the first name reads as no nickname (as on Rock): keep it
            # so under the new first name, or the old one would surface as a nickname
            current = await self.client.person(pid)
            nick, first = current.nickname, current.first_name
            if nick and first and nick.strip() == first.strip():
                attrs["nickname"] = None
        if attrs:
            await self.client.update_person(pid, attrs)
        if contact:
            await self._write_contacts(current or await self.client.person(pid), contact)
        return await self._reread(pid)

    async def create_person(self, person: Person, *, link_hint: RecordId) -> ObservedPerson:
        """POST the person with ``remote_id`` = the Rock Id (so a lost answer is found again
        by :meth:`find_by_link_hint`), then its contact records; return it re-read.

        If a contact write fails after the POST, the person exists and carries the link:
        the orchestrator's re-read finds it and the next update fills the rest in.
        """
        changes = {f: getattr(person, f.value) for f in FieldName}
        attrs = {k: v for k, v in self._person_attrs(changes).items() if v is not None}
        attrs["remote_id"] = int(link_hint)
        created = await self.client.create_person(attrs)
        contact = {k: v for k, v in changes.items() if k in CONTACT_FIELDS and v is not None}
        if contact:
            await self._write_contacts(created, contact)
        return await self._reread(created.id)

    async def set_active(
        self, person_id: RecordId, active: bool, *, unless_inactivated_after: datetime | None = None
    ) -> dict[str, Any]:
        """Make the person inactive in People (``status``; the API cannot archive a Services
        person, spec §5.5) or active again. Already so is success. Returns
        ``{"status": <before>, "changed": bool}``. ``unless_inactivated_after``: someone made
        inactive later than that (by someone else, since) is left so (``"left_alone"``)."""
        pid = str(person_id)
        person = await self.client.person(pid, include=())
        before = "active" if person.active else "inactive"
        wanted = "active" if active else "inactive"
        since = person.inactivated_at
        if active and unless_inactivated_after and since and since > unless_inactivated_after:
            return {"status": before, "changed": False, "left_alone": True}
        if before != wanted:
            await self.client.update_person(pid, {"status": wanted})
        return {"status": before, "changed": before != wanted}

    async def write_link(self, person_id: RecordId, counterpart_id: RecordId | None) -> None:
        remote = None if counterpart_id is None else int(counterpart_id)
        await self.client.update_person(str(person_id), {"remote_id": remote})


if TYPE_CHECKING:  # mypy proves the adapter fits the engine's ports

    def _ports(adapter: PcoPeople) -> tuple[PeopleSource, PersonWriter]:
        return adapter, adapter
