"""A fresh Rock install with the seeded church loaded (``generate_church`` people ``in_rock``).

System rows carry Rock's real GUIDs (spec §3.10) where the spec or Rock's ``SystemGuid``
files name them; the rest get stable generated GUIDs (``uuid5``; listed in docs/emulators.md).
Integer Ids start at seed-dependent offsets so a client that hard-codes ``1``/``3`` breaks
here as it would on a real install.

Rows are built directly (no save hooks) so 100,000 people load in seconds; the values the
hooks would compute (BirthDate, NumberFormatted, PrimaryFamilyId…) are filled in here.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pcosync.emulators.rock.attributes import value_as_numeric
from pcosync.emulators.rock.core import RockData
from pcosync.emulators.rock.people import birth_date
from pcosync.emulators.rock.schema import ENTITIES
from pcosync.emulators.rock.store import Row
from pcosync.emulators.rock.values import format_phone, sql_datetime
from pcosync.emulators.seed import SeedChurch, SeedPerson

_NS = uuid.UUID("5b0f5d0e-8a5c-4f61-9a7e-2f6c1b4d7e10")

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"
ANONYMOUS_VISITOR_GUID = "7ebc167b-512d-4683-9d80-98b6bb02e1b9"


def generated_guid(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


def _g(guid: str | None, name: str) -> str:
    return guid.lower() if guid else generated_guid(name)


# (key, name, guid, values: (key, value text, guid, description))
DEFINED_TYPES: list[tuple[str, str, str | None, list[tuple[str, str, str | None, str]]]] = [
    (
        "record_type",
        "Record Type",
        "26BE73A6-A9C5-4E94-AE00-3AFDCF8C9275",
        [
            ("person", "Person", "36CF10D6-C695-413D-8E7C-4546EFEF385E", "A Person Record"),
            ("business", "Business", "BF64ADD3-E70A-44CE-9C4B-E76BBED37550", "A Business Record"),
            ("rest_user", "REST User", "E2261A84-831D-4234-9BE0-4D628BBE751E", "A REST API user"),
            (
                "nameless",
                "Nameless Person",
                "721300ED-1267-4DA0-B4F2-6C6B5B17B1C5",
                "A person known only by a phone number or email",
            ),
        ],
    ),
    (
        "record_status",
        "Record Status",
        "8522BADD-2871-45A5-81DD-C76DA07E2E7E",
        [
            ("active", "Active", "618F906C-C33D-4FA3-8AEF-E58CB7B63F1E", "Active Record"),
            ("inactive", "Inactive", "1DAD99D5-41A9-4865-8366-F269902B80A4", "Inactive Record"),
            ("pending", "Pending", "283999EC-7346-42E3-B807-BCE9B2BABB49", "Pending Record"),
        ],
    ),
    (
        "record_status_reason",
        "Record Status Reason",
        "E17D5988-0372-4792-82CF-9E37C79F7319",
        [
            ("deceased", "Deceased", "05D35BC4-5816-4210-965F-1BF44F35A16A", ""),
            ("no_activity", "No Activity", None, ""),
            ("moved", "Moved", None, ""),
        ],
    ),
    (
        "connection_status",
        "Connection Status",
        "2E6540EA-63F0-40FE-BE50-F2A84735E600",
        [
            ("member", "Member", "41540783-D9EF-4C70-8F1D-C9E83D91ED5F", ""),
            ("attendee", "Attendee", "39F491C5-D6AC-4A9B-8AC0-C431CB17D588", ""),
            ("visitor", "Visitor", "B91BA046-BC1E-400C-B85D-638C1F4E0CE2", ""),
            ("participant", "Participant", "8EBC0CEB-474D-4C1B-A6BA-734C3A9AB061", ""),
            ("prospect", "Prospect", "368DD475-242C-49C4-A42C-7278BE690CC2", ""),
        ],
    ),
    (
        "phone_type",
        "Phone Type",
        "8345DD45-73C6-4F5E-BEBD-B77FC83F18FD",
        [
            ("mobile", "Mobile", "407E7E45-7B2E-4FCD-9605-ECB1339F2453", ""),
            ("home", "Home", "AA8732FB-2CEA-4C76-8D6D-6AAA2C6A4303", ""),
            ("work", "Work", "2CC66D5A-F61C-4B74-9AF9-590A9847C13C", ""),
        ],
    ),
    (
        "suffix",
        "Suffix",
        "16F85B3C-B3E8-434C-9094-F3D41F87A740",
        [
            ("jr", "Jr.", None, ""),
            ("sr", "Sr.", None, ""),
            ("ii", "II", None, ""),
            ("iii", "III", None, ""),
        ],
    ),
    (
        "title",
        "Title",
        "4784CD23-518B-43EE-9B97-225BF6E07846",
        [
            ("mr", "Mr.", None, ""),
            ("mrs", "Mrs.", None, ""),
            ("ms", "Ms.", None, ""),
            ("dr", "Dr.", None, ""),
        ],
    ),
    (
        "marital_status",
        "Marital Status",
        "B4B92C3F-A935-40E1-A00B-BA484EAD613B",
        [
            ("married", "Married", "5FE5A540-7D9F-433E-B47E-4229D1472248", ""),
            ("single", "Single", "F19FC180-FE8F-4B72-A59C-8013E3B0EB0D", ""),
        ],
    ),
    (
        "location_type",
        "Location Type",
        None,
        [
            ("home", "Home", "8C52E53C-2A66-435A-AE6E-5EE307D9A0DC", "Home address"),
            ("work", "Work", "E071472A-F805-4FC4-917A-D5E3C095C35C", "Work address"),
            ("previous", "Previous", "853D98F1-6E08-4321-861B-520B4106CFE0", "Previous address"),
        ],
    ),
]

FIELD_TYPES: list[tuple[str, str, str, str]] = [
    ("text", "Text", "TextFieldType", "9C204CD0-1233-41C5-818A-C5DA439445AA"),
    ("integer", "Integer", "IntegerFieldType", "A75DFC58-7A1B-4799-BF31-451B2BBE38FF"),
    ("boolean", "Boolean", "BooleanFieldType", "1EDAFDED-DFE6-4334-B019-6EECBA89E05A"),
    ("date", "Date", "DateFieldType", "6B6AA175-4758-453F-8D83-FCD8044B5F36"),
    ("datetime", "Date Time", "DateTimeFieldType", "FE95430C-322D-4B67-9C77-DFD1D4408725"),
    ("decimal", "Decimal", "DecimalFieldType", "C757A554-3009-4214-B05D-CEA2B2EA6B8F"),
    ("email", "Email", "EmailFieldType", "3D045CAE-EA72-4A04-B7BE-7FD1D6214217"),
    ("memo", "Memo", "MemoFieldType", "C28C7BF3-A552-4D77-9408-DEDCF760CED0"),
    (
        "single_select",
        "Single-Select",
        "SelectSingleFieldType",
        "7525C4CB-EE6B-41D4-9B64-A08048D5A5C0",
    ),
    ("person", "Person", "PersonFieldType", "E4EAB7B2-0B76-429B-AFE4-AD86D7428C70"),
    (
        "defined_value",
        "Defined Value",
        "DefinedValueFieldType",
        "59D5A94C-94A0-4630-B80A-BB25697D74C7",
    ),
]

# (key, name, guid, term, member term, history, navigation, roles: (key, name, guid, leader))
GROUP_TYPES: list[
    tuple[str, str, str, str, str, bool, bool, list[tuple[str, str, str | None, bool]]]
] = [
    (
        "family",
        "Family",
        "790E3215-3B10-442B-AF69-616C0DCB998E",
        "Family",
        "Family Member",
        False,
        False,
        [
            ("adult", "Adult", "2639F9A5-2AAE-4E48-A8C3-4FFE86681E42", False),
            ("child", "Child", "C8B1814F-6AA7-4055-B2D7-48FE20429CB9", False),
        ],
    ),
    (
        "serving_team",
        "Serving Team",
        "2C42B2D4-1C5F-4AD5-A9AD-08631B872AC4",
        "Team",
        "Member",
        True,
        True,
        [
            ("member", "Member", None, False),
            ("leader", "Leader", None, True),
        ],
    ),
    (
        "small_group",
        "Small Group",
        "50FCFB30-F51A-49DF-86F4-2B176EA1820B",
        "Group",
        "Member",
        True,
        True,
        [
            ("leader", "Leader", None, True),
            ("member", "Member", None, False),
        ],
    ),
]

HISTORY_CATEGORIES = ["Demographic Changes", "Group Membership"]

_CONNECTION_WEIGHTS = [
    ("member", 55),
    ("attendee", 25),
    ("visitor", 10),
    ("participant", 5),
    ("prospect", 5),
]

EPOCH = datetime(2012, 1, 1)
SEEDED_UNTIL = datetime(2025, 12, 31, 23, 0)


@dataclass
class Seeder:
    data: RockData
    church: SeedChurch
    rng: random.Random
    people_by_key: dict[int, Row] = field(default_factory=dict)

    def base(self, table: str, low: int, high: int) -> None:
        self.data.table(table).next_id = self.rng.randint(low, high)

    def add(self, table: str, values: dict[str, Any], *, gap: float = 0.0) -> Row:
        t = self.data.table(table)
        if gap and self.rng.random() < gap:
            t.next_id += self.rng.randint(1, 3)  # rows deleted long ago leave holes
        row = self.data.new_row(table, values)
        row[0] = t.allocate_id()
        if row[1] is None:
            row[1] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return t.insert(row)

    def stamp(self, when: datetime | None, by: int | None) -> dict[str, Any]:
        return {
            "CreatedDateTime": when,
            "ModifiedDateTime": when,
            "CreatedByPersonAliasId": by,
            "ModifiedByPersonAliasId": by,
        }

    def moment(self, start: datetime, end: datetime) -> datetime:
        span = max((end - start).total_seconds(), 1.0)
        return sql_datetime(start + timedelta(seconds=self.rng.random() * span))


def seed_database(data: RockData, church: SeedChurch, *, seed: int) -> dict[int, int]:
    """Fill an empty store: a fresh Rock install, then the church.

    Returns seed person key → Rock person Id.
    """
    s = Seeder(data, church, random.Random(f"pcosync-rock:{seed}"))
    ids = data.ids.values
    installed = datetime(2011, 10, 3, 9, 12, 44)

    # entity types and field types
    s.base("EntityType", 8, 40)
    for entity in ENTITIES.values():
        row = s.add(
            "EntityType",
            {
                "Guid": _g(entity.entity_type_guid, f"entitytype:{entity.clr}"),
                "Name": entity.clr,
                "AssemblyName": f"{entity.clr}, Rock, Version={data.version}.0, Culture=neutral, "
                "PublicKeyToken=null",
                "FriendlyName": entity.name,
                "IsEntity": True,
                "IsSecured": True,
                "IsCommon": False,
            },
        )
        ids[f"entity:{entity.name}"] = row[0]
    s.base("FieldType", 1, 20)
    for key, name, cls, guid in FIELD_TYPES:
        row = s.add(
            "FieldType",
            {
                "Guid": guid.lower(),
                "IsSystem": True,
                "Name": name,
                "Assembly": "Rock",
                "Class": f"Rock.Field.Types.{cls}",
                "Description": "",
                **s.stamp(None, None),
            },
        )
        ids[f"fieldtype:{key}"] = row[0]

    # defined types and values
    s.base("DefinedType", 1, 30)
    s.base("DefinedValue", 1, 400)
    for order, (tkey, tname, tguid, values) in enumerate(DEFINED_TYPES):
        dtype = s.add(
            "DefinedType",
            {
                "Guid": _g(tguid, f"definedtype:{tkey}"),
                "IsSystem": True,
                "FieldTypeId": ids["fieldtype:text"],
                "Order": order,
                "Name": tname,
                "Description": f"{tname} values",
                "IsActive": True,
                **s.stamp(None, None),
            },
        )
        ids[f"dt:{tkey}"] = dtype[0]
        for vorder, (vkey, text, vguid, desc) in enumerate(values):
            value = s.add(
                "DefinedValue",
                {
                    "Guid": _g(vguid, f"definedvalue:{tkey}:{vkey}"),
                    "IsSystem": vguid is not None,
                    "DefinedTypeId": dtype[0],
                    "Order": vorder,
                    "Value": text,
                    "Description": desc,
                    "IsActive": True,
                    **s.stamp(None, None),
                },
                gap=0.3,
            )
            ids[f"dv:{tkey}:{vkey}"] = value[0]

    # group types and roles
    s.base("GroupType", 5, 60)
    s.base("GroupTypeRole", 1, 60)
    for order, (gkey, gname, gguid, term, mterm, history, nav, roles) in enumerate(GROUP_TYPES):
        gtype = s.add(
            "GroupType",
            {
                "Guid": gguid.lower(),
                "IsSystem": gkey == "family",
                "Name": gname,
                "Description": f"{gname} groups",
                "GroupTerm": term,
                "GroupMemberTerm": mterm,
                "AllowMultipleLocations": gkey == "family",
                "ShowInGroupList": nav,
                "ShowInNavigation": nav,
                "IconCssClass": "fa fa-home" if gkey == "family" else "fa fa-users",
                "Order": order,
                "EnableGroupHistory": history,
                "IsSchedulingEnabled": gkey == "serving_team",
                **s.stamp(None, None),
            },
            gap=0.5,
        )
        ids[f"grouptype:{gkey}"] = gtype[0]
        default_role = None
        for rorder, (rkey, rname, rguid, leader) in enumerate(roles):
            role = s.add(
                "GroupTypeRole",
                {
                    "Guid": _g(rguid, f"grouprole:{gkey}:{rkey}"),
                    "IsSystem": rguid is not None,
                    "GroupTypeId": gtype[0],
                    "Name": rname,
                    "Order": rorder,
                    "IsLeader": leader,
                    "CanView": leader,
                    "CanEdit": leader,
                    "CanManageMembers": leader,
                    **s.stamp(None, None),
                },
            )
            ids[f"role:{gkey}:{rkey}"] = role[0]
            if rkey in ("adult", "member"):
                default_role = role[0]
        data.table("GroupType").update(gtype, {"DefaultGroupRoleId": default_role})

    for name in HISTORY_CATEGORIES:
        ids[f"category:{name}"] = s.rng.randint(100, 400)

    # campuses
    s.base("Campus", 1, 1)
    for order, name in enumerate(church.campuses):
        short = "".join(w[0] for w in name.split()).upper() or name[:4].upper()
        row = s.add(
            "Campus",
            {
                "Guid": generated_guid(f"campus:{name}"),
                "IsSystem": False,
                "Name": name,
                "Description": f"The {name}.",
                "IsActive": True,
                "ShortCode": short,
                "Url": f"https://www.example.org/{short.lower()}",
                "PhoneNumber": f"214555{order:04d}",
                "ServiceTimes": "Sunday^9:00am|Sunday^11:00am",
                "Order": order,
                **s.stamp(installed, None),
            },
        )
        ids[f"campus:{name}"] = row[0]

    _seed_people(s, installed)
    _seed_groups(s, installed)
    _seed_attributes(s, installed)
    return {key: row[0] for key, row in s.people_by_key.items()}


def _person_values(
    s: Seeder,
    first: str | None,
    nick: str | None,
    middle: str | None,
    last: str,
    *,
    record_type: str = "person",
    status: str = "active",
    connection: str | None = "member",
) -> dict[str, Any]:
    ids = s.data.ids
    return {
        "IsSystem": False,
        "RecordTypeValueId": ids[f"dv:record_type:{record_type}"],
        "RecordStatusValueId": ids[f"dv:record_status:{status}"],
        "ConnectionStatusValueId": ids[f"dv:connection_status:{connection}"]
        if connection
        else None,
        "FirstName": first,
        "NickName": nick or first,
        "MiddleName": middle,
        "LastName": last,
        "Gender": 0,
        "IsEmailActive": True,
        "EmailPreference": 0,
        "CommunicationPreference": 1,
        "AccountProtectionProfile": 0,
        "InactiveReasonNote": "",
    }


def _alias(s: Seeder, person: Row) -> Row:
    return s.add(
        "PersonAlias", {"PersonId": person[0], "AliasPersonId": person[0], "Guid": person[1]}
    )


def _finish_person(s: Seeder, row: Row) -> None:
    col = ENTITIES["Person"].col
    row[col["BirthDate"]] = birth_date(row)
    giving_group = row[col["GivingGroupId"]]
    row[col["GivingId"]] = f"G{giving_group}" if giving_group else f"P{row[0]}"
    row[col["GivingLeaderId"]] = row[0]


def _seed_people(s: Seeder, installed: datetime) -> None:
    data, ids = s.data, s.data.ids.values
    s.base("Person", 1, 1)
    s.base("PersonAlias", 1, 1)
    admin = s.add(
        "Person",
        {
            **_person_values(s, "Admin", "Admin", "", "Admin"),
            "Email": "admin@organization.com",
            "AccountProtectionProfile": 3,
            **s.stamp(installed, None),
        },
    )
    _finish_person(s, admin)
    admin_alias = _alias(s, admin)
    ids["person:admin"] = admin[0]
    ids["alias:admin"] = admin_alias[0]
    anonymous = s.add(
        "Person",
        {
            **_person_values(s, "Anonymous", "Anonymous", "", "Visitor", connection="visitor"),
            "Guid": ANONYMOUS_VISITOR_GUID,
            "IsSystem": True,
            **s.stamp(installed, None),
        },
    )
    _finish_person(s, anonymous)
    _alias(s, anonymous)
    ids["person:anonymous"] = anonymous[0]

    s.base("Person", 100, 2500)
    s.base("PersonAlias", 3000, 9000)
    s.base("Group", 200, 3000)
    s.base("GroupMember", 100, 5000)
    s.base("PhoneNumber", 50, 2000)
    s.base("Location", 10, 900)
    s.base("GroupLocation", 10, 900)

    admin_by = ids["alias:admin"]
    by_key = s.people_by_key
    families: dict[tuple[int, int | None], list[SeedPerson]] = {}
    for p in s.church.rock_people():
        families.setdefault(
            (p.household, p.key if p.duplicate_of is not None else None), []
        ).append(p)

    family_type = ids["grouptype:family"]
    adult_role, child_role = ids["role:family:adult"], ids["role:family:child"]
    home_type = ids["dv:location_type:home"]
    phone_types = [
        ("mobile", ids["dv:phone_type:mobile"]),
        ("home", ids["dv:phone_type:home"]),
        ("work", ids["dv:phone_type:work"]),
    ]
    conn_keys = [k for k, _ in _CONNECTION_WEIGHTS]
    conn_weights = [w for _, w in _CONNECTION_WEIGHTS]
    married, single = ids["dv:marital_status:married"], ids["dv:marital_status:single"]
    last_modified: datetime | None = None

    # the admin's own family
    admin_family = s.add(
        "Group",
        {
            "GroupTypeId": family_type,
            "Name": "Admin Family",
            "CampusId": ids[f"campus:{s.church.campuses[0]}"],
            "IsActive": True,
            "IsPublic": True,
            **s.stamp(installed, None),
        },
    )
    s.add(
        "GroupMember",
        {
            "GroupId": admin_family[0],
            "GroupTypeId": family_type,
            "PersonId": admin[0],
            "GroupRoleId": adult_role,
            "GroupMemberStatus": 1,
            "DateTimeAdded": installed,
            **s.stamp(installed, None),
        },
    )
    data.table("Person").update(
        admin,
        {
            "PrimaryFamilyId": admin_family[0],
            "PrimaryCampusId": admin_family[ENTITIES["Group"].col["CampusId"]],
            "AgeClassification": 1,
        },
    )

    for members in families.values():
        created = s.moment(EPOCH, datetime(2025, 9, 1))
        head = members[0].rock
        campus = ids.get(f"campus:{head.campus}") if head.campus else None
        family = s.add(
            "Group",
            {
                "GroupTypeId": family_type,
                "Name": f"{head.last_name} Family",
                "CampusId": campus,
                "IsActive": True,
                "IsPublic": True,
                "AddUserAccountsDuringSync": None,
                **s.stamp(created, admin_by if s.rng.random() < 0.5 else None),
            },
            gap=0.02,
        )
        adults = [m for m in members if not m.rock.child]
        address = next((m.rock.address for m in members if m.rock.address), None)
        if address is not None:
            location = s.add(
                "Location",
                {
                    "Street1": address.street_line_1,
                    "Street2": address.street_line_2,
                    "City": address.city,
                    "State": address.state,
                    "PostalCode": address.zip,
                    "Country": "US",
                    "IsActive": True,
                    "Latitude": round(30 + s.rng.random() * 15, 6),
                    "Longitude": round(-120 + s.rng.random() * 45, 6),
                    "GeocodeAttemptedServiceType": "Emulator",
                    "GeocodeAttemptedResult": "Exact",
                    "GeocodedDateTime": created,
                    "StandardizeAttemptedResult": "Standardized",
                    "StandardizedDateTime": created,
                    **s.stamp(created, admin_by),
                },
            )
            s.add(
                "GroupLocation",
                {
                    "GroupId": family[0],
                    "LocationId": location[0],
                    "GroupLocationTypeValueId": home_type,
                    "IsMailingLocation": True,
                    "IsMappedLocation": True,
                    "Order": 0,
                    **s.stamp(created, admin_by),
                },
            )
        for member in members:
            facts = member.rock
            p_created = s.moment(created, created + timedelta(days=30))
            roll = s.rng.random()
            if roll < 0.02:
                p_created_v: datetime | None = None
                modified: datetime | None = None
            else:
                p_created_v = p_created
                if roll < 0.12 and last_modified is not None:
                    modified = last_modified  # bulk updates share one timestamp
                else:
                    modified = s.moment(p_created, SEEDED_UNTIL)
                last_modified = modified
            values = _person_values(
                s,
                facts.first_name,
                facts.nickname,
                facts.middle_name or "",
                facts.last_name,
                status="active" if facts.active else "inactive",
                connection=(
                    "attendee" if facts.child else s.rng.choices(conn_keys, conn_weights)[0]
                ),
            )
            values.update(
                {
                    "Gender": {"M": 1, "F": 2}.get(facts.gender or "", 0),
                    "Email": facts.email,
                    "BirthDay": facts.birthdate.day if facts.birthdate else None,
                    "BirthMonth": facts.birthdate.month if facts.birthdate else None,
                    "BirthYear": facts.birthdate.year if facts.birthdate else None,
                    "AnniversaryDate": datetime(
                        facts.anniversary.year, facts.anniversary.month, facts.anniversary.day
                    )
                    if facts.anniversary
                    else None,
                    "MaritalStatusValueId": married
                    if facts.anniversary or (not facts.child and len(adults) >= 2)
                    else single,
                    "RecordStatusReasonValueId": None
                    if facts.active
                    else ids["dv:record_status_reason:no_activity"],
                    "AgeClassification": 2 if facts.child else 1,
                    "PrimaryFamilyId": family[0],
                    "PrimaryCampusId": campus,
                    "GivingGroupId": None if facts.child else family[0],
                    "CreatedDateTime": p_created_v,
                    "ModifiedDateTime": modified,
                    "CreatedByPersonAliasId": admin_by if p_created_v else None,
                    "ModifiedByPersonAliasId": admin_by if modified else None,
                }
            )
            person = s.add("Person", values, gap=0.03)
            _finish_person(s, person)
            _alias(s, person)
            by_key[member.key] = person
            s.add(
                "GroupMember",
                {
                    "GroupId": family[0],
                    "GroupTypeId": family_type,
                    "PersonId": person[0],
                    "GroupRoleId": child_role if facts.child else adult_role,
                    "GroupMemberStatus": 1,
                    "DateTimeAdded": created,
                    **s.stamp(created if s.rng.random() < 0.7 else None, None),
                },
            )
            for kind, type_id in phone_types:
                number = {
                    "mobile": facts.mobile,
                    "home": facts.home_phone,
                    "work": facts.work_phone,
                }[kind]
                if not number:
                    continue
                digits = number[2:] if number.startswith("+1") else number.lstrip("+")
                when = p_created_v if s.rng.random() < 0.95 else None
                s.add(
                    "PhoneNumber",
                    {
                        "IsSystem": False,
                        "PersonId": person[0],
                        "CountryCode": "1",
                        "Number": digits,
                        "NumberFormatted": format_phone(digits, "1"),
                        "Extension": "",
                        "NumberTypeValueId": type_id,
                        "IsMessagingEnabled": kind == "mobile",
                        "IsUnlisted": False,
                        **s.stamp(when, admin_by if when else None),
                    },
                )


def _seed_groups(s: Seeder, installed: datetime) -> None:
    ids = s.data.ids.values
    by_key = s.people_by_key
    serving_parent: Row | None = None
    for g in s.church.rock_groups:
        created = s.moment(datetime(2018, 1, 1), datetime(2024, 1, 1))
        if g.kind == "serving_parent":
            serving_parent = s.add(
                "Group",
                {
                    "GroupTypeId": ids["grouptype:serving_team"],
                    "Name": g.name,
                    "Description": "Teams that serve on weekends",
                    "IsActive": True,
                    "IsPublic": True,
                    "AllowGuests": False,
                    "AddUserAccountsDuringSync": False,
                    "MustMeetRequirementsToAddMember": False,
                    **s.stamp(created, ids["alias:admin"]),
                },
            )
            ids["group:serving_teams"] = serving_parent[0]
            continue
        group = s.add(
            "Group",
            {
                "GroupTypeId": ids["grouptype:small_group"],
                "Name": g.name,
                "IsActive": True,
                "IsPublic": True,
                "GroupCapacity": 14,
                "AllowGuests": True,
                "AddUserAccountsDuringSync": False,
                "MustMeetRequirementsToAddMember": False,
                **s.stamp(created, ids["alias:admin"]),
            },
        )
        for n, key in enumerate(g.members):
            person = by_key.get(key)
            if person is None:
                continue
            role = ids["role:small_group:leader"] if n == 0 else ids["role:small_group:member"]
            added = s.moment(created, SEEDED_UNTIL)
            s.add(
                "GroupMember",
                {
                    "GroupId": group[0],
                    "GroupTypeId": ids["grouptype:small_group"],
                    "PersonId": person[0],
                    "GroupRoleId": role,
                    "GroupMemberStatus": 1,
                    "DateTimeAdded": added,
                    **s.stamp(added, ids["alias:admin"]),
                },
            )


def _seed_attributes(s: Seeder, installed: datetime) -> None:
    ids = s.data.ids.values
    s.base("Attribute", 1000, 15000)
    s.base("AttributeValue", 1000, 40000)
    by_key = s.people_by_key
    specs = [
        ("Allergy", "Allergy", "text", "Food or medical allergies"),
        ("BaptismDate", "Baptism Date", "date", "When the person was baptized"),
    ]
    for order, (key, name, ftype, desc) in enumerate(specs):
        attribute = s.add(
            "Attribute",
            {
                "IsSystem": False,
                "FieldTypeId": ids[f"fieldtype:{ftype}"],
                "EntityTypeId": ids["entity:Person"],
                "EntityTypeQualifierColumn": "",
                "EntityTypeQualifierValue": "",
                "Key": key,
                "Name": name,
                "AbbreviatedName": name,
                "Description": desc,
                "Order": order,
                "IsGridColumn": False,
                "DefaultValue": "",
                "IsMultiValue": False,
                "IsRequired": False,
                "IconCssClass": "",
                "IsActive": True,
                **s.stamp(installed, None),
            },
            gap=0.5,
        )
        ids[f"attribute:{key}"] = attribute[0]
    people = sorted(by_key.values(), key=lambda r: r[0])
    allergies = ["Peanuts", "Gluten", "Dairy", "Shellfish", "Bees"]
    for person in people:
        roll = s.rng.random()
        if roll < 0.04:
            _value(s, ids["attribute:Allergy"], person[0], s.rng.choice(allergies))
        elif roll < 0.10:
            when = s.moment(datetime(2000, 1, 1), datetime(2025, 6, 1))
            _value(s, ids["attribute:BaptismDate"], person[0], when.strftime("%Y-%m-%d"))


def _value(s: Seeder, attribute_id: int, entity_id: int, value: str) -> None:
    when = s.moment(datetime(2019, 1, 1), SEEDED_UNTIL)
    s.add(
        "AttributeValue",
        {
            "IsSystem": False,
            "AttributeId": attribute_id,
            "EntityId": entity_id,
            "Value": value,
            "ValueAsNumeric": value_as_numeric(value),
            "ValueAsBoolean": False,
            **s.stamp(when, s.data.ids["alias:admin"]),
        },
    )
