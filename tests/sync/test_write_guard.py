"""The write guard (the in-flight re-read measured when a write is sent): review findings.

Each test drives a real run against both emulators; what it asserts is what
docs/guarantees.md ("An edit made while a run works") promises.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest

from pcosync.app.applier import Applier, OnFresh
from pcosync.app.context import open_connection
from pcosync.app.review import revalidating_inflight
from pcosync.app.summary import RunSummary
from pcosync.config import load_settings, write_settings
from pcosync.domain.fields import FieldName
from pcosync.domain.identity import PcoPersonId, PersonRef, RockPersonId, Side
from pcosync.engine.merge import Reason
from pcosync.engine.plan import Operation, OpKind
from pcosync.store import LinkStatus, OpStatus, RunMode, RunStatus
from tests.sync.conftest import Church

# timing matters here (edits landing mid-run): run alone
pytestmark = pytest.mark.serial


def _requests_since(church: Church, started: datetime) -> list[dict[str, Any]]:
    log = church.pco_control("requests?limit=2000")["requests"]
    return [r for r in log if datetime.fromisoformat(r["at"]) > started]


def test_an_edit_made_while_a_rate_limited_write_waits_to_be_retried_is_not_overwritten(
    church: Church,
) -> None:
    """A 429 means the write was not applied: while it waits its Retry-After, an edit to the
    same field must be merged (the later edit wins), as for a write waiting its first turn.
    The guard committed the operation when its first (refused) try went out, so the retry
    was sent unchecked and overwrote the edit, with no conflict recorded."""
    church.sync()
    store = church.store()
    link = store.links.all(LinkStatus.ACTIVE)[0]
    store.close()
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Rockearlier"})
    path = f"/people/v2/people/{link.pco_person_id}"
    church.pco_control(
        "faults",
        {
            "faults": [
                {
                    "kind": "rate_limit",
                    "method": "PATCH",
                    "path": path,
                    "count": 1,
                    "retry_after": 4,
                }
            ]
        },
    )
    started = datetime.now(UTC)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(summary=church.sync()))
    worker.start()
    deadline = time.monotonic() + 60
    while not any(
        r["method"] == "PATCH" and r["path"] == path and r["status"] == 429
        for r in _requests_since(church, started)
    ):
        assert worker.is_alive(), "the run ended before its write was refused"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(1.2)  # (a whole second after the run's last look: timestamps are whole seconds)
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Pcolater"})
    edited = datetime.now(UTC)
    worker.join(timeout=120)
    summary = result["summary"]
    assert summary.status is RunStatus.DONE, summary.as_dict()
    retried = [
        datetime.fromisoformat(r["at"])
        for r in _requests_since(church, edited)
        if r["method"] == "PATCH" and r["path"] == path and r["status"] != 429
    ]
    # outside the documented window: the edit came seconds before the write was sent
    assert not retried or (min(retried) - edited).total_seconds() > 2, retried
    pco = church.pco_get(path)["data"]["attributes"]
    assert pco["middle_name"] == "Pcolater", "the edit made while the write waited was lost"
    assert summary.replanned == 1, summary.as_dict()


def test_a_recheck_interval_shorter_than_a_read_does_not_multiply_the_re_reads(
    church: Church, caplog: pytest.LogCaptureFixture
) -> None:
    """Rock has no rate limit: a guarded write never waits for its turn, so a look that is
    stale by the time the write goes was stale because the read itself took longer than
    ``recheck_seconds``; looking again cannot make it fresher. Each Rock write looked
    ``_OpGuard.MAX_LOOKS`` (8) times: 9 Rock re-reads per write (54 for 6; before the guard,
    at most one per write)."""
    church.sync()
    data = tomllib.loads(church.config.read_text())
    data.setdefault("sync", {})["recheck_seconds"] = 0.01
    write_settings(church.config, data)
    store = church.store()
    linked = store.links.all(LinkStatus.ACTIVE)[:6]
    store.close()
    for i, link in enumerate(linked):  # Planning Center → Rock, one PATCH each
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": f"Pcopre{i}"})
    caplog.set_level(logging.INFO, logger="pcosync.sync")
    summary = church.sync()
    assert summary.status is RunStatus.DONE, summary.as_dict()
    assert summary.updated["rock"] == len(linked)
    reads = [r for r in caplog.records if r.getMessage().startswith("sync.recheck side=rock")]
    # at most two per write: before the operation, and the guard's look just before sending
    # (with an interval this short every look is stale by then); not MAX_LOOKS more
    assert len(reads) <= 2 * len(linked), f"{len(reads)} Rock re-reads for {len(linked)} writes"


def test_an_approval_narrows_a_write_refused_with_a_429_when_its_field_is_edited_meanwhile(
    church: Church,
) -> None:
    """An approval writes what was reviewed, or nothing: a field edited while the write waits
    out a 429 keeps the newer value (reported stale); the other field still goes, once, and
    the journal holds the narrowed operation as applied."""
    from tests.safety.conftest import approve

    church.sync()
    store = church.store()
    link = store.links.all(LinkStatus.ACTIVE)[0]
    store.close()
    church.rock_control(
        f"people/{link.rock_person_id}", {"LastName": "Heldlast", "NickName": "Heldnick"}
    )
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD
    path = f"/people/v2/people/{link.pco_person_id}"
    church.pco_control(
        "faults",
        {
            "faults": [
                {
                    "kind": "rate_limit",
                    "method": "PATCH",
                    "path": path,
                    "count": 1,
                    "retry_after": 4,
                }
            ]
        },
    )
    started = datetime.now(UTC)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(out=approve(church, held.run_id)))
    worker.start()
    deadline = time.monotonic() + 60
    while not any(
        r["method"] == "PATCH" and r["path"] == path and r["status"] == 429
        for r in _requests_since(church, started)
    ):
        assert worker.is_alive(), "the approval ended before its write was refused"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(1.2)
    church.pco_control(f"people/{link.pco_person_id}", {"last_name": "Pcolater"})
    worker.join(timeout=120)
    out = result["out"]
    assert out.summary.status is RunStatus.DONE, out.summary.as_dict()
    pco = church.pco_get(path)["data"]["attributes"]
    assert pco["last_name"] == "Pcolater", "the edit made while the write waited was lost"
    assert pco["nickname"] == "Heldnick"
    assert [s.field.value for s in out.stale if s.field is not None] == ["last_name"]
    store = church.store()
    ops = [
        j for j in store.journal.list(held.run_id) if j.operation.ref.pco_id == link.pco_person_id
    ]
    store.close()
    update = next(j for j in ops if j.operation.kind.value == "update")
    assert update.status is OpStatus.APPLIED
    assert set(update.operation.changes) == {FieldName.NICKNAME}
    patches = [
        r for r in _requests_since(church, started) if r["method"] == "PATCH" and r["path"] == path
    ]
    assert [r["status"] for r in patches] == [429, 200]


def test_a_delete_waiting_on_an_operation_of_another_chain_can_be_left_out_meanwhile(
    church: Church,
) -> None:
    """A revert's delete waits for operations of other chains (its person's membership
    removals carry a different reference: no Rock id yet when they were made). It now stays
    at the head of its queue while it waits, so a re-read made meanwhile by another chain can
    leave it out (the record was edited): the chain then went on into the delete it no longer
    had, journaled as skipped, and the run stopped with a journal error."""
    church.sync()
    store = church.store()
    linked = store.links.all(LinkStatus.ACTIVE)[:3]
    store.close()
    slow, doomed, other = (
        PersonRef(lk.id, RockPersonId(lk.rock_person_id), PcoPersonId(lk.pco_person_id))
        for lk in linked
    )
    church.pco_control(
        "faults",
        {
            "faults": [
                {"kind": "latency", "ms": 5000, "path": f"/people/v2/people/{slow.pco_id}"},
                {"kind": "latency", "ms": 2500, "path": f"/people/v2/people/{other.pco_id}"},
            ]
        },
    )

    async def go() -> tuple[Applier, int]:
        async with open_connection(load_settings(church.config)) as conn:
            sync = conn.people
            await sync.rock.prepare()
            seen = await sync.rock.fetch_one(doomed.rock_id)
            assert seen is not None
            planned_at = sync.clock()
            run = sync.store.runs.start(RunMode.REVERT)
            operations = [
                # another chain, slow: the delete waits for it
                Operation(
                    1,
                    OpKind.UPDATE,
                    Side.PCO,
                    slow,
                    Reason.REVERT,
                    changes={FieldName.MIDDLE_NAME: (None, "Slowly")},
                ),
                Operation(
                    2,
                    OpKind.DELETE,
                    Side.ROCK,
                    doomed,
                    Reason.REVERT,
                    before=seen.person,
                    depends_on=(1,),
                ),
                Operation(3, OpKind.UNLINK, Side.PCO, doomed, Reason.REVERT, depends_on=(2,)),
                # a third chain writes to Rock after the edit below: its re-read sees it
                Operation(
                    4,
                    OpKind.UPDATE,
                    Side.PCO,
                    other,
                    Reason.REVERT,
                    changes={FieldName.MIDDLE_NAME: (None, "First")},
                ),
                Operation(
                    5,
                    OpKind.UPDATE,
                    Side.ROCK,
                    other,
                    Reason.REVERT,
                    changes={FieldName.MIDDLE_NAME: (None, "Then")},
                ),
            ]
            sync.store.journal.record(run.id, operations)
            applier = Applier(
                sync,
                run.id,
                RunSummary(run.id, RunStatus.RUNNING, RunMode.REVERT, False),
                inflight=revalidating_inflight(sync, planned_at),
                on_fresh=OnFresh.REVALIDATE,
                planned_when="the revert was planned",
            )

            async def edit() -> None:  # someone edits the record while the delete waits
                await asyncio.sleep(1.2)
                await asyncio.to_thread(
                    church.rock_control, f"people/{doomed.rock_id}", {"MiddleName": "Touched"}
                )

            await asyncio.gather(applier.run(operations), edit())
            return applier, run.id

    applier, run_id = asyncio.run(go())
    store = church.store()
    statuses = {j.seq: j.status for j in store.journal.list(run_id)}
    store.close()
    assert statuses[2] is OpStatus.SKIPPED and statuses[3] is OpStatus.SKIPPED, statuses
    assert statuses[1] is OpStatus.APPLIED and statuses[5] is OpStatus.APPLIED, statuses
    assert [s.seq for s in applier.stale] == [2]
    assert church.rock_get(f"/api/People/{doomed.rock_id}")["MiddleName"] == "Touched"


def test_a_write_whose_answer_was_lost_is_resent_never_re_planned(church: Church) -> None:
    """The first try landed but its answer was lost: the operation is committed (it may have
    been applied), so its retry goes out even though the re-read before it finds the record
    changed (by that very try, and by a person editing another field meanwhile)."""
    church.sync()
    store = church.store()
    link = store.links.all(LinkStatus.ACTIVE)[0]
    store.close()
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Rockearlier"})
    path = f"/people/v2/people/{link.pco_person_id}"
    church.pco_control(
        "faults",
        {
            "faults": [
                {"kind": "latency", "ms": 1800, "method": "PATCH", "path": path},
                {"kind": "drop", "method": "PATCH", "path": path, "count": 1, "after_apply": True},
            ]
        },
    )
    started = datetime.now(UTC)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(summary=church.sync()))
    worker.start()
    time.sleep(1.0)
    church.pco_control(f"people/{link.pco_person_id}", {"nickname": "Pcoother"})
    worker.join(timeout=120)
    summary = result["summary"]
    assert summary.status is RunStatus.DONE, summary.as_dict()
    patches = [
        r for r in _requests_since(church, started) if r["method"] == "PATCH" and r["path"] == path
    ]
    assert len(patches) == 2, patches  # the lost one, and its retry
    pco = church.pco_get(path)["data"]["attributes"]
    assert pco["middle_name"] == "Rockearlier" and pco["nickname"] == "Pcoother"
    store = church.store()
    updates = [
        j
        for j in store.journal.list(summary.run_id)
        if j.operation.kind is OpKind.UPDATE and j.operation.side is Side.PCO
    ]
    store.close()
    assert [j.status for j in updates] == [OpStatus.APPLIED]
