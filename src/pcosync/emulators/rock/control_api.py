"""``/__emulator__/`` routes of the Rock emulator: reset, and what a person does in Rock's UI.

Beside the shared ``stats``, ``requests``, ``faults`` and ``clock`` routes::

    GET    /__emulator__/info                     ids and GUIDs to look up, credentials, counts
    POST   /__emulator__/reset                    {"seed"?, "people"?, ...generate_church options}
    POST   /__emulator__/people/{id}              {"FirstName": ..., "PhoneNumbers": {"Mobile":
                                                   "2145550100" | null}, "AttributeValues":
                                                   {"Key": "value"}}  edit like the UI
    POST   /__emulator__/people/{id}/deceased     {"date"?: "2026-01-31"}
    POST   /__emulator__/merge                    {"keep": id, "remove": id, "changes"?: {...}}
    POST   /__emulator__/group-members            {"GroupId", "PersonId", "GroupRoleId"?,
                                                   "GroupMemberStatus"?}
    DELETE /__emulator__/group-members/{id}       remove like the UI (archives where history)
    POST   /__emulator__/groups/{id}              {"Name"?, "CampusId"?, "IsArchived"?, ...}
    POST   /__emulator__/rest-keys                {"key"?, "name"?, "view"?: [...], "edit"?: [...],
                                                   "deny_attributes"?: [...], "admin"?: false}
    POST   /__emulator__/anonymous                {"view"?: [...], "edit"?: [...]}

UI actions run as the seeded administrator (their alias is ``ModifiedByPersonAliasId``) and
bump ``ModifiedDateTime`` the way a save in the web UI does. Errors are ``{"error": "…"}``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pcosync.emulators.control import CONTROL_PREFIX
from pcosync.emulators.rock import people
from pcosync.emulators.rock.attributes import set_attribute_value
from pcosync.emulators.rock.core import ApiError, BadValue, Rights, SaveContext, coerce_json
from pcosync.emulators.rock.schema import ENTITIES, Access
from pcosync.emulators.rock.store import Row
from pcosync.emulators.rock.values import dumps

if TYPE_CHECKING:
    from pcosync.emulators.rock.app import RockEmulator

C = CONTROL_PREFIX


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ControlError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


def _rock_json(payload: Any, status: int = 200) -> Response:
    """Entities written as the API writes them (Rock's date-time format)."""
    return Response(dumps(payload), status, media_type="application/json; charset=utf-8")


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer id") from None


def control_api_routes(emu: RockEmulator) -> list[Route]:
    def ui() -> SaveContext:
        return SaveContext(emu.data.ids["alias:admin"], "ui")

    def person_or_404(person_id: int) -> Row:
        row = emu.data.get("Person", person_id)
        if row is None:
            raise ControlError(404, f"no person with Id {person_id}")
        return row

    def values_for(entity_name: str, body: dict[str, Any]) -> dict[str, Any]:
        entity = ENTITIES[entity_name]
        out: dict[str, Any] = {}
        for key, value in body.items():
            prop = entity.props.get(key)
            if prop is None or prop.access is not Access.RW or not prop.stored or key == "Id":
                raise ControlError(400, f"{key} is not an editable {entity_name} property")
            try:
                out[key] = coerce_json(prop, value, emu.data.tz)
            except BadValue:
                raise ControlError(400, f"{key}: {value!r} does not fit the property") from None
        return out

    def guarded(handler: Any) -> Any:
        async def run(request: Request) -> Response:
            store = emu.data.store  # a UI action is one transaction, like an API write
            store.begin()
            try:
                response: Response = await handler(request)
            except ControlError as exc:
                store.rollback()
                return JSONResponse({"error": str(exc)}, exc.status)
            except ApiError as exc:
                store.rollback()
                message = (
                    (exc.body or {}).get("Message")
                    or (exc.body or {}).get("ExceptionMessage")
                    or str(exc)
                )
                return JSONResponse({"error": message}, exc.status)
            except Exception:
                store.rollback()
                raise
            store.commit()
            emu.flush()
            return response

        return run

    async def info(request: Request) -> Response:
        return JSONResponse(emu.info())

    async def reset(request: Request) -> Response:
        body = await _json(request)
        seed = body.pop("seed", None)
        count = body.pop("people", None)
        try:
            summary = emu.reset(
                None if seed is None else int(seed), None if count is None else int(count), **body
            )
        except (TypeError, ValueError) as exc:
            raise ControlError(400, str(exc)) from None
        return JSONResponse(summary)

    async def edit_person(request: Request) -> Response:
        person = person_or_404(_int(request.path_params["id"], "id"))
        body = await _json(request)
        phones = body.pop("PhoneNumbers", None)
        attributes = body.pop("AttributeValues", None)
        data = emu.data
        ctx = ui()
        if body:
            data.save("Person", person, values_for("Person", body), ctx)
        if phones is not None:
            if not isinstance(phones, dict):
                raise ControlError(400, "PhoneNumbers must map a phone type to a number or null")
            for type_name, number in phones.items():
                _set_phone(emu, person, type_name, number, ctx)
        if attributes is not None:
            if not isinstance(attributes, dict):
                raise ControlError(400, "AttributeValues must map attribute keys to values")
            for key, value in attributes.items():
                set_attribute_value(
                    data,
                    ENTITIES["Person"],
                    person,
                    str(key),
                    "" if value is None else str(value),
                    ctx,
                )
        return _rock_json(emu.shapes.full(ENTITIES["Person"], person))

    async def deceased(request: Request) -> Response:
        person = person_or_404(_int(request.path_params["id"], "id"))
        body = await _json(request)
        when = None
        if body.get("date"):
            try:
                when = date.fromisoformat(str(body["date"]))
            except ValueError:
                raise ControlError(400, "date must be YYYY-MM-DD") from None
        people.mark_deceased(emu.data, person, when, ui())
        return _rock_json(emu.shapes.full(ENTITIES["Person"], person))

    async def merge(request: Request) -> Response:
        body = await _json(request)
        keep = _int(body.get("keep"), "keep")
        remove = _int(body.get("remove"), "remove")
        changes = body.get("changes") or {}
        if not isinstance(changes, dict):
            raise ControlError(400, "changes must be an object of Person properties")
        person_or_404(keep)
        person_or_404(remove)
        if keep == remove:
            raise ControlError(400, "keep and remove must differ")
        result = people.merge(emu.data, keep, remove, values_for("Person", changes), ui())
        emu.auth.repoint(remove, keep)
        emu.flush(meta=True)
        return JSONResponse(result)

    async def add_member(request: Request) -> Response:
        body = await _json(request)
        data = emu.data
        group = data.get("Group", _int(body.get("GroupId"), "GroupId"))
        if group is None:
            raise ControlError(404, "no such group")
        role = body.get("GroupRoleId")
        if role is None:
            gtype = data.get("GroupType", data.val("Group", group, "GroupTypeId"))
            role = data.val("GroupType", gtype, "DefaultGroupRoleId") if gtype else None
        values = {
            "GroupId": group[0],
            "PersonId": _int(body.get("PersonId"), "PersonId"),
            "GroupRoleId": _int(role, "GroupRoleId"),
            "GroupMemberStatus": _int(body.get("GroupMemberStatus", 1), "GroupMemberStatus"),
        }
        person_or_404(values["PersonId"])
        row = data.insert("GroupMember", values, ui())
        return JSONResponse({"Id": row[0]}, 201)

    async def remove_member(request: Request) -> Response:
        data = emu.data
        row = data.get("GroupMember", _int(request.path_params["id"], "id"))
        if row is None or data.val("GroupMember", row, "IsArchived"):
            raise ControlError(404, "no such group member")
        data.remove("GroupMember", row, ui())
        return JSONResponse(
            {"Id": row[0], "archived": bool(data.get("GroupMember", row[0]) is not None)}
        )

    async def edit_group(request: Request) -> Response:
        data = emu.data
        group = data.get("Group", _int(request.path_params["id"], "id"))
        if group is None:
            raise ControlError(404, "no such group")
        body = await _json(request)
        data.save("Group", group, values_for("Group", body), ui())
        return _rock_json(emu.shapes.full(ENTITIES["Group"], group))

    async def rest_key(request: Request) -> Response:
        body = await _json(request)
        rights = (
            Rights.admin()
            if body.get("admin")
            else Rights(
                set(body.get("view") or []),
                set(body.get("edit") or []),
                set(body.get("deny_attributes") or []),
            )
        )
        login = emu.add_rest_key(
            str(body.get("name") or "Limited REST Key"), body.get("key"), rights
        )
        emu.flush(meta=True)
        person = emu.data.get("Person", login.person_id) or []
        return JSONResponse(
            {
                "key": login.api_key,
                "person_id": login.person_id,
                "alias_id": emu.data.computes["person.primary_alias_id"](person),
                "rights": rights.as_dict(),
            },
            201,
        )

    async def anonymous(request: Request) -> Response:
        body = await _json(request)
        emu.auth.anonymous = Rights(set(body.get("view") or []), set(body.get("edit") or []))
        emu.flush(meta=True)
        return JSONResponse(emu.auth.anonymous.as_dict())

    return [
        Route(f"{C}/info", guarded(info), methods=["GET"]),
        Route(f"{C}/reset", guarded(reset), methods=["POST"]),
        Route(f"{C}/people/{{id}}", guarded(edit_person), methods=["POST"]),
        Route(f"{C}/people/{{id}}/deceased", guarded(deceased), methods=["POST"]),
        Route(f"{C}/merge", guarded(merge), methods=["POST"]),
        Route(f"{C}/group-members", guarded(add_member), methods=["POST"]),
        Route(f"{C}/group-members/{{id}}", guarded(remove_member), methods=["DELETE"]),
        Route(f"{C}/groups/{{id}}", guarded(edit_group), methods=["POST"]),
        Route(f"{C}/rest-keys", guarded(rest_key), methods=["POST"]),
        Route(f"{C}/anonymous", guarded(anonymous), methods=["POST"]),
    ]


def _set_phone(
    emu: RockEmulator, person: Row, type_name: str, number: Any, ctx: SaveContext
) -> None:
    data = emu.data
    type_id = data.ids.get(f"dv:phone_type:{type_name.lower()}")
    if type_id is None:
        raise ControlError(400, f"unknown phone type {type_name!r} (Mobile, Home, Work)")
    ph = ENTITIES["PhoneNumber"].col
    existing = [
        p
        for p in data.table("PhoneNumber").lookup("PersonId", person[0])
        if p[ph["NumberTypeValueId"]] == type_id
    ]
    if number is None or str(number).strip() == "":
        for phone in existing:
            data.remove("PhoneNumber", phone, ctx)
        return
    text = str(number)
    if text.startswith("+1"):
        text = text[2:]
    if existing:
        data.save("PhoneNumber", existing[0], {"Number": text}, ctx)
    else:
        data.insert(
            "PhoneNumber",
            {
                "PersonId": person[0],
                "Number": text,
                "CountryCode": "1",
                "NumberTypeValueId": type_id,
                "IsMessagingEnabled": type_name.lower() == "mobile",
            },
            ctx,
        )
