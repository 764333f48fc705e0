"""Rock's REST v1 routes: the generic ``ApiController<T>`` actions for every modelled
controller plus the People/Groups/Attributes/Auth/Utility specials the sync needs (spec §2, §4).

Routes are case-insensitive, ids must be integers, a missing row is 404 with an empty body,
a caller without the right is 401 with an empty body, and a controller or action that does
not exist gets Web API's own 404 JSON.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from pcosync.emulators.rock import attributes as attrs
from pcosync.emulators.rock import groups, people
from pcosync.emulators.rock.core import (
    ApiError,
    BadValue,
    Caller,
    RockData,
    SaveContext,
    coerce_json,
    coerce_patch,
    server_error,
)
from pcosync.emulators.rock.query import QueryOptions, Shapes, run
from pcosync.emulators.rock.schema import ATTRIBUTED, BY_CONTROLLER, ENTITIES, Access, EntityDef
from pcosync.emulators.rock.store import Row
from pcosync.emulators.rock.values import dumps, new_guid

if TYPE_CHECKING:
    from pcosync.emulators.rock.app import RockEmulator

log = logging.getLogger("pcosync.emulators.rock")

JSON_TYPE = "application/json; charset=utf-8"
_KEY_FORM = re.compile(r"^(?P<name>[A-Za-z]+)\((?P<key>[^)]*)\)$")


@dataclass
class Req:
    method: str
    path: str
    url: str
    segments: list[str]
    params: dict[str, str]  # OData options and raw parameters, as sent
    lparams: dict[str, str]  # action parameters: Web API binds them case-insensitively
    body: bytes
    caller: Caller
    cookie: str | None = None

    def flag(self, name: str, default: bool = False) -> bool:
        raw = self.lparams.get(name.lower())
        if raw is None:
            return default
        return raw.strip().lower() == "true"

    def json_body(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400) from None

    def ctx(self) -> SaveContext:
        return SaveContext(self.caller.alias_id, "api")


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type=JSON_TYPE)


def empty(status: int) -> Response:
    return Response(b"", status_code=status)


def error_response(exc: ApiError, caller: Caller) -> Response:
    """Rock's answer for an error; a 500's exception details only for an administrator
    (``RockApiExceptionHandler``, spec §2.7), everyone else reads "An error has occurred."."""
    if exc.body is None:
        return empty(exc.status)
    body = exc.body
    if exc.status >= 500 and not caller.is_admin:
        body = {"Message": body.get("Message", "An error has occurred.")}
    return json_response(body, exc.status)


def not_found_route(req: Req, controller: str | None = None) -> ApiError:
    body: dict[str, Any] = {
        "Message": f"No HTTP resource was found that matches the request URI '{req.url}'."
    }
    if controller is None:
        name = req.segments[0] if req.segments else ""
        body["MessageDetail"] = f"No type was found that matches the controller named '{name}'."
    else:
        body["MessageDetail"] = (
            f"No action was found on the controller '{controller}' that matches the request."
        )
    return ApiError(404, body=body)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, f"The requested resource does not support http method '{method}'.")


def parse_int(text: str, name: str = "id") -> int:
    if not re.fullmatch(r"-?\d+", text.strip()):
        raise ApiError(
            400,
            body={
                "Message": "The request is invalid.",
                "MessageDetail": f"The parameters dictionary contains a null entry for parameter "
                f"'{name}' of non-nullable type 'System.Int32'. An optional "
                "parameter must be a reference type, a nullable type, or be "
                "declared as an optional parameter.",
            },
        )
    return int(text)


Handler = Callable[[Req], Response]


class RockApi:
    """Dispatches ``/api/...`` requests of one emulator."""

    def __init__(self, emulator: RockEmulator) -> None:
        self.emu = emulator

    @property
    def data(self) -> RockData:
        return self.emu.data

    @property
    def shapes(self) -> Shapes:
        return self.emu.shapes

    async def __call__(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        segments = [s for s in path.split("/")[2:] if s != ""]
        params = dict(request.query_params)
        header_key = request.headers.get("authorization-token")
        cookie = request.cookies.get(".ROCK")
        caller = self.emu.auth.identify(
            cookie,
            header_key,
            params.get("apikey") or {k.lower(): v for k, v in params.items()}.get("apikey"),
        )
        req = Req(
            request.method.upper(),
            path,
            str(request.url),
            segments,
            params,
            {k.lower(): v for k, v in params.items()},
            body,
            caller,
            cookie,
        )
        self.data.begin_request()
        try:
            response = self.dispatch(req)
        except ApiError as exc:
            self.data.rollback()  # an error answer means nothing was saved
            response = error_response(exc, req.caller)
        except Exception:  # a bug here must still look like Rock's 500, never a traceback
            self.data.rollback()
            log.exception("rock_emulator.unhandled_error %s %s", req.method, req.path)
            response = error_response(
                server_error("System.Exception", "An unexpected error occurred."), req.caller
            )
        finally:
            self.data.end_request()
        self.emu.flush()
        return response

    # -- routing ---------------------------------------------------------------------------
    def dispatch(self, req: Req) -> Response:
        if not req.segments:
            raise not_found_route(req)
        head = req.segments[0]
        key_form = _KEY_FORM.match(head)
        if key_form:
            entity = BY_CONTROLLER.get(key_form.group("name").lower())
            if entity is None:
                raise not_found_route(req)
            if req.method != "GET":
                raise method_not_allowed(req.method)
            self.require(req, entity.controller, "VIEW")
            return self.get_one(req, entity, parse_int(key_form.group("key"), "key"))
        name = head.lower()
        if name == "auth":
            return self.auth_route(req)
        if name == "utility":
            return self.utility_route(req)
        entity = BY_CONTROLLER.get(name)
        if entity is None:
            raise not_found_route(req)
        return self.entity_route(req, entity)

    def require(self, req: Req, controller: str, action: str) -> None:
        if not req.caller.rights.allows(controller, action):
            raise ApiError(401)

    def route(
        self,
        req: Req,
        controller: str,
        table: dict[str, Handler],
        rights: dict[str, str] | None = None,
    ) -> Response:
        handler = table.get(req.method)
        if handler is None:
            if table:
                raise method_not_allowed(req.method)
            raise not_found_route(req, controller)
        action = (rights or {}).get(req.method) or ("VIEW" if req.method == "GET" else "EDIT")
        self.require(req, controller, action)
        return handler(req)

    def entity_route(self, req: Req, entity: EntityDef) -> Response:
        rest = req.segments[1:]
        ctl = entity.controller
        if not rest:
            table: dict[str, Handler] = {"GET": lambda r: self.get_list(r, entity)}
            if not entity.read_only:
                table["POST"] = lambda r: self.post(r, entity)
            return self.route(req, ctl, table)
        first = rest[0].lower()
        special = self.special(req, entity, first, rest[1:])
        if special is not None:
            return special
        if len(rest) == 1 and first not in _ACTIONS:
            row_id = parse_int(rest[0])
            table = {"GET": lambda r: self.get_one(r, entity, row_id)}
            if not entity.read_only:
                table.update(
                    {
                        "PUT": lambda r: self.put(r, entity, row_id),
                        "PATCH": lambda r: self.patch(r, entity, row_id),
                        "DELETE": lambda r: self.delete(r, entity, row_id),
                    }
                )
            return self.route(req, ctl, table)
        raise not_found_route(req, ctl)

    def special(self, req: Req, entity: EntityDef, action: str, args: list[str]) -> Response | None:
        ctl = entity.controller
        if action == "getbyattributevalue" and not args:
            return self.route(req, ctl, {"GET": lambda r: self.by_attribute_value(r, entity)})
        if action == "attributevalue" and len(args) == 1:
            row_id = parse_int(args[0])
            return self.route(
                req,
                ctl,
                {
                    "POST": lambda r: self.attribute_value(r, entity, row_id, set_value=True),
                    "DELETE": lambda r: self.attribute_value(r, entity, row_id, set_value=False),
                },
            )
        if action in ("dataview", "indataview"):
            return self.route(req, ctl, {"GET": lambda r: empty(404)})
        if entity.name == "Person":
            return self.people_special(req, action, args)
        if entity.name == "Group":
            return self.groups_special(req, action, args)
        if entity.name == "Attribute" and action == "flush" and len(args) <= 1:
            if args:
                parse_int(args[0])
            return self.route(req, ctl, {"PUT": lambda r: empty(204)})
        return None

    # -- generic actions -------------------------------------------------------------------
    def visible(
        self, entity: EntityDef, req: Req, *, by_id: bool = False
    ) -> Callable[[Row], bool] | None:
        data = self.data
        if entity.name == "Person":
            return people.visible_person(data, True if by_id else req.flag("includeDeceased"))
        if entity.name == "GroupMember":
            archived = ENTITIES["GroupMember"].col["IsArchived"]
            person_col = ENTITIES["GroupMember"].col["PersonId"]
            deceased = ENTITIES["Person"].col["IsDeceased"]
            persons = data.table("Person").rows
            if req.flag("IncludeDeceased") and not by_id:
                return lambda r: not r[archived]

            def member_visible(r: Row) -> bool:
                if r[archived]:
                    return False
                person = persons.get(r[person_col])
                return person is None or not person[deceased]

            return member_visible
        if entity.name == "Group":
            archived = ENTITIES["Group"].col["IsArchived"]
            return lambda r: not r[archived]
        return None

    def lookup(self, req: Req, entity: EntityDef, row_id: int) -> Row:
        row = self.data.get(entity.name, row_id)
        visible = self.visible(entity, req, by_id=True)
        if row is None or (visible is not None and not visible(row)):
            raise ApiError(404)
        return row

    def render_one(self, req: Req, entity: EntityDef, row: Row) -> dict[str, Any]:
        out = self.shapes.full(entity, row)
        self.add_attributes(req, entity, row, out)
        return out

    def add_attributes(self, req: Req, entity: EntityDef, row: Row, out: dict[str, Any]) -> None:
        mode = (req.lparams.get("loadattributes") or "").strip().lower()
        if mode in ("", "false") or entity.name not in ATTRIBUTED:
            return
        keys_raw = req.lparams.get("attributekeys")
        keys = {k.strip() for k in keys_raw.split(",") if k.strip()} if keys_raw else None
        a, v = attrs.load_attributes(
            self.data, entity, row, "expanded" if mode == "expanded" else "simple", keys
        )
        out["Attributes"] = a
        out["AttributeValues"] = v

    def query(
        self,
        req: Req,
        entity: EntityDef,
        candidates: list[Row] | None = None,
        *,
        max_expansion_depth: int = 2,
    ) -> Response:
        opts = QueryOptions.parse(
            self.data, entity, req.params, max_expansion_depth=max_expansion_depth
        )
        rows = run(self.data.table(entity.name), self.visible(entity, req), opts, candidates)
        if opts.projected:
            payload = [self.shapes.edm(entity, r, opts.expand, opts.select) for r in rows]
            return json_response(payload)
        payload = self.shapes.full_many(entity, rows)
        mode = (req.lparams.get("loadattributes") or "").strip().lower()
        if mode not in ("", "false"):
            for row, out in zip(rows, payload, strict=True):
                self.add_attributes(req, entity, row, out)
        return json_response(payload)

    def get_list(self, req: Req, entity: EntityDef) -> Response:
        return self.query(req, entity)

    def get_one(self, req: Req, entity: EntityDef, row_id: int) -> Response:
        return json_response(self.render_one(req, entity, self.lookup(req, entity, row_id)))

    def body_values(
        self, entity: EntityDef, body: Any, *, full: bool
    ) -> tuple[dict[str, Any], bool]:
        """Column values from a POST/PUT body (Newtonsoft: names match case-insensitively)."""
        if not isinstance(body, dict):
            raise ApiError(400)
        by_lower = {k.lower(): v for k, v in body.items()}
        values: dict[str, Any] = {}
        tz = self.data.tz
        try:
            for prop in entity.rest_writable:
                present = prop.name.lower() in by_lower
                if prop.access is Access.COMPUTED:
                    if present:
                        coerce_json(prop, by_lower[prop.name.lower()], tz)
                    continue
                if present:
                    values[prop.name] = coerce_json(prop, by_lower[prop.name.lower()], tz)
                elif full:
                    values[prop.name] = prop.default
        except BadValue:
            raise ApiError(400) from None
        audit_given = bool(by_lower.get("modifiedauditvaluesalreadyupdated") is True)
        return values, audit_given

    def post(self, req: Req, entity: EntityDef) -> Response:
        body = req.json_body()
        values, audit_given = self.body_values(entity, body, full=False)
        values.pop("Id", None)
        if not values.get("Guid"):
            values["Guid"] = None
        if entity.name == "Person":
            row = people.create_with_family(self.data, values, req.ctx())
        else:
            row = self.data.insert(entity.name, values, req.ctx(), audit_given=audit_given)
        return json_response(row[0], 201)

    def put(self, req: Req, entity: EntityDef, row_id: int) -> Response:
        body = req.json_body()
        if body is None:
            raise ApiError(400)
        row = self.lookup(req, entity, row_id)
        values, audit_given = self.body_values(entity, body, full=True)
        body_id = (
            {k.lower(): v for k, v in body.items()}.get("id") if isinstance(body, dict) else None
        )
        if body_id != row_id:
            raise server_error(
                "System.InvalidOperationException",
                "The property 'Id' is part of the object's key information and "
                "cannot be modified. ",
            )
        if not values.get("Guid"):
            values["Guid"] = new_guid()  # a Guid left out of a PUT is regenerated
        self.data.save(entity.name, row, values, req.ctx(), audit_given=audit_given)
        return empty(204)

    def patch(self, req: Req, entity: EntityDef, row_id: int) -> Response:
        body = req.json_body()
        if not isinstance(body, dict) or not body:
            raise ApiError(400, "No values were sent in the body")
        if "Id" in body:
            raise ApiError(400, "Cannot set Id")
        row = self.lookup(req, entity, row_id)
        changes: dict[str, Any] = {}
        audit_given = False
        for key, value in body.items():
            prop = entity.props.get(key)
            if prop is None or prop.access is Access.HIDDEN:
                if key in entity.navs:
                    raise server_error(
                        "System.InvalidCastException", "Object must implement IConvertible."
                    )
                raise ApiError(400, f"{entity.name} does not have attribute {key}")
            if key == "ModifiedAuditValuesAlreadyUpdated":
                audit_given = value is True
                continue
            if prop.access is Access.READONLY:
                raise ApiError(400, f"Cannot write {key}")
            converted = coerce_patch(prop, value, self.data.tz)
            if prop.access is Access.COMPUTED:
                continue  # Rock recomputes it on save
            changes[prop.name] = converted
        self.data.save(entity.name, row, changes, req.ctx(), audit_given=audit_given)
        return empty(204)

    def delete(self, req: Req, entity: EntityDef, row_id: int) -> Response:
        row = self.lookup(req, entity, row_id)
        col = entity.col
        if "IsSystem" in col and row[col["IsSystem"]]:
            raise ApiError(
                400, f"{entity.name} is a system {entity.name.lower()} and cannot be deleted."
            )
        in_use = _in_use(self.data, entity, row)
        if in_use:
            raise ApiError(400, in_use)
        if entity.name == "Person":
            _delete_person(self.data, row, req.ctx())
        elif entity.name == "Attribute":
            for value in list(self.data.table("AttributeValue").lookup("AttributeId", row[0])):
                self.data.table("AttributeValue").delete(value[0])
            self.data.table("Attribute").delete(row[0])
        else:
            self.data.remove(entity.name, row, req.ctx())
        return empty(204)

    def by_attribute_value(self, req: Req, entity: EntityDef) -> Response:
        value = req.lparams.get("value")
        if value is None or not value.strip():
            raise ApiError(400, "The value param is required")
        key = req.lparams.get("attributekey")
        raw_id = req.lparams.get("attributeid")
        if bool(key and key.strip()) == (raw_id is not None):
            raise ApiError(
                400, "Either attributeKey or attributeId must be specified, but not both"
            )
        ids = attrs.entity_ids_with_value(
            self.data,
            entity,
            attribute_id=parse_int(raw_id, "attributeId") if raw_id else None,
            attribute_key=key,
            value=value,
            case_sensitive=req.flag("caseSensitive"),
        )
        table = self.data.table(entity.name)
        candidates = [r for r in (table.get(k) for k in sorted(ids)) if r is not None]
        return self.query(req, entity, candidates)

    def attribute_value(
        self, req: Req, entity: EntityDef, row_id: int, *, set_value: bool
    ) -> Response:
        if entity.name not in ATTRIBUTED:
            raise ApiError(400)  # "specified item does not have attributes"
        needed = ("attributekey", "attributevalue") if set_value else ("attributekey",)
        if any(name not in req.lparams for name in needed):
            # Web API selects actions by their parameters: no match, no action
            raise not_found_route(req, entity.controller)
        row = self.data.get(entity.name, row_id)
        if row is None:
            raise ApiError(404)
        key = req.lparams.get("attributekey") or ""
        attribute = attrs.attribute_key_of(self.data, entity, row, key)
        if attribute is None:
            raise ApiError(400)  # reason phrase: "<Type> does not have a <key> attribute"
        if key in req.caller.rights.deny_attributes:
            raise ApiError(403)  # reason phrase: "Not authorized to edit <Type> on <key>"
        value = req.lparams["attributevalue"] if set_value else ""
        attrs.set_attribute_value(self.data, entity, row, key, value, req.ctx())
        return json_response(row[0], 202)

    # -- People ----------------------------------------------------------------------------
    def people_special(self, req: Req, action: str, args: list[str]) -> Response | None:
        person = ENTITIES["Person"]
        data = self.data
        if action == "getbypersonaliasid" and len(args) == 1:
            alias_id = parse_int(args[0], "personAliasId")

            def by_alias(r: Req) -> Response:
                alias = data.get("PersonAlias", alias_id)
                if alias is None:
                    raise ApiError(404)
                return self.get_one(r, person, data.val("PersonAlias", alias, "PersonId"))

            return self.route(req, "People", {"GET": by_alias})
        if action == "getbyemail" and len(args) == 1:
            return self.route(
                req,
                "People",
                {
                    "GET": lambda r: json_response(
                        [self.render_one(r, person, row) for row in people.by_email(data, args[0])]
                    )
                },
            )
        if action == "getbyphonenumber" and len(args) == 1:
            return self.route(
                req,
                "People",
                {
                    "GET": lambda r: json_response(
                        [self.render_one(r, person, row) for row in people.by_phone(data, args[0])]
                    )
                },
            )
        if action == "getbyusername" and len(args) == 1:
            return self.route(req, "People", {"GET": lambda r: self.by_username(r, args[0])})
        if action == "search" and not args:
            return self.route(req, "People", {"GET": self.search})
        if action == "getcurrentperson" and not args:

            def current(r: Req) -> Response:
                if r.caller.person_id is None:
                    raise ApiError(401)
                return json_response(
                    self.render_one(r, person, self.lookup(r, person, r.caller.person_id))
                )

            return self.route(req, "People", {"GET": current})
        if action == "addnewpersontofamily" and len(args) == 1:
            family_id = parse_int(args[0], "familyId")
            return self.route(
                req, "People", {"POST": lambda r: self.add_new_to_family(r, family_id)}
            )
        if action == "addexistingpersontofamily" and not args:
            return self.route(req, "People", {"POST": self.add_existing_to_family})
        return None

    def by_username(self, req: Req, username: str) -> Response:
        """This one action includes the phone numbers (``.Include(a => a.PhoneNumbers)``)."""
        login = next(
            (lg for lg in self.emu.auth.logins if (lg.username or "").lower() == username.lower()),
            None,
        )
        person = self.data.get("Person", login.person_id) if login else None
        if person is None:
            raise ApiError(404)
        out = self.render_one(req, ENTITIES["Person"], person)
        phones = self.data.table("PhoneNumber").lookup("PersonId", person[0])
        out["PhoneNumbers"] = self.shapes.full_many(ENTITIES["PhoneNumber"], phones)
        return json_response(out)

    def search(self, req: Req) -> Response:
        results = people.search(
            self.data,
            name=req.lparams.get("name"),
            email=req.lparams.get("email"),
            phone=req.lparams.get("phone"),
            address=req.lparams.get("address"),
            include_details=req.flag("includeDetails"),
            include_businesses=req.flag("includeBusinesses"),
            include_deceased=req.flag("includeDeceased"),
        )
        return json_response(results)

    def add_new_to_family(self, req: Req, family_id: int) -> Response:
        role_raw = req.lparams.get("grouproleid")
        if role_raw is None:
            raise not_found_route(req, "People")
        role_id = parse_int(role_raw, "groupRoleId")
        values, _ = self.body_values(ENTITIES["Person"], req.json_body(), full=False)
        values.pop("Id", None)
        values["Guid"] = values.get("Guid") or None
        if values.get("RecordTypeValueId") is None:
            values["RecordTypeValueId"] = self.data.ids["dv:record_type:person"]
        family = self.data.get("Group", family_id)
        if family is None:
            raise ApiError(400, "The family could not be found.")
        ctx = req.ctx()
        row = self.data.insert("Person", values, ctx)
        people.add_to_family(self.data, row, family_id, role_id, ctx)
        return json_response(row[0], 201)

    def add_existing_to_family(self, req: Req) -> Response:
        for name in ("personid", "familyid", "grouproleid", "removefromotherfamilies"):
            if name not in req.lparams:
                raise not_found_route(req, "People")
        person_id = parse_int(req.lparams["personid"], "personId")
        family_id = parse_int(req.lparams["familyid"], "familyId")
        role_id = parse_int(req.lparams["grouproleid"], "groupRoleId")
        person = self.lookup(req, ENTITIES["Person"], person_id)
        ctx = req.ctx()
        people.add_to_family(self.data, person, family_id, role_id, ctx)
        if req.flag("removeFromOtherFamilies"):
            people.remove_from_other_families(self.data, family_id, person_id, ctx)
        return json_response(person_id, 201)

    # -- Groups ----------------------------------------------------------------------------
    def groups_special(self, req: Req, action: str, args: list[str]) -> Response | None:
        group = ENTITIES["Group"]
        data = self.data
        if action == "getfamilies" and len(args) == 1:
            person_id = parse_int(args[0], "personId")
            return self.route(
                req,
                "Groups",
                {
                    "GET": lambda r: self.query(
                        r, group, groups.families_of(data, person_id), max_expansion_depth=4
                    )
                },
            )
        if action == "getfamily" and len(args) == 1:
            family_id = parse_int(args[0])

            def family(r: Req) -> Response:
                row = self.lookup(r, group, family_id)
                if not groups.is_family(data, row):
                    raise ApiError(404)
                return json_response(self.render_one(r, group, row))

            return self.route(req, "Groups", {"GET": family})
        if action == "getchildren" and len(args) == 1:
            group_id = parse_int(args[0])
            return self.route(req, "Groups", {"GET": lambda r: self.children(r, group_id)})
        if action == "saveaddress" and len(args) == 2:
            group_id = parse_int(args[0], "groupId")
            type_id = parse_int(args[1], "locationTypeId")
            return self.route(
                req, "Groups", {"PUT": lambda r: self.save_address(r, group_id, type_id)}
            )
        return None

    def children(self, req: Req, group_id: int) -> Response:
        def ids(name: str) -> set[int]:
            raw = req.lparams.get(name.lower()) or ""
            return {int(x) for x in raw.split(",") if x.strip().isdigit()}

        return json_response(
            groups.children(
                self.data,
                group_id,
                included_types=ids("includedGroupTypeIds") or None,
                excluded_types=ids("excludedGroupTypeIds"),
                include_inactive=req.flag("includeInactiveGroups"),
            )
        )

    def save_address(self, req: Req, group_id: int, type_id: int) -> Response:
        data = self.data
        row = self.lookup(req, ENTITIES["Group"], group_id)
        location_type = data.get("DefinedValue", type_id)
        if (
            location_type is None
            or data.val("DefinedValue", location_type, "DefinedTypeId")
            != data.ids["dt:location_type"]
        ):
            raise ApiError(404)
        fields = {
            "Street1": req.lparams.get("street1") or "",
            "Street2": req.lparams.get("street2") or "",
            "City": req.lparams.get("city") or "",
            "State": req.lparams.get("state") or "",
            "PostalCode": req.lparams.get("postalcode") or "",
            "Country": req.lparams.get("country") or "",
        }
        groups.save_address(data, row, type_id, fields, req.ctx())
        return empty(204)

    # -- Auth and Utility ------------------------------------------------------------------
    def auth_route(self, req: Req) -> Response:
        action = req.segments[1].lower() if len(req.segments) == 2 else ""
        if action == "login":
            if req.method != "POST":
                raise method_not_allowed(req.method)
            body = req.json_body()
            if not isinstance(body, dict):
                raise ApiError(401)
            fields = {k.lower(): v for k, v in body.items()}
            login = self.emu.auth.by_password(
                str(fields.get("username") or ""), str(fields.get("password") or "")
            )
            if login is None:
                raise ApiError(401)
            token = self.emu.auth.start_session(login)
            response = empty(204)
            persisted = fields.get("persisted") is True
            response.set_cookie(
                ".ROCK",
                quote(token),
                path="/",
                httponly=True,
                max_age=60 * 60 * 24 * 14 if persisted else None,
            )
            return response
        if action == "logout":
            if req.cookie:
                self.emu.auth.sessions.pop(req.cookie, None)
            response = empty(204)
            response.delete_cookie(".ROCK", path="/")
            return response
        raise not_found_route(req, "Auth")

    def utility_route(self, req: Req) -> Response:
        action = req.segments[1].lower() if len(req.segments) == 2 else ""
        if action == "getrocksemanticversionnumber":
            return self.route(req, "Utility", {"GET": lambda r: json_response(self.data.version)})
        raise not_found_route(req, "Utility")


_ACTIONS = {
    "getbyattributevalue",
    "attributevalue",
    "dataview",
    "indataview",
    "launchworkflow",
    "followeditems",
    "setcontext",
}


def _in_use(data: RockData, entity: EntityDef, row: Row) -> str | None:
    references = {
        "Location": [("GroupLocation", "LocationId"), ("Campus", "LocationId")],
        "GroupType": [("Group", "GroupTypeId"), ("GroupTypeRole", "GroupTypeId")],
        "GroupTypeRole": [("GroupMember", "GroupRoleId")],
        "DefinedType": [("DefinedValue", "DefinedTypeId")],
        "FieldType": [("Attribute", "FieldTypeId")],
        "Campus": [("Group", "CampusId")],
    }
    for table, column in references.get(entity.name, []):
        col = ENTITIES[table].col[column]
        if any(r[col] == row[0] for r in data.table(table)):
            return f"This {entity.name} is assigned to a {table} and cannot be deleted."
    return None


def _delete_person(data: RockData, row: Row, ctx: SaveContext) -> None:
    """Cascades as Rock's foreign keys do: phones, memberships, aliases, attribute values."""
    for table, column in (
        ("PhoneNumber", "PersonId"),
        ("GroupMember", "PersonId"),
        ("PersonAlias", "PersonId"),
    ):
        for dependent in list(data.table(table).lookup(column, row[0])):
            data.table(table).delete(dependent[0])
    person_type = data.ids["entity:Person"]
    person_attrs = {a[0] for a in data.table("Attribute").lookup("EntityTypeId", person_type)}
    vcol = ENTITIES["AttributeValue"].col
    for value in list(data.table("AttributeValue").lookup("EntityId", row[0])):
        if value[vcol["AttributeId"]] in person_attrs:
            data.table("AttributeValue").delete(value[0])
    data.table("Person").delete(row[0])
