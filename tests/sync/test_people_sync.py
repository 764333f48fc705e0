"""Two-way people sync against both emulators over real HTTP (issue: people sync §7)."""

from __future__ import annotations

import asyncio
from collections import Counter

from pcosync.app import parked
from pcosync.clients.rock import Guids
from pcosync.domain.fields import FieldName
from pcosync.domain.identity import Side
from pcosync.engine.plan import OpKind
from pcosync.store import LinkStatus, RunStatus
from tests.sync.conftest import Church


def _links(church: Church) -> list:
    store = church.store()
    try:
        return store.links.all(LinkStatus.ACTIVE)
    finally:
        store.close()


def _pco_person(church: Church, pid: str) -> dict:
    return church.pco_get(f"/people/v2/people/{pid}", include="emails,phone_numbers")["data"][
        "attributes"
    ]


def _rock_person(church: Church, rid: int) -> dict:
    return church.rock_get(f"/api/People/{rid}")


def _link_values(church: Church) -> Counter[str]:
    """How many Rock people carry each PcoPersonId value."""

    async def go() -> Counter[str]:
        async with church.rock() as rock:
            attr = await rock.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "x")
            return Counter(v.value for v in await rock.attribute_values(attr))

    return asyncio.run(go())


def test_first_sync_links_and_creates_and_writes_ids_on_both_sides(church: Church) -> None:
    summary = church.sync()
    assert summary.status in (RunStatus.DONE, RunStatus.PARTIAL)
    links = _links(church)
    assert summary.linked == len(links) > 20
    assert summary.created["rock"] > 0  # serving people who exist only in Planning Center
    values = _link_values(church)
    for link in links:
        assert values[link.pco_person_id] == 1, "exactly one Rock person carries the link"
        assert _pco_person(church, link.pco_person_id)["remote_id"] == link.rock_person_id
    # linked records agree on the basics
    for link in links[:15]:
        pco = _pco_person(church, link.pco_person_id)
        rock = _rock_person(church, link.rock_person_id)
        assert pco["last_name"] == rock["LastName"]
        assert pco["first_name"] == rock["FirstName"]


def test_second_run_writes_nothing(church: Church) -> None:
    church.sync()
    before = church.writes()
    second = church.sync()
    full = church.sync(full=True)
    assert second.planned == 0 and full.planned == 0
    assert church.writes() == before


def test_edits_on_either_side_propagate(church: Church) -> None:
    church.sync()
    a, b = _links(church)[:2]
    church.pco_control(f"people/{a.pco_person_id}", {"last_name": "Fromplanning"})
    church.rock_control(f"people/{b.rock_person_id}", {"MiddleName": "Fromrock"})
    summary = church.sync()
    assert summary.updated == Counter({"rock": 1, "pco": 1})
    assert _rock_person(church, a.rock_person_id)["LastName"] == "Fromplanning"
    assert _pco_person(church, b.pco_person_id)["middle_name"] == "Fromrock"


def test_concurrent_edits_of_different_fields_both_survive(church: Church) -> None:
    church.sync()
    link = _links(church)[3]
    church.rock_control(f"people/{link.rock_person_id}", {"MiddleName": "Rose"})
    church.pco_control(f"people/{link.pco_person_id}", {"birthdate": "1991-02-03"})
    summary = church.sync()
    assert summary.conflicts == 0
    rock = _rock_person(church, link.rock_person_id)
    pco = _pco_person(church, link.pco_person_id)
    assert (rock["MiddleName"], pco["middle_name"]) == ("Rose", "Rose")
    assert (rock["BirthYear"], rock["BirthMonth"], rock["BirthDay"]) == (1991, 2, 3)
    assert pco["birthdate"] == "1991-02-03"


def test_same_field_conflict_goes_to_the_later_edit_and_is_recorded(church: Church) -> None:
    church.sync()
    one, two = _links(church)[4:6]
    # one: Rock first, Planning Center two minutes later → Planning Center wins
    church.rock_control(f"people/{one.rock_person_id}", {"NickName": "Rocky"})
    church.pco_control("clock", {"advance_seconds": 120})
    church.pco_control(f"people/{one.pco_person_id}", {"nickname": "Peco"})
    # two: Planning Center first, Rock five minutes later → Rock wins
    church.pco_control(f"people/{two.pco_person_id}", {"nickname": "Early"})
    church.rock_control("clock", {"advance_seconds": 300})
    church.rock_control(f"people/{two.rock_person_id}", {"NickName": "Late"})
    summary = church.sync()
    assert _rock_person(church, one.rock_person_id)["NickName"] == "Peco"
    assert _pco_person(church, one.pco_person_id)["nickname"] == "Peco"
    assert _pco_person(church, two.pco_person_id)["nickname"] == "Late"
    store = church.store()
    conflicts = {c.ref.rock_id: c for c in store.journal.conflicts(summary.run_id)}
    store.close()
    assert conflicts[one.rock_person_id].field is FieldName.NICKNAME
    assert conflicts[one.rock_person_id].winner is Side.PCO
    assert conflicts[one.rock_person_id].loser_value == "Rocky"
    assert conflicts[two.rock_person_id].winner is Side.ROCK
    assert conflicts[two.rock_person_id].loser_value == "Early"


def test_duplicate_of_a_linked_person_is_an_issue_not_a_link(church: Church) -> None:
    church.sync()
    for link in _links(church):
        original = church.pco_get(f"/people/v2/people/{link.pco_person_id}", include="emails")
        emails = [i["attributes"]["address"] for i in original["included"] if i["type"] == "Email"]
        if emails:
            email = emails[0]
            break
    attrs = original["data"]["attributes"]

    async def make_duplicate() -> str:
        async with church.pco() as pco:
            dup = await pco.create_person(
                {"first_name": attrs["first_name"], "last_name": attrs["last_name"]}
            )
            await pco.create_email(dup.id, email)
            church.pco_control(f"services/people/{dup.id}", {})
            team = next(t for t in await pco.teams() if t.live and t.positions)
            await pco.create_assignment(team.service_type_id or "", team.positions[0].id, dup.id)
            return dup.id

    dup_id = asyncio.run(make_duplicate())
    rock_before = len(church.rock_get("/api/People", **{"$select": "Id"}))
    summary = church.sync()
    store = church.store()
    issues = [i for i in store.issues.list() if dup_id in i.pco_ids]
    assert store.links.by_pco(dup_id) is None
    store.close()
    assert summary.match_issues >= 1
    assert len(issues) == 1
    assert link.rock_person_id in issues[0].rock_ids
    # which records, and how to fix it (DESIGN §3)
    message = issues[0].message
    assert f"Rock person {link.rock_person_id} is already being synced" in message
    assert dup_id in message and "merge the duplicates in Planning Center" in message
    assert summary.created["rock"] == 0
    assert len(church.rock_get("/api/People", **{"$select": "Id"})) == rock_before


def test_pco_merge_is_followed(church: Church) -> None:
    church.sync()
    link = _links(church)[7]

    async def survivor() -> str:
        async with church.pco() as pco:
            kept = await pco.create_person({"first_name": "Merge", "last_name": "Survivor"})
            return kept.id

    keep = asyncio.run(survivor())
    church.pco_control("merge", {"keep": keep, "remove": link.pco_person_id})
    summary = church.sync()
    store = church.store()
    moved = store.links.by_rock(link.rock_person_id)
    store.close()
    assert moved is not None and moved.pco_person_id == keep
    assert any("merge" in n for n in summary.notes)
    assert _pco_person(church, keep)["remote_id"] == link.rock_person_id


def test_rock_merge_is_followed(church: Church) -> None:
    church.sync()
    link = _links(church)[8]

    async def survivor() -> int:
        async with church.rock() as rock:
            kind = await rock.defined_value_id(Guids.RECORD_TYPE_PERSON)
            return await rock.create_person(
                {
                    "FirstName": "Merge",
                    "LastName": "Survivor",
                    "Gender": 0,
                    "RecordTypeValueId": kind,
                }
            )

    keep = asyncio.run(survivor())
    church.rock_control("merge", {"keep": keep, "remove": link.rock_person_id})
    church.sync(full=True)
    store = church.store()
    moved = store.links.by_pco(link.pco_person_id)
    store.close()
    assert moved is not None and moved.rock_person_id == keep
    assert _link_values(church)[link.pco_person_id] == 1


def test_a_create_whose_answer_is_lost_is_not_duplicated(church: Church) -> None:
    church.rock_control(
        "faults",
        {
            "faults": [
                {
                    "kind": "drop",
                    "method": "POST",
                    "path": "/api/People",
                    "count": 1,
                    "after_apply": True,
                }
            ]
        },
    )
    first = church.sync()
    assert church.rock_control("stats")["faults_fired"].get("drop") == 1
    second = church.sync()
    assert first.in_doubt == 0  # found again by the link id written with the create
    assert second.created["rock"] == 0
    counts = _link_values(church)
    assert counts and max(counts.values()) == 1
    created = church.rock_get(
        "/api/People",
        **{"$filter": "startswith(ForeignKey,'pcosync:pco:')", "$select": "Id,ForeignKey"},
    )
    keys = Counter(r["ForeignKey"] for r in created)
    assert len(created) == first.created["rock"]
    assert max(keys.values()) == 1


def test_bad_values_and_rejections_are_parked_not_lost(church: Church) -> None:
    church.sync()
    bad, rejected, fine = _links(church)[10:13]

    async def set_phone(number: str) -> None:
        async with church.pco() as pco:
            person = await pco.person(bad.pco_person_id)
            if person.phone_numbers:
                await pco.update_phone(person.phone_numbers[0].id, {"number": number})
            else:
                await pco.create_phone(bad.pco_person_id, number)

    asyncio.run(set_phone("call-me-maybe"))
    church.pco_control(f"people/{rejected.pco_person_id}", {"last_name": "Rejected"})
    church.pco_control(f"people/{fine.pco_person_id}", {"last_name": "Goesthrough"})
    church.refuse_rock_updates(rejected.rock_person_id)
    summary = church.sync()
    assert summary.status is RunStatus.PARTIAL and summary.exit_code == 3
    assert _rock_person(church, fine.rock_person_id)["LastName"] == "Goesthrough"
    store = church.store()
    parked = {(str(p.side), p.record_key): p for p in store.parked.list()}
    store.close()
    phone = parked[("pco", f"person:{bad.pco_person_id}")]
    assert "phone" in phone.reason.lower() and "call-me-maybe" not in phone.reason
    assert ("rock", f"person:{rejected.rock_person_id}") in parked
    # the rejected write is retried on the next run and goes through
    church.sync()
    assert _rock_person(church, rejected.rock_person_id)["LastName"] == "Rejected"
    store = church.store()
    still = {(str(p.side), p.record_key) for p in store.parked.list()}
    store.close()
    assert ("rock", f"person:{rejected.rock_person_id}") not in still
    assert ("pco", f"person:{bad.pco_person_id}") in still  # still unreadable: still parked
    # once corrected, a dry run leaves it parked (it writes nothing); a real run settles it
    asyncio.run(set_phone("+1 615 555 0142"))
    assert church.sync(dry_run=True).parked == 0
    store = church.store()
    assert store.parked.is_parked(Side.PCO, f"person:{bad.pco_person_id}")
    store.close()
    church.sync()
    store = church.store()
    assert not store.parked.is_parked(Side.PCO, f"person:{bad.pco_person_id}")
    store.close()


def test_dry_run_writes_nothing_and_hold_writes_nothing(church: Church) -> None:
    async def as_init_does() -> None:  # `pcosync init` creates the link attribute
        async with church.rock() as rock:
            await rock.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "PCO Person Id")

    asyncio.run(as_init_does())
    before = church.writes()
    dry = church.sync(dry_run=True)
    assert dry.planned > 0 and church.writes() == before
    held = church.sync(hold=True)
    assert held.status is RunStatus.HELD and held.exit_code == 4
    assert church.writes() == before
    assert _links(church) == []


def test_fields_can_be_switched_off_or_made_one_way(church: Church) -> None:
    from pcosync.config import write_settings

    data = {
        "rock": {"url": church.rock_url, "api_key": church.api_key},
        "pco": {"url": church.pco_url, "app_id": church.app_id, "secret": church.secret},
        "state": {"url": "sqlite:///state.db"},
        "fields": {"middle_name": "off", "nickname": "pco_to_rock"},
    }
    write_settings(church.config, data)
    church.sync()
    link = _links(church)[2]
    church.pco_control(f"people/{link.pco_person_id}", {"nickname": "Fromplanning"})
    church.sync()
    assert _rock_person(church, link.rock_person_id)["NickName"] == "Fromplanning"
    original_nick = "Fromplanning"
    church.rock_control(
        f"people/{link.rock_person_id}", {"MiddleName": "Offfield", "NickName": "Rockonly"}
    )
    summary = church.sync()
    # middle name is off: not copied; nickname flows from Planning Center only, so the Rock
    # edit is overwritten and recorded as a conflict, never silently dropped
    assert _pco_person(church, link.pco_person_id)["middle_name"] != "Offfield"
    assert _pco_person(church, link.pco_person_id)["nickname"] == original_nick
    rock_nick = _rock_person(church, link.rock_person_id)["NickName"]
    assert rock_nick == "Fromplanning"
    store = church.store()
    conflicts = [
        c for c in store.journal.conflicts(summary.run_id) if c.ref.rock_id == link.rock_person_id
    ]
    store.close()
    assert [c.field for c in conflicts] == [FieldName.NICKNAME]
    assert conflicts[0].loser_value == "Rockonly"


def test_an_update_to_a_person_merged_away_since_the_read_follows_the_merge(
    church: Church,
) -> None:
    church.sync()
    link = _links(church)[9]

    async def survivor() -> int:
        async with church.rock() as rock:
            kind = await rock.defined_value_id(Guids.RECORD_TYPE_PERSON)
            return await rock.create_person(
                {"FirstName": "Late", "LastName": "Keeper", "Gender": 0, "RecordTypeValueId": kind}
            )

    keep = asyncio.run(survivor())
    # Rock merges leave nothing for an incremental read to see: the write to the old Id
    # answers 404, and the sync follows the alias to the survivor and writes there
    church.rock_control("merge", {"keep": keep, "remove": link.rock_person_id})
    church.pco_control(f"people/{link.pco_person_id}", {"middle_name": "Followed"})
    summary = church.sync()
    store = church.store()
    moved = store.links.by_pco(link.pco_person_id)
    written = [
        j.operation.target_id
        for j in store.journal.list(summary.run_id)
        if j.operation.kind is OpKind.UPDATE and j.operation.ref.pco_id == link.pco_person_id
    ]
    store.close()
    assert moved is not None and moved.rock_person_id == keep
    assert _rock_person(church, keep)["MiddleName"] == "Followed"
    assert any("followed a merge" in n for n in summary.notes)
    # the run's record names the record written, so a revert undoes it there (seed 1570)
    assert written == [keep]


def test_a_refused_write_is_retried_after_its_edit_left_the_look_back(church: Church) -> None:
    church.sync()
    link, moot = _links(church)[13:15]
    # edits made an hour ago: an incremental run will not read them again by themselves
    church.pco_control("clock", {"advance_seconds": -3600})
    church.pco_control(f"people/{link.pco_person_id}", {"last_name": "Refusedonce"})
    church.pco_control(f"people/{moot.pco_person_id}", {"last_name": "Fixedbyhand"})
    church.pco_control("clock", {"reset": True})
    church.refuse_rock_updates(link.rock_person_id, moot.rock_person_id)
    assert church.sync(full=True).parked == 2
    assert _rock_person(church, link.rock_person_id)["LastName"] != "Refusedonce"
    # an admin copies one by hand; both come due (as after their backoff)
    church.rock_control(f"people/{moot.rock_person_id}", {"LastName": "Fixedbyhand"})
    store = church.store()
    try:
        for record in store.parked.list():
            parked.retry(store, record.id)
    finally:
        store.close()

    retry = church.sync()
    # the refused write is made from the Planning Center edit, read again with the record
    assert retry.status is RunStatus.DONE and retry.updated["rock"] == 1
    assert _rock_person(church, link.rock_person_id)["LastName"] == "Refusedonce"
    store = church.store()
    left = store.parked.list()
    store.close()
    assert left == []  # the written one and the one fixed by hand are both settled
