"""The write guard (the in-flight re-read measured when a write is sent): review findings.

Each test drives a real run against both emulators; what it asserts is what
docs/guarantees.md ("An edit made while a run works") promises.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest

from pcosync.config import write_settings
from pcosync.domain.fields import FieldName
from pcosync.store import LinkStatus, OpStatus, RunStatus
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
