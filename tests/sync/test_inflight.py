"""Issue #10 §2: an edit a person makes while a run works is merged, never overwritten.

The issue's scenario: 40 linked people, 400 ms latency on every write, and same-field
edits landing on the target records while the run writes. Before: 20 of 20 Rock edits and
30 of 30 Planning Center edits were lost, with no conflict recorded. Now every edit made at
least 2 s before the run's write to its record survives (the later edit wins and the
earlier one is recorded as the conflict's loser); the emulators' request logs say when
each write landed.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pcosync.app.people_sync import RunSummary
from pcosync.config import write_settings
from pcosync.store import LinkStatus, RunStatus
from tests.sync.conftest import Church, _campus_map

# timing matters here (edits landing mid-run, a second process, a kill): run alone
pytestmark = pytest.mark.serial

LATENCY_MS = 400
WINDOW = timedelta(seconds=2)  # docs/guarantees.md: edits older than this before the write


def _writes_faulted(church: Church) -> None:
    for control in (church.pco_control, church.rock_control):
        control(
            "faults",
            {
                "faults": [
                    {"kind": "latency", "ms": LATENCY_MS, "method": m}
                    for m in ("POST", "PATCH", "PUT", "DELETE")
                ]
            },
        )


def _write_count(church: Church) -> int:
    total = 0
    for control in (church.pco_control, church.rock_control):
        by_method = control("stats")["by_method"]
        total += sum(by_method.get(m, 0) for m in ("POST", "PATCH", "PUT", "DELETE"))
    return total


def _writes_to(church: Church, side: str, record: str) -> list[datetime]:
    control = church.pco_control if side == "pco" else church.rock_control
    path = f"/people/v2/people/{record}" if side == "pco" else f"/api/People/{record}"
    log = control("requests?limit=2000")["requests"]
    return [
        datetime.fromisoformat(r["at"])
        for r in log
        if r["method"] in ("PATCH", "PUT") and r["path"] == path
    ]


def _write_people_eight_at_a_time(church: Church) -> None:
    """The scenario needs a run that is still writing while people edit: 8 people side by
    side (``[rock] max_in_flight = 4``), as when this test was written; the default writes
    32 at once and would be done before most edits land."""
    write_settings(
        church.config,
        {
            "rock": {"url": church.rock_url, "api_key": church.api_key, "max_in_flight": 4},
            "pco": {"url": church.pco_url, "app_id": church.app_id, "secret": church.secret},
            "state": {"url": "sqlite:///state.db"},
            "campus_map": _campus_map(church),
        },
    )


@pytest.mark.slow
def test_edits_made_while_the_run_writes_are_merged_not_overwritten(church: Church) -> None:
    _write_people_eight_at_a_time(church)
    church.sync()
    store = church.store()
    linked = store.links.all(LinkStatus.ACTIVE)[:40]
    store.close()
    assert len(linked) == 40
    rock_first, pco_first = linked[:20], linked[20:]
    # before the run: edits the run will copy across (Rock → PCO for the first 20, PCO →
    # Rock for the others)
    for i, link in enumerate(rock_first):
        church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": f"Rockpre{i}"})
    for i, link in enumerate(pco_first):
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": f"Pcopre{i}"})
    _writes_faulted(church)
    church.pco_control("requests?limit=1")  # (the log is kept; only newer entries matter)
    baseline = _write_count(church)
    result: dict[str, Any] = {}

    def work() -> None:
        result["summary"] = church.sync()

    worker = threading.Thread(target=work)
    worker.start()
    deadline = time.monotonic() + 60
    while _write_count(church) == baseline:  # the run has started writing
        assert worker.is_alive(), "the run ended before writing"
        assert time.monotonic() < deadline
        time.sleep(0.01)

    # now people edit the very records the run is about to write, the same field (many
    # people at once: each edit is stamped when its answer came back)
    def edit(job: tuple[str, int, Any]) -> tuple[str, str, str, datetime, datetime, Any]:
        side, i, link = job
        sent = datetime.now(UTC)
        if side == "pco":
            value = f"Pcolate{i}"
            church.pco_control(f"people/{link.pco_person_id}", {"middle_name": value})
            return ("pco", link.pco_person_id, value, sent, datetime.now(UTC), link)
        value = f"Rocklate{i}"
        church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": value})
        return ("rock", str(link.rock_person_id), value, sent, datetime.now(UTC), link)

    jobs = [("pco", i, lk) for i, lk in enumerate(rock_first)]
    jobs += [("rock", i, lk) for i, lk in enumerate(pco_first)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        edits = list(pool.map(edit, jobs))
    worker.join(timeout=300)
    summary: RunSummary = result["summary"]
    assert summary.status is RunStatus.DONE, summary.as_dict()
    for control in (church.pco_control, church.rock_control):
        control("faults", method="DELETE")
    church.sync()  # settles what the late edits started (they are newer than the run)

    covered = lost = exempt = 0
    for side, record, value, sent, when, link in edits:
        # the edit landed somewhere between ``sent`` and ``when``; a write whose answer came
        # back after ``sent`` may have been applied after it (the log stamps a request when
        # its answer is sent: a write waiting out its latency overlaps the edit)
        writes = [w for w in _writes_to(church, side, record) if w > sent]
        first_write = min(writes) if writes else None
        rock = church.rock_get(f"/api/People/{link.rock_person_id}")["MiddleName"]
        pco = church.pco_get(f"/people/v2/people/{link.pco_person_id}")["data"]["attributes"][
            "middle_name"
        ]
        survived = rock == value and pco == value
        if first_write is not None and first_write - when < WINDOW:
            exempt += 1  # inside the documented window: may be lost
            continue
        covered += 1
        if not survived:
            lost += 1
    assert lost == 0, f"{lost} of {covered} edits made >= 2 s before the write were lost"
    print(
        f"in-flight: {covered} edits covered, {exempt} inside the window, 0 lost; "
        f"{summary.replanned} people re-planned, {summary.conflicts} conflicts recorded"
    )
    # the scenario really exercised the re-checks (how many edits land outside the window
    # depends on the machine: 20–24 of 40 on a loaded 2-core one)
    assert covered >= 15
    assert summary.replanned >= 20, summary.as_dict()
    assert summary.conflicts >= 20  # the earlier edits were recorded as the losers


def test_an_edit_made_while_a_write_waits_on_the_rate_limit_is_not_overwritten(
    church: Church,
) -> None:
    """The re-read must be fresh when the write is *sent*, not when it was queued: writes
    waiting their turn under Planning Center's rate limit waited seconds after the run's
    last look, and an edit made in those seconds was overwritten without a conflict."""
    church.sync()
    store = church.store()
    linked = store.links.all(LinkStatus.ACTIVE)[:12]
    store.close()
    for i, link in enumerate(linked):  # Rock → Planning Center, one PATCH each
        church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": f"Rockpre{i}"})
    church.pco_control("rate_limit", {"limit": 4, "period": 2, "reset": True})
    started = datetime.now(UTC)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(summary=church.sync()))
    worker.start()

    def patched() -> set[str]:
        log = church.pco_control("requests?limit=2000")["requests"]
        return {
            r["path"].rsplit("/", 1)[1]
            for r in log
            if r["method"] == "PATCH" and datetime.fromisoformat(r["at"]) > started
        }

    deadline = time.monotonic() + 120
    while not patched():  # the writes have begun: the rest wait on the limit
        assert worker.is_alive(), "the run ended before writing"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    already = patched()
    edits: dict[str, tuple[str, datetime]] = {}
    for i, link in enumerate(linked):
        if link.pco_person_id in already:
            continue
        value = f"Pcolate{i}"
        church.pco_control(f"people/{link.pco_person_id}", {"middle_name": value})
        edits[link.pco_person_id] = (value, datetime.now(UTC))
    worker.join(timeout=300)
    assert result["summary"].status is RunStatus.DONE, result["summary"].as_dict()
    church.pco_control("rate_limit", {"limit": 5000, "period": 20, "reset": True})
    church.sync()

    covered = lost = 0
    for link in linked:
        if link.pco_person_id not in edits:
            continue
        value, when = edits[link.pco_person_id]
        writes = [w for w in _writes_to(church, "pco", link.pco_person_id) if w > when]
        if writes and min(writes) - when < WINDOW:
            continue  # inside the documented window
        covered += 1
        pco = church.pco_get(f"/people/v2/people/{link.pco_person_id}")["data"]["attributes"]
        rock = church.rock_get(f"/api/People/{link.rock_person_id}")
        if not (pco["middle_name"] == value and rock["MiddleName"] == value):
            lost += 1
    assert covered >= 3, "the scenario did not make writes wait on the limit"
    assert lost == 0, f"{lost} of {covered} edits made while writes waited were lost"


def test_the_run_reports_its_re_reads(church: Church) -> None:
    church.sync()
    store = church.store()
    link = store.links.all(LinkStatus.ACTIVE)[0]
    store.close()
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Counted"})
    summary = church.sync()
    assert summary.updated["pco"] == 1
    assert summary.requests["rechecks"] >= 1, summary.requests  # the look before the write
    assert summary.requests["pco"] > 0 and summary.requests["rock"] > 0
