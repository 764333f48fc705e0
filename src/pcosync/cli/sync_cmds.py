"""``pcosync sync``, ``runs``, ``people``: thin commands over the application layer.

Exit codes (DESIGN §8): 0 done, 1 failed, 2 usage or configuration error, 3 partial (records
parked), 4 held for review, 75 temporary failure (retry later).
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from pcosync.app.context import Connection, open_connection, open_store
from pcosync.app.first_sync import (
    FIRST_SYNC_HOLD,
    estimate_from_dry_run,
    first_plan_lines,
    is_first_sync,
)
from pcosync.app.issues import IssueError, create_anyway
from pcosync.app.names import PeopleNames, changed_people, name_of, record_label
from pcosync.app.notify_runs import notify_failure, notify_run
from pcosync.app.people import Unlinked, unlink
from pcosync.app.people_sync import RunSummary, SyncOptions
from pcosync.app.refusal import refusal_message
from pcosync.app.review import approve, reject
from pcosync.cli.output import cells, console, err, esc, named
from pcosync.cli.progress_view import ProgressView
from pcosync.config import Settings, load_settings
from pcosync.domain.fields import field_spec
from pcosync.domain.identity import GroupRef, Side
from pcosync.errors import (
    AuthenticationError,
    ConfigError,
    CredentialsRefused,
    LeaseLost,
    PcoSyncError,
    PermissionDenied,
    RetriesExhausted,
    RetryableError,
    RunInProgress,
    StoreBusy,
    StoreUnreachable,
    StoreUnusable,
    TransportError,
    UsageError,
)
from pcosync.store import IssueStatus, LinkConflict, OpStatus, RunStatus, Store
from pcosync.store.links import GroupLink

log = logging.getLogger("pcosync.cli")

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED, EXIT_USAGE, EXIT_TEMPORARY = 1, 2, 75


def config_path(ctx: typer.Context) -> Path | None:
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and obj.get("config"):
        return Path(obj["config"])
    return None


def settings_for(ctx: typer.Context) -> Settings:
    return load_settings(config_path(ctx))


def friendly_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn pcosync errors into a clear message and the right exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (StoreUnusable, StoreUnreachable) as exc:  # issue 12: one paragraph, no SQL
            log.debug("cli.store_error", exc_info=True)
            err.print(f"[red]Stopped.[/red] {esc(exc)}")
            raise typer.Exit(
                EXIT_TEMPORARY if isinstance(exc, StoreUnreachable) else EXIT_USAGE
            ) from None
        except CredentialsRefused as exc:  # issue 12: which credential, and `pcosync check`
            log.debug("cli.credentials_refused", exc_info=True)
            err.print(f"[red]Access refused:[/red] {esc(exc)}")
            raise typer.Exit(EXIT_FAILED) from None
        except UsageError as exc:
            err.print(f"[red]Not done:[/red] {esc(exc)}")
            raise typer.Exit(EXIT_USAGE) from None
        except ConfigError as exc:
            err.print(f"[red]Configuration problem:[/red] {esc(exc)}")
            raise typer.Exit(EXIT_USAGE) from None
        except (AuthenticationError, PermissionDenied) as exc:  # issue 12: which, and check
            log.debug("cli.access_refused", exc_info=True)
            err.print(f"[red]Access refused:[/red] {esc(refusal_message(exc))}")
            raise typer.Exit(EXIT_FAILED) from None
        except RunInProgress as exc:
            err.print(f"[yellow]Not now:[/yellow] {esc(exc)}")
            raise typer.Exit(EXIT_TEMPORARY) from None
        except (RetriesExhausted, TransportError, RetryableError, StoreBusy, LeaseLost) as exc:
            err.print(f"[yellow]Temporary problem, try again later:[/yellow] {esc(exc)}")
            raise typer.Exit(EXIT_TEMPORARY) from None
        except PcoSyncError as exc:  # a Rock or Planning Center error, or one of our own
            log.debug("cli.failed", exc_info=True)
            err.print(f"[red]Failed:[/red] {esc(exc)}")
            raise typer.Exit(EXIT_FAILED) from None

    return wrapper


# ---------------------------------------------------------------------------- sync


def print_summary(summary: RunSummary, people: tuple[list[str], int] | None = None) -> None:
    """The run's counts, then who it was about (by name), its reasons and notes."""
    label = {
        "done": "[green]done[/green]",
        "partial": "[yellow]partial: some records were parked[/yellow]",
        "held": "[yellow]held for review: nothing was written[/yellow]",
        "failed": "[red]failed[/red]",
    }.get(summary.status.value, summary.status.value)
    mode = f"{summary.mode.value}{', dry run' if summary.dry_run else ''}"
    console.print(f"Run {summary.run_id} ({mode}): {label}")
    verb = "would be" if summary.dry_run or summary.status.value == "held" else ""
    table = Table(show_header=True, box=None)
    table.add_column("")
    table.add_column("Rock", justify="right")
    table.add_column("Planning Center", justify="right")
    table.add_row(
        f"people created{' (' + verb + ')' if verb else ''}",
        str(summary.created["rock"]),
        str(summary.created["pco"]),
    )
    table.add_row(
        f"people updated{' (' + verb + ')' if verb else ''}",
        str(summary.updated["rock"]),
        str(summary.updated["pco"]),
    )
    # team-position memberships: only when the run planned or made any
    memberships: dict[str, dict[str, int]] = summary.as_dict()["memberships"]
    if any(n for counts in memberships.values() for n in counts.values()):
        for change in ("added", "removed"):
            table.add_row(
                f"team memberships {change}{' (' + verb + ')' if verb else ''}",
                str(memberships[change]["rock"]),
                str(memberships[change]["pco"]),
            )
    if summary.deleted["rock"] or summary.deleted["pco"]:  # a revert: records it had created
        table.add_row(
            f"people deleted (made by the reverted run){' (' + verb + ')' if verb else ''}",
            str(summary.deleted["rock"]),
            str(summary.deleted["pco"]),
        )
    if summary.groups_inactivated or summary.groups_reactivated:
        table.add_row(
            f"groups inactivated / reactivated{' (' + verb + ')' if verb else ''}",
            f"{summary.groups_inactivated} / {summary.groups_reactivated}",
            "",
        )
    if summary.inactivated["pco"]:  # opt-in: [teams] inactivate_leavers
        table.add_row(
            f"made inactive: left every team{' (' + verb + ')' if verb else ''}",
            "0",
            str(summary.inactivated["pco"]),
        )
    console.print(table)
    links = f"New links{' (' + verb + ')' if verb else ''}"
    settled = "Conflicts to settle" if verb else "Conflicts settled"
    console.print(
        f"{links}: {summary.linked}   {settled}: {summary.conflicts}   "
        f"Parked: {summary.parked}   Match issues: {summary.match_issues}"
    )
    if summary.replanned:
        console.print(
            f"Edited while the run worked: {summary.replanned} person(s), re-planned so "
            "their edits were merged, not overwritten."
        )
    if people is not None and people[1]:
        shown, total = people
        more = f" and {total - len(shown)} more" if total > len(shown) else ""
        who = "People it would change" if verb else "People changed"
        console.print(f"{who}: {esc(', '.join(shown))}{more}.")
    for reason in summary.hold_reasons:
        console.print(f"  [yellow]•[/yellow] {esc(reason)}")
    for note in summary.notes:
        console.print(f"  • {esc(note)}")
    if summary.conflicts:
        console.print(f"See the conflicts with: pcosync runs show {summary.run_id}")
    if summary.parked:
        console.print(f"See what was parked and why with: pcosync runs show {summary.run_id}")
    if summary.match_issues:
        console.print("People who could not be matched safely: pcosync people issues")


def sync_command(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan and report; write nothing."),
    full: bool = typer.Option(False, "--full", help="Read everything, not just changes."),
    hold: bool = typer.Option(
        False, "--hold", help="Hold this run for review whatever the thresholds."
    ),
    yes: bool = typer.Option(
        False,
        "--yes",
        "-y",
        help="Do not ask before a connection's first sync writes (in a terminal it asks).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable summary."),
    wait: bool = typer.Option(
        False, "--wait", help="If another run is in progress, wait for it instead of exiting 75."
    ),
) -> None:
    """Run one sync between Rock and Planning Center."""
    options = SyncOptions(full=full, dry_run=dry_run, hold=hold, wait=wait)
    outcome = _sync(ctx, options, quiet=as_json, yes=yes)
    summary = outcome.summary
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
    elif outcome.rejected:
        console.print(
            f"Nothing was written (run {summary.run_id} is rejected). Run `pcosync sync` "
            "again when you are ready, or `pcosync sync --dry-run` to look at the plan again."
        )
        raise typer.Exit(0)
    else:
        print_summary(summary, outcome.people)
        for line in outcome.after:
            console.print(esc(line))
    raise typer.Exit(summary.exit_code)


@dataclass
class SyncOutcome:
    summary: RunSummary
    after: list[str] = field(default_factory=list)  # said after the summary
    rejected: bool = False  # a first sync the admin said no to
    people: tuple[list[str], int] | None = None  # who the run was about, by name


def interactive() -> bool:
    """A person at a terminal who can answer (not cron, not a script, not a pipe)."""
    return sys.stdin.isatty() and console.is_terminal


@friendly_errors
def _sync(ctx: typer.Context, options: SyncOptions, *, quiet: bool, yes: bool) -> SyncOutcome:
    settings = settings_for(ctx)
    view = ProgressView(console, enabled=not quiet and console.is_terminal)

    async def go() -> SyncOutcome:
        async with open_connection(settings, progress=view.progress) as conn:
            first = is_first_sync(conn.store)
            ask = first and not (options.dry_run or options.hold or yes or quiet) and interactive()
            run_options = (
                replace(options, hold=True, hold_reason=FIRST_SYNC_HOLD) if ask else options
            )
            try:
                with view.showing():
                    async with view.pumping():
                        summary = await conn.people.run(run_options)
                if ask and summary.status is RunStatus.HELD:
                    return await _first_sync_asked(conn, summary, view)
            except RunInProgress:
                raise  # nothing ran: no notice
            except Exception as exc:
                latest = conn.store.runs.list(1)
                if latest and latest[0].status is RunStatus.FAILED:
                    await notify_failure(settings, latest[0].id, exc)
                raise
            outcome = SyncOutcome(summary, people=changed_people(conn.store, summary.run_id))
            if not summary.dry_run:
                await notify_run(settings, summary)
            elif first:
                estimate = estimate_from_dry_run(conn.store, summary)
                outcome.after.append(f"The first real sync should take {estimate.sentence()}.")
            return outcome

    return asyncio.run(go())


async def _first_sync_asked(conn: Connection, held: RunSummary, view: ProgressView) -> SyncOutcome:
    """In a terminal, a connection's first sync is shown and confirmed before it writes: the
    held run is approved as planned (one read, the one applier) or rejected."""
    console.print(
        f"[bold]This is the first sync of this connection.[/bold] Its plan (run {held.run_id}):"
    )
    for line in first_plan_lines(held):
        console.print(f"  • {esc(line)}")
    console.print(f"See every change with `pcosync review {held.run_id}` (in another terminal).")
    if not typer.confirm("Write these changes to Rock and Planning Center now?", default=True):
        reject(conn.store, held.run_id, by=who())
        return SyncOutcome(held, rejected=True)
    with view.showing():
        async with view.pumping():
            result = await approve(conn.people, held.run_id, by=who())
    await notify_run(conn.settings, result.summary)
    return SyncOutcome(result.summary, people=changed_people(conn.store, held.run_id))


def who() -> str:
    """Who approved or rejected, for the run's record."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


# ---------------------------------------------------------------------------- runs

runs_app = typer.Typer(
    help="What the sync did: runs, their operations, conflicts and parked records.",
    invoke_without_command=True,
)


def _store(ctx: typer.Context) -> Store:
    return open_store(settings_for(ctx))


@runs_app.callback()
def runs_list(
    ctx: typer.Context,
    limit: int = typer.Option(20, help="How many runs to list."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable list."),
) -> None:
    """List runs, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    _runs_list(ctx, limit, as_json)


@friendly_errors
def _runs_list(ctx: typer.Context, limit: int, as_json: bool) -> None:
    store = _store(ctx)
    runs = store.runs.list(limit)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "status": r.status.value,
                        "mode": r.mode.value,
                        "dry_run": r.dry_run,
                        "started_at": r.started_at.isoformat(),
                        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                        "counts": dict(r.counts),
                        "error": r.error,
                    }
                    for r in runs
                ]
            )
        )
        return
    table = Table(title="Runs (newest first)")
    for col in (
        "id",
        "started (UTC)",
        "mode",
        "status",
        "created R/P",
        "updated R/P",
        "conflicts",
        "parked",
    ):
        table.add_column(col)
    for r in runs:
        c: dict[str, Any] = dict(r.counts)
        created = c.get("created", {})
        updated = c.get("updated", {})
        table.add_row(
            str(r.id),
            r.started_at.strftime("%Y-%m-%d %H:%M"),
            r.mode.value + (" (dry run)" if r.dry_run else ""),
            r.status.value,
            f"{created.get('rock', 0)}/{created.get('pco', 0)}",
            f"{updated.get('rock', 0)}/{updated.get('pco', 0)}",
            str(c.get("conflicts", 0)),
            str(c.get("parked", 0)),
        )
    console.print(table)


@runs_app.command("show")
def runs_show(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The run to show."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Operations, conflicts and parked records of one run."""
    _runs_show(ctx, run_id, as_json)


def _value(field: str, value: Any) -> str:
    try:
        return field_spec(field).display(value)
    except (KeyError, ValueError):
        return "—" if value in (None, "") else str(value)


@friendly_errors
def _runs_show(ctx: typer.Context, run_id: int, as_json: bool) -> None:
    store = _store(ctx)
    run = store.runs.get(run_id)
    if run is None:
        raise UsageError(f"There is no run {run_id}. List the runs with: pcosync runs")
    ops = store.journal.list(run_id)
    conflicts = store.journal.conflicts(run_id)
    parked = [p for p in store.parked.list(None) if p.run_id == run_id]
    # names first: recorded with the run; older runs' people named from the stored bases
    names = PeopleNames.from_store(store)
    groups = {g.pco_id: g for g in store.groups.all()}
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "run": {
                        "id": run.id,
                        "status": run.status.value,
                        "mode": run.mode.value,
                        "dry_run": run.dry_run,
                        "counts": dict(run.counts),
                        "error": run.error,
                        "hold_reasons": [dict(h) for h in run.hold_reasons],
                    },
                    "operations": [
                        {
                            "seq": j.seq,
                            "status": j.status.value,
                            "kind": j.operation.kind.value,
                            "side": j.operation.side.value,
                            "reason": j.operation.reason.value,
                            "person": j.operation.ref.describe(),
                            "name": names.of(j.operation.ref),
                            "rock_id": j.operation.ref.rock_id,
                            "pco_id": j.operation.ref.pco_id,
                            "group": _group_name(j.operation.group, groups),
                            "error": j.error,
                            "changes": {
                                str(f): [_value(str(f), b), _value(str(f), a)]
                                for f, (b, a) in j.operation.changes.items()
                            },
                        }
                        for j in ops
                    ],
                    "conflicts": [
                        {
                            "person": c.ref.describe(),
                            "name": names.of(c.ref),
                            "rock_id": c.ref.rock_id,
                            "pco_id": c.ref.pco_id,
                            "field": str(c.field),
                            "rock": _value(str(c.field), c.rock_value),
                            "pco": _value(str(c.field), c.pco_value),
                            "winner": c.winner.value,
                        }
                        for c in conflicts
                    ],
                    "parked": [
                        {
                            "side": p.side,
                            "record": p.record_key,
                            "name": record_label(Side(p.side), p.record_key, names, groups),
                            "reason": p.reason,
                            "retries": p.retry_count,
                        }
                        for p in parked
                    ],
                },
                default=str,
            )
        )
        return
    console.print(
        f"Run {run.id}: {run.status.value} ({run.mode.value}"
        f"{', dry run' if run.dry_run else ''}), started {run.started_at:%Y-%m-%d %H:%M}"
        " UTC"
    )
    if run.error:
        console.print(f"[red]Error:[/red] {esc(run.error)}")
    for h in run.hold_reasons:
        console.print(f"[yellow]Held:[/yellow] {esc(h.get('message', h))}")
    if ops:
        table = Table(title="Operations")
        for col in ("#", "status", "where", "what", "person", "changes"):
            table.add_column(col)
        for j in ops:
            op = j.operation
            changes = "; ".join(
                f"{field_spec(f).label}: {_value(str(f), b)} → {_value(str(f), a)}"
                for f, (b, a) in op.changes.items()
            )
            if op.group is not None:
                changes = (changes + "; " if changes else "") + _group_name(op.group, groups)
            if j.error:
                changes = (changes + " — " if changes else "") + j.error
            table.add_row(
                *cells(
                    j.seq,
                    j.status.value,
                    op.side.label,
                    f"{op.kind.value.replace('_', ' ')}: {_why(op.reason.value)}",
                    named(names.of(op.ref), op.ref.ids()),
                    changes,
                )
            )
        console.print(table)
    if conflicts:
        table = Table(title="Conflicts (both sides changed the same field)")
        for col in ("person", "field", "Rock", "Planning Center", "kept"):
            table.add_column(col)
        for c in conflicts:
            table.add_row(
                *cells(
                    named(names.of(c.ref), c.ref.ids()),
                    field_spec(c.field).label,
                    _value(str(c.field), c.rock_value),
                    _value(str(c.field), c.pco_value),
                    f"{c.winner.label} (edited later)",
                )
            )
        console.print(table)
    if parked:
        table = Table(title="Parked records")
        for col in ("where", "who", "why", "retries"):
            table.add_column(col)
        for p in parked:
            side = Side(p.side)
            who = named(record_label(side, p.record_key, names, groups), p.record_key)
            table.add_row(*cells(side.label, who, p.reason, p.retry_count))
        console.print(table)


# why an operation is in the plan, in a few words (runs show)
WHY = {
    "edit": "edited on the other side",
    "conflict_winner": "conflict, later edit won",
    "new_link": "new link",
    "new_member": "added on the other side",
    "created": "only on the other side",
    "revert": "undo",
    "left_every_team": "left every team",
}


def _why(reason: str) -> str:
    return WHY.get(reason, reason.replace("_", " "))


def _group_name(group: GroupRef | None, groups: Mapping[str, GroupLink]) -> str:
    """A membership operation's group: its name (as recorded, else as linked now) first."""
    if group is None:
        return ""
    linked = groups.get(group.pco_id)
    name = group.name or (linked.name if linked is not None else None)
    if name:
        return f"{name} (Rock group {group.rock_group_id})"
    return group.describe()


# ---------------------------------------------------------------------------- people

people_app = typer.Typer(
    help="Linked people and the ones that could not be matched safely.", no_args_is_help=True
)


@people_app.command("links")
def people_links(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Every linked pair: Rock person Id ⇄ Planning Center person id."""
    _people_links(ctx, as_json)


@friendly_errors
def _people_links(ctx: typer.Context, as_json: bool) -> None:
    store = _store(ctx)
    links = store.links.all()
    names = PeopleNames.from_store(store)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "link": lk.id,
                        "name": names.by_link.get(lk.id),
                        "rock_id": lk.rock_person_id,
                        "pco_id": lk.pco_person_id,
                        "status": lk.status.value,
                    }
                    for lk in links
                ]
            )
        )
        return
    table = Table(title=f"{len(links)} linked people")
    for col in ("person", "status", "Rock Id", "Planning Center id"):
        table.add_column(col, style="dim" if col.endswith(("Id", "id")) else None)
    ordered = sorted(links, key=lambda lk: (names.by_link.get(lk.id) or "~").casefold())
    for lk in ordered:
        table.add_row(
            *cells(
                names.by_link.get(lk.id) or "(not synced yet)",
                lk.status.value,
                lk.rock_person_id,
                lk.pco_person_id,
            )
        )
    console.print(table)


@people_app.command("link")
def people_link(
    ctx: typer.Context,
    rock_id: int = typer.Argument(..., help="The Rock person Id."),
    pco_id: str = typer.Argument(..., help="The Planning Center person id."),
) -> None:
    """Link two records by hand (e.g. to settle a match issue). The next run merges them."""
    _people_link(ctx, rock_id, pco_id)


@friendly_errors
def _people_link(ctx: typer.Context, rock_id: int, pco_id: str) -> None:
    settings = settings_for(ctx)

    async def look_up() -> tuple[list[str], list[str]]:
        """The records' names, and the ones that do not exist (a mistyped id would make a
        link to nothing)."""
        problems, found_names = [], []
        async with open_connection(settings) as conn:
            for side, record_id in ((Side.ROCK, rock_id), (Side.PCO, pco_id)):
                adapter = conn.rock if side is Side.ROCK else conn.pco
                found = await adapter.fetch_one(record_id)
                unreadable = bool(adapter.rejected)  # it exists; a value needs fixing
                adapter.rejected.clear()
                if found is None and not unreadable:
                    problems.append(f"There is no {side.label} person {record_id}.")
                name = name_of(found.person) if found is not None else None
                found_names.append(
                    f"{name} ({side.label} {record_id})" if name else f"{side.label} {record_id}"
                )
        return problems, found_names

    problems, found_names = asyncio.run(look_up())
    if problems:
        err.print(
            f"[red]Not linked:[/red] {esc(' '.join(problems))} Check the ids (`pcosync "
            "people issues` and `pcosync people links` show them) and try again."
        )
        raise typer.Exit(EXIT_USAGE)
    store = _store(ctx)
    store.links.allow(rock_id, pco_id)
    try:
        link = store.links.add(rock_id, pco_id)
    except LinkConflict as exc:
        err.print(f"[red]Not linked:[/red] {esc(exc)}")
        raise typer.Exit(EXIT_USAGE) from None
    for issue in [*store.issues.involving(rock_id=rock_id), *store.issues.involving(pco_id=pco_id)]:
        store.issues.resolve(issue.id)
    console.print(
        f"Linked {esc(found_names[0])} with {esc(found_names[1])} (link {link.id}). "
        "The next `pcosync sync` merges their fields."
    )


@people_app.command("unlink")
def people_unlink(
    ctx: typer.Context,
    rock_id: int | None = typer.Option(None, "--rock", help="The Rock person Id."),
    pco_id: str | None = typer.Option(None, "--pco", help="The Planning Center person id."),
) -> None:
    """Say two linked records are not the same person: they will not be matched again."""
    _people_unlink(ctx, rock_id, pco_id)


@friendly_errors
def _people_unlink(ctx: typer.Context, rock_id: int | None, pco_id: str | None) -> None:
    if (rock_id is None) == (pco_id is None):
        raise UsageError(
            "say which link to remove: --rock ROCK_ID or --pco PCO_ID "
            "(`pcosync people links` lists them)"
        )
    settings = settings_for(ctx)

    async def go() -> Unlinked:
        async with open_connection(settings) as conn:
            return await unlink(conn, rock_id=rock_id, pco_id=pco_id)

    done = asyncio.run(go())
    link = done.link
    who = f"{esc(done.name)} (" if done.name else ""
    console.print(
        f"Unlinked {who}Rock person {link.rock_person_id} and Planning Center "
        f"person {link.pco_person_id}{')' if done.name else ''}; they will not be matched "
        "again. Someone in scope who has no other match is created on the other side "
        "by the next sync: link them to the right record with `pcosync people link`."
    )
    for note in done.notes:
        console.print(f"  • {esc(note)}")


@people_app.command("write-link-ids")
def people_write_link_ids(
    ctx: typer.Context,
    minutes: float | None = typer.Option(
        None, "--minutes", help="Stop after this long (default: when all are written)."
    ),
    wait: bool = typer.Option(False, "--wait", help="Wait for a run in progress to end."),
) -> None:
    """Write the link ids still owed on Planning Center records (remote_id), paced under the
    rate limit. Runs write them with the budget left over; this writes them all, between runs."""
    _people_write_link_ids(ctx, minutes, wait)


@friendly_errors
def _people_write_link_ids(ctx: typer.Context, minutes: float | None, wait: bool) -> None:
    from pcosync.app.link_ids import LinkIdsResult, write_link_ids

    settings = settings_for(ctx)

    async def go() -> LinkIdsResult:
        async with open_connection(settings) as conn:
            seconds = minutes * 60 if minutes is not None else None
            return await write_link_ids(conn.people, seconds=seconds, wait_for_lease=wait)

    done = asyncio.run(go())
    console.print(
        f"Wrote {done.written} link id(s) on Planning Center records; {done.pending} still "
        "to be written."
    )
    for note in done.notes:
        console.print(f"  • {esc(note)}")


issues_app = typer.Typer(
    help="People the sync could not match safely, with which records and how to fix it.",
    invoke_without_command=True,
)


@issues_app.callback()
def people_issues(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json"),
    show_all: bool = typer.Option(False, "--all", help="Resolved ones too."),
) -> None:
    """People the sync could not match safely, with which records and how to fix it."""
    if ctx.invoked_subcommand is None:
        _people_issues(ctx, as_json, show_all)


@issues_app.command("create")
def people_issues_create(
    ctx: typer.Context, issue_id: int = typer.Argument(..., help="The issue's number (#).")
) -> None:
    """They are different people: create them on the other side instead of linking."""
    _people_issues_create(ctx, issue_id)


@friendly_errors
def _people_issues_create(ctx: typer.Context, issue_id: int) -> None:
    store = _store(ctx)
    try:
        create_anyway(store, issue_id)
    except IssueError as exc:
        err.print(escape(str(exc)))
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        store.close()
    console.print(
        f"Match issue #{issue_id} settled: its records are different people and will not be "
        "matched with each other. The next `pcosync sync` creates whoever is in scope on the "
        "other side."
    )


@friendly_errors
def _people_issues(ctx: typer.Context, as_json: bool, show_all: bool) -> None:
    issues = _store(ctx).issues.list(None if show_all else IssueStatus.OPEN)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": i.id,
                        "kind": i.kind.value,
                        "status": i.status.value,
                        "rock_ids": list(i.rock_ids),
                        "pco_ids": list(i.pco_ids),
                        "message": i.message,
                    }
                    for i in issues
                ],
                default=str,
            )
        )
        return
    if not issues:
        console.print("No open match issues.")
        return
    for i in issues:
        console.print(f"[bold]#{i.id}[/bold] ({i.kind.value}, {i.status.value})")
        console.print(f"  {esc(i.message)}")


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.add_typer(runs_app, name="runs")
    people_app.add_typer(issues_app, name="issues")
    app.add_typer(people_app, name="people")


__all__ = ["OpStatus", "register"]
