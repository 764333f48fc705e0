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

from collections.abc import Callable
from datetime import UTC, datetime, time
from operator import attrgetter
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pcosync.emulators.pco.jsonapi import (
    Ctx,
    Field,
    FilterFn,
    Include,
    Json,
    ResourceSpec,
    attributes_of,
    check_assignable,
    collection_doc,
    ctx_of,
    document,
    fmt_dt,
    no_content,
    not_found,
    parent_meta,
    read_data,
    single_doc,
    sparse,
    to_one,
    unprocessable,
    validation_error,
)
from pcosync.emulators.pco.model import (
    Assignment,
    Folder,
    ServicesPerson,
    ServiceType,
    Tag,
    TagGroup,
    Team,
    TeamLeader,
    TeamPosition,
)
from pcosync.emulators.pco.people import EMAIL, avatar, person_name
from pcosync.emulators.pco.store import whole_seconds

S = "/services/v2"
SCHEDULE_PREFERENCES = (
    "Every week", "Every other week", "Every 3rd week", "Every 4th week", "Every 5th week",
    "Every 6th week", "Once a month", "Twice a month", "Three times a month", "Choose Weeks",
    "Unavailable", "Once a quarter",
)  # fmt: skip
PERMISSIONS = ("Scheduled Viewer", "Viewer", "Scheduler", "Editor", "Administrator")
PTPA_RESOURCE = "PersonMinistryPosition"  # PCO's internal name shows in its errors (#1328)


def org_parent(ctx: Ctx) -> Json:
    return parent_meta("Organization", ctx.store.org.id)


def _f(name: str, kind: str, get: Callable[[Any], Any] | None = None) -> Field:
    return Field(name, kind, get or attrgetter(name))


def _midnight(value: Any) -> str | None:
    """Services renders People dates as date_time (spec §2.8)."""
    if value is None:
        return None
    return fmt_dt(datetime.combine(value, time(0), UTC))


# ---- renderers -------------------------------------------------------------------------


def render_folder(ctx: Ctx, f: Folder, full: bool) -> Json:
    self_url = ctx.url(f"{S}/folders/{f.id}")
    links: Json = {"self": self_url}
    if full:
        links = {
            "folder_paths": f"{self_url}/folder_paths",
            "folders": f"{self_url}/folders",
            "service_types": f"{self_url}/service_types",
            "self": self_url,
        }
    return {
        "type": "Folder",
        "id": str(f.id),
        "attributes": sparse(
            ctx,
            "Folder",
            {
                "container": "Folder" if f.parent_id else "Organization",
                "created_at": fmt_dt(f.created_at),
                "name": f.name,
                "updated_at": fmt_dt(f.updated_at),
            },
        ),
        "relationships": {
            "parent": to_one("Folder", f.parent_id),
            "campus": to_one("Campus", f.campus_id),
        },
        "links": links,
    }


def render_service_type(ctx: Ctx, st: ServiceType, full: bool) -> Json:
    attrs: Json = {
        "archived_at": fmt_dt(st.archived_at),
        "attachment_types_enabled": False,
        "background_check_permissions": "default",
        "comment_permissions": "Scheduled Viewer",
        "created_at": fmt_dt(st.created_at),
    }
    if ctx.version >= "2018-11-01":
        attrs["custom_item_types"] = []
    attrs.update(
        deleted_at=fmt_dt(st.deleted_at),
        frequency=st.frequency,
        last_plan_from="organization",
        name=st.name,
        permissions="Administrator",
        sequence=st.sequence,
    )
    if ctx.version >= "2018-11-01":
        attrs["standard_item_types"] = []
    attrs["updated_at"] = fmt_dt(st.updated_at)
    self_url = ctx.url(f"{S}/service_types/{st.id}")
    links: Json = {"self": self_url}
    if full:
        links = {
            name: f"{self_url}/{name}"
            for name in (
                "attachment_types",
                "plan_templates",
                "plan_times",
                "plans",
                "public_view",
                "team_positions",
                "teams",
                "time_preference_options",
            )
        }
        links["self"] = self_url
    return {
        "type": "ServiceType",
        "id": str(st.id),
        "attributes": sparse(ctx, "ServiceType", attrs),
        "relationships": {"parent": to_one("Folder", st.folder_id)},
        "links": links,
    }


def render_team(ctx: Ctx, t: Team, full: bool) -> Json:
    attrs: Json = {
        "archived_at": fmt_dt(t.archived_at),
        "assigned_directly": t.assigned_directly,
        "created_at": fmt_dt(t.created_at),
        "default_prepare_notifications": t.default_prepare_notifications,
        "default_status": t.default_status,
        "deleted_at": fmt_dt(t.deleted_at),
        "last_plan_from": "organization",
        "name": t.name,
        "rehearsal_team": t.rehearsal_team,
        "schedule_to": t.schedule_to,
        "secure_team": t.secure_team,
        "sequence": t.sequence,
        "stage_color": t.stage_color,
        "stage_variant": t.stage_variant,
        "updated_at": fmt_dt(t.updated_at),
        "viewers_see": t.viewers_see,
    }
    self_url = ctx.url(f"{S}/teams/{t.id}")
    links: Json = {"self": self_url}
    if full:
        links = {
            name: f"{self_url}/{name}"
            for name in (
                "people",
                "person_team_position_assignments",
                "plan_people",
                "service_type",
                "team_leaders",
                "team_positions",
            )
        }
        links["self"] = self_url
    return {
        "type": "Team",
        "id": str(t.id),
        "attributes": sparse(ctx, "Team", attrs),
        "relationships": {
            "service_type": to_one("ServiceType", t.service_type_id),
            "default_responds_to": to_one("Person", 0),
        },  # 0 = all leaders
        "links": links,
    }


def render_position(ctx: Ctx, tp: TeamPosition, full: bool) -> Json:
    team = ctx.store.teams.get(tp.team_id)
    st = team.service_type_id if team else 0
    return {
        "type": "TeamPosition",
        "id": str(tp.id),
        "attributes": sparse(
            ctx,
            "TeamPosition",
            {
                "name": tp.name,
                "negative_tag_groups": [],
                "sequence": tp.sequence,
                "tag_groups": [],
                "tags": [],
            },
        ),
        "relationships": {
            "team": to_one("Team", tp.team_id),
            "attachment_types": {"data": []},
            "tags": {"data": []},
        },
        "links": {"self": ctx.url(f"{S}/service_types/{st}/team_positions/{tp.id}")},
    }


def render_services_person(ctx: Ctx, sp: ServicesPerson, full: bool) -> Json:
    p = ctx.store.people.rows[sp.id]
    photo = avatar(p)
    attrs: Json = {
        "access_media_attachments": False,
        "access_plan_attachments": False,
        "access_song_attachments": False,
        "anniversary": _midnight(p.anniversary),
        "archived": sp.archived_at is not None,
        "archived_at": fmt_dt(sp.archived_at),
        "assigned_to_rehearsal_team": False,
        "birthdate": _midnight(p.birthdate),
        "created_at": fmt_dt(sp.created_at),
        "first_name": p.first_name,
        "full_name": person_name(p),
        "given_name": p.given_name,
        "ical_code": f"{sp.id:x}",
        "last_name": p.last_name,
        "legacy_id": sp.legacy_id,
        "logged_in_at": None,
        "max_permissions": sp.permissions,
        "max_plan_permissions": sp.permissions,
        "media_permissions": "Viewer",
        "middle_name": p.middle_name,
        "name_prefix": None,
        "name_suffix": None,
        "nickname": p.nickname,
        "notes": sp.notes,
        "passed_background_check": p.passed_background_check,
        "permissions": sp.permissions,
        "photo_thumbnail_url": photo,
        "photo_url": photo,
        "preferred_app": sp.preferred_app,
        "preferred_max_plans_per_day": None,
        "preferred_max_plans_per_month": None,
        "site_administrator": p.site_administrator,
        "song_permissions": "Viewer",
        "status": p.status,
        "updated_at": fmt_dt(sp.updated_at),
    }
    self_url = ctx.url(f"{S}/people/{sp.id}")
    links: Json = {"self": self_url}
    if full:
        links = {
            name: f"{self_url}/{name}"
            for name in (
                "assign_tags",
                "blockouts",
                "emails",
                "person_team_position_assignments",
                "plan_people",
                "schedules",
                "scheduling_preferences",
                "tags",
                "team_leaders",
            )
        }
        links["self"] = self_url
    return {
        "type": "Person",
        "id": str(sp.id),
        "attributes": sparse(ctx, "Person", attrs),
        "links": links,
    }


def render_assignment(ctx: Ctx, a: Assignment, full: bool) -> Json:
    return {
        "type": "PersonTeamPositionAssignment",
        "id": str(a.id),
        "attributes": sparse(
            ctx,
            "PersonTeamPositionAssignment",
            {
                "created_at": fmt_dt(a.created_at),
                "preferred_weeks": list(a.preferred_weeks),
                "schedule_preference": a.schedule_preference,
                "updated_at": fmt_dt(a.updated_at),
            },
        ),
        "relationships": {
            "person": to_one("Person", a.person_id),
            "team_position": to_one("TeamPosition", a.team_position_id),
            "time_preference_options": {"data": []},
        },
        "links": {
            "self": ctx.url(f"{S}/people/{a.person_id}/person_team_position_assignments/{a.id}")
        },
    }


def render_leader(ctx: Ctx, lead: TeamLeader, full: bool) -> Json:
    return {
        "type": "TeamLeader",
        "id": str(lead.id),
        "attributes": {
            "send_responses_for_accepts": lead.send_responses_for_accepts,
            "send_responses_for_blockouts": lead.send_responses_for_blockouts,
            "send_responses_for_declines": lead.send_responses_for_declines,
        },
        "relationships": {
            "person": to_one("Person", lead.person_id),
            "team": to_one("Team", lead.team_id),
        },
        "links": {"self": ctx.url(f"{S}/teams/{lead.team_id}/team_leaders/{lead.id}")},
    }


def render_tag_group(ctx: Ctx, g: TagGroup, full: bool) -> Json:
    self_url = ctx.url(f"{S}/tag_groups/{g.id}")
    return {
        "type": "TagGroup",
        "id": str(g.id),
        "attributes": {
            "allow_multiple_selections": g.allow_multiple_selections,
            "name": g.name,
            "required": g.required,
            "service_type_folder_name": None,
            "tags_for": g.tags_for,
        },
        "relationships": {"folder": to_one("Folder", None)},
        "links": {"folder": None, "self": self_url, "tags": f"{self_url}/tags"}
        if full
        else {"self": self_url},
    }


def render_tag(ctx: Ctx, t: Tag, full: bool) -> Json:
    return {
        "type": "Tag",
        "id": str(t.id),
        "attributes": {"name": t.name},
        "relationships": {"tag_group": to_one("TagGroup", t.tag_group_id)},
        "links": {"self": ctx.url(f"{S}/tag_groups/{t.tag_group_id}/tags/{t.id}")},
    }


def render_services_org(ctx: Ctx, _: Any, full: bool) -> Json:
    s = ctx.store
    return {
        "type": "Organization",
        "id": str(s.org.id),
        "attributes": {
            "ccli": None,
            "created_at": "2016-01-04T15:00:00Z",
            "date_format": "US",
            "name": s.org.name,
            "owner_name": None,
            "people_allowed": 1_000_000,
            "people_remaining": 1_000_000 - len(s.services_people),
            "time_zone": s.org.time_zone,
            "twenty_four_hour_time": False,
            "updated_at": "2016-01-04T15:00:00Z",
        },
        "links": {"self": ctx.url(S)},
    }


# ---- specifications ----------------------------------------------------------------------


def _services_person(ctx: Ctx, person_id: int) -> ServicesPerson | None:
    sp = ctx.store.services_people.get(person_id)
    if sp is None or ctx.store.people.get(person_id) is None:
        return None
    return sp


def _team_positions_of(c: Ctx, t: Team) -> list[TeamPosition]:
    return c.store.positions.children(t.id)


def _team_people(c: Ctx, t: Team) -> list[ServicesPerson]:
    ids = sorted({a.person_id for a in c.store.assignments_on_team(t.id)})
    return [sp for i in ids if (sp := _services_person(c, i)) is not None]


FOLDER: ResourceSpec = ResourceSpec(
    "Folder",
    render_folder,
    lambda ctx: [_f("parent_id", "id")],
    lambda ctx: [_f("name", "str")],
    lambda ctx: [
        Include(
            "service_types",
            lambda: SERVICE_TYPE,
            lambda c, f: c.store.service_types.children(f.id),
            True,
            lambda c, f: c.url(f"{S}/folders/{f.id}/service_types"),
        )
    ],
)


def _st_query(ctx: Ctx) -> list[Field]:
    if ctx.version < "2018-11-01":
        return [Field("parent_id", "id", attrgetter("folder_id"))]
    return [_f("id", "id"), _f("name", "str"), Field("parent_id", "id", attrgetter("folder_id"))]


def _st_filters(ctx: Ctx) -> dict[str, FilterFn]:
    if ctx.version < "2018-11-01":  # the recorded 2018-08-01 list offers no filter
        return {}
    return {"no_parent": lambda c, rows: [r for r in rows if r.folder_id is None]}


SERVICE_TYPE: ResourceSpec = ResourceSpec(
    "ServiceType",
    render_service_type,
    _st_query,
    lambda ctx: [_f("sequence", "int"), _f("name", "str")],
    lambda ctx: [
        Include(
            "time_preference_options",
            lambda: SERVICE_TYPE,
            lambda c, st: [],
            True,
            lambda c, st: c.url(f"{S}/service_types/{st.id}/time_preference_options"),
        )
    ],
    _st_filters,
)


def team_includes(ctx: Ctx) -> list[Include]:
    def rel(name: str) -> Callable[[Ctx, Team], str]:
        return lambda c, t: c.url(f"{S}/teams/{t.id}/{name}")

    return [
        Include("people", lambda: SERVICES_PERSON, _team_people, True, rel("people")),
        Include(
            "person_team_position_assignments",
            lambda: ASSIGNMENT,
            lambda c, t: c.store.assignments_on_team(t.id),
            True,
            rel("person_team_position_assignments"),
        ),
        Include(
            "service_types",
            lambda: SERVICE_TYPE,
            lambda c, t: [st] if (st := c.store.service_types.get(t.service_type_id)) else [],
            True,
            rel("service_types"),
        ),
        Include(
            "team_leaders",
            lambda: LEADER,
            lambda c, t: c.store.leaders.children(t.id),
            True,
            rel("team_leaders"),
        ),
        Include(
            "team_positions", lambda: POSITION, _team_positions_of, True, rel("team_positions")
        ),
    ]


TEAM: ResourceSpec = ResourceSpec(
    "Team",
    render_team,
    lambda ctx: [_f("name", "str")],
    lambda ctx: [_f("created_at", "datetime"), _f("name", "str"), _f("updated_at", "datetime")],
    team_includes,
)
POSITION: ResourceSpec = ResourceSpec(
    "TeamPosition",
    render_position,
    order_by=lambda ctx: [_f("name", "str")],
    includes=lambda ctx: [
        Include(
            "tags",
            lambda: TAG,
            lambda c, tp: [],
            True,
            lambda c, tp: c.url(f"{S}/teams/{tp.team_id}/team_positions/{tp.id}/tags"),
        ),
        Include(
            "team",
            lambda: TEAM,
            lambda c, tp: c.store.teams.get(tp.team_id),
            False,
            lambda c, tp: c.url(f"{S}/teams/{tp.team_id}"),
        ),
    ],
)


def _person_attr(name: str) -> Callable[[Ctx], Field]:
    def make(ctx: Ctx) -> Field:
        people = ctx.store.people
        return Field(
            name, "str", lambda r: getattr(p, name) if (p := people.get(r.person_id)) else None
        )

    return make


ASSIGNMENT: ResourceSpec = ResourceSpec(
    "PersonTeamPositionAssignment",
    render_assignment,
    order_by=lambda ctx: [_person_attr("first_name")(ctx), _person_attr("last_name")(ctx)],
    includes=lambda ctx: [
        Include(
            "person",
            lambda: SERVICES_PERSON,
            lambda c, a: _services_person(c, a.person_id),
            False,
            lambda c, a: c.url(f"{S}/people/{a.person_id}"),
        ),
        Include(
            "team_position",
            lambda: POSITION,
            lambda c, a: c.store.positions.get(a.team_position_id),
            False,
            lambda c, a: c.url(
                f"{S}/people/{a.person_id}/person_team_position_assignments/{a.id}/team_position"
            ),
        ),
    ],
)


def _team_state_filters(team_of: Callable[[Ctx, Any], Team | None]) -> dict[str, FilterFn]:
    def not_archived(c: Ctx, rows: list[Any]) -> list[Any]:
        return [r for r in rows if (t := team_of(c, r)) is not None and t.archived_at is None]

    def not_deleted(c: Ctx, rows: list[Any]) -> list[Any]:
        return [r for r in rows if (t := team_of(c, r)) is not None and t.deleted_at is None]

    return {"not_archived": not_archived, "not_deleted": not_deleted}


def _assignment_team(c: Ctx, a: Assignment) -> Team | None:
    tp = c.store.positions.get(a.team_position_id)
    return c.store.teams.get(tp.team_id) if tp else None


ASSIGNMENT_PERSON_FILTERS = _team_state_filters(_assignment_team)
LEADER_PERSON_FILTERS = _team_state_filters(lambda c, lead: c.store.teams.get(lead.team_id))

LEADER: ResourceSpec = ResourceSpec(
    "TeamLeader",
    render_leader,
    includes=lambda ctx: [
        Include(
            "people",
            lambda: SERVICES_PERSON,
            lambda c, lead: _services_person(c, lead.person_id),
            False,
            lambda c, lead: c.url(f"{S}/people/{lead.person_id}"),
            rel_name="person",
        ),
        Include(
            "team",
            lambda: TEAM,
            lambda c, lead: c.store.teams.get(lead.team_id),
            False,
            lambda c, lead: c.url(f"{S}/teams/{lead.team_id}"),
        ),
    ],
)


def _sp_field(name: str, kind: str) -> Callable[[Ctx], Field]:
    def make(ctx: Ctx) -> Field:
        if name in ("created_at", "updated_at"):
            return _f(name, kind)
        people = ctx.store.people
        return Field(name, kind, lambda sp: getattr(people.rows[sp.id], name, None))

    return make


SERVICES_PERSON: ResourceSpec = ResourceSpec(
    "Person",
    render_services_person,
    lambda ctx: [
        Field("assigned_to_rehearsal_team", "bool", lambda sp: False),
        _f("legacy_id", "str"),
    ],
    lambda ctx: [
        _f("created_at", "datetime"),
        _sp_field("first_name", "str")(ctx),
        _sp_field("last_name", "str")(ctx),
        _f("updated_at", "datetime"),
    ],
    lambda ctx: [
        Include(
            "emails",
            lambda: EMAIL,
            lambda c, sp: c.store.emails.children(sp.id),
            True,
            lambda c, sp: c.url(f"{S}/people/{sp.id}/emails"),
        ),
        Include(
            "tags",
            lambda: TAG,
            lambda c, sp: [t for i in sorted(sp.tag_ids) if (t := c.store.tags.get(i))],
            True,
            lambda c, sp: c.url(f"{S}/people/{sp.id}/tags"),
        ),
        Include(
            "team_leaders",
            lambda: LEADER,
            lambda c, sp: [lead for lead in c.store.leaders if lead.person_id == sp.id],
            True,
            lambda c, sp: c.url(f"{S}/people/{sp.id}/team_leaders"),
        ),
    ],
)


def _tags_for(kind: str) -> FilterFn:
    return lambda c, rows: [g for g in rows if g.tags_for == kind]


TAG_GROUP: ResourceSpec = ResourceSpec(
    "TagGroup",
    render_tag_group,
    lambda ctx: [_f("name", "str"), _f("tags_for", "str")],
    lambda ctx: [_f("name", "str")],
    lambda ctx: [
        Include(
            "folder",
            lambda: FOLDER,
            lambda c, g: None,
            False,
            lambda c, g: c.url(f"{S}/tag_groups/{g.id}/folder"),
        ),
        Include(
            "tags",
            lambda: TAG,
            lambda c, g: c.store.tags.children(g.id),
            True,
            lambda c, g: c.url(f"{S}/tag_groups/{g.id}/tags"),
        ),
    ],
    lambda ctx: {kind: _tags_for(kind) for kind in ("person", "song", "arrangement", "media")},
)
TAG: ResourceSpec = ResourceSpec(
    "Tag", render_tag, lambda ctx: [_f("name", "str")], lambda ctx: [_f("name", "str")]
)
SERVICES_ORG: ResourceSpec = ResourceSpec("Organization", render_services_org)


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
    sp = _services_person(ctx, person_id)
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
        data = await read_data(request)
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
            data = await read_data(request)
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
        data = await read_data(request)
        attrs = attributes_of(data)
        check_assignable(attrs, PTPA_CREATE)
        values = _assignment_values(ctx, attrs)
        pid = attrs.get("person_id")
        try:
            person_id = int(pid) if pid is not None and not isinstance(pid, bool) else None
        except (TypeError, ValueError):
            person_id = None
        if person_id is None or _services_person(ctx, person_id) is None:
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
        data = await read_data(request)
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
    return _list(ctx, request, SERVICES_PERSON, _team_people(ctx, t), parent_meta("Team", t.id))


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
        data = await read_data(request)
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
