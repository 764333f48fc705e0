"""The write guard (the in-flight re-read measured when a write is sent): review findings.

Each test drives a real run against both emulators; what it asserts is what
docs/guarantees.md ("An edit made while a run works") promises.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from pcosync.store import LinkStatus, RunStatus
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
