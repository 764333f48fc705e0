"""Names are printed as typed (issue 12, item 2): Rich markup and emoji codes in a name or a
group name reach the terminal literally, from every printing command, and never crash it."""

from __future__ import annotations

import json
import re

import httpx
from click.testing import Result
from typer.testing import CliRunner

from pcosync.cli.main import app
from pcosync.store import RunStatus
from tests.sync.people_helpers import contested
from tests.teams.conftest import TeamsChurch
from tests.teams.test_membership_sync import (
    BAND,
    BAND_SERVICE_TYPE,
    imported,
    links,
    team_positions,
)

FIRST = "[/]"  # made Rich raise MarkupError
LAST = "[link=https://evil.example]Click[/link]"  # was rendered as a link
NICK = "[bold red]Sunny"
EMOJI = ":thumbs_up: Lee"
GROUP = "[b]Drummers[/b] :fire:"


def flat(text: str) -> str:
    """The output as read, whatever the width it was wrapped at (table borders dropped)."""
    return " ".join(re.sub(r"[│┃║┏┓┗┛┡┩━─┬┴┼╇╈╋┳┻]", " ", text).split())


def literally(out: str, *texts: str) -> None:
    said = flat(out)
    for text in texts:
        assert text in said, f"{text!r} not shown literally in:\n{out}"


def wide(tc: TeamsChurch, *args: str) -> Result:
    """A command as printed on a wide terminal (nothing cut short to fit)."""
    return CliRunner().invoke(app, ["--config", str(tc.c.config), *args], env={"COLUMNS": "400"})


def _pco(tc: TeamsChurch) -> httpx.Client:
    return httpx.Client(base_url=tc.c.pco_url, auth=(tc.c.app_id, tc.c.secret))


def _with_phone_and_email(tc: TeamsChurch) -> list[tuple[str, int]]:
    out = []
    for pco_id, rock_id in sorted(links(tc).items()):
        doc = tc.c.pco_get(f"/people/v2/people/{pco_id}", include="emails,phone_numbers")
        kinds = {i["type"] for i in doc.get("included", [])}
        if {"Email", "PhoneNumber"} <= kinds:
            out.append((pco_id, rock_id))
    return out


def test_every_printing_command_shows_markup_in_names_literally(tc: TeamsChurch) -> None:
    groups = imported(tc)
    position = team_positions(tc, BAND)[0]
    group = groups[f"TeamPosition:{position}"]
    twin = contested(
        tc.c, BAND_SERVICE_TYPE, position, (EMOJI, "[/]Ada")
    )  # duplicates in Rock: the first sync cannot link them
    first = tc.c.sync()
    assert first.match_issues == 1, first.as_dict()
    (pco_id, rock_id), (bad_pco, bad_rock) = _with_phone_and_email(tc)[:2]
    # people named in markup on both sides, and a group with markup and an emoji code
    for pid, rid, first in ((pco_id, rock_id, FIRST), (bad_pco, bad_rock, "[/b]Bo")):
        tc.c.pco_control(
            f"people/{pid}", {"first_name": first, "last_name": LAST, "nickname": None}
        )
        tc.c.rock_control(f"people/{rid}", {"FirstName": first, "LastName": LAST, "NickName": None})
    tc.c.rock_control(f"groups/{group}", {"Name": GROUP})
    assert tc.c.sync().status is RunStatus.DONE
    name = f"{FIRST} {LAST}"

    # a conflict, a parked bad value and a match issue, each about one of them
    tc.c.rock_control(f"people/{rock_id}", {"NickName": NICK})
    tc.c.pco_control("clock", {"advance_seconds": 60})
    tc.c.pco_control(f"people/{pco_id}", {"nickname": "[/link]"})
    person = tc.c.pco_get(f"/people/v2/people/{bad_pco}", include="phone_numbers")
    phone = next(i for i in person.get("included", []) if i["type"] == "PhoneNumber")
    with _pco(tc) as http:
        http.patch(
            f"/people/v2/phone_numbers/{phone['id']}",
            json={
                "data": {"type": "PhoneNumber", "id": phone["id"], "attributes": {"number": "12"}}
            },
        ).raise_for_status()
    run = tc.c.sync()
    assert run.conflicts == 1 and run.parked >= 1, run.as_dict()

    for args in (
        ("runs",),
        ("runs", "show", str(run.run_id)),
        ("review", str(run.run_id)),
        ("people", "links"),
        ("people", "issues"),
        ("parked",),
        ("teams", "links"),
    ):
        result = wide(tc, *args)
        assert result.exit_code == 0, (args, result.output)
        assert "MarkupError" not in result.output
    shown = wide(tc, "runs", "show", str(run.run_id)).output
    literally(shown, NICK, "[/link]")  # the conflict's values
    literally(wide(tc, "people", "links").output, f"[/link] {LAST}", f"[/b]Bo {LAST}")
    literally(wide(tc, "people", "issues").output, f"{EMOJI} Quill", "[/]Ada Quill", twin)
    literally(wide(tc, "parked").output, f"[/b]Bo {LAST}")
    literally(wide(tc, "teams", "links").output, GROUP)
    assert "👍" not in wide(tc, "people", "issues").output  # emoji codes stay codes
    assert "🔥" not in wide(tc, "teams", "links").output

    # a held run, reviewed: names as typed
    tc.c.pco_control(f"people/{pco_id}", {"middle_name": "[i]M[/i]"})
    held = tc.c.sync(hold=True)
    assert held.status is RunStatus.HELD
    review = wide(tc, "review", str(held.run_id))
    assert review.exit_code == 0, review.output
    literally(review.output, "[i]M[/i]", "[/link]")
    as_json = json.loads(tc.cli("review", str(held.run_id), "--json").output)
    assert any("[/link]" in p["person"] for p in as_json["people"])
    literally(shown, name)
    _ = (groups, BAND)


def test_our_own_messages_keep_their_brackets(tc: TeamsChurch) -> None:
    """A config problem names its section in brackets: "[teams]" must not vanish."""
    import tomllib

    from pcosync.config import write_settings

    raw = tomllib.loads(tc.c.config.read_text())
    raw["teams"]["services_permission"] = "Chief"
    write_settings(tc.c.config, raw)
    result = tc.cli("teams", "import", "--dry-run")
    assert result.exit_code == 2
    assert "teams.services_permission" in result.output
    raw["teams"] = {"parent_group_id": 987654}
    write_settings(tc.c.config, raw)
    result = tc.cli("teams", "import", "--dry-run")
    assert result.exit_code == 2
    literally(result.output, "Rock has no group with Id 987654", "(teams.parent_group_id in")
    help_text = tc.cli("teams", "import", "--help").output
    literally(help_text, "[teams]")
    dry = tc.cli("teams", "permission", "1", "Boss")
    literally(dry.output, '"Scheduled Viewer"')
