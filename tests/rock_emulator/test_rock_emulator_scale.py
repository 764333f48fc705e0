"""At 100,000 people the planner's index paths must give exactly what a plain scan gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pcosync.emulators.rock.app import DEFAULT_API_KEY, create_app
from pcosync.emulators.rock.schema import ENTITIES
from pcosync.emulators.rock.values import format_datetime
from pcosync.emulators.server import BackgroundServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big() -> Iterator[tuple[httpx.Client, Any]]:
    app = create_app(seed=2, people=125_000)
    headers = {"Authorization-Token": DEFAULT_API_KEY}
    with (
        BackgroundServer(app) as url,
        httpx.Client(base_url=url, headers=headers, timeout=120) as client,
    ):
        yield client, app.state.emulator.data


def test_a_hundred_thousand_people_are_loaded(big: tuple[httpx.Client, Any]) -> None:
    _, data = big
    assert len(data.table("Person")) >= 100_000


def test_modified_since_page_matches_a_full_scan(big: tuple[httpx.Client, Any]) -> None:
    client, data = big
    col = ENTITIES["Person"].col
    rows = [
        r
        for r in data.table("Person")
        if not r[col["IsDeceased"]] and r[0] != data.ids["person:anonymous"]
    ]
    stamps = sorted(r[col["ModifiedDateTime"]] for r in rows if r[col["ModifiedDateTime"]])
    mark = stamps[len(stamps) // 3]
    expected = sorted(
        (
            (r[col["ModifiedDateTime"]], r[0])
            for r in rows
            if r[col["ModifiedDateTime"]] is not None and r[col["ModifiedDateTime"]] > mark
        ),
    )[5000:6000]
    page = client.get(
        "/api/People",
        params={
            "$filter": f"ModifiedDateTime gt datetime'{format_datetime(mark)}'",
            "$orderby": "ModifiedDateTime,Id",
            "$top": "1000",
            "$skip": "5000",
            "$select": "Id",
        },
    ).json()
    assert [p["Id"] for p in page] == [i for _, i in expected]


def test_descending_id_page_and_hash_lookup(big: tuple[httpx.Client, Any]) -> None:
    client, data = big
    newest = client.get(
        "/api/People", params={"$orderby": "Id desc", "$top": "3", "$select": "Id"}
    ).json()
    assert [p["Id"] for p in newest] == sorted(data.table("Person").rows, reverse=True)[:3]
    person = newest[-1]["Id"]
    phones = client.get("/api/PhoneNumbers", params={"$filter": f"PersonId eq {person}"}).json()
    assert all(p["PersonId"] == person for p in phones)
