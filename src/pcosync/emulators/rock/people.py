"""People: computed properties, save hooks (aliases, history, phone → person bumps), and the
People controller's special actions: new person with a family, search, lookups, merges.
"""

from __future__ import annotations

import re
from calendar import isleap
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pcosync.emulators.rock import groups
from pcosync.emulators.rock.attributes import db_update_error
from pcosync.emulators.rock.core import (
    ApiError,
    NamedHooks,
    RockData,
    SaveContext,
)
from pcosync.emulators.rock.schema import ENTITIES, Gender, enum_text
from pcosync.emulators.rock.store import Row
from pcosync.emulators.rock.values import digits_only, format_phone

P = ENTITIES["Person"].col
PH = ENTITIES["PhoneNumber"].col
PA = ENTITIES["PersonAlias"].col
GM = ENTITIES["GroupMember"].col

# Person properties Rock writes history for (label, kind)
_HISTORY_FIELDS: dict[str, tuple[str, str]] = {
    "RecordStatusValueId": ("Record Status", "dv"),
    "RecordStatusReasonValueId": ("Inactive Reason", "dv"),
    "TitleValueId": ("Title", "dv"),
    "FirstName": ("First Name", "text"),
    "NickName": ("Nick Name", "text"),
    "MiddleName": ("Middle Name", "text"),
    "LastName": ("Last Name", "text"),
    "SuffixValueId": ("Suffix", "dv"),
    "BirthMonth": ("Birth Month", "text"),
    "BirthDay": ("Birth Day", "text"),
    "BirthYear": ("Birth Year", "text"),
    "GraduationYear": ("Graduation Year", "text"),
    "AnniversaryDate": ("Anniversary Date", "date"),
    "Gender": ("Gender", "gender"),
    "MaritalStatusValueId": ("Marital Status", "dv"),
    "ConnectionStatusValueId": ("Connection Status", "dv"),
    "Email": ("Email", "text"),
    "IsEmailActive": ("Email Active", "text"),
    "EmailPreference": ("Email Preference", "text"),
    "IsDeceased": ("Deceased", "text"),
}


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def birth_date(row: Row) -> datetime | None:
    y, m, d = row[P["BirthYear"]], row[P["BirthMonth"]], row[P["BirthDay"]]
    if not (y and m and d):
        return None
    try:
        return datetime(y, m, d)
    except ValueError:
        return None


def _next_occurrence(month: int | None, day: int | None, today: date) -> date | None:
    if not (month and day):
        return None
    for year in (today.year, today.year + 1, today.year + 2):
        d = day
        if month == 2 and day == 29 and not isleap(year):
            d = 28
        try:
            candidate = date(year, month, d)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def full_name(row: Row) -> str:
    nick = row[P["NickName"]] or row[P["FirstName"]] or ""
    last = row[P["LastName"]] or ""
    return f"{nick} {last}".strip()


def install(data: RockData) -> None:
    """Register the Person/PhoneNumber computations and save hooks."""
    aliases = data.table("PersonAlias")

    def primary_alias_id(row: Row) -> int | None:
        for alias in aliases.lookup("PersonId", row[0]):
            if alias[PA["AliasPersonId"]] == row[0]:
                return int(alias[0])
        return None

    def age(row: Row) -> int | None:
        born = birth_date(row)
        if born is None:
            return None
        today = data.today()
        years = today.year - born.year
        if (today.month, today.day) < (born.month, born.day):
            years -= 1
        return years

    def next_birthday(row: Row) -> datetime | None:
        nxt = _next_occurrence(row[P["BirthMonth"]], row[P["BirthDay"]], data.today())
        return None if nxt is None else datetime(nxt.year, nxt.month, nxt.day)

    def days_until_birthday(row: Row) -> int | None:
        nxt = _next_occurrence(row[P["BirthMonth"]], row[P["BirthDay"]], data.today())
        return None if nxt is None else (nxt - data.today()).days

    def anniversary_next(row: Row) -> date | None:
        when = row[P["AnniversaryDate"]]
        if when is None:
            return None
        return _next_occurrence(when.month, when.day, data.today())

    def next_anniversary(row: Row) -> datetime | None:
        nxt = anniversary_next(row)
        return None if nxt is None else datetime(nxt.year, nxt.month, nxt.day)

    def days_until_anniversary(row: Row) -> int | None:
        nxt = anniversary_next(row)
        return None if nxt is None else (nxt - data.today()).days

    def birthday_dow(row: Row) -> str:
        nxt = _next_occurrence(row[P["BirthMonth"]], row[P["BirthDay"]], data.today())
        return "" if nxt is None else _DAY_NAMES[nxt.weekday()]

    def birthday_dow_short(row: Row) -> str:
        nxt = _next_occurrence(row[P["BirthMonth"]], row[P["BirthDay"]], data.today())
        return "" if nxt is None else _DAY_NAMES[nxt.weekday()][:3]

    def grade_offset(row: Row) -> int | None:
        year = row[P["GraduationYear"]]
        if year is None:
            return None
        today = data.today()
        school_year = today.year + (1 if today.month >= 6 else 0)
        return int(year) - school_year

    def has_graduated(row: Row) -> bool | None:
        offset = grade_offset(row)
        return None if offset is None else offset < 0

    def phone_with_country_code(row: Row) -> str:
        code = row[PH["CountryCode"]] or "1"
        return f"+{code} {row[PH['NumberFormatted']] or row[PH['Number']] or ''}"

    data.computes.update(
        {
            "null": lambda _r: None,
            "false": lambda _r: False,
            "zero": lambda _r: 0,
            "person.primary_alias_id": primary_alias_id,
            "person.full_name": full_name,
            "person.age": age,
            "person.next_birthday": next_birthday,
            "person.days_until_birthday": days_until_birthday,
            "person.days_to_birthday": days_until_birthday,
            "person.next_anniversary": next_anniversary,
            "person.days_until_anniversary": days_until_anniversary,
            "person.birthday_day_of_week": birthday_dow,
            "person.birthday_day_of_week_short": birthday_dow_short,
            "person.grade_offset": grade_offset,
            "person.has_graduated": has_graduated,
            "person.grade_formatted": lambda _r: "",
            "phone.with_country_code": phone_with_country_code,
        }
    )
    data.hooks["Person"] = PersonHooks(data)
    data.hooks["PhoneNumber"] = PhoneNumberHooks(data)
    data.hooks["PersonAlias"] = PersonAliasHooks(data)


def defined_value_text(data: RockData, value_id: int | None) -> str | None:
    row = data.get("DefinedValue", value_id)
    return None if row is None else row[ENTITIES["DefinedValue"].col["Value"]]


# Person.Email's [RegularExpression]; .NET requires the whole value to match, and skips empty values
_EMAIL = re.compile(r"[\w\.\'_%-]+(\+[\w-]*)?@([\w-]+\.)+[\w-]+")


class PersonHooks(NamedHooks):
    name = "Person"

    def validate(self, row: Row, old: Row | None) -> list[str]:
        email = row[P["Email"]]
        if email and not _EMAIL.fullmatch(email):
            return ["The Email address is invalid"]
        return []

    def prepare(self, row: Row, old: Row | None, ctx: SaveContext) -> None:
        if not (row[P["NickName"]] or "").strip():
            row[P["NickName"]] = row[P["FirstName"]]
        if isinstance(row[P["Email"]], str):
            row[P["Email"]] = row[P["Email"]].strip()
        row[P["BirthDate"]] = birth_date(row)
        giving_group = row[P["GivingGroupId"]]
        row[P["GivingId"]] = f"G{giving_group}" if giving_group else f"P{row[0]}"
        row[P["GivingLeaderId"]] = row[0] if old is None else old[P["GivingLeaderId"]] or row[0]
        if old is None:
            row[P["AgeClassification"]] = 0
            row[P["PrimaryFamilyId"]] = None
            row[P["PrimaryCampusId"]] = None
        else:
            for name in ("AgeClassification", "PrimaryFamilyId", "PrimaryCampusId"):
                row[P[name]] = old[P[name]]
            if row[P["RecordStatusValueId"]] != old[P["RecordStatusValueId"]]:
                row[P["RecordStatusLastModifiedDateTime"]] = self.data.now()

    def after_insert(self, row: Row, ctx: SaveContext) -> None:
        # Rock's Person post-save adds the primary alias
        self.data.insert(
            "PersonAlias", {"PersonId": row[0], "AliasPersonId": row[0], "Guid": row[1]}, ctx
        )
        self.data.history(
            ctx,
            entity="Person",
            entity_id=row[0],
            category="Demographic Changes",
            verb="ADD",
            change_type="Record",
            value_name="Person",
            new=full_name(row),
        )

    def after_update(self, row: Row, diff: dict[str, tuple[Any, Any]], ctx: SaveContext) -> None:
        for name, (old, new) in diff.items():
            spec = _HISTORY_FIELDS.get(name)
            if spec is None:
                continue
            label, kind = spec
            if kind == "dv":
                old_text, new_text = (
                    defined_value_text(self.data, old),
                    defined_value_text(self.data, new),
                )
            elif kind == "gender":
                old_text, new_text = enum_text(Gender, old), enum_text(Gender, new)
            else:
                old_text, new_text = old, new
            verb = "ADD" if old in (None, "") else "DELETE" if new in (None, "") else "MODIFY"
            self.data.history(
                ctx,
                entity="Person",
                entity_id=row[0],
                category="Demographic Changes",
                verb=verb,
                change_type="Property",
                value_name=label,
                old=old_text,
                new=new_text,
                old_raw=old,
                new_raw=new,
            )


class PersonAliasHooks(NamedHooks):
    name = "PersonAlias"

    def validate(self, row: Row, old: Row | None) -> list[str]:
        self.data.check_foreign_keys(ENTITIES["PersonAlias"], row, old)
        if self.data.get("Person", row[PA["PersonId"]]) is None:
            raise db_update_error()
        return []


def phone_type_name(data: RockData, type_id: int | None) -> str:
    text = defined_value_text(data, type_id)
    return f"{text or 'Unknown'} Phone"


class PhoneNumberHooks(NamedHooks):
    """Clean the number, fill the country code, history line, and bump the person (§3.4)."""

    name = "PhoneNumber"

    def prepare(self, row: Row, old: Row | None, ctx: SaveContext) -> None:
        row[PH["Number"]] = digits_only(row[PH["Number"]] or "")
        code = digits_only(row[PH["CountryCode"]] or "")
        row[PH["CountryCode"]] = code or "1"
        row[PH["NumberFormatted"]] = format_phone(row[PH["Number"]], row[PH["CountryCode"]])
        if row[PH["Extension"]] is None and old is None:
            row[PH["Extension"]] = ""

    def validate(self, row: Row, old: Row | None) -> list[str]:
        self.data.check_foreign_keys(ENTITIES["PhoneNumber"], row, old)
        if self.data.get("Person", row[PH["PersonId"]]) is None:
            raise db_update_error()
        if not row[PH["Number"]]:
            return ["The Number field is required."]
        return []

    def _owner_changed(
        self,
        row: Row,
        ctx: SaveContext,
        verb: str,
        old: str | None,
        new: str | None,
        person_id: int | None = None,
    ) -> None:
        pid = person_id if person_id is not None else row[PH["PersonId"]]
        person = self.data.get("Person", pid)
        if person is None:
            return
        self.data.history(
            ctx,
            entity="Person",
            entity_id=pid,
            category="Demographic Changes",
            verb=verb,
            change_type="Property",
            value_name=phone_type_name(self.data, row[PH["NumberTypeValueId"]]),
            old=old,
            new=new,
        )
        self.data.touch("Person", person, ctx)

    def after_insert(self, row: Row, ctx: SaveContext) -> None:
        self._owner_changed(row, ctx, "ADD", None, row[PH["NumberFormatted"]])

    def after_update(self, row: Row, diff: dict[str, tuple[Any, Any]], ctx: SaveContext) -> None:
        if set(diff) <= {"ModifiedDateTime", "ModifiedByPersonAliasId"}:
            return
        old_formatted = diff.get("NumberFormatted", (row[PH["NumberFormatted"]],))[0]
        if "PersonId" in diff:
            self._owner_changed(
                row, ctx, "DELETE", old_formatted, None, person_id=diff["PersonId"][0]
            )
            self._owner_changed(row, ctx, "ADD", None, row[PH["NumberFormatted"]])
            return
        self._owner_changed(row, ctx, "MODIFY", old_formatted, row[PH["NumberFormatted"]])

    def after_delete(self, row: Row, ctx: SaveContext) -> None:
        self._owner_changed(row, ctx, "DELETE", row[PH["NumberFormatted"]], None)


# ---------------------------------------------------------------------------------------------
# People controller actions


def create_with_family(
    data: RockData, values: dict[str, Any], ctx: SaveContext, campus_id: int | None = None
) -> Row:
    """``PersonService.SaveNewPerson``: the person, a primary alias, a new family as Adult."""
    values = dict(values)
    if values.get("RecordTypeValueId") is None:
        values["RecordTypeValueId"] = data.ids["dv:record_type:person"]
    person = data.insert("Person", values, ctx)
    last = person[P["LastName"]] or ""
    family = data.insert(
        "Group",
        {
            "GroupTypeId": data.ids["grouptype:family"],
            "Name": f"{last} Family".strip(),
            "CampusId": campus_id,
            "IsPublic": True,
            "IsActive": True,
        },
        ctx,
    )
    data.insert(
        "GroupMember",
        {
            "GroupId": family[0],
            "PersonId": person[0],
            "GroupRoleId": data.ids["role:family:adult"],
            "GroupMemberStatus": 1,
        },
        ctx,
    )
    return person


def add_to_family(
    data: RockData, person: Row, family_id: int, role_id: int, ctx: SaveContext
) -> None:
    """``PersonService.AddPersonToFamily``."""
    family = data.get("Group", family_id)
    if family is None or data.val("Group", family, "GroupTypeId") != data.ids["grouptype:family"]:
        raise ApiError(400, "The family could not be found.")
    for member in data.table("GroupMember").lookup("GroupId", family_id):
        if member[GM["PersonId"]] == person[0] and not member[GM["IsArchived"]]:
            raise ApiError(400, f"{full_name(person)} is already a member of this family.")
    data.insert(
        "GroupMember",
        {
            "GroupId": family_id,
            "PersonId": person[0],
            "GroupRoleId": role_id,
            "GroupMemberStatus": 1,
        },
        ctx,
    )


def remove_from_other_families(
    data: RockData, family_id: int, person_id: int, ctx: SaveContext
) -> None:
    """``PersonService.RemovePersonFromOtherFamilies``; a family left empty is deleted."""
    family_type = data.ids["grouptype:family"]
    for member in list(data.table("GroupMember").lookup("PersonId", person_id)):
        if member[GM["GroupTypeId"]] != family_type or member[GM["GroupId"]] == family_id:
            continue
        other_family = member[GM["GroupId"]]
        data.remove("GroupMember", member, ctx)
        if not any(
            not m[GM["IsArchived"]]
            for m in data.table("GroupMember").lookup("GroupId", other_family)
        ):
            group = data.get("Group", other_family)
            if group is not None:
                data.remove("Group", group, ctx)


def visible_person(data: RockData, include_deceased: bool) -> Callable[[Row], bool]:
    """``PersonService.Queryable``: no deceased (unless asked), no nameless, no anonymous."""
    deceased = P["IsDeceased"]
    rtype = P["RecordTypeValueId"]
    nameless = data.ids["dv:record_type:nameless"]
    anonymous = data.ids["person:anonymous"]
    if include_deceased:
        return lambda r: r[rtype] != nameless and r[0] != anonymous
    return lambda r: not r[deceased] and r[rtype] != nameless and r[0] != anonymous


def by_email(data: RockData, email: str) -> list[Row]:
    wanted = email.strip().casefold()
    if not wanted:
        return []
    visible = visible_person(data, True)
    email_col = P["Email"]
    return [
        r
        for r in data.table("Person").in_order()
        if visible(r) and (r[email_col] or "").casefold() == wanted
    ]


def by_phone(data: RockData, number: str) -> list[Row]:
    wanted = digits_only(number)
    if not wanted:
        return []
    ids = {
        p[PH["PersonId"]] for p in data.table("PhoneNumber") if wanted in (p[PH["Number"]] or "")
    }
    visible = visible_person(data, True)
    rows = [data.get("Person", pid) for pid in sorted(ids)]
    return [r for r in rows if r is not None and visible(r)]


def _name_matches(row: Row, first: str | None, last: str) -> bool:
    if not (row[P["LastName"]] or "").casefold().startswith(last):
        return False
    if first is None:
        return True
    return any((row[P[c]] or "").casefold().startswith(first) for c in ("FirstName", "NickName"))


def search(
    data: RockData,
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    address: str | None,
    include_details: bool,
    include_businesses: bool,
    include_deceased: bool,
    limit: int = 60,
) -> list[dict[str, Any]]:
    """``/api/People/Search``: the person-picker projection (``PersonSearchResult``)."""
    ids = data.ids
    rtype = P["RecordTypeValueId"]
    allowed_types = {ids["dv:record_type:person"]}
    if include_businesses:
        allowed_types.add(ids["dv:record_type:business"])
    visible = visible_person(data, include_deceased)
    reversed_name = False
    name_tests: list[tuple[str | None, str]] = []
    if name and name.strip():
        text = name.strip().casefold()
        if "," in text:
            last, _, first = text.partition(",")
            name_tests.append((first.strip() or None, last.strip()))
            reversed_name = True
        else:
            words = text.split()
            if len(words) == 1:
                name_tests.append((None, words[0]))
                reversed_name = True  # one word is a last name, shown "Last, First"
            else:
                name_tests.append((words[0], " ".join(words[1:])))
                name_tests.append((" ".join(words[1:]), words[0]))
    phone_ids: set[int] | None = None
    if phone and digits_only(phone):
        phone_ids = {r[0] for r in by_phone(data, phone)}
    address_ids: set[int] | None = None
    if address and address.strip():
        address_ids = groups.people_at_address(data, address.strip().casefold())
    matches: list[Row] = []
    for row in data.table("Person").in_order():
        if row[rtype] not in allowed_types or not visible(row):
            continue
        if name_tests and not any(_name_matches(row, f, la) for f, la in name_tests):
            continue
        if email and email.strip().casefold() not in (row[P["Email"]] or "").casefold():
            continue
        if phone_ids is not None and row[0] not in phone_ids:
            continue
        if address_ids is not None and row[0] not in address_ids:
            continue
        matches.append(row)
    if not (name_tests or email or phone_ids is not None or address_ids is not None):
        matches = []
    matches.sort(
        key=lambda r: (
            (r[P["LastName"]] or "").casefold(),
            (r[P["NickName"]] or "").casefold(),
            r[0],
        )
    )
    return [_search_result(data, r, include_details, reversed_name) for r in matches[:limit]]


def _search_result(data: RockData, row: Row, details: bool, reversed_name: bool) -> dict[str, Any]:
    nick = row[P["NickName"]] or row[P["FirstName"]] or ""
    last = row[P["LastName"]] or ""
    name = f"{last}, {nick}" if reversed_name else f"{nick} {last}".strip()
    status_id = row[P["RecordStatusValueId"]]
    is_active = status_id == data.ids["dv:record_status:active"]
    result: dict[str, Any] = {
        "Id": row[0],
        "Name": name,
        "IsActive": is_active,
        "ImageHtmlTag": None,
        "Age": 0,
        "FormattedAge": None,
        "Gender": None,
        "ConnectionStatus": None,
        "RecordStatus": None,
        "Email": None,
        "SpouseName": None,
        "Address": None,
        "PickerItemDetailsHtml": None,
        "PickerItemDetailsImageHtml": None,
        "PickerItemDetailsPersonInfoHtml": None,
    }
    if not details:
        return result
    age = data.computes["person.age"](row)
    photo = f"/GetImage.ashx?id={row[P['PhotoId']] or 0}"
    family = groups.family_membership(data, row[0])
    info = ""
    spouse = None
    address = None
    if family is not None:
        role_row = data.get("GroupTypeRole", family[GM["GroupRoleId"]])
        role_name = data.val("GroupTypeRole", role_row, "Name") if role_row else ""
        info += f"<div class='role'>{role_name}</div>"
        if age is not None:
            info += f" <em class='age'>({age} yrs old)</em>"
        if family[GM["GroupRoleId"]] == data.ids["role:family:adult"]:
            spouse = groups.spouse_name(data, row, family[GM["GroupId"]])
            if spouse:
                info += f"<p class='spouse'><strong>Spouse:</strong> {spouse}</p>"
        address = groups.family_address_text(data, family[GM["GroupId"]])
        if address:
            info += (
                "<div class='address'><h5>Address</h5>"
                + address.replace("\r\n", "<br/>")
                + "</div>"
            )
    email = row[P["Email"]]
    info += (
        f"<div class='margin-t-sm'><span class='email'>{email or ''}</span>"
        "<div class='phones'></div></div>"
    )
    image_html = (
        f"<div class='person-image' style='background-image:url({photo}&maxwidth=200"
        "&maxheight=200&width=65);background-size:cover;background-position:50%'></div>"
    )
    result.update(
        {
            "ImageHtmlTag": f"<img src='{photo}&maxwidth=50&maxheight=50'/>",
            "Age": age if age is not None else -1,
            "Gender": enum_text(Gender, row[P["Gender"]]),
            "ConnectionStatus": defined_value_text(data, row[P["ConnectionStatusValueId"]]) or "",
            "RecordStatus": defined_value_text(data, status_id) or "",
            "Email": email,
            "SpouseName": spouse,
            "Address": address,
            "PickerItemDetailsImageHtml": image_html,
            "PickerItemDetailsPersonInfoHtml": info,
            "PickerItemDetailsHtml": "\r\n<div class='picker-select-item-details clearfix' "
            "style='display: none;'>\r\n\t"
            + image_html
            + "\r\n\t<div class='contents'>\r\n        "
            + info
            + "\r\n\t</div>\r\n</div>\r\n",
        }
    )
    return result


def merge(
    data: RockData, keep_id: int, remove_id: int, changes: dict[str, Any], ctx: SaveContext
) -> dict[str, Any]:
    """Rock's merge: the UI saves the chosen values on the survivor, then ``spCrm_PersonMerge``
    moves everything by raw SQL (no ModifiedDateTime changes) and deletes the old row."""
    keep = data.get("Person", keep_id)
    old = data.get("Person", remove_id)
    if keep is None or old is None or keep_id == remove_id:
        raise ApiError(404, "both people must exist and differ")
    if changes:
        data.save("Person", keep, changes, ctx)
    sql = SaveContext(ctx.alias_id, source="sql")
    moved: dict[str, int] = {
        "aliases": 0,
        "memberships_moved": 0,
        "memberships_removed": 0,
        "phones_moved": 0,
        "phones_removed": 0,
    }
    for alias in list(data.table("PersonAlias").lookup("PersonId", remove_id)):
        data.table("PersonAlias").update(alias, {"PersonId": keep_id})
        moved["aliases"] += 1
    members = data.table("GroupMember")
    kept = {(m[GM["GroupId"]], m[GM["GroupRoleId"]]) for m in members.lookup("PersonId", keep_id)}
    for member in list(members.lookup("PersonId", remove_id)):
        if (member[GM["GroupId"]], member[GM["GroupRoleId"]]) in kept:
            members.delete(member[0])
            moved["memberships_removed"] += 1
        else:
            members.update(member, {"PersonId": keep_id})
            moved["memberships_moved"] += 1
    phones = data.table("PhoneNumber")
    kept_types = {p[PH["NumberTypeValueId"]] for p in phones.lookup("PersonId", keep_id)}
    for phone in list(phones.lookup("PersonId", remove_id)):
        if phone[PH["NumberTypeValueId"]] in kept_types:
            phones.delete(phone[0])
            moved["phones_removed"] += 1
        else:
            phones.update(phone, {"PersonId": keep_id})
            moved["phones_moved"] += 1
    _merge_attribute_values(data, keep_id, remove_id)
    histories = data.table("History")
    person_type = data.ids["entity:Person"]
    hcol = ENTITIES["History"].col
    for row in list(histories.lookup("EntityId", remove_id)):
        if row[hcol["EntityTypeId"]] == person_type:
            histories.update(row, {"EntityId": keep_id})
    data.table("Person").delete(remove_id)
    groups.refresh_family_fields(data, keep_id)
    data.history(
        sql,
        entity="Person",
        entity_id=keep_id,
        category="Demographic Changes",
        verb="MERGE",
        change_type="Record",
        value_name="Person",
        old=full_name(old),
        new=full_name(keep),
        related_entity="Person",
        related_id=remove_id,
    )
    return {"Id": keep_id, "RemovedId": remove_id, **moved}


def _merge_attribute_values(data: RockData, keep_id: int, remove_id: int) -> None:
    person_type = data.ids["entity:Person"]
    values = data.table("AttributeValue")
    acol = ENTITIES["Attribute"].col
    vcol = ENTITIES["AttributeValue"].col
    person_attrs = {
        a[0]
        for a in data.table("Attribute").lookup("EntityTypeId", person_type)
        if not a[acol["EntityTypeQualifierColumn"]]
    }
    kept = {
        v[vcol["AttributeId"]]
        for v in values.lookup("EntityId", keep_id)
        if v[vcol["AttributeId"]] in person_attrs and v[vcol["Value"]]
    }
    for value in list(values.lookup("EntityId", remove_id)):
        if value[vcol["AttributeId"]] not in person_attrs:
            continue
        if value[vcol["AttributeId"]] in kept:
            values.delete(value[0])
        else:
            for stale in list(values.lookup("EntityId", keep_id)):
                if stale[vcol["AttributeId"]] == value[vcol["AttributeId"]]:
                    values.delete(stale[0])
            values.update(value, {"EntityId": keep_id})


def mark_deceased(data: RockData, person: Row, when: date | None, ctx: SaveContext) -> None:
    """The UI's "Deceased" action: flags, date, status Inactive with reason Deceased."""
    deceased_on = when or data.today()
    data.save(
        "Person",
        person,
        {
            "IsDeceased": True,
            "DeceasedDate": datetime(deceased_on.year, deceased_on.month, deceased_on.day),
            "RecordStatusValueId": data.ids["dv:record_status:inactive"],
            "RecordStatusReasonValueId": data.ids["dv:record_status_reason:deceased"],
        },
        ctx,
    )
