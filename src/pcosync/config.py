"""``pcosync.toml``: the one configuration file, with environment overrides for secrets.

Found via ``--config FILE``, then ``PCOSYNC_CONFIG``, then ``./pcosync.toml``. Secrets may
live in the file, in the environment (``PCOSYNC_ROCK_API_KEY``, ``PCOSYNC_PCO_APP_ID``,
``PCOSYNC_PCO_SECRET``) or in a file readable only by its owner (``api_key_file``,
``secret_file``). A bad value raises :class:`ConfigError` naming the key and the file.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError

from pcosync.domain.services import (
    DEFAULT_SERVICES_PERMISSION,
    SERVICES_PERMISSIONS,
    parse_permission,
)
from pcosync.errors import ConfigError

Direction = Literal["both", "rock_to_pco", "pco_to_rock", "off"]

PERSON_FIELDS = (
    "first_name",
    "nickname",
    "middle_name",
    "last_name",
    "gender",
    "birthdate",
    "anniversary",
    "email",
    "mobile_phone",
    "home_phone",
    "work_phone",
    "home_address",
    "campus",
)

ENV_SECRETS = {
    ("rock", "api_key"): "PCOSYNC_ROCK_API_KEY",
    ("pco", "app_id"): "PCOSYNC_PCO_APP_ID",
    ("pco", "secret"): "PCOSYNC_PCO_SECRET",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


class RockSettings(_Section):
    url: str
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    time_zone: str = "America/Chicago"
    # Rock publishes no rate limit: requests in flight at once (16 keeps a first sync bound
    # by Planning Center's rate limit at 150 ms per Rock request; lower it for a small server)
    max_in_flight: int = Field(16, ge=1, le=64)

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use a name like America/Chicago)"
            ) from exc
        return value

    _url = field_validator("url")(_base_url)


class PcoSettings(_Section):
    url: str = "https://api.planningcenteronline.com"
    app_id: SecretStr | None = None
    secret: SecretStr | None = None
    secret_file: Path | None = None

    _url = field_validator("url")(_base_url)


class StateSettings(_Section):
    url: str = "sqlite:///pcosync.db"


class SyncSettings(_Section):
    """``[sync]``. ``possible_duplicates``: someone known on both sides only by the same
    first and last name (nothing else to compare) is reported as a match issue ("report",
    the default) or created on the other side as before ("create")."""

    lookback_minutes: int = Field(10, ge=0, le=24 * 60)
    # while a run writes, each side's changes are re-read at most this often (and just
    # before the first write), so an edit made meanwhile is merged, not overwritten
    recheck_seconds: float = Field(1.5, gt=0, le=600)
    possible_duplicates: Literal["report", "create"] = "report"
    default_region: str = "US"
    mobile_location: str = "Mobile"
    home_location: str = "Home"
    work_location: str = "Work"


class LimitSettings(_Section):
    """One kind of operation's brake: a share of the synced people, and/or a count per run.

    Leave a key out to switch that limit off. ``percent = 0`` holds every run that would
    write anything of this kind.
    """

    percent: float | None = Field(None, ge=0, le=100)
    max_count: int | None = Field(None, ge=0)


class SafetySettings(_Section):
    """``[safety]``: when a run is held for review instead of written (DESIGN §6.3).

    ``archive`` is counted with ``remove`` (unlinking and archiving both take people away);
    the stricter of the two limits applies. Without this section no share or count holds a
    run, and the drop guard stays on at ``drop_percent``.
    """

    create: LimitSettings = LimitSettings()
    update: LimitSettings = LimitSettings()
    remove: LimitSettings = LimitSettings()
    archive: LimitSettings = LimitSettings()
    drop_percent: float = Field(20.0, ge=0, le=100)


class ScheduleSettings(_Section):
    """``[schedule]``: how often a sync should run. ``pcosync init`` prints the cron line
    that does it; the future ``pcosync serve`` will use this value itself."""

    every_minutes: int = Field(15, ge=1, le=24 * 60)


class SmtpSettings(_Section):
    host: str
    port: int = Field(587, ge=1, le=65535)
    user: str | None = None
    # the password never sits in the file: name the environment variable that holds it
    password_env: str = "PCOSYNC_SMTP_PASSWORD"
    starttls: bool = True
    sender: str = Field("pcosync@localhost", alias="from")
    to: list[str] = Field(default_factory=list)
    # also write to the active members of this Rock group (the notification group)
    rock_group_id: int | None = Field(None, ge=1)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


class WebhookSettings(_Section):
    """A Slack or Teams webhook URL is a secret: it may stay in the environment instead."""

    url: str | None = None
    url_env: str = "PCOSYNC_WEBHOOK_URL"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def target(self) -> str:
        value = os.environ.get(self.url_env) or self.url
        if not value or not value.startswith(("http://", "https://")):
            raise ConfigError(
                f"the webhook URL is missing: set [notifications.webhook] url or {self.url_env}",
                key="notifications.webhook.url",
            )
        return value


class NotificationSettings(_Section):
    """``[notifications]``: told when a run fails, is held, or ends partial."""

    smtp: SmtpSettings | None = None
    webhook: WebhookSettings | None = None


class CampusMapEntry(_Section):
    name: str
    rock_id: int | None = None
    pco_id: str | None = None


SERVING_TEAM_GROUP_TYPE = "2C42B2D4-1C5F-4AD5-A9AD-08631B872AC4"


class TeamsSettings(_Section):
    """Where ``pcosync teams import`` puts the PCO folder tree in Rock.

    ``parent_group_id`` wins over ``parent_group_name``; ``group_type`` is a GroupType GUID
    or Id (default: Rock's Serving Team type). ``tags`` (off by default) also mirrors
    Services person tag groups and tags as Rock groups and syncs who has each tag;
    ``tag_groups`` limits that to the tag groups named (by name or id).
    ``inactivate_leavers`` (off by default): a person whose last team position in Planning
    Center a sync takes away is also made inactive in Planning Center People (the API has no
    Services archive); otherwise they are only unassigned. ``services_permission``: the
    Planning Center Services permission someone the sync assigns to a position gets at least
    (a linked position may set its own with ``pcosync teams permission``); never lowered.
    Without a parent group, the import makes a top-level group "Planning Center" (once).
    """

    parent_group_id: int | None = Field(None, ge=1)
    parent_group_name: str | None = None
    group_type: str = SERVING_TEAM_GROUP_TYPE
    tags: bool = False
    tag_groups: list[str] = Field(default_factory=list)
    inactivate_leavers: bool = False
    services_permission: str = DEFAULT_SERVICES_PERMISSION

    @field_validator("services_permission")
    @classmethod
    def _permission(cls, value: str) -> str:
        level = parse_permission(value)
        if level is None:
            raise ValueError(f"must be one of {', '.join(SERVICES_PERMISSIONS)} (got {value!r})")
        return level


class Settings(_Section):
    rock: RockSettings
    pco: PcoSettings = PcoSettings()
    state: StateSettings = StateSettings()
    sync: SyncSettings = SyncSettings()
    safety: SafetySettings = SafetySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    notifications: NotificationSettings = NotificationSettings()
    fields: dict[str, Direction] = Field(default_factory=dict)
    campus_map: list[CampusMapEntry] = Field(default_factory=list)
    teams: TeamsSettings = TeamsSettings()

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, Direction]) -> dict[str, Direction]:
        unknown = set(value) - set(PERSON_FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; known: {list(PERSON_FIELDS)}")
        return value

    # resolved at load time; never serialised
    source: Path | None = Field(default=None, exclude=True)

    def direction(self, field: str) -> Direction:
        return self.fields.get(field, "both")

    def rock_api_key(self) -> str:
        return _secret(self.rock.api_key, self.rock.api_key_file, "rock.api_key", self.source)

    def pco_app_id(self) -> str:
        if self.pco.app_id is None or not self.pco.app_id.get_secret_value():
            raise ConfigError(
                "the Planning Center application id is missing (or set PCOSYNC_PCO_APP_ID)",
                key="pco.app_id",
                file=_name(self.source),
            )
        return self.pco.app_id.get_secret_value()

    def pco_secret(self) -> str:
        return _secret(self.pco.secret, self.pco.secret_file, "pco.secret", self.source)

    def state_url(self) -> str:
        """SQLite paths are relative to the config file, so the database sits next to it."""
        url = self.state.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and self.source:
            path = (self.source.parent / url[len(prefix) :]).resolve()
            return f"{prefix}{path}"
        return url


def _name(path: Path | None) -> str | None:
    return str(path) if path else None


def _secret(value: SecretStr | None, file: Path | None, key: str, source: Path | None) -> str:
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if file is not None:
        file = file.expanduser()
        path = file if file.is_absolute() or source is None else source.parent / file
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(
                    f"the secret file {path} must be readable by its owner only (chmod 600 {path})",
                    key=f"{key}_file",
                    file=_name(source),
                )
            text = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise ConfigError(
                f"cannot read the secret file {path} ({reason})",
                key=f"{key}_file",
                file=_name(source),
            ) from None
        if not text:
            raise ConfigError(
                f"the secret file {path} is empty", key=f"{key}_file", file=_name(source)
            )
        return text
    section, name = key.split(".")
    env_name = ENV_SECRETS[(section, name)]
    raise ConfigError(
        f"{key} is missing: put it in the file, in {env_name}, or in a secret file",
        key=key,
        file=_name(source),
    )


def find_config(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("PCOSYNC_CONFIG")
    if env:
        return Path(env)
    return Path.cwd() / "pcosync.toml"


def load_settings(path: str | Path | None = None) -> Settings:
    file = find_config(path)
    try:
        raw: dict[str, Any] = tomllib.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(
            "no configuration file found; run `pcosync init` to create one", file=str(file)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the file is not valid TOML: {exc}", file=str(file)) from None
    except IsADirectoryError:
        raise ConfigError(
            "the configuration path is a folder, not a file: give the pcosync.toml inside it "
            "(pcosync --config FOLDER/pcosync.toml), or run `pcosync init` to create one",
            file=str(file),
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the file is not UTF-8 text (byte {exc.start} cannot be read): save it as UTF-8 "
            "in your editor, or retype the accented letters",
            file=str(file),
        ) from None
    except PermissionError:
        raise ConfigError(
            "the file cannot be read by this user: check its owner and permissions",
            file=str(file),
        ) from None
    for (section, key), env_name in ENV_SECRETS.items():
        if os.environ.get(env_name):
            raw.setdefault(section, {})[key] = os.environ[env_name]
    try:
        settings = Settings.model_validate(raw)
    except PydanticValidationError as exc:
        raise config_error(exc, file) from None
    settings.source = file.resolve()
    return settings


def config_error(exc: PydanticValidationError, file: Path, prefix: str = "") -> ConfigError:
    """The first problem pydantic found, in words for the person editing the file."""
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        message = "unknown setting: check its spelling and section (see docs/operations.md)"
    elif first["type"] == "missing":
        message = "this setting is required"
    else:
        message = first["msg"].removeprefix("Value error, ")
    return ConfigError(prefix + message, key=key, file=str(file))


def write_settings(path: Path, data: dict[str, Any]) -> None:
    """Write a config file readable only by its owner (it may hold secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file may have been readable by others: close it first
    with os.fdopen(fd, "wb") as fh:
        tomli_w.dump(data, fh)
