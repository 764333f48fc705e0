"""The Rock RMS leg of the client contract, plus what only Rock has."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pcosync.clients.http import RetryPolicy
from pcosync.clients.rock import Guids, RockClient, odata
from pcosync.errors import AuthenticationError, NotFoundError, RetriesExhausted
from tests.conftest import RunningEmulator
from tests.contract.suite import FAST_RETRY, ClientContract, control, request_count, set_faults

PEOPLE = "/api/People"


def rock_people_total(url: str, api_key: str) -> int:
    """Count real people with raw requests, independent of the client under test."""
    with httpx.Client(base_url=url, headers={"Authorization-Token": api_key}) as http:
        person_type = http.get(
            "/api/DefinedValues", params={"$filter": f"Guid eq guid'{Guids.RECORD_TYPE_PERSON}'"}
        ).json()[0]["Id"]
        rows = http.get(
            PEOPLE, params={"$filter": f"RecordTypeValueId eq {person_type}", "$select": "Id"}
        ).json()
    return len(rows)


class TestRockContract(ClientContract):
    create_path = PEOPLE
    list_path = PEOPLE

    @pytest.fixture
    def emulator(self, rock_emulator: RunningEmulator) -> RunningEmulator:
        return rock_emulator

    def make_client(self, emulator: RunningEmulator, **kw: Any) -> RockClient:
        return RockClient(emulator.url, api_key=emulator.credentials["api_key"], **kw)

    def make_bad_client(self, emulator: RunningEmulator) -> RockClient:
        return RockClient(emulator.url, api_key="not-a-key", retry=RetryPolicy(max_attempts=1))

    async def list_all(self, client: RockClient) -> list[str]:
        return [str(p.id) for p in await client.people()]

    def expected_total(self, emulator: RunningEmulator) -> int:
        return rock_people_total(emulator.url, emulator.credentials["api_key"])

    def lower_bound_requests(self, total: int) -> int:
        return max(1, math.ceil(total / 1000))

    async def get_missing(self, client: RockClient) -> Any:
        return await client.person(987654321)

    async def create_marked(self, client: RockClient, marker: str) -> str:
        person_type = await client.defined_value_id(Guids.RECORD_TYPE_PERSON)
        return str(
            await client.create_person(
                {
                    "FirstName": "Contract",
                    "LastName": marker,
                    "Gender": 0,
                    "RecordTypeValueId": person_type,
                }
            )
        )

    async def count_marked(self, client: RockClient, marker: str) -> int:
        rows = await client.query("People", filter=odata.cmp("LastName", "eq", marker, client.tz))
        return len(rows)

    async def refused_create(self, client: RockClient, marker: str) -> None:
        # a record type that does not exist: the foreign key's 500 (a 500 on a POST is
        # reported as ambiguous), and nothing of the person, family or history is kept
        await client.create_person(
            {"FirstName": "Contract", "LastName": marker, "Gender": 0, "RecordTypeValueId": 987654}
        )

    # ---- Rock only ------------------------------------------------------------------

    async def test_401_says_key_or_rights(self, emulator: RunningEmulator) -> None:
        async with self.make_bad_client(emulator) as client:
            with pytest.raises(AuthenticationError) as info:
                await client.current_person()
        assert "rights" in str(info.value)

    async def test_modified_since_uses_org_local_time(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            everyone = await client.people(with_phones=False)
            target = everyone[5]
            since = datetime.now(UTC) + timedelta(days=1)
            control(emulator.url, "clock", {"advance_seconds": 2 * 86400})
            control(emulator.url, f"people/{target.id}", {"NickName": "Changed"})
            changed = await client.people(modified_since=since)
        assert [p.id for p in changed] == [target.id]
        assert changed[0].nick_name == "Changed"
        assert changed[0].modified is not None and changed[0].modified >= since
        assert changed[0].modified.tzinfo is not None

    async def test_attribute_round_trip_and_bulk_read(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            attr = await client.ensure_attribute(
                Guids.ENTITY_PERSON, "PcoPersonId", "Planning Center person id"
            )
            again = await client.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "x")
            people = await client.people(with_phones=False)
            await client.set_attribute_value("People", people[0].id, "PcoPersonId", "55501")
            await client.set_attribute_value("People", people[1].id, "PcoPersonId", "55502")
            values = await client.attribute_values(attr)
        assert attr == again
        assert {(v.entity_id, v.value) for v in values} >= {
            (people[0].id, "55501"),
            (people[1].id, "55502"),
        }

    async def test_merge_is_followed_through_the_alias(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            people = await client.people(with_phones=False)  # unexpanded: alias ids present
            keep, gone = people[0], people[1]
            full = await client.people_by_ids([gone.id])
            alias = full[0].primary_alias_id
            assert alias is not None
            control(emulator.url, "merge", {"keep": keep.id, "remove": gone.id})
            with pytest.raises(NotFoundError):
                await client.person(gone.id)
            survivor = await client.person_by_alias(alias)
        assert survivor.id == keep.id

    async def test_html_error_page_with_200_is_a_server_error(
        self, emulator: RunningEmulator
    ) -> None:
        policy = RetryPolicy(
            max_attempts=2, max_total_seconds=5, base_seconds=0.01, cap_seconds=0.02
        )
        async with self.make_client(emulator, retry=policy) as client:
            await client.people()
            set_faults(
                emulator.url, {"kind": "error", "status": 200, "body": "html", "path": PEOPLE}
            )
            with pytest.raises(RetriesExhausted) as info:
                await client.people()
        assert "HTML" in str(info.value.last)

    async def test_family_address_and_paging_with_small_pages(
        self, emulator: RunningEmulator
    ) -> None:
        async with self.make_client(emulator, page_size=7, retry=FAST_RETRY) as client:
            people = await client.people(with_phones=False)
            with_family = next(p for p in people if p.primary_family_id)
            home = await client.defined_value_id(Guids.LOCATION_HOME)
            family = with_family.primary_family_id
            assert family is not None
            await client.save_address(
                family, home, street1="1 Test Way", city="Dallas", state="TX", postal_code="75201"
            )
            locations = await client.family_locations([family])
        assert len(people) == self.expected_total(emulator)
        homes = [gl for gl in locations if gl.location_type_value_id == home]
        assert [gl.location.street1 for gl in homes if gl.location] == ["1 Test Way"]

    async def test_top_is_a_row_limit_read_in_the_fewest_requests(
        self, emulator: RunningEmulator
    ) -> None:
        async with self.make_client(emulator, page_size=7) as client:
            before = request_count(emulator.url)
            one = await client.query("People", select=["Id"], top=1)
            after_one = request_count(emulator.url)
            ten = await client.query("People", select=["Id"], top=10)
            after_ten = request_count(emulator.url)
        assert len(one) == 1 and after_one - before == 1
        assert len(ten) == 10 and after_ten - after_one == 2  # two pages of 7, cut to 10
        assert len({r["Id"] for r in ten}) == 10
