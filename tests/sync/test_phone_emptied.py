"""Emptying a phone field when the other side holds several numbers of that kind
(docs/fields.md, "One number per kind"; simulation seed 5 of the sim tier): only the synced
number is removed, never a number pcosync does not sync, and the next number of that kind
becomes the synced one, copied back across; then both sides agree and runs are quiet."""

from __future__ import annotations

import asyncio

from pcosync.domain.identity import Side
from pcosync.store import LinkStatus
from tests.sync.conftest import Church


def _pco_mobiles(church: Church, pid: str) -> list[str]:
    phones = church.pco_get(f"/people/v2/people/{pid}/phone_numbers")["data"]
    return [p["attributes"]["number"] for p in phones if p["attributes"]["location"] == "Mobile"]


def _rock_mobiles(church: Church, rock_id: int) -> list[dict]:
    mobile = church.rock_control("info")["ids"]["dv:phone_type:mobile"]
    rows = church.rock_get("/api/PhoneNumbers", **{"$filter": f"PersonId eq {rock_id}"})
    return [r for r in rows if r["NumberTypeValueId"] == mobile]


def test_emptying_a_mobile_removes_only_the_synced_number_and_the_next_one_syncs(
    church: Church,
) -> None:
    church.sync()
    store = church.store()
    links = store.links.all(LinkStatus.ACTIVE)
    store.close()
    link = next(
        lk
        for lk in links
        if len(_pco_mobiles(church, lk.pco_person_id)) == 1
        and len(_rock_mobiles(church, lk.rock_person_id)) == 1
    )
    pid, rock_id = link.pco_person_id, link.rock_person_id

    async def add_second() -> None:
        async with church.pco() as pco:
            await pco.create_phone(pid, "+1 615-555-0177", location="Mobile", primary=False)

    asyncio.run(add_second())
    church.sync()  # reported (not synced), nothing written
    [synced] = _rock_mobiles(church, rock_id)

    async def empty_rock_mobile() -> None:
        async with church.rock() as rock:
            await rock.delete_phone(synced["Id"])

    asyncio.run(empty_rock_mobile())
    first = church.sync(full=True)
    # the synced number is gone from Planning Center; the other one was never touched
    assert [n for n in _pco_mobiles(church, pid) if "0177" not in n] == []
    assert len(_pco_mobiles(church, pid)) == 1
    assert first.updated[Side.PCO.value] == 1
    # it is the synced one now, and is copied across
    church.sync(full=True)
    assert [r["Number"] for r in _rock_mobiles(church, rock_id)] == ["6155550177"]
    # then both sides agree: nothing more to do, on either side
    quiet = church.sync(full=True)
    assert quiet.planned == 0
    assert len(_pco_mobiles(church, pid)) == 1
