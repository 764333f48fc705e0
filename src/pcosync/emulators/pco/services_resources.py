"""Services resources: how each Services record renders, and what can be queried, ordered,
included and filtered (spec §5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from operator import attrgetter
from typing import Any

from pcosync.emulators.pco.jsonapi import (
    Ctx,
    Field,
    FilterFn,
    Include,
    Json,
    ResourceSpec,
    fmt_dt,
    parent_meta,
    sparse,
    to_one,
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
from pcosync.emulators.pco.people_resources import EMAIL, avatar, person_name

S = "/services/v2"


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


def services_person_of(ctx: Ctx, person_id: int) -> ServicesPerson | None:
    sp = ctx.store.services_people.get(person_id)
    if sp is None or ctx.store.people.get(person_id) is None:
        return None
    return sp


def _team_positions_of(c: Ctx, t: Team) -> list[TeamPosition]:
    return c.store.positions.children(t.id)


def people_on_team(c: Ctx, t: Team) -> list[ServicesPerson]:
    ids = sorted({a.person_id for a in c.store.assignments_on_team(t.id)})
    return [sp for i in ids if (sp := services_person_of(c, i)) is not None]


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
        Include("people", lambda: SERVICES_PERSON, people_on_team, True, rel("people")),
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
            lambda c, a: services_person_of(c, a.person_id),
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
            lambda c, lead: services_person_of(c, lead.person_id),
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
