"""``/services/v2``: folders, service types, teams, positions, Services people, assignments.

The rules that bite a sync, as the spec describes them:

- A Services person has the **same id** as the People person and exists only while that
  person has the Services PersonApp; otherwise ``/services/v2/people/{id}`` is 404 and an
  assignment for them is ``422 must exist`` with ``source.parameter: person`` (§5.5, #1417).
- People are assigned to **team positions** (PersonTeamPositionAssignment); person-level
  lists include assignments on archived and soft-deleted teams unless
  ``filter=not_archived,not_deleted`` (§5.6, §5.10).
- Soft-deleted teams stay readable for 30 days of the emulator clock (``deleted_at`` set,
  still listed), refuse new or changed assignments with 422, then vanish: 404 everywhere.
- Services people have no ``where[updated_at]`` (silently ignored) but ``order=-updated_at``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pcosync.emulators.pco.jsonapi import (
    Ctx,
    FilterFn,
    Json,
    ResourceSpec,
    attributes_of,
    check_assignable,
    collection_doc,
    ctx_of,
    document,
    no_content,
    not_found,
    parent_meta,
    read_data,
    single_doc,
    unprocessable,
    validation_error,
)
from pcosync.emulators.pco.model import ServicesPerson, ServiceType, Team, TeamPosition
from pcosync.emulators.pco.services_resources import (
    ASSIGNMENT,
    ASSIGNMENT_PERSON_FILTERS,
    FOLDER,
    LEADER,
    LEADER_PERSON_FILTERS,
    POSITION,
    SERVICE_TYPE,
    SERVICES_ORG,
    SERVICES_PERSON,
    TAG,
    TAG_GROUP,
    TEAM,
    S,
    org_parent,
    people_on_team,
    services_person_of,
)
from pcosync.emulators.pco.store import whole_seconds

SCHEDULE_PREFERENCES = (
    "Every week", "Every other week", "Every 3rd week", "Every 4th week", "Every 5th week",
    "Every 6th week", "Once a month", "Twice a month", "Three times a month", "Choose Weeks",
    "Unavailable", "Once a quarter",
)  # fmt: skip
PERMISSIONS = ("Scheduled Viewer", "Viewer", "Scheduler", "Editor", "Administrator")
PTPA_RESOURCE = "PersonMinistryPosition"  # PCO's internal name shows in its errors (#1328)


# ---- lookups -------------------------------------------------------------------------------


def _team(ctx: Ctx, team_id: int, service_type_id: int | None = None) -> Team:
    team = ctx.store.teams.get(team_id)
    if team is None or (service_type_id is not None and team.service_type_id != service_type_id):
        raise not_found()
    return team


def _service_type(ctx: Ctx, st_id: int) -> ServiceType:
    st = ctx.store.service_types.get(st_id)
    if st is None:
        raise not_found()
    return st


def _position(ctx: Ctx, params: dict[str, Any]) -> TeamPosition:
    """The position of a nested URL, 404 when any parent id does not match (#994)."""
    tp = ctx.store.positions.get(params["tp"])
    if tp is None:
        raise not_found()
    team = ctx.store.teams.get(tp.team_id)
    if team is None:
        raise not_found()
    if "team_id" in params and team.id != params["team_id"]:
        raise not_found()
    if "st" in params and team.service_type_id != params["st"]:
        raise not_found()
    return tp


def _sp_or_404(ctx: Ctx, person_id: int) -> ServicesPerson:
    sp = services_person_of(ctx, person_id)
    if sp is None:
        raise not_found()
    return sp


# ---- handlers --------------------------------------------------------------------------------


def _list(
    ctx: Ctx,
    request: Request,
    spec: ResourceSpec,
    rows: list[Any],
    parent: Json,
    filters: dict[str, FilterFn] | None = None,
) -> Response:
    return document(
        collection_doc(
            ctx, spec, rows, path=request.url.path, parent=parent, query=ctx.query, filters=filters
        )
    )


def _one(ctx: Ctx, spec: ResourceSpec, row: Any, parent: Json, status: int = 200) -> Response:
    return document(single_doc(ctx, spec, row, parent=parent, query=ctx.query), status)


async def organization(request: Request) -> Response:
    ctx = ctx_of(request)
    doc = single_doc(ctx, SERVICES_ORG, None, parent=org_parent(ctx), query=ctx.query)
    doc["meta"].pop("parent", None)
    return document(doc)


async def folders(request: Request) -> Response:
    ctx = ctx_of(request)
    return _list(ctx, request, FOLDER, ctx.store.folders.values(), org_parent(ctx))


async def folder(request: Request) -> Response:
    ctx = ctx_of(request)
    f = ctx.store.folders.get(request.path_params["rid"])
    if f is None:
        raise not_found()
    return _one(ctx, FOLDER, f, org_parent(ctx))


async def folder_children(request: Request) -> Response:
    ctx = ctx_of(request)
    f = ctx.store.folders.get(request.path_params["rid"])
    if f is None:
        raise not_found()
    if request.url.path.endswith("/service_types"):
        rows: list[Any] = ctx.store.service_types.children(f.id)
        return _list(ctx, request, SERVICE_TYPE, rows, parent_meta("Folder", f.id))
    rows = ctx.store.folders.children(f.id)
    return _list(ctx, request, FOLDER, rows, parent_meta("Folder", f.id))


async def service_types(request: Request) -> Response:
    ctx = ctx_of(request)
    return _list(ctx, request, SERVICE_TYPE, ctx.store.service_types.values(), org_parent(ctx))


async def service_type(request: Request) -> Response:
    ctx = ctx_of(request)
    return _one(ctx, SERVICE_TYPE, _service_type(ctx, request.path_params["st"]), org_parent(ctx))


TEAM_CREATE = frozenset(
    {
        "name",
        "archived_at",
        "assigned_directly",
        "rehearsal_team",
        "schedule_to",
        "stage_color",
        "stage_variant",
        "secure_team",
    }
)


async def service_type_teams(request: Request) -> Response:
    ctx = ctx_of(request)
    st = _service_type(ctx, request.path_params["st"])
    if request.method == "POST":
        data = await read_data(request, "Team")
        attrs = attributes_of(data)
        check_assignable(attrs, TEAM_CREATE)
        name = str(attrs.get("name") or "").strip()
        if not name:
            raise unprocessable([validation_error("name", "can't be blank", "Team")])
        now = whole_seconds(ctx.now)
        team = Team(ctx.store.new_id("team"), name, st.id, len(ctx.store.teams), now, now)
        for key in ("assigned_directly", "rehearsal_team", "secure_team"):
            if key in attrs:
                setattr(team, key, bool(attrs[key]))
        for key in ("schedule_to", "stage_color", "stage_variant"):
            if attrs.get(key):
                setattr(team, key, str(attrs[key]))
        if attrs.get("archived_at"):
            team.archived_at = now
        ctx.store.teams.add(team)
        return _one(ctx, TEAM, team, parent_meta("ServiceType", st.id), 201)
    return _list(
        ctx, request, TEAM, ctx.store.teams.children(st.id), parent_meta("ServiceType", st.id)
    )


async def teams(request: Request) -> Response:
    ctx = ctx_of(request)
    return _list(ctx, request, TEAM, ctx.store.teams.values(), org_parent(ctx))


async def team(request: Request) -> Response:
    ctx = ctx_of(request)
    t = _team(ctx, request.path_params["team_id"], request.path_params.get("st"))
    parent = (
        parent_meta("ServiceType", t.service_type_id)
        if "st" in request.path_params
        else org_parent(ctx)
    )
    return _one(ctx, TEAM, t, parent)


async def team_positions(request: Request) -> Response:
    """Positions of a team (POST works though undocumented, #1237) or of a service type."""
    ctx = ctx_of(request)
    params = request.path_params
    if "team_id" in params:
        t = _team(ctx, params["team_id"], params.get("st"))
        if request.method == "POST":
            data = await read_data(request, "TeamPosition")
            attrs = attributes_of(data)
            check_assignable(attrs, ("name", "sequence"))
            name = str(attrs.get("name") or "").strip()
            if not name:
                raise unprocessable([validation_error("name", "can't be blank", "TeamPosition")])
            if t.deleted_at is not None:
                raise unprocessable([validation_error("team", "has been deleted", "TeamPosition")])
            now = whole_seconds(ctx.now)
            tp = TeamPosition(
                ctx.store.new_id("team_position"),
                t.id,
                name,
                len(ctx.store.positions.children(t.id)),
                now,
                now,
            )
            ctx.store.positions.add(tp)
            return _one(ctx, POSITION, tp, parent_meta("Team", t.id), 201)
        return _list(
            ctx, request, POSITION, ctx.store.positions.children(t.id), parent_meta("Team", t.id)
        )
    st = _service_type(ctx, params["st"])
    rows = [
        tp for t in ctx.store.teams.children(st.id) for tp in ctx.store.positions.children(t.id)
    ]
    rows.sort(key=lambda tp: tp.id)
    return _list(ctx, request, POSITION, rows, parent_meta("ServiceType", st.id))


async def team_position(request: Request) -> Response:
    ctx = ctx_of(request)
    tp = _position(ctx, dict(request.path_params))
    return _one(ctx, POSITION, tp, parent_meta("Team", tp.team_id))


def _assignment_values(ctx: Ctx, attrs: Json) -> dict[str, Any]:
    out: dict[str, Any] = {}
    errors: list[Json] = []
    if "schedule_preference" in attrs:
        pref = attrs["schedule_preference"]
        if pref not in SCHEDULE_PREFERENCES:
            errors.append(
                validation_error(
                    "schedule_preference", "is not included in the list", PTPA_RESOURCE
                )
            )
        else:
            out["schedule_preference"] = pref
    if "preferred_weeks" in attrs:
        weeks = attrs["preferred_weeks"]
        if weeks is None:
            out["preferred_weeks"] = []
        elif not isinstance(weeks, list) or any(
            str(w) not in "12345" or str(w) == "" for w in weeks
        ):
            errors.append(validation_error("preferred_weeks", "is invalid", PTPA_RESOURCE))
        else:
            out["preferred_weeks"] = sorted({str(w) for w in weeks})
    if errors:
        raise unprocessable(errors)
    return out


def _refuse_deleted_team(ctx: Ctx, tp: TeamPosition) -> None:
    team = ctx.store.teams.get(tp.team_id)
    if team is not None and team.deleted_at is not None:
        raise unprocessable(
            [validation_error("team_position", "belongs to a deleted team", PTPA_RESOURCE)]
        )


PTPA_CREATE = frozenset(
    {"person_id", "schedule_preference", "preferred_weeks", "time_preference_option_ids"}
)
PTPA_UPDATE = frozenset({"schedule_preference", "preferred_weeks", "time_preference_option_ids"})


async def position_assignments(request: Request) -> Response:
    ctx = ctx_of(request)
    tp = _position(ctx, dict(request.path_params))
    parent = parent_meta("TeamPosition", tp.id)
    if request.method == "POST":
        data = await read_data(request, "PersonTeamPositionAssignment")
        attrs = attributes_of(data)
        check_assignable(attrs, PTPA_CREATE)
        values = _assignment_values(ctx, attrs)
        pid = attrs.get("person_id")
        try:
            person_id = int(pid) if pid is not None and not isinstance(pid, bool) else None
        except (TypeError, ValueError):
            person_id = None
        if person_id is None or services_person_of(ctx, person_id) is None:
            # the People person may exist; without the Services app they "must exist" (#1417)
            raise unprocessable([validation_error("person", "must exist", PTPA_RESOURCE)])
        _refuse_deleted_team(ctx, tp)
        if any(a.person_id == person_id for a in ctx.store.assignments_on_position(tp.id)):
            raise unprocessable(
                [validation_error("person", "has already been taken", PTPA_RESOURCE)]
            )
        a = ctx.store.create_assignment(
            person_id,
            tp,
            values.get("schedule_preference", "Every week"),
            values.get("preferred_weeks", []),
            ctx.now,
        )
        return _one(ctx, ASSIGNMENT, a, parent, 201)
    rows = ctx.store.assignments_on_position(tp.id)
    return _list(
        ctx, request, ASSIGNMENT, rows, parent, filters={"time_preference_options": lambda c, r: r}
    )


async def assignment(request: Request) -> Response:
    """One assignment under a position, a team's position, or a Services person."""
    ctx = ctx_of(request)
    params = dict(request.path_params)
    a = ctx.store.assignments.get(params["rid"])
    if a is None:
        raise not_found()
    if "tp" in params:
        tp = _position(ctx, params)
        if a.team_position_id != tp.id:
            raise not_found()
        parent = parent_meta("TeamPosition", tp.id)
    else:
        _sp_or_404(ctx, params["person_id"])
        if a.person_id != params["person_id"]:
            raise not_found()
        parent = parent_meta("Person", a.person_id)
    position = ctx.store.positions.get(a.team_position_id)
    if request.method == "DELETE":
        ctx.store.delete_assignment(a)
        return no_content()
    if request.method == "PATCH":
        data = await read_data(request, "PersonTeamPositionAssignment", a.id)
        attrs = attributes_of(data)
        check_assignable(attrs, PTPA_UPDATE)
        values = _assignment_values(ctx, attrs)
        if position is not None:
            _refuse_deleted_team(ctx, position)
        ctx.store.update_assignment(a, values, ctx.now)
    return _one(ctx, ASSIGNMENT, a, parent)


async def team_assignments(request: Request) -> Response:
    ctx = ctx_of(request)
    t = _team(ctx, request.path_params["team_id"])
    return _list(
        ctx, request, ASSIGNMENT, ctx.store.assignments_on_team(t.id), parent_meta("Team", t.id)
    )


async def team_leaders(request: Request) -> Response:
    ctx = ctx_of(request)
    t = _team(ctx, request.path_params["team_id"])
    return _list(ctx, request, LEADER, ctx.store.leaders.children(t.id), parent_meta("Team", t.id))


async def team_people(request: Request) -> Response:
    ctx = ctx_of(request)
    t = _team(ctx, request.path_params["team_id"])
    return _list(ctx, request, SERVICES_PERSON, people_on_team(ctx, t), parent_meta("Team", t.id))


async def services_people(request: Request) -> Response:
    ctx = ctx_of(request)
    people = ctx.store.people.rows
    rows = [sp for sp in ctx.store.services_people if sp.id in people]
    return _list(ctx, request, SERVICES_PERSON, rows, org_parent(ctx))


SERVICES_PERSON_UPDATE = frozenset(
    {
        "preferred_app",
        "onboardings",
        "access_media_attachments",
        "access_plan_attachments",
        "access_song_attachments",
        "current_folder_id",
        "permissions",
    }
)


async def services_person(request: Request) -> Response:
    ctx = ctx_of(request)
    sp = _sp_or_404(ctx, request.path_params["person_id"])
    if request.method == "PATCH":
        data = await read_data(request, "Person", sp.id)
        attrs = attributes_of(data)
        check_assignable(attrs, SERVICES_PERSON_UPDATE)
        if "permissions" in attrs:
            if attrs["permissions"] not in PERMISSIONS:
                raise unprocessable(
                    [validation_error("permissions", "is not included in the list", "Person")]
                )
            sp.permissions = attrs["permissions"]
        if attrs.get("preferred_app") in ("services", "music_stand", "services_app"):
            sp.preferred_app = str(attrs["preferred_app"])
        sp.updated_at = whole_seconds(ctx.now)
        ctx.store.mark("services_person", sp.id)
    return _one(ctx, SERVICES_PERSON, sp, org_parent(ctx))


async def person_assignments(request: Request) -> Response:
    ctx = ctx_of(request)
    sp = _sp_or_404(ctx, request.path_params["person_id"])
    return _list(
        ctx,
        request,
        ASSIGNMENT,
        ctx.store.assignments.children(sp.id),
        parent_meta("Person", sp.id),
        filters=ASSIGNMENT_PERSON_FILTERS,
    )


async def person_leaders(request: Request) -> Response:
    ctx = ctx_of(request)
    sp = _sp_or_404(ctx, request.path_params["person_id"])
    rows = [lead for lead in ctx.store.leaders if lead.person_id == sp.id]
    rows.sort(key=lambda lead: lead.id)
    return _list(
        ctx, request, LEADER, rows, parent_meta("Person", sp.id), filters=LEADER_PERSON_FILTERS
    )


async def person_tags(request: Request) -> Response:
    ctx = ctx_of(request)
    sp = _sp_or_404(ctx, request.path_params["person_id"])
    rows = [t for i in sorted(sp.tag_ids) if (t := ctx.store.tags.get(i)) is not None]
    return _list(ctx, request, TAG, rows, parent_meta("Person", sp.id))


async def assign_tags(request: Request) -> Response:
    """Replaces **all** of the person's tags; 204 (spec §5.8)."""
    ctx = ctx_of(request)
    sp = _sp_or_404(ctx, request.path_params["person_id"])
    data = await read_data(request)
    tags = ((data.get("relationships") or {}).get("tags") or {}).get("data")
    if not isinstance(tags, list):
        raise unprocessable([validation_error("tags", "can't be blank", "TagAssignment")])
    ids: list[int] = []
    for item in tags:
        try:
            tid = int(str((item or {}).get("id")))
        except (TypeError, ValueError):
            tid = -1
        if ctx.store.tags.get(tid) is None:
            raise unprocessable([validation_error("tags", "must exist", "TagAssignment")])
        ids.append(tid)
    ctx.store.assign_tags(sp, ids)
    return no_content()


async def tag_groups(request: Request) -> Response:
    ctx = ctx_of(request)
    return _list(ctx, request, TAG_GROUP, ctx.store.tag_groups.values(), org_parent(ctx))


async def tag_group(request: Request) -> Response:
    ctx = ctx_of(request)
    g = ctx.store.tag_groups.get(request.path_params["rid"])
    if g is None:
        raise not_found()
    if request.url.path.endswith("/tags"):
        return _list(
            ctx, request, TAG, ctx.store.tags.children(g.id), parent_meta("TagGroup", g.id)
        )
    return _one(ctx, TAG_GROUP, g, org_parent(ctx))


def routes() -> list[Route]:
    tpa = "person_team_position_assignments"
    st_tp = f"{S}/service_types/{{st:int}}/team_positions/{{tp:int}}"
    st_t_tp = f"{S}/service_types/{{st:int}}/teams/{{team_id:int}}/team_positions/{{tp:int}}"
    return [
        Route(S, organization, methods=["GET"]),
        Route(f"{S}/folders", folders, methods=["GET"]),
        Route(f"{S}/folders/{{rid:int}}", folder, methods=["GET"]),
        Route(f"{S}/folders/{{rid:int}}/folders", folder_children, methods=["GET"]),
        Route(f"{S}/folders/{{rid:int}}/service_types", folder_children, methods=["GET"]),
        Route(f"{S}/service_types", service_types, methods=["GET"]),
        Route(f"{S}/service_types/{{st:int}}", service_type, methods=["GET"]),
        Route(f"{S}/service_types/{{st:int}}/teams", service_type_teams, methods=["GET", "POST"]),
        Route(f"{S}/service_types/{{st:int}}/teams/{{team_id:int}}", team, methods=["GET"]),
        Route(f"{S}/service_types/{{st:int}}/team_positions", team_positions, methods=["GET"]),
        Route(
            f"{S}/service_types/{{st:int}}/teams/{{team_id:int}}/team_positions",
            team_positions,
            methods=["GET", "POST"],
        ),
        Route(st_tp, team_position, methods=["GET"]),
        Route(st_t_tp, team_position, methods=["GET"]),
        Route(f"{st_tp}/{tpa}", position_assignments, methods=["GET", "POST"]),
        Route(f"{st_t_tp}/{tpa}", position_assignments, methods=["GET", "POST"]),
        Route(f"{st_tp}/{tpa}/{{rid:int}}", assignment, methods=["GET", "PATCH", "DELETE"]),
        Route(f"{st_t_tp}/{tpa}/{{rid:int}}", assignment, methods=["GET", "PATCH", "DELETE"]),
        Route(f"{S}/teams", teams, methods=["GET"]),
        Route(f"{S}/teams/{{team_id:int}}", team, methods=["GET"]),
        Route(f"{S}/teams/{{team_id:int}}/team_positions", team_positions, methods=["GET", "POST"]),
        Route(
            f"{S}/teams/{{team_id:int}}/team_positions/{{tp:int}}", team_position, methods=["GET"]
        ),
        Route(f"{S}/teams/{{team_id:int}}/{tpa}", team_assignments, methods=["GET"]),
        Route(f"{S}/teams/{{team_id:int}}/team_leaders", team_leaders, methods=["GET"]),
        Route(f"{S}/teams/{{team_id:int}}/people", team_people, methods=["GET"]),
        Route(f"{S}/people", services_people, methods=["GET"]),
        Route(f"{S}/people/{{person_id:int}}", services_person, methods=["GET", "PATCH"]),
        Route(f"{S}/people/{{person_id:int}}/{tpa}", person_assignments, methods=["GET"]),
        Route(
            f"{S}/people/{{person_id:int}}/{tpa}/{{rid:int}}",
            assignment,
            methods=["GET", "PATCH", "DELETE"],
        ),
        Route(f"{S}/people/{{person_id:int}}/team_leaders", person_leaders, methods=["GET"]),
        Route(f"{S}/people/{{person_id:int}}/tags", person_tags, methods=["GET"]),
        Route(f"{S}/people/{{person_id:int}}/assign_tags", assign_tags, methods=["POST"]),
        Route(f"{S}/tag_groups", tag_groups, methods=["GET"]),
        Route(f"{S}/tag_groups/{{rid:int}}", tag_group, methods=["GET"]),
        Route(f"{S}/tag_groups/{{rid:int}}/tags", tag_group, methods=["GET"]),
    ]
