"""``pcosync parked``: list with reasons, retry now, dismiss (issue #6 §4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pcosync.store import ParkedStatus
from tests.safety.conftest import Church, cli, links, rock_person


def _park_one(church: Church) -> tuple[int, str]:
    """A Rock write refused with a 400: the run ends partial with one parked record."""
    church.sync()
    link = links(church)[2]
    church.pco_control(f"people/{link.pco_person_id}", {"last_name": "Parkedname"})
    church.refuse_rock_updates(link.rock_person_id)
    assert church.sync().parked == 1
    return link.rock_person_id, link.pco_person_id


def _parked(church: Church, key: str) -> ParkedStatus | None:
    store = church.store()
    try:
        found = [p for p in store.parked.list(None) if p.record_key == key]
        return found[0].status if found else None
    finally:
        store.close()


def _due(church: Church) -> set[str]:
    store = church.store()
    try:
        return {p.record_key for p in store.parked.due(datetime.now(UTC))}
    finally:
        store.close()


def test_parked_lists_records_with_their_reasons(church: Church) -> None:
    rock_id, _ = _park_one(church)
    result = cli(church, "parked", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["side"], r["record"]) for r in rows] == [("rock", f"person:{rock_id}")]
    assert "Could not update on Rock" in rows[0]["reason"] and rows[0]["status"] == "open"
    text = cli(church, "parked")
    assert f"person:{rock_id}" in text.output and "parked retry" in text.output


def test_parked_retry_makes_it_due_now_and_the_next_sync_writes_it(church: Church) -> None:
    rock_id, _ = _park_one(church)
    key = f"person:{rock_id}"
    assert key not in _due(church)  # backing off: not due for 15 minutes
    record_id = json.loads(cli(church, "parked", "--json").output)[0]["id"]
    result = cli(church, "parked", "retry", str(record_id))
    assert result.exit_code == 0 and "next sync" in result.output
    assert key in _due(church)
    church.sync()
    assert rock_person(church, rock_id)["LastName"] == "Parkedname"
    assert _parked(church, key) is ParkedStatus.RESOLVED
    assert json.loads(cli(church, "parked", "--json").output) == []


def test_parked_dismiss_stops_retrying_and_keeps_it_listed(church: Church) -> None:
    rock_id, _ = _park_one(church)
    key = f"person:{rock_id}"
    record_id = json.loads(cli(church, "parked", "--json").output)[0]["id"]
    result = cli(church, "parked", "dismiss", str(record_id))
    assert result.exit_code == 0 and "no longer retried" in result.output
    assert _parked(church, key) is ParkedStatus.DISMISSED
    assert json.loads(cli(church, "parked", "--json").output) == []
    listed = json.loads(cli(church, "parked", "--json", "--all").output)
    assert [r["status"] for r in listed] == ["dismissed"]
    assert cli(church, "parked", "dismiss", "999").exit_code == 2
