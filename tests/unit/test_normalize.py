"""Normalisation and the field registry: what counts as the same value, and clear errors."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcosync.domain import (
    FIELD_SPECS,
    Address,
    Direction,
    FieldName,
    Gender,
    InvalidValue,
    Person,
    Side,
    build_person,
    date_from_parts,
    field_spec,
    fold_name,
    gender_to_pco,
    gender_to_rock,
    normalize_address,
    normalize_date,
    normalize_email,
    normalize_gender,
    normalize_name,
    normalize_phone,
    person_from_json,
    person_to_json,
)
from pcosync.errors import InvalidFieldValue, SyncDataError


@pytest.mark.parametrize(
    "raw",
    ["(202) 555-0143", "202.555.0143", "+1 202 555 0143", "2025550143", " 202-555-0143 "],
)
def test_us_phone_formats_become_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+12025550143"


def test_phone_with_extension_drops_it() -> None:
    assert normalize_phone("202-555-0143 ext. 12") == "+12025550143"


def test_phone_in_another_region() -> None:
    assert normalize_phone("020 7946 0958", default_region="GB") == "+442079460958"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_empty_phone_is_none(raw: str | None) -> None:
    assert normalize_phone(raw) is None


@pytest.mark.parametrize("raw", ["12", "call me maybe", "555-0143", "+1 000 000 0000"])
def test_bad_phone_raises_naming_the_field_not_the_value(raw: str) -> None:
    with pytest.raises(InvalidFieldValue) as info:
        normalize_phone(raw, field="mobile_phone")
    err = info.value
    assert err.field_name == "mobile_phone"
    assert isinstance(err, SyncDataError)
    assert raw.strip() not in str(err)
    assert raw.strip() not in repr(err)
    assert isinstance(err, InvalidValue) and err.value == raw


def test_email_is_trimmed_and_domain_lowercased() -> None:
    assert normalize_email("  Jane.Doe@Example.ORG ") == "Jane.Doe@example.org"
    assert normalize_email("a+tag@sub.example.co.uk") == "a+tag@sub.example.co.uk"
    assert normalize_email("") is None
    assert normalize_email(None) is None


@pytest.mark.parametrize(
    "raw",
    [
        "plainaddress",
        "jane@",
        "@example.org",
        "jane@example",
        "jane doe@example.org",
        "jane@@example.org",
        "jane..doe@example.org",
        "jane@-example.org",
        "jane@example.c0m",
        "j" * 250 + "@example.org",
    ],
)
def test_bad_email_raises_without_the_value(raw: str) -> None:
    with pytest.raises(InvalidValue) as info:
        normalize_email(raw)
    assert info.value.field_name == "email"
    assert raw not in str(info.value)
    assert info.value.value == raw


def test_names_are_trimmed_and_empty_is_none() -> None:
    assert normalize_name("  Mary   Ann ") == "Mary Ann"
    assert normalize_name("") is None
    assert normalize_name("   ") is None
    with pytest.raises(InvalidValue):
        normalize_name(42, field="first_name")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Male", "male"),
        ("M", "male"),
        ("female", "female"),
        ("F", "female"),
        (1, "male"),
        (2, "female"),
        (0, None),
        ("Unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_gender_from_either_side(raw: object, expected: str | None) -> None:
    assert normalize_gender(raw) == expected


@pytest.mark.parametrize("raw", ["Other", 3, True, "x"])
def test_unrecognised_gender_raises(raw: object) -> None:
    with pytest.raises(InvalidValue) as info:
        normalize_gender(raw)
    assert info.value.field_name == "gender"


def test_gender_round_trips_to_each_side() -> None:
    genders: list[Gender | None] = ["male", "female", None]
    for g in genders:
        assert normalize_gender(gender_to_rock(g)) == g
        assert normalize_gender(gender_to_pco(g)) == g


def test_dates() -> None:
    assert normalize_date("1988-06-02") == date(1988, 6, 2)
    assert normalize_date("1988-06-02T00:00:00") == date(1988, 6, 2)  # Rock / PCO date-time
    assert normalize_date(datetime(1988, 6, 2, 23, 30)) == date(1988, 6, 2)
    assert normalize_date("") is None
    with pytest.raises(InvalidValue):
        normalize_date("02/06/1988", field="birthdate")


def test_rock_birthday_parts() -> None:
    assert date_from_parts(2, 6, 1988) == date(1988, 6, 2)
    assert date_from_parts(2, 6, None) is None  # a birthday without a year reads as empty
    with pytest.raises(InvalidValue):
        date_from_parts(30, 2, 1988)


def test_address_normalisation() -> None:
    assert normalize_address("", None, " ", None, None, None) is None
    assert normalize_address(None, None, None, None, None, "US") is None
    addr = normalize_address(" 1 Main  St ", "", "Springfield", "IL", "62701", "us")
    assert addr == Address("1 Main St", None, "Springfield", "IL", "62701", "US")


def test_build_person_names_the_bad_field() -> None:
    with pytest.raises(InvalidValue) as info:
        build_person(first_name="Jane", work_phone="123")
    assert info.value.field_name == "work_phone"
    person = build_person(first_name=" Jane ", gender="F", mobile_phone="202 555 0143")
    assert person == Person(first_name="Jane", gender="female", mobile_phone="+12025550143")


def test_email_comparison_ignores_case_only() -> None:
    spec = field_spec(FieldName.EMAIL)
    assert spec.same("Jane@Example.org", "jane@example.org")
    assert not spec.same("jane@example.org", "jane2@example.org")
    assert not spec.same("jane@example.org", None)


def test_name_comparison_is_exact() -> None:
    assert not field_spec("last_name").same("mcdonald", "McDonald")


def test_address_comparison_ignores_case_punctuation_spacing() -> None:
    spec = FIELD_SPECS[FieldName.HOME_ADDRESS]
    a = Address("1 Main St.", None, "Springfield", "IL", "62701", "US")
    b = Address("1 main st", None, "SPRINGFIELD", "il", "62701", "US")
    c = Address("2 Main St", None, "Springfield", "IL", "62701", "US")
    assert spec.same(a, b)
    assert not spec.same(a, c)
    assert not spec.same(a, None)


def test_labels_and_display() -> None:
    assert FIELD_SPECS[FieldName.MOBILE_PHONE].label == "Mobile phone"
    assert field_spec("mobile_phone").display("+12025550143") == "+1 202-555-0143"
    assert field_spec("birthdate").display(date(1990, 1, 2)) == "1990-01-02"
    assert field_spec("email").display(None) == "(empty)"
    assert field_spec("gender").display("female") == "Female"
    assert "Springfield" in field_spec("home_address").display(
        Address("1 Main St", None, "Springfield", "IL", "62701", "US")
    )
    assert all(spec.label for spec in FIELD_SPECS.values())


def test_direction_writes() -> None:
    assert Direction.BOTH.writes(Side.ROCK) and Direction.BOTH.writes(Side.PCO)
    assert Direction.ROCK_TO_PCO.writes(Side.PCO) and not Direction.ROCK_TO_PCO.writes(Side.ROCK)
    assert Direction.PCO_TO_ROCK.writes(Side.ROCK) and not Direction.PCO_TO_ROCK.writes(Side.PCO)
    assert not Direction.OFF.writes(Side.ROCK) and not Direction.OFF.writes(Side.PCO)


def test_fold_name_for_matching() -> None:
    assert fold_name("  José  María ") == "jose maria"
    assert fold_name("ÅSA") == fold_name("asa")
    assert fold_name("") is None


_text = st.one_of(st.none(), st.text(min_size=1, max_size=8))
_dates = st.one_of(st.none(), st.dates())
_addresses = st.one_of(st.none(), st.builds(Address, _text, _text, _text, _text, _text, _text))
people = st.builds(
    Person,
    first_name=_text,
    nickname=_text,
    middle_name=_text,
    last_name=_text,
    gender=st.sampled_from(["male", "female", None]),
    birthdate=_dates,
    anniversary=_dates,
    email=_text,
    mobile_phone=_text,
    home_phone=_text,
    work_phone=_text,
    home_address=_addresses,
    campus=_text,
)


@given(people, st.sets(st.sampled_from(list(FieldName))))
def test_person_json_round_trip(person: Person, only: set[FieldName]) -> None:
    restored, present = person_from_json(person_to_json(person))
    assert restored == person
    assert present == frozenset(FieldName)
    partial, present = person_from_json(person_to_json(person, frozenset(only)))
    assert present == frozenset(only)
    for name in FieldName:
        expected = getattr(person, name.value) if name in only else None
        assert getattr(partial, name.value) == expected


def test_a_nickname_equal_to_the_first_name_is_no_nickname_on_every_side() -> None:
    # simulation seed 1: Planning Center kept nickname "Isabel" beside first name "Isabel"
    # while Rock (NickName = FirstName by default) read it as no nickname, so the next run
    # took Rock's "no nickname" for an edit and cleared the person's own nickname in PCO
    from pcosync.domain.normalize import build_person

    assert build_person(first_name="Isabel", nickname="Isabel").nickname is None
    assert build_person(first_name="Isabel", nickname=" Isabel ").nickname is None
    assert build_person(first_name="Isabel", nickname="Izzy").nickname == "Izzy"
