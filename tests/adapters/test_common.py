"""The campus map and rejected records (pure; no emulator needed)."""

from __future__ import annotations

import pytest

from pcosync.adapters import CampusEntry, CampusMap, RejectedRecord
from pcosync.config import CampusMapEntry
from pcosync.domain import InvalidValue, Side


def test_campus_map_reads_config_entries_and_maps_both_ways() -> None:
    cmap = CampusMap(
        [
            CampusMapEntry(name="Main", rock_id=1, pco_id="77001"),
            {"name": "North", "rock_id": 2, "pco_id": 77002},
            CampusEntry("Online", rock_id=None, pco_id="77009"),
        ]
    )
    assert (cmap.from_rock(1), cmap.from_pco("77001"), cmap.from_pco("77002")) == (
        "Main",
        "Main",
        "North",
    )
    assert (cmap.to_rock("North"), cmap.to_pco("North")) == (2, "77002")
    assert (cmap.from_rock(None), cmap.to_rock(None), cmap.to_pco(None)) == (None, None, None)
    with pytest.raises(InvalidValue, match="no Rock campus Id"):
        cmap.to_rock("Online")
    with pytest.raises(InvalidValue, match="not a campus"):
        cmap.to_pco("Mars")


def test_unknown_ids_read_as_none_and_are_noted_once_per_side() -> None:
    cmap = CampusMap([CampusEntry("Main", 1, "77001")])
    assert cmap.from_rock(9) is None and cmap.from_rock(9) is None
    assert cmap.from_pco("9") is None
    assert len(cmap.notes) == 2
    assert "Rock campus id 9" in cmap.notes[0] and "Planning Center campus id 9" in cmap.notes[1]


def test_an_empty_map_means_campuses_are_not_synced() -> None:
    cmap = CampusMap()
    assert cmap.from_rock(3) is None and cmap.from_pco("77001") is None
    assert cmap.notes == []


def test_rejected_record_names_person_and_field_but_not_the_value() -> None:
    bad = "kate..okafor@example.com"
    try:
        raise InvalidValue("email", "is not a valid email address", bad)
    except InvalidValue as exc:
        rejected = RejectedRecord.from_invalid(Side.ROCK, 42, "Kate Okafor", exc)
    assert rejected.message.startswith("Rock person 42 (Kate Okafor): Email is not a valid")
    assert bad not in rejected.message and bad not in repr(rejected)
