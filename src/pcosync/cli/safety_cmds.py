"""``pcosync review``, ``approve``, ``reject``, ``revert`` and ``parked``: the safety commands.

Exit codes (DESIGN §8): 0 done, 1 failed, 2 usage or configuration error, 3 partial (records
parked), 4 held for review, 75 temporary failure (retry later).
"""

from __future__ import annotations

import asyncio
import getpass
import json

import typer
from rich.table import Table

from pcosync.app import parked as parked_ops
from pcosync.app.context import open_connection, open_store
from pcosync.app.names import PeopleNames, changed_people, record_label
from pcosync.app.notify_runs import notify_failure, notify_run
from pcosync.app.revert import RevertError, RevertResult
from pcosync.app.revert import revert as revert_run
from pcosync.app.review import ApproveResult, ReviewError, approve, reject, review
from pcosync.cli.output import cells, console, err, esc, named
from pcosync.cli.progress_view import ProgressView
from pcosync.cli.sync_cmds import (
    EXIT_FAILED,
    EXIT_USAGE,
    friendly_errors,
    print_summary,
    settings_for,
)
from pcosync.domain.identity import Side
from pcosync.errors import RunInProgress
from pcosync.store import RunStateError

EXIT_DONE = 0


def _ids(text: str | None) -> set[int] | None:
    if text is None:
        return None
    try:
        return {int(part) for part in text.replace(" ", "").split(",") if part}
    except ValueError:
        err.print(
            f"Operation numbers are comma-separated integers, e.g. 3,7,12 (got {esc(repr(text))})."
        )
        raise typer.Exit(EXIT_USAGE) from None


def _people(ctx: typer.Context, run_id: int) -> tuple[list[str], int]:
    """Who a run was about, by name, for its summary."""
    store = open_store(settings_for(ctx))
    try:
        return changed_people(store, run_id)
    finally:
        store.close()


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


# ---------------------------------------------------------------------------- review


def review_command(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The run to review (see: pcosync runs)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable diff."),
) -> None:
    """What a run would change (or changed), field by field, grouped by person."""
    _review(ctx, run_id, as_json)


@friendly_errors
def _review(ctx: typer.Context, run_id: int, as_json: bool) -> None:
    store = open_store(settings_for(ctx))
    try:
        rv = review(store, run_id)
    except ReviewError as exc:
        err.print(f"[red]Not shown:[/red] {esc(exc)}")
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps(rv.as_dict(), default=str))
        return
    run = rv.run
    console.print(f"Run {run.id}: {run.status.value} ({run.mode.value})")
    for h in run.hold_reasons:
        console.print(f"[yellow]Held:[/yellow] {esc(dict(h).get('message', h))}")
    if not rv.people:
        console.print("This run has no operations.")
    for person in rv.people:
        console.print(f"\n[bold]{esc(person.person)}[/bold]")
        table = Table(box=None, show_header=True)
        for col in ("op", "status", "where", "what", "field", "before", "after", "why"):
            table.add_column(col)
        for op in person.operations:
            if not op.fields:
                table.add_row(
                    *cells(op.seq, op.status, op.where, op.kind, "", "", "", op.note or op.why)
                )
            for i, f in enumerate(op.fields):
                first = i == 0
                table.add_row(
                    *cells(
                        op.seq if first else "",
                        op.status if first else "",
                        op.where if first else "",
                        op.kind if first else "",
                        f.label,
                        f.before,
                        f.after,
                        f.why,
                    )
                )
        console.print(table)
    if run.status.value == "held":
        console.print(
            f"\nApprove it with: pcosync approve {run.id}   "
            f"(or part: --only 1,2 / --skip 3)   Discard it with: pcosync reject {run.id}"
        )


# ---------------------------------------------------------------------------- approve


def approve_command(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The held run to apply."),
    only: str | None = typer.Option(None, "--only", help="Apply only these operations: 1,4,7"),
    skip: str | None = typer.Option(None, "--skip", help="Apply all but these operations."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
    wait: bool = typer.Option(
        False, "--wait", help="If another run is in progress, wait for it instead of exiting 75."
    ),
) -> None:
    """Apply a held run, checking every value against what is there now."""
    result = _approve(ctx, run_id, _ids(only), _ids(skip), wait=wait)
    summary = result.summary
    if as_json:
        out = summary.as_dict()
        out["stale"] = [s.as_dict() for s in result.stale]
        out["left_out"] = result.left_out
        typer.echo(json.dumps(out))
    else:
        print_summary(summary, _people(ctx, summary.run_id))
        if result.left_out:
            console.print(f"Left out as asked: operations {', '.join(map(str, result.left_out))}")
    raise typer.Exit(summary.exit_code)


@friendly_errors
def _approve(
    ctx: typer.Context,
    run_id: int,
    only: set[int] | None,
    skip: set[int] | None,
    *,
    wait: bool = False,
) -> ApproveResult:
    settings = settings_for(ctx)
    view = ProgressView(console)

    async def go() -> ApproveResult:
        async with open_connection(settings, progress=view.progress) as conn:
            try:
                with view.showing():
                    async with view.pumping():
                        result = await approve(
                            conn.people, run_id, only=only, skip=skip, by=_who(), wait=wait
                        )
            except (ReviewError, RunStateError, RunInProgress):
                raise
            except Exception as exc:
                await notify_failure(settings, run_id, exc)
                raise
            await notify_run(settings, result.summary)
            return result

    try:
        return asyncio.run(go())
    except (ReviewError, RunStateError) as exc:
        err.print(f"[red]Not approved:[/red] {esc(exc)}")
        raise typer.Exit(EXIT_USAGE) from None


def reject_command(
    ctx: typer.Context, run_id: int = typer.Argument(..., help="The held run to discard.")
) -> None:
    """Discard a held run: nothing it planned is written."""
    _reject(ctx, run_id)


@friendly_errors
def _reject(ctx: typer.Context, run_id: int) -> None:
    store = open_store(settings_for(ctx))
    try:
        n = reject(store, run_id, by=_who())
    except (ReviewError, RunStateError) as exc:
        err.print(f"[red]Not rejected:[/red] {esc(exc)}")
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        store.close()
    console.print(f"Run {run_id} rejected: its {n} planned operation(s) will not be written.")


# ---------------------------------------------------------------------------- revert


def revert_command(
    ctx: typer.Context,
    run_id: int = typer.Argument(..., help="The applied run to undo."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show, person by person, what the revert would change."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Revert without asking first."),
    hold: bool = typer.Option(False, "--hold", help="Plan the revert and hold it for review."),
    wait: bool = typer.Option(
        False, "--wait", help="If another run is in progress, wait for it instead of exiting 75."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
) -> None:
    """Undo an applied run on both systems; values changed since are left alone.

    Shows what it would change and asks first (--yes skips the question, --dry-run only
    shows). Records the run created are deleted again if nobody touched them since. A
    revert over the safety limits is held for review like any run.
    """
    result = _revert(ctx, run_id, dry_run=dry_run, yes=yes or hold, hold=hold, wait=wait)
    summary = result.summary
    if as_json:
        typer.echo(json.dumps(result.as_dict(), default=str))
        raise typer.Exit(0 if dry_run else summary.exit_code)
    if dry_run:
        _print_preview(result)
        console.print(f"Nothing was written. Revert it with: pcosync revert {run_id} --yes")
        raise typer.Exit(0)
    if result.held:
        console.print(
            f"Run {summary.run_id} (a revert of run {run_id}) is held for review: nothing "
            f"was written. See it with `pcosync review {summary.run_id}`."
        )
    else:
        console.print(f"Run {summary.run_id} reverted run {result.reverted_run}.")
    print_summary(summary, _people(ctx, summary.run_id))
    raise typer.Exit(summary.exit_code)


def _print_preview(result: RevertResult) -> None:
    if not result.lines:
        console.print(f"Reverting run {result.reverted_run} would change nothing.")
    else:
        table = Table(title=f"Reverting run {result.reverted_run} would change")
        for col in ("person", "where", "what", "now", "back to"):
            table.add_column(col)
        for line in result.lines:
            table.add_row(*cells(line.person, line.where, line.what, line.now, line.back_to))
        console.print(table)
    for note in [*result.left_alone, *result.kept]:
        console.print(f"  • {esc(note)}")


def _ask(result: RevertResult) -> bool:
    run_id = result.reverted_run
    if not console.is_terminal:
        raise RevertError(
            "pcosync asks before reverting, and there is no terminal to ask in. See what it "
            f"would do with `pcosync revert {run_id} --dry-run`, then run "
            f"`pcosync revert {run_id} --yes`."
        )
    _print_preview(result)
    if not result.lines:
        return False
    return typer.confirm(f"Revert run {run_id} as shown?", default=False)


@friendly_errors
def _revert(
    ctx: typer.Context, run_id: int, *, dry_run: bool, yes: bool, hold: bool, wait: bool
) -> RevertResult:
    settings = settings_for(ctx)
    view = ProgressView(console)

    async def go() -> RevertResult:
        async with open_connection(settings, progress=view.progress) as conn:
            try:
                if yes or dry_run:  # nothing to ask: the progress line may show
                    with view.showing():
                        async with view.pumping():
                            result = await revert_run(
                                conn.people, run_id, dry_run=dry_run, hold=hold, wait=wait
                            )
                else:
                    result = await revert_run(conn.people, run_id, confirm=_ask, wait=wait)
            except (ReviewError, RunStateError, RevertError, RunInProgress):
                raise
            except Exception as exc:
                latest = conn.store.runs.list(1)
                if latest and latest[0].reverts_run_id == run_id:
                    await notify_failure(settings, latest[0].id, exc)
                raise
            if not dry_run:
                await notify_run(settings, result.summary)
            return result

    try:
        return asyncio.run(go())
    except (ReviewError, RunStateError, RevertError) as exc:
        err.print(f"[red]Not reverted:[/red] {esc(exc)}")
        raise typer.Exit(EXIT_USAGE) from None


# ---------------------------------------------------------------------------- parked

parked_app = typer.Typer(
    help="Records that could not be written, why, and when they are tried again.",
    invoke_without_command=True,
)


@parked_app.callback()
def parked_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable list."),
    show_all: bool = typer.Option(False, "--all", help="Dismissed and resolved ones too."),
) -> None:
    """List parked records with their reasons."""
    if ctx.invoked_subcommand is not None:
        return
    _parked_list(ctx, as_json, show_all)


@friendly_errors
def _parked_list(ctx: typer.Context, as_json: bool, show_all: bool) -> None:
    store = open_store(settings_for(ctx))
    try:
        records = parked_ops.listing(store, show_all=show_all)
        names = PeopleNames.from_store(store)
        groups = {g.pco_id: g for g in store.groups.all()}
    finally:
        store.close()
    who = {r.id: record_label(Side(r.side), r.record_key, names, groups) for r in records}
    if as_json:
        typer.echo(json.dumps([{**r.as_dict(), "name": who[r.id]} for r in records]))
        return
    if not records:
        console.print("Nothing is parked.")
        return
    table = Table(title=f"{len(records)} parked record(s)")
    for col in ("id", "where", "who", "why", "retries", "next try (UTC)", "status"):
        table.add_column(col)
    for r in records:
        table.add_row(
            *cells(
                r.id,
                Side(r.side).label,
                named(who[r.id], r.record_key),
                r.reason,
                r.retry_count,
                r.next_attempt_at.strftime("%Y-%m-%d %H:%M"),
                r.status,
            )
        )
    console.print(table)
    console.print("Retry one at the next sync: pcosync parked retry ID   Stop: parked dismiss ID")


@parked_app.command("retry")
def parked_retry(
    ctx: typer.Context, parked_id: int = typer.Argument(..., help="The parked record's id.")
) -> None:
    """Try this record again at the next sync (instead of waiting for its backoff)."""
    _parked_action(ctx, parked_id, retry=True)


@parked_app.command("dismiss")
def parked_dismiss(
    ctx: typer.Context, parked_id: int = typer.Argument(..., help="The parked record's id.")
) -> None:
    """Stop retrying this record (it stays listed under --all)."""
    _parked_action(ctx, parked_id, retry=False)


@friendly_errors
def _parked_action(ctx: typer.Context, parked_id: int, *, retry: bool) -> None:
    store = open_store(settings_for(ctx))
    try:
        record = (parked_ops.retry if retry else parked_ops.dismiss)(store, parked_id)
    except LookupError as exc:
        err.print(f"[red]Not done:[/red] {esc(exc.args[0] if exc.args else exc)}")
        raise typer.Exit(EXIT_USAGE) from None
    finally:
        store.close()
    if retry:
        console.print(
            f"Parked record {record.id} ({esc(record.record_key)}) is tried at the next sync."
        )
    else:
        console.print(f"Parked record {record.id} ({esc(record.record_key)}) is no longer retried.")


def register(app: typer.Typer) -> None:
    app.command("review")(review_command)
    app.command("approve")(approve_command)
    app.command("reject")(reject_command)
    app.command("revert")(revert_command)
    app.add_typer(parked_app, name="parked")


__all__ = ["EXIT_DONE", "EXIT_FAILED", "register"]
