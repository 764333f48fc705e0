"""OData v3 text for Rock: literals, time-zone conversion and batching."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# ---------------------------------------------------------------- integer ids as ranges (issue 14)


def _nodes(tree: object) -> int:
    """Nodes as the OData validator counts them: each operator and constant, and a property
    access plus its implicit ``$it`` (parentheses are not nodes)."""
    from pcosync.emulators.rock.odata import BinExpr, Lit, PathExpr

    if isinstance(tree, BinExpr):
        return 1 + _nodes(tree.left) + _nodes(tree.right)
    if isinstance(tree, Lit):
        return 1
    assert isinstance(tree, PathExpr)
    return 1 + len(tree.segments)


def _covered(clause: str) -> list[tuple[int, int]]:
    spans = [(int(a), int(b)) for a, b in re.findall(r"Id ge (\d+) and Id le (\d+)", clause)]
    spans += [(int(a), int(a)) for a in re.findall(r"Id eq (\d+)", clause)]
    return spans


@pytest.mark.parametrize(
    ("ids", "runs"),
    [
        ([], []),
        ([7], [(7, 7)]),
        ([5, 3, 4, 4, 6], [(3, 6)]),
        ([1, 100, 200], [(1, 1), (100, 100), (200, 200)]),
        ([1, 2, 3, 10, 40, 41, 90], [(1, 10), (40, 41), (90, 90)]),  # hole 6 merges, 29 not
        ([1, 22, 44], [(1, 22), (44, 44)]),  # 20 ids between 1 and 22 merge; 21 do not
    ],
)
def test_id_runs(ids: list[int], runs: list[tuple[int, int]]) -> None:
    assert [(run[0], run[-1]) for run in odata.id_runs(ids)] == runs


def test_exact_runs_with_no_gap() -> None:
    assert odata.id_runs([1, 2, 4, 5, 7], gap=0) == [[1, 2], [4, 5], [7]]


def test_in_ranges_forms() -> None:
    assert odata.in_ranges("Id", []) == []
    assert odata.in_ranges("Id", [9]) == ["Id eq 9"]
    assert odata.in_ranges("Id", range(1, 5001)) == ["(Id ge 1 and Id le 5000)"]
    assert odata.in_ranges("Id", [3, 4, 5, 500]) == ["(Id ge 3 and Id le 5) or Id eq 500"]
    # two ids cost as many nodes as a range, read no extra rows and pack finer
    assert odata.in_ranges("Id", [3, 9, 500]) == ["Id eq 3 or Id eq 9 or Id eq 500"]


def test_sparse_ids_pack_fifteen_to_a_filter_as_before() -> None:
    ids = range(0, 100 * 50, 50)
    clauses = odata.in_ranges("Id", ids)
    assert len(clauses) == len(odata.any_of("Id", ids, CHICAGO)) == 7


@given(
    st.lists(st.integers(min_value=1, max_value=3000), max_size=400),
    st.sampled_from([0, 1, 20, 40]),
)
def test_ranges_cover_every_id_once_and_stay_under_the_node_limit(ids: list[int], gap: int) -> None:
    from pcosync.emulators.rock.odata import MAX_NODE_COUNT, parse

    clauses = odata.in_ranges("Id", ids, gap)
    assert len(clauses) <= len(odata.any_of("Id", ids, CHICAGO))
    spans = [span for clause in clauses for span in _covered(clause)]
    for clause in clauses:
        # room for the caller's own clause: `(RecordTypeValueId eq 1) and (…)` is 5 more
        assert _nodes(parse(clause)) <= odata.FILTER_NODES <= MAX_NODE_COUNT - 25
        assert _nodes(parse(odata.all_of("RecordTypeValueId eq 1", clause))) <= MAX_NODE_COUNT
    spans.sort()
    assert all(a <= b for a, b in spans)
    assert all(prev[1] < nxt[0] for prev, nxt in pairwise(spans))  # once
    for i in ids:
        assert sum(a <= i <= b for a, b in spans) == 1
    # a range ends on wanted ids, and a hole inside it is at most `gap` ids long
    wanted = sorted(set(ids))
    for a, b in spans:
        inside = [i for i in wanted if a <= i <= b]
        assert inside[0] == a and inside[-1] == b
        assert all(y - x - 1 <= gap for x, y in pairwise(inside))
    if gap == 0:
        assert sum(b - a + 1 for a, b in spans) == len(wanted)
