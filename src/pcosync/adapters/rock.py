"""Rock RMS people as the engine sees it: :class:`RockPeople` maps Rock rows to the canonical
:class:`~pcosync.domain.Person` and implements ``PeopleSource`` + ``PersonWriter``.

Mapping (DESIGN §5, spec §3.2–3.5):

- ``FirstName``, ``NickName`` (Rock fills NickName with FirstName: equal means no nickname;
  no canonical nickname is written as NickName = FirstName), ``MiddleName``, ``LastName``,
  ``Gender`` 0/1/2, ``BirthDay/BirthMonth/BirthYear``, ``AnniversaryDate``, ``Email``;
- phones by ``NumberTypeValueId`` (Mobile/Home/Work, by GUID), ``CountryCode`` + ``Number``
  read as E.164;
- home address = the Home GroupLocation's Location of the person's primary family, campus =
  that family's ``CampusId`` through the campus map. Both belong to the family: writing them
  changes every member of the family, as it does in Rock's own UI;
- ``alias_id`` = ``PrimaryAliasId`` (read from unexpanded rows: spec §2.6), ``link_hint`` =
  the ``PcoPersonId`` attribute (loaded in bulk by :meth:`prepare`);
- ``modified_at`` = the newest ``ModifiedDateTime`` of the person, their phones, the family's
  Home GroupLocation and its Location, and the family group (address and campus changes do
  not bump the person: spec §5).

Businesses, REST users and deceased people are not people to the sync and never appear.

A create carries the link twice: ``ForeignKey = "pcosync:pco:<id>"`` in the POST itself (so a
create whose answer was lost is still found) and the ``PcoPersonId`` attribute right after.

Request counts (pages of 1,000): ``fetch_all`` reads people, phone numbers, family groups
and Home group locations, 4 requests up to 1,000 of each; ``fetch_changed`` is 4 requests
when nothing changed (people, group locations, locations, family groups modified since).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import phonenumbers

from pcosync.adapters.common import (
    CampusMap,
    RejectedRecord,
    SharedExtras,
    UnsyncedPhones,
    display_name,
)
from pcosync.adapters.sanitize import screen
from pcosync.clients.rock import Guids, RockClient, odata
from pcosync.domain import (
    Address,
    FieldName,
    InvalidValue,
    Person,
    Side,
    build_person,
    date_from_parts,
    gender_to_rock,
    normalize_address,
    normalize_phone,
)
from pcosync.domain.fields import FieldValue
from pcosync.engine.ports import ObservedPerson, PeopleSource, PersonWriter, RecordId
from pcosync.errors import ClientError, NotFoundError, SyncDataError

log = logging.getLogger("pcosync.adapters.rock")

Row = dict[str, Any]

PHONE_FIELDS = (FieldName.MOBILE_PHONE, FieldName.HOME_PHONE, FieldName.WORK_PHONE)
_PHONE_GUIDS = {
    FieldName.MOBILE_PHONE: Guids.PHONE_MOBILE,
    FieldName.HOME_PHONE: Guids.PHONE_HOME,
    FieldName.WORK_PHONE: Guids.PHONE_WORK,
}
_STATUS_GUIDS = {
    Guids.RECORD_STATUS_ACTIVE: "active",
    Guids.RECORD_STATUS_INACTIVE: "inactive",
    Guids.RECORD_STATUS_PENDING: "pending",
}
FOREIGN_KEY_PREFIX = "pcosync:pco:"


PERSON_COLUMNS = [
    "Id",
    "FirstName",
    "NickName",
    "MiddleName",
    "LastName",
    "Gender",
    "BirthDay",
    "BirthMonth",
    "BirthYear",
    "AnniversaryDate",
    "Email",
    "RecordTypeValueId",
    "RecordStatusValueId",
    "IsDeceased",
    "PrimaryFamilyId",
    "ModifiedDateTime",
]
# a Home GroupLocation as the mapping reads it (OData v3 selects into an expanded navigation)
HOME_COLUMNS = [
    "Id",
    "GroupId",
    "GroupLocationTypeValueId",
    "ModifiedDateTime",
    *(
        f"Location/{k}"
        for k in (
            "Street1",
            "Street2",
            "City",
            "State",
            "PostalCode",
            "Country",
            "ModifiedDateTime",
        )
    ),
]
PHONE_COLUMNS = [
    "Id",
    "PersonId",
    "NumberTypeValueId",
    "CountryCode",
    "Number",
    "Extension",
    "IsMessagingEnabled",
    "IsUnlisted",
    "ModifiedDateTime",
]


@dataclass(frozen=True, slots=True)
class RockSystemIds:
    """Install-specific Ids of the system rows the adapter uses, resolved by GUID."""

    person_record_type: int
    phone_types: Mapping[FieldName, int]
    home_location_type: int
    previous_location_type: int
    family_group_type: int
    adult_role: int
    record_statuses: Mapping[int, str]  # Id -> "active" | "inactive" | "pending"
    link_attribute_id: int | None  # None until the first link id is written (pcosync init)


async def _nothing() -> list[Row]:
    return []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _rock_date(value: date | None) -> str | None:
    return None if value is None else f"{value:%Y-%m-%d}T00:00:00"


def _split_e164(e164: str) -> tuple[str, str]:
    """E.164 → Rock's (CountryCode, Number digits)."""
    number = phonenumbers.parse(e164, None)
    return str(number.country_code), phonenumbers.national_significant_number(number)


def _pack(row: Row, columns: Sequence[str]) -> tuple[Any, ...]:
    """A row's selected values in column order: a fraction of a dict's memory."""
    return tuple(row.get(c) for c in columns)


def _unpack(values: tuple[Any, ...], columns: Sequence[str]) -> Row:
    return dict(zip(columns, values, strict=True))


def _foreign_key(pco_id: RecordId) -> str:
    return f"{FOREIGN_KEY_PREFIX}{pco_id}"


class RockPeople:
    """People on the Rock side: a ``PeopleSource`` and a ``PersonWriter``.

    Call :meth:`prepare` once per run (the other methods call it when it has not run yet).
    ``rejected`` collects records that could not be read (the orchestrator drains it).
    """

    side = Side.ROCK

    def __init__(
        self,
        client: RockClient,
        campus_map: CampusMap,
        *,
        link_attribute_key: str = "PcoPersonId",
        default_region: str = "US",
    ) -> None:
        self.client = client
        self.campus_map = campus_map
        self.link_attribute_key = link_attribute_key
        self.default_region = default_region
        self.rejected: list[RejectedRecord] = []
        self.unsynced: list[UnsyncedPhones] = []  # several numbers of one type (issue 12)
        self.links: dict[int, str] = {}  # Rock person Id -> PCO person id
        self._ids: RockSystemIds | None = None
        self._attribute_lock = asyncio.Lock()
        self._extras = SharedExtras()

    # ------------------------------------------------------------------ run setup

    @property
    def ids(self) -> RockSystemIds:
        if self._ids is None:
            raise RuntimeError("RockPeople.prepare() has not run")
        return self._ids

    async def prepare(self) -> RockSystemIds:
        """Resolve system Ids by GUID, find the link attribute, load the links. Reads only
        (a held or dry run writes nothing): a missing link attribute is created by the
        first write that needs it. About 6 requests."""
        value_guids = [
            Guids.RECORD_TYPE_PERSON,
            *_PHONE_GUIDS.values(),
            Guids.LOCATION_HOME,
            Guids.LOCATION_PREVIOUS,
            *_STATUS_GUIDS,
        ]
        c = self.client
        values, family, adult, attribute_id = await asyncio.gather(
            self._by_guid("DefinedValues", value_guids),
            self._by_guid("GroupTypes", [Guids.GROUP_TYPE_FAMILY]),
            self._by_guid("GroupTypeRoles", [Guids.FAMILY_ADULT]),
            c.find_attribute(Guids.ENTITY_PERSON, self.link_attribute_key),
        )
        attribute_id = int(attribute_id["Id"]) if attribute_id else None
        self._ids = RockSystemIds(
            person_record_type=values[Guids.RECORD_TYPE_PERSON],
            phone_types={f: values[g] for f, g in _PHONE_GUIDS.items()},
            home_location_type=values[Guids.LOCATION_HOME],
            previous_location_type=values[Guids.LOCATION_PREVIOUS],
            family_group_type=family[Guids.GROUP_TYPE_FAMILY],
            adult_role=adult[Guids.FAMILY_ADULT],
            record_statuses={values[g]: name for g, name in _STATUS_GUIDS.items()},
            link_attribute_id=attribute_id,
        )
        self.links = (
            {v.entity_id: v.value for v in await c.attribute_values(attribute_id)}
            if attribute_id is not None
            else {}
        )
        return self._ids

    async def _link_attribute(self) -> int:
        """The link attribute's Id, created the first time a link id is written."""
        ids = await self._ready()
        if ids.link_attribute_id is not None:
            return ids.link_attribute_id
        async with self._attribute_lock:  # many first link writes at once: one creates it
            ids = self.ids
            if ids.link_attribute_id is not None:
                return ids.link_attribute_id
            attribute_id = await self.client.ensure_attribute(
                Guids.ENTITY_PERSON,
                self.link_attribute_key,
                "PCO Person Id",
                "Planning Center person id, written by pcosync",
            )
            self._ids = replace(ids, link_attribute_id=attribute_id)
            return attribute_id

    async def _by_guid(self, entity: str, guids: Sequence[str]) -> dict[str, int]:
        flt = " or ".join(f"Guid eq {odata.guid(g)}" for g in guids)
        rows = await self.client.query(entity, filter=flt, select=["Id", "Guid"])
        found = {str(r["Guid"]).upper(): int(r["Id"]) for r in rows}
        missing = [g for g in guids if g.upper() not in found]
        if missing:
            raise NotFoundError(
                f"Rock has no {entity} row with system GUID {missing[0]}",
                service="rock",
                method="GET",
                path=f"/api/{entity}",
            )
        return {g: found[g.upper()] for g in guids}

    async def _ready(self) -> RockSystemIds:
        return self._ids if self._ids is not None else await self.prepare()

    def _person_filter(self, since: datetime | None = None) -> str:
        clauses = [f"RecordTypeValueId eq {self.ids.person_record_type}"]
        if since is not None:
            clauses.append(odata.cmp("ModifiedDateTime", "ge", since, self.client.tz))
        return odata.all_of(*clauses)

    def _is_person(self, row: Row) -> bool:
        return _int(row.get("RecordTypeValueId")) == self.ids.person_record_type and not row.get(
            "IsDeceased"
        )

    def _time(self, text: Any) -> datetime | None:
        return odata.from_local(text if isinstance(text, str) else None, self.client.tz)

    # ------------------------------------------------------------------ reading rows

    async def _related(
        self, person_ids: Iterable[int], family_ids: Iterable[int]
    ) -> tuple[list[Row], list[Row], list[Row]]:
        """Phones of these people, and these families' groups and Home group locations."""
        ids = self.ids
        fams = list(dict.fromkeys(family_ids))
        phones, groups, homes = await asyncio.gather(
            self.client.query_any("PhoneNumbers", "PersonId", person_ids),
            self.client.query_any("Groups", "Id", fams),
            self.client.query_any(
                "GroupLocations",
                "GroupId",
                fams,
                filter=f"GroupLocationTypeValueId eq {ids.home_location_type}",
                expand=["Location"],
            ),
        )
        return phones, groups, homes

    async def _refresh_links(self, person_ids: Sequence[int]) -> None:
        if not person_ids or self.ids.link_attribute_id is None:
            return
        rows = await self.client.query_any(
            "AttributeValues",
            "EntityId",
            person_ids,
            filter=f"AttributeId eq {self.ids.link_attribute_id}",
            select=["Id", "EntityId", "Value"],
        )
        fresh = {int(r["EntityId"]): str(r.get("Value") or "") for r in rows}
        for pid in person_ids:
            value = fresh.get(pid)
            if value:
                self.links[pid] = value
            else:
                self.links.pop(pid, None)

    async def _observe_rows(
        self, rows: Sequence[Row], *, refresh_links: bool = False, strict: bool = False
    ) -> list[ObservedPerson]:
        """Read what the person rows lack (phones, family, address) and map them."""
        if not rows:
            return []
        ids = [int(r["Id"]) for r in rows]
        families = [f for f in (_int(r.get("PrimaryFamilyId")) for r in rows) if f is not None]
        if refresh_links:
            (phones, groups, homes), _ = await asyncio.gather(
                self._related(ids, families), self._refresh_links(ids)
            )
        else:
            phones, groups, homes = await self._related(ids, families)
        return self._assemble(rows, phones, groups, homes, strict=strict)

    def _assemble(
        self,
        rows: Iterable[Row],
        phones: Iterable[Row],
        groups: Iterable[Row],
        homes: Iterable[Row],
        *,
        strict: bool = False,
    ) -> list[ObservedPerson]:
        phones_of: dict[int, list[Row]] = defaultdict(list)
        for ph in sorted(phones, key=lambda r: int(r["Id"])):
            phones_of[int(ph.get("PersonId") or 0)].append(ph)
        group_of = {int(g["Id"]): g for g in groups}
        home_of: dict[int, Row] = {}
        for gl in sorted(homes, key=lambda r: int(r["Id"])):  # newest Home location wins
            if _int(gl.get("GroupLocationTypeValueId")) == self.ids.home_location_type:
                home_of[int(gl.get("GroupId") or 0)] = gl
        out: list[ObservedPerson] = []
        for row in rows:
            pid = int(row["Id"])
            family_id = _int(row.get("PrimaryFamilyId"))
            family = group_of.get(family_id) if family_id is not None else None
            home = home_of.get(family_id) if family_id is not None else None
            try:
                out.append(self._observed(row, phones_of.get(pid, []), family, home))
            except InvalidValue as exc:
                if strict:
                    raise
                name = display_name(row.get("FirstName"), row.get("NickName"), row.get("LastName"))
                self.rejected.append(RejectedRecord.from_invalid(Side.ROCK, pid, name, exc))
        return out

    def _phone_value(self, phone: Row | None, name: FieldName) -> str | None:
        if phone is None:
            return None
        number = str(phone.get("Number") or "").strip()
        if not number:
            return None
        code = str(phone.get("CountryCode") or "").strip().lstrip("+")
        raw = f"+{code}{number}" if code else number
        return normalize_phone(raw, self.default_region, field=name.value)

    def to_person(
        self, row: Row, phones: Sequence[Row], family: Row | None, home: Row | None
    ) -> Person:
        """The canonical person; raises :class:`InvalidValue` naming the first bad field."""
        by_type = {v: f for f, v in self.ids.phone_types.items()}
        chosen: dict[FieldName, Row] = {}
        for ph in phones:
            field = by_type.get(_int(ph.get("NumberTypeValueId")) or -1)
            if field is not None and field not in chosen and str(ph.get("Number") or "").strip():
                chosen[field] = ph
        location = home.get("Location") if home is not None else None
        screen(
            {
                "first_name": row.get("FirstName"),
                "nickname": row.get("NickName"),
                "middle_name": row.get("MiddleName"),
                "last_name": row.get("LastName"),
                "email": row.get("Email"),
                "home_address": [
                    location.get(k) for k in ("Street1", "Street2", "City", "State", "PostalCode")
                ]
                if isinstance(location, Mapping)
                else None,
                **{f.value: (ph.get("CountryCode"), ph.get("Number")) for f, ph in chosen.items()},
            }
        )
        first = row.get("FirstName")
        nick = row.get("NickName")
        if isinstance(nick, str) and isinstance(first, str) and nick.strip() == first.strip():
            nick = None  # Rock's default: NickName = FirstName means "no nickname"
        address: Address | None = None
        if isinstance(location, Mapping):
            address = normalize_address(
                location.get("Street1"),
                location.get("Street2"),
                location.get("City"),
                location.get("State"),
                location.get("PostalCode"),
                location.get("Country"),
            )
        campus_id = _int(family.get("CampusId")) if family is not None else None
        anniversary = row.get("AnniversaryDate")
        person = build_person(
            first_name=first,
            nickname=nick,
            middle_name=row.get("MiddleName"),
            last_name=row.get("LastName"),
            gender=_int(row.get("Gender")) or 0,
            birthdate=date_from_parts(
                _int(row.get("BirthDay")), _int(row.get("BirthMonth")), _int(row.get("BirthYear"))
            ),
            anniversary=anniversary,
            email=row.get("Email"),
            home_address=address,
            campus=self.campus_map.from_rock(campus_id),
            default_region=self.default_region,
        )
        return person.with_values(
            **{f.value: self._phone_value(chosen.get(f), f) for f in PHONE_FIELDS}
        )

    def _observed(
        self, row: Row, phones: Sequence[Row], family: Row | None, home: Row | None
    ) -> ObservedPerson:
        pid = int(row["Id"])
        times = [self._time(row.get("ModifiedDateTime"))]
        times += [self._time(ph.get("ModifiedDateTime")) for ph in phones]
        if family is not None:
            times.append(self._time(family.get("ModifiedDateTime")))
        if home is not None:
            times.append(self._time(home.get("ModifiedDateTime")))
            location = home.get("Location")
            if isinstance(location, Mapping):
                times.append(self._time(location.get("ModifiedDateTime")))
        present = [t for t in times if t is not None]
        person = self.to_person(row, phones, family, home)
        if pid in self.links:  # a synced person: numbers beyond the oldest of a type
            by_type = {v: f for f, v in self.ids.phone_types.items()}
            seen: dict[FieldName, list[str]] = {}
            for ph in phones:  # oldest first (see _assemble)
                field = by_type.get(_int(ph.get("NumberTypeValueId")) or -1)
                if field is not None and str(ph.get("Number") or "").strip():
                    seen.setdefault(field, []).append(str(ph["Id"]))
            who = display_name(row.get("FirstName"), row.get("NickName"), row.get("LastName"))
            for field, found in seen.items():
                if len(found) > 1:
                    self.unsynced.append(
                        UnsyncedPhones(Side.ROCK, pid, who, field.value, tuple(found[1:]))
                    )
        return ObservedPerson(
            side=Side.ROCK,
            id=pid,
            person=person,
            modified_at=max(present) if present else None,
            link_hint=self.links.get(pid),
            alias_id=_int(row.get("PrimaryAliasId")),
            extra=self._extras.get(
                family_id=_int(row.get("PrimaryFamilyId")),
                record_status=self.ids.record_statuses.get(
                    _int(row.get("RecordStatusValueId")) or -1
                ),
            ),
        )

    # ------------------------------------------------------------------ PeopleSource

    async def fetch_all(self) -> AsyncIterator[ObservedPerson]:
        """Everyone: people, phone numbers, family groups and Home group locations, each
        read in pages of 1,000 (4 requests up to 1,000 of each)."""
        ids = await self._ready()
        c = self.client
        # only the columns the mapping reads: full Rock entities are ~60 keys a row, and at
        # 100,000 people the difference is most of the sync's memory. `$select` drops the
        # computed PrimaryAliasId (spec §2.6), so aliases come from PersonAlias instead.
        # Each page is packed as it arrives (a tuple of the selected values, not a dict; the
        # newest Home location of a family only) and dropped: the whole read is never held
        # as rows (issue 14).
        self._extras.clear()  # one run's families, not every family ever read
        first_alias: dict[int, int] = {}
        people: list[tuple[Any, ...]] = []
        phones_of: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        group_of: dict[int, Row] = {}
        home_of: dict[int, Row] = {}

        # offset paging repeats a row when one with a lower Id enters the filter mid-read:
        # a person or phone is kept once (a second copy of a person would get no phones,
        # and would read as their numbers emptied)
        seen_people: set[int] = set()
        seen_phones: set[int] = set()

        async def read_people() -> None:
            async for page in c.pages(
                "People", filter=self._person_filter(), select=PERSON_COLUMNS
            ):
                for r in page:
                    pid = int(r["Id"])
                    if pid not in seen_people and self._is_person(r):
                        seen_people.add(pid)
                        people.append(_pack(r, PERSON_COLUMNS))

        async def read_aliases() -> None:
            async for page in c.pages("PersonAlias", select=["Id", "PersonId"]):
                for alias in page:
                    owner, alias_id = _int(alias.get("PersonId")), _int(alias.get("Id"))
                    if owner is not None and alias_id is not None:
                        first_alias[owner] = min(alias_id, first_alias.get(owner, alias_id))

        async def read_phones() -> None:
            async for page in c.pages("PhoneNumbers", select=PHONE_COLUMNS):
                for ph in page:
                    phone_id = _int(ph.get("Id"))
                    if phone_id is not None:
                        if phone_id in seen_phones:
                            continue
                        seen_phones.add(phone_id)
                    phones_of[int(ph.get("PersonId") or 0)].append(_pack(ph, PHONE_COLUMNS))

        async def read_groups() -> None:
            async for page in c.pages(
                "Groups",
                filter=f"GroupTypeId eq {ids.family_group_type}",
                select=["Id", "CampusId", "ModifiedDateTime"],
            ):
                group_of.update((int(g["Id"]), g) for g in page)

        async def read_homes() -> None:
            async for page in c.pages(
                "GroupLocations",
                filter=f"GroupLocationTypeValueId eq {ids.home_location_type}",
                expand=["Location"],
                select=HOME_COLUMNS,  # a full GroupLocation with its Location is ~90 keys
            ):
                for gl in page:  # the newest Home location of a family wins (as _assemble)
                    if _int(gl.get("GroupLocationTypeValueId")) != ids.home_location_type:
                        continue
                    family = int(gl.get("GroupId") or 0)
                    held = home_of.get(family)
                    if held is None or int(held["Id"]) < int(gl["Id"]):
                        home_of[family] = gl

        await asyncio.gather(
            read_people(), read_aliases(), read_phones(), read_groups(), read_homes()
        )
        seen_people.clear()
        seen_phones.clear()
        for chunk in range(0, len(people), 1_000):
            rows = [_unpack(v, PERSON_COLUMNS) for v in people[chunk : chunk + 1_000]]
            for r in rows:
                r["PrimaryAliasId"] = first_alias.get(int(r["Id"]))
            families = {f for r in rows for f in [_int(r.get("PrimaryFamilyId"))] if f is not None}
            for seen in self._assemble(
                rows,
                [
                    _unpack(ph, PHONE_COLUMNS)
                    for r in rows
                    for ph in phones_of.pop(int(r["Id"]), ())
                ],
                [group_of[f] for f in families if f in group_of],
                [home_of[f] for f in families if f in home_of],
            ):
                yield seen
            for i in range(chunk, min(chunk + 1_000, len(people))):
                people[i] = ()  # converted: its values go with it

    async def fetch_changed(self, since: datetime) -> AsyncIterator[ObservedPerson]:
        """People modified since ``since`` (phone saves bump the person), plus the members
        of families whose group, group locations or locations changed since then."""
        rows = await self._changed_rows(since, None)
        for seen in await self._observe_rows(rows):
            yield seen

    async def _changed_rows(
        self, since: datetime, wanted: Callable[[], Collection[str]] | None
    ) -> list[Row]:
        """The person rows of :meth:`fetch_changed` (when nobody is ``wanted``, only the
        four change queries are made)."""
        ids = await self._ready()
        c = self.client
        changed = odata.cmp("ModifiedDateTime", "ge", since, c.tz)
        people, group_locations, locations, groups = await asyncio.gather(
            c.query("People", filter=self._person_filter(since), orderby="ModifiedDateTime,Id"),
            c.query("GroupLocations", filter=changed, select=["Id", "GroupId"]),
            c.query("Locations", filter=changed, select=["Id"]),
            c.query(
                "Groups",
                filter=odata.all_of(f"GroupTypeId eq {ids.family_group_type}", changed),
                select=["Id"],
            ),
        )
        rows = {int(r["Id"]): r for r in people}
        if wanted is not None and not wanted():
            return [r for r in rows.values() if self._is_person(r)]
        families = {int(g["Id"]) for g in groups}
        families |= {int(gl["GroupId"]) for gl in group_locations if gl.get("GroupId")}
        if locations:
            moved = await c.query_any(
                "GroupLocations",
                "LocationId",
                [int(loc["Id"]) for loc in locations],
                select=["Id", "GroupId"],
            )
            families |= {int(gl["GroupId"]) for gl in moved if gl.get("GroupId")}
        if families:
            members = await c.query_any(
                "People", "PrimaryFamilyId", sorted(families), filter=self._person_filter()
            )
            for r in members:
                rows.setdefault(int(r["Id"]), r)
        return [r for r in rows.values() if self._is_person(r)]

    async def _read_row(self, person_id: int) -> Row | None:
        try:
            row = await self.client.get_json(f"/api/People/{int(person_id)}")
        except NotFoundError:
            return None
        return row if isinstance(row, dict) else None

    async def fetch_one(self, person_id: RecordId) -> ObservedPerson | None:
        await self._ready()
        row = await self._read_row(int(person_id))
        if row is None or not self._is_person(row):
            return None
        found = await self._observe_rows([row], refresh_links=True)
        return found[0] if found else None

    async def fetch_many(self, person_ids: Sequence[RecordId]) -> list[ObservedPerson]:
        """Several people by Id (batched ``or`` filters); missing Ids are left out."""
        await self._ready()
        wanted = list(dict.fromkeys(int(i) for i in person_ids))
        rows = await self.client.query_any("People", "Id", wanted, filter=self._person_filter())
        rows = [r for r in rows if self._is_person(r)]
        return await self._observe_rows(rows, refresh_links=True)

    async def candidates(self, last_names: Iterable[str]) -> list[ObservedPerson]:
        """People with one of these last names, compared case-insensitively."""
        await self._ready()
        names = list(dict.fromkeys(n.strip().lower() for n in last_names if n and n.strip()))
        rows = await self.client.query_any(
            "People", "tolower(LastName)", names, filter=self._person_filter()
        )
        unique = {int(r["Id"]): r for r in rows if self._is_person(r)}
        return await self._observe_rows(list(unique.values()))

    async def find_by_link_hint(self, counterpart_id: RecordId) -> list[ObservedPerson]:
        """People whose ``PcoPersonId`` is this PCO id, or that pcosync created for it (the
        ``ForeignKey`` of a create whose answer was lost)."""
        await self._ready()
        c = self.client
        by_attribute, by_foreign_key = await asyncio.gather(
            c.get_json(
                "/api/People/GetByAttributeValue",
                {"attributeKey": self.link_attribute_key, "value": str(counterpart_id)},
            )
            if self.ids.link_attribute_id is not None
            else _nothing(),
            c.query(
                "People",
                filter=odata.all_of(
                    self._person_filter(),
                    odata.cmp("ForeignKey", "eq", _foreign_key(counterpart_id), c.tz),
                ),
            ),
        )
        rows = {int(r["Id"]): r for r in [*(by_attribute or []), *by_foreign_key]}
        people = [r for r in rows.values() if self._is_person(r)]
        wanted = str(counterpart_id)
        out = []
        for seen in await self._observe_rows(people, refresh_links=True):
            if seen.link_hint == wanted:
                out.append(seen)
            elif seen.link_hint is None and rows[int(seen.id)].get("ForeignKey") == (
                _foreign_key(wanted)
            ):  # created for this PCO person; the answer (or the attribute write) was lost
                out.append(replace(seen, link_hint=wanted))
        return out

    async def aliases_of(self, person_ids: Iterable[RecordId]) -> dict[int, int]:
        """Every alias of these people (alias Id -> person Id). A merge moves the aliases of
        the person merged away onto the survivor, so they show whose records it absorbed."""
        ids = sorted({int(str(p)) for p in person_ids})
        rows = await self.client.query_any(
            "PersonAlias", "PersonId", ids, select=["Id", "PersonId"]
        )
        return {
            int(r["Id"]): int(r["PersonId"])
            for r in rows
            if _int(r.get("Id")) is not None and _int(r.get("PersonId")) is not None
        }

    async def resolve_merged(self, person_id: RecordId, alias_id: int | None) -> RecordId | None:
        """The survivor of a Rock merge, through the person's alias (``GetByPersonAliasId``);
        None when the alias is unknown (the person was deleted)."""
        if alias_id is None:
            return None
        try:
            survivor = await self.client.person_by_alias(alias_id)
        except NotFoundError:
            return None
        return survivor.id

    # ------------------------------------------------------------------ PersonWriter

    def _person_values(
        self,
        changes: Mapping[FieldName, FieldValue],
        current: Row | None,
        known: Person | None = None,
    ) -> dict[str, Any]:
        """The Person row's properties for these changes, with Rock's nickname convention
        (judged on the ``current`` row, else on the ``known`` canonical person)."""
        values: dict[str, Any] = {}
        first = changes.get(FieldName.FIRST_NAME, current.get("FirstName") if current else None)
        for name, value in changes.items():
            if name is FieldName.FIRST_NAME:
                values["FirstName"] = value
            elif name is FieldName.MIDDLE_NAME:
                values["MiddleName"] = value
            elif name is FieldName.LAST_NAME:
                values["LastName"] = value
            elif name is FieldName.GENDER:
                values["Gender"] = gender_to_rock(value)  # type: ignore[arg-type]
            elif name is FieldName.BIRTHDATE:
                born = value if isinstance(value, date) else None
                values["BirthDay"] = born.day if born else None
                values["BirthMonth"] = born.month if born else None
                values["BirthYear"] = born.year if born else None
            elif name is FieldName.ANNIVERSARY:
                values["AnniversaryDate"] = _rock_date(value if isinstance(value, date) else None)
            elif name is FieldName.EMAIL:
                values["Email"] = value
        if FieldName.NICKNAME in changes:
            values["NickName"] = changes[FieldName.NICKNAME] or first
        elif FieldName.FIRST_NAME in changes and current is not None:
            old_first, old_nick = current.get("FirstName"), current.get("NickName")
            if not old_nick or old_nick == old_first:
                values["NickName"] = first  # keep "no nickname" true under the new first name
        elif FieldName.FIRST_NAME in changes and known is not None and known.nickname is None:
            values["NickName"] = first  # (read as no nickname: NickName empty or = FirstName)
        return values

    async def _write_phones(
        self, person_id: int, changes: Mapping[FieldName, FieldValue], phones: Sequence[Row]
    ) -> list[Row]:
        """Write the phone fields among ``changes`` over the person's ``phones``; returns the
        phone rows as written (Rock keeps digits and a country code as sent, spec §3.4)."""
        ids = self.ids
        out = [dict(p) for p in phones]
        for name in PHONE_FIELDS:
            if name not in changes:
                continue
            value = changes[name]
            type_id = ids.phone_types[name]
            existing = sorted(
                (p for p in out if _int(p.get("NumberTypeValueId")) == type_id),
                key=lambda p: int(p["Id"]),
            )
            if not isinstance(value, str):
                for phone in existing:
                    await self.client.delete_phone(int(phone["Id"]))
                    out.remove(phone)
                continue
            code, number = _split_e164(value)
            if existing:
                await self.client.update_phone(
                    int(existing[0]["Id"]), {"Number": number, "CountryCode": code}
                )
                existing[0].update({"Number": number, "CountryCode": code})
            else:
                phone_id = await self.client.create_phone(
                    person_id,
                    type_id,
                    number,
                    code,
                    messaging=name is FieldName.MOBILE_PHONE,
                )
                out.append(
                    {
                        "Id": phone_id,
                        "PersonId": person_id,
                        "NumberTypeValueId": type_id,
                        "CountryCode": code,
                        "Number": number,
                    }
                )
        return out

    async def _write_family(
        self, family_id: int | None, changes: Mapping[FieldName, FieldValue]
    ) -> None:
        if FieldName.HOME_ADDRESS not in changes and FieldName.CAMPUS not in changes:
            return
        if family_id is None:
            raise SyncDataError(
                "the Rock person has no family, so their address and campus cannot be set; "
                "add them to a family in Rock"
            )
        ids = self.ids
        if FieldName.HOME_ADDRESS in changes:
            address = changes[FieldName.HOME_ADDRESS]
            if isinstance(address, Address):
                await self.client.save_address(
                    family_id,
                    ids.home_location_type,
                    street1=address.street1 or "",
                    street2=address.street2 or "",
                    city=address.city or "",
                    state=address.state or "",
                    postal_code=address.postal_code or "",
                    country=address.country or self.default_region,
                )
            else:  # no address: the current one becomes "Previous", as in Rock's UI
                homes = await self.client.query(
                    "GroupLocations",
                    filter=odata.all_of(
                        f"GroupId eq {family_id}",
                        f"GroupLocationTypeValueId eq {ids.home_location_type}",
                    ),
                    select=["Id"],
                )
                for gl in homes:
                    await self.client.patch(
                        "GroupLocations",
                        int(gl["Id"]),
                        {"GroupLocationTypeValueId": ids.previous_location_type},
                    )
        if FieldName.CAMPUS in changes:
            campus = changes[FieldName.CAMPUS]
            campus_id = self.campus_map.to_rock(campus if isinstance(campus, str) else None)
            await self.client.update_group(family_id, {"CampusId": campus_id})

    async def _row_or_gone(self, person_id: int) -> Row:
        row = await self._read_row(person_id)
        if row is None:
            raise NotFoundError(
                f"Rock has no person {person_id}",
                service="rock",
                method="GET",
                path="/api/People/{id}",
            )
        return row

    async def _row_with_phones(self, person_id: int) -> tuple[Row, list[Row]]:
        """The person row and their phone numbers in one request (``$expand=PhoneNumbers``;
        such a row lacks the computed ``PrimaryAliasId``, spec §2.6). Deceased people too,
        as ``GET /api/People/{id}`` has them."""
        rows = await self.client.query(
            "People",
            filter=f"Id eq {int(person_id)}",
            expand=["PhoneNumbers"],
            extra={"includeDeceased": "true"},
            top=1,
        )
        if not rows:
            raise NotFoundError(
                f"Rock has no person {person_id}",
                service="rock",
                method="GET",
                path="/api/People",
            )
        row = rows[0]
        phones = [p for p in row.pop("PhoneNumbers", None) or [] if isinstance(p, dict)]
        # oldest first, as everywhere a person is assembled (the first of a type syncs);
        # an expanded collection comes in no promised order
        phones.sort(key=lambda p: _int(p.get("Id")) or 0)
        return row, phones

    async def _family(self, family_id: int | None) -> tuple[Row | None, Row | None]:
        """A family group and its Home group location (with its Location), in one request
        (``$expand=GroupLocations/Location``, spec §3.6)."""
        if family_id is None:
            return None, None
        rows = await self.client.query(
            "Groups",
            filter=f"Id eq {int(family_id)}",
            expand=["GroupLocations/Location"],
            top=1,
        )
        if not rows:
            return None, None
        group = rows[0]
        home_type = self.ids.home_location_type
        homes = [
            gl
            for gl in group.pop("GroupLocations", None) or []
            if isinstance(gl, dict) and _int(gl.get("GroupLocationTypeValueId")) == home_type
        ]
        # the newest Home location wins, as in _assemble
        home = max(homes, key=lambda gl: int(gl["Id"])) if homes else None
        return group, home

    def _after_image(
        self,
        row: Row,
        phones: Sequence[Row] | None,
        family: tuple[Row | None, Row | None] | None,
        known: ObservedPerson | None,
    ) -> ObservedPerson:
        """The record after a write: the row as re-read, the phones and the family as
        written or re-read; a part given as None was not touched and is the ``known`` one
        (the record as this run last read it)."""
        group, home = family if family is not None else (None, None)
        fresh = self._observed(row, phones or [], group, home)
        if known is None or (phones is not None and family is not None):
            return fresh
        kept = [
            *(PHONE_FIELDS if phones is None else ()),
            *((FieldName.HOME_ADDRESS, FieldName.CAMPUS) if family is None else ()),
        ]
        person = fresh.person.with_values(**{f.value: getattr(known.person, f.value) for f in kept})
        times = [t for t in (fresh.modified_at, known.modified_at) if t is not None]
        return replace(
            fresh,
            person=person,
            modified_at=max(times) if times else None,
            alias_id=fresh.alias_id if fresh.alias_id is not None else known.alias_id,
        )

    async def update_person(
        self,
        person_id: RecordId,
        changes: Mapping[FieldName, FieldValue],
        *,
        known: ObservedPerson | None = None,
    ) -> ObservedPerson:
        """PATCH the person row (never PUT), phones by type, the family's address
        (``SaveAddress``) and campus (the family group's ``CampusId``); then re-read what
        was written.

        ``known`` is the record as the run last read it (the in-flight re-checks keep it
        current); the parts of it this write did not touch make up the rest of the
        after-image, so an update re-reads only what it wrote. Requests: a row change is the
        PATCH and one row read (a first name or nickname one more, before: Rock's nickname
        convention is judged on the row as it is); phones add one read before and after
        (the row comes with them) and a write each; address or campus add their writes and
        one family read. Without ``known``, everything is re-read."""
        await self._ready()
        pid = int(person_id)
        campus = changes.get(FieldName.CAMPUS)
        if FieldName.CAMPUS in changes:  # refuse an unmapped campus before writing anything
            self.campus_map.to_rock(campus if isinstance(campus, str) else None)
        phones_written = any(f in changes for f in PHONE_FIELDS)
        family_written = FieldName.HOME_ADDRESS in changes or FieldName.CAMPUS in changes
        current: Row | None = None
        phones: list[Row] = []
        if phones_written:  # also shows a person gone before anything is written
            current, phones = await self._row_with_phones(pid)
        elif FieldName.FIRST_NAME in changes or FieldName.NICKNAME in changes:
            # Rock's nickname convention is judged on the row as it is now, not as the run
            # read it (a nickname typed meanwhile is not overwritten), and an emptied
            # nickname is written as the first name the row holds
            current = await self._row_or_gone(pid)
        values = self._person_values(changes, current, known.person if known else None)
        if values:
            await self.client.update_person(pid, values)  # a person gone: 404
        if phones_written:
            await self._write_phones(pid, changes, phones)
        # the row after the PATCH and the phones (both bump its ModifiedDateTime), before
        # the family writes, which need its PrimaryFamilyId (they do not bump it, spec §5)
        after_phones: list[Row] | None = None
        if phones_written and known is not None:
            row, after_phones = await self._row_with_phones(pid)  # (its alias is known's)
        else:
            row = await self._row_or_gone(pid)
        family_id = _int(row.get("PrimaryFamilyId"))
        await self._write_family(family_id, changes)
        family: tuple[Row | None, Row | None] | None = None
        moved = known is not None and known.extra.get("family_id") != family_id
        if family_written or known is None or moved:
            family = await self._family(family_id)
        if known is None and after_phones is None:
            after_phones = await self.client.query("PhoneNumbers", filter=f"PersonId eq {pid}")
        return self._after_image(row, after_phones, family, known)

    async def create_person(self, person: Person, *, link_hint: RecordId) -> ObservedPerson:
        """``POST /api/People`` (Rock makes a family with the person as Adult) carrying the
        link in ``ForeignKey``; then ``PcoPersonId`` at once, phones, address and campus.

        Requests: the POST, the link id (an attribute value is never part of an entity's
        POST, spec §2.5), one per phone, one person read (its family, alias and modified
        time: the POST answers with the bare Id), then the address and campus writes and
        one family read when there are any. The new family starts without an address or
        a campus, and the phones are as written."""
        ids = await self._ready()
        changes = {f: getattr(person, f.value) for f in FieldName}
        if person.campus is not None:
            self.campus_map.to_rock(person.campus)
        body = {k: v for k, v in self._person_values(changes, None).items() if v is not None}
        body.update(
            {
                "RecordTypeValueId": ids.person_record_type,
                "RecordStatusValueId": next(
                    i for i, s in ids.record_statuses.items() if s == "active"
                ),
                "IsEmailActive": True,
                "ForeignKey": _foreign_key(link_hint),
            }
        )
        new_id = await self.client.create_person(body)
        await self.write_link(new_id, link_hint)
        wanted = {f: v for f, v in changes.items() if f in PHONE_FIELDS and v is not None}
        phones = await self._write_phones(new_id, wanted, []) if wanted else []
        row = await self._row_or_gone(new_id)  # after the writes that bump the person
        family_changes: dict[FieldName, FieldValue] = {
            f: v
            for f, v in changes.items()
            if f in (FieldName.HOME_ADDRESS, FieldName.CAMPUS) and v is not None
        }
        family: tuple[Row | None, Row | None] = (None, None)
        if family_changes:
            family_id = _int(row.get("PrimaryFamilyId"))
            await self._write_family(family_id, family_changes)
            family = await self._family(family_id)
        return self._after_image(row, phones, family, None)

    async def fetch_recent(
        self, since: datetime, wanted: Callable[[], Collection[str]] | None = None
    ) -> list[ObservedPerson]:
        """Everyone changed since ``since`` (the re-read a run makes before writing).

        ``wanted`` gives the Ids (as text) whose changes can still matter to the run (those
        with a write to come): only they are read beyond their rows (phones, family,
        address), for 3 requests per 15 people. Our own writes bump the records they
        touch, so without it a re-check mostly re-read what the run itself just wrote. It
        is asked again after each read, so someone who became wanted meanwhile (a
        re-plan) is not left out of what this re-check hands over."""
        rows = await self._changed_rows(since, wanted)
        if wanted is None:
            return await self._observe_rows(rows)
        out: list[ObservedPerson] = []
        left = {str(r["Id"]): r for r in rows}
        while True:
            now = wanted()
            chosen = [r for pid, r in left.items() if pid in now]
            if not chosen:
                return out
            for r in chosen:
                del left[str(r["Id"])]
            out += await self._observe_rows(chosen)

    async def delete_person(self, person_id: RecordId) -> bool:
        """Delete a person pcosync created (a revert), and the family Rock made with them
        when nobody else is in it. False when the person was already gone."""
        pid = int(person_id)
        row = await self._read_row(pid)
        if row is None:
            return False
        family = _int(row.get("PrimaryFamilyId"))
        try:
            await self.client.delete("People", pid)
        except NotFoundError:
            return False
        self.links.pop(pid, None)
        if family is not None:
            others = await self.client.query(
                "GroupMembers", filter=f"GroupId eq {family}", select=["Id"]
            )
            if not others:  # a family refused as in use after all harms nobody
                with contextlib.suppress(ClientError):
                    await self.client.delete("Groups", family)
        return True

    async def write_link(self, person_id: RecordId, counterpart_id: RecordId | None) -> None:
        """Set (or clear) ``PcoPersonId`` through the query-string AttributeValue endpoint."""
        await self._link_attribute()
        pid = int(person_id)
        if counterpart_id is None:
            await self.client.clear_attribute_value("People", pid, self.link_attribute_key)
            self.links.pop(pid, None)
            row = await self._read_row(pid)  # a person pcosync created keeps its ForeignKey
            foreign = (row or {}).get("ForeignKey")
            if isinstance(foreign, str) and foreign.startswith(FOREIGN_KEY_PREFIX):
                await self.client.update_person(pid, {"ForeignKey": None})
        else:
            value = str(counterpart_id)
            if self.links.get(pid) == value:
                return  # already so, as read in this run (a store rebuilt from Rock's ids)
            await self.client.set_attribute_value("People", pid, self.link_attribute_key, value)
            self.links[pid] = value


if TYPE_CHECKING:  # mypy proves the adapter fits the engine's ports

    def _ports(adapter: RockPeople) -> tuple[PeopleSource, PersonWriter]:
        return adapter, adapter
