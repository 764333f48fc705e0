"""The emulated Rock instance: its tables, its clock, and the write pipeline every change takes.

Writes go through :meth:`RockData.insert`, :meth:`RockData.save` and :meth:`RockData.remove`,
which do what Rock's ``DbContext.SaveChanges`` does (spec §5): fill ``Guid``, set
``CreatedDateTime``/``ModifiedDateTime`` and the ``…ByPersonAliasId`` columns from the caller
(``ModifiedDateTime`` only when a value really changed), honour
``ModifiedAuditValuesAlreadyUpdated``, and run the per-entity hooks (Rock's save hooks:
history, phone → person bumps, computed columns).
"""

from __future__ import annotations

import operator
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pcosync.emulators.control import EmulatorClock
from pcosync.emulators.rock.odata import Getter
from pcosync.emulators.rock.schema import ENTITIES, Access, EntityDef, Nav, Prop, PType
from pcosync.emulators.rock.store import Row, Store, Table
from pcosync.emulators.rock.values import new_guid, parse_datetime_text, sql_datetime, to_local


class ApiError(Exception):
    """An answer other than success: status plus Rock's body (None = empty body)."""

    def __init__(
        self, status: int, message: str | None = None, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message or str(status))
        self.status = status
        if body is None and message is not None:
            body = {"Message": message}
        self.body = body


def foreign_key_error(entity: EntityDef, column: str, target: str, *, insert: bool) -> ApiError:
    """SQL Server refusing a row whose foreign key points at nothing, as Web API writes EF's
    ``DbUpdateException`` for an administrator: the SQL message sits two inner exceptions
    down (``FK_dbo.<Table>_dbo.<Target>_<Column>``, EF's constraint names)."""
    statement = "INSERT" if insert else "UPDATE"
    sql = (
        f"The {statement} statement conflicted with the FOREIGN KEY constraint "
        f'"FK_dbo.{entity.name}_dbo.{target}_{column}". The conflict occurred in database '
        f'"Rock", table "dbo.{target}", column \'Id\'.\r\nThe statement has been terminated.'
    )
    error = server_error(
        "System.Data.Entity.Infrastructure.DbUpdateException",
        "An error occurred while updating the entries. See the inner exception for details.",
    )
    assert error.body is not None
    error.body["InnerException"] = {
        "Message": "An error has occurred.",
        "ExceptionMessage": "An error occurred while updating the entries. See the inner "
        "exception for details.",
        "ExceptionType": "System.Data.Entity.Core.UpdateException",
        "StackTrace": None,
        "InnerException": {
            "Message": "An error has occurred.",
            "ExceptionMessage": sql,
            "ExceptionType": "System.Data.SqlClient.SqlException",
            "StackTrace": None,
        },
    }
    return error


# Foreign keys Rock's tables declare on columns the emulator models without a navigation
# property (newer Person columns); the navigations' own keys are read from the schema.
_EXTRA_FOREIGN_KEYS: dict[str, dict[str, str]] = {
    "Person": {
        "PreferredLanguageValueId": "DefinedValue",
        "RaceValueId": "DefinedValue",
        "EthnicityValueId": "DefinedValue",
        "GivingGroupId": "Group",
    },
}


def foreign_keys(entity: EntityDef) -> dict[str, str]:
    """``{column: target entity}`` for every foreign key of ``entity`` the emulator can check
    (targets it does not model, such as ``BinaryFile`` for ``PhotoId``, are left out)."""
    keys = {
        nav.fk: nav.target
        for nav in entity.navs.values()
        if not nav.many and nav.fk and nav.target in ENTITIES and nav.fk in entity.col
    }
    keys.update(_EXTRA_FOREIGN_KEYS.get(entity.name, {}))
    return keys


_FOREIGN_KEYS = {name: foreign_keys(entity) for name, entity in ENTITIES.items()}


def server_error(exc_type: str, message: str) -> ApiError:
    """A 500 as Rock writes it for an administrator caller (details included)."""
    return ApiError(
        500,
        body={
            "Message": "An error has occurred.",
            "ExceptionMessage": message,
            "ExceptionType": exc_type,
            "StackTrace": None,
        },
    )


@dataclass
class Rights:
    """VIEW/EDIT per REST controller name (``*`` = all), like Rock's RestController security."""

    view: set[str] = field(default_factory=set)
    edit: set[str] = field(default_factory=set)
    deny_attributes: set[str] = field(default_factory=set)

    @classmethod
    def admin(cls) -> Rights:
        return cls({"*"}, {"*"})

    def allows(self, controller: str, action: str) -> bool:
        granted = self.view if action == "VIEW" else self.edit
        return "*" in granted or controller.lower() in {g.lower() for g in granted}

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": sorted(self.view),
            "edit": sorted(self.edit),
            "deny_attributes": sorted(self.deny_attributes),
        }


@dataclass
class Caller:
    person_id: int | None
    alias_id: int | None
    rights: Rights
    is_admin: bool = False


@dataclass
class SaveContext:
    """Who is writing, and how (``api``, ``ui`` or a raw-SQL style ``sql`` change)."""

    alias_id: int | None
    source: str = "api"


@dataclass
class SystemIds:
    """Install-specific integer Ids of the rows a client looks up by GUID."""

    values: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, key: str) -> int:
        return self.values[key]

    def get(self, key: str) -> int | None:
        return self.values.get(key)


class EntityHooks:
    """Per-entity behaviour around the generic write pipeline (Rock's save hooks)."""

    def __init__(self, data: RockData) -> None:
        self.data = data

    def prepare(self, row: Row, old: Row | None, ctx: SaveContext) -> None:
        """Fill computed columns before validation (both inserts and updates)."""

    def validate(self, row: Row, old: Row | None) -> list[str]:
        return []

    def after_insert(self, row: Row, ctx: SaveContext) -> None:
        """Runs after an insert."""

    def after_update(self, row: Row, diff: dict[str, tuple[Any, Any]], ctx: SaveContext) -> None:
        """Runs after an update that changed something."""

    def delete(self, row: Row, ctx: SaveContext) -> None:
        """Remove the row (may archive instead, or refuse with ApiError)."""
        self.data.store[self.entity_name(row)].delete(row[0])

    def after_delete(self, row: Row, ctx: SaveContext) -> None:
        """Runs after a delete."""

    def entity_name(self, row: Row) -> str:
        raise NotImplementedError


class BadValue(Exception):
    """A JSON value that does not fit the property's type."""


def coerce_json(prop: Prop, value: Any, tz: ZoneInfo) -> Any:
    """Newtonsoft-style leniency for POST/PUT bodies; raises BadValue on a mismatch."""
    if value is None:
        if not prop.nullable:
            raise BadValue(prop.name)
        return None
    ptype = prop.ptype
    try:
        if ptype in (PType.INT, PType.ENUM):
            if isinstance(value, bool):
                raise BadValue(prop.name)
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                text = value.strip()
                if ptype is PType.ENUM and prop.enum is not None:
                    for member in prop.enum:
                        if member.name.lower() == text.lower():
                            return int(member.value)
                return int(text)
            raise BadValue(prop.name)
        if ptype is PType.STR:
            if isinstance(value, (dict, list)):
                raise BadValue(prop.name)
            if isinstance(value, bool):
                return "True" if value else "False"
            return str(value)
        if ptype is PType.BOOL:
            if isinstance(value, bool):
                return value
            if isinstance(value, int):
                return value != 0
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise BadValue(prop.name)
        if ptype is PType.DATETIME:
            if not isinstance(value, str):
                raise BadValue(prop.name)
            return parse_body_datetime(value, tz)
        if ptype is PType.GUID:
            if not isinstance(value, str):
                raise BadValue(prop.name)
            return str(uuid.UUID(value.strip()))
        if ptype is PType.DECIMAL:
            return Decimal(str(value))
        if ptype is PType.DOUBLE:
            return float(value)
    except (ValueError, TypeError, InvalidOperation):
        raise BadValue(prop.name) from None
    raise BadValue(prop.name)


def parse_body_datetime(text: str, tz: ZoneInfo) -> datetime:
    """A date-time from a body: no offset = org-local wall time; an offset is converted."""
    raw = text.strip()
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        value = parse_datetime_text(raw)
        if value is None:
            raise BadValue(text) from None
        return sql_datetime(value)
    if parsed.tzinfo is not None:
        return to_local(parsed, tz)
    return sql_datetime(parsed)


def coerce_patch(prop: Prop, value: Any, tz: ZoneInfo) -> Any:
    """What Rock's PATCH does with one value: ``Convert.ToInt32`` / ``Convert.ChangeType``.

    Failures are the 500s Rock gives (an unparsable enum name, a string for a Guid).
    """
    if value is None:
        if not prop.nullable:
            raise server_error(
                "System.ArgumentException",
                f"Object of type 'null' cannot be converted to type of {prop.name}.",
            )
        return None
    ptype = prop.ptype
    if ptype in (PType.INT, PType.ENUM):
        try:
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, float):
                return round(value)
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, int):
                if not -(2**31) <= value < 2**31:
                    raise ApiError(400, f"Cannot cast {prop.name} to int32")
                return value
        except ValueError:
            raise server_error(
                "System.FormatException", "Input string was not in a correct format."
            ) from None
        raise server_error(
            "System.InvalidCastException",
            f"Unable to cast object of type '{type(value).__name__}' to Int32.",
        )
    if ptype is PType.GUID:
        raise server_error(
            "System.InvalidCastException", "Invalid cast from 'System.String' to 'System.Guid'."
        )
    try:
        return coerce_json(prop, value, tz)
    except BadValue:
        raise server_error(
            "System.FormatException", f"The value for {prop.name} could not be converted."
        ) from None


class RockData:
    """One emulated Rock database plus its clock and organisation time zone."""

    def __init__(
        self,
        store: Store,
        clock: EmulatorClock,
        tz: ZoneInfo,
        *,
        version: str = "1.16.4",
        max_node_count: int = 100,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tz = tz
        self.version = version
        self.max_node_count = max_node_count
        self.ids = SystemIds()
        self.hooks: dict[str, EntityHooks] = {}
        self.computes: dict[str, Callable[[Row], Any]] = {}
        self.rng = random.Random(0)
        self._today: date | None = None
        self._in_request = False

    # -- time ------------------------------------------------------------------------------
    def now(self) -> datetime:
        """``RockDateTime.Now``: organisation-local wall time, SQL precision."""
        return to_local(self.clock.now(), self.tz)

    def today(self) -> date:
        """Organisation-local date (read once per request: pages compute it for every row)."""
        if self._today is not None:
            return self._today
        today = self.clock.now().astimezone(self.tz).date()
        if self._in_request:
            self._today = today
        return today

    def begin_request(self) -> None:
        """A request starts: its writes form one transaction (see :meth:`rollback`)."""
        self._in_request = True
        self._today = None
        self.store.begin()

    def rollback(self) -> None:
        """Undo the current request's writes: Rock answers an error only when its
        ``SaveChanges`` did not happen or was rolled back, so nothing of it is kept."""
        self.store.rollback()

    def end_request(self) -> None:
        self._in_request = False
        self._today = None
        self.store.commit()

    # -- Resolver (for the OData binder) ---------------------------------------------------
    def entity(self, name: str) -> EntityDef:
        return ENTITIES[name]

    def getter(self, entity: EntityDef, prop: Prop) -> Getter:
        if prop.stored:
            return operator.itemgetter(entity.col[prop.name])
        assert prop.compute is not None, prop.name
        return self.computes[prop.compute]

    def nav_single(self, entity: EntityDef, nav: Nav) -> Callable[[Row], Row | None]:
        assert nav.target is not None
        target = self.store[nav.target]
        idx = entity.col[nav.fk]
        rows = target.rows

        def follow(row: Row) -> Row | None:
            key = row[idx]
            return None if key is None else rows.get(key)

        return follow

    def nav_many(self, entity: EntityDef, nav: Nav) -> Callable[[Row], list[Row]]:
        assert nav.target is not None
        target = self.store[nav.target]
        assert target.has_hash(nav.fk), f"{nav.target}.{nav.fk} needs a hash index"
        visible = self.nav_visible(nav.target)
        fk = nav.fk
        return lambda row: [r for r in target.lookup(fk, row[0]) if visible(r)]

    def nav_visible(self, entity_name: str) -> Callable[[Row], bool]:
        """Rows EF's global filters hide even through navigations (archived rows)."""
        if entity_name in ("GroupMember", "Group"):
            idx = ENTITIES[entity_name].col["IsArchived"]
            return lambda r: not r[idx]
        return _always

    # -- reading helpers ------------------------------------------------------------------
    def table(self, entity_name: str) -> Table:
        return self.store[entity_name]

    def get(self, entity_name: str, row_id: int | None) -> Row | None:
        if row_id is None:
            return None
        return self.store[entity_name].get(row_id)

    def val(self, entity_name: str, row: Row, column: str) -> Any:
        return row[ENTITIES[entity_name].col[column]]

    def hooks_for(self, entity_name: str) -> EntityHooks:
        hooks = self.hooks.get(entity_name)
        if hooks is None:
            hooks = _Generic(self, entity_name)
            self.hooks[entity_name] = hooks
        return hooks

    # -- the write pipeline -----------------------------------------------------------------
    def new_row(self, entity_name: str, values: dict[str, Any]) -> Row:
        entity = ENTITIES[entity_name]
        row = entity.blank_row()
        col = entity.col
        for name, value in values.items():
            row[col[name]] = value
        return row

    def insert(
        self,
        entity_name: str,
        values: dict[str, Any],
        ctx: SaveContext,
        *,
        audit_given: bool = False,
        row_id: int | None = None,
    ) -> Row:
        """Add a row: Id, Guid, audit columns, hooks. ``values`` are column values."""
        entity = ENTITIES[entity_name]
        table = self.store[entity_name]
        row = self.new_row(entity_name, values)
        row[0] = row_id if row_id is not None else table.allocate_id()
        col = entity.col
        if not row[col["Guid"]]:
            row[col["Guid"]] = new_guid()
        hooks = self.hooks_for(entity_name)
        hooks.prepare(row, None, ctx)
        errors = [*_validate(entity, row), *hooks.validate(row, None)]
        if errors:
            raise ApiError(400, ",".join(errors))
        self.check_foreign_keys(entity, row, None)
        if entity.model:
            now = self.now()
            if row[col["CreatedDateTime"]] is None:
                row[col["CreatedDateTime"]] = now
            if row[col["CreatedByPersonAliasId"]] is None:
                row[col["CreatedByPersonAliasId"]] = ctx.alias_id
            if not audit_given or row[col["ModifiedDateTime"]] is None:
                row[col["ModifiedDateTime"]] = now
            if not audit_given or row[col["ModifiedByPersonAliasId"]] is None:
                row[col["ModifiedByPersonAliasId"]] = ctx.alias_id
        table.insert(row)
        hooks.after_insert(row, ctx)
        return row

    def save(
        self,
        entity_name: str,
        row: Row,
        changes: dict[str, Any],
        ctx: SaveContext,
        *,
        audit_given: bool = False,
        validate: bool = True,
    ) -> dict[str, tuple[Any, Any]]:
        """Update a row as EF would: audit columns move only when a value really changes."""
        entity = ENTITIES[entity_name]
        table = self.store[entity_name]
        candidate = list(row)
        for name, value in changes.items():
            candidate[entity.col[name]] = value
        hooks = self.hooks_for(entity_name)
        hooks.prepare(candidate, row, ctx)
        if validate:
            errors = [*_validate(entity, candidate), *hooks.validate(candidate, row)]
            if errors:
                raise ApiError(400, ",".join(errors))
        self.check_foreign_keys(entity, candidate, row)
        new_values = {
            n: candidate[k]
            for n, k in entity.col.items()
            if candidate[k] != row[k] or type(candidate[k]) is not type(row[k])
        }
        if not new_values:
            return {}
        if entity.model and ctx.source != "sql":
            # EF saw a change, so SaveChanges stamps the row (unless the caller set
            # ModifiedAuditValuesAlreadyUpdated and supplied the values itself)
            if not audit_given:
                new_values["ModifiedDateTime"] = self.now()
                new_values["ModifiedByPersonAliasId"] = ctx.alias_id
            elif candidate[entity.col["ModifiedDateTime"]] is None:
                new_values["ModifiedDateTime"] = self.now()
        diff = table.update(row, new_values)
        if diff:
            hooks.after_update(row, diff, ctx)
        return diff

    def check_foreign_keys(self, entity: EntityDef, row: Row, old: Row | None) -> None:
        """What the database does at ``SaveChanges``: a key pointing at no row is a 500
        (spec §2.7), checked for the columns the statement writes (all on insert)."""
        for column, target in _FOREIGN_KEYS[entity.name].items():
            k = entity.col[column]
            value = row[k]
            if value is None or (old is not None and old[k] == value):
                continue
            if self.store[target].get(value) is None:
                raise foreign_key_error(entity, column, target, insert=old is None)

    def touch(self, entity_name: str, row: Row, ctx: SaveContext) -> None:
        """Bump ``ModifiedDateTime`` by SQL, as Rock's save hooks do for the owning person."""
        table = self.store[entity_name]
        table.update(row, {"ModifiedDateTime": self.now(), "ModifiedByPersonAliasId": ctx.alias_id})

    def remove(self, entity_name: str, row: Row, ctx: SaveContext) -> None:
        hooks = self.hooks_for(entity_name)
        hooks.delete(row, ctx)
        hooks.after_delete(row, ctx)

    # -- history -------------------------------------------------------------------------
    def history(
        self,
        ctx: SaveContext,
        *,
        entity: str,
        entity_id: int,
        category: str,
        verb: str,
        change_type: str,
        value_name: str | None = None,
        old: Any = None,
        new: Any = None,
        caption: str | None = None,
        related_entity: str | None = None,
        related_id: int | None = None,
        old_raw: Any = None,
        new_raw: Any = None,
    ) -> None:
        ids = self.ids
        values = {
            "IsSystem": False,
            "CategoryId": ids.get(f"category:{category}") or 0,
            "EntityTypeId": ids[f"entity:{entity}"],
            "EntityId": entity_id,
            "Caption": caption,
            "Verb": verb,
            "ChangeType": change_type,
            "ValueName": value_name,
            "OldValue": _text(old),
            "NewValue": _text(new),
            "OldRawValue": _text(old_raw if old_raw is not None else old),
            "NewRawValue": _text(new_raw if new_raw is not None else new),
            "IsSensitive": False,
            "RelatedEntityTypeId": ids[f"entity:{related_entity}"] if related_entity else None,
            "RelatedEntityId": related_id,
        }
        self.insert("History", values, ctx)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (
            value.strftime("%-m/%-d/%Y")
            if value.time() == datetime.min.time()
            else value.isoformat()
        )
    return str(value)


def _always(_row: Row) -> bool:
    return True


def _validate(entity: EntityDef, row: Row) -> list[str]:
    """DataAnnotations: [Required] and [MaxLength] messages as .NET words them."""
    errors: list[str] = []
    for prop in entity.props.values():
        if not prop.stored or prop.access is Access.HIDDEN:
            continue
        value = row[entity.col[prop.name]]
        if prop.required and prop.ptype is PType.STR and (value is None or value == ""):
            errors.append(f"The {prop.name} field is required.")
        if prop.max_length and isinstance(value, str) and len(value) > prop.max_length:
            errors.append(
                f"The field {prop.name} must be a string or array type with a maximum "
                f"length of '{prop.max_length}'."
            )
    return errors


class _Generic(EntityHooks):
    def __init__(self, data: RockData, name: str) -> None:
        super().__init__(data)
        self.name = name

    def entity_name(self, row: Row) -> str:
        return self.name


class NamedHooks(EntityHooks):
    """Hooks bound to one entity name."""

    name = ""

    def entity_name(self, row: Row) -> str:
        return self.name
