"""Attributes and attribute values: custom fields such as the sync's "PCO Id" (spec §3.11).

Values live in ``AttributeValue`` rows, unique per (AttributeId, EntityId). They are written
through ``POST|DELETE /api/{X}/AttributeValue/{id}`` (query string, 202) or the generic
``/api/AttributeValues`` routes; reading is bulk (``/api/AttributeValues?$filter=…``), by value
(``GetByAttributeValue``), or per row with ``loadAttributes``. A Person value save bumps the
person's ``ModifiedDateTime``; group and member values do not.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pcosync.emulators.rock.core import (
    ApiError,
    NamedHooks,
    RockData,
    SaveContext,
    server_error,
)
from pcosync.emulators.rock.schema import ENTITIES, EntityDef
from pcosync.emulators.rock.store import Row

_TRUE = frozenset({"true", "yes", "t", "y", "1"})
_NUMBER = re.compile(r"^\s*-?(\d+(\.\d*)?|\.\d+)\s*$")


def value_as_numeric(value: str | None) -> Decimal | None:
    if value is None or not _NUMBER.match(value) or len(value.strip()) > 18:
        return None
    try:
        return Decimal(value.strip()).quantize(Decimal("0.0001"))
    except InvalidOperation:
        return None


def db_update_error() -> ApiError:
    return server_error(
        "System.Data.Entity.Infrastructure.DbUpdateException",
        "An error occurred while updating the entries. See the inner exception for details.",
    )


class AttributeValueHooks(NamedHooks):
    name = "AttributeValue"

    def prepare(self, row: Row, old: Row | None, ctx: SaveContext) -> None:
        col = ENTITIES["AttributeValue"].col
        value = row[col["Value"]]
        if value is None:
            row[col["Value"]] = value = ""
        row[col["ValueAsNumeric"]] = value_as_numeric(value)
        row[col["ValueAsBoolean"]] = value.strip().lower() in _TRUE

    def validate(self, row: Row, old: Row | None) -> list[str]:
        col = ENTITIES["AttributeValue"].col
        attribute_id, entity_id = row[col["AttributeId"]], row[col["EntityId"]]
        self.data.check_foreign_keys(ENTITIES["AttributeValue"], row, old)
        if self.data.get("Attribute", attribute_id) is None:
            raise db_update_error()
        for other in self.data.table("AttributeValue").lookup("AttributeId", attribute_id):
            if other[col["EntityId"]] == entity_id and other[0] != row[0]:
                raise db_update_error()  # the unique index IX_EntityId_AttributeId
        return []

    def after_insert(self, row: Row, ctx: SaveContext) -> None:
        self._bump_person(row, ctx)

    def after_update(self, row: Row, diff: dict[str, tuple[Any, Any]], ctx: SaveContext) -> None:
        if "Value" in diff or "EntityId" in diff:
            self._bump_person(row, ctx)

    def after_delete(self, row: Row, ctx: SaveContext) -> None:
        self._bump_person(row, ctx)

    def _bump_person(self, row: Row, ctx: SaveContext) -> None:
        """The AttributeValue save hook updates the Person row by SQL (spec §3.11, §5)."""
        col = ENTITIES["AttributeValue"].col
        attribute = self.data.get("Attribute", row[col["AttributeId"]])
        if attribute is None:
            return
        if self.data.val("Attribute", attribute, "EntityTypeId") != self.data.ids["entity:Person"]:
            return
        person = self.data.get("Person", row[col["EntityId"]])
        if person is not None:
            self.data.touch("Person", person, ctx)


def attributes_for(data: RockData, entity: EntityDef, row: Row) -> list[Row]:
    """Attributes that apply to this row: its entity type, and a matching qualifier."""
    type_id = data.ids.get(f"entity:{entity.name}")
    if type_id is None:
        return []
    acol = ENTITIES["Attribute"].col
    out: list[Row] = []
    for attribute in data.table("Attribute").lookup("EntityTypeId", type_id):
        qualifier = attribute[acol["EntityTypeQualifierColumn"]] or ""
        if qualifier:
            if qualifier not in entity.col:
                continue
            if str(row[entity.col[qualifier]]) != (
                attribute[acol["EntityTypeQualifierValue"]] or ""
            ):
                continue
        out.append(attribute)
    out.sort(key=lambda a: (a[acol["Order"]], a[acol["Name"]] or "", a[0]))
    return out


def find_value(data: RockData, attribute_id: int, entity_id: int) -> Row | None:
    vcol = ENTITIES["AttributeValue"].col
    for value in data.table("AttributeValue").lookup("AttributeId", attribute_id):
        if value[vcol["EntityId"]] == entity_id:
            return value
    return None


def set_attribute_value(
    data: RockData, entity: EntityDef, row: Row, key: str, value: str, ctx: SaveContext
) -> None:
    """``Rock.Attribute.Helper.SaveAttributeValue``: upsert the (attribute, entity) value."""
    acol = ENTITIES["Attribute"].col
    match = [a for a in attributes_for(data, entity, row) if a[acol["Key"]] == key]
    if not match:
        raise ApiError(400)  # Rock: reason phrase "<Type> does not have a <key> attribute"
    attribute = match[0]
    existing = find_value(data, attribute[0], row[0])
    if existing is None:
        data.insert(
            "AttributeValue",
            {"IsSystem": False, "AttributeId": attribute[0], "EntityId": row[0], "Value": value},
            ctx,
        )
    else:
        data.save("AttributeValue", existing, {"Value": value}, ctx)


def attribute_key_of(data: RockData, entity: EntityDef, row: Row, key: str) -> Row | None:
    acol = ENTITIES["Attribute"].col
    for attribute in attributes_for(data, entity, row):
        if attribute[acol["Key"]] == key:
            return attribute
    return None


def load_attributes(
    data: RockData, entity: EntityDef, row: Row, mode: str, keys: set[str] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``loadAttributes=simple|expanded``: the ``Attributes`` and ``AttributeValues`` dicts."""
    acol = ENTITIES["Attribute"].col
    vcol = ENTITIES["AttributeValue"].col
    attrs: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for attribute in attributes_for(data, entity, row):
        key = attribute[acol["Key"]]
        if keys is not None and key not in keys:
            continue
        if not attribute[acol["IsActive"]]:
            continue
        stored = find_value(data, attribute[0], row[0])
        raw = stored[vcol["Value"]] if stored is not None else attribute[acol["DefaultValue"]]
        raw = raw or ""
        info: dict[str, Any] = {
            "Id": attribute[0],
            "Guid": attribute[1],
            "Key": key,
            "Name": attribute[acol["Name"]],
            "AbbreviatedName": attribute[acol["AbbreviatedName"]],
            "Description": attribute[acol["Description"]] or "",
            "FieldTypeId": attribute[acol["FieldTypeId"]],
            "EntityTypeId": attribute[acol["EntityTypeId"]],
            "EntityTypeQualifierColumn": attribute[acol["EntityTypeQualifierColumn"]] or "",
            "EntityTypeQualifierValue": attribute[acol["EntityTypeQualifierValue"]] or "",
            "Order": attribute[acol["Order"]],
            "DefaultValue": attribute[acol["DefaultValue"]] or "",
            "IsRequired": attribute[acol["IsRequired"]],
            "IsGridColumn": attribute[acol["IsGridColumn"]],
            "IsMultiValue": attribute[acol["IsMultiValue"]],
        }
        value: dict[str, Any] = {
            "AttributeId": attribute[0],
            "EntityId": row[0],
            "Value": raw,
            "ValueFormatted": raw,
            "PersistedTextValue": None,
            "PersistedHtmlValue": None,
            "PersistedCondensedTextValue": None,
            "PersistedCondensedHtmlValue": None,
            "IsPersistedValueDirty": True,
        }
        if mode == "expanded":
            field_type = data.get("FieldType", attribute[acol["FieldTypeId"]])
            fcol = ENTITIES["FieldType"].col
            info["FieldType"] = (
                None
                if field_type is None
                else {
                    "Id": field_type[0],
                    "Guid": field_type[1],
                    "Name": field_type[fcol["Name"]],
                    "Class": field_type[fcol["Class"]],
                }
            )
            info["QualifierValues"] = {}
            info["Categories"] = []
            info["IsActive"] = attribute[acol["IsActive"]]
            value["ValueAsType"] = raw
            value["SortValue"] = raw
            value["ValueAsNumeric"] = value_as_numeric(raw)
        attrs[key] = info
        values[key] = value
    return attrs, values


def entity_ids_with_value(
    data: RockData,
    entity: EntityDef,
    *,
    attribute_id: int | None,
    attribute_key: str | None,
    value: str,
    case_sensitive: bool,
) -> set[int]:
    """``GetByAttributeValue``: ids of rows whose attribute holds ``value``."""
    acol = ENTITIES["Attribute"].col
    vcol = ENTITIES["AttributeValue"].col
    type_id = data.ids.get(f"entity:{entity.name}")
    if attribute_id is not None:
        attributes = [a for a in [data.get("Attribute", attribute_id)] if a is not None]
    else:
        wanted = (attribute_key or "").lower()
        attributes = [
            a
            for a in data.table("Attribute").lookup("EntityTypeId", type_id)
            if (a[acol["Key"]] or "").lower() == wanted
        ]
    ids: set[int] = set()
    for attribute in attributes:
        for stored in data.table("AttributeValue").lookup("AttributeId", attribute[0]):
            text = stored[vcol["Value"]] or ""
            same = text == value if case_sensitive else text.lower() == value.lower()
            if same and stored[vcol["EntityId"]] is not None:
                ids.add(stored[vcol["EntityId"]])
    return ids
