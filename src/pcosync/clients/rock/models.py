"""Typed views of the Rock rows pcosync reads, and Rock's fixed system GUIDs (spec §3.10).

Integer Ids differ per install; everything system-defined is looked up once by GUID.
Rock's date-times are organisation-local without an offset; they are converted to aware UTC
here, at the boundary, so nothing inside pcosync sees a naive datetime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pcosync.clients.rock.odata import from_local


class Guids:
    # defined types
    RECORD_TYPE = "26BE73A6-A9C5-4E94-AE00-3AFDCF8C9275"
    RECORD_STATUS = "8522BADD-2871-45A5-81DD-C76DA07E2E7E"
    CONNECTION_STATUS = "2E6540EA-63F0-40FE-BE50-F2A84735E600"
    PHONE_TYPE = "8345DD45-73C6-4F5E-BEBD-B77FC83F18FD"
    # defined values
    RECORD_STATUS_ACTIVE = "618F906C-C33D-4FA3-8AEF-E58CB7B63F1E"
    RECORD_STATUS_INACTIVE = "1DAD99D5-41A9-4865-8366-F269902B80A4"
    RECORD_STATUS_PENDING = "283999EC-7346-42E3-B807-BCE9B2BABB49"
    RECORD_TYPE_PERSON = "36CF10D6-C695-413D-8E7C-4546EFEF385E"
    RECORD_TYPE_BUSINESS = "BF64ADD3-E70A-44CE-9C4B-E76BBED37550"
    RECORD_TYPE_REST_USER = "E2261A84-831D-4234-9BE0-4D628BBE751E"
    PHONE_MOBILE = "407E7E45-7B2E-4FCD-9605-ECB1339F2453"
    PHONE_HOME = "AA8732FB-2CEA-4C76-8D6D-6AAA2C6A4303"
    PHONE_WORK = "2CC66D5A-F61C-4B74-9AF9-590A9847C13C"
    CONNECTION_MEMBER = "41540783-D9EF-4C70-8F1D-C9E83D91ED5F"
    CONNECTION_ATTENDEE = "39F491C5-D6AC-4A9B-8AC0-C431CB17D588"
    CONNECTION_VISITOR = "B91BA046-BC1E-400C-B85D-638C1F4E0CE2"
    CONNECTION_PARTICIPANT = "8EBC0CEB-474D-4C1B-A6BA-734C3A9AB061"
    CONNECTION_PROSPECT = "368DD475-242C-49C4-A42C-7278BE690CC2"
    LOCATION_HOME = "8C52E53C-2A66-435A-AE6E-5EE307D9A0DC"
    LOCATION_WORK = "E071472A-F805-4FC4-917A-D5E3C095C35C"
    LOCATION_PREVIOUS = "853D98F1-6E08-4321-861B-520B4106CFE0"
    # group types and roles
    GROUP_TYPE_FAMILY = "790E3215-3B10-442B-AF69-616C0DCB998E"
    FAMILY_ADULT = "2639F9A5-2AAE-4E48-A8C3-4FFE86681E42"
    FAMILY_CHILD = "C8B1814F-6AA7-4055-B2D7-48FE20429CB9"
    # entity and field types
    ENTITY_PERSON = "72657ED8-D16E-492E-AC12-144C5E7567E7"
    ENTITY_GROUP = "9BBFDA11-0D22-40D5-902F-60ADFBC88987"
    ENTITY_GROUP_MEMBER = "49668B95-FEDC-43DD-8085-D2B0D6343C48"
    FIELD_TEXT = "9C204CD0-1233-41C5-818A-C5DA439445AA"


GENDER_UNKNOWN, GENDER_MALE, GENDER_FEMALE = 0, 1, 2
MEMBER_INACTIVE, MEMBER_ACTIVE, MEMBER_PENDING = 0, 1, 2


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _date(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


@dataclass(slots=True)
class RockPhone:
    id: int
    person_id: int
    number_type_value_id: int | None
    country_code: str | None
    number: str
    extension: str | None
    is_messaging_enabled: bool
    is_unlisted: bool
    modified: datetime | None

    @property
    def e164_guess(self) -> str:
        return f"+{self.country_code or '1'}{self.number}"

    @classmethod
    def parse(cls, row: Mapping[str, Any], tz: ZoneInfo) -> RockPhone:
        return cls(
            id=int(row["Id"]),
            person_id=int(row.get("PersonId") or 0),
            number_type_value_id=_int(row.get("NumberTypeValueId")),
            country_code=_str(row.get("CountryCode")),
            number=str(row.get("Number") or ""),
            extension=_str(row.get("Extension")) or None,
            is_messaging_enabled=bool(row.get("IsMessagingEnabled")),
            is_unlisted=bool(row.get("IsUnlisted")),
            modified=from_local(row.get("ModifiedDateTime"), tz),
        )


@dataclass(slots=True)
class RockPerson:
    id: int
    primary_alias_id: int | None
    first_name: str | None
    nick_name: str | None
    middle_name: str | None
    last_name: str | None
    gender: int
    birth_day: int | None
    birth_month: int | None
    birth_year: int | None
    anniversary: date | None
    email: str | None
    record_type_value_id: int | None
    record_status_value_id: int | None
    is_deceased: bool
    primary_family_id: int | None
    primary_campus_id: int | None
    modified: datetime | None
    modified_by_alias_id: int | None
    guid: str | None
    phones: list[RockPhone] = field(default_factory=list)

    @property
    def birthdate(self) -> date | None:
        if self.birth_year and self.birth_month and self.birth_day:
            try:
                return date(self.birth_year, self.birth_month, self.birth_day)
            except ValueError:
                return None
        return None

    @property
    def name(self) -> str:
        return " ".join(x for x in (self.nick_name or self.first_name, self.last_name) if x)

    @classmethod
    def parse(cls, row: Mapping[str, Any], tz: ZoneInfo) -> RockPerson:
        phones = row.get("PhoneNumbers") or []
        return cls(
            id=int(row["Id"]),
            primary_alias_id=_int(row.get("PrimaryAliasId")),
            first_name=_str(row.get("FirstName")),
            nick_name=_str(row.get("NickName")),
            middle_name=_str(row.get("MiddleName")),
            last_name=_str(row.get("LastName")),
            gender=_int(row.get("Gender")) or 0,
            birth_day=_int(row.get("BirthDay")),
            birth_month=_int(row.get("BirthMonth")),
            birth_year=_int(row.get("BirthYear")),
            anniversary=_date(row.get("AnniversaryDate")),
            email=_str(row.get("Email")) or None,
            record_type_value_id=_int(row.get("RecordTypeValueId")),
            record_status_value_id=_int(row.get("RecordStatusValueId")),
            is_deceased=bool(row.get("IsDeceased")),
            primary_family_id=_int(row.get("PrimaryFamilyId")),
            primary_campus_id=_int(row.get("PrimaryCampusId")),
            modified=from_local(row.get("ModifiedDateTime"), tz),
            modified_by_alias_id=_int(row.get("ModifiedByPersonAliasId")),
            guid=_str(row.get("Guid")),
            phones=[RockPhone.parse(p, tz) for p in phones if isinstance(p, Mapping)],
        )


@dataclass(slots=True)
class RockGroup:
    id: int
    name: str
    group_type_id: int
    parent_group_id: int | None
    campus_id: int | None
    is_active: bool
    is_archived: bool
    description: str | None
    order: int
    guid: str | None
    modified: datetime | None

    @classmethod
    def parse(cls, row: Mapping[str, Any], tz: ZoneInfo) -> RockGroup:
        return cls(
            id=int(row["Id"]),
            name=str(row.get("Name") or ""),
            group_type_id=int(row.get("GroupTypeId") or 0),
            parent_group_id=_int(row.get("ParentGroupId")),
            campus_id=_int(row.get("CampusId")),
            is_active=bool(row.get("IsActive", True)),
            is_archived=bool(row.get("IsArchived")),
            description=_str(row.get("Description")),
            order=_int(row.get("Order")) or 0,
            guid=_str(row.get("Guid")),
            modified=from_local(row.get("ModifiedDateTime"), tz),
        )


@dataclass(slots=True)
class RockGroupMember:
    id: int
    group_id: int
    person_id: int
    group_role_id: int
    status: int
    group_type_id: int | None
    modified: datetime | None

    @property
    def active(self) -> bool:
        return self.status == MEMBER_ACTIVE

    @classmethod
    def parse(cls, row: Mapping[str, Any], tz: ZoneInfo) -> RockGroupMember:
        return cls(
            id=int(row["Id"]),
            group_id=int(row.get("GroupId") or 0),
            person_id=int(row.get("PersonId") or 0),
            group_role_id=int(row.get("GroupRoleId") or 0),
            status=_int(row.get("GroupMemberStatus")) or 0,
            group_type_id=_int(row.get("GroupTypeId")),
            modified=from_local(row.get("ModifiedDateTime"), tz),
        )


@dataclass(slots=True)
class RockLocation:
    id: int
    street1: str | None
    street2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None

    @classmethod
    def parse(cls, row: Mapping[str, Any]) -> RockLocation:
        return cls(
            id=int(row["Id"]),
            street1=_str(row.get("Street1")) or None,
            street2=_str(row.get("Street2")) or None,
            city=_str(row.get("City")) or None,
            state=_str(row.get("State")) or None,
            postal_code=_str(row.get("PostalCode")) or None,
            country=_str(row.get("Country")) or None,
        )


@dataclass(slots=True)
class RockGroupLocation:
    id: int
    group_id: int
    location_id: int
    location_type_value_id: int | None
    location: RockLocation | None
    modified: datetime | None

    @classmethod
    def parse(cls, row: Mapping[str, Any], tz: ZoneInfo) -> RockGroupLocation:
        loc = row.get("Location")
        return cls(
            id=int(row["Id"]),
            group_id=int(row.get("GroupId") or 0),
            location_id=int(row.get("LocationId") or 0),
            location_type_value_id=_int(row.get("GroupLocationTypeValueId")),
            location=RockLocation.parse(loc) if isinstance(loc, Mapping) else None,
            modified=from_local(row.get("ModifiedDateTime"), tz),
        )


@dataclass(slots=True)
class RockCampus:
    id: int
    name: str
    is_active: bool

    @classmethod
    def parse(cls, row: Mapping[str, Any]) -> RockCampus:
        return cls(int(row["Id"]), str(row.get("Name") or ""), bool(row.get("IsActive", True)))


@dataclass(slots=True)
class RockAttributeValue:
    id: int
    attribute_id: int
    entity_id: int
    value: str

    @classmethod
    def parse(cls, row: Mapping[str, Any]) -> RockAttributeValue:
        return cls(
            int(row.get("Id") or 0),
            int(row.get("AttributeId") or 0),
            int(row.get("EntityId") or 0),
            str(row.get("Value") or ""),
        )
