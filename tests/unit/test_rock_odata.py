"""OData v3 text for Rock: literals, time-zone conversion and batching."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from pcosync.clients.rock import odata

CHICAGO = ZoneInfo("America/Chicago")


def test_datetime_literal_is_org_local_without_offset() -> None:
    when = datetime(2024, 7, 1, 15, 30, tzinfo=UTC)  # CDT is UTC-5
    assert odata.literal(when, CHICAGO) == "datetime'2024-07-01T10:30:00'"
    winter = datetime(2024, 1, 15, 6, 0, tzinfo=UTC)  # CST is UTC-6
    assert odata.literal(winter, CHICAGO) == "datetime'2024-01-15T00:00:00'"


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError):
        odata.literal(datetime(2024, 1, 1), CHICAGO)


def test_round_trip_from_local_text() -> None:
    back = odata.from_local("2024-07-01T10:30:00.337", CHICAGO)
    assert back == datetime(2024, 7, 1, 15, 30, 0, 337000, tzinfo=UTC)
    assert odata.from_local(None, CHICAGO) is None


def test_strings_enums_guids_and_dates() -> None:
    assert odata.literal("O'Brien", CHICAGO) == "'O''Brien'"
    assert odata.literal(odata.EnumName("Active"), CHICAGO) == "'Active'"
    assert odata.literal(True, CHICAGO) == "true"
    assert odata.literal(None, CHICAGO) == "null"
    assert odata.literal(7, CHICAGO) == "7"
    assert odata.literal(date(2010, 6, 12), CHICAGO) == "datetime'2010-06-12T00:00:00'"
    assert odata.guid("abc") == "guid'abc'"


def test_any_of_batches_below_node_limit_and_dedupes() -> None:
    clauses = odata.any_of("Id", [*range(60), 1, 2], CHICAGO, batch=25)
    assert len(clauses) == 3
    assert clauses[0].count(" or ") == 24
    joined = " or ".join(clauses)
    assert joined.count("Id eq 1 ") + joined.endswith("Id eq 1") == 1


def test_all_of_parenthesises_and_skips_empty() -> None:
    assert odata.all_of("A eq 1", None, "B eq 2") == "(A eq 1) and (B eq 2)"
    assert odata.all_of("A eq 1") == "A eq 1"
