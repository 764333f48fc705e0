"""Characters neither store nor the other side can hold (issue 12 §1): a NUL byte, another C0
control, an unpaired surrogate. They are never written anywhere: the person is parked naming
the field, and the rest of the run goes on, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import pytest

from pcosync.adapters.sanitize import problem, screen, scrub
from pcosync.domain import InvalidValue
from pcosync.store import RunStatus
from tests.robustness.conftest import Church, cli, links, unsafe_in_store
from tests.safety.conftest import pco_person, rock_person


def test_a_nul_byte_is_parked_and_every_other_edit_still_syncs(any_church: Church) -> None:
    church = any_church
    church.sync()
    a, b, c = links(church)[:3]
    church.pco_control(f"people/{a.pco_person_id}", {"first_name": "Nul\x00Byte"})
    church.rock_control(f"people/{b.rock_person_id}", {"MiddleName": "Bell\x07"})
    church.pco_control(f"people/{c.pco_person_id}", {"last_name": "Tenedits"})
    rock_first = rock_person(church, a.rock_person_id)["FirstName"]

    result = cli(church, "sync")
    assert result.exit_code == 3, result.output  # partial: records parked, nothing failed
    assert "Traceback" not in result.output and "DataError" not in result.output
    assert rock_person(church, c.rock_person_id)["LastName"] == "Tenedits"
    assert rock_person(church, a.rock_person_id)["FirstName"] == rock_first
    assert pco_person(church, b.pco_person_id)["middle_name"] != "Bell\x07"

    store = church.store()
    try:
        reasons = {p.record_key: p.reason for p in store.parked.list()}
        assert unsafe_in_store(store) == []
    finally:
        store.close()
    first = reasons[f"person:{a.pco_person_id}"]
    assert first.startswith(f"Planning Center person {a.pco_person_id} (Nul␀Byte")
    assert "First name contains a NUL character, which pcosync cannot store" in first
    middle = reasons[f"person:{b.rock_person_id}"]
    assert "Middle name contains an invisible control character (U+0007)" in middle

    # later runs go on (the parked people wait), and a correction settles it
    assert cli(church, "sync").exit_code == 3
    church.pco_control(f"people/{a.pco_person_id}", {"first_name": "Nulbyte"})
    church.rock_control(f"people/{b.rock_person_id}", {"MiddleName": "Bell"})
    after = church.sync()
    assert after.status is RunStatus.DONE, after.as_dict()
    assert rock_person(church, a.rock_person_id)["FirstName"] == "Nulbyte"
    assert pco_person(church, b.pco_person_id)["middle_name"] == "Bell"


def test_a_new_person_with_a_control_character_is_not_created(church: Church) -> None:
    dry = church.sync(dry_run=True)
    store = church.store()
    try:
        creates = [
            j.operation.ref.pco_id
            for j in store.journal.list(dry.run_id)
            if j.operation.kind.value == "create" and j.operation.side.value == "rock"
        ]
    finally:
        store.close()
    assert creates, "the seeded church has serving people only Planning Center knows"
    pid = creates[0]
    church.pco_control(f"people/{pid}", {"last_name": "Form\x0cfeed"})
    summary = church.sync()
    assert summary.status is RunStatus.PARTIAL and summary.parked == dry.parked + 1
    assert summary.created["rock"] == len(creates) - 1
    assert pco_person(church, pid)["remote_id"] is None  # not created, so not linked


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Nul\x00Byte", "a NUL character"),
        ("Bell\x07", "an invisible control character (U+0007)"),
        ("Esc\x1b[31m", "an invisible control character (U+001B)"),
        ("Half\ud83dsurrogate", "broken Unicode (an unpaired surrogate)"),
    ],
)
def test_the_boundary_names_the_field_never_the_value(text: str, why: str) -> None:
    assert problem(text) is not None and why in str(problem(text))
    with pytest.raises(InvalidValue) as caught:
        screen({"first_name": "Ann", "last_name": text})
    assert caught.value.field_name == "last_name"
    assert text not in str(caught.value) and text not in repr(caught.value)
    assert problem(scrub(text)) is None


def test_tabs_newlines_and_ordinary_unicode_pass() -> None:
    for text in ("Ann\tMarie", "Line\nbreak", "Crlf\r\n", "Zoë Ångström", "李小龍", "🙂"):
        assert problem(text) is None
    screen({"home_address": ("1 Main St", None, "Zürich"), "email": None})
