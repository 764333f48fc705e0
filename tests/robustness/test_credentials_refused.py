"""Credentials or permissions refused while a run writes (issue 12 §3): the run stops with
exit 1, says which credential and to run `pcosync check`, the notice says the same, nothing is
parked for it, and the journal says exactly what was written, refused and never sent."""

from __future__ import annotations

from collections import Counter

from pcosync.store import OpStatus, RunStatus
from tests.robustness.conftest import Church, cli, configure, links
from tests.safety.conftest import pco_person, rock_person
from tests.safety.test_notifications import Receivers, receivers

__all__ = ["receivers"]


def _statuses(church: Church, run_id: int) -> Counter[OpStatus]:
    store = church.store()
    try:
        assert store.journal.in_doubt() == []  # nothing left "sent" without an answer
        assert store.parked.list() == []
        return Counter(j.status for j in store.journal.list(run_id))
    finally:
        store.close()


def test_the_rock_key_disabled_while_writing_stops_the_run(
    church: Church, receivers: Receivers
) -> None:
    church.sync()
    edited = links(church)[:8]
    for i, link in enumerate(edited):
        church.pco_control(f"people/{link.pco_person_id}", {"last_name": f"Renamed{i}"})
    configure(church, notifications=receivers.section())
    # the key works for reading and for the first two writes, then Rock refuses it
    revoke = {"kind": "error", "status": 401, "method": "PATCH", "path": "/api/People"}
    church.rock_control("faults", {"faults": [{**revoke, "after": 2}]})

    result = cli(church, "sync")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Rock refused pcosync's REST key" in said and "pcosync check" in said
    assert "nothing was parked" in said and "Parked:" not in said
    run_id = church.store().runs.list(1)[0].id
    statuses = _statuses(church, run_id)
    assert statuses[OpStatus.APPLIED] == 2
    assert statuses[OpStatus.FAILED] >= 1  # the refused write(s) that were in flight
    assert statuses[OpStatus.SKIPPED] == 8 - 2 - statuses[OpStatus.FAILED]
    assert set(statuses) <= {OpStatus.APPLIED, OpStatus.FAILED, OpStatus.SKIPPED}
    store = church.store()
    run = store.runs.get(run_id)
    store.close()
    assert run is not None and run.status is RunStatus.FAILED
    assert run.counts["parked"] == 0

    # the notice says the same: which credential, and what to run
    assert len(receivers.inbox.messages) == 1 and len(receivers.hooks) == 1
    assert receivers.hooks[0]["command"] == "pcosync check"
    for text in receivers.texts():
        text = " ".join(text.split())
        assert "Rock refused pcosync's REST key" in text and "pcosync check" in text
        assert "Renamed" not in text

    # once the key works again, the next run writes the rest: nothing was lost
    church.rock_control("faults", method="DELETE")
    after = church.sync()
    assert after.status is RunStatus.DONE, after.as_dict()
    names = {rock_person(church, link.rock_person_id)["LastName"] for link in edited}
    assert names == {f"Renamed{i}" for i in range(8)}


def test_a_planning_center_permission_taken_away_stops_the_run(church: Church) -> None:
    church.sync()
    for i, link in enumerate(links(church)[:3]):
        church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": f"Middle{i}"})
    # an admin lowers the token's user to People Viewer: reads still work, writes are 403
    church.pco_control("permissions", {"people": "Viewer", "site_administrator": False})
    result = cli(church, "sync")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Planning Center refused a write: the user of pcosync's app id" in said
    assert "pcosync check" in said and "Parked:" not in said
    run_id = church.store().runs.list(1)[0].id
    assert _statuses(church, run_id)[OpStatus.APPLIED] == 0
    church.pco_control("permissions", method="DELETE")
    assert church.sync().status is RunStatus.DONE
    assert pco_person(church, links(church)[0].pco_person_id)["middle_name"] == "Middle0"


def test_a_planning_center_secret_refused_at_the_first_read(church: Church) -> None:
    configure(church, pco={"url": church.pco_url, "app_id": church.app_id, "secret": "not-it-x9"})
    result = cli(church, "sync")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Planning Center refused pcosync's app id and secret" in said
    assert "pcosync check" in said and "not-it-x9" not in said


def test_a_revert_refused_midway_stops_without_counting_anything_as_not_undone(
    church: Church,
) -> None:
    church.sync()
    for i, link in enumerate(links(church)[:4]):
        church.pco_control(f"people/{link.pco_person_id}", {"nickname": f"Nick{i}"})
    applied = church.sync()
    assert applied.updated["rock"] == 4
    revoke = {"kind": "error", "status": 401, "method": "PATCH", "path": "/api/People"}
    church.rock_control("faults", {"faults": [{**revoke, "after": 1}]})
    result = cli(church, "revert", str(applied.run_id), "--yes")
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "Rock refused pcosync's REST key" in said and "pcosync check" in said
    store = church.store()
    try:
        revert_run = store.runs.list(1)[0]
        assert revert_run.reverts_run_id == applied.run_id
        statuses = Counter(j.status for j in store.journal.list(revert_run.id))
        assert revert_run.counts["parked"] == 0 and store.parked.list() == []
    finally:
        store.close()
    # writes run side by side: the ones already sent when the key was refused are refused
    # too (failed); none is left in doubt, none parked
    assert statuses[OpStatus.APPLIED] == 1 and statuses[OpStatus.FAILED] >= 1
    assert statuses[OpStatus.FAILED] + statuses[OpStatus.SKIPPED] == 3
