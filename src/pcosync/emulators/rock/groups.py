"""Groups, members, families and addresses: validation, archiving, history, computed columns.

Membership rules (spec §3.9): the role must belong to the group's type; the same person may
not hold the same role twice in a group; role ``MaxCount`` is enforced; DELETE archives when
the group type keeps history. Family changes recompute the person's ``AgeClassification``,
``PrimaryFamilyId`` and ``PrimaryCampusId`` by SQL, never touching ``ModifiedDateTime``.
"""

from __future__ import annotations

from typing import Any

from pcosync.emulators.rock.attributes import db_update_error
from pcosync.emulators.rock.core import ApiError, NamedHooks, RockData, SaveContext
from pcosync.emulators.rock.schema import ENTITIES
from pcosync.emulators.rock.store import Row

G = ENTITIES["Group"].col
GM = ENTITIES["GroupMember"].col
GT = ENTITIES["GroupType"].col
GR = ENTITIES["GroupTypeRole"].col
GL = ENTITIES["GroupLocation"].col
L = ENTITIES["Location"].col
P = ENTITIES["Person"].col


def install(data: RockData) -> None:
    data.hooks["Group"] = GroupHooks(data)
    data.hooks["GroupMember"] = GroupMemberHooks(data)
    data.hooks["GroupLocation"] = GroupLocationHooks(data)


def group_type_of(data: RockData, group: Row) -> Row | None:
    return data.get("GroupType", group[G["GroupTypeId"]])


def is_family(data: RockData, group: Row) -> bool:
    return bool(group[G["GroupTypeId"]] == data.ids["grouptype:family"])


def refresh_family_fields(data: RockData, person_id: int) -> None:
    """``UpdatePersonAgeClassification`` + ``UpdatePrimaryFamily``: SQL, no audit change."""
    person = data.get("Person", person_id)
    if person is None:
        return
    family_type = data.ids["grouptype:family"]
    adult, child = data.ids["role:family:adult"], data.ids["role:family:child"]
    memberships = [
        m
        for m in data.table("GroupMember").lookup("PersonId", person_id)
        if m[GM["GroupTypeId"]] == family_type and not m[GM["IsArchived"]]
    ]
    roles = {m[GM["GroupRoleId"]] for m in memberships}
    age_class = 1 if adult in roles else 2 if child in roles else 0
    primary = min(
        memberships,
        key=lambda m: (m[GM["GroupOrder"]] is None, m[GM["GroupOrder"]] or 0, m[0]),
        default=None,
    )
    family_id = primary[GM["GroupId"]] if primary is not None else None
    family = data.get("Group", family_id)
    campus_id = family[G["CampusId"]] if family is not None else None
    data.table("Person").update(
        person,
        {
            "AgeClassification": age_class,
            "PrimaryFamilyId": family_id,
            "PrimaryCampusId": campus_id,
        },
    )


def family_membership(data: RockData, person_id: int) -> Row | None:
    person = data.get("Person", person_id)
    family_id = person[P["PrimaryFamilyId"]] if person is not None else None
    for member in data.table("GroupMember").lookup("PersonId", person_id):
        if member[GM["GroupId"]] == family_id and not member[GM["IsArchived"]]:
            return member
    return None


def spouse_name(data: RockData, person: Row, family_id: int) -> str | None:
    adult = data.ids["role:family:adult"]
    for member in data.table("GroupMember").lookup("GroupId", family_id):
        if member[GM["PersonId"]] == person[0] or member[GM["GroupRoleId"]] != adult:
            continue
        other = data.get("Person", member[GM["PersonId"]])
        if other is not None and other[P["Gender"]] != person[P["Gender"]]:
            nick = other[P["NickName"]] or other[P["FirstName"]] or ""
            return f"{nick} {other[P['LastName']] or ''}".strip()
    return None


def family_home(data: RockData, family_id: int) -> Row | None:
    home = data.ids["dv:location_type:home"]
    for gl in data.table("GroupLocation").lookup("GroupId", family_id):
        if gl[GL["GroupLocationTypeValueId"]] == home:
            return data.get("Location", gl[GL["LocationId"]])
    return None


def family_address_text(data: RockData, family_id: int) -> str | None:
    location = family_home(data, family_id)
    if location is None:
        return None
    street = " ".join(x for x in (location[L["Street1"]], location[L["Street2"]]) if x)
    city_line = (
        f"{location[L['City']] or ''}, {location[L['State']] or ''} "
        f"{location[L['PostalCode']] or ''}".strip()
    )
    return f"{street}\r\n{city_line}"


def people_at_address(data: RockData, text: str) -> set[int]:
    home = data.ids["dv:location_type:home"]
    out: set[int] = set()
    for gl in data.table("GroupLocation"):
        if gl[GL["GroupLocationTypeValueId"]] != home:
            continue
        location = data.get("Location", gl[GL["LocationId"]])
        if location is None or text not in (location[L["Street1"]] or "").casefold():
            continue
        for member in data.table("GroupMember").lookup("GroupId", gl[GL["GroupId"]]):
            out.add(member[GM["PersonId"]])
    return out


def families_of(data: RockData, person_id: int) -> list[Row]:
    family_type = data.ids["grouptype:family"]
    ids = {
        m[GM["GroupId"]]
        for m in data.table("GroupMember").lookup("PersonId", person_id)
        if m[GM["GroupTypeId"]] == family_type and not m[GM["IsArchived"]]
    }
    rows = [data.get("Group", k) for k in sorted(ids)]
    return [r for r in rows if r is not None and not r[G["IsArchived"]]]


class GroupHooks(NamedHooks):
    name = "Group"

    def prepare(self, row: Row, old: Row | None, ctx: SaveContext) -> None:
        now = self.data.now()
        was_archived = bool(old[G["IsArchived"]]) if old is not None else False
        if row[G["IsArchived"]] and not was_archived:
            row[G["ArchivedDateTime"]] = row[G["ArchivedDateTime"]] or now
            row[G["ArchivedByPersonAliasId"]] = row[G["ArchivedByPersonAliasId"]] or ctx.alias_id
        elif not row[G["IsArchived"]]:
            row[G["ArchivedDateTime"]] = None
            row[G["ArchivedByPersonAliasId"]] = None
        was_active = bool(old[G["IsActive"]]) if old is not None else True
        if not row[G["IsActive"]] and was_active:
            row[G["InactiveDateTime"]] = row[G["InactiveDateTime"]] or now
        elif row[G["IsActive"]]:
            row[G["InactiveDateTime"]] = None

    def validate(self, row: Row, old: Row | None) -> list[str]:
        self.data.check_foreign_keys(ENTITIES["Group"], row, old)
        if self.data.get("GroupType", row[G["GroupTypeId"]]) is None:
            raise db_update_error()
        parent = row[G["ParentGroupId"]]
        if parent is not None and self.data.get("Group", parent) is None:
            raise db_update_error()
        if parent is not None and parent == row[0]:
            return ["Group cannot be a child of itself."]
        return []

    def after_update(self, row: Row, diff: dict[str, tuple[Any, Any]], ctx: SaveContext) -> None:
        if is_family(self.data, row) and ("CampusId" in diff or "IsArchived" in diff):
            for member in self.data.table("GroupMember").lookup("GroupId", row[0]):
                refresh_family_fields(self.data, member[GM["PersonId"]])

    def delete(self, row: Row, ctx: SaveContext) -> None:
        children = [
            g
            for g in self.data.table("Group").lookup("ParentGroupId", row[0])
            if not g[G["IsArchived"]]
        ]
        if children:
            raise ApiError(400, f"This {self._term(row)} has child groups and cannot be deleted.")
        members = self.data.table("GroupMember")
        people = set()
        for member in list(members.lookup("GroupId", row[0])):
            people.add(member[GM["PersonId"]])
            members.delete(member[0])
        for gl in list(self.data.table("GroupLocation").lookup("GroupId", row[0])):
            self.data.table("GroupLocation").delete(gl[0])
        self.data.table("Group").delete(row[0])
        if is_family(self.data, row):
            for person_id in people:
                refresh_family_fields(self.data, person_id)

    def _term(self, row: Row) -> str:
        gtype = group_type_of(self.data, row)
        return (gtype[GT["GroupTerm"]] if gtype is not None else None) or "Group"


class GroupMemberHooks(NamedHooks):
    name = "GroupMember"

    def prepare(self, row: Row, old: Row | None, ctx: SaveContext) -> None:
        group = self.data.get("Group", row[GM["GroupId"]])
        if group is not None:
            row[GM["GroupTypeId"]] = group[G["GroupTypeId"]]
        now = self.data.now()
        if old is None and row[GM["DateTimeAdded"]] is None:
            row[GM["DateTimeAdded"]] = now
        old_status = old[GM["GroupMemberStatus"]] if old is not None else None
        if row[GM["GroupMemberStatus"]] == 0 and old_status != 0:
            row[GM["InactiveDateTime"]] = row[GM["InactiveDateTime"]] or now
        elif row[GM["GroupMemberStatus"]] != 0:
            row[GM["InactiveDateTime"]] = None
        was_archived = bool(old[GM["IsArchived"]]) if old is not None else False
        if row[GM["IsArchived"]] and not was_archived:
            row[GM["ArchivedDateTime"]] = row[GM["ArchivedDateTime"]] or now
            row[GM["ArchivedByPersonAliasId"]] = row[GM["ArchivedByPersonAliasId"]] or ctx.alias_id

    def validate(self, row: Row, old: Row | None) -> list[str]:
        data = self.data
        data.check_foreign_keys(ENTITIES["GroupMember"], row, old)  # the keys' own 500 first
        group = data.get("Group", row[GM["GroupId"]])
        person = data.get("Person", row[GM["PersonId"]])
        role = data.get("GroupTypeRole", row[GM["GroupRoleId"]])
        if group is None or person is None or role is None:
            raise db_update_error()
        if row[GM["IsArchived"]]:
            return []
        gtype = group_type_of(data, group)
        term = ((gtype[GT["GroupTerm"]] if gtype is not None else None) or "Group").lower()
        role_name = role[GR["Name"]] or ""
        if role[GR["GroupTypeId"]] != group[G["GroupTypeId"]]:
            return [f"The role '{role_name}' is not a valid role for this {term}."]
        for other in data.table("GroupMember").lookup("GroupId", group[0]):
            if other[0] == row[0] or other[GM["IsArchived"]]:
                continue
            if other[GM["PersonId"]] == person[0] and other[GM["GroupRoleId"]] == role[0]:
                from pcosync.emulators.rock.people import full_name  # people imports us

                return [
                    f"{full_name(person)} already belongs to the {role_name.lower()} role "
                    f"for this {term}, and cannot be added again with the same role"
                ]
        max_count = role[GR["MaxCount"]]
        if max_count is not None and row[GM["GroupMemberStatus"]] == 1:
            holders = [
                m
                for m in data.table("GroupMember").lookup("GroupId", group[0])
                if m[0] != row[0]
                and not m[GM["IsArchived"]]
                and m[GM["GroupRoleId"]] == role[0]
                and m[GM["GroupMemberStatus"]] == 1
            ]
            if len(holders) >= max_count:
                return [
                    f"The number of {role_name} for this {term} is at or above its maximum "
                    f"allowed limit of {max_count} active {role_name}."
                ]
        return []

    def _history(
        self,
        row: Row,
        ctx: SaveContext,
        verb: str,
        value_name: str,
        old: Any = None,
        new: Any = None,
    ) -> None:
        group = self.data.get("Group", row[GM["GroupId"]])
        self.data.history(
            ctx,
            entity="Person",
            entity_id=row[GM["PersonId"]],
            category="Group Membership",
            verb=verb,
            change_type="Record",
            value_name=value_name,
            old=old,
            new=new,
            caption=group[G["Name"]] if group is not None else None,
            related_entity="Group",
            related_id=row[GM["GroupId"]],
        )

    def _role_name(self, role_id: int | None) -> str:
        role = self.data.get("GroupTypeRole", role_id)
        return (role[GR["Name"]] if role is not None else None) or ""

    def after_insert(self, row: Row, ctx: SaveContext) -> None:
        self._history(row, ctx, "ADDEDTOGROUP", self._role_name(row[GM["GroupRoleId"]]))
        if row[GM["GroupTypeId"]] == self.data.ids["grouptype:family"]:
            refresh_family_fields(self.data, row[GM["PersonId"]])

    def after_update(self, row: Row, diff: dict[str, tuple[Any, Any]], ctx: SaveContext) -> None:
        if "GroupRoleId" in diff:
            old, new = diff["GroupRoleId"]
            self._history(row, ctx, "MODIFY", "Role", self._role_name(old), self._role_name(new))
        if "GroupMemberStatus" in diff:
            old, new = diff["GroupMemberStatus"]
            names = {0: "Inactive", 1: "Active", 2: "Pending"}
            self._history(row, ctx, "MODIFY", "Status", names.get(old), names.get(new))
        if "IsArchived" in diff and row[GM["IsArchived"]]:
            self._history(row, ctx, "REMOVEDFROMGROUP", self._role_name(row[GM["GroupRoleId"]]))
        if row[GM["GroupTypeId"]] == self.data.ids["grouptype:family"]:
            for person_id in {row[GM["PersonId"]], diff.get("PersonId", (None,))[0]}:
                if person_id is not None:
                    refresh_family_fields(self.data, person_id)

    def delete(self, row: Row, ctx: SaveContext) -> None:
        """Archive when the group type keeps history (spec §3.9), else delete."""
        group = self.data.get("Group", row[GM["GroupId"]])
        gtype = group_type_of(self.data, group) if group is not None else None
        if gtype is not None and gtype[GT["EnableGroupHistory"]]:
            self.data.save("GroupMember", row, {"IsArchived": True}, ctx, validate=False)
            return
        self.data.table("GroupMember").delete(row[0])
        self._history(row, ctx, "REMOVEDFROMGROUP", self._role_name(row[GM["GroupRoleId"]]))
        if row[GM["GroupTypeId"]] == self.data.ids["grouptype:family"]:
            refresh_family_fields(self.data, row[GM["PersonId"]])


class GroupLocationHooks(NamedHooks):
    name = "GroupLocation"

    def validate(self, row: Row, old: Row | None) -> list[str]:
        self.data.check_foreign_keys(ENTITIES["GroupLocation"], row, old)
        if (
            self.data.get("Group", row[GL["GroupId"]]) is None
            or self.data.get("Location", row[GL["LocationId"]]) is None
        ):
            raise db_update_error()
        return []


_ADDRESS_FIELDS = ("Street1", "Street2", "City", "State", "PostalCode", "Country")


def save_address(
    data: RockData, group: Row, location_type_id: int, fields: dict[str, str], ctx: SaveContext
) -> None:
    """``GroupService.AddNewGroupAddress(…, moveExistingToPrevious: true)`` (spec §3.5)."""
    values = {k: (fields.get(k) or "").strip() for k in _ADDRESS_FIELDS}
    if not values["Country"]:
        values["Country"] = "US"
    previous = data.ids["dv:location_type:previous"]
    existing = [
        gl
        for gl in data.table("GroupLocation").lookup("GroupId", group[0])
        if gl[GL["GroupLocationTypeValueId"]] == location_type_id
    ]
    location = _find_location(data, values)
    if location is not None and any(gl[GL["LocationId"]] == location[0] for gl in existing):
        return  # the same address is already there
    for gl in existing:
        data.save(
            "GroupLocation",
            gl,
            {
                "GroupLocationTypeValueId": previous,
                "IsMailingLocation": False,
                "IsMappedLocation": False,
            },
            ctx,
        )
    if location is None:
        location = data.insert(
            "Location",
            {
                **{k: v or None for k, v in values.items() if k != "Street2"},
                "Street2": values["Street2"],
                "IsActive": True,
            },
            ctx,
        )
    home = location_type_id == data.ids["dv:location_type:home"]
    data.insert(
        "GroupLocation",
        {
            "GroupId": group[0],
            "LocationId": location[0],
            "GroupLocationTypeValueId": location_type_id,
            "IsMailingLocation": home,
            "IsMappedLocation": home,
        },
        ctx,
    )


def _find_location(data: RockData, values: dict[str, str]) -> Row | None:
    """``LocationService.Get(street1, street2, city, state, postalCode, country)``."""
    street1 = values["Street1"].casefold()
    for location in data.table("Location"):
        if (location[L["Street1"]] or "").casefold() != street1:
            continue
        if all(
            (location[L[k]] or "").casefold() == values[k].casefold()
            for k in _ADDRESS_FIELDS
            if k != "Street1"
        ):
            return location
    return None


def children(
    data: RockData,
    group_id: int,
    *,
    included_types: set[int] | None,
    excluded_types: set[int],
    include_inactive: bool,
) -> list[dict[str, Any]]:
    """``GetChildren/{id}``: tree-view items (``Id`` is a string) for groups under ``id``."""
    table = data.table("Group")
    parent: int | None = group_id or None
    if parent is None:
        rows = [g for g in table.in_order() if g[G["ParentGroupId"]] is None]
    else:
        rows = table.lookup("ParentGroupId", parent)
    out: list[dict[str, Any]] = []
    for g in sorted(rows, key=lambda r: (r[G["Order"]], (r[G["Name"]] or "").casefold(), r[0])):
        if g[G["IsArchived"]] or (not include_inactive and not g[G["IsActive"]]):
            continue
        gtype = group_type_of(data, g)
        if gtype is None or not gtype[GT["ShowInNavigation"]]:
            continue
        if included_types and g[G["GroupTypeId"]] not in included_types:
            continue
        if g[G["GroupTypeId"]] in excluded_types:
            continue
        has_children = any(not c[G["IsArchived"]] for c in table.lookup("ParentGroupId", g[0]))
        out.append(
            {
                "Id": str(g[0]),
                "Name": g[G["Name"]],
                "IsActive": g[G["IsActive"]],
                "IconCssClass": gtype[GT["IconCssClass"]] or "fa fa-users",
                "HasChildren": has_children,
                "CountInfo": None,
            }
        )
    return out
