"""The Rock entities the emulator serves: properties, navigations, output layouts.

Each entity is a list of fields in the order Rock's JSON writes them. A :class:`Prop` is a
property; it may be a stored column, part of the OData (EDM) model, and writable or not. A
:class:`Nav` is a navigation property: ``DataMember`` ones appear in the full shape as
``null``/``[]`` and can be ``$expand``-ed; the others (``GroupMember.Group``) exist only in
the C# model, so OData answers "Could not find a property named …".

Two output shapes exist, as in Rock (spec §2.6): the *full* shape a plain GET writes (every
DataMember, navigations ``null``/``[]``, ``Attributes: null``), and the *EDM* shape that
``$expand``/``$select`` produce (stored columns only, expanded navigations first).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class PType(enum.Enum):
    INT = "int"
    STR = "str"
    BOOL = "bool"
    DATETIME = "datetime"
    GUID = "guid"
    ENUM = "enum"
    DECIMAL = "decimal"
    DOUBLE = "double"

    @property
    def edm(self) -> str:
        """The EDM type name OData messages use; enums are ``Edm.String`` in Rock's model."""
        return _EDM_NAMES[self]


_EDM_NAMES = {
    PType.INT: "Edm.Int32",
    PType.STR: "Edm.String",
    PType.BOOL: "Edm.Boolean",
    PType.DATETIME: "Edm.DateTime",
    PType.GUID: "Edm.Guid",
    PType.ENUM: "Edm.String",
    PType.DECIMAL: "Edm.Decimal",
    PType.DOUBLE: "Edm.Double",
}


class Access(enum.Enum):
    RW = "rw"  # read from POST/PUT bodies and PATCH
    COMPUTED = "computed"  # has a setter, but Rock recomputes it on save: silently ignored
    READONLY = "readonly"  # getter only: ignored by POST/PUT, PATCH answers "Cannot write X"
    HIDDEN = "hidden"  # internal column, never written out


class Gender(enum.IntEnum):
    Unknown = 0
    Male = 1
    Female = 2


def enum_text(enum_type: type[enum.IntEnum], value: int) -> str:
    """.NET ``Enum.ToString()``: the member's name, or the number for a value the enum does not
    define (Rock stores any integer its PATCH converts with ``Enum.ToObject``)."""
    try:
        return enum_type(value).name
    except ValueError:
        return str(value)


class GroupMemberStatus(enum.IntEnum):
    Inactive = 0
    Active = 1
    Pending = 2


class EmailPreference(enum.IntEnum):
    EmailAllowed = 0
    NoMassEmails = 1
    DoNotEmail = 2


class CommunicationType(enum.IntEnum):
    RecipientPreference = 0
    Email = 1
    SMS = 2
    PushNotification = 3


class AgeClassification(enum.IntEnum):
    Unknown = 0
    Adult = 1
    Child = 2


class AccountProtectionProfile(enum.IntEnum):
    Low = 0
    Medium = 1
    High = 2
    Extreme = 3


@dataclass(frozen=True)
class Prop:
    name: str
    ptype: PType
    default: Any = None
    nullable: bool = True
    enum: type[enum.IntEnum] | None = None
    max_length: int | None = None
    required: bool = False
    access: Access = Access.RW
    stored: bool = True
    edm: bool = True
    compute: str | None = None  # name of a read-time computation (not stored)


@dataclass(frozen=True)
class Nav:
    name: str
    target: str | None  # entity name; None: a type the emulator does not model (always empty)
    many: bool = False
    fk: str = ""  # single: our column with the target's Id; many: the target's column with our Id
    data_member: bool = True


Field = Prop | Nav


def _p(name: str, ptype: PType, default: Any = None, **kw: Any) -> Prop:
    return Prop(name, ptype, default, **kw)


def i(name: str, default: int | None = None, **kw: Any) -> Prop:
    return _p(name, PType.INT, default, nullable=default is None, **kw)


def s(name: str, max_length: int | None = None, **kw: Any) -> Prop:
    return _p(name, PType.STR, None, max_length=max_length, **kw)


def b(name: str, default: bool | None = False, **kw: Any) -> Prop:
    return _p(name, PType.BOOL, default, nullable=default is None, **kw)


def dt(name: str, **kw: Any) -> Prop:
    return _p(name, PType.DATETIME, None, **kw)


def e(name: str, enum_type: type[enum.IntEnum], default: int = 0, **kw: Any) -> Prop:
    return _p(name, PType.ENUM, default, nullable=False, enum=enum_type, **kw)


def computed(name: str, ptype: PType, compute: str, *, edm: bool = False, **kw: Any) -> Prop:
    """A value worked out when the row is written out (never stored)."""
    return _p(
        name, ptype, None, stored=False, edm=edm, access=Access.READONLY, compute=compute, **kw
    )


def single(name: str, target: str | None, fk: str = "", *, data_member: bool = True) -> Nav:
    return Nav(name, target, False, fk, data_member)


def many(name: str, target: str | None, fk: str = "") -> Nav:
    return Nav(name, target, True, fk)


def _audit() -> list[Field]:
    return [
        dt("CreatedDateTime"),
        dt("ModifiedDateTime"),
        i("CreatedByPersonAliasId"),
        i("ModifiedByPersonAliasId"),
    ]


def _mavau(*, edm: bool = False) -> Prop:
    return _p(
        "ModifiedAuditValuesAlreadyUpdated",
        PType.BOOL,
        False,
        nullable=False,
        stored=False,
        edm=edm,
        compute="false",
    )


def _identity() -> list[Field]:
    return [
        _p("Id", PType.INT, 0, nullable=False),
        _p("Guid", PType.GUID, None, nullable=False),
        i("ForeignId"),
        _p("ForeignGuid", PType.GUID, None),
        s("ForeignKey", 100),
    ]


_ATTRS = [computed("Attributes", PType.STR, "null"), computed("AttributeValues", PType.STR, "null")]


@dataclass
class EntityDef:
    name: str
    clr: str
    controller: str
    fields_: list[Field]
    model: bool = True  # Model<T>: audit fields + attributes; else Entity<T>
    read_only: bool = False
    hash_indexes: tuple[str, ...] = ()
    mavau_in_edm: bool = False
    entity_type_guid: str | None = None

    props: dict[str, Prop] = field(init=False)
    navs: dict[str, Nav] = field(init=False)
    layout: list[Field] = field(init=False)  # full shape, in order
    edm_props: list[Prop] = field(init=False)  # EDM shape, in order
    stored: list[str] = field(init=False)  # column order of a stored row
    col: dict[str, int] = field(init=False)
    template: list[Any] = field(init=False)

    def __post_init__(self) -> None:
        tail: list[Field] = []
        if self.model:
            tail += _audit()
            tail.append(_mavau(edm=self.mavau_in_edm))
            tail += _ATTRS
        tail += _identity()
        self.layout = list(self.fields_) + tail
        self.props = {f.name: f for f in self.layout if isinstance(f, Prop)}
        self.navs = {f.name: f for f in self.layout if isinstance(f, Nav)}
        self.edm_props = [p for p in self.props.values() if p.edm]
        # Id first, then Guid: the store relies on it
        names = ["Id", "Guid"] + [
            p.name for p in self.props.values() if p.stored and p.name not in ("Id", "Guid")
        ]
        self.stored = names
        self.col = {n: k for k, n in enumerate(names)}
        self.template = [self.props[n].default for n in names]

    @property
    def rest_writable(self) -> list[Prop]:
        """Columns a POST/PUT body sets (PUT resets the ones left out)."""
        return [
            p
            for p in self.props.values()
            if p.stored and p.access in (Access.RW, Access.COMPUTED) and p.name != "Id"
        ]

    def blank_row(self) -> list[Any]:
        return self.template.copy()


PERSON = EntityDef(
    "Person",
    "Rock.Model.Person",
    "People",
    [
        b("IsSystem"),
        i("RecordTypeValueId"),
        i("RecordStatusValueId"),
        dt("RecordStatusLastModifiedDateTime"),
        i("RecordStatusReasonValueId"),
        i("ConnectionStatusValueId"),
        i("ReviewReasonValueId"),
        b("IsDeceased"),
        i("TitleValueId"),
        s("FirstName", 50),
        s("NickName", 50),
        s("MiddleName", 50),
        s("LastName", 50),
        i("SuffixValueId"),
        i("PhotoId"),
        i("BirthDay"),
        i("BirthMonth"),
        i("BirthYear"),
        e("Gender", Gender),
        i("MaritalStatusValueId"),
        dt("AnniversaryDate"),
        i("GraduationYear"),
        s("GivingId", 50, access=Access.COMPUTED),
        i("GivingLeaderId", 0, access=Access.COMPUTED),
        s("Email", 75),
        b("IsEmailActive", True),
        s("EmailNote", 250),
        e("EmailPreference", EmailPreference),
        e("CommunicationPreference", CommunicationType, 1),
        s("ReviewReasonNote", 1000),
        s("InactiveReasonNote", 1000),
        s("SystemNote", 1000),
        i("ViewedCount"),
        s("TopSignalColor", 100),
        s("TopSignalIconCssClass", 100),
        i("TopSignalId"),
        e("AgeClassification", AgeClassification, access=Access.COMPUTED),
        i("PrimaryFamilyId", access=Access.COMPUTED),
        i("PrimaryCampusId", access=Access.COMPUTED),
        b("IsLockedAsChild"),
        dt("DeceasedDate"),
        i("ContributionFinancialAccountId"),
        e("AccountProtectionProfile", AccountProtectionProfile),
        i("PreferredLanguageValueId"),
        i("ReminderCount"),
        i("RaceValueId"),
        i("EthnicityValueId"),
        computed("DaysUntilBirthday", PType.INT, "person.days_until_birthday", edm=True),
        i("GivingGroupId"),
        dt("BirthDate", access=Access.COMPUTED),
        computed("DaysUntilAnniversary", PType.INT, "person.days_until_anniversary", edm=True),
        computed("PrimaryAliasId", PType.INT, "person.primary_alias_id"),
        computed("FullName", PType.STR, "person.full_name"),
        computed("BirthdayDayOfWeek", PType.STR, "person.birthday_day_of_week"),
        computed("BirthdayDayOfWeekShort", PType.STR, "person.birthday_day_of_week_short"),
        many("Users", None),
        many("PhoneNumbers", "PhoneNumber", "PersonId"),
        single("MaritalStatusValue", "DefinedValue", "MaritalStatusValueId"),
        single("ConnectionStatusValue", "DefinedValue", "ConnectionStatusValueId"),
        single("ReviewReasonValue", "DefinedValue", "ReviewReasonValueId"),
        single("RecordStatusValue", "DefinedValue", "RecordStatusValueId"),
        single("RecordStatusReasonValue", "DefinedValue", "RecordStatusReasonValueId"),
        single("RecordTypeValue", "DefinedValue", "RecordTypeValueId"),
        single("SuffixValue", "DefinedValue", "SuffixValueId"),
        single("TitleValue", "DefinedValue", "TitleValueId"),
        single("Photo", None, "PhotoId"),
        single("Aliases", None, data_member=False),
        computed("Age", PType.INT, "person.age"),
        computed("NextBirthDay", PType.DATETIME, "person.next_birthday"),
        computed("DaysToBirthday", PType.INT, "person.days_to_birthday"),
        computed("NextAnniversary", PType.DATETIME, "person.next_anniversary"),
        computed("GradeOffset", PType.INT, "person.grade_offset"),
        computed("HasGraduated", PType.BOOL, "person.has_graduated"),
        computed("GradeFormatted", PType.STR, "person.grade_formatted"),
    ],
    entity_type_guid="72657ED8-D16E-492E-AC12-144C5E7567E7",
)

PERSON_ALIAS = EntityDef(
    "PersonAlias",
    "Rock.Model.PersonAlias",
    "PersonAlias",
    [
        s("Name", 200),
        i("PersonId", 0, required=True),
        _p("AliasPersonId", PType.INT, None, access=Access.HIDDEN, edm=False),
        single("Person", "Person", "PersonId"),
    ],
    model=False,
    hash_indexes=("PersonId",),
    entity_type_guid="90F5E87B-F0D5-4617-8AE9-EB57E673F36F",
)

PHONE_NUMBER = EntityDef(
    "PhoneNumber",
    "Rock.Model.PhoneNumber",
    "PhoneNumbers",
    [
        b("IsSystem"),
        i("PersonId", 0, required=True),
        s("CountryCode", 3),
        s("Number", 20, required=True),
        s("NumberFormatted", 50, access=Access.COMPUTED),
        s("Extension", 20),
        i("NumberTypeValueId"),
        b("IsMessagingEnabled"),
        b("IsUnlisted"),
        s("Description"),
        single("NumberTypeValue", "DefinedValue", "NumberTypeValueId"),
        single("Person", "Person", "PersonId", data_member=False),
        computed("NumberFormattedWithCountryCode", PType.STR, "phone.with_country_code"),
    ],
    hash_indexes=("PersonId",),
)

GROUP = EntityDef(
    "Group",
    "Rock.Model.Group",
    "Groups",
    [
        b("IsSystem"),
        i("ParentGroupId"),
        i("GroupTypeId", 0, required=True),
        i("CampusId"),
        i("ScheduleId"),
        s("Name", 100, required=True),
        s("Description"),
        b("IsSecurityRole"),
        b("IsActive", True),
        i("Order", 0),
        b("AllowGuests", None),
        i("WelcomeSystemEmailId"),
        i("ExitSystemEmailId"),
        i("SyncDataViewId"),
        b("AddUserAccountsDuringSync", None),
        b("MustMeetRequirementsToAddMember", None),
        b("IsPublic", True),
        i("GroupCapacity"),
        i("RequiredSignatureDocumentTemplateId"),
        dt("InactiveDateTime"),
        b("IsArchived"),
        dt("ArchivedDateTime"),
        i("ArchivedByPersonAliasId"),
        i("StatusValueId"),
        s("GroupSalutation", 250, access=Access.COMPUTED),
        s("GroupSalutationFull", 250, access=Access.COMPUTED),
        single("GroupType", "GroupType", "GroupTypeId"),
        single("Campus", "Campus", "CampusId"),
        single("Schedule", None, "ScheduleId"),
        single("WelcomeSystemEmail", None),
        single("ExitSystemEmail", None),
        single("SyncDataView", None),
        single("RequiredSignatureDocumentTemplate", None),
        many("Members", "GroupMember", "GroupId"),
        many("GroupLocations", "GroupLocation", "GroupId"),
        many("GroupRequirements", None),
        single("ParentGroup", "Group", "ParentGroupId", data_member=False),
    ],
    hash_indexes=("GroupTypeId", "ParentGroupId"),
    entity_type_guid="9BBFDA11-0D22-40D5-902F-60ADFBC88987",
)

GROUP_TYPE = EntityDef(
    "GroupType",
    "Rock.Model.GroupType",
    "GroupTypes",
    [
        b("IsSystem"),
        s("Name", 100, required=True),
        s("Description"),
        s("GroupTerm", 100),
        s("GroupMemberTerm", 100),
        i("DefaultGroupRoleId"),
        b("AllowMultipleLocations"),
        b("ShowInGroupList", True),
        b("ShowInNavigation", True),
        s("IconCssClass", 100),
        b("TakesAttendance"),
        b("AttendanceCountsAsWeekendService"),
        b("SendAttendanceReminder"),
        b("ShowConnectionStatus"),
        b("ShowMaritalStatus"),
        i("Order", 0),
        i("InheritedGroupTypeId"),
        i("GroupTypePurposeValueId"),
        b("IgnorePersonInactivated"),
        b("EnableGroupHistory"),
        b("AllowGroupSync"),
        b("AllowSpecificGroupMemberWorkflows"),
        b("IsSchedulingEnabled"),
        b("GroupsRequireCampus"),
        b("EnableGroupTag"),
        many("Roles", "GroupTypeRole", "GroupTypeId"),
        single("DefaultGroupRole", "GroupTypeRole", "DefaultGroupRoleId"),
    ],
)

GROUP_TYPE_ROLE = EntityDef(
    "GroupTypeRole",
    "Rock.Model.GroupTypeRole",
    "GroupTypeRoles",
    [
        b("IsSystem"),
        i("GroupTypeId"),
        s("Name", 100, required=True),
        s("Description"),
        i("Order", 0),
        i("MaxCount"),
        i("MinCount"),
        b("IsLeader"),
        b("ReceiveRequirementsNotifications"),
        b("CanView"),
        b("CanEdit"),
        b("CanManageMembers"),
        b("IsCheckInAllowed"),
        b("IsExcludedFromPeerNetwork"),
        single("GroupType", "GroupType", "GroupTypeId", data_member=False),
    ],
    hash_indexes=("GroupTypeId",),
    entity_type_guid="D155C373-9E47-4C6A-BADD-792F31AF5FBA",
)

GROUP_MEMBER = EntityDef(
    "GroupMember",
    "Rock.Model.GroupMember",
    "GroupMembers",
    [
        b("IsSystem"),
        i("GroupId", 0, required=True),
        i("GroupTypeId", 0, access=Access.COMPUTED),
        i("PersonId", 0, required=True),
        i("GroupRoleId", 0, required=True),
        s("Note"),
        e("GroupMemberStatus", GroupMemberStatus, 1),
        i("GuestCount"),
        dt("DateTimeAdded"),
        b("IsNotified"),
        i("GroupOrder"),
        dt("InactiveDateTime"),
        b("IsArchived"),
        dt("ArchivedDateTime"),
        i("ArchivedByPersonAliasId"),
        i("ScheduleTemplateId"),
        dt("ScheduleStartDate"),
        i("ScheduleReminderEmailOffsetDays"),
        e("CommunicationPreference", CommunicationType),
        single("Person", "Person", "PersonId"),
        single("GroupRole", "GroupTypeRole", "GroupRoleId"),
        single("ScheduleTemplate", None, "ScheduleTemplateId"),
        single("Group", "Group", "GroupId", data_member=False),
    ],
    hash_indexes=("GroupId", "PersonId"),
    entity_type_guid="49668B95-FEDC-43DD-8085-D2B0D6343C48",
)

GROUP_LOCATION = EntityDef(
    "GroupLocation",
    "Rock.Model.GroupLocation",
    "GroupLocations",
    [
        i("GroupId", 0, required=True),
        i("LocationId", 0, required=True),
        i("GroupLocationTypeValueId"),
        b("IsMailingLocation"),
        b("IsMappedLocation"),
        i("GroupMemberPersonAliasId"),
        i("Order", 0),
        single("Location", "Location", "LocationId"),
        single("GroupLocationTypeValue", "DefinedValue", "GroupLocationTypeValueId"),
        single("GroupMemberPersonAlias", "PersonAlias", "GroupMemberPersonAliasId"),
        many("Schedules", None),
        single("Group", "Group", "GroupId", data_member=False),
    ],
    hash_indexes=("GroupId", "LocationId"),
)

LOCATION = EntityDef(
    "Location",
    "Rock.Model.Location",
    "Locations",
    [
        i("ParentLocationId"),
        s("Name", 100),
        b("IsActive", True),
        i("LocationTypeValueId"),
        s("Street1", 100),
        s("Street2", 100),
        s("City", 50),
        s("County", 50),
        s("State", 50),
        s("Country", 50),
        s("PostalCode", 50),
        s("Barcode", 40),
        s("AssessorParcelId", 50),
        dt("StandardizeAttemptedDateTime"),
        s("StandardizeAttemptedServiceType", 50),
        s("StandardizeAttemptedResult", 200),
        dt("StandardizedDateTime"),
        dt("GeocodeAttemptedDateTime"),
        s("GeocodeAttemptedServiceType", 50),
        s("GeocodeAttemptedResult", 50),
        dt("GeocodedDateTime"),
        b("IsGeoPointLocked", None),
        i("PrinterDeviceId"),
        i("ImageId"),
        i("SoftRoomThreshold"),
        i("FirmRoomThreshold"),
        _p("Latitude", PType.DOUBLE, None),
        _p("Longitude", PType.DOUBLE, None),
        computed("Distance", PType.DOUBLE, "zero", edm=True),
    ],
    entity_type_guid="0D6410AD-C83C-47AC-AF3D-616D09EDF63B",
)

CAMPUS = EntityDef(
    "Campus",
    "Rock.Model.Campus",
    "Campuses",
    [
        b("IsSystem"),
        s("Name", 100, required=True),
        s("Description"),
        b("IsActive", None),
        s("ShortCode", 50),
        s("Url"),
        i("LocationId"),
        s("PhoneNumber", 20),
        i("LeaderPersonAliasId"),
        s("ServiceTimes", 500),
        i("Order", 0),
        s("TimeZoneId", 50),
        i("CampusStatusValueId"),
        i("CampusTypeValueId"),
        i("TeamGroupId"),
        single("Location", "Location", "LocationId"),
        single("LeaderPersonAlias", "PersonAlias", "LeaderPersonAliasId"),
    ],
)

DEFINED_TYPE = EntityDef(
    "DefinedType",
    "Rock.Model.DefinedType",
    "DefinedTypes",
    [
        b("IsSystem"),
        i("FieldTypeId"),
        i("Order", 0),
        i("CategoryId"),
        s("Name", 100, required=True),
        s("Description"),
        s("HelpText"),
        b("IsActive", True),
        b("EnableSecurityOnValues"),
        single("FieldType", "FieldType", "FieldTypeId"),
        many("DefinedValues", "DefinedValue", "DefinedTypeId"),
    ],
)

DEFINED_VALUE = EntityDef(
    "DefinedValue",
    "Rock.Model.DefinedValue",
    "DefinedValues",
    [
        b("IsSystem"),
        i("DefinedTypeId", 0, required=True),
        i("Order", 0),
        s("Value", 250, required=True),
        s("Description"),
        b("IsActive", True),
        i("CategoryId"),
        single("DefinedType", "DefinedType", "DefinedTypeId", data_member=False),
    ],
    hash_indexes=("DefinedTypeId",),
)

ATTRIBUTE = EntityDef(
    "Attribute",
    "Rock.Model.Attribute",
    "Attributes",
    [
        b("IsSystem"),
        i("FieldTypeId", 0, required=True),
        i("EntityTypeId"),
        s("EntityTypeQualifierColumn", 50),
        s("EntityTypeQualifierValue", 200),
        s("Key", 1000, required=True),
        s("Name", 1000, required=True),
        s("AbbreviatedName", 100),
        s("Description"),
        i("Order", 0),
        b("IsGridColumn"),
        s("DefaultValue"),
        b("IsMultiValue"),
        b("IsRequired"),
        s("IconCssClass", 100),
        b("AllowSearch"),
        b("IsIndexEnabled"),
        b("IsAnalytic"),
        b("IsAnalyticHistory"),
        b("IsActive", True),
        b("EnableHistory"),
        s("PreHtml"),
        s("PostHtml"),
        b("IsPublic"),
        b("ShowOnBulk"),
        single("EntityType", "EntityType", "EntityTypeId"),
        many("AttributeQualifiers", None),
        single("FieldType", "FieldType", "FieldTypeId"),
        many("Categories", None),
    ],
    hash_indexes=("EntityTypeId",),
)

ATTRIBUTE_VALUE = EntityDef(
    "AttributeValue",
    "Rock.Model.AttributeValue",
    "AttributeValues",
    [
        b("IsSystem"),
        i("AttributeId", 0, required=True),
        i("EntityId"),
        s("Value"),
        _p("ValueAsNumeric", PType.DECIMAL, None, access=Access.COMPUTED),
        b("ValueAsBoolean", None, access=Access.COMPUTED),
        single("Attribute", "Attribute", "AttributeId"),
    ],
    hash_indexes=("AttributeId", "EntityId"),
    mavau_in_edm=True,
)

ENTITY_TYPE = EntityDef(
    "EntityType",
    "Rock.Model.EntityType",
    "EntityTypes",
    [
        s("Name", 100, required=True),
        s("AssemblyName", 260),
        s("FriendlyName", 100),
        b("IsEntity"),
        b("IsSecured"),
        b("IsCommon"),
        i("SingleValueFieldTypeId"),
        i("MultiValueFieldTypeId"),
        b("IsIndexingEnabled"),
        b("IsAchievementsEnabled"),
    ],
    model=False,
)

FIELD_TYPE = EntityDef(
    "FieldType",
    "Rock.Model.FieldType",
    "FieldTypes",
    [
        b("IsSystem"),
        s("Name", 100, required=True),
        s("Description"),
        s("Assembly", 100, required=True),
        s("Class", 100, required=True),
    ],
)

HISTORY = EntityDef(
    "History",
    "Rock.Model.History",
    "Histories",
    [
        b("IsSystem"),
        i("CategoryId", 0),
        i("EntityTypeId", 0),
        i("EntityId", 0),
        s("Caption", 200),
        s("Summary"),
        s("Verb", 40),
        s("ChangeType", 20),
        s("ValueName", 250),
        s("NewValue"),
        s("OldValue"),
        s("NewRawValue"),
        s("OldRawValue"),
        b("IsSensitive", None),
        i("RelatedEntityTypeId"),
        i("RelatedEntityId"),
        s("RelatedData"),
        s("SourceOfChange", 250),
        single("EntityType", "EntityType", "EntityTypeId"),
        single("Category", None),
        single("RelatedEntityType", "EntityType", "RelatedEntityTypeId"),
    ],
    read_only=True,
    hash_indexes=("EntityId",),
)

ENTITIES: dict[str, EntityDef] = {
    d.name: d
    for d in (
        PERSON,
        PERSON_ALIAS,
        PHONE_NUMBER,
        GROUP,
        GROUP_TYPE,
        GROUP_TYPE_ROLE,
        GROUP_MEMBER,
        GROUP_LOCATION,
        LOCATION,
        CAMPUS,
        DEFINED_TYPE,
        DEFINED_VALUE,
        ATTRIBUTE,
        ATTRIBUTE_VALUE,
        ENTITY_TYPE,
        FIELD_TYPE,
        HISTORY,
    )
}

BY_CONTROLLER: dict[str, EntityDef] = {d.controller.lower(): d for d in ENTITIES.values()}

# Entities whose rows can carry attribute values (IHasAttributes), for AttributeValue/{id}.
ATTRIBUTED = frozenset(d.name for d in ENTITIES.values() if d.model)
