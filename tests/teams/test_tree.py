"""The PCO tree the import mirrors: pure, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pcosync.app.teams import build_tree, parse_ref, pco_ref, select_folders
from pcosync.clients.pco.models import PcoFolder, PcoServiceType, PcoTeam, PcoTeamPosition
from pcosync.domain.identity import GroupKind
from pcosync.errors import UsageError

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _church() -> tuple[list[PcoFolder], list[PcoServiceType], list[PcoTeam]]:
    folders = [PcoFolder("2", "Kids", "1"), PcoFolder("1", "Ministries", None)]
    types = [
        PcoServiceType("10", "Sunday", "2", None, None),
        PcoServiceType("11", "Loose", None, None, None),  # in no folder
        PcoServiceType("12", "Old", "1", T0, None),  # archived
    ]
    teams = [
        PcoTeam("100", "Check-in", "10", None, None, [PcoTeamPosition("1000", "Desk", "100")]),
        PcoTeam("101", "Gone", "10", None, T0, [PcoTeamPosition("1001", "Helper", "101")]),
        PcoTeam("102", "Orphan", "12", None, None, [PcoTeamPosition("1002", "Any", "102")]),
    ]
    return folders, types, teams


def test_tree_is_parent_first_and_nested() -> None:
    tree = build_tree(*_church())
    order = list(tree)
    assert order.index("Folder:1") < order.index("Folder:2") < order.index("ServiceType:10")
    assert (
        order.index("ServiceType:10") < order.index("Team:100") < order.index("TeamPosition:1000")
    )
    assert tree["Folder:2"].parent_ref == "Folder:1"
    assert tree["ServiceType:11"].parent_ref is None  # straight under the parent group
    assert tree["TeamPosition:1000"].parent_ref == "Team:100"
    assert tree["TeamPosition:1000"].folder_refs == {"Folder:1", "Folder:2"}


def test_dead_teams_and_their_positions_are_not_live() -> None:
    tree = build_tree(*_church())
    assert tree["Team:100"].live and tree["TeamPosition:1000"].live
    assert not tree["Team:101"].live and "deleted" in tree["Team:101"].why_not_live
    assert not tree["TeamPosition:1001"].live and "team" in tree["TeamPosition:1001"].why_not_live
    # a live team under an archived service type goes with it
    assert not tree["ServiceType:12"].live
    assert not tree["Team:102"].live and "service type" in tree["Team:102"].why_not_live


def test_folder_selection_by_name_or_id() -> None:
    folders = _church()[0]
    assert select_folders(folders, ["kids"]) == {"Folder:2"}
    assert select_folders(folders, ["1"]) == {"Folder:1"}
    with pytest.raises(UsageError, match="Ministries"):
        select_folders(folders, ["Nope"])


def test_refs_round_trip() -> None:
    assert pco_ref(GroupKind.TEAM_POSITION, "123") == "TeamPosition:123"
    assert parse_ref("ServiceType:9") == (GroupKind.SERVICE_TYPE, "9")
    assert parse_ref("Tag:1") == (GroupKind.TAG, "1")
    assert parse_ref("Label:1") is None and parse_ref("Team:") is None


def test_names_lose_characters_rock_and_the_store_cannot_hold() -> None:
    """Issue 12: a NUL or control character in a Planning Center name never reaches Rock."""
    folders, types, teams = _church()
    teams.append(
        PcoTeam(
            "103", "Set\x00up\x07 crew", "10", None, None, [PcoTeamPosition("1003", "\x1b", "103")]
        )
    )
    tree = build_tree(folders, types, teams)
    assert tree["Team:103"].name == "Setup crew"
    assert tree["TeamPosition:1003"].name == "(unnamed)"
    assert tree["Team:100"].name == "Check-in"
