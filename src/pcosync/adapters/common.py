"""What both adapters share: the campus map and the record a side could not read.

A record with a value that does not normalise (a malformed email, an unparseable phone) is
not yielded as a person: the adapter keeps a :class:`RejectedRecord` in ``rejected`` and the
orchestrator drains the list and parks each record for an admin. Neither the raw value nor
any other personal data goes into log lines or exception text; a rejected record names the
person (that is what an admin needs to fix it) and travels only to the review queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from pcosync.domain import InvalidValue, Side, field_spec
from pcosync.domain.fields import FieldName
from pcosync.domain.text import scrub

log = logging.getLogger("pcosync.adapters")


class _CampusEntryLike(Protocol):
    name: str
    rock_id: int | None
    pco_id: str | None


@dataclass(frozen=True, slots=True)
class CampusEntry:
    """One configured campus: its canonical key (the name) and its id on each side."""

    name: str
    rock_id: int | None = None
    pco_id: str | None = None


class CampusMap:
    """Canonical campus key (the configured name) ⇄ Rock campus Id ⇄ PCO campus id.

    An id missing from the map reads as no campus, and leaves a note (once per id) for the
    run report; writing a campus name the map does not know raises :class:`InvalidValue`.
    An empty map means campuses are not synced: every campus reads as None, without notes.
    """

    def __init__(self, entries: Iterable[CampusEntry | _CampusEntryLike | Mapping[str, Any]] = ()):
        self.entries: list[CampusEntry] = [self._entry(e) for e in entries]
        self._by_name = {e.name: e for e in self.entries}
        self._by_rock = {e.rock_id: e.name for e in self.entries if e.rock_id is not None}
        self._by_pco = {str(e.pco_id): e.name for e in self.entries if e.pco_id is not None}
        self.notes: list[str] = []
        self._noted: set[tuple[Side, str]] = set()

    @staticmethod
    def _entry(raw: CampusEntry | _CampusEntryLike | Mapping[str, Any]) -> CampusEntry:
        if isinstance(raw, CampusEntry):
            return raw
        if isinstance(raw, Mapping):
            name, rock_id, pco_id = raw["name"], raw.get("rock_id"), raw.get("pco_id")
        else:
            name, rock_id, pco_id = raw.name, raw.rock_id, raw.pco_id
        return CampusEntry(
            str(name),
            None if rock_id is None else int(rock_id),
            None if pco_id is None else str(pco_id),
        )

    def __len__(self) -> int:
        return len(self.entries)

    def _note(self, side: Side, campus_id: object) -> None:
        if not self.entries:
            return  # no campus map configured: campuses are simply not synced
        key = (side, str(campus_id))
        if key in self._noted:
            return
        self._noted.add(key)
        note = (
            f"{side.label} campus id {campus_id} is not in the campus map; people there read "
            "as having no campus (add it to [[campus_map]] in pcosync.toml)"
        )
        self.notes.append(note)
        log.warning("adapters.campus_unmapped side=%s campus_id=%s", side.value, campus_id)

    def from_rock(self, campus_id: int | None) -> str | None:
        if campus_id is None:
            return None
        name = self._by_rock.get(campus_id)
        if name is None:
            self._note(Side.ROCK, campus_id)
        return name

    def from_pco(self, campus_id: str | None) -> str | None:
        if campus_id is None or campus_id == "":
            return None
        name = self._by_pco.get(str(campus_id))
        if name is None:
            self._note(Side.PCO, campus_id)
        return name

    def _lookup(self, name: str) -> CampusEntry:
        entry = self._by_name.get(name)
        if entry is None:
            raise InvalidValue("campus", "is not a campus in the campus map", name)
        return entry

    def to_rock(self, name: str | None) -> int | None:
        if name is None:
            return None
        entry = self._lookup(name)
        if entry.rock_id is None:
            raise InvalidValue("campus", "has no Rock campus Id in the campus map", name)
        return entry.rock_id

    def to_pco(self, name: str | None) -> str | None:
        if name is None:
            return None
        entry = self._lookup(name)
        if entry.pco_id is None:
            raise InvalidValue("campus", "has no Planning Center campus id in the campus map", name)
        return entry.pco_id


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A record one side holds that cannot be read as a canonical person.

    ``field`` is the canonical field name; ``reason`` says what is wrong without the value.
    """

    side: Side
    record_id: int | str
    display_name: str
    field: str
    reason: str

    @classmethod
    def from_invalid(
        cls, side: Side, record_id: int | str, display_name: str, exc: InvalidValue
    ) -> RejectedRecord:
        return cls(side, record_id, display_name, exc.field_name, exc.reason)

    @property
    def field_label(self) -> str:
        try:
            return field_spec(FieldName(self.field)).label
        except ValueError:
            return self.field.replace("_", " ").capitalize()

    @property
    def message(self) -> str:
        """What an admin reads in the review queue: which record, which field, what to do."""
        return (
            f"{self.side.label} person {self.record_id} ({self.display_name}): "
            f"{self.field_label} {self.reason}. Correct it in {self.side.label}; the record "
            "is skipped until then."
        )

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class UnsyncedPhones:
    """A synced person with several phone numbers of one kind: one syncs (the rule is in
    docs/fields.md), the others (``ids``, their records on ``side``) do not. Reported once,
    and again when they change (:mod:`pcosync.app.unsynced`); never the numbers themselves."""

    side: Side
    record_id: int | str
    display_name: str
    field: str
    ids: tuple[str, ...]

    @property
    def topic(self) -> str:
        return f"phones:{self.side.value}:{self.record_id}:{self.field}"

    @property
    def message(self) -> str:
        label = field_spec(FieldName(self.field)).label
        if self.side is Side.PCO:
            which, why = "the primary one (else the oldest)", "Rock holds one number per type"
        else:
            which, why = "the oldest", "pcosync syncs one number of each type"
        return (
            f"{self.side.label} person {self.record_id} ({self.display_name}) has "
            f"{len(self.ids) + 1} {label} numbers: {which} syncs; {len(self.ids)} not synced: "
            f"{why}. Keep one, or give the others another type in {self.side.label}."
        )


def display_name(first: str | None, nick: str | None, last: str | None) -> str:
    """The name an admin recognises, from raw (not yet normalised) name parts."""
    given = (nick or first or "").strip() if isinstance(nick or first, str) else ""
    family = last.strip() if isinstance(last, str) else ""
    full = " ".join(p for p in (given, family) if p)
    return scrub(full) or "(no name)"  # shown and kept: no NUL or control character


class SharedExtras:
    """One read-only ``ObservedPerson.extra`` per distinct content, shared by every record
    that carries it (a family's members, every active adult): at 100,000 people a small
    dict per record is ~20 MiB (issue 14)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[tuple[str, Any], ...], Mapping[str, Any]] = {}

    def get(self, **values: Any) -> Mapping[str, Any]:
        key = tuple(values.items())
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = MappingProxyType(values)
        return found

    def clear(self) -> None:
        self._seen.clear()
