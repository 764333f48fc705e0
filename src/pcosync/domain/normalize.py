"""Turning what Rock and Planning Center send into canonical values, with clear errors.

Every function maps "nothing there" (None, "", whitespace) to None, so an empty string on one
side and a missing value on the other never look like an edit. Errors are
:class:`InvalidValue` (an :class:`~pcosync.errors.InvalidFieldValue`): the message names the
field and the reason but never the value, because messages end up in logs; the value rides
along on ``.value`` for the one screen that shows an admin their own record.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from datetime import date, datetime

import phonenumbers

from pcosync.domain.person import Address, Gender, Person
from pcosync.errors import InvalidFieldValue


class InvalidValue(InvalidFieldValue):
    """A value that does not parse; ``value`` holds it, the message does not."""

    def __init__(self, field_name: str, reason: str, value: object = None) -> None:
        super().__init__(field_name, reason)
        self.value = value

    def __repr__(self) -> str:  # keep the value out of tracebacks and log lines too
        return f"InvalidValue({self.field_name!r}, {self.reason!r})"


def clean_text(raw: object, *, field: str = "text") -> str | None:
    """Trim and collapse inner whitespace; empty means None."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidValue(field, "is not text", raw)
    text = " ".join(raw.split())
    return text or None


def normalize_name(raw: object, *, field: str = "name") -> str | None:
    # names repeat a great deal (a church of 100,000 has a few thousand first names): one
    # string per distinct name, not one per person (issue 14, memory)
    text = clean_text(raw, field=field)
    return None if text is None else sys.intern(text)


_EMAIL_LOCAL = r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
_EMAIL_DOMAIN = r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}"
_EMAIL_RE = re.compile(rf"^{_EMAIL_LOCAL}@{_EMAIL_DOMAIN}$")


def normalize_email(raw: object, *, field: str = "email") -> str | None:
    """Trimmed address with the domain in lower case; the local part keeps its case.

    The pattern is deliberately "sane", not full RFC 5322: dotted atoms before the @, a
    dotted host name with a letters-only TLD after it, no spaces, at most 254 characters.
    Comparisons elsewhere ignore case entirely (see :mod:`pcosync.domain.fields`).
    """
    text = clean_text(raw, field=field)
    if text is None:
        return None
    if " " in text:
        raise InvalidValue(field, "is not a valid email address (it contains a space)", raw)
    if len(text) > 254:
        raise InvalidValue(field, "is longer than 254 characters", raw)
    if not _EMAIL_RE.match(text):
        raise InvalidValue(field, "is not a valid email address", raw)
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_phone(raw: object, default_region: str = "US", *, field: str = "phone") -> str | None:
    """E.164 (``+12025550143``) via ``phonenumbers``; extensions are dropped.

    Numbers without a country code are read in ``default_region``. Rock sends digits and a
    separate country code: pass ``"+" + CountryCode + Number`` when the code is known.
    """
    text = clean_text(raw, field=field)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidValue(field, "is not a phone number", raw) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(
            field, f"is not a valid phone number (read with default region {default_region})", raw
        )
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def format_phone(e164: str) -> str:
    """A readable form for review screens: ``+1 202-555-0143``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    text: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return text


_GENDERS: dict[str, Gender | None] = {
    "m": "male",
    "male": "male",
    "f": "female",
    "female": "female",
    "u": None,
    "unknown": None,
}
_ROCK_GENDERS: dict[int, Gender | None] = {0: None, 1: "male", 2: "female"}


def normalize_gender(raw: object, *, field: str = "gender") -> Gender | None:
    """PCO "Male"/"Female" (or "M"/"F" before 2022-07-14), Rock 0/1/2 → canonical."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise InvalidValue(field, "is not a gender", raw)
    if isinstance(raw, int):
        if raw in _ROCK_GENDERS:
            return _ROCK_GENDERS[raw]
        raise InvalidValue(field, "is not a Rock gender (0 unknown, 1 male, 2 female)", raw)
    text = clean_text(raw, field=field)
    if text is None:
        return None
    key = text.lower()
    if key in _GENDERS:
        return _GENDERS[key]
    raise InvalidValue(field, "is not Male, Female or Unknown", raw)


def gender_to_rock(gender: Gender | None) -> int:
    return {None: 0, "male": 1, "female": 2}[gender]


def gender_to_pco(gender: Gender | None) -> str | None:
    return {None: None, "male": "Male", "female": "Female"}[gender]


def normalize_date(raw: object, *, field: str = "date") -> date | None:
    """ISO dates, and the date part of Rock's/PCO's ``1988-06-02T00:00:00`` date-times.

    The time part is ignored on purpose: birthdays and anniversaries are calendar dates,
    and converting them between time zones would move them by a day.
    """
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = clean_text(raw, field=field)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise InvalidValue(field, "is not a date (expected YYYY-MM-DD)", raw) from exc


def date_from_parts(
    day: int | None, month: int | None, year: int | None, *, field: str = "birthdate"
) -> date | None:
    """Rock's ``BirthDay/BirthMonth/BirthYear``. A birthday without a year reads as empty,
    because PCO can only hold a full date; a full date from PCO will then fill Rock in."""
    if day is None or month is None or year is None:
        return None
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise InvalidValue(field, "is not a real calendar date", (day, month, year)) from exc


def normalize_address(
    street1: object = None,
    street2: object = None,
    city: object = None,
    state: object = None,
    postal_code: object = None,
    country: object = None,
    *,
    field: str = "home_address",
) -> Address | None:
    """Trimmed parts; an address with every part empty is no address (None)."""
    parts = [clean_text(p, field=field) for p in (street1, street2, city, state, postal_code)]
    if all(p is None for p in parts):
        return None  # nothing, or a bare country (Rock fills it in by default)
    ctry = clean_text(country, field=field)
    if ctry is not None:
        ctry = sys.intern(ctry.upper())
    # city, state and country repeat from one address to the next: shared, not copied
    city, state = (sys.intern(p) if p is not None else None for p in parts[2:4])
    return Address(parts[0], parts[1], city, state, parts[4], ctry)


def normalize_campus(raw: object, *, field: str = "campus") -> str | None:
    return clean_text(raw, field=field)


def fold_name(text: str | None) -> str | None:
    """Matching key for names: case-folded, accents removed, whitespace collapsed."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = " ".join(stripped.casefold().split())
    return folded or None


def build_person(
    *,
    first_name: object = None,
    nickname: object = None,
    middle_name: object = None,
    last_name: object = None,
    gender: object = None,
    birthdate: object = None,
    anniversary: object = None,
    email: object = None,
    mobile_phone: object = None,
    home_phone: object = None,
    work_phone: object = None,
    home_address: Address | None = None,
    campus: object = None,
    default_region: str = "US",
) -> Person:
    """Normalise every field of a raw record; the first bad field raises :class:`InvalidValue`.

    A nickname equal to the first name is no nickname, on every side: Rock fills NickName
    with FirstName by default, so reading it one way on Rock and another on Planning Center
    would make one person's edit look like a change on the other side (simulation seed 1).
    """
    first = normalize_name(first_name, field="first_name")
    nick = normalize_name(nickname, field="nickname")
    return Person(
        first_name=first,
        nickname=None if nick == first else nick,
        middle_name=normalize_name(middle_name, field="middle_name"),
        last_name=normalize_name(last_name, field="last_name"),
        gender=normalize_gender(gender),
        birthdate=normalize_date(birthdate, field="birthdate"),
        anniversary=normalize_date(anniversary, field="anniversary"),
        email=normalize_email(email),
        mobile_phone=normalize_phone(mobile_phone, default_region, field="mobile_phone"),
        home_phone=normalize_phone(home_phone, default_region, field="home_phone"),
        work_phone=normalize_phone(work_phone, default_region, field="work_phone"),
        home_address=home_address,
        campus=normalize_campus(campus),
    )
