"""Plain records of the Planning Center emulator, one dataclass per resource type.

Records hold canonical values only (e.g. ``gender`` is ``"M"``/``"F"``); how a value is
rendered for an API version lives in the serializers. Ids are ints inside, strings on the
wire. Datetimes are aware UTC, truncated to whole seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True)
class Person:
    id: int
    first_name: str | None
    last_name: str | None
    created_at: datetime
    updated_at: datetime
    given_name: str | None = None
    nickname: str | None = None
    middle_name: str | None = None
    birthdate: date | None = None
    anniversary: date | None = None
    gender: str | None = None  # "M" | "F"
    grade: int | None = None
    child: bool = False
    graduation_year: int | None = None
    school_type: str | None = None
    site_administrator: bool = False
    accounting_administrator: bool = False
    people_permissions: str | None = None
    membership: str | None = None
    status: str = "active"
    inactivated_at: datetime | None = None
    medical_notes: str | None = None
    avatar: str | None = None
    directory_status: str | None = "no_access"
    passed_background_check: bool = False
    can_create_forms: bool = False
    can_email_lists: bool = False
    remote_id: int | None = None
    primary_campus_id: int | None = None
    login_identifier: str | None = None


@dataclass(slots=True)
class Email:
    id: int
    person_id: int
    address: str
    location: str
    primary: bool
    created_at: datetime
    updated_at: datetime
    blocked: bool = False


@dataclass(slots=True)
class PhoneNumber:
    id: int
    person_id: int
    number: str
    location: str
    primary: bool
    created_at: datetime
    updated_at: datetime
    carrier: str | None = None
    # computed from ``number`` on first use, then cached (phonenumbers is slow-ish)
    computed: tuple[str | None, str | None, str | None, str | None] | None = None


@dataclass(slots=True)
class Address:
    id: int
    person_id: int
    street_line_1: str | None
    street_line_2: str | None
    city: str | None
    state: str | None
    zip: str | None
    location: str
    primary: bool
    created_at: datetime
    updated_at: datetime
    country_code: str | None = "US"


@dataclass(slots=True)
class Campus:
    id: int
    name: str
    created_at: datetime
    updated_at: datetime
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = "US"
    phone_number: str | None = None
    time_zone: str = "America/Chicago"


@dataclass(slots=True)
class Household:
    id: int
    name: str
    primary_contact_id: int | None
    member_ids: list[int]
    created_at: datetime
    updated_at: datetime
    member_count_known: bool = True  # PCO answers member_count null right after a create


@dataclass(slots=True)
class App:
    id: int
    name: str
    url: str


@dataclass(slots=True)
class PersonApp:
    id: int
    person_id: int
    app_id: int
    created_at: datetime
    updated_at: datetime
    allow_pco_login: bool = False
    people_permissions: str | None = None


@dataclass(slots=True)
class PersonMerger:
    id: int
    person_to_keep_id: int
    person_to_remove_id: int
    created_at: datetime


@dataclass(slots=True)
class Folder:
    id: int
    name: str
    parent_id: int | None
    created_at: datetime
    updated_at: datetime
    campus_id: int | None = None


@dataclass(slots=True)
class ServiceType:
    id: int
    name: str
    folder_id: int | None
    sequence: int
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    deleted_at: datetime | None = None
    frequency: str = "Weekly"


@dataclass(slots=True)
class Team:
    id: int
    name: str
    service_type_id: int
    sequence: int
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    deleted_at: datetime | None = None
    schedule_to: str = "plan"
    rehearsal_team: bool = False
    assigned_directly: bool = True
    secure_team: bool = False
    default_status: str = "U"
    default_prepare_notifications: bool = False
    stage_color: str = "#777777"
    stage_variant: str = "ghost"
    viewers_see: int = 0


@dataclass(slots=True)
class TeamPosition:
    id: int
    team_id: int
    name: str
    sequence: int
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class ServicesPerson:
    """The Services side of a person: exists while the person has the Services PersonApp."""

    id: int  # the People person id
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None
    permissions: str = "Scheduled Viewer"
    preferred_app: str = "services"
    notes: str | None = None
    legacy_id: str | None = None
    tag_ids: set[int] = field(default_factory=set)


@dataclass(slots=True)
class Assignment:
    """PersonTeamPositionAssignment."""

    id: int
    person_id: int
    team_position_id: int
    schedule_preference: str
    preferred_weeks: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class TeamLeader:
    id: int
    person_id: int
    team_id: int
    created_at: datetime
    updated_at: datetime
    send_responses_for_accepts: bool = True
    send_responses_for_declines: bool = True
    send_responses_for_blockouts: bool = False


@dataclass(slots=True)
class TagGroup:
    id: int
    name: str
    tags_for: str
    created_at: datetime
    updated_at: datetime
    required: bool = False
    allow_multiple_selections: bool = True


@dataclass(slots=True)
class Tag:
    id: int
    tag_group_id: int
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class WebhookSubscription:
    id: int
    name: str
    url: str
    active: bool
    authenticity_secret: str
    application_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class WebhookEvent:
    """One event for one subscription, with its delivery attempts."""

    id: int
    uuid: str
    subscription_id: int
    name: str
    payload: str
    status: str  # pending | delivered | failed
    created_at: datetime
    updated_at: datetime
    deliveries: list[WebhookDelivery] = field(default_factory=list)


@dataclass(slots=True)
class WebhookDelivery:
    id: int
    status: int  # HTTP status, 0 when no answer came
    request_headers: str
    request_body: str
    response_headers: str
    response_body: str
    timing: float
    created_at: datetime
