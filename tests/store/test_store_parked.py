"""Parked records with backoff, the match-issue queue, and watermarks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from pcosync.domain import Person, Side
from pcosync.engine import IssueKind, MatchRecord, match_people
from pcosync.store import IssueStatus, ParkedStatus, RunMode, Store

from .conftest import FakeClock

JANE = Person(
    first_name="Jane", last_name="Doe", birthdate=date(1988, 6, 2), email="jane@example.org"
)


def test_park_then_retry_with_growing_backoff(store: Store, clock: FakeClock) -> None:
    run = store.runs.start(RunMode.INCREMENTAL)
    first = store.parked.park(
        Side.PCO,
        "person:123",
        "Planning Center refused the email address (422).",
        {"op": "update", "fields": ["email"]},
        run_id=run.id,
    )
    assert first.status is ParkedStatus.OPEN and first.retry_count == 0
    assert first.next_attempt_at == clock.current + timedelta(minutes=15)
    assert first.first_seen_at == first.last_seen_at == clock.current
    assert first.payload == {"op": "update", "fields": ["email"]} and first.run_id == run.id
    assert store.parked.is_parked(Side.PCO, "person:123")
    assert not store.parked.is_parked(Side.ROCK, "person:123")

    assert store.parked.due() == []
    clock.advance(minutes=15)
    assert [p.record_key for p in store.parked.due()] == ["person:123"]

    second = store.parked.park(Side.PCO, "person:123", "still refused")
    assert second.id == first.id and second.retry_count == 1
    assert second.next_attempt_at == clock.current + timedelta(minutes=30)
    assert second.first_seen_at == first.first_seen_at and second.reason == "still refused"
    for _ in range(10):
        last = store.parked.park(Side.PCO, "person:123", "still refused")
    assert last.next_attempt_at == clock.current + timedelta(hours=24)  # capped


def test_resolve_dismiss_and_reopen(store: Store, clock: FakeClock) -> None:
    store.parked.park(Side.ROCK, "person:45", "Rock said 400")
    store.parked.park(Side.ROCK, "membership:45:TeamPosition:7", "team deleted")
    assert store.parked.resolve(Side.ROCK, "person:45")
    assert store.parked.dismiss(Side.ROCK, "membership:45:TeamPosition:7")
    assert not store.parked.resolve(Side.ROCK, "person:nope")
    assert not store.parked.unpark(Side.PCO, "person:45")  # parked on the Rock side only
    assert store.parked.list() == []
    assert {p.status for p in store.parked.list(None)} == {
        ParkedStatus.RESOLVED,
        ParkedStatus.DISMISSED,
    }
    clock.advance(days=2)
    again = store.parked.park(Side.ROCK, "person:45", "Rock said 400 again")
    assert again.status is ParkedStatus.OPEN and again.retry_count == 0
    assert store.parked.due(clock.current + timedelta(minutes=15)) == [again]


def test_parked_is_per_connection(store: Store) -> None:
    store.parked.park(Side.PCO, "person:1", "x")
    assert store.for_connection("b").parked.list() == []


def test_match_issues_upsert_reopen_and_auto_resolve(store: Store, clock: FakeClock) -> None:
    result = match_people(
        [MatchRecord(Side.ROCK, 45, JANE), MatchRecord(Side.ROCK, 46, JANE)],
        [MatchRecord(Side.PCO, "123", JANE)],
    )
    (issue,) = result.issues
    stored = store.issues.upsert(issue)
    assert stored.kind is IssueKind.CONTESTED and stored.status is IssueStatus.OPEN
    assert stored.rock_ids == (45, 46) and stored.pco_ids == ("123",)
    assert stored.message == issue.message
    assert stored.evidence == [
        {"rock_id": 45, "pco_id": "123", "evidence": "email_last_name"},
        {"rock_id": 46, "pco_id": "123", "evidence": "email_last_name"},
    ]
    clock.advance(hours=1)
    again = store.issues.upsert(issue)  # the next run reports it again
    assert again.id == stored.id and again.updated_at > stored.updated_at
    assert len(store.issues.list()) == 1
    assert [i.id for i in store.issues.involving(rock_id=46)] == [stored.id]
    assert store.issues.involving(pco_id="999") == []

    assert store.issues.resolve_missing({issue.key}) == 0
    assert store.issues.resolve_missing(set()) == 1  # the admin merged the duplicates
    resolved = store.issues.get(stored.id)
    assert resolved is not None and resolved.status is IssueStatus.RESOLVED
    assert resolved.resolved_at == clock.current
    assert store.issues.list() == []
    reopened = store.issues.upsert(issue)  # the duplicate came back
    assert reopened.id == stored.id and reopened.status is IssueStatus.OPEN
    assert reopened.resolved_at is None
    assert store.issues.resolve(stored.id) and not store.issues.resolve(stored.id)


def test_an_issue_naming_many_records_is_stored_once(store: Store) -> None:
    """Forty people sharing the office phone: the key outgrows the column, a digest fits."""
    office = Person(last_name="Member", mobile_phone="+12025550143")
    pcos = [MatchRecord(Side.PCO, str(100_000_000 + i), office) for i in range(40)]
    (issue,) = match_people([MatchRecord(Side.ROCK, 1, office)], pcos).issues
    stored = store.issues.upsert(issue)
    assert len(stored.pco_ids) == 40 and stored.key == issue.key
    assert store.issues.upsert(issue).id == stored.id
    assert len(store.issues.list()) == 1


def test_watermarks(store: Store) -> None:
    assert store.watermarks.get("pco.people") is None
    store.watermarks.set("pco.people", "cursor-1")
    store.watermarks.set("pco.people", "cursor-2")
    assert store.watermarks.get("pco.people") == "cursor-2"
    t1 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert store.watermarks.advance_time("rock.people", t1) == t1
    assert store.watermarks.advance_time("rock.people", t1 - timedelta(hours=1)) == t1
    assert store.watermarks.get_time("rock.people") == t1
    earlier = t1 - timedelta(hours=1)
    assert store.watermarks.advance_time("rock.people", earlier, force=True) == earlier
    assert store.watermarks.get_time("rock.people") == earlier
    assert store.watermarks.all() == {"pco.people": "cursor-2", "rock.people": earlier.isoformat()}
    with pytest.raises(ValueError, match="aware"):
        store.watermarks.advance_time("x", datetime(2025, 1, 1))
