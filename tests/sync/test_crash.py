"""A sync process killed with SIGKILL mid-apply, then restarted, converges without duplicates."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pcosync.app.context import open_connection
from pcosync.app.review import ApproveResult, approve
from pcosync.config import load_settings
from pcosync.domain.fields import FieldName
from pcosync.domain.identity import PersonRef, Side
from pcosync.engine.merge import Reason
from pcosync.engine.plan import Operation, OpKind
from pcosync.store import OpStatus, RunMode, RunStatus
from pcosync.store.runs import Run
from tests.sync.conftest import Church
from tests.sync.test_people_sync import _link_values, _links, _pco_person, _rock_person

# timing matters here (edits landing mid-run, a second process, a kill): run alone
pytestmark = pytest.mark.serial


def _applied(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("select count(*) from operations where status = 'applied'")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


@pytest.mark.slow
def test_sigkill_mid_apply_then_restart_converges(church: Church) -> None:
    # slow both APIs down so the kill lands in the middle of the apply phase
    for control in (church.pco_control, church.rock_control):
        control("faults", {"faults": [{"kind": "latency", "ms": 40}]})
    db = Path(load_settings(church.config).state_url().removeprefix("sqlite:///"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pcosync.cli.main", "--config", str(church.config), "sync"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    deadline = time.monotonic() + 120
    while _applied(db) < 15:
        assert proc.poll() is None, "the sync finished before it could be killed"
        assert time.monotonic() < deadline, "the sync never started applying"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    killed_at = _applied(db)

    for control in (church.pco_control, church.rock_control):
        control("faults", method="DELETE")
    restarted = church.sync()
    settled = church.sync()
    before = church.writes()
    quiet = church.sync(full=True)

    assert killed_at >= 15
    assert restarted.status.value in ("done", "partial")
    assert settled.planned == 0 and quiet.planned == 0
    assert church.writes() == before  # converged: nothing left to write
    values = _link_values(church)
    assert values and max(values.values()) == 1  # no Rock person linked twice
    created = church.rock_get(
        "/api/People",
        **{"$filter": "startswith(ForeignKey,'pcosync:pco:')", "$select": "Id,ForeignKey"},
    )
    assert max(Counter(r["ForeignKey"] for r in created).values(), default=1) == 1
    store = church.store()
    try:
        links = store.links.all()
        assert len({lk.rock_person_id for lk in links}) == len(links)
        assert len({lk.pco_person_id for lk in links}) == len(links)
        assert not store.journal.in_doubt()
    finally:
        store.close()


def test_an_interrupted_write_to_a_person_gone_since_does_not_fail_later_runs(
    church: Church,
) -> None:
    church.sync()
    gone = "999999999"  # e.g. merged away in Planning Center after the process was killed
    store = church.store()
    try:
        killed = store.runs.start(RunMode.INCREMENTAL)
        op = Operation(1, OpKind.ARCHIVE, Side.PCO, PersonRef(None, None, gone), Reason.EDIT)
        store.journal.record(killed.id, [op])
        store.journal.mark_sent(killed.id, 1)  # the process died waiting for the answer
    finally:
        store.close()

    summary = church.sync()
    assert summary.status is RunStatus.DONE
    assert any(gone in n and "inactive" in n for n in summary.notes)
    store = church.store()
    try:
        settled = store.journal.get(killed.id, 1)
        carried = [j for j in store.journal.list(summary.run_id) if j.operation.kind is op.kind]
        assert not store.journal.in_doubt()
        killed_run = store.runs.get(killed.id)
    finally:
        store.close()
    # the dead run's write was carried over to the next run, which found the person gone
    assert settled.status is OpStatus.SKIPPED and "carried over" in (settled.error or "")
    assert [j.status for j in carried] == [OpStatus.SKIPPED]
    assert gone in (carried[0].error or "")
    assert killed_run is not None and killed_run.status is RunStatus.INTERRUPTED


def test_an_interrupted_write_that_landed_then_was_undone_by_hand_is_not_written_again(
    church: Church,
) -> None:
    """Simulation seed 622: a run copied a Rock edit to Planning Center and died before the
    answer; the write had landed, and later a person put the old value back by hand. The
    settled run may not tell "never landed" from "landed, then undone": it must not write
    the Rock value over that person's edit without a recorded conflict."""
    church.sync()
    link = _links(church)[2]
    old = _pco_person(church, link.pco_person_id)["middle_name"]
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Rose"})
    killed = _died_sending(church, link, {FieldName.MIDDLE_NAME: (old, "Rose")})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Rose"})  # it landed
    church.pco_control("clock", {"advance_seconds": 120})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": old})  # undone by hand

    summary = church.sync()

    assert summary.status is RunStatus.DONE
    pco = _pco_person(church, link.pco_person_id)["middle_name"]
    rock = _rock_person(church, link.rock_person_id)["MiddleName"]
    store = church.store()
    try:
        conflicts = store.journal.conflicts(summary.run_id)
        settled = store.journal.get(killed.id, 1)
    finally:
        store.close()
    assert settled.status is OpStatus.SKIPPED
    last = _pco_person(church, link.pco_person_id)["last_name"]
    told = [n for n in summary.notes if f"interrupted in run {killed.id}" in n]
    assert len(told) == 1 and "(Middle name)" in told[0] and last in told[0]
    # the later edit (the one made by hand in Planning Center) wins, on both sides, and the
    # value it overruled is kept as a conflict's loser
    assert (pco or None, rock or None) == (old or None, old or None)
    lost = [c for c in conflicts if c.field is FieldName.MIDDLE_NAME]
    assert [(c.winner, c.loser_value) for c in lost] == [(Side.PCO, "Rose")]


def test_an_interrupted_write_that_landed_is_recorded_as_made(church: Church) -> None:
    """Review of this stop: an update whose answer never came but which had landed was
    recorded as skipped, so `runs show` under-reported the dead run and reverting it left
    that write in place."""
    church.sync()
    link = _links(church)[4]
    old = _pco_person(church, link.pco_person_id)["middle_name"]
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Landed"})
    killed = _died_sending(church, link, {FieldName.MIDDLE_NAME: (old, "Landed")})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Landed"})  # it landed

    summary = church.sync()

    store = church.store()
    try:
        settled = store.journal.get(killed.id, 1)
        dead = store.runs.get(killed.id)
    finally:
        store.close()
    assert settled.status is OpStatus.APPLIED
    assert dead is not None and dead.status is RunStatus.INTERRUPTED
    assert dead.counts.get("applied_operations") == 1
    assert summary.conflicts == 0
    assert _pco_person(church, link.pco_person_id)["middle_name"] == "Landed"


def test_a_held_run_that_settled_a_dead_runs_write_is_approved_whole(church: Church) -> None:
    """Review of this stop: a run that settled a dead run's write (storing that person's
    base) and was then held took its own settling, on approval, for a later sync of that
    person, and left their update out as "synced again after the run was held"."""
    church.sync()
    link = _links(church)[5]
    old = _pco_person(church, link.pco_person_id)["middle_name"]
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Rose"})
    _died_sending(church, link, {FieldName.MIDDLE_NAME: (old, "Rose")})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Rose"})  # it landed
    church.pco_control("clock", {"advance_seconds": 120})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": old})  # undone by hand

    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD and held.planned >= 1
    result = asyncio.run(_approve(church, held.run_id))

    assert not [s for s in result.stale if "synced again" in s.message]
    assert (_rock_person(church, link.rock_person_id)["MiddleName"] or None) == (old or None)


async def _approve(church: Church, run_id: int) -> ApproveResult:
    async with open_connection(load_settings(church.config)) as conn:
        return await approve(conn.people, run_id, wait=True)


def test_an_interrupted_write_cut_short_by_the_kill_is_finished_not_a_conflict(
    church: Church,
) -> None:
    """Review of this stop: a run copying a Rock edit of two fields was killed after its
    first request landed; our own write had bumped the record's modified time, and the
    field never sent was taken for a possible undo by hand, then decided as a conflict
    that our own bump won, writing the old value back over the person's Rock edit."""
    church.sync()
    link = _links(church)[6]
    pco_before = _pco_person(church, link.pco_person_id)
    old_email = _pco_emails(church, link.pco_person_id)
    church.rock_control(
        f"people/{link.rock_person_id}", {"MiddleName": "Rose", "Email": "rose@example.org"}
    )
    _died_sending(
        church,
        link,
        {
            FieldName.MIDDLE_NAME: (pco_before["middle_name"], "Rose"),
            FieldName.EMAIL: (old_email[0] if old_email else None, "rose@example.org"),
        },
    )
    church.pco_control("clock", {"advance_seconds": 120})
    # the person PATCH landed; the process died before the email request
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Rose"})

    summary = church.sync()

    assert church.rock_get(f"/api/People/{link.rock_person_id}")["Email"] == "rose@example.org"
    assert "rose@example.org" in _pco_emails(church, link.pco_person_id)
    store = church.store()
    try:
        conflicts = store.journal.conflicts(summary.run_id)
    finally:
        store.close()
    assert [c for c in conflicts if c.ref.link_id == link.id] == []


def _pco_emails(church: Church, pid: str) -> list[str]:
    data = church.pco_get(f"/people/v2/people/{pid}/emails")["data"]
    return [e["attributes"]["address"] for e in data]


def _died_sending(church: Church, link: Any, changes: dict[FieldName, Any]) -> Run:
    """A run that sent an update of ``link``'s Planning Center record and died waiting
    for the answer (its journal entry left *sent*)."""
    store = church.store()
    try:
        killed = store.runs.start(RunMode.INCREMENTAL)
        ref = PersonRef(link.id, link.rock_person_id, link.pco_person_id)
        op = Operation(1, OpKind.UPDATE, Side.PCO, ref, Reason.EDIT, changes=changes)
        store.journal.record(killed.id, [op])
        store.journal.mark_sent(killed.id, 1)
        return killed
    finally:
        store.close()
