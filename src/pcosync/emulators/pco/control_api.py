"""``/__emulator__/`` routes of the Planning Center emulator: reset and the web UI's actions.

Beside the shared ``stats``, ``requests``, ``faults`` and ``clock`` routes::

    GET    /__emulator__/info                              counts, ids, versions
    POST   /__emulator__/reset                {"seed", "people", ...generate_church options}
    POST   /__emulator__/people/{id}          {"first_name": ..., ...}  edit like the UI
    POST   /__emulator__/merge                {"keep": id, "remove": id}
    POST   /__emulator__/teams/{id}/{archive|unarchive|delete|restore}
    POST   /__emulator__/services/people/{id}                add to Services
    DELETE /__emulator__/services/people/{id}                remove from Services
    POST   /__emulator__/services/people/{id}/{archive|unarchive}
    POST   /__emulator__/oauth/code           {"user_id"?, "scope"?, "redirect_uri"?}
    POST   /__emulator__/rate_limit           {"limit"?, "period"?, "deep_offset_limit"?,
                                               "retry_after"?, "reset"?: true}
    GET    /__emulator__/webhooks                            delivery attempts so far
    GET    /__emulator__/permissions                         users with simulated access
    POST   /__emulator__/permissions          {"user_id"?, "people"?, "services"?,
                                               "site_administrator"?}
    DELETE /__emulator__/permissions                         every user unrestricted again

``permissions`` gives a user (the token's user by default) the access levels an admin would
set in the web UI: People ``No Access|Viewer|Editor|Manager`` (plus the organisation-wide
``site_administrator`` flag) and Services ``No Access|Scheduled Viewer|Viewer|Scheduler|
Editor|Administrator``. The levels show on the user's records (``/people/v2/me``
``people_permissions``, the Services person's ``permissions``) and are enforced for that
user's API requests with PCO's 403 document: no access to a product refuses everything in
it (People keeps ``GET /people/v2/me``); People below Editor and Services below Scheduler
refuse writes. A site administrator has full People access. Users never set here are not
restricted, whatever their records say.

Actions answer with the changed resource as the API would render it (default versions), or
a small JSON object; a missing record is the API's 404 document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

from pcosync.emulators.control import CONTROL_PREFIX
from pcosync.emulators.pco import people_resources as people
from pcosync.emulators.pco import services_resources as services
from pcosync.emulators.pco.jsonapi import ApiError, ResourceSpec, single_doc

if TYPE_CHECKING:
    from pcosync.emulators.pco.app import PcoEmulator

C = CONTROL_PREFIX

PEOPLE_LEVELS = ("No Access", "Viewer", "Editor", "Manager")
SERVICES_LEVELS = (
    "No Access",
    "Scheduled Viewer",
    "Viewer",
    "Scheduler",
    "Editor",
    "Administrator",
)
# issues #113, #182, #680, #845: what PCO answers a user without the needed access
FORBIDDEN = {
    "status": "403",
    "title": "Forbidden",
    "detail": "You do not have access to this resource",
}
_READS = frozenset({"GET", "HEAD"})


@dataclass
class Access:
    """A user's access levels as set in the web UI (People, Services)."""

    people: str
    services: str
    site_administrator: bool

    def allows(self, method: str, path: str) -> bool:
        if path == "/people/v2" or path.startswith("/people/v2/"):
            if self.site_administrator:
                return True
            if self.people == "No Access":
                return method in _READS and path == "/people/v2/me"
            return method in _READS or PEOPLE_LEVELS.index(self.people) >= 2
        if path == "/services/v2" or path.startswith("/services/v2/"):
            if self.services == "No Access":
                return False
            return method in _READS or SERVICES_LEVELS.index(self.services) >= 3
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "services": self.services,
            "site_administrator": self.site_administrator,
        }


class PermissionGate(BaseRoute):
    """Placed before the API routes: matches exactly the requests a restricted user may not
    make (the gate has authenticated them already), and answers those with PCO's 403."""

    def __init__(self, grants: dict[int, Access]) -> None:
        self.grants = grants

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        ctx = (scope.get("state") or {}).get("pco_ctx")
        access = self.grants.get(ctx.user_id) if ctx is not None else None
        if access is None or access.allows(scope["method"], scope["path"]):
            return Match.NONE, {}
        return Match.FULL, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await ApiError(403, [dict(FORBIDDEN)]).response()(scope, receive, send)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(
            400,
            [{"status": "400", "title": "Bad Request", "detail": "the body must be a JSON object"}],
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            400,
            [{"status": "400", "title": "Bad Request", "detail": "the body must be a JSON object"}],
        )
    return body


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, [{"status": "400", "title": "Bad Request", "detail": f"{name} must be an id"}]
        ) from None


def control_api_routes(emu: PcoEmulator) -> list[BaseRoute]:
    grants: dict[int, Access] = {}

    def doc(spec: ResourceSpec, record: Any, product: str = "people") -> Response:
        ctx = emu.make_ctx(product)
        body = single_doc(
            ctx,
            spec,
            record,
            parent={"id": str(emu.store.org.id), "type": "Organization"},
            query=ctx.query,
        )
        return JSONResponse(body)

    async def info(request: Request) -> Response:
        return JSONResponse(emu.summary())

    async def reset(request: Request) -> Response:
        body = await _json(request)
        seed = body.pop("seed", None)
        count = body.pop("people", None)
        try:
            summary = emu.reset(
                None if seed is None else int(seed), None if count is None else int(count), **body
            )
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        grants.clear()
        return JSONResponse(summary)

    async def edit_person(request: Request) -> Response:
        body = await _json(request)
        attributes = body.get("attributes", body)
        person = emu.edit_person(request.path_params["pid"], attributes)
        return doc(people.PERSON, person)

    async def merge(request: Request) -> Response:
        body = await _json(request)
        merger = emu.merge(_int(body.get("keep"), "keep"), _int(body.get("remove"), "remove"))
        return doc(people.MERGER, merger)

    async def team_action(request: Request) -> Response:
        team = emu.set_team_state(request.path_params["tid"], request.path_params["action"])
        return doc(services.TEAM, team, "services")

    async def services_person(request: Request) -> Response:
        pid = request.path_params["pid"]
        if request.method == "DELETE":
            emu.remove_from_services(pid)
            return Response(status_code=204)
        return doc(services.SERVICES_PERSON, emu.add_to_services(pid), "services")

    async def services_archive(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("archive", "unarchive"):
            return JSONResponse({"error": f"unknown action {action!r}"}, 400)
        sp = emu.archive_services_person(request.path_params["pid"], action == "archive")
        return doc(services.SERVICES_PERSON, sp, "services")

    async def oauth_code(request: Request) -> Response:
        body = await _json(request)
        user = body.get("user_id")
        scope = str(body.get("scope", "people services webhooks"))
        redirect_uri = body.get("redirect_uri")
        code = emu.issue_oauth_code(
            None if user is None else _int(user, "user_id"),
            scope,
            None if redirect_uri is None else str(redirect_uri),
        )
        return JSONResponse(
            {
                "code": code,
                "client_id": emu.oauth.client_id,
                "client_secret": emu.oauth.client_secret,
                "scope": scope,
                "redirect_uri": redirect_uri,
                "expires_in": 600,
            }
        )

    async def rate_limit(request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            lim = emu.limiter
            if "limit" in body:
                lim.limit = int(body["limit"])
                lim.deep_limit = max(1, lim.limit * 3 // 4)
            if "period" in body:
                lim.period = float(body["period"])
            if "deep_offset_limit" in body:
                lim.deep_limit = int(body["deep_offset_limit"])
            if "retry_after" in body:  # "window" | null (no header) | a number, even negative
                raw = body["retry_after"]
                lim.retry_after = raw if raw is None or raw == "window" else int(raw)
            if body.get("reset"):
                lim.reset()
        lim = emu.limiter
        return JSONResponse(
            {
                "limit": lim.limit,
                "period": lim.period,
                "deep_offset_limit": lim.deep_limit,
                "retry_after": lim.retry_after,
                "window": "fixed",
            }
        )

    async def webhook_attempts(request: Request) -> Response:
        return JSONResponse(
            {"attempts": emu.webhooks.attempts, "in_flight": len(emu.webhooks.tasks)}
        )

    def listed() -> Response:
        return JSONResponse({str(uid): access.as_dict() for uid, access in grants.items()})

    async def permissions(request: Request) -> Response:
        if request.method == "GET":
            return listed()
        if request.method == "DELETE":
            grants.clear()
            return listed()
        body = await _json(request)
        unknown = set(body) - {"user_id", "people", "services", "site_administrator"}
        if unknown:
            return JSONResponse({"error": f"unknown keys {sorted(unknown)}"}, 400)
        raw_user = body.get("user_id", emu.store.pat_user_id)
        person = emu.person(_int(raw_user, "user_id"))
        sp = emu.store.services_people.get(person.id)
        current = grants.get(person.id) or Access(
            person.people_permissions or "No Access",
            sp.permissions if sp is not None else "No Access",
            person.site_administrator,
        )
        people_level = str(body.get("people", current.people))
        services_level = str(body.get("services", current.services))
        if people_level not in PEOPLE_LEVELS:
            return JSONResponse({"error": f"people must be one of {list(PEOPLE_LEVELS)}"}, 400)
        if services_level not in SERVICES_LEVELS:
            return JSONResponse({"error": f"services must be one of {list(SERVICES_LEVELS)}"}, 400)
        access = Access(
            people_level,
            services_level,
            bool(body.get("site_administrator", current.site_administrator)),
        )
        grants[person.id] = access
        person.people_permissions = None if people_level == "No Access" else people_level
        person.site_administrator = access.site_administrator
        emu.store.mark("person", person.id)
        if sp is not None and services_level != "No Access":
            sp.permissions = services_level
            emu.store.mark("services_person", sp.id)
        return JSONResponse({"user_id": str(person.id), **access.as_dict()})

    return [
        PermissionGate(grants),
        Route(f"{C}/permissions", permissions, methods=["GET", "POST", "DELETE"]),
        Route(f"{C}/info", info, methods=["GET"]),
        Route(f"{C}/reset", reset, methods=["POST"]),
        Route(f"{C}/people/{{pid:int}}", edit_person, methods=["POST", "PATCH"]),
        Route(f"{C}/merge", merge, methods=["POST"]),
        Route(f"{C}/teams/{{tid:int}}/{{action}}", team_action, methods=["POST"]),
        Route(f"{C}/services/people/{{pid:int}}", services_person, methods=["POST", "DELETE"]),
        Route(f"{C}/services/people/{{pid:int}}/{{action}}", services_archive, methods=["POST"]),
        Route(f"{C}/oauth/code", oauth_code, methods=["POST"]),
        Route(f"{C}/rate_limit", rate_limit, methods=["GET", "POST"]),
        Route(f"{C}/webhooks", webhook_attempts, methods=["GET"]),
    ]
