"""Issue #10 §1 and §4: runs that overlap, and a run whose process dies.

Two ``pcosync sync`` processes on one config: one runs, the other exits 75 naming the run
in progress (or waits for it with ``--wait``), on SQLite and on PostgreSQL, and nothing is
ever created twice. No output ever carries a traceback or SQL parameters. A killed run is
listed as interrupted with what it really did, and can be reverted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pcosync.config import write_settings
from pcosync.store import RunStatus, Store, make_engine
from tests.sync.conftest import Church

# timing matters here (edits landing mid-run, a second process, a kill): run alone
pytestmark = pytest.mark.serial


def _use_postgres(church: Church, url: str) -> Iterator[None]:
    schema = f"pcosync_overlap_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    data = tomllib.loads(church.config.read_text())
    data["state"] = {"url": f"{url}?options=-csearch_path%3D{schema}"}
    write_settings(church.config, data)
    try:
        yield
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest, church: Church) -> Iterator[str]:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        yield from (request.param for _ in _use_postgres(church, url))
    else:
        yield request.param


def _start(church: Church, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pcosync.cli.main", "--config", str(church.config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _no_leaks(text: str) -> None:
    assert "Traceback" not in text
    assert "[parameters" not in text and "SQL parameters" not in text.replace("hidden", "")
    assert "database is locked" not in text


def _duplicates(church: Church) -> tuple[Counter[str], Counter[int]]:
    rows = church.rock_get(
        "/api/People",
        **{"$filter": "startswith(ForeignKey,'pcosync:pco:')", "$select": "Id,ForeignKey"},
    )
    rock = Counter(r["ForeignKey"] for r in rows)
    pco: Counter[int] = Counter()
    page = church.pco_get("/people/v2/people", per_page=100)
    while True:
        for p in page["data"]:
            if p["attributes"].get("remote_id") is not None:
                pco[p["attributes"]["remote_id"]] += 1
        nxt = page.get("links", {}).get("next")
        if not nxt:
            break
        offset = int(nxt.split("offset=")[1].split("&")[0])
        page = church.pco_get("/people/v2/people", per_page=100, offset=offset)
    return rock, pco


def _slow_writes(church: Church, ms: int) -> None:
    for control in (church.pco_control, church.rock_control):
        control(
            "faults",
            {"faults": [{"kind": "latency", "ms": ms, "method": m} for m in ("POST", "PATCH")]},
        )


def _wait_for_lease(church: Church, first: subprocess.Popen[str], *, may_end: bool = False) -> None:
    """Until the first sync holds the run lease (it has a run in the store), or, with
    ``may_end``, has already finished."""
    deadline = time.monotonic() + 60
    while True:
        if may_end and first.poll() is not None:
            return
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first sync never started"
        store = church.store()
        try:
            if store.leases.current() is not None:
                return
        finally:
            store.close()
        time.sleep(0.05)


def test_two_syncs_at_once_one_runs_and_the_other_exits_75(church: Church, store_kind: str) -> None:
    # so the first sync is still working when the second starts (15 ms was not always
    # enough on an idle machine: the first finished before the second process was up)
    _slow_writes(church, 60)
    first = _start(church, "sync", "--json")
    _wait_for_lease(church, first)
    second = _start(church, "sync", "--json")
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=300)
    assert first.returncode in (0, 3), err1
    assert second.returncode == 75, (out2, err2)
    run_id = json.loads(out1)["run_id"]
    assert f"Run {run_id} is in progress" in " ".join(err2.split())
    assert "--wait" in err2
    for text in (out1, err1, out2, err2):
        _no_leaks(text)
    for control in (church.pco_control, church.rock_control):
        control("faults", method="DELETE")
    settled = church.sync(full=True)
    assert settled.created["rock"] == settled.created["pco"] == 0
    rock, pco = _duplicates(church)
    assert rock and max(rock.values()) == 1
    assert pco and max(pco.values()) == 1


def test_with_wait_the_second_sync_runs_after_the_first(church: Church, store_kind: str) -> None:
    _slow_writes(church, 5)
    first = _start(church, "sync", "--json")
    # (on a loaded machine 0.3 s was not always enough for the first to take the lease)
    _wait_for_lease(church, first, may_end=True)
    second = _start(church, "sync", "--json", "--wait")
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert first.returncode in (0, 3), err1
    assert second.returncode in (0, 3), err2
    runs = sorted([json.loads(out1), json.loads(out2)], key=lambda r: r["run_id"])
    assert runs[1]["created"] == {"rock": 0, "pco": 0}  # the first made them; nobody twice
    for text in (out1, err1, out2, err2):
        _no_leaks(text)
    rock, pco = _duplicates(church)
    assert max(rock.values()) == 1 and max(pco.values()) == 1


def _applied(store_url: str) -> int:
    store = Store.open(store_url, upgrade=False)
    try:
        runs = store.runs.list(1)
        if not runs:
            return 0
        return sum(1 for j in store.journal.list(runs[0].id) if j.status.value == "applied")
    finally:
        store.close()


@pytest.mark.slow
def test_a_killed_run_is_listed_as_interrupted_with_its_counts_and_can_be_reverted(
    church: Church,
) -> None:
    from pcosync.config import load_settings

    _slow_writes(church, 40)
    url = load_settings(church.config).state_url()
    proc = _start(church, "sync")
    deadline = time.monotonic() + 120
    while True:
        assert proc.poll() is None, "the sync finished before it could be killed"
        assert time.monotonic() < deadline, "the sync never started applying"
        try:
            if _applied(url) >= 10:
                break
        except Exception:  # the store is still being created
            pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    for control in (church.pco_control, church.rock_control):
        control("faults", method="DELETE")
    store = Store.open(url)
    killed = store.runs.list(1)[0]
    store.close()
    assert killed.status is RunStatus.RUNNING  # as the dead process left it
    store = Store.open(url)
    applied = sum(1 for j in store.journal.list(killed.id) if j.status.value == "applied")
    store.close()

    # the next run takes over the lease at once (same host, process gone) and settles it
    after = church.sync()
    assert after.status in (RunStatus.DONE, RunStatus.PARTIAL)
    store = Store.open(url)
    again = store.runs.get(killed.id)
    store.close()
    assert again is not None and again.status is RunStatus.INTERRUPTED
    counts = again.counts
    made = sum(counts["created"].values()) + sum(counts["updated"].values()) + counts["linked"]
    assert counts["applied_operations"] == applied >= 10 and made > 0, counts
    from tests.safety.conftest import cli

    listed = cli(church, "runs", "--json")
    assert any(
        r["id"] == killed.id and r["status"] == "interrupted" for r in json.loads(listed.output)
    )
    preview = cli(church, "revert", str(killed.id), "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "Nothing was written" in preview.output


def test_a_lease_left_by_a_dead_process_elsewhere_expires(church: Church, tmp_path: Path) -> None:
    """A holder on another machine that stopped renewing: the lease expires, then the next
    run takes over (here: its expiry is put in the past)."""
    from datetime import UTC, datetime, timedelta

    church.sync()
    store = church.store()
    try:
        got = store.leases.try_acquire(
            "other-machine", ttl=timedelta(seconds=60), purpose="sync", host="elsewhere", pid=1
        )
        assert got.ok
        from tests.safety.conftest import cli

        refused = cli(church, "sync")
        assert refused.exit_code == 75 and "on host elsewhere" in " ".join(refused.output.split())
        with store.transaction() as s:
            from sqlalchemy import update

            from pcosync.store.models import RunLeaseRow

            s.execute(
                update(RunLeaseRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        store.close()
    assert church.sync().status is RunStatus.DONE
