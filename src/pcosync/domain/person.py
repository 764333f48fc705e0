"""The canonical person: the synced fields of DESIGN §5 in one shape both sides map onto.

Values are already normalised when a Person is built (see :mod:`pcosync.domain.normalize`):
names trimmed, empty strings as None, phones in E.164, gender "male" | "female" | None,
the campus as a key of the campus map. The class stays a plain frozen dataclass with slots
so the planner can compare 100,000 of them quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, Literal

Gender = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class Address:
    """A home address. Rock keeps it on the family, PCO on the person (DESIGN §5)."""

    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper case

    def one_line(self) -> str:
        head = ", ".join(p for p in (self.street1, self.street2, self.city) if p)
        tail = " ".join(p for p in (self.state, self.postal_code) if p)
        parts = [p for p in (head, tail, self.country) if p]
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Person:
    """The synced fields of one person, in the order of :data:`pcosync.domain.fields.FIELDS`."""

    first_name: str | None = None
    nickname: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    gender: Gender | None = None
    birthdate: date | None = None
    anniversary: date | None = None
    email: str | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    work_phone: str | None = None
    home_address: Address | None = None
    campus: str | None = None

    @property
    def display_name(self) -> str:
        """The name an admin recognises: nickname (if any) or first name, then last name."""
        given = self.nickname or self.first_name or ""
        full = f"{given} {self.last_name or ''}".strip()
        return full or "(no name)"

    def with_values(self, **values: Any) -> Person:
        return replace(self, **values)


PERSON_ATTRS: tuple[str, ...] = tuple(f.name for f in fields(Person))
EMPTY_PERSON = Person()
