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
                                               "reset"?: true}
    GET    /__emulator__/webhooks                            delivery attempts so far

Actions answer with the changed resource as the API would render it (default versions), or
a small JSON object; a missing record is the API's 404 document.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pcosync.emulators.control import CONTROL_PREFIX
from pcosync.emulators.pco import people_resources as people
from pcosync.emulators.pco import services_resources as services
from pcosync.emulators.pco.jsonapi import ApiError, ResourceSpec, single_doc

if TYPE_CHECKING:
    from pcosync.emulators.pco.app import PcoEmulator

C = CONTROL_PREFIX


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


def control_api_routes(emu: PcoEmulator) -> list[Route]:
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
            if body.get("reset"):
                lim.reset()
        lim = emu.limiter
        return JSONResponse(
            {
                "limit": lim.limit,
                "period": lim.period,
                "deep_offset_limit": lim.deep_limit,
                "window": "fixed",
            }
        )

    async def webhook_attempts(request: Request) -> Response:
        return JSONResponse(
            {"attempts": emu.webhooks.attempts, "in_flight": len(emu.webhooks.tasks)}
        )

    return [
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
