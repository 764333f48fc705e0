"""``pcosync init`` chooses where ``pcosync teams import`` puts its groups, and ``check``
reports it; against both emulators over real HTTP, as ``test_init_check`` does."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import httpx

from pcosync.config import SERVING_TEAM_GROUP_TYPE, load_settings
from pcosync.emulators.rock.app import DEFAULT_API_KEY
from tests.cli.test_init_check import (
    by_name,
    check_json,
    init_args,
    invoke,
    rock_get,
    secrets_of,
)
from tests.conftest import RunningEmulator

FAMILY_TYPE = "790E3215-3B10-442B-AF69-616C0DCB998E"


def rock_http(rock: RunningEmulator) -> httpx.Client:
    return httpx.Client(base_url=rock.url, headers={"Authorization-Token": DEFAULT_API_KEY})


def serving_teams(rock: RunningEmulator) -> int:
    rows = rock_get(rock, "/api/Groups", **{"$filter": "Name eq 'Serving Teams'"})
    assert len(rows) == 1
    return int(rows[0]["Id"])


def type_id(rock: RunningEmulator, guid: str) -> int:
    rows = rock_get(rock, "/api/GroupTypes", **{"$filter": f"Guid eq guid'{guid}'"})
    return int(rows[0]["Id"])


def a_family(rock: RunningEmulator) -> dict[str, Any]:
    family = type_id(rock, FAMILY_TYPE)
    rows = rock_get(rock, "/api/Groups", **{"$filter": f"GroupTypeId eq {family}", "$top": "1"})
    row: dict[str, Any] = rows[0]
    return row


def new_group(rock: RunningEmulator, name: str, *, active: bool = True) -> int:
    with rock_http(rock) as http:
        created = http.post(
            "/api/Groups",
            json={
                "Name": name,
                "GroupTypeId": type_id(rock, SERVING_TEAM_GROUP_TYPE),
                "IsActive": active,
            },
        )
        created.raise_for_status()
        return int(created.json())


def teams_section(cfg: Path) -> dict[str, Any]:
    section: dict[str, Any] = tomllib.loads(cfg.read_text())["teams"]
    return section


def interactive(
    cfg: Path, rock: RunningEmulator, pco: RunningEmulator, *teams_answers: str
) -> list[str]:
    """Every answer of an interactive init, with the given parent-group answers."""
    return [
        rock.url,
        rock.credentials["api_key"],
        pco.url,
        pco.credentials["app_id"],
        pco.credentials["secret"],
        *teams_answers,
        "",  # time zone: the proposal
        "",  # state database: default
        "n",  # secrets stay in the file
        "",  # email addresses to tell: none
        "",  # every how many minutes: 15
    ]


def run_interactive(
    cfg: Path, rock: RunningEmulator, pco: RunningEmulator, *teams_answers: str
) -> str:
    answers = interactive(cfg, rock, pco, *teams_answers)
    result = invoke(
        ["init", "--config", str(cfg)],
        secrets=secrets_of(rock, pco),
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 0, result.output
    return result.output


# ------------------------------------------------------------------------------ interactive


def test_interactive_parent_group_by_name(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    out = run_interactive(cfg, rock_emulator, pco_emulator, "Serving Teams")
    group = serving_teams(rock_emulator)
    serving_type = type_id(rock_emulator, SERVING_TEAM_GROUP_TYPE)
    # the campus map comes first, then the question, which says what Enter does
    assert out.index("Proposed campus map") < out.index("Rock parent group for imported teams")
    assert "press Enter and the import makes a top-level group “Planning Center”" in out
    assert f"'Serving Team' (group type Id {serving_type})" in out
    assert f"Teams parent group: 'Serving Teams' (Id {group})" in out
    assert teams_section(cfg) == {
        "parent_group_name": "Serving Teams",
        "group_type": SERVING_TEAM_GROUP_TYPE,
    }
    teams = load_settings(cfg).teams
    assert (teams.parent_group_id, teams.parent_group_name) == (None, "Serving Teams")


def test_interactive_bad_answers_are_asked_again_until_an_id_fits(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    group = serving_teams(rock_emulator)
    inactive = new_group(rock_emulator, "Old Volunteers", active=False)
    family = a_family(rock_emulator)
    out = run_interactive(
        cfg,
        rock_emulator,
        pco_emulator,
        "987654",  # no such Id
        "Nobody Made This",  # no such name
        str(inactive),
        str(family["Id"]),
        str(group),
    )
    assert "Rock has no group with Id 987654" in out
    assert "Rock has no group named 'Nobody Made This'" in out
    assert "create it in Rock first" in out
    assert f"'Old Volunteers' (Id {inactive}) is inactive" in out
    assert f"Id {family['Id']} is a family, not a group" in out
    assert family["Name"] not in out  # a family's name is personal data
    assert out.count("Rock parent group for imported teams") == 5
    # a bad answer is not offered again as the default
    assert "(987654)" not in out
    assert teams_section(cfg) == {"parent_group_id": group, "group_type": SERVING_TEAM_GROUP_TYPE}


def test_interactive_enter_leaves_it_unset_and_a_rerun_offers_the_files_choice(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    run_interactive(cfg, rock_emulator, pco_emulator, "")
    assert teams_section(cfg) == {"group_type": SERVING_TEAM_GROUP_TYPE}
    assert load_settings(cfg).teams.parent_group_name is None

    group = serving_teams(rock_emulator)
    text = cfg.read_text().replace(
        "[teams]\n", f"[teams]\nparent_group_id = {group}\ntags = true\n"
    )
    cfg.write_text(text)
    answers = interactive(cfg, rock_emulator, pco_emulator, "")  # Enter: keep the file's
    result = invoke(
        ["init", "--config", str(cfg), "--force"],
        secrets=secrets_of(rock_emulator, pco_emulator),
        input="\n".join(answers) + "\n",
    )
    assert result.exit_code == 0, result.output
    assert f"(Id or name) ({group})" in result.output
    assert teams_section(cfg) == {
        "parent_group_id": group,
        "group_type": SERVING_TEAM_GROUP_TYPE,
        "tags": True,  # a [teams] key init does not manage is kept
    }


# ------------------------------------------------------------------------------ options


def test_non_interactive_options_are_verified_and_written(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    group = serving_teams(rock_emulator)
    small_groups = type_id(rock_emulator, "50FCFB30-F51A-49DF-86F4-2B176EA1820B")
    result = invoke(
        init_args(
            cfg,
            rock_emulator,
            pco_emulator,
            teams_parent_group=str(group),
            teams_group_type=str(small_groups),
        ),
        secrets=secrets,
    )
    assert result.exit_code == 0, result.output
    assert f"'Serving Teams' (Id {group})" in result.output
    assert f"'Small Group' (group type Id {small_groups})" in result.output
    assert teams_section(cfg) == {"parent_group_id": group, "group_type": str(small_groups)}


def test_non_interactive_bad_values_name_the_option_and_write_nothing(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    missing = invoke(
        init_args(cfg, rock_emulator, pco_emulator, teams_parent_group="987654"), secrets=secrets
    )
    assert missing.exit_code == 2
    assert "--teams-parent-group" in missing.stderr
    assert "Rock has no group with Id 987654" in missing.stderr
    assert not cfg.exists()

    new_group(rock_emulator, "Serving Teams")  # a second one: the name is ambiguous now
    twice = invoke(
        init_args(cfg, rock_emulator, pco_emulator, teams_parent_group="Serving Teams"),
        secrets=secrets,
    )
    assert twice.exit_code == 2
    assert "Rock has 2 groups named 'Serving Teams'" in twice.stderr
    assert "by its Id" in twice.stderr

    bad_type = invoke(
        init_args(cfg, rock_emulator, pco_emulator, teams_group_type="not-a-type"),
        secrets=secrets,
    )
    assert bad_type.exit_code == 2
    assert "--teams-group-type" in bad_type.stderr
    assert "Rock has no group type 'not-a-type'" in bad_type.stderr
    assert not cfg.exists()


def test_a_bad_value_in_the_file_being_replaced_names_the_key(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    assert invoke(init_args(cfg, rock_emulator, pco_emulator), secrets=secrets).exit_code == 0
    cfg.write_text(cfg.read_text().replace("[teams]\n", '[teams]\nparent_group_name = "Gone"\n'))
    before = cfg.read_text()
    again = invoke([*init_args(cfg, rock_emulator, pco_emulator), "--force"], secrets=secrets)
    assert again.exit_code == 2
    assert f"[teams] parent_group_name in {cfg}" in again.stderr
    assert "--teams-parent-group" in again.stderr
    assert cfg.read_text() == before


# ------------------------------------------------------------------------------ check


def test_check_reports_the_teams_parent_group(
    cfg: Path, rock_emulator: RunningEmulator, pco_emulator: RunningEmulator
) -> None:
    secrets = secrets_of(rock_emulator, pco_emulator)
    group = serving_teams(rock_emulator)
    result = invoke(
        init_args(cfg, rock_emulator, pco_emulator, teams_parent_group="Serving Teams"),
        secrets=secrets,
    )
    assert result.exit_code == 0, result.output

    code, report = check_json(cfg, secrets)
    line = by_name(report)["Teams parent group"]
    assert code == 0 and line["status"] == "ok", line
    assert f"'Serving Teams' (Id {group})" in line["detail"]
    assert "Serving Team" in line["detail"]
    table = invoke(["check", "--config", str(cfg)], secrets=secrets)
    assert table.exit_code == 0 and "Teams parent group" in table.output

    # the group is renamed in Rock: the configured name is missing now
    with rock_http(rock_emulator) as http:
        http.patch(f"/api/Groups/{group}", json={"Name": "Volunteers"}).raise_for_status()
    code, report = check_json(cfg, secrets)
    line = by_name(report)["Teams parent group"]
    assert code == 1 and line["status"] == "failed", line
    assert "Rock has no group named 'Serving Teams'" in line["detail"]
    assert "parent_group_id" in line["fix"] and str(cfg) in line["fix"]

    # by Id, but inactive: works, but is reported
    cfg.write_text(
        cfg.read_text().replace('parent_group_name = "Serving Teams"', f"parent_group_id = {group}")
    )
    with rock_http(rock_emulator) as http:
        http.patch(f"/api/Groups/{group}", json={"IsActive": False}).raise_for_status()
    code, report = check_json(cfg, secrets)
    line = by_name(report)["Teams parent group"]
    assert code == 0 and line["status"] == "warning", line
    assert f"'Volunteers' (Id {group}) is inactive" in line["detail"]
