"""Name-only matches (issue 12 §6): someone Planning Center and Rock both know only by the same
name is a match issue ("possible duplicate"), not a second record; `pcosync people issues
create` settles it the other way."""

from __future__ import annotations

from typing import Any

from pcosync.engine.match import IssueKind
from pcosync.store import IssueStatus
from tests.robustness.conftest import Church, cli, configure
from tests.safety.conftest import pco_person


def _twin_by_name(church: Church) -> tuple[str, int, dict[str, Any]]:
    """A serving Planning Center person the first sync would create in Rock, and a Rock
    person nobody syncs, renamed to the same name with nothing else to compare."""
    dry = church.sync(dry_run=True)
    store = church.store()
    try:
        ops = [j.operation for j in store.journal.list(dry.run_id)]
    finally:
        store.close()
    creates = [op.ref.pco_id for op in ops if op.kind.value == "create" and op.side.value == "rock"]
    busy = {op.ref.rock_id for op in ops}
    info = church.rock_control("info")
    rock_ids = [r["Id"] for r in church.rock_get("/api/People", **{"$select": "Id"})]
    spare = next(rid for rid in sorted(rock_ids, reverse=True) if rid not in busy and rid > 10)
    pid = creates[0]
    person = pco_person(church, pid)
    church.rock_control(
        f"people/{spare}",
        {
            "FirstName": person["first_name"],
            "NickName": person["first_name"],
            "LastName": person["last_name"],
            "Email": "",
            "BirthDay": None,
            "BirthMonth": None,
            "BirthYear": None,
            "PhoneNumbers": {"Mobile": None},
            "RecordTypeValueId": info["ids"]["dv:record_type:person"],
        },
    )
    return pid, spare, person


def test_a_name_only_twin_is_a_match_issue_until_the_admin_says_create(church: Church) -> None:
    pid, rock_id, person = _twin_by_name(church)
    first = cli(church, "sync")
    assert first.exit_code in (0, 3), first.output
    assert pco_person(church, pid)["remote_id"] is None  # not created in Rock
    store = church.store()
    try:
        (issue,) = [i for i in store.issues.list() if pid in i.pco_ids]
    finally:
        store.close()
    assert issue.kind is IssueKind.POSSIBLE_DUPLICATE
    assert issue.pco_ids == (pid,) and issue.rock_ids == (rock_id,)
    listed = " ".join(cli(church, "people", "issues").output.split())
    assert f"#{issue.id}" in listed and "Possible duplicate" in listed
    assert f"{person['first_name']} {person['last_name']}" in listed
    assert f"pcosync people link {rock_id} {pid}" in listed

    # the same situation next run: still an issue, still nobody created
    assert cli(church, "sync", "--full").exit_code in (0, 3)
    assert pco_person(church, pid)["remote_id"] is None

    done = cli(church, "people", "issues", "create", str(issue.id))
    assert done.exit_code == 0, done.output
    assert f"Match issue #{issue.id} settled" in " ".join(done.output.split())
    assert cli(church, "people", "issues", "create", str(issue.id)).exit_code == 2
    assert cli(church, "sync").exit_code in (0, 3)
    created = pco_person(church, pid)["remote_id"]
    assert created is not None and created != rock_id
    store = church.store()
    try:
        resolved = store.issues.get(issue.id)
        assert resolved is not None and resolved.status is IssueStatus.RESOLVED
        assert not [i for i in store.issues.list() if pid in i.pco_ids]
    finally:
        store.close()


def test_possible_duplicates_can_be_created_as_before(church: Church) -> None:
    pid, rock_id, _person = _twin_by_name(church)
    configure(church, sync={"possible_duplicates": "create"})
    assert cli(church, "sync").exit_code in (0, 3)
    created = pco_person(church, pid)["remote_id"]
    assert created is not None and created != rock_id
