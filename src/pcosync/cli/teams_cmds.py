"""``pcosync teams``: folder import, its removal, and links between Rock groups and PCO teams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.table import Table
from rich.tree import Tree

from pcosync.app.context import open_connection
from pcosync.app.teams import (
    Action,
    ImportItem,
    ImportPlan,
    RemoveAction,
    RemovePlan,
    TeamImport,
    import_teams,
    remove_import,
)
from pcosync.cli.output import cells, console, err, named
from pcosync.cli.output import esc as escape
from pcosync.cli.progress_view import ProgressView
from pcosync.cli.sync_cmds import config_path, friendly_errors, settings_for
from pcosync.domain.identity import GroupKind
from pcosync.domain.services import SERVICES_PERMISSIONS, parse_permission
from pcosync.errors import UsageError
from pcosync.store import LinkConflict

T = TypeVar("T")

EXIT_PARTIAL = 3

teams_app = typer.Typer(
    help="Mirror Planning Center folders and teams as Rock groups, and link groups to teams.",
    no_args_is_help=True,
)

KIND_LABEL = {
    GroupKind.FOLDER: "Folder",
    GroupKind.SERVICE_TYPE: "Service type",
    GroupKind.TEAM: "Team",
    GroupKind.TEAM_POSITION: "Position",
    GroupKind.TAG_GROUP: "Tag group",
    GroupKind.TAG: "Tag",
}

ACTION_STYLE = {
    Action.CREATE: ("green", "create"),
    Action.ADOPT: ("cyan", "adopt"),
    Action.RENAME: ("yellow", "rename"),
    Action.MOVE: ("yellow", "move"),
    Action.MARK: ("yellow", "repair"),
    Action.REACTIVATE: ("green", "reactivate"),
    Action.INACTIVATE: ("red", "inactivate"),
}


def _run(
    ctx: typer.Context, work: Callable[[TeamImport], Awaitable[T]], *, show_progress: bool = False
) -> T:
    settings = settings_for(ctx)
    source = config_path(ctx)
    view = ProgressView(console, enabled=show_progress and console.is_terminal)

    async def go() -> T:
        async with open_connection(settings, progress=view.progress) as conn:
            teams = TeamImport(
                conn.store,
                conn.rock_client,
                conn.pco_client,
                settings.teams,
                config_file=str(settings.source or source or ""),
                progress=view.progress,
            )
            with view.showing():
                async with view.pumping():
                    return await work(teams)

    return asyncio.run(go())


# ---------------------------------------------------------------------------- import


def _label(item: ImportItem) -> str:
    text = f"{KIND_LABEL[item.kind]}: [bold]{escape(item.name)}[/bold] [dim]({item.ref}"
    text += f", group {item.group_id})[/dim]" if item.group_id is not None else ")[/dim]"
    marks = [
        f"[{ACTION_STYLE[a][0]}]{ACTION_STYLE[a][1]}[/{ACTION_STYLE[a][0]}]"
        for a in item.actions
        if a in ACTION_STYLE
    ]
    text = " ".join(marks) + " " + text if marks else f"[dim]{text}[/dim]"
    if item.detail:
        text += " [dim]— " + escape("; ".join(item.detail)) + "[/dim]"
    return text


def render_import_tree(plan: ImportPlan) -> Tree:
    root_id = "to be created" if plan.create_root else f"Id {plan.root_group_id}"
    root = Tree(f"Rock group [bold]{escape(plan.root_name)}[/bold] [dim]({root_id})")
    ref_of_group = {i.group_id: i.ref for i in plan.tree_items if i.group_id is not None}
    nodes: dict[str, Tree] = {}
    for item in plan.tree_items:
        if item.parent_pending is not None:
            parent_ref: str | None = item.parent_pending
        else:
            parent_ref = ref_of_group.get(item.parent_group_id or -1)
        parent = nodes.get(parent_ref) if parent_ref else None
        nodes[item.ref] = (parent or root).add(_label(item))
    return root


def print_import(plan: ImportPlan) -> None:
    for note in plan.notes:
        console.print(f"[yellow]•[/yellow] {escape(note)}")
    console.print(render_import_tree(plan))
    would = "would be " if plan.dry_run else ""
    counts = [
        (Action.CREATE, "created"),
        (Action.ADOPT, "adopted"),
        (Action.RENAME, "renamed"),
        (Action.MOVE, "moved"),
        (Action.REACTIVATE, "reactivated"),
        (Action.MARK, "repaired"),
        (Action.INACTIVATE, "inactivated"),
    ]
    parts = [f"{plan.count(a)} {would}{word}" for a, word in counts if plan.count(a)]
    console.print("Groups: " + (", ".join(parts) if parts else "nothing to change"))
    if plan.inactivated:
        console.print(
            f"[yellow]Teams no longer live in Planning Center ({would}inactivated in Rock, "
            "links kept):[/yellow]"
        )
        for item in plan.inactivated:
            console.print(
                f"  • {KIND_LABEL[item.kind]} {escape(item.name)} ({item.ref}, group "
                f"{item.group_id}): {escape(item.reason)}"
            )
    for error in plan.errors:
        console.print(f"  [red]•[/red] {escape(error)}")
    if plan.dry_run:
        console.print("Dry run: nothing was written.")


@teams_app.command("import")
@friendly_errors
def import_cmd(
    ctx: typer.Context,
    folder: list[str] = typer.Option(  # noqa: B008
        [], "--folder", help="Only this folder (name or id) and what is inside it; repeatable."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the tree; write nothing."),
    adopt: bool = typer.Option(
        False,
        "--adopt",
        help="Link existing Rock groups that already carry a PcoId attribute instead of "
        "creating new ones.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Mirror Planning Center folders, service types, teams and positions as Rock groups
    (and, with `tags = true` in \\[teams], Services person tag groups and tags)."""

    async def work(teams: TeamImport) -> ImportPlan:
        return await import_teams(teams, folders=folder, adopt=adopt, dry_run=dry_run)

    plan = _run(ctx, work, show_progress=not as_json)
    if as_json:
        typer.echo(json.dumps(plan.to_json(), indent=2))
    else:
        print_import(plan)
    if plan.errors:
        raise typer.Exit(EXIT_PARTIAL)


# ---------------------------------------------------------------------------- remove


def print_remove(plan: RemovePlan) -> None:
    if not plan.items:
        console.print("No groups created by the import were found: nothing to remove.")
        return
    table = Table(show_header=True, box=None)
    for col in ("", "Group", "Name", "Planning Center", "Why"):
        table.add_column(col)
    verbs = {
        RemoveAction.DELETE: ("red", "delete", "deleted"),
        RemoveAction.ARCHIVE: ("yellow", "archive", "archived"),
        RemoveAction.KEEP: ("dim", "keep", "kept"),
    }
    for item in plan.items:
        style, todo, done = verbs[item.action]
        word = done if item.done or item.action is RemoveAction.KEEP else todo
        table.add_row(
            f"[{style}]{word}[/{style}]",
            *cells(item.group_id, item.name, item.link.pco_id, item.reason),
        )
    console.print(table)
    n_del, n_arch, n_keep = (plan.count(a) for a in RemoveAction)
    prefix = "Would delete" if not plan.applied else "Deleted"
    console.print(
        f"{prefix} {n_del} group(s), {'archive' if not plan.applied else 'archived'} "
        f"{n_arch} (they have members or history), kept {n_keep}."
    )
    if plan.dry_run:
        console.print("Dry run: nothing was written.")


@teams_app.command("remove-import")
@friendly_errors
def remove_import_cmd(
    ctx: typer.Context,
    folder: list[str] = typer.Option(  # noqa: B008
        [], "--folder", help="Only groups under this imported folder (name or id)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would go; write nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove exactly the groups the import created (archiving those with members)."""

    async def plan_only(teams: TeamImport) -> RemovePlan:
        return await teams.plan_remove(folders=folder, dry_run=True)

    if dry_run or not yes:
        plan = _run(ctx, plan_only)
        print_remove(plan)
        if dry_run or not any(i.action is not RemoveAction.KEEP for i in plan.items):
            return
        if not typer.confirm("Remove these groups from Rock?", default=False):
            console.print("Nothing was removed.")
            raise typer.Exit(1)

    async def work(teams: TeamImport) -> RemovePlan:
        return await remove_import(teams, folders=folder)

    done = _run(ctx, work)
    print_remove(done)


# ---------------------------------------------------------------------------- links


@teams_app.command("links")
@friendly_errors
def links_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Rock groups linked to Planning Center folders, service types, teams and positions."""
    rows = _run(ctx, lambda teams: teams.links())
    default = settings_for(ctx).teams.services_permission
    if as_json:
        out = [
            {
                "id": link.id,
                "rock_group_id": link.rock_group_id,
                "rock_group_name": group.name if group else None,
                "name": link.name,
                "pco_id": link.pco_id,
                "kind": link.kind.value,
                "created_by_import": link.created_by_import,
                "status": link.status.value,
                "services_permission": _permission(link.kind, link.services_permission, default),
            }
            for link, group in rows
        ]
        typer.echo(json.dumps(out, indent=2))
        return
    if not rows:
        console.print("No groups are linked. Run `pcosync teams import` or `pcosync teams link`.")
        return
    table = Table(show_header=True, box=None)
    for col in ("Group", "Planning Center", "Kind", "Origin", "Services permission", "Status"):
        table.add_column(col)
    for link, group in rows:
        rock_name = group.name if group else "(missing in Rock)"
        pco_name = link.name if link.name and link.name != rock_name else ""
        table.add_row(
            named(rock_name, f"Rock group {link.rock_group_id}"),
            named(pco_name or None, link.pco_id) if pco_name else named(link.pco_id, ""),
            *cells(
                KIND_LABEL[link.kind],
                "import" if link.created_by_import else "linked",
                _permission(link.kind, link.services_permission, default) or "",
                link.status.value,
            ),
        )
    console.print(table)
    console.print(
        "Change a position's Services permission with: pcosync teams permission GROUP_ID LEVEL"
    )


def _permission(kind: GroupKind, own: str | None, default: str) -> str | None:
    """The Services permission a position gives (tags and structure groups give none)."""
    if kind is not GroupKind.TEAM_POSITION:
        return None
    return own or default


def _level(text: str | None) -> str | None:
    if text is None:
        return None
    level = parse_permission(text)
    if level is None:
        raise UsageError(
            f"{text!r} is not a Planning Center Services permission; use one of "
            + ", ".join(f'"{name}"' for name in SERVICES_PERMISSIONS)
        )
    return level


@teams_app.command("link")
@friendly_errors
def link_cmd(
    ctx: typer.Context,
    group_id: int = typer.Argument(..., help="The Rock group Id."),
    team_position_id: str = typer.Argument(
        ..., help="The Planning Center team position id, or Tag:<id> for a Services tag."
    ),
    services_permission: str | None = typer.Option(
        None,
        "--services-permission",
        metavar="LEVEL",
        help="Services permission people assigned through this group get at least "
        "(default: [teams] services_permission, else Scheduled Viewer).",
    ),
) -> None:
    """Link an existing Rock group to a Planning Center team position (or a Services tag)."""
    level = _level(services_permission)
    try:
        link = _run(
            ctx, lambda teams: teams.link(group_id, team_position_id, services_permission=level)
        )
    except LinkConflict as exc:
        err.print(f"[red]Cannot link:[/red] {escape(exc)}")
        raise typer.Exit(2) from None
    what = escape(link.name) if link.name else link.pco_id
    console.print(
        f"Linked Rock group {link.rock_group_id} ⇄ Planning Center {what} ({link.pco_id})."
    )


@teams_app.command("permission")
@friendly_errors
def permission_cmd(
    ctx: typer.Context,
    group_id: int = typer.Argument(..., help="The Rock group Id of a position (or a team)."),
    level: str = typer.Argument(
        ...,
        help="Scheduled Viewer, Viewer, Scheduler, Editor or Administrator; or 'default' for "
        "[teams] services_permission.",
    ),
) -> None:
    """The Planning Center Services permission someone the sync assigns to this position
    gets at least. A higher level someone already has is never lowered."""
    chosen = None if level.strip().casefold() == "default" else _level(level)
    changed = _run(ctx, lambda teams: teams.set_permission(group_id, chosen))
    shown = chosen or f"{settings_for(ctx).teams.services_permission} (the default)"
    for link in changed:
        console.print(
            f"{escape(link.name or link.pco_id)} (Rock group {link.rock_group_id}): "
            f"people the sync assigns here get at least {shown} in Planning Center Services."
        )


@teams_app.command("unlink")
@friendly_errors
def unlink_cmd(
    ctx: typer.Context,
    group_id: int = typer.Argument(..., help="The Rock group Id."),
) -> None:
    """Forget a group's link and clear its PcoId attribute (the group itself stays)."""
    link = _run(ctx, lambda teams: teams.unlink(group_id))
    what = escape(link.name) if link.name else link.pco_id
    console.print(f"Unlinked Rock group {link.rock_group_id} from Planning Center {what}.")


def register(app: typer.Typer) -> None:
    app.add_typer(teams_app, name="teams")
