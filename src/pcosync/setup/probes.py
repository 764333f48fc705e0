"""Read-only probes of Rock, Planning Center and the state database, shared by ``init`` and
``check``. Nothing here creates or changes a record on either side.

- Rock: ``GetCurrentPerson`` proves the REST key; a ``$top=1`` read of each controller the
  sync reads proves View; a ``PATCH /api/{Controller}/0`` with an empty body proves Edit
  without changing anything (Rock's security filter answers 401 before the action, which
  then refuses the empty body with 400). Rock answers 401 for a wrong key *and* for missing
  rights, so messages say both.
- Planning Center: ``/people/v2/me`` proves the token and tells the user's People
  permission (``site_administrator``, ``people_permissions``); a one-record read of people
  with their contacts proves reading; ``/services/v2`` and the user's Services person tell
  the Services permission. A write is never attempted: even a no-op edit of a person may
  email them (spec §4.1).
- Both: the ``Date`` header against this computer's clock, and the API version served.
- Teams: the Rock parent group and group type ``pcosync teams import`` would use, looked up
  the way the import looks them up (an Id first, else an exact name), without creating
  either: the import itself never creates its parent group.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from pcosync.clients.pco import PcoClient
from pcosync.clients.pco.client import API_VERSIONS, CONTACT_INCLUDES
from pcosync.clients.pco.jsonapi import Document
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.models import Guids, RockGroup
from pcosync.errors import (
    ApiError,
    AuthenticationError,
    ConnectError,
    NotFoundError,
    PermissionDenied,
    RetriesExhausted,
    ServerError,
    TransportError,
    ValidationError,
)
from pcosync.setup.campuses import normalize_name
from pcosync.setup.results import Check, failed, ok, warning

MAX_CLOCK_SKEW = timedelta(minutes=2)
MIN_ROCK_MAJOR = 14
PCO_PERSON_ATTRIBUTE = "PcoPersonId"

# What the sync reads (View) and writes (Edit) in Rock (spec rock-api §9)
ROCK_VIEW = (
    "People",
    "PersonAlias",
    "PhoneNumbers",
    "Groups",
    "GroupMembers",
    "GroupTypes",
    "GroupTypeRoles",
    "GroupLocations",
    "Locations",
    "Campuses",
    "DefinedTypes",
    "DefinedValues",
    "Attributes",
    "AttributeValues",
    "EntityTypes",
    "FieldTypes",
)
ROCK_EDIT = ("People", "PhoneNumbers", "Groups", "GroupMembers", "Attributes")

PEOPLE_EDIT_LEVELS = frozenset({"Editor", "Manager"})
SERVICES_LEVELS = ("Scheduled Viewer", "Viewer", "Scheduler", "Editor", "Administrator")
SERVICES_MIN = "Scheduler"

ROCK_KEY_FIX = (
    "Rock answers 401 both for a wrong REST key and for a key whose REST user has no rights. "
    "In Rock, open Admin Tools › Security › REST Keys: copy the key again and check it is "
    "active; then make sure its REST user is in a security role that may view People (for "
    "example 'RSR - Rock Administration')."
)
PCO_CREDENTIALS_FIX = (
    "Copy the Application ID and Secret of your Personal Access Token again from "
    "https://api.planningcenteronline.com/oauth/applications (a deleted token, or one that "
    "leaked publicly and was disabled, stops working)."
)


@dataclass
class RockFacts:
    user_name: str
    person_id: int | None
    version: str | None = None
    campuses: list[tuple[int, str]] = field(default_factory=list)
    campus_time_zones: list[str] = field(default_factory=list)
    campuses_read: bool = False


@dataclass
class PcoFacts:
    user_id: str
    user_name: str
    org_name: str | None = None
    org_time_zone: str | None = None
    country_code: str | None = None
    campuses: list[tuple[str, str]] = field(default_factory=list)
    campuses_read: bool = False


# ------------------------------------------------------------------------------ helpers


def _root(exc: ApiError) -> ApiError:
    return exc.last if isinstance(exc, RetriesExhausted) else exc


def unreachable(name: str, service: str, url: str, exc: ApiError) -> Check:
    """A failed first contact, in words an admin can act on."""
    e = _root(exc)
    where = (
        "Rock's site root (e.g. https://rock.example.org)"
        if service == "Rock"
        else ("https://api.planningcenteronline.com")
    )
    if isinstance(e, ConnectError):
        return failed(
            name,
            f"cannot connect to {url}",
            f"Check the address (it should be {where}) and that this computer can reach it "
            "(network, firewall, VPN), then run this again.",
        )
    if isinstance(e, TransportError):
        return failed(
            name,
            f"{url} did not answer in time",
            "Check the address and the network, then run this again.",
        )
    if isinstance(e, NotFoundError):
        return failed(
            name,
            f"{url} has no {service} API (404 Not Found)",
            f"Check the address: it should be {where}, without /api at the end.",
        )
    if isinstance(e, ServerError):
        status = f" ({e.status})" if e.status else ""
        return failed(
            name,
            f"{url} answered with an error page{status}, not {service}'s API",
            f"Check the address (it should be {where}); if it is right, {service} may be "
            "down: try again later.",
        )
    return failed(name, f"{service} answered unexpectedly: {e}", "Check the address.")


def clock_check(name: str, label: str, response: httpx.Response, received: datetime) -> Check:
    """The server's ``Date`` header against this computer's clock (UTC)."""
    raw = response.headers.get("date")
    if not raw:
        return ok(name, f"{label} sent no Date header; not compared")
    try:
        server = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return ok(name, f"{label} sent an unreadable Date header; not compared")
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    skew = (server - received).total_seconds()
    if abs(skew) > MAX_CLOCK_SKEW.total_seconds():
        ahead = "ahead of" if skew > 0 else "behind"
        return warning(
            name,
            f"{label}'s clock is {_duration(abs(skew))} {ahead} this computer's",
            "Set both computers to network time (NTP): pcosync compares when records changed "
            "on each side, and a wrong clock can make an older edit win.",
        )
    return ok(name, f"within {abs(skew):.0f} s of this computer's clock")


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def rock_major_version(text: str) -> int | None:
    """Rock reports ``1.16.4`` for v16.4 (and ``17.0.x`` style from newer builds)."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if not numbers:
        return None
    if numbers[0] == 1 and len(numbers) > 1:
        return numbers[1]
    return numbers[0]


def _rock_name(row: Mapping[str, Any]) -> str:
    first = row.get("NickName") or row.get("FirstName") or ""
    return " ".join(str(p) for p in (first, row.get("LastName") or "") if p) or "(no name)"


# ------------------------------------------------------------------------------ Rock


async def _rock_allows(rock: RockClient, right: str, controller: str) -> bool | None:
    """True/False when Rock said; None when it answered something unexpected."""
    try:
        if right == "View":
            await rock.http.request("GET", f"/api/{controller}", params={"$top": 1})
        else:
            await rock.http.request("PATCH", f"/api/{controller}/0", json={})
    except AuthenticationError:
        return False
    except (ValidationError, NotFoundError) as exc:
        # past the security filter: the action itself refused the empty body / unknown id
        return True if right == "Edit" else (None if isinstance(exc, NotFoundError) else True)
    except ApiError:
        return None
    return True


async def probe_rock(rock: RockClient, url: str) -> tuple[list[Check], RockFacts | None]:
    checks: list[Check] = []
    try:
        response = await rock.http.request("GET", "/api/People/GetCurrentPerson")
    except AuthenticationError:
        return [
            failed("Rock REST key", "Rock refused the REST key (401 Unauthorized)", ROCK_KEY_FIX)
        ], None
    except ApiError as exc:
        return [unreachable("Rock connection", "Rock", url, exc)], None
    received = datetime.now(UTC)
    try:
        who = response.json()
    except ValueError:
        who = None
    if not isinstance(who, dict) or "Id" not in who:
        return [
            failed(
                "Rock connection",
                f"{url} answered, but not like Rock's API",
                "Check the address: it should be Rock's site root (e.g. https://rock.example.org).",
            )
        ], None
    facts = RockFacts(user_name=_rock_name(who), person_id=who.get("Id"))
    checks.append(ok("Rock REST key", f"accepted; it belongs to '{facts.user_name}'"))
    checks.append(clock_check("Rock clock", "Rock", response, received))

    view_results, edit_results = await asyncio.gather(
        asyncio.gather(*(_rock_allows(rock, "View", c) for c in ROCK_VIEW)),
        asyncio.gather(*(_rock_allows(rock, "Edit", c) for c in ROCK_EDIT)),
    )
    view = dict(zip(ROCK_VIEW, view_results, strict=True))
    edit = dict(zip(ROCK_EDIT, edit_results, strict=True))
    checks.append(_rights_check(facts.user_name, view, edit))

    checks.append(await _rock_version(rock, facts))

    if view["DefinedValues"] and isinstance(who.get("RecordTypeValueId"), int):
        try:
            rest_type = await rock.defined_value_id(Guids.RECORD_TYPE_REST_USER)
        except ApiError:
            rest_type = None
        if rest_type is not None and who["RecordTypeValueId"] != rest_type:
            checks.append(
                warning(
                    "Rock REST user",
                    f"the key belongs to '{facts.user_name}', a person, not a REST key user",
                    "Create a dedicated key in Admin Tools › Security › REST Keys, so the "
                    "sync's changes are recorded under its own name and can be revoked alone.",
                )
            )

    if view["Campuses"]:
        try:
            rows = await rock.query("Campuses")
        except ApiError:
            rows = []
        else:
            facts.campuses_read = True
        facts.campuses = sorted((int(r["Id"]), str(r.get("Name") or "")) for r in rows)
        facts.campus_time_zones = [str(r["TimeZoneId"]) for r in rows if r.get("TimeZoneId")]
    return checks, facts


def _rights_check(user: str, view: dict[str, bool | None], edit: dict[str, bool | None]) -> Check:
    no_view = [c for c, allowed in view.items() if allowed is False]
    no_edit = [c for c, allowed in edit.items() if allowed is False]
    unsure = [f"View on {c}" for c, a in view.items() if a is None]
    unsure += [f"Edit on {c}" for c, a in edit.items() if a is None]
    if no_view or no_edit:
        missing = []
        if no_view:
            missing.append("View on " + ", ".join(no_view))
        if no_edit:
            missing.append("Edit on " + ", ".join(no_edit))
        return failed(
            "Rock rights",
            f"the key works, but Rock refused (401) {'; '.join(missing)}",
            f"Rock answers 401 when a REST user lacks rights. Add the REST user '{user}' to a "
            "security role with these rights (for example 'RSR - Rock Administration'), or "
            "grant them under Admin Tools › Security › REST Controllers; then run this again.",
        )
    if unsure:
        return warning(
            "Rock rights",
            f"could not confirm {', '.join(unsure)} (Rock answered an unexpected error)",
            "Check the REST user's rights in Rock; the first sync will tell if one is missing.",
        )
    return ok(
        "Rock rights",
        f"may read the {len(view)} and change the {len(edit)} kinds of records pcosync uses",
    )


async def _rock_version(rock: RockClient, facts: RockFacts) -> Check:
    name = "Rock version"
    try:
        text = await rock.version()
    except AuthenticationError:
        return warning(
            name,
            "Rock refused to tell its version (401)",
            "Give the REST user View on the Utility controller, or check the version in "
            f"Rock's Admin Tools › System Information (pcosync needs v{MIN_ROCK_MAJOR} or newer).",
        )
    except ApiError as exc:
        return warning(name, f"could not read Rock's version ({_root(exc).status or exc})")
    facts.version = text
    major = rock_major_version(text)
    if major is None:
        return warning(name, f"Rock reported an unreadable version {text!r}")
    if major < MIN_ROCK_MAJOR:
        return failed(
            name,
            f"Rock {text} (v{major}) is older than v{MIN_ROCK_MAJOR}",
            f"Upgrade Rock to v{MIN_ROCK_MAJOR} or newer: pcosync relies on its newer REST API.",
        )
    return ok(name, f"Rock {text} (v{major}; v{MIN_ROCK_MAJOR} or newer is supported)")


async def rock_attribute_check(rock: RockClient) -> Check:
    name = f"Rock attribute {PCO_PERSON_ATTRIBUTE}"
    try:
        found = await rock.find_attribute(Guids.ENTITY_PERSON, PCO_PERSON_ATTRIBUTE)
    except ApiError as exc:
        return failed(
            name, f"could not look for it: {_root(exc)}", "Fix the Rock rights above first."
        )
    if found is None:
        return failed(
            name,
            f"Rock has no person attribute with the key {PCO_PERSON_ATTRIBUTE}",
            "Run `pcosync init` again (it creates the attribute), or create a Text person "
            f"attribute with the key {PCO_PERSON_ATTRIBUTE} in Admin Tools › Settings › Person "
            "Attributes.",
        )
    return ok(name, f"present (Attribute Id {found['Id']})")


# ------------------------------------------------------------------------------ Planning Center


def _people_fix(user: str) -> str:
    return (
        f"In Planning Center People, give {user} the Editor (or Manager) permission for all "
        "of People at the organisation level, not only for some lists; then run this again. "
        "(Or make the token under a dedicated login that has it.)"
    )


def _services_fix(user: str) -> str:
    return (
        f"In Planning Center Services, give {user} the Scheduler permission or higher "
        "(Editor, Administrator) for the whole organisation; then run this again."
    )


def _mentions(exc: ApiError, hint: str) -> bool:
    return any(hint in (d.detail + d.title + d.code) for d in exc.details)


async def _pco_get(pco: PcoClient, path: str, params: Any = None) -> httpx.Response:
    product = path.strip("/").split("/")[0]
    headers = {"X-PCO-API-Version": pco.versions[product]} if product in pco.versions else {}
    return await pco.http.request("GET", path, params=params, headers=headers)


async def probe_pco(
    pco: PcoClient, url: str, *, webhooks: bool = True
) -> tuple[list[Check], PcoFacts | None]:
    checks: list[Check] = []
    processed: dict[str, str | None] = {}
    try:
        me_response = await _pco_get(pco, "/people/v2/me")
    except AuthenticationError as exc:
        if _mentions(exc, "TRASH_PANDA"):
            return [
                failed(
                    "Planning Center People access",
                    "the token's user has no access to Planning Center People",
                    _people_fix("that user"),
                )
            ], None
        return [
            failed(
                "Planning Center credentials",
                "Planning Center refused the application id and secret (401 Unauthorized)",
                PCO_CREDENTIALS_FIX,
            )
        ], None
    except PermissionDenied:
        return [
            failed(
                "Planning Center People access",
                "the token's user has no access to Planning Center People (403 Forbidden)",
                _people_fix("that user"),
            )
        ], None
    except ApiError as exc:
        return [unreachable("Planning Center connection", "Planning Center", url, exc)], None
    received = datetime.now(UTC)
    try:
        body = me_response.json()
    except ValueError:
        body = None
    me_doc = Document.parse(body) if isinstance(body, dict) else None
    if me_doc is None or not me_doc.data:
        return [
            failed(
                "Planning Center connection",
                f"{url} answered, but not like Planning Center's API",
                "Check the address: it should be https://api.planningcenteronline.com.",
            )
        ], None
    me = me_doc.data[0]
    name = str(me.attr("name") or "the token's user")
    facts = PcoFacts(user_id=me.id, user_name=name)
    processed["people"] = me_response.headers.get("X-PCO-API-Processed-As-Version")
    checks.append(ok("Planning Center credentials", f"accepted; acting as {name}"))
    checks.append(clock_check("Planning Center clock", "Planning Center", me_response, received))

    try:
        org = Document.parse((await _pco_get(pco, "/people/v2")).json()).data[0]
    except (ApiError, IndexError, ValueError):
        pass
    else:
        facts.org_name = str(org.attr("name") or "") or None
        facts.org_time_zone = str(org.attr("time_zone") or "") or None
        facts.country_code = str(org.attr("country_code") or "") or None

    checks.append(
        await _people_access(
            pco, facts, me.attr("site_administrator"), me.attr("people_permissions")
        )
    )
    try:
        facts.campuses = [(c.id, c.name) for c in await pco.campuses()]
        facts.campuses_read = True
    except ApiError:
        pass
    checks.append(await _services_access(pco, facts, processed))
    if webhooks:
        checks.append(await _webhooks_access(pco, processed))
    checks.append(pco_versions_check(processed, pco.versions))
    return checks, facts


async def _people_access(pco: PcoClient, facts: PcoFacts, site_admin: Any, level: Any) -> Check:
    name = "Planning Center People access"
    user = facts.user_name
    try:
        await _pco_get(
            pco,
            "/people/v2/people",
            params={"per_page": "1", "include": ",".join(CONTACT_INCLUDES)},
        )
    except (AuthenticationError, PermissionDenied) as exc:
        return failed(
            name,
            f"{user} cannot read people and their contact details ({_root(exc).status})",
            _people_fix(user),
        )
    except ApiError as exc:
        return failed(name, f"reading people failed: {_root(exc)}", "Try again later.")
    if site_admin is True:
        return ok(name, f"{user} may read and edit people (organisation administrator)")
    if level in PEOPLE_EDIT_LEVELS:
        return ok(name, f"{user} may read and edit people (People {level})")
    return failed(
        name,
        f"{user} may read people but not edit them (People permission: {level or 'none'}); "
        "pcosync needs People Editor at the organisation level",
        _people_fix(user),
    )


async def _services_access(
    pco: PcoClient, facts: PcoFacts, processed: dict[str, str | None]
) -> Check:
    name = "Planning Center Services access"
    user = facts.user_name
    try:
        response = await _pco_get(pco, "/services/v2")
    except (AuthenticationError, PermissionDenied) as exc:
        return failed(
            name,
            f"{user} has no access to Planning Center Services ({_root(exc).status})",
            _services_fix(user),
        )
    except ApiError as exc:
        return failed(name, f"reading Services failed: {_root(exc)}", "Try again later.")
    processed["services"] = response.headers.get("X-PCO-API-Processed-As-Version")
    try:
        person = Document.parse(
            (await _pco_get(pco, f"/services/v2/people/{facts.user_id}")).json()
        )
    except (NotFoundError, AuthenticationError, PermissionDenied):
        return failed(name, f"{user} is not a Services user", _services_fix(user))
    except ApiError as exc:
        return failed(name, f"reading Services failed: {_root(exc)}", "Try again later.")
    level = str(person.data[0].attr("permissions") or "") if person.data else ""
    highest = str(person.data[0].attr("max_permissions") or "") if person.data else ""
    if _services_rank(level) < _services_rank(SERVICES_MIN):
        elsewhere = ""
        if _services_rank(highest) >= _services_rank(SERVICES_MIN):
            elsewhere = f" ({highest} only in some folders or service types)"
        return failed(
            name,
            f"{user} is a Services {level or 'user without a permission'}{elsewhere}; pcosync "
            f"needs {SERVICES_MIN} or higher to change team assignments",
            _services_fix(user),
        )
    try:
        await pco.services_app_id()
    except ApiError:
        return failed(
            name,
            "Planning Center lists no Services app for this organisation",
            "Make sure the organisation uses Planning Center Services, then run this again.",
        )
    return ok(name, f"{user} is a Services {level}")


def _services_rank(level: str) -> int:
    return SERVICES_LEVELS.index(level) if level in SERVICES_LEVELS else -1


async def _webhooks_access(pco: PcoClient, processed: dict[str, str | None]) -> Check:
    name = "Planning Center webhooks"
    try:
        response = await _pco_get(pco, "/webhooks/v2/webhook_subscriptions", {"per_page": "1"})
    except ApiError as exc:
        return warning(
            name,
            f"cannot read webhook subscriptions ({_root(exc).status or _root(exc)})",
            "Near-real-time updates need webhooks; scheduled syncs still work. Check the "
            "token's user may manage webhooks (an organisation administrator can).",
        )
    processed["webhooks"] = response.headers.get("X-PCO-API-Processed-As-Version")
    return ok(name, "may manage webhook subscriptions (for near-real-time updates)")


def pco_versions_check(processed: Mapping[str, str | None], pinned: Mapping[str, str]) -> Check:
    name = "Planning Center API versions"
    labels = {"people": "People", "services": "Services", "webhooks": "Webhooks"}
    off = []
    for product, got in processed.items():
        want = pinned.get(product, API_VERSIONS.get(product, ""))
        if got != want:
            off.append(
                f"{labels.get(product, product)} as {got or 'an unreported version'} "
                f"(pcosync is built for {want})"
            )
    if off:
        return warning(
            name,
            "Planning Center processed " + "; ".join(off),
            "Planning Center may not offer that version; some fields may be misread. Update "
            "pcosync, or report this to its maintainers.",
        )
    shown = ", ".join(f"{labels.get(p, p)} {v}" for p, v in processed.items())
    return ok(name, f"{shown} (the versions pcosync is built for)")


# ------------------------------------------------------------------------------ state store


def _inside(folder: Path, parent: Path) -> bool:
    try:
        folder.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def state_check(url: str, *, creatable: Path | None = None) -> Check:
    """Reachable without creating anything: a missing SQLite file only needs a writable folder
    (or one inside ``creatable``, the folder init is about to create for the config file)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    name = "State database"
    try:
        parsed = make_url(url)
    except ArgumentError:
        return failed(
            name,
            "state.url is not a database URL",
            "Use sqlite:///pcosync.db or postgresql+psycopg://user@host/db in [state] url.",
        )
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            return warning(
                name,
                "in memory: nothing is kept between runs",
                "Set [state] url to a file, e.g. sqlite:///pcosync.db.",
            )
        path = Path(database)
        if not path.exists():
            folder = path.parent
            if creatable is not None and not folder.exists() and _inside(folder, creatable):
                return ok(name, f"{path} will be created by the first sync (with its folder)")
            if folder.is_dir() and os.access(folder, os.W_OK):
                return ok(name, f"{path} will be created by the first sync")
            return failed(
                name,
                f"cannot create {path}: the folder {folder} is missing or not writable",
                "Create the folder (or pick another [state] url) and run this again.",
            )
    try:
        from pcosync.store import head_revision, make_engine
        from pcosync.store.health import diagnose

        engine = make_engine(url)
        try:
            problem, current = diagnose(engine)
        finally:
            engine.dispose()
        head = head_revision()
    except ModuleNotFoundError as exc:
        return failed(
            name,
            f"the database driver is not installed ({exc.name})",
            "Install pcosync with its PostgreSQL extra: pip install 'pcosync[postgres]'.",
        )
    except Exception as exc:  # any driver error: name it, never the URL's password
        return failed(
            name,
            f"cannot open {shown}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            "Check [state] url, that the database server runs and that the user may log in.",
        )
    if problem is not None:  # the very paragraph a sync would stop with
        what, _, fix = str(problem).partition(". ")
        return failed(name, what, fix or "Check [state] url in pcosync.toml.")
    if current is None:
        return ok(name, f"{shown} is reachable and empty; the first sync sets it up")
    if current == head:
        return ok(name, f"{shown} is reachable and up to date")
    return ok(name, f"{shown} is reachable; the next sync upgrades its tables")


# ------------------------------------------------------------------------------ campus map


def campus_map_check(
    entries: list[tuple[str, int | None, str | None]],
    rock: RockFacts | None,
    pco: PcoFacts | None,
) -> list[Check]:
    """Each configured id still exists; campuses missing from the map are pointed out."""
    name = "Campus map"
    if not entries:
        return [ok(name, "empty: campuses are not synced")]
    if rock is None or pco is None or not rock.campuses_read or not pco.campuses_read:
        return [warning(name, "not checked: the campuses could not be read (see above)")]
    rock_ids = {cid: cname for cid, cname in rock.campuses}
    pco_ids = {cid: cname for cid, cname in pco.campuses}
    broken: list[str] = []
    partial: list[str] = []
    for entry_name, rock_id, pco_id in entries:
        if rock_id is not None and rock_id not in rock_ids:
            broken.append(f"'{entry_name}': Rock has no campus with Id {rock_id}")
        if pco_id is not None and pco_id not in pco_ids:
            broken.append(f"'{entry_name}': Planning Center has no campus with id {pco_id}")
        if rock_id is None or pco_id is None:
            side = "Rock campus Id" if rock_id is None else "Planning Center campus id"
            partial.append(f"'{entry_name}' has no {side}")
    mapped_rock = {r for _, r, _ in entries if r is not None}
    mapped_pco = {p for _, _, p in entries if p is not None}
    unmapped = [f"Rock '{n}' ({i})" for i, n in rock.campuses if i not in mapped_rock]
    unmapped += [f"Planning Center '{n}' ({i})" for i, n in pco.campuses if i not in mapped_pco]
    names = [normalize_name(n) for n, _, _ in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        broken.append("names used twice: " + ", ".join(duplicates))
    checks: list[Check] = []
    if broken:
        checks.append(
            failed(
                name,
                "; ".join(broken),
                "Edit the campus_map entries in the config file: use ids that exist (Rock: Admin "
                "Tools › Settings › Campuses; Planning Center: People › Settings › Campuses), "
                "or run `pcosync init --force` to propose the map again.",
            )
        )
    notes = partial + ([f"not in the map: {', '.join(unmapped)}"] if unmapped else [])
    if notes:
        checks.append(
            warning(
                name,
                "; ".join(notes),
                "People at a campus that is not mapped on both sides are read as having no "
                "campus. Add the missing id to its campus_map entry in the config file.",
            )
        )
    if not checks:
        checks.append(ok(name, f"{len(entries)} campuses, all ids exist on both sides"))
    return checks


# ------------------------------------------------------------------------------ teams

_GUID = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")
TEAMS_CHECK = "Teams parent group"


class ParentStatus(StrEnum):
    FOUND = "found"
    NOT_SET = "not set"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    INACTIVE = "inactive"
    FAMILY = "family"


@dataclass(frozen=True)
class ParentGroup:
    """The group ``pcosync teams import`` would put the Planning Center tree under."""

    status: ParentStatus
    group_id: int | None = None  # as asked for, or as found by name
    asked_name: str | None = None
    name: str = ""  # Rock's name of the group found (never a family's)
    same_name: tuple[int, ...] = ()

    @property
    def usable(self) -> bool:
        """Found and active: ``init`` accepts nothing else (besides leaving it unset)."""
        return self.status is ParentStatus.FOUND

    def describe(self) -> str:
        asked = f"'{self.asked_name}'" if self.asked_name is not None else f"Id {self.group_id}"
        match self.status:
            case ParentStatus.FOUND:
                return f"'{self.name}' (Id {self.group_id})"
            case ParentStatus.NOT_SET:
                return "not set"
            case ParentStatus.MISSING if self.asked_name is not None:
                return f"Rock has no group named {asked}"
            case ParentStatus.MISSING:
                return f"Rock has no group with Id {self.group_id}"
            case ParentStatus.AMBIGUOUS:
                ids = ", ".join(str(i) for i in self.same_name)
                return f"Rock has {len(self.same_name)} groups named {asked} (Ids {ids})"
            case ParentStatus.INACTIVE:
                return f"'{self.name}' (Id {self.group_id}) is inactive"
            case ParentStatus.FAMILY:
                return f"{asked} is a family, not a group"

    def advice(self) -> str:
        """What to choose instead (a sentence), in words that fit a prompt and a file."""
        match self.status:
            case ParentStatus.MISSING if self.asked_name is not None:
                return (
                    "The import does not create its parent group: create it in Rock first, "
                    "or choose an existing group by its Id or exact name."
                )
            case ParentStatus.AMBIGUOUS:
                return "Choose one of them by its Id."
            case ParentStatus.INACTIVE:
                return "Reactivate it in Rock, or choose an active group."
            case _:
                return (
                    "Choose an existing, active group by its Id (Rock shows it in Admin "
                    "Tools › Group Viewer) or its exact name."
                )


@dataclass(frozen=True)
class GroupType:
    """The group type imported groups get; ``type_id`` None when Rock has no such type."""

    value: str
    type_id: int | None = None
    name: str = ""

    def describe(self) -> str:
        if self.type_id is None:
            return f"Rock has no group type {self.value!r}"
        return f"'{self.name}' (group type Id {self.type_id})"


def parse_parent(answer: str) -> tuple[int | None, str | None]:
    """A number is a group Id, anything else a group name; an empty answer neither."""
    text = answer.strip()
    if not text:
        return None, None
    if text.isdigit():
        return int(text), None
    return None, text


async def find_parent_group(
    rock: RockClient, group_id: int | None, group_name: str | None
) -> ParentGroup:
    """Resolve the parent group as ``TeamImport.root_group`` does (an Id wins over a name),
    and also tell whether it is active and not a family. Reads only."""
    if group_id is not None:
        try:
            group = await rock.group(group_id) if group_id >= 1 else None
        except NotFoundError:
            group = None
        if group is None:
            return ParentGroup(ParentStatus.MISSING, group_id=group_id)
        return await _judge_parent(rock, group, None)
    if not group_name:
        return ParentGroup(ParentStatus.NOT_SET)
    escaped = group_name.replace("'", "''")
    found = await rock.groups(filter=f"Name eq '{escaped}'")
    if not found:
        return ParentGroup(ParentStatus.MISSING, asked_name=group_name)
    if len(found) > 1:
        return ParentGroup(
            ParentStatus.AMBIGUOUS,
            asked_name=group_name,
            same_name=tuple(sorted(g.id for g in found)),
        )
    return await _judge_parent(rock, found[0], group_name)


async def _judge_parent(rock: RockClient, group: RockGroup, asked_name: str | None) -> ParentGroup:
    try:
        family = await rock.id_for_guid("GroupTypes", Guids.GROUP_TYPE_FAMILY)
    except NotFoundError:
        family = None
    if group.group_type_id == family:  # its name is a family's: never shown
        return ParentGroup(ParentStatus.FAMILY, group_id=group.id, asked_name=asked_name)
    status = (
        ParentStatus.FOUND if group.is_active and not group.is_archived else ParentStatus.INACTIVE
    )
    return ParentGroup(status, group_id=group.id, asked_name=asked_name, name=group.name)


async def find_group_type(rock: RockClient, value: str) -> GroupType:
    """A group type by Id or GUID, as ``teams.group_type`` may name it. Reads only."""
    text = value.strip()
    if text.isdigit():
        where = f"Id eq {int(text)}"
    elif _GUID.fullmatch(text):
        where = f"Guid eq guid'{text}'"
    else:
        return GroupType(value)
    rows = await rock.query("GroupTypes", filter=where, select=["Id", "Name"], top=1)
    if not rows:
        return GroupType(value)
    return GroupType(value, int(rows[0]["Id"]), str(rows[0].get("Name") or ""))


def teams_check(parent: ParentGroup, group_type: GroupType, source: str) -> Check:
    """The one ``check`` line for ``[teams]``; ``source`` names the file for the fix."""
    problems: list[str] = []
    fixes: list[str] = []
    if group_type.type_id is None:
        problems.append(group_type.describe())
        fixes.append(
            f"Set [teams] group_type in {source} to the Id or GUID of a Rock group type (Admin "
            "Tools › Settings › Group Types), or remove it to use Rock's Serving Team type."
        )
    if parent.status not in (ParentStatus.FOUND, ParentStatus.NOT_SET):
        problems.append(parent.describe())
        fixes.append(
            f"In {source}, set [teams] parent_group_id (or parent_group_name) to the group "
            f"imported teams go under. {parent.advice()} Or run `pcosync init --force` to "
            "choose it again."
        )
    if parent.status is ParentStatus.INACTIVE and group_type.type_id is not None:
        return warning(
            TEAMS_CHECK,
            f"{parent.describe()}: imported teams would be hidden under an inactive group",
            fixes[0],
        )
    if problems:
        return failed(TEAMS_CHECK, "; ".join(problems), " ".join(fixes))
    kind = f"as {group_type.describe()}"
    if parent.status is ParentStatus.NOT_SET:
        return ok(
            TEAMS_CHECK,
            "not set: `pcosync teams import` puts the teams under a top-level group "
            f"“Planning Center” it makes (once) {kind}; set [teams] parent_group_id or "
            "parent_group_name to choose another group",
        )
    return ok(TEAMS_CHECK, f"{parent.describe()}: imported teams go under it {kind}")
