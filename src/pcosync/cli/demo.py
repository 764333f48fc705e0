"""``pcosync demo``: a real two-way sync between both emulators, told in under a minute.

The story, each step a few plain lines with people named: setup; the first sync (who is in
sync now); one edit each way; a conflict and who won and why; a bad value parked; a big
change held for approval and approved; an undo. Everything runs for real: the emulators
serve both APIs on loopback, the sync writes through them, and every sentence is built
from what the run recorded (the journal, the links), not from a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from pcosync.app.context import Connection, open_connection
from pcosync.app.names import PeopleNames
from pcosync.app.people_sync import RunSummary
from pcosync.app.review import approve, revert
from pcosync.app.safety import describe_safety
from pcosync.cli.output import esc
from pcosync.config import load_settings
from pcosync.domain.fields import field_spec
from pcosync.domain.identity import Side
from pcosync.emulators.server import BackgroundServer
from pcosync.engine.merge import Reason
from pcosync.engine.plan import OpKind
from pcosync.store import Store

console = Console(emoji=False, highlight=False)
NORTH = "North Campus"

# names a person could type, which a terminal must show as they are (issue 12)
TRICKY_NAMES = ("[/]", "[link=https://example.org]Sam[/link]", "[bold]Ann", ":smile: Lee")


@dataclass
class Demo:
    pco_url: str
    rock_url: str
    app_id: str
    secret: str
    api_key: str
    config: Path


@dataclass
class Person:
    rock_id: int
    pco_id: str
    name: str
    campus_id: str | None = None  # Planning Center's


def say(text: str) -> None:
    """One paragraph of the story (markup allowed; names go in through ``esc``)."""
    console.print(text, overflow="fold")


def step(number: int, title: str, command: str = "") -> None:
    tail = f"  [dim]({command})[/dim]" if command else ""
    console.print(f"\n[bold]{number}. {title}[/bold]{tail}")


def _control(url: str, path: str, payload: Any = None) -> Any:
    with httpx.Client(base_url=url, timeout=30) as http:
        resp = (
            http.post(f"/__emulator__/{path}", json=payload)
            if payload is not None
            else http.get(f"/__emulator__/{path}")
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None


def _init(demo: Demo) -> int:
    """``pcosync init --non-interactive`` as an installer would run it; its report is kept
    for when it fails."""
    from typer.main import get_command

    from pcosync.cli.main import app

    args = [
        "init",
        "--non-interactive",
        "--config",
        str(demo.config),
        "--rock-url",
        demo.rock_url,
        "--rock-api-key",
        demo.api_key,
        "--pco-url",
        demo.pco_url,
        "--pco-app-id",
        demo.app_id,
        "--pco-secret",
        demo.secret,
        "--time-zone",
        "America/Chicago",
    ]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            get_command(app).main(args=args, prog_name="pcosync", standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    if code != 0:
        console.print(esc(out.getvalue()))
    return code


async def _with(demo: Demo, work: Any) -> Any:
    async with open_connection(load_settings(demo.config)) as conn:
        return await work(conn)


def run(demo: Demo, work: Any) -> Any:
    return asyncio.run(_with(demo, work))


def sync(demo: Demo) -> RunSummary:
    async def go(conn: Connection) -> RunSummary:
        return await conn.people.run()

    result: RunSummary = run(demo, go)
    return result


def _store(demo: Demo) -> Store:
    return Store.open(load_settings(demo.config).state_url())


def _cast(demo: Demo, count: int, *, need: int | None = None) -> list[Person]:
    """Linked people with a phone and an email, named as both sides agree."""

    async def go(conn: Connection) -> list[Person]:
        names = PeopleNames.from_store(conn.store)
        people = {p.id: p for p in await conn.pco_client.people()}
        out = []
        for link in conn.store.links.all():
            p = people.get(link.pco_person_id)
            name = names.by_link.get(link.id)
            if p is None or not p.phone_numbers or not p.emails or not name:
                continue
            out.append(Person(link.rock_person_id, link.pco_person_id, name, p.primary_campus_id))
        return out[:count]

    cast: list[Person] = run(demo, go)
    if len(cast) < (count if need is None else need):
        raise RuntimeError("the demo church has too few linked people with phones and emails")
    return cast


def _rename(demo: Demo, cast: Sequence[Person]) -> list[Person]:
    """Give the cast names full of terminal markup, on both sides (a test uses this)."""
    out = []
    for person, first in zip(cast, TRICKY_NAMES, strict=False):
        _control(demo.pco_url, f"people/{person.pco_id}", {"first_name": first, "nickname": None})
        _control(demo.rock_url, f"people/{person.rock_id}", {"FirstName": first, "NickName": None})
        last = person.name.split()[-1]
        out.append(Person(person.rock_id, person.pco_id, f"{first} {last}", person.campus_id))
    return out + list(cast[len(out) :])


def _value(field: str, value: Any) -> str:
    return field_spec(field).display(value)


def run_demo(
    *, people: int = 60, seed: int = 7, workdir: str | None = None, tricky_names: bool = False
) -> int:
    from pcosync.emulators.credentials import DEFAULT_API_KEY, DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import create_app as create_rock

    started = time.monotonic()
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pcosync-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]pcosync demo[/bold]")
    say(
        f"One church of {people} people, kept in Rock RMS and in Planning Center. Both run "
        "here on this computer as faithful stand-ins; pcosync talks to them as to the real ones."
    )
    with (
        BackgroundServer(create_pco(seed=seed, people=people)) as pco_url,
        BackgroundServer(create_rock(seed=seed, people=people)) as rock_url,
    ):
        config = work / "pcosync.toml"
        demo = Demo(pco_url, rock_url, DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_API_KEY, config)
        ok = _story(demo, tricky_names)
    console.print(
        f"\nDone in {time.monotonic() - started:.0f} s. The record of every run stays: "
        f"[bold]pcosync --config {esc(work / 'pcosync.toml')} runs show 2[/bold] shows the "
        "second sync in full. What you saw, and how to run pcosync on your own Rock and "
        "Planning Center: docs/demo.md and docs/operations.md.",
        highlight=False,
    )
    return 0 if ok else 1


def _story(demo: Demo, tricky_names: bool) -> bool:
    # 1. setup
    step(1, "Setup", "pcosync init")
    if _init(demo) != 0:
        return False
    settings = load_settings(demo.config)
    say(
        "Both connections and their permissions are checked, the settings written. Brakes "
        f"are on: {esc(describe_safety(settings.safety))}."
    )

    # 2. the first sync
    step(2, "First sync: who is in sync", "pcosync sync")
    first = sync(demo)
    created = first.created["rock"] + first.created["pco"]
    say(
        f"{first.linked} people who serve on Planning Center teams are now linked to their "
        f"Rock record: {first.linked - created} were found in both (same email, mobile, or "
        f"name and birthdate), {first.created['rock']} were added to Rock, "
        f"{first.created['pco']} to Planning Center."
    )
    store = _store(demo)
    try:
        issues = store.issues.list()
    finally:
        store.close()
    for issue in issues[:1]:
        say(f"[yellow]Not linked, and why:[/yellow] {esc(issue.message)}")

    cast = _cast(demo, 4)
    if tricky_names:
        cast = _rename(demo, cast)
        sync(demo)
    phone, email, conflict, broken = cast

    # 3.-5. people edit both systems; one sync
    async def edit(conn: Connection) -> None:
        pco = conn.pco_client
        person = await pco.person(phone.pco_id)
        await pco.update_phone(person.phone_numbers[0].id, {"number": "+1 (615) 555-0142"})
        _control(demo.rock_url, f"people/{email.rock_id}", {"Email": "new.address@example.org"})
        _control(demo.rock_url, f"people/{conflict.rock_id}", {"NickName": "Sunny"})
        _control(demo.pco_url, "clock", {"advance_seconds": 60})
        _control(demo.pco_url, f"people/{conflict.pco_id}", {"nickname": "Sunshine"})
        bad = await pco.person(broken.pco_id)
        await pco.update_phone(bad.phone_numbers[0].id, {"number": "12"})

    run(demo, edit)
    second = sync(demo)
    store = _store(demo)
    try:
        ops = store.journal.list(second.run_id)
        conflicts = store.journal.conflicts(second.run_id)
        parked = [p for p in store.parked.list() if p.run_id == second.run_id]
    finally:
        store.close()
    step(3, "One edit each way", "pcosync sync")
    for j in ops:
        op = j.operation
        for name, (_before, after) in op.changes.items():
            if op.kind is not OpKind.UPDATE or op.field_reasons.get(name, op.reason) is not (
                Reason.EDIT
            ):
                continue
            say(
                f"• {op.side.other.label} → {op.side.label}: "
                f"{esc(op.ref.name or op.ref.describe())}'s {field_spec(name).label.lower()}, "
                f"now {esc(_value(name, after))} in both."
            )
    step(4, "A conflict, and who won")
    for c in conflicts:
        winner, loser = c.winner, c.winner.other
        when = {Side.ROCK: c.rock_modified, Side.PCO: c.pco_modified}
        won_at, lost_at = when[winner], when[loser]
        gap = (won_at - lost_at).total_seconds() if won_at and lost_at else 0.0
        minutes = round(gap / 60)
        later = (
            "a minute later" if minutes == 1 else f"{minutes} minutes later" if minutes else "later"
        )
        value = {Side.ROCK: c.rock_value, Side.PCO: c.pco_value}
        say(
            f"{esc(c.ref.name or c.ref.describe())}'s {field_spec(c.field).label.lower()} was "
            f"changed on both sides: to “{esc(_value(c.field, value[loser]))}” in "
            f"{loser.label}, and {later} to “{esc(_value(c.field, value[winner]))}” in "
            f"{winner.label}. The later edit wins, so both now say "
            f"“{esc(_value(c.field, value[winner]))}”; the other value is kept in the run's "
            f"record (pcosync runs show {second.run_id})."
        )
    step(5, "A bad value is parked, not copied", "pcosync parked")
    if parked:
        say(
            f"Someone typed “12” as {esc(broken.name)}'s phone number in Planning Center. "
            "Rock keeps the old number; pcosync set the record aside with the reason, and "
            "copies it once it is corrected."
        )
    third = sync(demo)
    say(
        "The next sync finds nothing left to do: both systems agree."
        if third.planned == 0
        else f"[red]The next sync still planned {third.planned} changes.[/red]"
    )

    # 6. a big change is held, reviewed and approved
    step(6, "A big change waits for approval", "pcosync review, pcosync approve")
    campuses = {c.name: c.id for c in run(demo, lambda conn: conn.pco_client.campuses())}
    north = campuses[NORTH]
    movers = [p for p in _cast(demo, 100, need=12)[4:] if p.campus_id not in (north, None)][:8]

    async def bulk(conn: Connection) -> None:
        for person in movers:
            await conn.pco_client.update_person(person.pco_id, {"primary_campus_id": north})

    run(demo, bulk)
    held = sync(demo)
    reason = held.hold_reasons[0] if held.hold_reasons else "not held"
    say(
        f"Someone moved {len(movers)} people to {NORTH} in Planning Center at once. The sync "
        f"held it and wrote nothing: {esc(reason)}"
    )
    approved = run(demo, lambda conn: approve(conn.people, held.run_id, by="demo"))
    moved = _rock_campuses(demo, movers)
    say(
        f"The admin looked at it ({esc(', '.join(p.name for p in movers[:2]))} and "
        f"{len(movers) - 2} more) and approved it: Rock has all {moved.get(NORTH, 0)} at "
        f"{NORTH} now."
    )

    # 7. undo
    step(7, "Undo", f"pcosync revert {held.run_id}")
    undone = run(demo, lambda conn: revert(conn.people, held.run_id))
    undo_held = undone.held
    if undo_held:  # as big a change, measured against the same limits
        undo_run = undone.summary.run_id
        run(demo, lambda conn: approve(conn.people, undo_run, by="demo"))
    back = _rock_campuses(demo, movers)
    follow = sync(demo)
    waited = " As big a change, the undo waited for approval too." if undo_held else ""
    say(
        f"It was a mistake after all.{waited} Reverting run {held.run_id} put the "
        f"{len(movers) - back.get(NORTH, 0)} people back at their old campus in Rock. Planning "
        "Center keeps what was typed there, and the next sync writes neither value back: both "
        "stay as they are until someone edits one of them."
        if follow.planned == 0
        else f"[red]After the undo, the next sync still planned {follow.planned} changes.[/red]"
    )
    return (
        first.exit_code == 0
        and second.exit_code == 3
        and bool(conflicts)
        and bool(parked)
        and third.planned == 0
        and held.exit_code == 4
        and approved.summary.exit_code in (0, 3)
        and moved.get(NORTH, 0) == len(movers) > 0
        and undone.summary.exit_code in (0, 3, 4)
        and back.get(NORTH, 0) == 0
        and follow.planned == 0
    )


def _rock_campuses(demo: Demo, people: Sequence[Person]) -> dict[str, int]:
    """How many of these people Rock has at each campus (by name)."""

    async def go(conn: Connection) -> dict[str, int]:
        await conn.rock.prepare()
        out: dict[str, int] = {}
        for person in people:
            seen = await conn.rock.fetch_one(person.rock_id)
            campus = seen.person.campus if seen is not None else None
            if campus:
                out[campus] = out.get(campus, 0) + 1
        return out

    result: dict[str, int] = run(demo, go)
    return result


__all__: Sequence[str] = ["TRICKY_NAMES", "run_demo"]
