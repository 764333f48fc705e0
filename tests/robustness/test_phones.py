"""Several phone numbers of one kind (issue 12 §7): one syncs, as docs/fields.md says, and
the others are reported once ("not synced: Rock holds one number per type"), not every run."""

from __future__ import annotations

import asyncio

from tests.robustness.conftest import Church, cli, links


def _mobile_of(church: Church, rock_id: int) -> list[str]:
    mobile = church.rock_control("info")["ids"]["dv:phone_type:mobile"]
    rows = church.rock_get("/api/PhoneNumbers", **{"$filter": f"PersonId eq {rock_id}"})
    return [r["Number"] for r in rows if r["NumberTypeValueId"] == mobile]


def _add_pco_mobile(church: Church, pid: str, number: str) -> None:
    async def go() -> None:
        async with church.pco() as pco:
            await pco.create_phone(pid, number, location="Mobile", primary=False)

    asyncio.run(go())


def _add_rock_mobile(church: Church, rock_id: int, number: str) -> None:
    mobile = church.rock_control("info")["ids"]["dv:phone_type:mobile"]

    async def go() -> None:
        async with church.rock() as rock:
            await rock.create_phone(rock_id, mobile, number, "1")

    asyncio.run(go())


def _with_pco_mobile(church: Church) -> tuple[str, int]:
    for link in links(church):
        phones = church.pco_get(f"/people/v2/people/{link.pco_person_id}/phone_numbers")["data"]
        if [p for p in phones if p["attributes"]["location"] == "Mobile"]:
            return link.pco_person_id, link.rock_person_id
    raise AssertionError("the seeded church has synced people with a mobile number")


def test_a_second_mobile_in_planning_center_is_reported_once(church: Church) -> None:
    church.sync()
    pid, rock_id = _with_pco_mobile(church)
    church.pco_control(f"people/{pid}", {"last_name": "Twophones"})
    before = _mobile_of(church, rock_id)
    assert len(before) == 1
    _add_pco_mobile(church, pid, "+1 615-555-0177")

    first = " ".join(cli(church, "sync").output.split())
    assert f"Planning Center person {pid} (" in first, first
    assert "Twophones) has 2 Mobile phone numbers: the primary one (else the oldest) syncs" in first
    assert "1 not synced: Rock holds one number per type" in first
    assert "0177" not in first  # the numbers themselves are not printed
    assert _mobile_of(church, rock_id) == before  # the one that synced before still does

    second = " ".join(cli(church, "sync", "--full").output.split())
    assert "not synced" not in second
    # a third number changes the situation: reported again
    _add_pco_mobile(church, pid, "+1 615-555-0178")
    third = " ".join(cli(church, "sync").output.split())
    assert "has 3 Mobile phone numbers" in third and "2 not synced" in third


def test_a_second_mobile_in_rock_is_reported_once(church: Church) -> None:
    church.sync()
    link = links(church)[1]
    _add_rock_mobile(church, link.rock_person_id, "6155550166")
    _add_rock_mobile(church, link.rock_person_id, "6155550167")
    first = " ".join(cli(church, "sync").output.split())
    assert f"Rock person {link.rock_person_id} (" in first
    assert "not synced: pcosync syncs one number of each type" in first
    assert "not synced" not in " ".join(cli(church, "sync").output.split())
