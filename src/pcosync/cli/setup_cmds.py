"""``pcosync init`` and ``pcosync check``: prompts, tables, exit codes.

The work is done by :mod:`pcosync.setup`; this module asks, prints and maps outcomes to exit
codes (0 done, 1 a verification failed, 2 usage or configuration). Secrets are read hidden
and never printed. Both commands take ``--config`` themselves too, so
``pcosync init --config FILE`` and ``pcosync --config FILE check`` both work.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.prompt import Confirm, Prompt
from rich.table import Table
from rich.text import Text

from pcosync.app.safety import describe_safety
from pcosync.config import Settings, find_config, load_settings
from pcosync.errors import ApiError, ConfigError
from pcosync.setup.assistant import (
    DEFAULT_PCO_URL,
    DEFAULT_STATE_URL,
    InitOutcome,
    InitPlan,
    NotifyChoice,
    TeamsChoice,
    campus_proposal,
    cron_line,
    env_names,
    first_sync_estimate,
    normalize_url,
    prepare_init,
    read_existing,
    run_checks,
    save,
    unmatched,
    verify_pco,
    verify_rock,
    verify_teams,
)
from pcosync.setup.campuses import CampusPair, MatchKind
from pcosync.setup.probes import (
    GroupType,
    ParentGroup,
    ParentStatus,
    PcoFacts,
    RockFacts,
    parse_parent,
    teams_check,
)
from pcosync.setup.results import Check, Status, all_passed
from pcosync.setup.timezone import choose_time_zone, is_valid_zone

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ATTEMPTS = 3

_LABELS = {
    Status.OK: ("ok", "green"),
    Status.WARNING: ("warning", "yellow"),
    Status.FAILED: ("FAILED", "bold red"),
}


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


class _Prompt(Prompt):
    """Rich's prompt, reading hidden input through Typer's prompt so it works without a
    terminal (piped input, tests) exactly as it does with one."""

    @classmethod
    def get_input(
        cls,
        console: Console,
        prompt: Any,
        password: bool,
        stream: TextIO | None = None,
    ) -> str:
        if not password:
            return console.input(prompt, stream=stream)
        console.print(prompt, end="")
        value: str = typer.prompt(
            "", default="", show_default=False, hide_input=True, prompt_suffix=""
        )
        return value


def print_checks(console: Console, checks: list[Check]) -> None:
    for check in checks:
        label, style = _LABELS[check.status]
        console.print(
            Text.assemble((f"{label:<8}", style), (check.name, "bold"), f": {check.detail}")
        )
        if check.fix and check.status is not Status.OK:
            console.print(Text(f"         what to do: {check.fix}", style="dim"))


def _campus_table(pairs: list[CampusPair]) -> Table:
    table = Table(title="Proposed campus map", title_justify="left")
    table.add_column("Rock campus (Id)")
    table.add_column("Planning Center campus (id)")
    table.add_column("Matched by")
    for p in pairs:
        rock = f"{p.rock_name} ({p.rock_id})" if p.rock_id is not None else "-"
        pco = f"{p.pco_name} ({p.pco_id})" if p.pco_id is not None else "-"
        how = {
            MatchKind.KEPT: Text("kept from the file", style="green"),
            MatchKind.SAME_NAME: Text("same name", style="green"),
            MatchKind.SIMILAR_NAME: Text("similar name: please check", style="yellow"),
        }.get(p.kind, Text("not matched: map by hand", style="red"))
        table.add_row(Text(rock), Text(pco), how)  # names from the APIs: never markup
    return table


# ------------------------------------------------------------------------------ init


@dataclass
class InitOptions:
    config: Path | None
    non_interactive: bool
    rock_url: str | None
    rock_api_key: str | None
    pco_url: str | None
    pco_app_id: str | None
    pco_secret: str | None
    time_zone: str | None
    state_url: str | None
    secrets_in_env: bool
    force: bool
    teams_parent_group: str | None = None
    teams_group_type: str | None = None
    every_minutes: int | None = None
    notify_email: list[str] = field(default_factory=list)
    smtp_host: str | None = None


class _Usage(Exception):
    """A usage or configuration problem: exit 2 with this message."""


class _Failed(Exception):
    """A verification that could not be completed: exit 1 with this message."""


def run_init(opts: InitOptions) -> int:
    console = _console()
    errors = _console(stderr=True)
    try:
        if opts.non_interactive:
            return _init_non_interactive(opts, console)
        return _init_interactive(opts, console)
    except (_Usage, ConfigError) as exc:
        errors.print(Text(f"pcosync init: {exc}", style="red"))
        return EXIT_USAGE
    except _Failed as exc:
        errors.print(Text(f"pcosync init: {exc}. Nothing was written.", style="red"))
        return EXIT_FAILED


def _config_path(opts: InitOptions) -> Path:
    path = find_config(opts.config)
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if path.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise _Usage(f"cannot write {path} here; pick a file you may write with --config")
    return path


def _zone_or_usage(value: str | None) -> str | None:
    if value is not None and not is_valid_zone(value):
        raise _Usage(
            f"unknown time zone {value!r} for --time-zone (use a name like America/Chicago)"
        )
    return value


def _init_non_interactive(opts: InitOptions, console: Console) -> int:
    missing = [
        flag
        for flag, value in (
            ("--rock-url", opts.rock_url),
            ("--rock-api-key (or PCOSYNC_ROCK_API_KEY)", opts.rock_api_key),
            ("--pco-app-id (or PCOSYNC_PCO_APP_ID)", opts.pco_app_id),
            ("--pco-secret (or PCOSYNC_PCO_SECRET)", opts.pco_secret),
        )
        if not value
    ]
    if missing:
        raise _Usage("--non-interactive needs " + ", ".join(missing))
    path = _config_path(opts)
    if path.exists() and not opts.force:
        raise _Usage(
            f"{path} already exists; pass --force to replace it (settings init does not "
            "manage are kept), or --config to write another file"
        )
    rock_url, rock_note = normalize_url(opts.rock_url or "", "--rock-url")
    pco_url, pco_note = normalize_url(opts.pco_url or DEFAULT_PCO_URL, "--pco-url")
    for note in (rock_note, pco_note):
        if note:
            console.print(Text(note))
    plan = InitPlan(
        config_path=path,
        rock_url=rock_url,
        rock_api_key=opts.rock_api_key or "",
        pco_url=pco_url,
        pco_app_id=opts.pco_app_id or "",
        pco_secret=opts.pco_secret or "",
        state_url=opts.state_url or DEFAULT_STATE_URL,
        time_zone=_zone_or_usage(opts.time_zone),
        secrets_in_env=opts.secrets_in_env,
        every_minutes=opts.every_minutes,
        notify=_notify_given(opts),
    )
    console.print(
        Text(f"Checking Rock RMS at {plan.rock_url} and Planning Center at {plan.pco_url}…")
    )
    (rock_checks, rock_facts), (pco_checks, pco_facts) = asyncio.run(_verify_both(plan))
    print_checks(console, rock_checks + pco_checks)
    if rock_facts is None or pco_facts is None or not all_passed(rock_checks + pco_checks):
        console.print(
            Text("Nothing was written. Fix the problems above and run init again.", style="red")
        )
        return EXIT_FAILED
    existing = read_existing(path) if path.exists() else None
    plan.teams = _teams_given(opts, existing)
    parent, group_type = _verify_teams_or_fail(plan)
    if group_type.type_id is None:
        raise _Usage(
            f"{_teams_origin(opts.teams_group_type, '--teams-group-type', 'group_type', path)}: "
            f"{group_type.describe()}; give the Id or GUID of a Rock group type (Admin Tools › "
            "Settings › Group Types), or leave it out for Rock's Serving Team type"
        )
    if parent.status is not ParentStatus.NOT_SET and not parent.usable:
        key = "parent_group_id" if plan.teams.parent_group_id is not None else "parent_group_name"
        raise _Usage(
            f"{_teams_origin(opts.teams_parent_group, '--teams-parent-group', key, path)}: "
            f"{parent.describe()}. {parent.advice()}"
        )
    print_checks(console, [teams_check(parent, group_type, "--teams-parent-group")])
    return _finish(plan, rock_facts, pco_facts, console, existing)


def _notify_given(opts: InitOptions) -> NotifyChoice | None:
    if not opts.notify_email:
        return None
    if not opts.smtp_host:
        raise _Usage("--notify-email needs --smtp-host (the mail server that sends it)")
    host, port = _host_port(opts.smtp_host)
    return NotifyChoice([e.strip() for e in opts.notify_email if e.strip()], host, port)


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.strip().partition(":")
    if not host or (port and not port.isdigit()):
        raise _Usage(f"{text!r} is not a mail server (host, or host:port)")
    return host, int(port) if port else 587


def _teams_given(opts: InitOptions, existing: dict[str, Any] | None) -> TeamsChoice:
    """The options given, else what the existing file says, else the import's defaults."""
    teams = TeamsChoice.from_existing(existing)
    if opts.teams_parent_group is not None:
        group_id, name = parse_parent(opts.teams_parent_group)
        if group_id is None and name is None:
            raise _Usage("--teams-parent-group needs a Rock group Id or name")
        teams.parent_group_id, teams.parent_group_name = group_id, name
    if opts.teams_group_type is not None:
        if not opts.teams_group_type.strip():
            raise _Usage("--teams-group-type needs a Rock group type Id or GUID")
        teams.group_type = opts.teams_group_type.strip()
    return teams


def _teams_origin(option_value: str | None, option: str, key: str, path: Path) -> str:
    """Where a bad [teams] value came from: the option, or the file being replaced."""
    if option_value is not None:
        return option
    return f"[teams] {key} in {path} (choose another with {option})"


def _verify_teams_or_fail(plan: InitPlan) -> tuple[ParentGroup, GroupType]:
    try:
        return asyncio.run(verify_teams(plan.rock_url, plan.rock_api_key, plan.teams))
    except ApiError as exc:
        raise _Failed(f"could not look up Rock's groups and group types: {exc}") from None


async def _verify_both(
    plan: InitPlan,
) -> tuple[tuple[list[Check], RockFacts | None], tuple[list[Check], PcoFacts | None]]:
    return await asyncio.gather(
        verify_rock(plan.rock_url, plan.rock_api_key),
        verify_pco(plan.pco_url, plan.pco_app_id, plan.pco_secret),
    )


def _finish(
    plan: InitPlan,
    rock: RockFacts,
    pco: PcoFacts,
    console: Console,
    existing: dict[str, Any] | None,
    *,
    campus_map_shown: bool = False,
) -> int:
    outcome = asyncio.run(prepare_init(plan, rock, pco, existing))
    print_checks(console, outcome.checks)
    if not outcome.ok:
        console.print(
            Text("Nothing was written. Fix the problems above and run init again.", style="red")
        )
        return EXIT_FAILED
    try:
        save(plan, outcome)
    except OSError as exc:
        raise _Usage(
            f"cannot write {plan.config_path}: {exc.strerror}; pick another --config"
        ) from None
    _report_written(plan, outcome, console, campus_map_shown=campus_map_shown)
    return EXIT_OK


def _print_campus_map(console: Console, pairs: list[CampusPair]) -> None:
    if pairs:
        console.print(_campus_table(pairs))
    else:
        console.print("Neither side has campuses: the campus map is empty.")


def _report_written(
    plan: InitPlan, outcome: InitOutcome, console: Console, *, campus_map_shown: bool
) -> None:
    if not campus_map_shown:
        _print_campus_map(console, outcome.campus_pairs)
    left = unmatched(outcome.campus_pairs)
    if left:
        console.print(
            Text(
                f"{len(left)} campus(es) could not be matched by name. In {plan.config_path}, "
                "add the missing rock_id or pco_id to their campus_map entries (the ids "
                "are shown above), or delete an entry to leave that campus out.",
                style="yellow",
            )
        )
    console.print(Text(f"Wrote {plan.config_path} (readable only by you).", style="green"))
    if not plan.secrets_in_env:
        console.print(
            "It holds the secrets: keep it private. To keep the file in version control, run "
            "init again with --secrets-in-env."
        )
    if plan.secrets_in_env:
        console.print(
            "The secrets are not in the file. Set these environment variables wherever "
            "pcosync runs (for example in the service's environment file):"
        )
        for name in env_names():
            console.print(f"  {name}")
    _report_brakes(plan, outcome, console)
    config_flag = f" --config {plan.config_path}" if plan.config_path != find_config() else ""
    console.print(
        Text(
            f"Next: run `pcosync{config_flag} check`, then `pcosync{config_flag} sync --dry-run` "
            f"to see the first sync's plan, and `pcosync{config_flag} sync`."
        )
    )


def _report_brakes(plan: InitPlan, outcome: InitOutcome, console: Console) -> None:
    """What the file now says about brakes, notifications and schedule, and how to change
    each; and how long the first sync should take."""
    settings = Settings.model_validate(outcome.data)
    where = f"in {plan.config_path}"
    console.print(
        Text(f"Brakes: {describe_safety(settings.safety)}. ", style="bold").append(
            f"Change the limits in [safety] {where} (see docs/operations.md, “Safety "
            "limits”); review a held run with `pcosync review RUN`.",
            style="",
        )
    )
    smtp = settings.notifications.smtp
    if smtp is not None and smtp.to:
        told = f"{', '.join(smtp.to)} by email via {smtp.host}:{smtp.port}"
        extra = f" (its password goes in {smtp.password_env})" if smtp.user else ""
        console.print(
            Text(
                f"Notifications: {told}{extra} when a run fails, is held or ends partial. "
            ).append(f"Change them in [notifications] {where}.")
        )
    else:
        console.print(
            Text("Notifications: none. Nobody is told when a run fails or is held; ").append(
                f"add [notifications.smtp] (or a webhook) {where}, or run init again."
            )
        )
    every = settings.schedule.every_minutes
    console.print(
        Text(f"Schedule: every {every} minutes. ").append(
            "pcosync does not run by itself yet: add this line to the crontab of the user "
            "it runs as (`crontab -e`), and change [schedule] every_minutes with it:"
        )
    )
    console.print(Text(f"  {cron_line(plan.config_path, every)}", style="cyan"))
    estimate = asyncio.run(first_sync_estimate(plan))
    if estimate is not None:
        console.print(Text(f"The first sync should take {estimate.sentence()}."))


def _ask(console: Console, label: str, default: str | None = None, *, secret: bool = False) -> str:
    while True:
        if default is not None:
            answer = _Prompt.ask(
                label, console=console, default=default, password=secret, show_default=not secret
            )
        else:
            answer = _Prompt.ask(label, console=console, password=secret)
        if answer.strip():
            return answer.strip()
        console.print("Please enter a value.")


def _init_interactive(opts: InitOptions, console: Console) -> int:
    path = _config_path(opts)
    console.rule("pcosync setup")
    console.print(
        "This connects pcosync to Rock RMS and Planning Center, checks the permissions the "
        f"sync needs, and writes {escape(str(path))}. Secrets are typed hidden and never shown."
    )
    if (
        path.exists()
        and not opts.force
        and not Confirm.ask(
            f"{path} already exists. Replace it? (settings init does not manage are kept)",
            console=console,
            default=False,
        )
    ):
        console.print("Nothing was changed.")
        return EXIT_OK

    console.rule("Rock RMS")
    rock_url = opts.rock_url
    rock_key = opts.rock_api_key
    rock_facts: RockFacts | None = None
    for attempt in range(ATTEMPTS):
        raw_url = (
            rock_url
            if (rock_url and attempt == 0 and opts.rock_url)
            else _ask(console, "Rock address (e.g. https://rock.example.org)", rock_url)
        )
        try:
            rock_url, note = normalize_url(raw_url, "Rock address")
        except ConfigError as exc:
            console.print(Text(str(exc), style="red"))
            rock_url = None
            continue
        if note:
            console.print(Text(note))
        if not (rock_key and attempt == 0):
            rock_key = _ask_secret(console, "Rock REST key", rock_key)
        else:
            console.print(
                "Using the Rock REST key given on the command line or in PCOSYNC_ROCK_API_KEY."
            )
        checks, rock_facts = asyncio.run(verify_rock(rock_url, rock_key))
        print_checks(console, checks)
        if rock_facts is not None and all_passed(checks):
            break
        rock_facts = None
        if attempt + 1 == ATTEMPTS or not Confirm.ask("Try again?", console=console, default=True):
            console.print(Text("Nothing was written.", style="red"))
            return EXIT_FAILED
    assert rock_url and rock_key and rock_facts is not None

    console.rule("Planning Center")
    console.print(
        "Use a Personal Access Token (https://api.planningcenteronline.com/oauth/applications) "
        "of a login with People Editor and Services Scheduler (or higher)."
    )
    pco_url = opts.pco_url or DEFAULT_PCO_URL
    app_id, secret = opts.pco_app_id, opts.pco_secret
    pco_facts: PcoFacts | None = None
    for attempt in range(ATTEMPTS):
        try:
            pco_url, note = normalize_url(
                pco_url
                if (attempt == 0 and opts.pco_url)
                else _ask(console, "Planning Center API address", pco_url),
                "Planning Center address",
            )
        except ConfigError as exc:
            console.print(Text(str(exc), style="red"))
            pco_url = DEFAULT_PCO_URL
            continue
        if note:
            console.print(Text(note))
        if not (app_id and secret and attempt == 0):
            app_id = _ask_secret(console, "Planning Center application id", app_id)
            secret = _ask_secret(console, "Planning Center secret", secret)
        else:
            console.print(
                "Using the Planning Center token given on the command line or in the environment."
            )
        checks, pco_facts = asyncio.run(verify_pco(pco_url, app_id, secret))
        print_checks(console, checks)
        if pco_facts is not None and all_passed(checks):
            break
        pco_facts = None
        if attempt + 1 == ATTEMPTS or not Confirm.ask("Try again?", console=console, default=True):
            console.print(Text("Nothing was written.", style="red"))
            return EXIT_FAILED
    assert app_id and secret and pco_facts is not None
    existing = read_existing(path) if path.exists() else None

    console.rule("Campus map")
    _print_campus_map(console, campus_proposal(rock_facts, pco_facts, existing))
    console.print("You can change the map in the file afterwards.", style="dim")

    console.rule("Serving teams")
    teams = _ask_teams(opts, console, rock_url, rock_key, existing)

    console.rule("Settings")
    zone = _zone_or_usage(opts.time_zone)
    source = "given with --time-zone"
    if zone is None:
        guess = choose_time_zone(
            explicit=None,
            rock_campus_zones=rock_facts.campus_time_zones,
            pco_zone=pco_facts.org_time_zone,
            rock_offset=None,
            now=_now(),
        )
        console.print(f"Rock's time zone: the best guess is {guess.zone}, {guess.source}.")
        while True:
            zone = _ask(
                console,
                "Rock's time zone (Rock › Admin Tools › Settings › General Settings)",
                guess.zone,
            )
            if is_valid_zone(zone):
                break
            console.print(
                Text(f"{zone!r} is not a time zone name like America/Chicago.", style="red")
            )
        source = "confirmed at the prompt"
    state_url = opts.state_url or _ask(console, "State database", DEFAULT_STATE_URL)
    secrets_in_env = opts.secrets_in_env or Confirm.ask(
        "Keep the secrets out of the file (you will set them as environment variables)?",
        console=console,
        default=False,
    )
    console.rule("Notifications and schedule")
    notify = _notify_given(opts) or _ask_notify(console)
    every = opts.every_minutes or _ask_minutes(console)
    plan = InitPlan(
        config_path=path,
        rock_url=rock_url,
        rock_api_key=rock_key,
        pco_url=pco_url,
        pco_app_id=app_id,
        pco_secret=secret,
        state_url=state_url,
        time_zone=zone,
        time_zone_source=source,
        secrets_in_env=secrets_in_env,
        teams=teams,
        every_minutes=every,
        notify=notify,
    )
    return _finish(plan, rock_facts, pco_facts, console, existing, campus_map_shown=True)


def _ask_notify(console: Console) -> NotifyChoice | None:
    console.print(
        "pcosync can email people when a run fails, is held for review (a big change waiting "
        "for approval) or parks records."
    )
    answer = _Prompt.ask(
        "Email addresses to tell (comma-separated; Enter for none)",
        console=console,
        default="",
        show_default=False,
    )
    to = [a.strip() for a in answer.split(",") if a.strip()]
    if not to:
        return None
    while True:
        server = _ask(console, "Mail server that sends it (host or host:port)", "localhost")
        try:
            host, port = _host_port(server)
            break
        except _Usage as exc:
            console.print(Text(str(exc), style="red"))
    user = _Prompt.ask(
        "Mail server login (Enter for none; its password goes in PCOSYNC_SMTP_PASSWORD)",
        console=console,
        default="",
        show_default=False,
    ).strip()
    return NotifyChoice(to, host, port, user or None)


def _ask_minutes(console: Console) -> int:
    while True:
        answer = _ask(console, "How often should pcosync sync? Every how many minutes", "15")
        if answer.isdigit() and 1 <= int(answer) <= 24 * 60:
            return int(answer)
        console.print(Text("Give a number of minutes between 1 and 1440.", style="red"))


def _ask_teams(
    opts: InitOptions,
    console: Console,
    rock_url: str,
    rock_key: str,
    existing: dict[str, Any] | None,
) -> TeamsChoice:
    """The [teams] parent group (re-asked until Rock has it, or left unset) and group type."""
    teams = _teams_given(opts, existing)
    try:
        parent, group_type = asyncio.run(verify_teams(rock_url, rock_key, teams))
        while group_type.type_id is None:
            console.print(
                Text(
                    f"{group_type.describe()}. Give the Id or GUID of the Rock group type "
                    "imported groups should have (Admin Tools › Settings › Group Types).",
                    style="red",
                )
            )
            teams.group_type = _ask(console, "Group type for imported groups")
            parent, group_type = asyncio.run(verify_teams(rock_url, rock_key, teams))
        console.print(
            Text(
                "`pcosync teams import` mirrors Planning Center's folders, service types, teams "
                f"and positions as Rock groups of the type {group_type.describe()}, under one "
                "parent group. Give the Id or exact name of a Rock group, or press Enter and "
                "the import makes a top-level group “Planning Center” for them."
            )
        )
        given = opts.teams_parent_group is not None
        default = TeamsChoice.from_existing(existing).parent_answer
        while True:
            if not given:
                answer = _Prompt.ask(
                    "Rock parent group for imported teams (Id or name)",
                    console=console,
                    default=default,
                    show_default=bool(default),
                )
                teams.parent_group_id, teams.parent_group_name = parse_parent(answer)
                parent, _ = asyncio.run(verify_teams(rock_url, rock_key, teams))
            given = False
            if parent.status is ParentStatus.NOT_SET:
                console.print("Not set: the import makes a top-level group “Planning Center”.")
                break
            if parent.usable:
                break
            console.print(Text(f"{parent.describe()}. {parent.advice()}", style="red"))
    except ApiError as exc:
        raise _Failed(f"could not look up Rock's groups and group types: {exc}") from None
    print_checks(console, [teams_check(parent, group_type, "the file")])
    return teams


def _ask_secret(console: Console, label: str, previous: str | None) -> str:
    if previous:
        answer = _Prompt.ask(
            f"{label} (Enter keeps the one you typed)",
            console=console,
            password=True,
            default="",
            show_default=False,
        )
        return answer.strip() or previous
    return _ask(console, label, secret=True)


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ check


def run_check(config: Path | None, as_json: bool) -> int:
    errors = _console(stderr=True)
    try:
        settings = load_settings(config)
        checks = asyncio.run(run_checks(settings))
    except ConfigError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "error": str(exc), "checks": []}, indent=2))
        errors.print(Text(f"pcosync check: {exc}", style="red"))
        return EXIT_USAGE
    passed = all_passed(checks)
    if as_json:
        body = {
            "ok": passed,
            "config": str(settings.source),
            "checks": [c.as_dict() for c in checks],
        }
        typer.echo(json.dumps(body, indent=2))
        return EXIT_OK if passed else EXIT_FAILED
    console = _console()
    table = Table(title=f"pcosync check: {settings.source}", title_justify="left")
    table.add_column("Check", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Details")
    for check in checks:
        label, style = _LABELS[check.status]
        detail = Text(check.detail)
        if check.fix and check.status is not Status.OK:
            detail.append(f"\nWhat to do: {check.fix}", style="dim")
        table.add_row(check.name, Text(label, style=style), detail)
    console.print(table)
    counts = {s: sum(1 for c in checks if c.status is s) for s in Status}
    summary = (
        f"{counts[Status.OK]} ok, {counts[Status.WARNING]} warning(s), "
        f"{counts[Status.FAILED]} failed"
    )
    console.print(Text(summary, style="green" if passed else "red"))
    return EXIT_OK if passed else EXIT_FAILED


# ------------------------------------------------------------------------------ commands

CONFIG_HELP = "The config file (default: pcosync --config, $PCOSYNC_CONFIG, ./pcosync.toml)."


def _config_option(ctx: typer.Context, own: str | None) -> Path | None:
    """The command's own ``--config``, else the root ``pcosync --config``, else None."""
    if own:
        return Path(own)
    obj = ctx.find_root().obj
    found = obj.get("config") if isinstance(obj, dict) else None
    return Path(found) if found else None


def init_command(
    ctx: typer.Context,
    non_interactive: bool = typer.Option(
        False, "--non-interactive", help="Ask nothing: take every answer from the options."
    ),
    config: str | None = typer.Option(None, "--config", help=CONFIG_HELP),
    rock_url: str | None = typer.Option(None, help="Rock's address, e.g. https://rock.example.org"),
    rock_api_key: str | None = typer.Option(
        None,
        envvar="PCOSYNC_ROCK_API_KEY",
        help="Rock REST key (safer in PCOSYNC_ROCK_API_KEY than on the command line).",
    ),
    pco_url: str | None = typer.Option(
        None, help=f"Planning Center API address (default {DEFAULT_PCO_URL})."
    ),
    pco_app_id: str | None = typer.Option(
        None, envvar="PCOSYNC_PCO_APP_ID", help="Planning Center application id."
    ),
    pco_secret: str | None = typer.Option(
        None,
        envvar="PCOSYNC_PCO_SECRET",
        help="Planning Center secret (safer in PCOSYNC_PCO_SECRET than on the command line).",
    ),
    time_zone: str | None = typer.Option(
        None, help="Rock's time zone, e.g. America/Chicago (default: detected)."
    ),
    state_url: str | None = typer.Option(
        None, help=f"State database URL (default {DEFAULT_STATE_URL}, beside the config file)."
    ),
    secrets_in_env: bool = typer.Option(
        False, "--secrets-in-env", help="Keep secrets out of the file; set env variables instead."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing config file."),
    teams_parent_group: str | None = typer.Option(
        None,
        "--teams-parent-group",
        metavar="ID_OR_NAME",
        help="The Rock group `pcosync teams import` puts teams under: its Id or exact name "
        "(default: keep the file's; unset until given).",
    ),
    teams_group_type: str | None = typer.Option(
        None,
        "--teams-group-type",
        metavar="ID_OR_GUID",
        help="Rock group type of imported groups (default: the file's, else Serving Team).",
    ),
    every_minutes: int | None = typer.Option(
        None, "--every-minutes", min=1, max=1440, help="How often to sync (default 15)."
    ),
    notify_email: list[str] = typer.Option(  # noqa: B008
        [],
        "--notify-email",
        help="Tell this address when a run fails, is held or ends partial; repeatable.",
    ),
    smtp_host: str | None = typer.Option(
        None, "--smtp-host", metavar="HOST[:PORT]", help="The mail server for --notify-email."
    ),
) -> None:
    """Set pcosync up: verify both connections and permissions, then write pcosync.toml."""
    options = InitOptions(
        config=_config_option(ctx, config),
        non_interactive=non_interactive,
        rock_url=rock_url,
        rock_api_key=rock_api_key,
        pco_url=pco_url,
        pco_app_id=pco_app_id,
        pco_secret=pco_secret,
        time_zone=time_zone,
        state_url=state_url,
        secrets_in_env=secrets_in_env,
        force=force,
        teams_parent_group=teams_parent_group,
        teams_group_type=teams_group_type,
        every_minutes=every_minutes,
        notify_email=notify_email,
        smtp_host=smtp_host,
    )
    raise typer.Exit(run_init(options))


def check_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    config: str | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Check connections, credentials, permissions, clocks, versions and the campus map."""
    raise typer.Exit(run_check(_config_option(ctx, config), as_json))


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)
    app.command("check")(check_command)
