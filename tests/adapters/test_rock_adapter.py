"""The Rock adapter against the Rock emulator, over real HTTP (no mocks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest

from pcosync.adapters import CampusMap
from pcosync.adapters.rock import RockPeople
from pcosync.clients.http import RetryPolicy
from pcosync.clients.rock import RockClient
from pcosync.clients.rock.models import Guids
from pcosync.domain import Address, FieldName, FieldValue, InvalidValue, Person, Side
from pcosync.engine.ports import ObservedPerson
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
class Rock:
    url: str
    api_key: str
    client: RockClient
    adapter: RockPeople
    ids: dict[str, int]  # the emulator's install-specific ids ("campus:Main Campus", ...)

    def raw(self, path: str, **params: Any) -> Any:
        """A GET straight to the API, not through the client (what Rock really holds)."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            resp = http.get(
                f"/api/{path}",
                params=params,
                headers={"Authorization-Token": self.api_key},
            )
            resp.raise_for_status()
            return resp.json()

    def campus_id(self, name: str) -> int:
        return self.ids[f"campus:{name}"]


def make_client(emulator: RunningEmulator, **kw: Any) -> RockClient:
    return RockClient(
        emulator.url,
        api_key=emulator.credentials["api_key"],
        time_zone=control(emulator.url, "info")["time_zone"],
        retry=FAST_RETRY,
        **kw,
    )


def campus_map_of(ids: dict[str, int], only: set[str] | None = None) -> CampusMap:
    return CampusMap(
        {"name": k.split(":", 1)[1], "rock_id": v}
        for k, v in ids.items()
        if k.startswith("campus:") and (only is None or k.split(":", 1)[1] in only)
    )


@pytest.fixture
async def rock(rock_emulator: RunningEmulator) -> AsyncIterator[Rock]:
    ids = control(rock_emulator.url, "info")["ids"]
    client = make_client(rock_emulator)
    adapter = RockPeople(client, campus_map_of(ids))
    await client.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "PCO Person Id")  # init
    await adapter.prepare()
    reset_stats(rock_emulator.url)
    yield Rock(rock_emulator.url, rock_emulator.credentials["api_key"], client, adapter, ids)
    await client.aclose()


async def raw_person(rock: Rock, **fields: Any) -> int:
    """A person created through the plain API (not the adapter), with a family of their own."""
    body = {
        "FirstName": "Test",
        "LastName": "Person",
        "RecordTypeValueId": rock.ids["dv:record_type:person"],
        "RecordStatusValueId": rock.ids["dv:record_status:active"],
        "Gender": 0,
        **fields,
    }
    return await rock.client.create_person(body)


def family_of(rock: Rock, person_id: int) -> int:
    return int(rock.raw(f"People/{person_id}")["PrimaryFamilyId"])


async def phone(rock: Rock, person_id: int, kind: str, number: str, code: str = "1") -> int:
    return await rock.client.create_phone(
        person_id, rock.ids[f"dv:phone_type:{kind}"], number, code
    )


# ---------------------------------------------------------------- reading and mapping


async def test_fetch_all_reads_every_real_person_in_five_requests(rock: Rock) -> None:
    expected = {
        r["Id"]
        for r in rock.raw(
            "People",
            **{"$filter": f"RecordTypeValueId eq {rock.ids['dv:record_type:person']}"},
        )
    }
    reset_stats(rock.url)
    seen = [p async for p in rock.adapter.fetch_all()]
    assert {p.id for p in seen} | {r.record_id for r in rock.adapter.rejected} == expected
    assert len({p.id for p in seen}) == len(seen)
    assert routes(rock.url) == {
        "GET /api/People": 1,
        "GET /api/PersonAlias": 1,
        "GET /api/PhoneNumbers": 1,
        "GET /api/Groups": 1,
        "GET /api/GroupLocations": 1,
    }
    assert all(p.side is Side.ROCK and p.alias_id is not None for p in seen)
    # the alias read from PersonAlias leads back to the person (how links follow merges)
    sample = seen[0]
    assert sample.alias_id is not None
    assert (await rock.adapter.client.person_by_alias(sample.alias_id)).id == sample.id
    assert sum(p.person.home_address is not None for p in seen) > len(seen) // 2
    assert sum(p.person.mobile_phone is not None for p in seen) > len(seen) // 2
    assert {p.person.campus for p in seen} >= {"Main Campus", "North Campus", "Downtown Campus"}
    rest_user = rock.ids["person:rest"]
    assert rest_user not in {p.id for p in seen}


async def test_every_field_maps_to_the_canonical_person(rock: Rock) -> None:
    pid = await raw_person(
        rock,
        FirstName="Katherine",
        NickName="Kate",
        MiddleName="Anne",
        LastName="Okafor",
        Gender=2,
        BirthDay=9,
        BirthMonth=3,
        BirthYear=1984,
        AnniversaryDate="2010-06-12T00:00:00",
        Email="Kate.Okafor@Example.COM",
    )
    await phone(rock, pid, "mobile", "2145550143")
    await phone(rock, pid, "home", "3125550177")
    await phone(rock, pid, "work", "7911123456", code="44")
    family = family_of(rock, pid)
    await rock.client.save_address(
        family,
        rock.ids["dv:location_type:home"],
        street1="12 Oak Ave",
        street2="Apt 4",
        city="Plano",
        state="TX",
        postal_code="75024",
    )
    await rock.client.update_group(family, {"CampusId": rock.campus_id("North Campus")})

    seen = await rock.adapter.fetch_one(pid)

    assert seen is not None
    assert seen.person == Person(
        first_name="Katherine",
        nickname="Kate",
        middle_name="Anne",
        last_name="Okafor",
        gender="female",
        birthdate=date(1984, 3, 9),
        anniversary=date(2010, 6, 12),
        email="Kate.Okafor@example.com",
        mobile_phone="+12145550143",
        home_phone="+13125550177",
        work_phone="+447911123456",
        home_address=Address("12 Oak Ave", "Apt 4", "Plano", "TX", "75024", "US"),
        campus="North Campus",
    )
    assert seen.alias_id == rock.raw(f"People/{pid}")["PrimaryAliasId"]
    assert seen.extra["family_id"] == family


async def test_nickname_equal_to_first_name_reads_as_no_nickname(rock: Rock) -> None:
    pid = await raw_person(rock, FirstName="Robert", NickName="Robert")
    seen = await rock.adapter.fetch_one(pid)
    assert seen is not None and seen.person.nickname is None
    await rock.client.update_person(pid, {"NickName": "Bob"})
    seen = await rock.adapter.fetch_one(pid)
    assert seen is not None and seen.person.nickname == "Bob"


async def test_writing_no_nickname_sets_nickname_to_first_name(rock: Rock) -> None:
    pid = await raw_person(rock, FirstName="Robert", NickName="Bob")
    written = await rock.adapter.update_person(pid, {FieldName.NICKNAME: None})
    assert written.person.nickname is None
    assert rock.raw(f"People/{pid}")["NickName"] == "Robert"


async def test_renaming_someone_without_a_nickname_keeps_them_without_one(rock: Rock) -> None:
    pid = await raw_person(rock, FirstName="Jon", NickName="Jon")
    written = await rock.adapter.update_person(pid, {FieldName.FIRST_NAME: "John"})
    assert (written.person.first_name, written.person.nickname) == ("John", None)
    assert rock.raw(f"People/{pid}")["NickName"] == "John"
    # someone with a real nickname keeps it
    other = await raw_person(rock, FirstName="Robert", NickName="Bob")
    written = await rock.adapter.update_person(other, {FieldName.FIRST_NAME: "Roberto"})
    assert (written.person.first_name, written.person.nickname) == ("Roberto", "Bob")


@pytest.mark.parametrize(("code", "gender"), [(0, None), (1, "male"), (2, "female")])
async def test_gender_codes(rock: Rock, code: int, gender: str | None) -> None:
    pid = await raw_person(rock, Gender=code)
    seen = await rock.adapter.fetch_one(pid)
    assert seen is not None and seen.person.gender == gender
    flipped = "female" if gender != "female" else "male"
    await rock.adapter.update_person(pid, {FieldName.GENDER: flipped})
    assert rock.raw(f"People/{pid}")["Gender"] == (2 if flipped == "female" else 1)


async def test_unknown_campus_reads_as_none_with_a_note(rock: Rock) -> None:
    partial = campus_map_of(rock.ids, only={"Main Campus"})
    adapter = RockPeople(rock.client, partial)
    pid = await raw_person(rock)
    north = rock.campus_id("North Campus")
    await rock.client.update_group(family_of(rock, pid), {"CampusId": north})
    seen = await adapter.fetch_one(pid)
    assert seen is not None and seen.person.campus is None
    assert len(partial.notes) == 1 and f"id {north} " in partial.notes[0]


async def test_businesses_rest_users_and_deceased_people_are_not_people(rock: Rock) -> None:
    pid = await raw_person(rock)
    assert await rock.adapter.fetch_one(pid) is not None
    control(rock.url, f"people/{pid}/deceased", {"date": "2026-01-02"})
    assert await rock.adapter.fetch_one(pid) is None
    assert await rock.adapter.fetch_one(rock.ids["person:rest"]) is None
    business = await raw_person(rock, RecordTypeValueId=rock.ids["dv:record_type:business"])
    everyone = {p.id async for p in rock.adapter.fetch_all()}
    assert not {pid, business, rock.ids["person:rest"]} & everyone


# ---------------------------------------------------------------- rejected records


async def test_malformed_email_is_rejected_naming_the_field_not_the_value(rock: Rock) -> None:
    bad = "kate..okafor@example.com"
    pid = await raw_person(rock, FirstName="Kate", LastName="Okafor", Email=bad)
    assert await rock.adapter.fetch_one(pid) is None
    [rejected] = rock.adapter.rejected
    assert (rejected.side, rejected.record_id, rejected.field) == (Side.ROCK, pid, "email")
    assert "Kate Okafor" in rejected.message and "Email" in rejected.message
    assert bad not in rejected.message


async def test_unparseable_phone_is_rejected_and_left_out_of_fetch_all(rock: Rock) -> None:
    pid = await raw_person(rock)
    await phone(rock, pid, "home", "12345")
    seen = [p async for p in rock.adapter.fetch_all()]
    assert pid not in {p.id for p in seen}
    [rejected] = [r for r in rock.adapter.rejected if r.record_id == pid]
    assert rejected.field == "home_phone"
    assert "Home phone" in rejected.message and "12345" not in rejected.message


async def test_a_lone_surrogate_or_a_control_character_is_rejected_naming_the_field(
    rock: Rock,
) -> None:
    """Issue 12: what a JSON answer's ``"\\ud83d"`` decodes to, or a NUL in a phone number,
    is never mapped (it could be neither stored nor written to Planning Center)."""
    pid = await raw_person(rock, FirstName="Ann", LastName="Half")
    row = rock.raw(f"People/{pid}")
    row["LastName"] = "Half\ud83d"
    phone_row = {"Id": 1, "PersonId": pid, "NumberTypeValueId": rock.ids["dv:phone_type:mobile"]}
    phone_row |= {"CountryCode": "1", "Number": "615555\x000142"}
    assert rock.adapter._assemble([row], [], [], []) == []
    assert rock.adapter._assemble([dict(row, LastName="Half")], [phone_row], [], []) == []
    surrogate, nul = rock.adapter.rejected
    assert surrogate.field == "last_name" and "broken Unicode" in surrogate.message
    assert surrogate.display_name == "Ann Half\ufffd"
    assert nul.field == "mobile_phone" and "a NUL character" in nul.message


# ---------------------------------------------------------------- modified_at and changes


async def test_modified_at_follows_a_phone_only_change(rock: Rock) -> None:
    pid = await raw_person(rock)
    before = await rock.adapter.fetch_one(pid)
    when = freeze_clock(rock.url, future())
    control(rock.url, f"people/{pid}", {"PhoneNumbers": {"Mobile": "2145550101"}})
    after = await rock.adapter.fetch_one(pid)
    assert before is not None and after is not None
    assert before.modified_at is not None and before.modified_at < when
    assert after.modified_at == when
    assert after.person.mobile_phone == "+12145550101"


async def test_modified_at_follows_an_address_only_change(rock: Rock) -> None:
    pid = await raw_person(rock)
    person_modified = rock.raw(f"People/{pid}")["ModifiedDateTime"]
    when = freeze_clock(rock.url, future())
    await rock.client.save_address(
        family_of(rock, pid), rock.ids["dv:location_type:home"], street1="1 A St", city="Waco"
    )
    after = await rock.adapter.fetch_one(pid)
    assert rock.raw(f"People/{pid}")["ModifiedDateTime"] == person_modified  # not bumped
    assert after is not None and after.modified_at == when
    assert after.person.home_address is not None
    assert after.person.home_address.street1 == "1 A St"


async def test_modified_at_follows_a_family_campus_change(rock: Rock) -> None:
    pid = await raw_person(rock)
    when = freeze_clock(rock.url, future())
    control(rock.url, f"groups/{family_of(rock, pid)}", {"CampusId": rock.campus_id("Main Campus")})
    after = await rock.adapter.fetch_one(pid)
    assert after is not None
    assert (after.modified_at, after.person.campus) == (when, "Main Campus")


async def test_fetch_changed_returns_exactly_the_changed_people(rock: Rock) -> None:
    everyone = [p async for p in rock.adapter.fetch_all()]
    by_family: dict[int, set[int]] = {}
    for p in everyone:
        by_family.setdefault(p.extra["family_id"], set()).add(int(p.id))
    families = [f for f, members in by_family.items() if len(members) >= 2]
    a, b = [int(p.id) for p in everyone if p.extra["family_id"] != families[0]][:2]
    c_family = families[0]
    since = freeze_clock(rock.url, future())
    control(rock.url, f"people/{a}", {"LastName": "Edited"})
    control(rock.url, f"people/{b}", {"PhoneNumbers": {"Work": "5125550199"}})
    await rock.client.save_address(
        c_family, rock.ids["dv:location_type:home"], street1="5 New Rd", city="Tyler"
    )

    changed = [p async for p in rock.adapter.fetch_changed(since)]

    assert {p.id for p in changed} == {a, b} | by_family[c_family]
    assert len(changed) == len({p.id for p in changed})
    addresses = {p.person.home_address for p in changed if p.id in by_family[c_family]}
    assert {x.street1 if x else None for x in addresses} == {"5 New Rd"}


async def test_fetch_changed_when_quiet_costs_four_requests(rock: Rock) -> None:
    assert [p async for p in rock.adapter.fetch_changed(future())] == []
    assert routes(rock.url) == {
        "GET /api/People": 1,
        "GET /api/GroupLocations": 1,
        "GET /api/Locations": 1,
        "GET /api/Groups": 1,
    }


async def test_fetch_changed_sees_a_location_edited_in_place(rock: Rock) -> None:
    pid = await raw_person(rock)
    family = family_of(rock, pid)
    await rock.client.save_address(
        family, rock.ids["dv:location_type:home"], street1="1 A St", city="Waco"
    )
    [home] = rock.raw(
        "GroupLocations",
        **{"$filter": f"GroupId eq {family} and GroupLocationTypeValueId eq "
                      f"{rock.ids['dv:location_type:home']}"},
    )  # fmt: skip
    since = freeze_clock(rock.url, future())
    await rock.client.patch("Locations", home["LocationId"], {"Street1": "1 B St"})
    changed = [p async for p in rock.adapter.fetch_changed(since)]
    assert [p.id for p in changed] == [pid]
    assert changed[0].person.home_address is not None
    assert changed[0].person.home_address.street1 == "1 B St"


# ---------------------------------------------------------------- writing


async def test_update_round_trip_of_every_field(rock: Rock) -> None:
    pid = await raw_person(rock, FirstName="Old", LastName="Name", Gender=1)
    await phone(rock, pid, "home", "2145550111")
    changes: dict[FieldName, FieldValue] = {
        FieldName.FIRST_NAME: "Robert",
        FieldName.NICKNAME: "Bob",
        FieldName.MIDDLE_NAME: "James",
        FieldName.LAST_NAME: "Lindqvist",
        FieldName.GENDER: "female",
        FieldName.BIRTHDATE: date(1990, 2, 28),
        FieldName.ANNIVERSARY: date(2015, 9, 5),
        FieldName.EMAIL: "bob.lindqvist@example.net",
        FieldName.MOBILE_PHONE: "+447911123456",  # creates one, with its country code
        FieldName.HOME_PHONE: None,  # deletes the existing one
        FieldName.WORK_PHONE: "+15125550199",
        FieldName.HOME_ADDRESS: Address("77 Pine Ct", None, "Frisco", "TX", "75033", "US"),
        FieldName.CAMPUS: "Downtown Campus",
    }

    written = await rock.adapter.update_person(pid, changes)

    expected = Person(**{f.value: v for f, v in changes.items()})  # type: ignore[arg-type]
    assert written.person == expected
    again = await rock.adapter.fetch_one(pid)
    assert again is not None and again.person == expected
    row = rock.raw(f"People/{pid}")
    assert (row["BirthDay"], row["BirthMonth"], row["BirthYear"]) == (28, 2, 1990)
    group = rock.raw(f"Groups/{row['PrimaryFamilyId']}")
    assert group["CampusId"] == rock.campus_id("Downtown Campus")
    phones = rock.raw("PhoneNumbers", **{"$filter": f"PersonId eq {pid}"})
    mobile = [p for p in phones if p["NumberTypeValueId"] == rock.ids["dv:phone_type:mobile"]]
    assert [(p["CountryCode"], p["Number"]) for p in mobile] == [("44", "7911123456")]
    assert not [p for p in phones if p["NumberTypeValueId"] == rock.ids["dv:phone_type:home"]]


async def test_address_and_campus_are_written_on_the_family(rock: Rock) -> None:
    everyone = [p async for p in rock.adapter.fetch_all()]
    by_family: dict[int, list[int]] = {}
    for p in everyone:
        by_family.setdefault(p.extra["family_id"], []).append(int(p.id))
    one, other = next(m for m in by_family.values() if len(m) >= 2)[:2]
    address = Address("9 Shared Way", None, "Austin", "TX", "73301", "US")
    await rock.adapter.update_person(
        one, {FieldName.HOME_ADDRESS: address, FieldName.CAMPUS: "North Campus"}
    )
    spouse = await rock.adapter.fetch_one(other)
    assert spouse is not None
    assert (spouse.person.home_address, spouse.person.campus) == (address, "North Campus")


async def test_clearing_the_address_makes_it_previous(rock: Rock) -> None:
    pid = await raw_person(rock)
    family = family_of(rock, pid)
    await rock.client.save_address(
        family, rock.ids["dv:location_type:home"], street1="1 A St", city="Waco"
    )
    written = await rock.adapter.update_person(pid, {FieldName.HOME_ADDRESS: None})
    assert written.person.home_address is None
    kinds = [gl["GroupLocationTypeValueId"] for gl in rock.raw(
        "GroupLocations", **{"$filter": f"GroupId eq {family}"})]  # fmt: skip
    assert kinds == [rock.ids["dv:location_type:previous"]]


async def test_update_is_a_patch_never_a_put(rock: Rock) -> None:
    pid = await raw_person(rock, Email="keep@example.com")
    reset_stats(rock.url)
    await rock.adapter.update_person(pid, {FieldName.MIDDLE_NAME: "Q"})
    by_method = control(rock.url, "stats")["by_method"]
    assert "PUT" not in by_method and by_method["PATCH"] == 1
    assert rock.raw(f"People/{pid}")["Email"] == "keep@example.com"


async def test_unknown_campus_name_is_refused_before_anything_is_written(rock: Rock) -> None:
    pid = await raw_person(rock)
    reset_stats(rock.url)
    with pytest.raises(InvalidValue, match="campus"):
        await rock.adapter.update_person(
            pid, {FieldName.LAST_NAME: "X", FieldName.CAMPUS: "Mars Campus"}
        )
    assert request_count(rock.url) == 0


async def test_create_with_link_hint_then_find_it_by_the_hint(rock: Rock) -> None:
    person = Person(
        first_name="Nia",
        last_name="Barros",
        gender="female",
        email="nia.barros@example.org",
        mobile_phone="+16155550142",
        home_address=Address("3 Hill Rd", None, "Nashville", "TN", "37201", "US"),
        campus="Main Campus",
        birthdate=date(1979, 12, 1),
    )
    created = await rock.adapter.create_person(person, link_hint="110000777")
    assert created.person == person
    assert created.link_hint == "110000777"
    assert created.alias_id is not None
    row = rock.raw(f"People/{created.id}")
    assert row["NickName"] == "Nia"  # Rock's convention for "no nickname"
    family = rock.raw(f"Groups/{row['PrimaryFamilyId']}")
    assert family["GroupTypeId"] == rock.ids["grouptype:family"]
    found = await rock.adapter.find_by_link_hint("110000777")
    assert [p.id for p in found] == [created.id]
    assert await rock.adapter.find_by_link_hint("110000778") == []


async def test_timed_out_create_is_ambiguous_and_found_once_by_link_hint(
    rock_emulator: RunningEmulator,
) -> None:
    ids = control(rock_emulator.url, "info")["ids"]
    async with make_client(rock_emulator, timeout=1.0) as client:
        adapter = RockPeople(client, campus_map_of(ids))
        await adapter.prepare()
        set_faults(
            rock_emulator.url,
            {"kind": "timeout", "method": "POST", "path": "/api/People",
             "seconds": 3, "after_apply": True, "count": 1},
        )  # fmt: skip
        reset_stats(rock_emulator.url)
        with pytest.raises(AmbiguousWriteError):
            await adapter.create_person(
                Person(first_name="Lost", last_name="Answer"), link_hint="9"
            )
        found = await adapter.find_by_link_hint("9")
        assert len(found) == 1
        assert found[0].person.last_name == "Answer" and found[0].link_hint == "9"
        # the orchestrator then writes the link; the person is found the ordinary way too
        await adapter.write_link(found[0].id, "9")
        assert [p.id for p in await adapter.find_by_link_hint("9")] == [found[0].id]
    assert control(rock_emulator.url, "stats")["by_route"]["POST /api/People"] == 1


async def test_write_link_sets_and_clears_the_attribute(rock: Rock) -> None:
    created = await rock.adapter.create_person(Person(first_name="A", last_name="B"), link_hint="5")
    pid = int(created.id)
    await rock.adapter.write_link(pid, "6")
    assert [p.id for p in await rock.adapter.find_by_link_hint("6")] == [pid]
    assert await rock.adapter.find_by_link_hint("5") == []
    await rock.adapter.write_link(pid, None)
    seen = await rock.adapter.fetch_one(pid)
    assert seen is not None and seen.link_hint is None
    assert await rock.adapter.find_by_link_hint("6") == []
    assert await rock.adapter.find_by_link_hint("5") == []  # the create marker went too


async def test_prepare_reads_only_and_the_first_link_write_creates_the_attribute(
    rock_emulator: RunningEmulator,
) -> None:
    """A held or dry run calls prepare and must write nothing (issue #10 §3)."""
    ids = control(rock_emulator.url, "info")["ids"]
    async with make_client(rock_emulator) as client:
        adapter = RockPeople(client, campus_map_of(ids))
        reset_stats(rock_emulator.url)
        await adapter.prepare()
        written = [r for r in routes(rock_emulator.url) if not r.startswith("GET ")]
        assert written == [] and adapter.ids.link_attribute_id is None
        assert await adapter.find_by_link_hint("12345") == []
        pid = (await client.query("People", select=["Id"], top=1))[0]["Id"]
        await adapter.write_link(pid, "12345")
        assert routes(rock_emulator.url)["POST /api/Attributes"] == 1
        assert [p.id for p in await adapter.find_by_link_hint("12345")] == [pid]


async def test_link_writes_at_once_create_the_link_attribute_only_once(
    rock_emulator: RunningEmulator,
) -> None:
    """The first sync writes many people's links side by side; before, each of those first
    writes found no attribute and created one (32 PcoPersonId attributes in bench.sync_initial)."""
    import asyncio

    ids = control(rock_emulator.url, "info")["ids"]
    async with make_client(rock_emulator) as client:
        adapter = RockPeople(client, campus_map_of(ids))
        await adapter.prepare()
        people = [r["Id"] for r in await client.query("People", select=["Id"], top=12)]
        reset_stats(rock_emulator.url)
        await asyncio.gather(*(adapter.write_link(pid, str(9000 + pid)) for pid in people))
        assert routes(rock_emulator.url)["POST /api/Attributes"] == 1
        rows = await client.query("Attributes", filter="Key eq 'PcoPersonId'", select=["Id"])
        assert len(rows) == 1
        for pid in people:
            assert [p.id for p in await adapter.find_by_link_hint(str(9000 + pid))] == [pid]


async def test_prepare_loads_links_in_bulk_and_creates_the_attribute_once(rock: Rock) -> None:
    pid = await raw_person(rock)
    control(rock.url, f"people/{pid}", {"AttributeValues": {"PcoPersonId": "424242"}})
    fresh = RockPeople(rock.client, campus_map_of(rock.ids))
    reset_stats(rock.url)
    await fresh.prepare()
    assert "POST /api/Attributes" not in routes(rock.url)  # it exists since the fixture
    assert routes(rock.url)["GET /api/AttributeValues"] == 1
    assert fresh.links[pid] == "424242"
    seen = {p.id: p async for p in fresh.fetch_all()}
    assert seen[pid].link_hint == "424242"


# ---------------------------------------------------------------- identity and lookups


async def test_resolve_merged_follows_the_alias_to_the_survivor(rock: Rock) -> None:
    keep = await raw_person(rock, LastName="Merged")
    remove = await raw_person(rock, LastName="Merged")
    removed = await rock.adapter.fetch_one(remove)
    assert removed is not None
    control(rock.url, "merge", {"keep": keep, "remove": remove})
    assert await rock.adapter.fetch_one(remove) is None
    assert await rock.adapter.resolve_merged(remove, removed.alias_id) == keep
    assert await rock.adapter.resolve_merged(remove, None) is None


async def test_candidates_share_a_last_name_case_insensitively(rock: Rock) -> None:
    everyone = [p async for p in rock.adapter.fetch_all()]
    last = next(p.person.last_name for p in everyone if p.person.last_name != "Admin")
    assert last is not None
    expected = {p.id for p in everyone if (p.person.last_name or "").casefold() == last.casefold()}
    found = await rock.adapter.candidates([last.upper(), last.lower()])
    assert {p.id for p in found} == expected


async def test_fetch_many_skips_missing_ids(rock: Rock) -> None:
    a = await raw_person(rock)
    b = await raw_person(rock)
    found = await rock.adapter.fetch_many([a, b, 99999999, a])
    assert sorted(int(p.id) for p in found) == sorted([a, b])


async def test_a_rock_error_quoting_personal_data_keeps_it_out_of_the_message(rock: Rock) -> None:
    """Rock's ExceptionMessage can quote the query's values; our error text never carries it."""
    from pcosync.errors import ApiError

    with pytest.raises(ApiError) as caught:
        await rock.client.query("People", filter="Email eq 'private.person@example.org' and")
    text = str(caught.value)
    assert "not valid" in text  # Rock's own Message is kept
    assert "private.person" not in text


# ---------------------------------------------------------------- requests per written person
# (issue 14: a first sync was Rock-bound at about ten requests per person written in Rock)


def _same_as_read(written: ObservedPerson, read: ObservedPerson | None) -> None:
    """An after-image is what Rock holds: what a fresh read of every part of it finds."""
    assert read is not None
    assert written.person == read.person
    assert (written.id, written.alias_id, written.link_hint, written.modified_at) == (
        read.id,
        read.alias_id,
        read.link_hint,
        read.modified_at,
    )
    assert dict(written.extra) == dict(read.extra)


async def _settled(rock: Rock, **fields: Any) -> ObservedPerson:
    """A person with a mobile number and a home address, as a run would have read them."""
    pid = await raw_person(rock, **fields)
    await phone(rock, pid, "mobile", "2145550111")
    await rock.client.save_address(
        family_of(rock, pid), rock.ids["dv:location_type:home"], street1="1 A St", city="Waco"
    )
    seen = await rock.adapter.fetch_one(pid)
    assert seen is not None
    reset_stats(rock.url)
    return seen


async def test_a_create_reads_the_person_once_and_the_family_once_after_writing_it(
    rock: Rock,
) -> None:
    person = Person(
        first_name="Ada",
        last_name="Quist",
        email="ada.quist@example.org",
        mobile_phone="+16155550142",
        work_phone="+447911123456",
        home_address=Address("3 Hill Rd", None, "Nashville", "TN", "37201", "US"),
        campus="Main Campus",
    )
    reset_stats(rock.url)
    created = await rock.adapter.create_person(person, link_hint="4242")
    assert routes(rock.url) == {
        "POST /api/People": 1,
        "POST /api/People/AttributeValue/{id}": 1,  # never part of the POST (spec §2.5)
        "POST /api/PhoneNumbers": 2,
        "GET /api/People/{id}": 1,  # before: 2
        "PUT /api/Groups/SaveAddress/{id}/{id}": 1,
        "PATCH /api/Groups/{id}": 1,
        "GET /api/Groups": 1,  # family and Home location in one; before: 3 reads
    }
    assert created.person == person and created.link_hint == "4242"
    _same_as_read(created, await rock.adapter.fetch_one(created.id))


async def test_a_create_without_address_or_campus_reads_no_family(rock: Rock) -> None:
    person = Person(first_name="Bo", last_name="Lind", home_phone="+12145550177")
    reset_stats(rock.url)
    created = await rock.adapter.create_person(person, link_hint="4243")
    assert routes(rock.url) == {
        "POST /api/People": 1,
        "POST /api/People/AttributeValue/{id}": 1,
        "POST /api/PhoneNumbers": 1,
        "GET /api/People/{id}": 1,
    }
    assert created.person == person
    _same_as_read(created, await rock.adapter.fetch_one(created.id))


async def test_an_email_update_is_one_write_and_one_read(rock: Rock) -> None:
    known = await _settled(rock, FirstName="Old", LastName="Name")
    changes: dict[FieldName, FieldValue] = {FieldName.EMAIL: "old@example.org"}
    written = await rock.adapter.update_person(known.id, changes, known=known)
    assert routes(rock.url) == {"PATCH /api/People/{id}": 1, "GET /api/People/{id}": 1}
    assert written.person.email == "old@example.org"
    _same_as_read(written, await rock.adapter.fetch_one(known.id))


async def test_a_first_name_update_reads_the_row_before_and_after(rock: Rock) -> None:
    known = await _settled(rock, FirstName="Old", LastName="Name")
    changes: dict[FieldName, FieldValue] = {
        FieldName.FIRST_NAME: "Newton",
        FieldName.EMAIL: "newton@example.org",
    }
    written = await rock.adapter.update_person(known.id, changes, known=known)
    # Rock's nickname convention is judged on the row as it is now (review of 892625d)
    assert routes(rock.url) == {"PATCH /api/People/{id}": 1, "GET /api/People/{id}": 2}
    # no nickname before, none after
    assert rock.raw(f"People/{known.id}")["NickName"] == "Newton"
    assert written.person.nickname is None and written.person.first_name == "Newton"
    assert written.person.mobile_phone == known.person.mobile_phone == "+12145550111"
    _same_as_read(written, await rock.adapter.fetch_one(known.id))


async def test_a_nickname_typed_after_the_read_survives_a_first_name_update(rock: Rock) -> None:
    """Review of 892625d: judged on the record as the run read it (no nickname), a first
    name written later overwrote a nickname a person had typed in Rock since."""
    known = await _settled(rock, FirstName="Old", LastName="Name")
    assert known.person.nickname is None
    async with httpx.AsyncClient(base_url=rock.url, timeout=10) as http:
        resp = await http.patch(
            f"/api/People/{known.id}",
            json={"NickName": "Ned"},
            headers={"Authorization-Token": rock.api_key},
        )
        assert resp.status_code < 300
    await rock.adapter.update_person(known.id, {FieldName.FIRST_NAME: "Edward"}, known=known)
    row = rock.raw(f"People/{known.id}")
    assert (row["FirstName"], row["NickName"]) == ("Edward", "Ned")


async def test_a_phone_update_reads_the_row_with_the_phones_before_and_after(rock: Rock) -> None:
    known = await _settled(rock)
    changes: dict[FieldName, FieldValue] = {
        FieldName.MOBILE_PHONE: "+12145550199",
        FieldName.WORK_PHONE: "+12145550198",
    }
    written = await rock.adapter.update_person(known.id, changes, known=known)
    assert routes(rock.url) == {
        "GET /api/People": 2,  # $expand=PhoneNumbers, before and after
        "PATCH /api/PhoneNumbers/{id}": 1,
        "POST /api/PhoneNumbers": 1,
    }
    assert written.person.home_address == known.person.home_address
    _same_as_read(written, await rock.adapter.fetch_one(known.id))


async def test_an_address_and_campus_update_reads_the_family_once(rock: Rock) -> None:
    known = await _settled(rock)
    address = Address("9 Elm St", None, "Austin", "TX", "73301", "US")
    written = await rock.adapter.update_person(
        known.id, {FieldName.HOME_ADDRESS: address, FieldName.CAMPUS: "North Campus"}, known=known
    )
    assert routes(rock.url) == {
        "GET /api/People/{id}": 1,
        "PUT /api/Groups/SaveAddress/{id}/{id}": 1,
        "PATCH /api/Groups/{id}": 1,
        "GET /api/Groups": 1,
    }
    assert (written.person.home_address, written.person.campus) == (address, "North Campus")
    _same_as_read(written, await rock.adapter.fetch_one(known.id))


async def test_an_address_written_is_read_back_as_rock_stored_it(rock: Rock) -> None:
    """SaveAddress reuses a matching Location, whatever the case it was written in (spec
    §3.5): the after-image is the Location Rock linked, not the text sent."""
    other = await raw_person(rock)
    await rock.client.save_address(
        family_of(rock, other), rock.ids["dv:location_type:home"],
        street1="12 Oak Lane", city="Waco", state="TX", postal_code="76701",
    )  # fmt: skip
    known = await _settled(rock)
    sent = Address("12 OAK LANE", None, "WACO", "TX", "76701", "US")
    written = await rock.adapter.update_person(
        known.id, {FieldName.HOME_ADDRESS: sent}, known=known
    )
    assert written.person.home_address is not None
    assert written.person.home_address.street1 == "12 Oak Lane"
    _same_as_read(written, await rock.adapter.fetch_one(known.id))


async def test_an_update_of_someone_moved_to_another_family_reads_that_family(
    rock: Rock,
) -> None:
    """The known record's address and campus belong to the family it was read with."""
    known = await _settled(rock)
    host = await raw_person(rock, FirstName="Host")
    await rock.client.save_address(
        family_of(rock, host), rock.ids["dv:location_type:home"], street1="5 Far Rd", city="Tyler"
    )
    await rock.client.post(
        "/api/People/AddExistingPersonToFamily",
        params={
            "personId": known.id,
            "familyId": family_of(rock, host),
            "groupRoleId": rock.ids["role:family:adult"],
            "removeFromOtherFamilies": "true",
        },
    )
    reset_stats(rock.url)
    written = await rock.adapter.update_person(known.id, {FieldName.MIDDLE_NAME: "Q"}, known=known)
    assert routes(rock.url)["GET /api/Groups"] == 1
    assert written.person.home_address is not None
    assert written.person.home_address.street1 == "5 Far Rd"
    _same_as_read(written, await rock.adapter.fetch_one(known.id))


async def test_a_link_id_already_held_is_not_written_again(rock: Rock) -> None:
    created = await rock.adapter.create_person(
        Person(first_name="C", last_name="D"), link_hint="77"
    )
    reset_stats(rock.url)
    await rock.adapter.write_link(created.id, "77")
    assert request_count(rock.url) == 0
    await rock.adapter.write_link(created.id, "78")
    assert routes(rock.url) == {"POST /api/People/AttributeValue/{id}": 1}
    assert [p.id for p in await rock.adapter.find_by_link_hint("78")] == [created.id]


async def test_a_recheck_reads_in_full_only_the_people_with_a_write_to_come(rock: Rock) -> None:
    since = freeze_clock(rock.url, future())
    ids = [await raw_person(rock, LastName=n) for n in ("Aa", "Bb", "Cc")]
    asked: list[int] = []

    def wanted() -> set[str]:
        asked.append(1)
        return {str(ids[0])} if len(asked) == 1 else {str(ids[0]), str(ids[2])}

    reset_stats(rock.url)
    seen = await rock.adapter.fetch_recent(since, wanted)
    # the third became wanted while the first was read (a re-plan): it is read too
    assert sorted(int(p.id) for p in seen) == sorted([ids[0], ids[2]])
    everyone = await rock.adapter.fetch_recent(since)
    assert {int(p.id) for p in everyone} >= set(ids)
    reset_stats(rock.url)
    assert await rock.adapter.fetch_recent(since, set) == []
    assert request_count(rock.url) == 4  # the change queries only
