"""Adapters: each side's API mapped to canonical people, implementing the engine's ports."""

from __future__ import annotations

from pcosync.adapters.common import CampusEntry, CampusMap, RejectedRecord
from pcosync.adapters.memberships import PcoMemberships, RockMemberships
from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople

__all__ = [
    "CampusEntry",
    "CampusMap",
    "PcoMemberships",
    "PcoPeople",
    "RejectedRecord",
    "RockMemberships",
    "RockPeople",
]
