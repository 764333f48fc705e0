"""``pcosync init`` and ``pcosync check`` without the terminal: verify, prepare, write.

``init`` never writes the file unless every verification passed, and never creates anything
in Planning Center. In Rock it creates one thing, idempotently: the ``PcoPersonId`` person
attribute that carries each link (DESIGN §3). It only looks up the parent group and group
type of ``pcosync teams import`` (the ``[teams]`` section); it never creates them.
"""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError as PydanticValidationError

from pcosync.app.first_sync import count_before_first_sync
from pcosync.app.progress import Estimate
from pcosync.app.safety import DEFAULT_SAFETY
from pcosync.clients.http import RetryPolicy
from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.models import Guids
from pcosync.config import (
    ENV_SECRETS,
    PERSON_FIELDS,
    SERVING_TEAM_GROUP_TYPE,
    RockSettings,
    Settings,
    StateSettings,
    SyncSettings,
    config_error,
    write_settings,
)
from pcosync.errors import ApiError, ConfigError
from pcosync.setup.campuses import CampusPair, MatchKind, propose_campus_map
from pcosync.setup.probes import (
    PCO_PERSON_ATTRIBUTE,
    TEAMS_CHECK,
    GroupType,
    ParentGroup,
    PcoFacts,
    RockFacts,
    campus_map_check,
    find_group_type,
    find_parent_group,
    probe_pco,
    probe_rock,
    rock_attribute_check,
    state_check,
    teams_check,
)
from pcosync.setup.results import Check, all_passed, failed, ok, warning
from pcosync.setup.timezone import TimeZoneChoice, choose_time_zone, rock_utc_offset

DEFAULT_PCO_URL = "https://api.planningcenteronline.com"
DEFAULT_STATE_URL = "sqlite:///pcosync.db"
# setup talks to a person waiting at a prompt: fail fast rather than back off for minutes
SETUP_RETRY = RetryPolicy(max_attempts=2, max_total_seconds=10.0, cap_seconds=2.0)
SETUP_TIMEOUT = 20.0
SECRET_KEYS = {
    "rock": ("api_key", "api_key_file"),
    "pco": ("app_id", "secret", "secret_file"),
}
MANAGED_SECTIONS = (
    "rock",
    "pco",
    "state",
    "teams",
    "campus_map",
    "safety",
    "schedule",
)
TEAMS_KEYS = ("parent_group_id", "parent_group_name", "group_type")
ATTRIBUTE_NAME = "Planning Center Person Id"
ATTRIBUTE_DESCRIPTION = (
    "Written by pcosync: links this person to their Planning Center record. Do not edit."
)


def normalize_url(value: str, what: str) -> tuple[str, str | None]:
    """A base URL without a trailing slash or ``/api``; a note when it was changed."""
    text = value.strip()
    note = None
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        text = "https://" + text
        note = f"{what}: no http:// or https:// given, using {text}"
    text = text.rstrip("/")
    if text.lower().endswith("/api"):
        text = text[: -len("/api")]
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"{value!r} is not a web address (e.g. https://rock.example.org)", key=what
        )
    return text, note


def env_names() -> list[str]:
    return list(ENV_SECRETS.values())


# ------------------------------------------------------------------------------ verification


async def verify_rock(url: str, api_key: str) -> tuple[list[Check], RockFacts | None]:
    async with RockClient(url, api_key=api_key, retry=SETUP_RETRY, timeout=SETUP_TIMEOUT) as rock:
        return await probe_rock(rock, url)


async def verify_pco(url: str, app_id: str, secret: str) -> tuple[list[Check], PcoFacts | None]:
    async with PcoClient(
        url, app_id=app_id, secret=secret, retry=SETUP_RETRY, timeout=SETUP_TIMEOUT
    ) as pco:
        return await probe_pco(pco, url, webhooks=False)


@dataclass
class TeamsChoice:
    """Where ``pcosync teams import`` puts its groups: the ``[teams]`` keys init manages."""

    parent_group_id: int | None = None
    parent_group_name: str | None = None
    group_type: str = SERVING_TEAM_GROUP_TYPE

    @classmethod
    def from_existing(cls, existing: Mapping[str, Any] | None) -> TeamsChoice:
        """The choice an existing file made (values of the wrong type are ignored)."""
        raw = (existing or {}).get("teams")
        if not isinstance(raw, Mapping):
            return cls()
        group_id = raw.get("parent_group_id")
        name = raw.get("parent_group_name")
        group_type = raw.get("group_type")
        return cls(
            group_id if isinstance(group_id, int) and not isinstance(group_id, bool) else None,
            name if isinstance(name, str) and name.strip() else None,
            group_type
            if isinstance(group_type, str) and group_type.strip()
            else (SERVING_TEAM_GROUP_TYPE),
        )

    @property
    def parent_answer(self) -> str:
        """The parent group as typed at the prompt (an Id wins, as in the import)."""
        if self.parent_group_id is not None:
            return str(self.parent_group_id)
        return self.parent_group_name or ""

    def as_config(self) -> dict[str, Any]:
        section: dict[str, Any] = {}
        if self.parent_group_id is not None:
            section["parent_group_id"] = self.parent_group_id
        elif self.parent_group_name:
            section["parent_group_name"] = self.parent_group_name
        section["group_type"] = self.group_type
        return section


async def verify_teams(url: str, api_key: str, teams: TeamsChoice) -> tuple[ParentGroup, GroupType]:
    """Look the parent group and group type up in Rock; nothing is created."""
    async with RockClient(url, api_key=api_key, retry=SETUP_RETRY, timeout=SETUP_TIMEOUT) as rock:
        parent = await find_parent_group(rock, teams.parent_group_id, teams.parent_group_name)
        return parent, await find_group_type(rock, teams.group_type)


# ------------------------------------------------------------------------------ init


@dataclass
class InitPlan:
    """Everything init was told; secrets are only held, never shown."""

    config_path: Path
    rock_url: str
    rock_api_key: str
    pco_url: str
    pco_app_id: str
    pco_secret: str
    state_url: str = DEFAULT_STATE_URL
    time_zone: str | None = None
    time_zone_source: str = "given with --time-zone"
    secrets_in_env: bool = False
    teams: TeamsChoice = field(default_factory=TeamsChoice)
    # asked interactively (or given as options); None keeps what the file says
    every_minutes: int | None = None
    notify: NotifyChoice | None = None


@dataclass
class NotifyChoice:
    """Who is told when a run fails, is held or ends partial (``[notifications.smtp]``)."""

    to: list[str]
    host: str
    port: int = 587
    user: str | None = None
    sender: str = "pcosync@localhost"

    def as_config(self, old: Mapping[str, Any] | None) -> dict[str, Any]:
        smtp = dict(old or {})
        smtp.update({"host": self.host, "port": self.port, "to": self.to, "from": self.sender})
        if self.user:
            smtp["user"] = self.user
        return smtp


@dataclass
class InitOutcome:
    checks: list[Check]
    time_zone: TimeZoneChoice | None = None
    campus_pairs: list[CampusPair] = field(default_factory=list)
    attribute_created: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all_passed(self.checks)


def read_existing(path: Path) -> dict[str, Any] | None:
    """The current file's TOML, to keep the sections init does not manage; None if unusable."""
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def resolve_state_url(state_url: str, config_path: Path) -> str:
    """The state URL as the sync will open it (SQLite paths are relative to the file)."""
    settings = Settings(
        rock=RockSettings(url="http://localhost"), state=StateSettings(url=state_url)
    )
    settings.source = config_path.resolve()
    return settings.state_url()


async def _ensure_attribute(rock: RockClient) -> tuple[Check, bool, timedelta | None]:
    """Find or create ``PcoPersonId``; a fresh one also tells Rock's UTC offset."""
    name = f"Rock attribute {PCO_PERSON_ATTRIBUTE}"
    try:
        found = await rock.find_attribute(Guids.ENTITY_PERSON, PCO_PERSON_ATTRIBUTE)
        if found is not None:
            return ok(name, f"already there (Attribute Id {found['Id']})"), False, None
        attribute_id = await rock.ensure_attribute(
            Guids.ENTITY_PERSON, PCO_PERSON_ATTRIBUTE, ATTRIBUTE_NAME, ATTRIBUTE_DESCRIPTION
        )
    except ApiError as exc:
        return (
            failed(
                name,
                f"could not create the person attribute: {exc}",
                "Give the REST user Edit on Attributes, or create a Text person attribute "
                f"with the key {PCO_PERSON_ATTRIBUTE} in Rock (Admin Tools › Settings › Person "
                "Attributes); then run this again.",
            ),
            False,
            None,
        )
    created = ok(
        name,
        f"created the person attribute '{ATTRIBUTE_NAME}' (key {PCO_PERSON_ATTRIBUTE}, "
        f"Attribute Id {attribute_id})",
    )
    offset = None
    try:
        response = await rock.http.request("GET", f"/api/Attributes/{attribute_id}")
        written = datetime.fromisoformat(str(response.json()["CreatedDateTime"]))
        server = parsedate_to_datetime(response.headers["date"])
        offset = rock_utc_offset(written.replace(tzinfo=None), server.astimezone(UTC))
    except (ApiError, KeyError, TypeError, ValueError):
        pass
    return created, True, offset


def build_config(
    plan: InitPlan,
    zone: str,
    pairs: list[CampusPair],
    pco: PcoFacts | None,
    existing: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The file's content: managed sections rewritten, any other section kept as it was."""
    old = dict(existing or {})

    def kept(section: str, drop: tuple[str, ...]) -> dict[str, Any]:
        raw = old.get(section)
        return {k: v for k, v in raw.items() if k not in drop} if isinstance(raw, dict) else {}

    rock = kept("rock", (*SECRET_KEYS["rock"], "url", "time_zone"))
    rock = {"url": plan.rock_url, "time_zone": zone, **rock}
    pco_section = kept("pco", (*SECRET_KEYS["pco"], "url"))
    pco_section = {"url": plan.pco_url, **pco_section}
    if not plan.secrets_in_env:
        rock["api_key"] = plan.rock_api_key
        pco_section["app_id"] = plan.pco_app_id
        pco_section["secret"] = plan.pco_secret
    state = {**kept("state", ("url",)), "url": plan.state_url}

    sync_defaults = SyncSettings().model_dump()
    country = (pco.country_code or "") if pco else ""
    if re.fullmatch(r"[A-Z]{2}", country):
        sync_defaults["default_region"] = country
    schedule = kept("schedule", ())
    schedule["every_minutes"] = plan.every_minutes or schedule.get("every_minutes") or 15
    data: dict[str, Any] = {
        "rock": rock,
        "pco": pco_section,
        "state": state,
        "sync": old.get("sync", sync_defaults),
        # brakes on by default; a section already in the file is kept as it is
        "safety": old.get("safety", DEFAULT_SAFETY),
        "schedule": schedule,
        "fields": old.get("fields", {name: "both" for name in PERSON_FIELDS}),
        "teams": {**plan.teams.as_config(), **kept("teams", TEAMS_KEYS)},
    }
    if plan.notify is not None:
        notifications = dict(old.get("notifications") or {})
        notifications["smtp"] = plan.notify.as_config(notifications.get("smtp"))
        data["notifications"] = notifications
    for key, value in old.items():
        if key not in data and key not in MANAGED_SECTIONS:
            data[key] = value
    data["campus_map"] = [p.as_config() for p in pairs]
    return data


async def prepare_init(
    plan: InitPlan,
    rock_facts: RockFacts,
    pco_facts: PcoFacts,
    existing: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> InitOutcome:
    """After both sides verified: state store, the Rock attribute, time zone, campus map."""
    folder = plan.config_path.resolve().parent
    state_url = resolve_state_url(plan.state_url, plan.config_path)
    checks = [
        await asyncio.to_thread(
            state_check, state_url, creatable=None if folder.exists() else folder
        )
    ]
    if not all_passed(checks):
        return InitOutcome(checks)
    async with RockClient(
        plan.rock_url, api_key=plan.rock_api_key, retry=SETUP_RETRY, timeout=SETUP_TIMEOUT
    ) as rock:
        attribute, created, offset = await _ensure_attribute(rock)
    checks.append(attribute)
    if not all_passed(checks):
        return InitOutcome(checks)

    choice = choose_time_zone(
        explicit=plan.time_zone,
        explicit_source=plan.time_zone_source,
        rock_campus_zones=rock_facts.campus_time_zones,
        pco_zone=pco_facts.org_time_zone,
        rock_offset=offset,
        now=now or datetime.now(UTC),
    )
    tz_check = (
        warning("Rock time zone", f"{choice.zone}: {choice.source}", choice.warning)
        if choice.warning
        else ok("Rock time zone", f"{choice.zone}: {choice.source}")
    )
    checks.append(tz_check)

    pairs = campus_proposal(rock_facts, pco_facts, existing)
    if not (rock_facts.campuses_read and pco_facts.campuses_read):
        checks.append(
            warning(
                "Campus map",
                "the campuses of one side could not be read; the map is incomplete",
                "Fill in the campus_map entries by hand, or run init again once both can be read.",
            )
        )
    data = build_config(plan, choice.zone, pairs, pco_facts, existing)
    try:
        Settings.model_validate(data)
    except PydanticValidationError as exc:
        raise config_error(
            exc, plan.config_path, "the existing file has a setting init cannot keep: "
        ) from None
    return InitOutcome(checks, choice, pairs, created, data)


def campus_proposal(
    rock: RockFacts, pco: PcoFacts, existing: Mapping[str, Any] | None
) -> list[CampusPair]:
    """The campus map to write: the existing file's entries whose campuses both still exist,
    the rest proposed by name. When a side's campuses could not be read, the existing
    entries are kept as they are (they cannot be checked, and must not be lost)."""
    raw = (existing or {}).get("campus_map")
    entries: list[tuple[str, int | None, str | None]] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            rock_id, pco_id = item.get("rock_id"), item.get("pco_id")
            entries.append(
                (
                    item["name"],
                    rock_id if isinstance(rock_id, int) and not isinstance(rock_id, bool) else None,
                    pco_id if isinstance(pco_id, str) else None,
                )
            )
    if entries and not (rock.campuses_read and pco.campuses_read):
        return [CampusPair(n, MatchKind.KEPT, r, n, p, n) for n, r, p in entries]
    return propose_campus_map(rock.campuses, pco.campuses, keep=entries)


async def first_sync_estimate(plan: InitPlan) -> Estimate | None:
    """How long the first sync should take (None when the counts cannot be read)."""
    try:
        async with PcoClient(
            plan.pco_url,
            app_id=plan.pco_app_id,
            secret=plan.pco_secret,
            retry=SETUP_RETRY,
            timeout=SETUP_TIMEOUT,
        ) as pco:
            return await count_before_first_sync(pco)
    except ApiError:
        return None


def cron_line(config_path: Path, every_minutes: int) -> str:
    """The crontab line that runs a sync every so many minutes."""
    if every_minutes < 60 and 60 % every_minutes == 0:
        when = f"*/{every_minutes} * * * *" if every_minutes > 1 else "* * * * *"
    elif every_minutes % 60 == 0 and every_minutes < 24 * 60:
        when = f"0 */{every_minutes // 60} * * *"
    else:
        when = f"*/{min(every_minutes, 59)} * * * *"
    return f"{when} pcosync --config {config_path.resolve()} sync"


def save(plan: InitPlan, outcome: InitOutcome) -> None:
    write_settings(plan.config_path, outcome.data)


def unmatched(pairs: list[CampusPair]) -> list[CampusPair]:
    return [p for p in pairs if p.kind in (MatchKind.ROCK_ONLY, MatchKind.PCO_ONLY)]


# ------------------------------------------------------------------------------ check


async def run_checks(settings: Settings) -> list[Check]:
    """Every check of ``pcosync check``, in the order they are shown."""
    source = str(settings.source) if settings.source else "the config file"
    checks = [ok("Config file", f"{source} is valid")]
    async with (
        RockClient(
            settings.rock.url,
            api_key=settings.rock_api_key(),
            time_zone=settings.rock.time_zone,
            retry=SETUP_RETRY,
            timeout=SETUP_TIMEOUT,
        ) as rock,
        PcoClient(
            settings.pco.url,
            app_id=settings.pco_app_id(),
            secret=settings.pco_secret(),
            retry=SETUP_RETRY,
            timeout=SETUP_TIMEOUT,
        ) as pco,
    ):
        (rock_checks, rock_facts), (pco_checks, pco_facts) = await asyncio.gather(
            probe_rock(rock, settings.rock.url), probe_pco(pco, settings.pco.url)
        )
        checks += rock_checks
        teams = warning(TEAMS_CHECK, "not checked: Rock could not be read (see above)")
        if rock_facts is not None:
            teams = await _teams_check(rock, settings, source)
            checks.append(await rock_attribute_check(rock))
            zone = choose_time_zone(
                explicit=settings.rock.time_zone,
                explicit_source="from the config file",
                rock_campus_zones=rock_facts.campus_time_zones,
                pco_zone=None,
                rock_offset=None,
                now=datetime.now(UTC),
            )
            checks.append(
                warning("Rock time zone", f"{zone.zone}: {zone.source}", zone.warning)
                if zone.warning
                else ok("Rock time zone", f"{zone.zone}: {zone.source}")
            )
    checks += pco_checks
    checks.append(await asyncio.to_thread(state_check, settings.state_url()))
    entries = [(e.name, e.rock_id, e.pco_id) for e in settings.campus_map]
    checks += campus_map_check(entries, rock_facts, pco_facts)
    checks.append(teams)
    checks.append(notifications_check(settings, source))
    return checks


def notifications_check(settings: Settings, source: str) -> Check:
    """What ``[notifications]`` would do, from the file and the environment alone: a missing
    password or webhook URL is otherwise found out only when a run fails and nobody hears."""
    name = "Notifications"
    smtp, webhook = settings.notifications.smtp, settings.notifications.webhook
    if smtp is None and webhook is None:
        return ok(name, "none set up: failed and held runs are only shown by `pcosync runs`")
    problems: list[str] = []
    shown: list[str] = []
    if smtp is not None:
        if not smtp.to and smtp.rock_group_id is None:
            problems.append("[notifications.smtp] has no recipients (to, or rock_group_id)")
        if smtp.user and smtp.password() is None:
            problems.append(
                f"[notifications.smtp] user is set but {smtp.password_env} (its password) is not"
            )
        shown.append(f"email via {smtp.host}:{smtp.port}")
    if webhook is not None:
        try:
            webhook.target()
        except ConfigError:
            problems.append(f"[notifications.webhook] has no url, and {webhook.url_env} is not set")
        shown.append("a webhook")
    if problems:
        return warning(
            name,
            "; ".join(problems),
            f"Fix [notifications] in {source} (or set the environment variable wherever pcosync "
            "runs); until then those notifications are not sent.",
        )
    return ok(name, " and ".join(shown) + " when a run fails, is held or ends partial")


async def _teams_check(rock: RockClient, settings: Settings, source: str) -> Check:
    s = settings.teams
    try:
        parent = await find_parent_group(rock, s.parent_group_id, s.parent_group_name)
        group_type = await find_group_type(rock, s.group_type)
    except ApiError as exc:
        return warning(
            TEAMS_CHECK,
            f"could not look the group up: {exc}",
            "Check the REST user may view Groups and GroupTypes (see Rock rights above).",
        )
    return teams_check(parent, group_type, source)
