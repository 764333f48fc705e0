"""``pcosync demo``: a real two-way sync between both emulators, explained for a church admin.

1. start both emulators with the same seeded church (people on both sides, on one side only,
   a few duplicates);
2. ``pcosync init --non-interactive`` writes the configuration (and checks both connections);
3. the first sync links, creates, settles first-link differences and reports match issues;
   then ``pcosync teams import`` mirrors the Services teams in Rock and the sync carries team
   memberships both ways (a member added in Rock, an assignment removed in Planning Center,
   a team deleted in Planning Center while the sync carries on);
4. people edit records on both sides: a phone in Planning Center, an email in Rock, the same
   field on both sides (a conflict), different fields of one person on both sides, and a
   phone number nobody can parse;
5. the second sync copies each edit across and the demo says, field by field, what happened
   and why; a third sync shows that nothing is left to do;
6. with a 0 % threshold the next run is held; the demo reviews it, approves it, and reverts
   it on both systems.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from pcosync.app.context import open_connection
from pcosync.app.people_sync import RunSummary
from pcosync.clients.pco import PcoClient
from pcosync.config import load_settings, write_settings
from pcosync.domain.fields import field_spec
from pcosync.emulators.server import BackgroundServer
from pcosync.store import Store

console = Console()
SECRET_FLAGS = frozenset({"--rock-api-key", "--pco-secret", "--pco-app-id"})


@dataclass
class Demo:
    pco_url: str
    rock_url: str
    app_id: str
    secret: str
    api_key: str
    config: Path


def _control(url: str, path: str, payload: Any = None) -> Any:
    with httpx.Client(base_url=url, timeout=30) as http:
        resp = (
            http.post(f"/__emulator__/{path}", json=payload)
            if payload is not None
            else http.get(f"/__emulator__/{path}")
        )
        resp.raise_for_status()
        return resp.json() if resp.content else None


def _cli(demo: Demo, *args: str) -> int:
    """Run a pcosync command in this process, as an admin would type it."""
    from typer.main import get_command

    from pcosync.cli.main import app

    shown = ["•••" if i and args[i - 1] in SECRET_FLAGS else arg for i, arg in enumerate(args)]
    console.print(f"[bold]$ pcosync {' '.join(shown)}[/bold]")
    try:
        code = get_command(app).main(
            args=["--config", str(demo.config), *args],
            prog_name="pcosync",
            standalone_mode=False,
        )
    except SystemExit as exc:
        return int(exc.code or 0)
    return code if isinstance(code, int) else 0


def _safety(demo: Demo, cast: Cast) -> bool:
    """Hold a run at a 0 % threshold, review it, approve it, then revert it."""
    import tomllib

    data = tomllib.loads(demo.config.read_text())
    data["safety"] = {"update": {"percent": 0}, "create": {"percent": 0}}
    write_settings(demo.config, data)
    console.print(
        "The admin sets every change to be held for review (\\[safety] update and create at "
        "0 %), and someone edits a person in Planning Center."
    )
    _control(demo.pco_url, f"people/{cast.email[1]}", {"last_name": "Holdsworth"})
    held = asyncio.run(_sync(demo))
    console.print(_headline(held) + f" → [yellow]{held.status.value}[/yellow]")
    for reason in held.hold_reasons:
        console.print(f"  • {reason}")
    _cli(demo, "review", str(held.run_id))
    approved = _cli(demo, "approve", str(held.run_id))
    rock_name = _rock_last_name(demo, cast.email[0])
    console.print(f"After approval, Rock says the last name is “{rock_name}”.")
    reverted = _cli(demo, "revert", str(held.run_id), "--yes")
    if reverted == 4:  # the revert is measured against the same 0 % limits: held too
        store = Store.open(load_settings(demo.config).state_url())
        try:
            revert_run = store.runs.list(1)[0].id
        finally:
            store.close()
        console.print("The revert is held by the same limits; the admin approves it too.")
        reverted = _cli(demo, "approve", str(revert_run))
    rock_after = _rock_last_name(demo, cast.email[0])
    console.print(f"After the revert, Rock says “{rock_after}” again: the run is undone.")
    return (
        approved == 0
        and reverted in (0, 3)
        and rock_name == "Holdsworth"
        and rock_after != "Holdsworth"
    )


def _teams(demo: Demo) -> bool:
    """Import the teams, sync memberships both ways, and survive a deleted team."""
    console.print(
        '`init` was told the teams go under the Rock group "Serving Teams"; the admin imports:'
    )
    imported = _cli(demo, "teams", "import")
    first = asyncio.run(_sync(demo))
    console.print(_headline(first))
    console.print(
        f"Team memberships: {first.members_added['rock']} Planning Center assignments became "
        f"active members of the position groups in Rock, {first.members_added['pco']} Rock "
        "members were assigned in Planning Center."
    )
    store = Store.open(load_settings(demo.config).state_url())
    try:
        linked = {lk.pco_person_id: lk.rock_person_id for lk in store.links.all()}
        positions = {
            g.pco_id.partition(":")[2]: g.rock_group_id
            for g in store.groups.all()
            if g.pco_id.startswith("TeamPosition:")
        }
    finally:
        store.close()
    teams = _pco_get(demo, "/services/v2/teams", include="person_team_position_assignments")
    assigned = [
        (t["id"], a)
        for t in teams["data"]
        for a in _included(teams, t, "person_team_position_assignments")
        if not t["attributes"]["deleted_at"] and not t["attributes"]["archived_at"]
    ]
    # 1. Rock: a linked person joins a position they are not on
    pos_of = {a["id"]: a["relationships"]["team_position"]["data"]["id"] for _t, a in assigned}
    person_of = {a["id"]: a["relationships"]["person"]["data"]["id"] for _t, a in assigned}
    team_id, gone = assigned[0]
    position = pos_of[gone["id"]]
    on_position = {person_of[a["id"]] for _t, a in assigned if pos_of[a["id"]] == position}
    joiner = next(p for p in sorted(linked) if p not in on_position)
    _control(
        demo.rock_url,
        "group-members",
        {"GroupId": positions[position], "PersonId": linked[joiner]},
    )
    # 2. Planning Center: someone else is taken off that position
    leaver = person_of[gone["id"]]
    service_type = next(
        t["relationships"]["service_type"]["data"]["id"]
        for t in teams["data"]
        if t["id"] == team_id
    )
    with httpx.Client(base_url=demo.pco_url, auth=(demo.app_id, demo.secret)) as http:
        http.delete(
            f"/services/v2/service_types/{service_type}/team_positions/{position}"
            f"/person_team_position_assignments/{gone['id']}"
        ).raise_for_status()
    console.print(
        f"  • In Rock, Planning Center person {joiner} (Rock Id {linked[joiner]}) joined the "
        f"group of position {position}.\n  • In Planning Center, person {leaver} was taken off "
        "that position."
    )
    second = asyncio.run(_sync(demo))
    console.print(_headline(second))
    pco_people = {a["person"] for a in _assignments(demo, team_id) if a["position"] == position}
    rock_rows = _rock_get(demo, "/api/GroupMembers", f"GroupId eq {positions[position]}")
    status = {int(r["PersonId"]): r["GroupMemberStatus"] for r in rock_rows}
    assigned_now = joiner in pco_people
    inactive_now = status.get(linked.get(leaver, -1)) == 0
    console.print(
        f"Planning Center now assigns person {joiner}: {assigned_now}. Rock person "
        f"{linked.get(leaver)} is an inactive member now (Rock keeps the history): {inactive_now}."
    )
    both_ways = assigned_now and inactive_now
    # 3. a team deleted in Planning Center while the sync runs on
    other = next(
        t for t in teams["data"] if t["id"] != team_id and not t["attributes"]["deleted_at"]
    )
    _control(demo.pco_url, f"teams/{other['id']}/delete", {})
    console.print(f"In Planning Center, someone deletes the team “{other['attributes']['name']}”.")
    third = asyncio.run(_sync(demo))
    console.print(_headline(third) + f" → [green]{third.status.value}[/green]")
    for note in third.notes:
        console.print(f"  • {note}")
    # restored within PCO's 30 days: the next sync reactivates its groups
    _control(demo.pco_url, f"teams/{other['id']}/restore", {})
    console.print("The team is restored in Planning Center (within 30 days); the next sync:")
    fourth = asyncio.run(_sync(demo))
    console.print(_headline(fourth) + f" → [green]{fourth.status.value}[/green]")
    for note in fourth.notes:
        console.print(f"  • {note}")
    tags_ok = _tags(demo)
    return (
        imported == 0
        and both_ways
        and third.exit_code == 0
        and any("deleted" in n for n in third.notes)
        and fourth.exit_code == 0
        and any("restored" in n for n in fourth.notes)
        and tags_ok
    )


def _tags(demo: Demo) -> bool:
    """Tags (optional): the Skills tag group as Rock groups, who has each tag as members."""
    import tomllib

    data = tomllib.loads(demo.config.read_text())
    data.setdefault("teams", {}).update({"tags": True, "tag_groups": ["Skills"]})
    write_settings(demo.config, data)
    console.print(
        'Tags are optional: with \\[teams] tags = true and tag_groups = ["Skills"], the import '
        "adds a group per Skills tag and the sync keeps who has each tag:"
    )
    imported = _cli(demo, "teams", "import")
    run = asyncio.run(_sync(demo))
    console.print(_headline(run))
    store = Store.open(load_settings(demo.config).state_url())
    try:
        tag_groups = [g for g in store.groups.all() if g.pco_id.startswith("Tag:")]
    finally:
        store.close()
    console.print(
        f"The {len(tag_groups)} Skills tags are Rock groups now; {run.members_added['rock']} "
        "people's tags became active members of them."
    )
    return imported == 0 and run.exit_code == 0 and bool(tag_groups)


def _pco_get(demo: Demo, path: str, **params: Any) -> dict[str, Any]:
    with httpx.Client(base_url=demo.pco_url, auth=(demo.app_id, demo.secret)) as http:
        resp = http.get(path, params={"per_page": 100, **params})
        resp.raise_for_status()
        doc: dict[str, Any] = resp.json()
        return doc


def _included(doc: dict[str, Any], row: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    wanted = {(r["type"], r["id"]) for r in row["relationships"].get(rel, {}).get("data") or []}
    return [i for i in doc.get("included", []) if (i["type"], i["id"]) in wanted]


def _assignments(demo: Demo, team_id: str) -> list[dict[str, str]]:
    doc = _pco_get(demo, f"/services/v2/teams/{team_id}/person_team_position_assignments")
    return [
        {
            "person": a["relationships"]["person"]["data"]["id"],
            "position": a["relationships"]["team_position"]["data"]["id"],
        }
        for a in doc["data"]
    ]


def _rock_get(demo: Demo, path: str, odata_filter: str) -> list[dict[str, Any]]:
    headers = {"Authorization-Token": demo.api_key}
    with httpx.Client(base_url=demo.rock_url, headers=headers) as http:
        resp = http.get(path, params={"$filter": odata_filter})
        resp.raise_for_status()
        rows: list[dict[str, Any]] = resp.json()
        return rows


def _rock_last_name(demo: Demo, rock_id: int) -> str:
    headers = {"Authorization-Token": demo.api_key}
    with httpx.Client(base_url=demo.rock_url, headers=headers) as http:
        return str(http.get(f"/api/People/{rock_id}").json().get("LastName"))


def _configure(demo: Demo) -> None:
    """``pcosync init --non-interactive``, as a volunteer installing pcosync would run it."""
    code = _cli(
        demo,
        "init",
        "--non-interactive",
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
        "--teams-parent-group",
        "Serving Teams",
    )
    if code != 0:
        raise RuntimeError(f"pcosync init failed (exit {code})")


async def _sync(demo: Demo) -> RunSummary:
    async with open_connection(load_settings(demo.config)) as conn:
        return await conn.people.run()


def _headline(summary: RunSummary) -> str:
    return (
        f"Run {summary.run_id} ({summary.mode.value}): {summary.linked} new links, "
        f"{summary.created['rock']} created in Rock, {summary.created['pco']} created in "
        f"Planning Center, {summary.updated['rock']} updated in Rock, "
        f"{summary.updated['pco']} updated in Planning Center, {summary.conflicts} "
        f"conflicts settled, {summary.parked} parked, {summary.match_issues} match issues"
        + (
            f", team memberships: {summary.members_added['rock']} added / "
            f"{summary.members_removed['rock']} removed in Rock, "
            f"{summary.members_added['pco']} added / {summary.members_removed['pco']} removed "
            "in Planning Center"
            if summary.members_added or summary.members_removed
            else ""
        )
        + f" — {summary.seconds:.1f}s"
    )


@dataclass
class Cast:
    """The linked people the demo edits, with their ids on both sides."""

    phone: tuple[int, str, str]  # rock id, pco id, name
    email: tuple[int, str, str]
    conflict: tuple[int, str, str]
    both: tuple[int, str, str]
    broken: tuple[int, str, str]


async def _pick_cast(demo: Demo) -> Cast:
    store = Store.open(load_settings(demo.config).state_url())
    links = store.links.all()
    store.close()
    async with PcoClient(demo.pco_url, app_id=demo.app_id, secret=demo.secret) as pco:
        people = {p.id: p for p in await pco.people()}
    chosen: list[tuple[int, str, str]] = []
    for link in links:
        p = people.get(link.pco_person_id)
        if p is None or not p.phone_numbers or not p.emails:
            continue
        chosen.append((link.rock_person_id, link.pco_person_id, p.name))
        if len(chosen) == 5:
            break
    if len(chosen) < 5:
        raise RuntimeError("the demo church has too few linked people with phones and emails")
    return Cast(*chosen)


async def _edit(demo: Demo, cast: Cast) -> list[str]:
    """What people do in the two web UIs between syncs. Returns the story, line by line."""
    story = []
    async with PcoClient(demo.pco_url, app_id=demo.app_id, secret=demo.secret) as pco:
        # 1. a volunteer updates their mobile number in Planning Center
        person = await pco.person(cast.phone[1])
        phone = person.phone_numbers[0]
        await pco.update_phone(phone.id, {"number": "+1 (615) 555-0142"})
        story.append(
            f"In Planning Center, {cast.phone[2]} changed their "
            f"{(phone.location or 'phone').lower()} number."
        )
        # 2. Rock staff fix an email address
        _control(demo.rock_url, f"people/{cast.email[0]}", {"Email": "new.address@example.org"})
        story.append(f"In Rock, the office updated {cast.email[2]}'s email address.")
        # 3. the same field on both sides: Rock first, Planning Center a minute later
        _control(demo.rock_url, f"people/{cast.conflict[0]}", {"NickName": "Sunny"})
        _control(demo.pco_url, "clock", {"advance_seconds": 60})
        _control(demo.pco_url, f"people/{cast.conflict[1]}", {"nickname": "Sunshine"})
        story.append(
            f"{cast.conflict[2]}'s nickname was changed on both sides: to “Sunny” in "
            "Rock, and a minute later to “Sunshine” in Planning Center."
        )
        # 4. different fields of one person, on both sides, at the same time
        _control(demo.rock_url, f"people/{cast.both[0]}", {"MiddleName": "Grace"})
        _control(demo.pco_url, f"people/{cast.both[1]}", {"birthdate": "1990-04-12"})
        story.append(
            f"{cast.both[2]} got a middle name in Rock and a new birthdate in "
            "Planning Center, at the same time."
        )
        # 5. a phone number nobody can dial
        broken = await pco.person(cast.broken[1])
        await pco.update_phone(broken.phone_numbers[0].id, {"number": "12"})
        story.append(f"In Planning Center, someone typed “12” as {cast.broken[2]}'s phone number.")
    return story


def _explain(demo: Demo, run_id: int) -> None:
    store = Store.open(load_settings(demo.config).state_url())
    try:
        ops = store.journal.list(run_id)
        conflicts = store.journal.conflicts(run_id)
        parked = [p for p in store.parked.list() if p.run_id == run_id]
    finally:
        store.close()
    table = Table(title=f"What run {run_id} did, field by field", show_lines=True)
    for col in ("written to", "person", "field", "before → after", "why"):
        table.add_column(col)
    lost = {(c.ref.rock_id, c.field): c for c in conflicts}
    for j in ops:
        op = j.operation
        for name, (before, after) in op.changes.items():
            spec = field_spec(name)
            reason = op.field_reasons.get(name, op.reason).value
            conflict = lost.get((op.ref.rock_id, name))
            if reason == "conflict_winner" and conflict is not None:
                why = (
                    f"changed on both sides; {conflict.winner.label}'s edit was later, so it "
                    f"wins. The other value ({spec.display(conflict.loser_value)}) is kept "
                    f"in run {run_id}'s record."
                )
            elif reason == "edit":
                why = f"edited in {op.side.other.label}"
            else:
                why = reason.replace("_", " ")
            table.add_row(
                op.side.label,
                op.ref.describe(),
                spec.label,
                f"{spec.display(before)} → {spec.display(after)}",
                why,
            )
    console.print(table)
    for p in parked:
        console.print(f"[yellow]Parked[/yellow] ({p.record_key} in {p.side}): {p.reason}")
    if conflicts:
        console.print(f"The conflict is listed with both values in `pcosync runs show {run_id}`.")


def run_demo(*, people: int = 120, seed: int = 7, workdir: str | None = None) -> int:
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    started = time.monotonic()
    console.rule("[bold]pcosync demo[/bold]")
    console.print(
        f"Starting Planning Center and Rock emulators with the same seeded church "
        f"(seed {seed}, {people} people)…"
    )
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pcosync-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    with (
        BackgroundServer(create_pco(seed=seed, people=people)) as pco_url,
        BackgroundServer(create_rock(seed=seed, people=people)) as rock_url,
    ):
        demo = Demo(
            pco_url,
            rock_url,
            DEFAULT_APP_ID,
            DEFAULT_SECRET,
            DEFAULT_API_KEY,
            work / "pcosync.toml",
        )
        console.print(f"  Planning Center: {pco_url}\n  Rock RMS:        {rock_url}")
        console.rule("1. Setup")
        _configure(demo)
        console.print(f"Configuration written to {demo.config}")

        console.rule("2. First sync")
        first = asyncio.run(_sync(demo))
        console.print(_headline(first))
        console.print(
            "People serving in Planning Center were matched to Rock people by email, "
            "mobile number, or name and birthdate; those with no match were created "
            "in Rock. Where the two records differed, the most recently edited side "
            "won, field by field."
        )
        _show_issues(demo)

        console.rule("2b. Serving teams: memberships both ways")
        teams_ok = _teams(demo)

        console.rule("3. People edit records on both sides")
        cast = asyncio.run(_pick_cast(demo))
        for line in asyncio.run(_edit(demo, cast)):
            console.print(f"  • {line}")

        console.rule("4. Second sync")
        second = asyncio.run(_sync(demo))
        console.print(_headline(second))
        _explain(demo, second.run_id)

        console.rule("5. Third sync")
        third = asyncio.run(_sync(demo))
        console.print(_headline(third))
        quiet = third.planned == 0
        console.print(
            "Nothing left to do: both systems agree."
            if quiet
            else f"[yellow]{third.planned} operations planned[/yellow]"
        )

        console.rule("6. Safety: a held run, its review, approval, and a revert")
        safe = _safety(demo, cast)
    console.print(
        Panel(
            f"Done in {time.monotonic() - started:.0f}s. The state of this demo is in {work}.\n"
            "Try it yourself: `pcosync emulate pco` and `pcosync emulate rock` in two terminals, "
            "then `pcosync init`, `pcosync sync --dry-run`, `pcosync sync`, `pcosync runs`.",
            title="pcosync demo",
        )
    )
    return 0 if quiet and safe and teams_ok else 1


def _show_issues(demo: Demo) -> None:
    store = Store.open(load_settings(demo.config).state_url())
    try:
        issues = store.issues.list()
    finally:
        store.close()
    if not issues:
        return
    console.print(
        f"{len(issues)} people could not be matched safely, so pcosync linked nobody and says why:"
    )
    for issue in issues[:3]:
        console.print(
            Panel(
                issue.message, title=f"match issue #{issue.id} ({issue.kind.value})", expand=False
            )
        )


__all__: Sequence[str] = ["run_demo"]
