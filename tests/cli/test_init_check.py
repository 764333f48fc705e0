"""``pcosync init`` and ``pcosync check`` against both emulators over real HTTP.

Every test also asserts that no secret (Rock key, PCO application id or secret) reaches the
output, whatever happened.
"""

from __future__ import annotations

import json
import logging
import stat
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from pcosync.cli.main import app
from pcosync.config import load_settings, write_settings
from pcosync.emulators.rock.app import DEFAULT_API_KEY
from pcosync.emulators.rock.app import create_app as create_rock
from pcosync.emulators.server import BackgroundServer
from tests.cli.conftest import ENV_NAMES
from tests.conftest import TEST_SEED, RunningEmulator


def secrets_of(rock: RunningEmulator, pco: RunningEmulator, *extra: str) -> list[str]:
    return [
        rock.credentials["api_key"],
        pco.credentials["app_id"],
        pco.credentials["secret"],
        *extra,
    ]


def invoke(
    args: Sequence[str],
    *,
    secrets: Sequence[str],
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    result = CliRunner().invoke(app, list(args), input=input, env=env)
    for secret in secrets:
        assert secret not in result.output, "a secret was printed"
        assert secret not in result.stderr, "a secret was printed"
    return result


def init_args(
    cfg: Path, rock: RunningEmulator, pco: RunningEmulator, **changes: str | None
) -> list[str]:
    values: dict[str, str | None] = {
        "--config": str(cfg),
        "--rock-url": rock.url,
        "--rock-api-key": rock.credentials["api_key"],
        "--pco-url": pco.url,
        "--pco-app-id": pco.credentials["app_id"],
        "--pco-secret": pco.credentials["secret"],
    }
    values.update({"--" + k.replace("_", "-"): v for k, v in changes.items()})
    args = ["init", "--non-interactive"]
    for flag, value in values.items():
        if value is not None:
            args += [flag, value]
    return args


def rock_get(rock: RunningEmulator, path: str, **params: str) -> Any:
    with httpx.Client(base_url=rock.url, headers={"Authorization-Token": DEFAULT_API_KEY}) as c:
        response = c.get(path, params=params)
        response.raise_for_status()
        return response.json()


def pco_campuses(pco: RunningEmulator) -> list[tuple[str, str]]:
    auth = (pco.credentials["app_id"], pco.credentials["secret"])
    with httpx.Client(base_url=pco.url, auth=auth) as c:
        body = c.get("/people/v2/campuses", params={"per_page": 100}).json()
    return [(d["id"], d["attributes"]["name"]) for d in body["data"]]


def pco_attributes(rock: RunningEmulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = rock_get(
        rock, "/api/Attributes", **{"$filter": "Key eq 'PcoPersonId'"}
    )
    return rows


def check_json(
    cfg: Path, secrets: Sequence[str], env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    result = invoke(["check", "--json", "--config", str(cfg)], secrets=secrets, env=env)
    return result.exit_code, json.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for check in report["checks"]:
        out.setdefault(check["name"], check)
        if check["status"] == "failed":
            out[check["name"]] = check
    return out


@pytest.fixture
def initialised(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> Iterator[Path]:
    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator), secrets=secrets_of(rock_emulator, pco_emulator)
    )
    assert result.exit_code == 0, result.output
    yield cfg


# ------------------------------------------------------------------------------ init


def test_non_interactive_init_writes_a_valid_private_file(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    assert pco_attributes(rock_emulator) == []
    result = invoke(init_args(cfg, rock_emulator, pco_emulator), secrets=secrets)
    assert result.exit_code == 0, result.output
    assert "created the person attribute" in result.output
    assert f"Wrote {cfg}" in result.output

    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    settings = load_settings(cfg)
    assert settings.rock.url == rock_emulator.url
    assert settings.pco.url == pco_emulator.url
    assert settings.rock_api_key() == rock_emulator.credentials["api_key"]
    assert settings.pco_app_id() == pco_emulator.credentials["app_id"]
    assert settings.pco_secret() == pco_emulator.credentials["secret"]
    assert settings.rock.time_zone == "America/Chicago"
    assert settings.state.url == "sqlite:///pcosync.db"
    assert settings.sync.default_region == "US"
    assert all(settings.direction(f) == "both" for f in settings.fields)

    # the seeded church has the same campus names on both sides: all matched, by name
    rock_campuses = {r["Name"]: r["Id"] for r in rock_get(rock_emulator, "/api/Campuses")}
    pco_by_name = {name: cid for cid, name in pco_campuses(pco_emulator)}
    assert len(rock_campuses) >= 2 and set(rock_campuses) == set(pco_by_name)
    mapped = {(e.name, e.rock_id, e.pco_id) for e in settings.campus_map}
    assert mapped == {(n, rock_campuses[n], pco_by_name[n]) for n in rock_campuses}
    assert "same name" in result.output and "map by hand" not in result.output

    # the link attribute exists in Rock, on Person, once
    attributes = pco_attributes(rock_emulator)
    assert len(attributes) == 1
    person_type = rock_get(
        rock_emulator, "/api/EntityTypes", **{"$filter": "Name eq 'Rock.Model.Person'"}
    )
    assert attributes[0]["EntityTypeId"] == person_type[0]["Id"]


def test_second_init_keeps_one_attribute_and_needs_force(
    initialised: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    # keep a hand-made setting across a re-init
    text = initialised.read_text().replace("lookback_minutes = 10", "lookback_minutes = 25")
    initialised.write_text(text)

    refused = invoke(init_args(initialised, rock_emulator, pco_emulator), secrets=secrets)
    assert refused.exit_code == 2
    assert "already exists" in refused.stderr and "--force" in refused.stderr

    again = invoke(
        [*init_args(initialised, rock_emulator, pco_emulator), "--force"], secrets=secrets
    )
    assert again.exit_code == 0, again.output
    assert "already there" in again.output
    assert len(pco_attributes(rock_emulator)) == 1
    assert load_settings(initialised).sync.lookback_minutes == 25
    assert stat.S_IMODE(initialised.stat().st_mode) == 0o600


def test_reinit_keeps_the_campus_map_edited_by_hand(
    initialised: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    raw = tomllib.loads(initialised.read_text())
    a, b, c = raw["campus_map"][:3]
    # the admin pairs two campuses the other way round, names one their own way, and one
    # entry points at a Planning Center campus that no longer exists
    raw["campus_map"] = [
        {"name": "Our main site", "rock_id": a["rock_id"], "pco_id": b["pco_id"]},
        {"name": b["name"], "rock_id": b["rock_id"], "pco_id": a["pco_id"]},
        {"name": c["name"], "rock_id": c["rock_id"], "pco_id": "99999"},
    ]
    write_settings(initialised, raw)

    again = invoke(
        [*init_args(initialised, rock_emulator, pco_emulator), "--force"], secrets=secrets
    )
    assert again.exit_code == 0, again.output
    assert "kept from the file" in again.output
    entries = {(e.name, e.rock_id, e.pco_id) for e in load_settings(initialised).campus_map}
    assert entries == {
        ("Our main site", a["rock_id"], b["pco_id"]),
        (b["name"], b["rock_id"], a["pco_id"]),
        (c["name"], c["rock_id"], c["pco_id"]),  # the broken entry is proposed again
    }


def test_bad_rock_key_says_what_to_do(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    wrong = "not-the-rock-key-1234"
    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator, rock_api_key=wrong),
        secrets=secrets_of(rock_emulator, pco_emulator, wrong),
    )
    assert result.exit_code == 1
    out = result.output
    assert "Rock refused the REST key (401 Unauthorized)" in out
    assert "wrong REST key" in out and "no rights" in out
    assert "REST Keys" in out
    assert "Nothing was written" in out
    assert not cfg.exists()
    assert pco_attributes(rock_emulator) == []


def test_bad_pco_secret_says_what_to_do(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    wrong = "not-the-pco-secret-5678"
    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator, pco_secret=wrong),
        secrets=secrets_of(rock_emulator, pco_emulator, wrong),
    )
    assert result.exit_code == 1
    assert "Planning Center refused the application id and secret (401 Unauthorized)" in (
        result.output
    )
    assert "oauth/applications" in result.output
    assert not cfg.exists()
    assert pco_attributes(rock_emulator) == []


def test_unreachable_rock_is_a_clear_failure(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    with BackgroundServer(create_rock(seed=TEST_SEED, people=10)) as gone_url:
        pass  # stopped: nothing listens on that port any more
    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator, rock_url=gone_url),
        secrets=secrets_of(rock_emulator, pco_emulator),
    )
    assert result.exit_code == 1
    assert f"cannot connect to {gone_url}" in result.output
    assert not cfg.exists()


def test_restricted_rock_key_names_the_missing_rights(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    with httpx.Client(base_url=rock_emulator.url) as control:
        limited = control.post(
            "/__emulator__/rest-keys",
            json={"name": "Limited Sync", "view": ["People", "Campuses"], "edit": ["People"]},
        ).json()["key"]
        nothing = control.post("/__emulator__/rest-keys", json={"name": "No Rights"}).json()["key"]
    secrets = secrets_of(rock_emulator, pco_emulator, limited, nothing)

    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator, rock_api_key=limited), secrets=secrets
    )
    assert result.exit_code == 1
    out = result.output
    assert "Rock REST key: accepted; it belongs to 'Limited Sync'" in out
    assert "Rock rights" in out
    assert "View on PersonAlias, PhoneNumbers, Groups" in out
    assert "Edit on PhoneNumbers, Groups, GroupMembers, Attributes" in out
    assert "Edit on People" not in out
    assert "lacks rights" in out and "'Limited Sync'" in out
    assert not cfg.exists()

    # a key whose REST user has no rights at all is refused like a wrong key: say both
    bare = invoke(
        init_args(cfg, rock_emulator, pco_emulator, rock_api_key=nothing), secrets=secrets
    )
    assert bare.exit_code == 1
    assert "wrong REST key" in bare.output and "no rights" in bare.output


def test_missing_pco_permissions_are_named(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    with httpx.Client(base_url=pco_emulator.url) as control:
        control.post(
            "/__emulator__/permissions",
            json={"people": "Viewer", "site_administrator": False, "services": "Viewer"},
        ).raise_for_status()
    result = invoke(init_args(cfg, rock_emulator, pco_emulator), secrets=secrets)
    assert result.exit_code == 1
    out = result.output
    assert "may read people but not edit them (People permission: Viewer)" in out
    assert "People Editor at the organisation level" in out
    assert "is a Services Viewer" in out and "needs Scheduler or higher" in out
    assert not cfg.exists()

    with httpx.Client(base_url=pco_emulator.url) as control:
        control.post(
            "/__emulator__/permissions", json={"people": "Editor", "services": "No Access"}
        ).raise_for_status()
    no_services = invoke(init_args(cfg, rock_emulator, pco_emulator), secrets=secrets)
    assert no_services.exit_code == 1
    assert "may read and edit people (People Editor)" in no_services.output
    assert "has no access to Planning Center Services (403)" in no_services.output
    assert not cfg.exists()


def test_secrets_in_env_stay_out_of_the_file(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    result = invoke(
        [*init_args(cfg, rock_emulator, pco_emulator), "--secrets-in-env"], secrets=secrets
    )
    assert result.exit_code == 0, result.output
    for name in ENV_NAMES:
        assert name in result.output
    text = cfg.read_text()
    for secret in secrets:
        assert secret not in text
    raw = tomllib.loads(text)
    assert "api_key" not in raw["rock"]
    assert "app_id" not in raw["pco"] and "secret" not in raw["pco"]

    missing = invoke(["check", "--config", str(cfg)], secrets=secrets)
    assert missing.exit_code == 2
    assert "PCOSYNC_ROCK_API_KEY" in missing.stderr

    env = {
        "PCOSYNC_ROCK_API_KEY": rock_emulator.credentials["api_key"],
        "PCOSYNC_PCO_APP_ID": pco_emulator.credentials["app_id"],
        "PCOSYNC_PCO_SECRET": pco_emulator.credentials["secret"],
    }
    code, report = check_json(cfg, secrets, env=env)
    assert code == 0 and report["ok"] is True


def test_init_takes_secrets_from_the_environment(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    env = {
        "PCOSYNC_ROCK_API_KEY": rock_emulator.credentials["api_key"],
        "PCOSYNC_PCO_APP_ID": pco_emulator.credentials["app_id"],
        "PCOSYNC_PCO_SECRET": pco_emulator.credentials["secret"],
    }
    args = init_args(
        cfg, rock_emulator, pco_emulator, rock_api_key=None, pco_app_id=None, pco_secret=None
    )
    result = invoke(args, secrets=secrets_of(rock_emulator, pco_emulator), env=env)
    assert result.exit_code == 0, result.output
    assert load_settings(cfg).rock_api_key() == rock_emulator.credentials["api_key"]


def test_usage_problems_exit_2(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    missing = invoke(
        ["init", "--non-interactive", "--config", str(cfg), "--rock-url", rock_emulator.url],
        secrets=secrets,
    )
    assert missing.exit_code == 2
    assert "--rock-api-key" in missing.stderr and "--pco-secret" in missing.stderr
    bad_zone = invoke(
        init_args(cfg, rock_emulator, pco_emulator, time_zone="Mars/Olympus"), secrets=secrets
    )
    assert bad_zone.exit_code == 2
    assert "Mars/Olympus" in bad_zone.stderr
    bad_url = invoke(
        init_args(cfg, rock_emulator, pco_emulator, rock_url="http://"), secrets=secrets
    )
    assert bad_url.exit_code == 2
    assert not cfg.exists()


def test_old_rock_fails_and_time_zone_evidence_is_checked(
    cfg: Path, pco_emulator: RunningEmulator
) -> None:
    old = create_rock(seed=TEST_SEED, people=20, version="1.13.2")
    with BackgroundServer(old) as url:
        rock = RunningEmulator(url=url, app=old, credentials={"api_key": DEFAULT_API_KEY})
        result = invoke(init_args(cfg, rock, pco_emulator), secrets=secrets_of(rock, pco_emulator))
    assert result.exit_code == 1
    assert "Rock 1.13.2 (v13) is older than v14" in result.output
    assert not cfg.exists()

    # Rock in New York, Planning Center in Chicago: the attribute's timestamp gives Rock away
    eastern = create_rock(seed=TEST_SEED, people=20, time_zone="America/New_York")
    with BackgroundServer(eastern) as url:
        rock = RunningEmulator(url=url, app=eastern, credentials={"api_key": DEFAULT_API_KEY})
        guessed = invoke(init_args(cfg, rock, pco_emulator), secrets=secrets_of(rock, pco_emulator))
        assert guessed.exit_code == 0, guessed.output
        assert "taken from Planning Center's organisation settings" in guessed.output
        assert "Rock's clock reads UTC-0" in guessed.output and "rock.time_zone" in guessed.output
        assert load_settings(cfg).rock.time_zone == "America/Chicago"


# ------------------------------------------------------------------------------ interactive


def test_interactive_init_answered_by_input(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    wrong = "typo-in-the-rock-key"
    secrets = secrets_of(rock_emulator, pco_emulator, wrong)
    answers = [
        rock_emulator.url,  # Rock address
        wrong,  # Rock REST key (hidden)
        "y",  # Try again?
        "",  # Rock address: keep
        rock_emulator.credentials["api_key"],  # the right key
        pco_emulator.url,  # Planning Center API address
        pco_emulator.credentials["app_id"],  # hidden
        pco_emulator.credentials["secret"],  # hidden
        "",  # teams parent group: decide later
        "",  # time zone: take the proposal
        "",  # state database: default
        "n",  # keep secrets out of the file?
        "",  # email addresses to tell: none
        "",  # every how many minutes: 15
    ]
    result = invoke(
        ["init", "--config", str(cfg)], secrets=secrets, input="\n".join(answers) + "\n"
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Rock refused the REST key" in out
    assert "Try again?" in out
    assert "best guess is America/Chicago" in out
    assert f"Wrote {cfg}" in out
    settings = load_settings(cfg)
    assert settings.rock_api_key() == rock_emulator.credentials["api_key"]
    assert settings.pco_secret() == pco_emulator.credentials["secret"]
    assert len(settings.campus_map) >= 2 and all(
        e.rock_id and e.pco_id for e in settings.campus_map
    )
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600


def test_interactive_init_gives_up_when_told(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    answers = [rock_emulator.url, "wrong-key-again", "n"]
    result = invoke(
        ["init", "--config", str(cfg)],
        secrets=[*secrets_of(rock_emulator, pco_emulator), "wrong-key-again"],
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 1
    assert "Nothing was written" in result.output
    assert not cfg.exists()


# ------------------------------------------------------------------------------ check


def test_check_all_ok_on_a_fresh_setup(
    initialised: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    table = invoke(["--config", str(initialised), "check"], secrets=secrets)
    assert table.exit_code == 0, table.output
    assert "0 failed" in table.output and "Campus map" in table.output

    code, report = check_json(initialised, secrets)
    assert code == 0
    assert report["ok"] is True
    assert report["config"] == str(initialised.resolve())
    names = by_name(report)
    for expected in (
        "Rock REST key",
        "Rock rights",
        "Rock clock",
        "Rock version",
        "Rock attribute PcoPersonId",
        "Planning Center credentials",
        "Planning Center People access",
        "Planning Center Services access",
        "Planning Center clock",
        "Planning Center API versions",
        "State database",
        "Campus map",
        "Teams parent group",
        "Notifications",
    ):
        assert names[expected]["status"] == "ok", names[expected]
    assert "not set" in names["Teams parent group"]["detail"]
    assert "2025-11-10" in names["Planning Center API versions"]["detail"]
    assert "v16" in names["Rock version"]["detail"]


def test_check_finds_config_through_the_environment(
    initialised: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    result = invoke(["check", "--json"], secrets=secrets, env={"PCOSYNC_CONFIG": str(initialised)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["config"] == str(initialised.resolve())


def test_check_detects_a_broken_campus_map_entry(
    initialised: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    raw = tomllib.loads(initialised.read_text())
    first = raw["campus_map"][0]
    text = initialised.read_text().replace(f'pco_id = "{first["pco_id"]}"', 'pco_id = "99999"', 1)
    initialised.write_text(text)
    code, report = check_json(initialised, secrets)
    assert code == 1 and report["ok"] is False
    campus = by_name(report)["Campus map"]
    assert campus["status"] == "failed"
    assert f"'{first['name']}': Planning Center has no campus with id 99999" in campus["detail"]
    assert "campus_map" in campus["fix"]
    table = invoke(["--config", str(initialised), "check"], secrets=secrets)
    assert table.exit_code == 1 and "1 failed" in table.output


def test_check_flags_a_removed_attribute_and_lost_permissions(
    initialised: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    with httpx.Client(
        base_url=rock_emulator.url, headers={"Authorization-Token": DEFAULT_API_KEY}
    ) as rock:
        assert (
            rock.delete(f"/api/Attributes/{pco_attributes(rock_emulator)[0]['Id']}").status_code
            == 204
        )
    with httpx.Client(base_url=pco_emulator.url) as control:
        control.post(
            "/__emulator__/permissions", json={"services": "Scheduled Viewer"}
        ).raise_for_status()
    code, report = check_json(initialised, secrets)
    assert code == 1
    names = by_name(report)
    assert names["Rock attribute PcoPersonId"]["status"] == "failed"
    assert "pcosync init" in names["Rock attribute PcoPersonId"]["fix"]
    assert names["Planning Center Services access"]["status"] == "failed"
    assert "Scheduled Viewer" in names["Planning Center Services access"]["detail"]


def test_check_with_a_broken_config_file_exits_2(cfg: Path) -> None:
    cfg.write_text("[rock]\nurl = 'ftp://nope'\n")
    result = invoke(["check", "--config", str(cfg)], secrets=[])
    assert result.exit_code == 2
    assert "rock.url" in result.stderr and str(cfg) in result.stderr
    nothing = invoke(["check", "--config", str(cfg.with_name("absent.toml"))], secrets=[])
    assert nothing.exit_code == 2
    assert "pcosync init" in nothing.stderr


def test_no_secret_in_the_debug_log(
    cfg: Path,
    rock_emulator: RunningEmulator,
    pco_emulator: RunningEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = secrets_of(rock_emulator, pco_emulator)
    result = invoke(["-vv", *init_args(cfg, rock_emulator, pco_emulator)], secrets=secrets)
    assert result.exit_code == 0, result.output
    assert "http.request" in caplog.text  # the requests were logged...
    for secret in secrets:
        assert secret not in caplog.text  # ...without credentials


def test_campus_map_by_similar_name_and_unmatched_campuses(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    campuses = {r["Name"]: r["Id"] for r in rock_get(rock_emulator, "/api/Campuses")}
    pco_ids = {name: cid for cid, name in pco_campuses(pco_emulator)}
    with httpx.Client(
        base_url=rock_emulator.url, headers={"Authorization-Token": DEFAULT_API_KEY}
    ) as rock:
        east = rock.post("/api/Campuses", json={"Name": "East Side", "IsActive": True}).json()
        renamed = rock.patch(
            f"/api/Campuses/{campuses['Downtown Campus']}", json={"Name": "  downtown  "}
        )
        assert renamed.status_code == 204
    result = invoke(init_args(cfg, rock_emulator, pco_emulator), secrets=secrets)
    assert result.exit_code == 0, result.output
    assert "similar name: please check" in result.output
    assert "not matched: map by hand" in result.output
    assert "1 campus(es) could not be matched" in result.output
    entries = {e.name: e for e in load_settings(cfg).campus_map}
    assert entries["downtown"].rock_id == campuses["Downtown Campus"]
    assert entries["downtown"].pco_id == pco_ids["Downtown Campus"]
    assert (entries["East Side"].rock_id, entries["East Side"].pco_id) == (east, None)

    code, report = check_json(cfg, secrets)
    assert code == 0  # a half-mapped campus is a warning, not a failure
    campus = by_name(report)["Campus map"]
    assert campus["status"] == "warning"
    assert "'East Side' has no Planning Center campus id" in campus["detail"]


def test_init_into_a_new_folder(
    tmp_path: Path, clean_env: None, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    cfg = tmp_path / "etc" / "pcosync" / "pcosync.toml"
    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator), secrets=secrets_of(rock_emulator, pco_emulator)
    )
    assert result.exit_code == 0, result.output
    assert "will be created by the first sync (with its folder)" in result.output
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert load_settings(cfg).state_url() == f"sqlite:///{cfg.parent / 'pcosync.db'}"
