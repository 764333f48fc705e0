"""Proposing the campus map: Rock campus ⇄ Planning Center campus, by name.

Entries the admin already has (a re-run of ``init``) are kept while both their campuses
still exist; then same name (ignoring case and spacing), then a close name (``Downtown`` ⇄
``Downtown Campus``), each campus used once. What is left is listed with one side only, for
the admin to finish by hand in ``pcosync.toml``. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any

SIMILARITY_THRESHOLD = 0.85
_GENERIC_WORDS = frozenset({"campus", "site", "location"})


class MatchKind(StrEnum):
    KEPT = "kept from the file"
    SAME_NAME = "same name"
    SIMILAR_NAME = "similar name"
    ROCK_ONLY = "only in Rock"
    PCO_ONLY = "only in Planning Center"


@dataclass(frozen=True)
class CampusPair:
    """One proposed ``campus_map`` entry."""

    name: str
    kind: MatchKind
    rock_id: int | None = None
    rock_name: str | None = None
    pco_id: str | None = None
    pco_name: str | None = None

    @property
    def complete(self) -> bool:
        return self.rock_id is not None and self.pco_id is not None

    def as_config(self) -> dict[str, Any]:
        """The TOML entry (TOML has no null: a missing side is left out)."""
        entry: dict[str, Any] = {"name": self.name}
        if self.rock_id is not None:
            entry["rock_id"] = self.rock_id
        if self.pco_id is not None:
            entry["pco_id"] = self.pco_id
        return entry


def normalize_name(name: str) -> str:
    return " ".join(name.casefold().split())


def tidy_name(name: str) -> str:
    """The entry's name: as the campus is called, without stray spaces."""
    return " ".join(name.split())


def _compact(name: str) -> str:
    """Letters and digits only, generic words ("campus", "site") dropped: "St. Mark's
    Campus" → "stmarks"."""
    words = re.findall(r"[^\W_]+", name.casefold().replace("'", "").replace("’", ""))
    kept = [w for w in words if w not in _GENERIC_WORDS]
    return "".join(kept or words)


def name_similarity(a: str, b: str) -> float:
    """0..1. Names that differ only in spacing, punctuation or a generic word score 1; a
    different first letter scores 0 (East Side is not Westside, however alike they look)."""
    ca, cb = _compact(a), _compact(b)
    if not ca or not cb:
        return 0.0
    if ca == cb:
        return 1.0
    if ca[0] != cb[0]:
        return 0.0
    return SequenceMatcher(None, ca, cb).ratio()


def _closeness(a: str, b: str) -> float:
    """Tie-break between equally similar names: the plain text ratio."""
    return SequenceMatcher(None, normalize_name(a), normalize_name(b)).ratio()


def propose_campus_map(
    rock: Sequence[tuple[int, str]],
    pco: Sequence[tuple[str, str]],
    *,
    keep: Sequence[tuple[str, int | None, str | None]] = (),
    threshold: float = SIMILARITY_THRESHOLD,
) -> list[CampusPair]:
    """Pairs for every campus of both sides: ``rock`` is (Id, Name), ``pco`` (id, name);
    ``keep`` the existing entries (name, Rock Id, PCO id), kept when both ids exist."""
    rock_left = dict(sorted(rock))
    pco_left = dict(pco)
    pairs: dict[int, CampusPair] = {}

    for name, kept_rid, kept_pid in keep:
        if kept_rid in rock_left and kept_pid in pco_left:
            pairs[kept_rid] = CampusPair(
                tidy_name(name),
                MatchKind.KEPT,
                kept_rid,
                rock_left.pop(kept_rid),
                kept_pid,
                pco_left.pop(kept_pid),
            )

    by_name: dict[str, str] = {}
    for pid, pname in pco:
        by_name.setdefault(normalize_name(pname), pid)
    for rid, rname in list(rock_left.items()):
        same = by_name.get(normalize_name(rname))
        if same is not None and same in pco_left:
            pairs[rid] = CampusPair(
                tidy_name(rname), MatchKind.SAME_NAME, rid, rname, same, pco_left.pop(same)
            )
            del rock_left[rid]

    scored = sorted(
        (
            (-name_similarity(rname, pname), -_closeness(rname, pname), rid, pid)
            for rid, rname in rock_left.items()
            for pid, pname in pco_left.items()
        ),
    )
    for negative, _, rid, pid in scored:
        if -negative < threshold:
            break
        if rid in rock_left and pid in pco_left:
            rname = rock_left.pop(rid)
            pairs[rid] = CampusPair(
                tidy_name(rname), MatchKind.SIMILAR_NAME, rid, rname, pid, pco_left.pop(pid)
            )

    for rid, rname in rock_left.items():
        pairs[rid] = CampusPair(tidy_name(rname), MatchKind.ROCK_ONLY, rock_id=rid, rock_name=rname)
    out = [pairs[rid] for rid in sorted(pairs)]
    out += [
        CampusPair(tidy_name(pname), MatchKind.PCO_ONLY, pco_id=pid, pco_name=pname)
        for pid, pname in pco
        if pid in pco_left
    ]
    return out
