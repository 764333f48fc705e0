"""Typed views of the Planning Center resources pcosync reads, built from JSON:API documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pcosync.clients.pco.jsonapi import Document, Resource, parse_date, parse_time


def _str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(slots=True)
class PcoEmail:
    id: str
    address: str
    location: str | None
    primary: bool
    updated_at: datetime | None
    person_id: str | None = None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoEmail:
        return cls(
            r.id,
            str(r.attr("address") or ""),
            _str(r.attr("location")),
            bool(r.attr("primary")),
            parse_time(r.attr("updated_at")),
            r.rel_id("person"),
        )


@dataclass(slots=True)
class PcoPhone:
    id: str
    number: str
    e164: str | None
    location: str | None
    primary: bool
    updated_at: datetime | None
    person_id: str | None = None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoPhone:
        return cls(
            r.id,
            str(r.attr("number") or ""),
            _str(r.attr("e164")),
            _str(r.attr("location")),
            bool(r.attr("primary")),
            parse_time(r.attr("updated_at")),
            r.rel_id("person"),
        )


@dataclass(slots=True)
class PcoAddress:
    id: str
    street_line_1: str | None
    street_line_2: str | None
    city: str | None
    state: str | None
    zip: str | None
    country_code: str | None
    location: str | None
    primary: bool
    updated_at: datetime | None
    person_id: str | None = None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoAddress:
        # versions before 2023-03-21 send a single `street`
        line1 = r.attr("street_line_1", r.attr("street"))
        return cls(
            r.id,
            _str(line1),
            _str(r.attr("street_line_2")),
            _str(r.attr("city")),
            _str(r.attr("state")),
            _str(r.attr("zip")),
            _str(r.attr("country_code")),
            _str(r.attr("location")),
            bool(r.attr("primary")),
            parse_time(r.attr("updated_at")),
            r.rel_id("person"),
        )


@dataclass(slots=True)
class PcoPerson:
    id: str
    first_name: str | None
    nickname: str | None
    middle_name: str | None
    last_name: str | None
    gender: str | None
    birthdate: date | None
    anniversary: date | None
    status: str | None
    inactivated_at: datetime | None
    remote_id: int | None
    child: bool
    created_at: datetime | None
    updated_at: datetime | None
    primary_campus_id: str | None
    emails: list[PcoEmail] = field(default_factory=list)
    phone_numbers: list[PcoPhone] = field(default_factory=list)
    addresses: list[PcoAddress] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " ".join(x for x in (self.nickname or self.first_name, self.last_name) if x)

    @property
    def active(self) -> bool:
        return self.status != "inactive" and self.inactivated_at is None

    @classmethod
    def from_resource(cls, r: Resource, doc: Document | None = None) -> PcoPerson:
        remote = r.attr("remote_id")
        person = cls(
            id=r.id,
            first_name=_str(r.attr("first_name")),
            nickname=_str(r.attr("nickname")),
            middle_name=_str(r.attr("middle_name")),
            last_name=_str(r.attr("last_name")),
            gender=_str(r.attr("gender")),
            birthdate=parse_date(r.attr("birthdate")),
            anniversary=parse_date(r.attr("anniversary")),
            status=_str(r.attr("status")),
            inactivated_at=parse_time(r.attr("inactivated_at")),
            remote_id=int(remote) if remote not in (None, "") else None,
            child=bool(r.attr("child")),
            created_at=parse_time(r.attr("created_at")),
            updated_at=parse_time(r.attr("updated_at")),
            primary_campus_id=r.rel_id("primary_campus"),
        )
        if doc is not None:
            person.emails = [PcoEmail.from_resource(x) for x in doc.related(r, "emails")]
            person.phone_numbers = [
                PcoPhone.from_resource(x) for x in doc.related(r, "phone_numbers")
            ]
            person.addresses = [PcoAddress.from_resource(x) for x in doc.related(r, "addresses")]
            for email in person.emails:
                email.person_id = email.person_id or r.id
            for phone in person.phone_numbers:
                phone.person_id = phone.person_id or r.id
            for address in person.addresses:
                address.person_id = address.person_id or r.id
        return person


@dataclass(slots=True)
class PcoCampus:
    id: str
    name: str

    @classmethod
    def from_resource(cls, r: Resource) -> PcoCampus:
        return cls(r.id, str(r.attr("name") or ""))


@dataclass(slots=True)
class PcoPersonMerger:
    id: str
    person_to_keep_id: str
    person_to_remove_id: str
    created_at: datetime | None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoPersonMerger:
        return cls(
            r.id,
            str(r.attr("person_to_keep_id")),
            str(r.attr("person_to_remove_id")),
            parse_time(r.attr("created_at")),
        )


@dataclass(slots=True)
class PcoFolder:
    id: str
    name: str
    parent_id: str | None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoFolder:
        return cls(r.id, str(r.attr("name") or ""), r.rel_id("parent"))


@dataclass(slots=True)
class PcoServiceType:
    id: str
    name: str
    folder_id: str | None
    archived_at: datetime | None
    deleted_at: datetime | None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoServiceType:
        return cls(
            r.id,
            str(r.attr("name") or ""),
            r.rel_id("parent"),
            parse_time(r.attr("archived_at")),
            parse_time(r.attr("deleted_at")),
        )


@dataclass(slots=True)
class PcoTeamPosition:
    id: str
    name: str
    team_id: str | None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoTeamPosition:
        return cls(r.id, str(r.attr("name") or ""), r.rel_id("team"))


@dataclass(slots=True)
class PcoAssignment:
    id: str
    person_id: str | None
    team_position_id: str | None
    schedule_preference: str | None
    preferred_weeks: list[str]
    updated_at: datetime | None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoAssignment:
        return cls(
            r.id,
            r.rel_id("person"),
            r.rel_id("team_position"),
            _str(r.attr("schedule_preference")),
            [str(w) for w in r.attr("preferred_weeks") or []],
            parse_time(r.attr("updated_at")),
        )


@dataclass(slots=True)
class PcoTeam:
    id: str
    name: str
    service_type_id: str | None
    archived_at: datetime | None
    deleted_at: datetime | None
    positions: list[PcoTeamPosition] = field(default_factory=list)
    assignments: list[PcoAssignment] = field(default_factory=list)

    @property
    def live(self) -> bool:
        """Neither archived nor soft-deleted: its members count as actively serving."""
        return self.archived_at is None and self.deleted_at is None

    @classmethod
    def from_resource(cls, r: Resource, doc: Document | None = None) -> PcoTeam:
        team = cls(
            r.id,
            str(r.attr("name") or ""),
            r.rel_id("service_type"),
            parse_time(r.attr("archived_at")),
            parse_time(r.attr("deleted_at")),
        )
        if doc is not None:
            team.positions = [
                PcoTeamPosition.from_resource(x) for x in doc.related(r, "team_positions")
            ]
            for p in team.positions:
                p.team_id = p.team_id or r.id
            team.assignments = [
                PcoAssignment.from_resource(x)
                for x in doc.related(r, "person_team_position_assignments")
            ]
        return team


@dataclass(slots=True)
class PcoServicesPerson:
    id: str
    first_name: str | None
    last_name: str | None
    archived_at: datetime | None
    updated_at: datetime | None
    tag_ids: frozenset[str] | None = None  # only when read with include=tags
    permissions: str | None = None  # "Scheduled Viewer" … "Administrator" (viewer or self)

    @classmethod
    def from_resource(cls, r: Resource, doc: Document | None = None) -> PcoServicesPerson:
        """``doc`` given (read with ``include=tags``): the person's tags are kept too."""
        return cls(
            r.id,
            _str(r.attr("first_name")),
            _str(r.attr("last_name")),
            parse_time(r.attr("archived_at")),
            parse_time(r.attr("updated_at")),
            frozenset(t.id for t in doc.related(r, "tags")) if doc is not None else None,
            _str(r.attr("permissions")),
        )


@dataclass(slots=True)
class PcoTag:
    id: str
    name: str
    tag_group_id: str | None

    @classmethod
    def from_resource(cls, r: Resource) -> PcoTag:
        return cls(r.id, str(r.attr("name") or ""), r.rel_id("tag_group"))


@dataclass(slots=True)
class PcoTagGroup:
    id: str
    name: str
    tags_for: str | None
    tags: list[PcoTag] = field(default_factory=list)

    @classmethod
    def from_resource(cls, r: Resource, doc: Document | None = None) -> PcoTagGroup:
        group = cls(r.id, str(r.attr("name") or ""), _str(r.attr("tags_for")))
        if doc is not None:
            group.tags = [PcoTag.from_resource(x) for x in doc.related(r, "tags")]
        return group


@dataclass(slots=True)
class PcoWebhookSubscription:
    id: str
    name: str
    url: str
    active: bool
    authenticity_secret: str | None

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"PcoWebhookSubscription(id={self.id!r}, name={self.name!r}, active={self.active})"

    @classmethod
    def from_resource(cls, r: Resource) -> PcoWebhookSubscription:
        return cls(
            r.id,
            str(r.attr("name") or ""),
            str(r.attr("url") or ""),
            bool(r.attr("active")),
            _str(r.attr("authenticity_secret")),
        )
