"""The field registry: one entry per synced field, saying how to compare, show and store it.

Comparison keys decide what counts as an edit. Only differences a person would call a change
count: email case never does, nor does punctuation or spacing in an address. Everything else
compares exactly, because the values are already normalised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from pcosync.domain.normalize import format_phone
from pcosync.domain.person import PERSON_ATTRS, Address, Person

FieldValue = str | date | Address | None


class FieldName(StrEnum):
    """The synced person fields, in :class:`Person` attribute order."""

    FIRST_NAME = "first_name"
    NICKNAME = "nickname"
    MIDDLE_NAME = "middle_name"
    LAST_NAME = "last_name"
    GENDER = "gender"
    BIRTHDATE = "birthdate"
    ANNIVERSARY = "anniversary"
    EMAIL = "email"
    MOBILE_PHONE = "mobile_phone"
    HOME_PHONE = "home_phone"
    WORK_PHONE = "work_phone"
    HOME_ADDRESS = "home_address"
    CAMPUS = "campus"


FIELDS: tuple[FieldName, ...] = tuple(FieldName)
assert tuple(f.value for f in FIELDS) == PERSON_ATTRS, "FieldName must follow Person's order"


class FieldKind(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    GENDER = "gender"
    ADDRESS = "address"
    CAMPUS = "campus"


_PUNCT = re.compile(r"[.,#]")


def _fold(text: str | None) -> str | None:
    if text is None:
        return None
    return " ".join(_PUNCT.sub(" ", text).casefold().split()) or None


def email_key(value: FieldValue) -> Hashable:
    return value.casefold() if isinstance(value, str) else value


def address_key(value: FieldValue) -> Hashable:
    """Case, punctuation and spacing do not make an address different."""
    if not isinstance(value, Address):
        return value
    postal = value.postal_code.replace(" ", "").upper() if value.postal_code else None
    return (
        _fold(value.street1),
        _fold(value.street2),
        _fold(value.city),
        _fold(value.state),
        postal,
        value.country.upper() if value.country else None,
    )


def _display(value: FieldValue, kind: FieldKind) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, Address):
        return value.one_line() or "(empty)"
    if isinstance(value, date):
        return value.isoformat()
    if kind is FieldKind.PHONE:
        return format_phone(value)
    if kind is FieldKind.GENDER:
        return value.capitalize()
    return value


def value_to_json(value: FieldValue) -> Any:
    """JSON form used by the state store (bases, journal before/after images)."""
    if isinstance(value, Address):
        return {
            "street1": value.street1,
            "street2": value.street2,
            "city": value.city,
            "state": value.state,
            "postal_code": value.postal_code,
            "country": value.country,
        }
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: FieldName
    label: str  # how an admin reads it: "Mobile phone"
    kind: FieldKind
    key: Callable[[FieldValue], Hashable] | None  # None: compare values as they are

    def same(self, a: FieldValue, b: FieldValue) -> bool:
        """True when the two values are the same for the purpose of syncing."""
        if a == b:
            return True
        # every key maps None, and only None, to None: a value is never the same as no value
        if self.key is None or a is None or b is None:
            return False
        return self.key(a) == self.key(b)

    def display(self, value: FieldValue) -> str:
        return _display(value, self.kind)

    def to_json(self, value: FieldValue) -> Any:
        return value_to_json(value)

    def from_json(self, raw: Any) -> FieldValue:
        if raw is None:
            return None
        if self.kind is FieldKind.ADDRESS:
            if not isinstance(raw, Mapping):
                raise ValueError(f"{self.name}: stored address is not an object")
            return Address(
                raw.get("street1"),
                raw.get("street2"),
                raw.get("city"),
                raw.get("state"),
                raw.get("postal_code"),
                raw.get("country"),
            )
        if self.kind is FieldKind.DATE:
            return date.fromisoformat(str(raw))
        if not isinstance(raw, str):
            raise ValueError(f"{self.name}: stored value is not text")
        return raw


_SPECS: tuple[FieldSpec, ...] = (
    FieldSpec(FieldName.FIRST_NAME, "First name", FieldKind.TEXT, None),
    FieldSpec(FieldName.NICKNAME, "Nickname", FieldKind.TEXT, None),
    FieldSpec(FieldName.MIDDLE_NAME, "Middle name", FieldKind.TEXT, None),
    FieldSpec(FieldName.LAST_NAME, "Last name", FieldKind.TEXT, None),
    FieldSpec(FieldName.GENDER, "Gender", FieldKind.GENDER, None),
    FieldSpec(FieldName.BIRTHDATE, "Birthdate", FieldKind.DATE, None),
    FieldSpec(FieldName.ANNIVERSARY, "Anniversary", FieldKind.DATE, None),
    FieldSpec(FieldName.EMAIL, "Email", FieldKind.EMAIL, email_key),
    FieldSpec(FieldName.MOBILE_PHONE, "Mobile phone", FieldKind.PHONE, None),
    FieldSpec(FieldName.HOME_PHONE, "Home phone", FieldKind.PHONE, None),
    FieldSpec(FieldName.WORK_PHONE, "Work phone", FieldKind.PHONE, None),
    FieldSpec(FieldName.HOME_ADDRESS, "Home address", FieldKind.ADDRESS, address_key),
    FieldSpec(FieldName.CAMPUS, "Campus", FieldKind.CAMPUS, None),
)

FIELD_SPECS: Mapping[FieldName, FieldSpec] = {s.name: s for s in _SPECS}
SPECS_IN_ORDER: tuple[FieldSpec, ...] = tuple(FIELD_SPECS[f] for f in FIELDS)


def field_spec(name: FieldName | str) -> FieldSpec:
    return FIELD_SPECS[FieldName(name)]


def get_value(person: Person, name: FieldName) -> FieldValue:
    value: FieldValue = getattr(person, name.value)
    return value


def person_to_json(person: Person, only: frozenset[FieldName] | None = None) -> dict[str, Any]:
    """``{field: json value}``; ``only`` limits the fields written (missing = unknown)."""
    return {
        spec.name.value: spec.to_json(getattr(person, spec.name.value))
        for spec in SPECS_IN_ORDER
        if only is None or spec.name in only
    }


def person_from_json(raw: Mapping[str, Any]) -> tuple[Person, frozenset[FieldName]]:
    """The person, and the set of fields that were present (the others read as None)."""
    values: dict[str, FieldValue] = {}
    present: set[FieldName] = set()
    for key, item in raw.items():
        try:
            name = FieldName(key)
        except ValueError:
            continue  # a field this version does not sync: ignore, keep going
        values[name.value] = FIELD_SPECS[name].from_json(item)
        present.add(name)
    return Person(**values), frozenset(present)  # type: ignore[arg-type]
