"""What a new admin sees (issue 15): names first and ids second, counts that are true for dry
runs too, only our own sentences in the terminal, exit 2 for their mistakes, and a first sync
that shows its plan and asks before it writes (in a terminal only)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from click.testing import Result
from typer.testing import CliRunner

from pcosync.cli.main import app
from pcosync.store import LinkStatus, RunStatus
from tests.safety.conftest import init_rock
from tests.sync.conftest import Church
from tests.sync.people_helpers import band_position, contested


def cli(church: Church, *args: str) -> Result:
    return CliRunner().invoke(app, ["--config", str(church.config), *args], env={"COLUMNS": "200"})


def flat(text: str) -> str:
    return " ".join(text.split())


def _linked(church: Church) -> list[tuple[int, str]]:
    store = church.store()
    try:
        return [(lk.rock_person_id, lk.pco_person_id) for lk in store.links.all(LinkStatus.ACTIVE)]
    finally:
        store.close()


def _name_of(church: Church, pco_id: str) -> str:
    attrs = church.pco_get(f"/people/v2/people/{pco_id}")["data"]["attributes"]
    return f"{attrs['nickname'] or attrs['first_name']} {attrs['last_name']}"


# ---------------------------------------------------------------------------- counts


def test_a_dry_run_counts_the_links_and_issues_it_would_make(church: Church) -> None:
    service_type, position = band_position(church)
    contested(church, service_type, position)
    result = cli(church, "sync", "--dry-run")
    assert result.exit_code == 0, result.output
    said = flat(result.output)
    dry = json.loads(cli(church, "sync", "--dry-run", "--json").output)
    # `people issues` agrees with the dry run's count (a dry run records its findings);
    # besides the contested one, the seeded church has name-only twins (issue 12)
    issues = json.loads(cli(church, "people", "issues", "--json").output)
    assert dry["linked"] > 0 and dry["match_issues"] == len(issues) >= 1
    assert f"New links (would be): {dry['linked']}" in said
    assert f"Match issues: {len(issues)}" in said
    assert any("Quill" in i["message"] for i in issues)
    assert _linked(church) == []  # and wrote nothing
    real = church.sync()
    assert real.linked == dry["linked"] and real.match_issues == len(issues)
    _, pco_id = _linked(church)[0]
    name = _name_of(church, pco_id)
    church.pco_control(f"people/{pco_id}", {"middle_name": "Summarised"})
    summary = cli(church, "sync")
    assert summary.exit_code == 0, summary.output
    assert f"People changed: {name}." in flat(summary.output)  # the summary names them


# ---------------------------------------------------------------------------- names


def test_runs_show_people_links_and_revert_name_people_first(church: Church) -> None:
    church.sync()
    (rock_id, pco_id), (other_rock, other_pco) = _linked(church)[2:4]
    name = _name_of(church, pco_id)
    # a conflict (nickname on both sides) and an edit each way
    church.rock_control(f"people/{rock_id}", {"NickName": "Rocky"})
    church.pco_control("clock", {"advance_seconds": 60})
    church.pco_control(f"people/{pco_id}", {"nickname": "Sunny"})
    church.pco_control(f"people/{other_pco}", {"middle_name": "Quentin"})
    run = church.sync()
    assert run.conflicts == 1 and run.updated["rock"] >= 1, run.as_dict()
    shown = cli(church, "runs", "show", str(run.run_id))
    assert shown.exit_code == 0, shown.output
    said = flat(shown.output)
    other = _name_of(church, other_pco)
    assert name in said and other in said
    # names come first; the ids are there too, after them, to tell records apart
    assert said.index(other) < said.index(f"Rock {other_rock}")
    conflicts = said[said.index("Conflicts") :]
    assert name in conflicts and "Planning Center (edited later)" in conflicts
    doc = json.loads(cli(church, "runs", "show", str(run.run_id), "--json").output)
    assert {c["name"] for c in doc["conflicts"]} == {name}
    assert doc["conflicts"][0]["rock_id"] == rock_id  # ids stay in --json

    links = cli(church, "people", "links")
    assert links.exit_code == 0
    row = next(line for line in links.output.splitlines() if str(other_rock) in line)
    assert row.index(other) < row.index(str(other_rock))
    as_json = json.loads(cli(church, "people", "links", "--json").output)
    assert {r["name"] for r in as_json if r["rock_id"] == other_rock} == {other}

    reverted = cli(church, "revert", str(run.run_id), "--yes")
    assert reverted.exit_code in (0, 3), reverted.output
    changed = next(line for line in reverted.output.splitlines() if "People changed:" in line)
    assert other in changed and name in changed  # the revert's list, by name
    store = church.store()
    try:
        latest = store.runs.list(1)[0]
        ops = store.journal.list(latest.id)
    finally:
        store.close()
    assert latest.reverts_run_id == run.run_id
    assert {j.operation.ref.name for j in ops} >= {other}  # the undo is recorded with names


def test_a_parked_reason_names_the_person(church: Church) -> None:
    church.sync()
    rock_id, pco_id = _linked(church)[1]
    name = _name_of(church, pco_id)  # as both sides agree (the run names them so)
    church.pco_control(f"people/{pco_id}", {"last_name": "Parkedname"})
    church.refuse_rock_updates(rock_id)
    run = church.sync()
    assert run.parked == 1
    parked = json.loads(cli(church, "parked", "--json").output)
    assert parked[0]["name"] == name
    assert name in parked[0]["reason"] and f"Rock {rock_id}" in parked[0]["reason"]
    listing = flat(cli(church, "parked").output)
    assert listing.index(name) < listing.index(f"person:{rock_id}")


# ---------------------------------------------------------------------------- the terminal


def _pcosync(church: Church, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pcosync.cli.main", "--config", str(church.config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_only_our_own_sentences_reach_the_terminal(church: Church) -> None:
    church.sync()
    rock_id, pco_id = _linked(church)[1]
    church.pco_control(f"people/{pco_id}", {"last_name": "Parkedname"})
    church.refuse_rock_updates(rock_id)
    quiet = _pcosync(church, "sync")
    assert quiet.returncode == 3, quiet.stdout + quiet.stderr
    both = quiet.stdout + quiet.stderr
    assert "parked" in both  # our sentence says it ...
    for leak in ("WARNING", "INFO", "pcosync.sync", "sync.op_parked", "http.request"):
        assert leak not in both, both  # ... no log line does
    church.pco_control(f"people/{pco_id}", {"last_name": "Loggedname"})
    verbose = _pcosync(church, "-v", "sync")
    assert "http.request" in verbose.stderr  # asked for: the log is there


def test_user_mistakes_exit_2_naming_the_thing_and_the_fix(church: Church) -> None:
    church.sync()
    cases = [
        (("runs", "show", "999"), "There is no run 999", "pcosync runs"),
        (("review", "999"), "There is no run 999", "pcosync runs"),
        (("people", "unlink", "--rock", "1"), "Rock person 1 is not linked", "people links"),
        (("people", "unlink"), "--rock ROCK_ID or --pco PCO_ID", "people links"),
        (("parked", "retry", "999"), "There is no parked record 999", "pcosync parked"),
        (("approve", "1"), "only a held run is approved", ""),
        (("teams", "link", "5", "44000001"), "Rock has no group with Id 5", "GroupId="),
        (("teams", "unlink", "5"), "Rock group 5 is not linked", "teams links"),
        (("teams", "permission", "5", "Viewer"), "Rock group 5 is not linked", "teams links"),
    ]
    for args, what, fix in cases:
        result = cli(church, *args)
        said = flat(result.output)
        assert result.exit_code == 2, (args, result.output)
        assert what in said and fix in said, (args, said)
        assert "Traceback" not in said


def _in_a_terminal(church: Church, answer: bytes | None, *args: str) -> tuple[int, str]:
    """Run ``pcosync sync`` with a terminal (a pty), answering its question if it asks."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pcosync.cli.main", "--config", str(church.config), "sync", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "COLUMNS": "200", "TERM": "xterm"},
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    answered = False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        if answer is not None and not answered and b"Write these changes" in seen:
            os.write(master, answer)
            answered = True
        if proc.poll() is not None and not ready:
            break
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def test_a_first_sync_in_a_terminal_shows_its_plan_and_asks(church: Church) -> None:
    init_rock(church)  # `pcosync init` made the link attribute: now nothing needs writing
    before = church.writes()
    code, out = _in_a_terminal(church, b"n\n")
    said = flat(out)
    assert "This is the first sync of this connection" in said, said
    assert "people would be linked" in said and "Planning Center:" in said
    assert "Write these changes to Rock and Planning Center now?" in said
    assert code == 0 and "Nothing was written" in said
    assert church.writes() == before and _linked(church) == []
    store = church.store()
    try:
        first = store.runs.list(1)[0]
    finally:
        store.close()
    assert first.status is RunStatus.REJECTED

    code, out = _in_a_terminal(church, b"y\n")
    assert "This is the first sync of this connection" in flat(out)
    assert code in (0, 3), out
    linked = _linked(church)
    assert linked
    store = church.store()
    try:
        approved = store.runs.list(1)[0]
    finally:
        store.close()
    assert approved.status in (RunStatus.DONE, RunStatus.PARTIAL)
    assert approved.reviewed_by  # approved by the person at the terminal: one run, one plan

    # not the first any more: the next sync in a terminal just runs
    code, out = _in_a_terminal(church, None)
    assert code == 0 and "first sync" not in out


def test_yes_skips_the_question(church: Church) -> None:
    code, out = _in_a_terminal(church, None, "--yes")
    assert code in (0, 3) and "Write these changes" not in out
    assert _linked(church)


def test_without_a_terminal_a_first_sync_runs_as_before(church: Church) -> None:
    """Cron and scripts have no terminal: nobody to ask, so the first sync writes, within
    the [safety] limits (CliRunner gives no terminal)."""
    result = cli(church, "sync")
    assert result.exit_code in (0, 3), result.output
    assert "Write these changes" not in result.output
    assert _linked(church)
