"""Which way each field flows. Config (``pcosync.toml``) maps onto this; the engine reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from pcosync.domain.fields import FIELDS, FieldName
from pcosync.domain.identity import Side


class Direction(StrEnum):
    BOTH = "both"
    ROCK_TO_PCO = "rock_to_pco"
    PCO_TO_ROCK = "pco_to_rock"
    OFF = "off"

    @property
    def source(self) -> Side | None:
        """The side that always wins for a one-way field, else None."""
        if self is Direction.ROCK_TO_PCO:
            return Side.ROCK
        if self is Direction.PCO_TO_ROCK:
            return Side.PCO
        return None

    def writes(self, side: Side) -> bool:
        """May the sync write this field on ``side``?"""
        if self is Direction.BOTH:
            return True
        if self is Direction.OFF:
            return False
        return self.source is side.other


def _all_both() -> Mapping[FieldName, Direction]:
    return MappingProxyType(dict.fromkeys(FIELDS, Direction.BOTH))


@dataclass(frozen=True)
class SyncPolicy:
    """Per-field directions, the membership direction, and who wins a same-instant conflict.

    ``tie_winner`` decides conflicts whose two edits carry the same timestamp (or none):
    Rock by default, as the church's system of record.
    """

    fields: Mapping[FieldName, Direction] = field(default_factory=_all_both)
    membership: Direction = Direction.BOTH
    tie_winner: Side = Side.ROCK

    def direction(self, name: FieldName) -> Direction:
        return self.fields.get(name, Direction.BOTH)

    def with_fields(self, **directions: Direction | str) -> SyncPolicy:
        merged = {f: self.direction(f) for f in FIELDS}
        for key, value in directions.items():
            merged[FieldName(key)] = Direction(value)
        return SyncPolicy(MappingProxyType(merged), self.membership, self.tie_winner)

    def directions_in_order(self) -> tuple[Direction, ...]:
        return tuple(self.direction(f) for f in FIELDS)


DEFAULT_POLICY = SyncPolicy()
