"""The Planning Center adapter against the PCO emulator, over real HTTP (no mocks)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from pcosync.adapters import CampusMap, PcoPeople
from pcosync.clients.http import RetryPolicy
from pcosync.clients.pco import PcoClient
from pcosync.domain import Address, FieldName, FieldValue, InvalidValue, Person, Side
from pcosync.errors import AmbiguousWriteError
from tests.adapters.helpers import (
    control,
    freeze_clock,
    future,
    request_count,
    reset_stats,
    routes,
    set_faults,
)
from tests.conftest import RunningEmulator

FAST_RETRY = RetryPolicy(max_attempts=3, max_total_seconds=10, base_seconds=0.05, cap_seconds=0.2)


@dataclass
class Pco:
    url: str
    client: PcoClient
    adapter: PcoPeople
    campus_ids: dict[str, str]  # name -> PCO campus id

    def fresh_adapter(self, **kw: object) -> PcoPeople:
        return PcoPeople(self.client, self.adapter.campus_map, **kw)  # type: ignore[arg-type]


def make_client(emulator: RunningEmulator, **kw: object) -> PcoClient:
    return PcoClient(
        emulator.url,
        app_id=emulator.credentials["app_id"],
        secret=emulator.credentials["secret"],
        retry=FAST_RETRY,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def pco(pco_emulator: RunningEmulator) -> AsyncIterator[Pco]:
    client = make_client(pco_emulator)
    campuses = {c.name: c.id for c in await client.campuses()}
    campus_map = CampusMap([{"name": n, "pco_id": i} for n, i in campuses.items()])
    reset_stats(pco_emulator.url)
    yield Pco(pco_emulator.url, client, PcoPeople(client, campus_map), campuses)
    await client.aclose()


async def raw_person(pco: Pco, **attrs: object) -> str:
    """A person created through the plain API (not the adapter), like a staff member would."""
    person = await pco.client.create_person({"first_name": "Test", "last_name": "Person", **attrs})
    return person.id


def total_people(url: str) -> int:
    return int(control(url, "info")["people"])


# ---------------------------------------------------------------- reading and mapping


async def test_fetch_all_reads_everyone_in_ceil_n_over_100_requests(pco: Pco) -> None:
    total = total_people(pco.url)
    seen = [p async for p in pco.adapter.fetch_all()]
    assert len(seen) + len(pco.adapter.rejected) == total
    assert len({p.id for p in seen}) == len(seen)
    assert request_count(pco.url) == math.ceil(total / 100)
    assert all(p.side is Side.PCO and p.modified_at is not None for p in seen)
    # the seeded church has contacts and campuses; they must come through the includes
    assert sum(p.person.email is not None for p in seen) > total // 2
    assert sum(p.person.mobile_phone is not None for p in seen) > total // 2
    assert sum(p.person.home_address is not None for p in seen) > total // 2
    assert {p.person.campus for p in seen} >= set(pco.campus_ids)


async def test_every_field_maps_to_the_canonical_person(pco: Pco) -> None:
    pid = await raw_person(
        pco,
        first_name="Katherine",
        nickname="Kate",
        middle_name="Anne",
        last_name="Okafor",
        gender="Female",
        birthdate="1984-03-09",
        anniversary="2010-06-12",
        remote_id=9191,
        primary_campus_id=int(pco.campus_ids["North Campus"]),
    )
    c = pco.client
    await c.create_email(pid, "kate.work@example.org", location="Work", primary=False)
    await c.create_email(pid, "Kate.Okafor@Example.COM", location="Home", primary=True)
    await c.create_phone(pid, "(214) 555-0143", location="mobile")  # label case differs
    await c.create_phone(pid, "+1 312 555 0177", location="Home")
    await c.create_phone(pid, "404-555-0188", location="WORK")
    await c.create_address(
        pid,
        {"street_line_1": "9 Elm St", "city": "Dallas", "state": "TX", "zip": "75201",
         "location": "Work", "primary": False},
    )  # fmt: skip
    await c.create_address(
        pid,
        {"street_line_1": "12 Oak Ave", "street_line_2": "Apt 4", "city": "Plano",
         "state": "TX", "zip": "75024", "location": "Home", "primary": False},
    )  # fmt: skip

    seen = await pco.adapter.fetch_one(pid)

    assert seen is not None
    assert seen.person == Person(
        first_name="Katherine",
        nickname="Kate",
        middle_name="Anne",
        last_name="Okafor",
        gender="female",
        birthdate=date(1984, 3, 9),
        anniversary=date(2010, 6, 12),
        email="Kate.Okafor@example.com",  # the primary one; domain folded to lower case
        mobile_phone="+12145550143",
        home_phone="+13125550177",
        work_phone="+14045550188",
        home_address=Address("12 Oak Ave", "Apt 4", "Plano", "TX", "75024", "US"),
        campus="North Campus",
    )
    assert seen.link_hint == 9191
    assert seen.alias_id is None


async def test_email_falls_back_to_the_first_and_address_to_the_primary(pco: Pco) -> None:
    pid = await raw_person(pco)
    await pco.client.create_email(pid, "only@example.com", location="Home", primary=False)
    await pco.client.create_address(
        pid,
        {"street_line_1": "1 Work Rd", "city": "Austin", "state": "TX", "zip": "73301",
         "location": "Work", "primary": True},
    )  # fmt: skip
    seen = await pco.adapter.fetch_one(pid)
    assert seen is not None
    assert seen.person.email == "only@example.com"
    assert seen.person.home_address is not None
    assert seen.person.home_address.street1 == "1 Work Rd"


async def test_single_letter_genders_of_older_api_versions(pco_emulator: RunningEmulator) -> None:
    async with make_client(pco_emulator) as modern:
        pid = (await modern.create_person({"first_name": "Al", "last_name": "X", "gender": "M"})).id
    async with make_client(pco_emulator, versions={"people": "2022-01-28"}) as old:
        raw = await old.person(pid)
        assert raw.gender == "M"  # the old version really sends the letter
        seen = await PcoPeople(old, CampusMap()).fetch_one(pid)
    assert seen is not None
    assert seen.person.gender == "male"


async def test_unknown_campus_reads_as_none_with_a_note(pco: Pco) -> None:
    partial = CampusMap([{"name": "Main Campus", "pco_id": pco.campus_ids["Main Campus"]}])
    adapter = PcoPeople(pco.client, partial)
    north = pco.campus_ids["North Campus"]
    pid = await raw_person(pco, primary_campus_id=int(north))
    seen = await adapter.fetch_one(pid)
    assert seen is not None
    assert seen.person.campus is None
    assert len(partial.notes) == 1 and north in partial.notes[0]


# ---------------------------------------------------------------- rejected records


async def test_malformed_email_is_rejected_naming_the_field_not_the_value(pco: Pco) -> None:
    bad = "kate..okafor@example.com"  # PCO accepts it; our normaliser does not
    pid = await raw_person(pco, first_name="Kate", last_name="Okafor")
    await pco.client.create_email(pid, bad, location="Home", primary=True)

    assert await pco.adapter.fetch_one(pid) is None
    [rejected] = pco.adapter.rejected
    assert (rejected.side, rejected.record_id, rejected.field) == (Side.PCO, pid, "email")
    assert "Kate Okafor" in rejected.message
    assert "Email" in rejected.message
    assert bad not in rejected.message and bad not in rejected.reason


async def test_unparseable_phone_is_rejected_and_left_out_of_fetch_all(pco: Pco) -> None:
    bad = "call the office"
    pid = await raw_person(pco)
    await pco.client.create_phone(pid, bad, location="Work")
    seen = [p async for p in pco.adapter.fetch_all()]
    assert pid not in {p.id for p in seen}
    [rejected] = [r for r in pco.adapter.rejected if r.record_id == pid]
    assert rejected.field == "work_phone"
    assert "Work phone" in rejected.message
    assert bad not in rejected.message


# ---------------------------------------------------------------- modified_at and changes


async def test_modified_at_follows_a_phone_only_change(pco: Pco) -> None:
    pid = await raw_person(pco)
    phone = await pco.client.create_phone(pid, "2145550101", location="Mobile")
    before = await pco.adapter.fetch_one(pid)
    when = freeze_clock(pco.url, future())
    await pco.client.update_phone(phone.id, {"number": "2145550102"})
    after = await pco.adapter.fetch_one(pid)
    assert before is not None and after is not None
    assert after.modified_at == when
    assert before.modified_at is not None and before.modified_at < when
    assert after.person.mobile_phone == "+12145550102"


async def test_modified_at_follows_an_address_only_change(pco: Pco) -> None:
    pid = await raw_person(pco)
    addr = await pco.client.create_address(
        pid, {"street_line_1": "1 A St", "city": "Waco", "state": "TX", "zip": "76701"}
    )
    when = freeze_clock(pco.url, future())
    await pco.client.update_address(addr.id, {"street_line_1": "2 B St"})
    after = await pco.adapter.fetch_one(pid)
    assert after is not None
    assert after.modified_at == when
    assert after.person.home_address is not None
    assert after.person.home_address.street1 == "2 B St"


async def test_fetch_changed_returns_exactly_the_changed_people(pco: Pco) -> None:
    everyone = [p async for p in pco.adapter.fetch_all()]
    a, b, c = (str(p.id) for p in everyone[:3])
    since = freeze_clock(pco.url, future())
    control(pco.url, f"people/{a}", {"first_name": "Edited"})  # a web UI edit
    phones = (await pco.client.person(b)).phone_numbers
    if phones:
        await pco.client.update_phone(phones[0].id, {"number": "2145550199"})
    else:
        await pco.client.create_phone(b, "2145550199", location="Mobile")
    await pco.client.create_address(
        c, {"street_line_1": "5 New Rd", "city": "Tyler", "state": "TX", "zip": "75701"}
    )
    reset_stats(pco.url)

    changed = [p async for p in pco.adapter.fetch_changed(since)]

    assert {p.id for p in changed} == {a, b, c}
    assert request_count(pco.url) == 4  # people + org-wide emails, phones, addresses
    by_id = {p.id: p for p in changed}
    assert by_id[a].person.first_name == "Edited"


async def test_fetch_changed_when_quiet_costs_four_requests(pco: Pco) -> None:
    changed = [p async for p in pco.adapter.fetch_changed(future())]
    assert changed == []
    assert routes(pco.url) == {
        "GET /people/v2/people": 1,
        "GET /people/v2/emails": 1,
        "GET /people/v2/phone_numbers": 1,
        "GET /people/v2/addresses": 1,
    }


# ---------------------------------------------------------------- writing


async def test_update_round_trip_of_every_field(pco: Pco) -> None:
    pid = await raw_person(pco, first_name="Old", last_name="Name", gender="Male")
    await pco.client.create_phone(pid, "2145550111", location="Home")
    await pco.client.create_email(pid, "old@example.com", location="Home", primary=True)
    changes: dict[FieldName, FieldValue] = {
        FieldName.FIRST_NAME: "Robert",
        FieldName.NICKNAME: "Bob",
        FieldName.MIDDLE_NAME: "James",
        FieldName.LAST_NAME: "Lindqvist",
        FieldName.GENDER: "female",
        FieldName.BIRTHDATE: date(1990, 2, 28),
        FieldName.ANNIVERSARY: date(2015, 9, 5),
        FieldName.EMAIL: "bob.lindqvist@example.net",  # updates the existing record
        FieldName.MOBILE_PHONE: "+19195550123",  # creates one
        FieldName.HOME_PHONE: None,  # deletes the existing one
        FieldName.WORK_PHONE: "+15125550199",
        FieldName.HOME_ADDRESS: Address("77 Pine Ct", None, "Frisco", "TX", "75033", "US"),
        FieldName.CAMPUS: "Downtown Campus",
    }

    written = await pco.adapter.update_person(pid, changes)

    expected = Person(**{f.value: v for f, v in changes.items()})  # type: ignore[arg-type]
    assert written.person == expected
    again = await pco.adapter.fetch_one(pid)
    assert again is not None and again.person == expected
    raw = await pco.client.person(pid)
    assert raw.primary_campus_id == pco.campus_ids["Downtown Campus"]
    assert [e.address for e in raw.emails] == ["bob.lindqvist@example.net"]  # same record
    assert {p.location for p in raw.phone_numbers} == {"Mobile", "Work"}


async def test_clearing_contact_fields_deletes_their_records(pco: Pco) -> None:
    pid = await raw_person(pco)
    await pco.client.create_email(pid, "gone@example.com", location="Home", primary=True)
    await pco.client.create_address(
        pid, {"street_line_1": "1 A St", "city": "Waco", "state": "TX", "zip": "76701"}
    )
    written = await pco.adapter.update_person(
        pid, {FieldName.EMAIL: None, FieldName.HOME_ADDRESS: None, FieldName.CAMPUS: None}
    )
    assert (written.person.email, written.person.home_address, written.person.campus) == (
        None,
        None,
        None,
    )
    raw = await pco.client.person(pid)
    assert raw.emails == [] and raw.addresses == []


async def test_name_only_update_is_one_patch_and_one_read(pco: Pco) -> None:
    pid = await raw_person(pco)
    reset_stats(pco.url)
    written = await pco.adapter.update_person(pid, {FieldName.NICKNAME: "Tess"})
    assert written.person.nickname == "Tess"
    assert routes(pco.url) == {"PATCH /people/v2/people/{id}": 1, "GET /people/v2/people/{id}": 1}


async def test_create_with_link_hint_then_find_it_by_the_hint(pco: Pco) -> None:
    person = Person(
        first_name="Nia",
        last_name="Barros",
        gender="female",
        email="nia.barros@example.org",
        mobile_phone="+16155550142",
        home_phone="+16155550143",
        home_address=Address("3 Hill Rd", None, "Nashville", "TN", "37201", "US"),
        campus="Main Campus",
        birthdate=date(1979, 12, 1),
    )
    created = await pco.adapter.create_person(person, link_hint=5150)
    assert created.person == person
    assert created.link_hint == 5150
    found = await pco.adapter.find_by_link_hint(5150)
    assert [p.id for p in found] == [created.id]
    assert await pco.adapter.find_by_link_hint(5151) == []


async def test_timed_out_create_is_ambiguous_and_found_once_by_link_hint(
    pco_emulator: RunningEmulator,
) -> None:
    async with make_client(pco_emulator, timeout=1.0) as client:
        adapter = PcoPeople(client, CampusMap())
        set_faults(
            pco_emulator.url,
            {"kind": "timeout", "method": "POST", "path": "/people/v2/people",
             "seconds": 3, "after_apply": True, "count": 1},
        )  # fmt: skip
        with pytest.raises(AmbiguousWriteError):
            await adapter.create_person(Person(first_name="Lost", last_name="Answer"), link_hint=77)
        found = await adapter.find_by_link_hint(77)
    assert len(found) == 1
    assert found[0].person.last_name == "Answer"
    assert int(control(pco_emulator.url, "stats")["by_method"]["POST"]) == 1  # never resent


async def test_write_link_sets_and_clears_remote_id(pco: Pco) -> None:
    pid = await raw_person(pco)
    await pco.adapter.write_link(pid, 4321)
    assert [p.id for p in await pco.adapter.find_by_link_hint(4321)] == [pid]
    await pco.adapter.write_link(pid, None)
    seen = await pco.adapter.fetch_one(pid)
    assert seen is not None and seen.link_hint is None


async def test_unknown_campus_name_is_refused_before_anything_is_written(pco: Pco) -> None:
    pid = await raw_person(pco)
    reset_stats(pco.url)
    with pytest.raises(InvalidValue, match="campus"):
        await pco.adapter.update_person(pid, {FieldName.CAMPUS: "Mars Campus"})
    assert request_count(pco.url) == 0


# ---------------------------------------------------------------- identity and lookups


async def test_resolve_merged_follows_the_merger_to_the_survivor(pco: Pco) -> None:
    keep = await raw_person(pco, last_name="Merged")
    remove = await raw_person(pco, last_name="Merged")
    control(pco.url, "merge", {"keep": int(keep), "remove": int(remove)})
    assert await pco.adapter.fetch_one(remove) is None
    assert await pco.adapter.resolve_merged(remove, None) == keep
    mergers = await pco.adapter.mergers_since(future(-1))
    assert [(m.person_to_keep_id, m.person_to_remove_id) for m in mergers] == [(keep, remove)]


async def test_resolve_merged_of_a_deleted_person_is_none(pco: Pco) -> None:
    pid = await raw_person(pco)
    await pco.client.delete(f"/people/v2/people/{pid}")
    assert await pco.adapter.resolve_merged(pid, None) is None


async def test_candidates_share_a_last_name_case_insensitively(pco: Pco) -> None:
    everyone = [p async for p in pco.adapter.fetch_all()]
    last = everyone[0].person.last_name
    assert last is not None
    expected = {p.id for p in everyone if (p.person.last_name or "").casefold() == last.casefold()}
    reset_stats(pco.url)
    found = await pco.adapter.candidates([last.upper(), last.lower()])
    assert {p.id for p in found} == expected
    assert request_count(pco.url) == 1  # one name after case folding


async def test_fetch_many_skips_missing_ids(pco: Pco) -> None:
    a = await raw_person(pco)
    b = await raw_person(pco)
    found = await pco.adapter.fetch_many([a, b, "999999999", a])
    assert sorted(p.id for p in found) == sorted([a, b])


# ---------------------------------------------------------------- scope


async def test_serving_ids_drop_archived_services_people_and_dead_teams(pco: Pco) -> None:
    teams = await pco.client.teams()
    live = {a.person_id for t in teams if t.live for a in t.assignments}
    reset_stats(pco.url)
    serving = await pco.adapter.serving_ids(full=True)
    assert serving and serving <= live
    assert pco.adapter.scope == serving
    full_requests = request_count(pco.url)

    # someone serving only on dead teams is out; someone archived in Services is out
    dead_only = {a.person_id for t in teams if not t.live for a in t.assignments} - live
    assert not (serving & dead_only)
    target = sorted(serving)[0]
    freeze_clock(pco.url, future())
    control(pco.url, f"services/people/{target}/archive", {})
    reset_stats(pco.url)

    after = await pco.adapter.serving_ids(full=False)

    assert after == serving - {target}
    assert request_count(pco.url) == 2  # the teams sweep + Services people changed since
    assert full_requests >= 2
    seen = await pco.adapter.fetch_one(target)
    assert seen is not None and seen.in_scope is False


async def test_people_on_live_teams_are_in_scope_until_a_team_is_archived(pco: Pco) -> None:
    teams = [t for t in await pco.client.teams() if t.live and t.assignments]
    team = teams[0]
    members = {a.person_id for a in team.assignments}
    elsewhere = {a.person_id for t in teams[1:] for a in t.assignments}
    only_here = members - elsewhere
    before = await pco.adapter.serving_ids(full=True)
    control(pco.url, f"teams/{team.id}/archive", {})
    after = await pco.adapter.serving_ids(full=True)
    assert before - after == only_here & before


async def test_services_mark_moves_forward(pco: Pco) -> None:
    await pco.adapter.serving_ids(full=True)
    mark = pco.adapter.services_mark
    assert mark is not None
    when = freeze_clock(pco.url, mark + timedelta(days=400))
    some = sorted(await pco.adapter.serving_ids(full=False))[0]
    control(pco.url, f"services/people/{some}/archive", {})
    await pco.adapter.serving_ids(full=False)
    assert pco.adapter.services_mark == when


async def test_an_edit_while_changes_are_read_never_makes_the_read_skip_anyone(pco: Pco) -> None:
    """Offset paging over a list that shifts as it is read: someone on a page already read
    is edited meanwhile (they move in ``updated_at`` order); nobody else may be skipped."""
    import httpx

    everyone = [str(p.id) async for p in pco.adapter.fetch_all()]
    start = freeze_clock(pco.url, future())
    edited = everyone[:150]
    for i, pid in enumerate(edited):  # 150 changes, one second apart: two pages
        freeze_clock(pco.url, start + timedelta(seconds=i))
        control(pco.url, f"people/{pid}", {"first_name": f"Edited{i}"})
    freeze_clock(pco.url, start + timedelta(seconds=500))
    done: list[str] = []

    async def edit_after_first_page(response: httpx.Response) -> None:
        if done or "/people/v2/people" not in response.url.path:
            return
        await response.aread()
        victim = response.json()["data"][10]["id"]  # on the page just read
        control(pco.url, f"people/{victim}", {"first_name": "EditedAgain"})
        done.append(victim)

    hooks = pco.client.http._client.event_hooks
    hooks["response"] = [*hooks["response"], edit_after_first_page]
    read = await pco.client.people(updated_since=start)
    assert done, "the edit happened during the read"
    assert set(edited) <= {p.id for p in read}


async def test_a_nickname_equal_to_the_first_name_stays_no_nickname_under_a_new_first_name(
    pco: Pco,
) -> None:
    # simulation seeds 1 and 33 (sim tier): "Shannon" / "Shannon" reads as no nickname; a
    # new first name from Rock must not make the old first name surface as a nickname
    pid = await raw_person(pco, first_name="Shannon", nickname="Shannon")
    seen = await pco.adapter.fetch_one(pid)
    assert seen is not None and seen.person.nickname is None
    written = await pco.adapter.update_person(pid, {FieldName.FIRST_NAME: "Rhea"})
    assert (written.person.first_name, written.person.nickname) == ("Rhea", None)
    kept = await raw_person(pco, first_name="Robert", nickname="Bob")
    written = await pco.adapter.update_person(kept, {FieldName.FIRST_NAME: "Rob"})
    assert written.person.nickname == "Bob"
