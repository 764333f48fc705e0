"""The pure parts of setup: campus matching, time zone evidence, version and clock checks,
and the state store probe (on real SQLite files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from pcosync.config import Settings
from pcosync.setup.assistant import notifications_check
from pcosync.setup.campuses import MatchKind, name_similarity, propose_campus_map
from pcosync.setup.probes import (
    clock_check,
    pco_versions_check,
    rock_major_version,
    state_check,
)
from pcosync.setup.results import Status
from pcosync.setup.timezone import choose_time_zone, iana_zone, rock_utc_offset
from pcosync.store import make_engine, migrate

NOW = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)  # winter: Chicago is UTC-06:00


def test_campuses_match_by_name_then_similarity_each_used_once() -> None:
    rock = [
        (3, "Downtown"),
        (1, "Main  Campus"),
        (2, "north campus"),
        (4, "East Side"),
        (5, "West"),
    ]
    pco = [
        ("p1", "Main Campus"),
        ("p2", "North Campus"),
        ("p3", "Downtown Campus"),
        ("p9", "Online"),
        ("p5", "Westside Campus"),
    ]
    pairs = propose_campus_map(rock, pco)
    got = [(p.name, p.kind, p.rock_id, p.pco_id) for p in pairs]
    assert got == [
        ("Main Campus", MatchKind.SAME_NAME, 1, "p1"),
        ("north campus", MatchKind.SAME_NAME, 2, "p2"),
        ("Downtown", MatchKind.SIMILAR_NAME, 3, "p3"),
        ("East Side", MatchKind.ROCK_ONLY, 4, None),
        ("West", MatchKind.ROCK_ONLY, 5, None),
        ("Online", MatchKind.PCO_ONLY, None, "p9"),
        ("Westside Campus", MatchKind.PCO_ONLY, None, "p5"),
    ]
    assert [p.as_config() for p in pairs if p.rock_id == 4] == [{"name": "East Side", "rock_id": 4}]
    assert [p.as_config() for p in pairs if p.pco_id == "p9"] == [
        {"name": "Online", "pco_id": "p9"}
    ]


def test_existing_entries_are_kept_while_both_campuses_exist() -> None:
    rock = [(1, "Main"), (2, "North"), (3, "Online")]
    pco = [("p1", "Main"), ("p2", "North"), ("p3", "Online")]
    keep = [
        ("Main by hand", 1, "p2"),  # chosen by hand: wins over the same-name pair
        ("Gone", 3, "p404"),  # Planning Center has no such campus: proposed afresh
        ("Twice", 1, "p3"),  # Rock campus 1 is already kept: not used twice
    ]
    pairs = propose_campus_map(rock, pco, keep=keep)
    got = [(p.name, p.kind, p.rock_id, p.pco_id) for p in pairs]
    assert got == [
        ("Main by hand", MatchKind.KEPT, 1, "p2"),
        ("North", MatchKind.ROCK_ONLY, 2, None),
        ("Online", MatchKind.SAME_NAME, 3, "p3"),
        ("Main", MatchKind.PCO_ONLY, None, "p1"),
    ]


def test_best_similar_pair_wins() -> None:
    pairs = propose_campus_map([(1, "North Side Campus"), (2, "Northside")], [("a", "North-side")])
    assert [(p.rock_id, p.pco_id, p.kind) for p in pairs if p.pco_id] == [
        (2, "a", MatchKind.SIMILAR_NAME)
    ]
    assert name_similarity("St. Mark's", "St Marks Campus") == 1.0
    assert name_similarity("Nort Campus", "North Campus") > 0.85  # a typo
    assert name_similarity("East Side", "Westside Campus") == 0.0
    assert name_similarity("Main", "Mainland Chapel") < 0.85


def test_empty_sides() -> None:
    assert propose_campus_map([], []) == []
    assert [p.kind for p in propose_campus_map([], [("a", "Main")])] == [MatchKind.PCO_ONLY]


def test_time_zone_choice_and_evidence() -> None:
    assert iana_zone("Central Standard Time") == "America/Chicago"
    assert iana_zone("America/Denver") == "America/Denver"
    assert iana_zone("Nowhere Standard Time") is None

    from_campus = choose_time_zone(
        explicit=None,
        rock_campus_zones=["Mountain Standard Time", "America/Denver"],
        pco_zone="America/Chicago",
        rock_offset=None,
        now=NOW,
    )
    assert (from_campus.zone, from_campus.warning) == ("America/Denver", None)
    assert "campus" in from_campus.source

    confirmed = choose_time_zone(
        explicit=None,
        rock_campus_zones=[],
        pco_zone="America/Chicago",
        rock_offset=timedelta(hours=-6),
        now=NOW,
    )
    assert confirmed.zone == "America/Chicago" and confirmed.warning is None
    assert "agrees (UTC-06:00)" in confirmed.source

    contradicted = choose_time_zone(
        explicit="America/Chicago",
        rock_campus_zones=["Eastern Standard Time"],
        pco_zone=None,
        rock_offset=timedelta(hours=-5),
        now=NOW,
    )
    assert contradicted.zone == "America/Chicago"
    assert contradicted.warning is not None
    assert "America/New_York" in contradicted.warning and "UTC-05:00" in contradicted.warning

    fallback = choose_time_zone(
        explicit=None, rock_campus_zones=[], pco_zone=None, rock_offset=None, now=NOW
    )
    assert fallback.zone == "America/Chicago" and "default" in fallback.source


def test_rock_offset_from_a_fresh_timestamp() -> None:
    server = datetime(2026, 1, 15, 18, 0, 2, tzinfo=UTC)
    assert rock_utc_offset(datetime(2026, 1, 15, 12, 0, 1), server) == timedelta(hours=-6)
    assert rock_utc_offset(datetime(2026, 1, 15, 23, 30, 3), server) == timedelta(
        hours=5, minutes=30
    )
    assert rock_utc_offset(datetime(2026, 1, 15, 12, 7, 30), server) is None  # not fresh


def test_rock_versions() -> None:
    assert rock_major_version("1.16.4") == 16
    assert rock_major_version("1.14.0.19") == 14
    assert rock_major_version("17.2.1") == 17
    assert rock_major_version("") is None


def _response(date: str | None) -> httpx.Response:
    return httpx.Response(200, headers={"Date": date} if date else {})


def test_clock_skew() -> None:
    received = datetime(2026, 1, 15, 18, 0, 0, tzinfo=UTC)
    fine = clock_check("Rock clock", "Rock", _response("Thu, 15 Jan 2026 18:01:10 GMT"), received)
    assert fine.status is Status.OK
    ahead = clock_check("Rock clock", "Rock", _response("Thu, 15 Jan 2026 18:05:00 GMT"), received)
    assert ahead.status is Status.WARNING and "5 min ahead of" in ahead.detail
    assert "NTP" in ahead.fix
    behind = clock_check("Rock clock", "Rock", _response("Thu, 15 Jan 2026 15:00:00 GMT"), received)
    assert behind.status is Status.WARNING and "3.0 h behind" in behind.detail
    assert clock_check("Rock clock", "Rock", _response(None), received).status is Status.OK


def test_pco_versions() -> None:
    pinned = {"people": "2025-11-10", "services": "2018-11-01"}
    same = pco_versions_check({"people": "2025-11-10", "services": "2018-11-01"}, pinned)
    assert same.status is Status.OK
    older = pco_versions_check({"people": "2024-09-12", "services": None}, pinned)
    assert older.status is Status.WARNING
    assert "People as 2024-09-12 (pcosync is built for 2025-11-10)" in older.detail
    assert "Services as an unreported version" in older.detail


def test_state_store_probe(tmp_path: Path) -> None:
    fresh = state_check(f"sqlite:///{tmp_path / 'state.db'}")
    assert fresh.status is Status.OK and "will be created" in fresh.detail
    assert not (tmp_path / "state.db").exists()

    missing_folder = state_check(f"sqlite:///{tmp_path / 'nope' / 'state.db'}")
    assert missing_folder.status is Status.FAILED and "folder" in missing_folder.detail

    assert state_check("sqlite://").status is Status.WARNING
    assert state_check("not a url").status is Status.FAILED

    url = f"sqlite:///{tmp_path / 'ready.db'}"
    migrate(url)
    ready = state_check(url)
    assert ready.status is Status.OK and "up to date" in ready.detail

    secret_url = "postgresql+psycopg://sync:hunter2@127.0.0.1:1/nowhere"
    down = state_check(secret_url)
    assert down.status is Status.FAILED
    assert "hunter2" not in down.detail and "***" in down.detail


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("DROP TABLE match_issues", "the table match_issues is missing"),
        ("DELETE FROM alembic_version", "no record of its schema version"),
        ("ALTER TABLE runs DROP COLUMN reviewed_by", "the column runs.reviewed_by is missing"),
        ("UPDATE alembic_version SET version_num = '0099_x'", "set up by a newer pcosync"),
    ],
)
def test_state_store_probe_names_a_store_a_sync_would_refuse(
    tmp_path: Path, damage: str, expected: str
) -> None:
    """``check`` says what a sync would stop with (issue 12): a half-migrated store, one from
    a newer pcosync; and it changes nothing."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(damage))
    engine.dispose()
    before = (tmp_path / "state.db").read_bytes()
    found = state_check(url)
    assert found.status is Status.FAILED, found
    assert expected in found.detail, found.detail
    assert (tmp_path / "state.db").read_bytes() == before


def test_state_store_probe_names_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"my notes\n" * 500)
    found = state_check(f"sqlite:///{tmp_path / 'state.db'}")
    assert found.status is Status.FAILED and "is not a database" in found.detail, found


def test_notifications_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PCOSYNC_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("PCOSYNC_WEBHOOK_URL", raising=False)
    base = {"rock": {"url": "http://r"}}
    none = notifications_check(Settings.model_validate(base), "f.toml")
    assert none.status is Status.OK and "none set up" in none.detail

    broken = Settings.model_validate(
        {**base, "notifications": {"smtp": {"host": "mail", "user": "me"}, "webhook": {}}}
    )
    check = notifications_check(broken, "f.toml")
    assert check.status is Status.WARNING
    assert "no recipients" in check.detail and "PCOSYNC_SMTP_PASSWORD" in check.detail
    assert "PCOSYNC_WEBHOOK_URL" in check.detail and "f.toml" in check.fix

    hook = "https://hooks.example.org/T000/secret-path"
    monkeypatch.setenv("PCOSYNC_SMTP_PASSWORD", "pw")
    monkeypatch.setenv("PCOSYNC_WEBHOOK_URL", hook)
    working = Settings.model_validate(
        {
            **base,
            "notifications": {
                "smtp": {"host": "mail", "user": "me", "to": ["a@b.org"]},
                "webhook": {},
            },
        }
    )
    fine = notifications_check(working, "f.toml")
    assert fine.status is Status.OK and "email via mail:587" in fine.detail
    assert hook not in fine.detail + fine.fix  # a webhook URL is a secret
