"""The Planning Center leg of the client contract, plus what only PCO has."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pcosync.clients.http import RetryPolicy
from pcosync.clients.pco import PcoClient, Query, shared_limiter
from pcosync.clients.pco.models import PcoPerson
from pcosync.emulators.server import BackgroundServer
from pcosync.errors import NotFoundError, UnsupportedQueryError
from tests.conftest import TEST_SEED, RunningEmulator
from tests.contract.suite import ClientContract, control, request_count

PEOPLE = "/people/v2/people"


def pco_total(url: str, credentials: dict[str, str]) -> int:
    with httpx.Client(base_url=url, auth=(credentials["app_id"], credentials["secret"])) as http:
        body = http.get(PEOPLE, params={"per_page": 1}).json()
    return int(body["meta"]["total_count"])


class TestPcoContract(ClientContract):
    create_path = PEOPLE
    list_path = PEOPLE

    @pytest.fixture
    def emulator(self, pco_emulator: RunningEmulator) -> RunningEmulator:
        return pco_emulator

    def make_client(self, emulator: RunningEmulator, **kw: Any) -> PcoClient:
        return PcoClient(
            emulator.url,
            app_id=emulator.credentials["app_id"],
            secret=emulator.credentials["secret"],
            **kw,
        )

    def make_bad_client(self, emulator: RunningEmulator) -> PcoClient:
        return PcoClient(
            emulator.url, app_id="not-the-app", secret="wrong", retry=RetryPolicy(max_attempts=1)
        )

    async def list_all(self, client: PcoClient) -> list[str]:
        return [p.id for p in await client.people()]

    def expected_total(self, emulator: RunningEmulator) -> int:
        return pco_total(emulator.url, emulator.credentials)

    def lower_bound_requests(self, total: int) -> int:
        return max(1, math.ceil(total / 100))

    async def get_missing(self, client: PcoClient) -> Any:
        return await client.person("987654321")

    async def create_marked(self, client: PcoClient, marker: str) -> str:
        person = await client.create_person({"first_name": "Contract", "last_name": marker})
        return person.id

    async def count_marked(self, client: PcoClient, marker: str) -> int:
        return len(await client.find_people({"last_name": marker}, include=()))

    async def refused_create(self, client: PcoClient, marker: str) -> None:
        # a valid name beside a value PCO refuses: 422, and no person is created
        await client.create_person(
            {"first_name": "Contract", "last_name": marker, "gender": "Martian"}
        )

    def rate_limit_fallback_seconds(self, emulator: RunningEmulator) -> float:
        # the client falls back to the announced period; 2 s keeps the test short
        control(emulator.url, "rate_limit", {"period": 2, "reset": True})
        return 2.0

    # ---- Planning Center only -----------------------------------------------------------

    async def test_unsupported_where_fails_loudly(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            with pytest.raises(UnsupportedQueryError) as info:
                await client.collect(PEOPLE, Query().where_eq("shoe_size", "11"))
        assert "shoe_size" in str(info.value)

    async def test_unsupported_include_and_filter_fail_loudly(
        self, emulator: RunningEmulator
    ) -> None:
        async with self.make_client(emulator) as client:
            with pytest.raises(UnsupportedQueryError):
                await client.collect(PEOPLE, Query().with_include("pets"))
            with pytest.raises(UnsupportedQueryError):
                await client.collect(PEOPLE, Query().with_filter("everyone_nice"))
            someone = (await client.people(include=()))[0]
            with pytest.raises(UnsupportedQueryError):
                await client.get_one(f"{PEOPLE}/{someone.id}", ["pets"])

    async def test_includes_are_resolved_to_their_person(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            people = await client.people()
            with_email = [p for p in people if p.emails]
            assert with_email, "the seeded church has people with emails"
            sample = with_email[0]
            direct = await client.person(sample.id)
        assert {e.address for e in direct.emails} == {e.address for e in sample.emails}
        assert all(e.person_id == p.id for p in people for e in p.emails)
        assert all(ph.e164 and ph.e164.startswith("+") for p in people for ph in p.phone_numbers)

    async def test_updated_since_returns_only_changed_people(
        self, emulator: RunningEmulator
    ) -> None:
        async with self.make_client(emulator) as client:
            people = await client.people(include=())
            target = people[3]
            since = datetime.now(UTC) + timedelta(days=1)
            control(emulator.url, "clock", {"advance_seconds": 2 * 86400})
            control(emulator.url, f"people/{target.id}", {"last_name": "Renamed"})
            changed = await client.people(updated_since=since)
        assert [p.id for p in changed] == [target.id]
        assert changed[0].last_name == "Renamed"
        assert changed[0].updated_at is not None and changed[0].updated_at >= since

    async def test_write_round_trip_and_merge_404(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            person = await client.create_person(
                {"first_name": "Ada", "last_name": "Round", "remote_id": 4242}
            )
            email = await client.create_email(person.id, "ada.round@example.org")
            await client.update_person(person.id, {"nickname": "Addie"})
            again = await client.person(person.id)
            by_remote = await client.find_people({"remote_id": 4242})
            assert again.nickname == "Addie"
            assert [e.id for e in again.emails] == [email.id]
            assert [p.id for p in by_remote] == [person.id]
            other = (await client.people(include=()))[0]
            control(emulator.url, "merge", {"keep": other.id, "remove": person.id})
            with pytest.raises(NotFoundError):
                await client.person(person.id)
            merger = await client.merger_for_removed(person.id)
        assert merger is not None and merger.person_to_keep_id == other.id

    async def test_sequential_paging_requests_each_page_once(
        self, emulator: RunningEmulator
    ) -> None:
        total = self.expected_total(emulator)
        async with self.make_client(emulator) as client:
            before = request_count(emulator.url)
            rows = await client.collect(PEOPLE, Query(per_page=40), concurrency=1)
            used = request_count(emulator.url) - before
        assert len(rows) == total
        assert used == math.ceil(total / 40)

    async def test_pinned_api_version_is_processed(self, emulator: RunningEmulator) -> None:
        async with self.make_client(emulator) as client:
            resp = await client.http.request("GET", PEOPLE, headers=client._headers(PEOPLE))
        assert resp.headers["X-PCO-API-Processed-As-Version"] == client.versions["people"]

    def test_clients_of_one_user_share_one_limiter(self, emulator: RunningEmulator) -> None:
        a = self.make_client(emulator)
        b = self.make_client(emulator)
        assert a.limiter is b.limiter
        assert a.limiter is shared_limiter(emulator.url, emulator.credentials["app_id"])
        other = PcoClient(emulator.url, app_id="someone-else", secret="x")
        assert other.limiter is not a.limiter


@pytest.fixture
def tight_pco() -> Iterator[RunningEmulator]:
    """An emulator with a 10-requests-per-2-seconds limit, to see pacing in a short test."""
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET, create_app

    app = create_app(seed=TEST_SEED, people=200, rate_limit=10, rate_period=2)
    with BackgroundServer(app) as url:
        yield RunningEmulator(url, app, {"app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET})


async def test_client_paces_itself_and_never_sees_429(tight_pco: RunningEmulator) -> None:
    creds = tight_pco.credentials
    total = pco_total(tight_pco.url, creds)
    async with PcoClient(tight_pco.url, app_id=creds["app_id"], secret=creds["secret"]) as client:
        rows = await client.collect(PEOPLE, Query(per_page=8), concurrency=6)
    stats = control(tight_pco.url, "stats")
    assert len(rows) == total
    assert stats["requests"] > 10  # more than one window's worth
    assert stats["throttled"] == 0


# ---- deep offsets and sparse fieldsets (issue 13) ------------------------------------------


@pytest.fixture
def deep_pco() -> Iterator[RunningEmulator]:
    """An emulator announcing 10 requests per 2 s while offsets past 30,000 get only 7 (the
    real ratio, 75 of 100)."""
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET, create_app

    app = create_app(seed=TEST_SEED, people=50, rate_limit=10, rate_period=2)
    with BackgroundServer(app) as url:
        yield RunningEmulator(url, app, {"app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET})


async def _deep_reads(emu: RunningEmulator, how_many: int) -> list[int]:
    """A first page (as every read starts), then ``how_many`` pages past offset 30,000 at
    once; the number of records on each."""
    creds = emu.credentials
    async with PcoClient(emu.url, app_id=creds["app_id"], secret=creds["secret"]) as client:
        await client.request_document("GET", PEOPLE, params=[("per_page", "1")])
        docs = await asyncio.gather(
            *(
                client.request_document("GET", PEOPLE, params=[("offset", str(30_001 + n))])
                for n in range(how_many)
            )
        )
    return [len(d.data) if d else -1 for d in docs]


async def test_deep_offsets_are_paced_below_the_limit_the_headers_do_not_announce(
    deep_pco: RunningEmulator,
) -> None:
    # every answer says 10; past offset 30,000 the real limit is three quarters of it or less
    started = time.monotonic()
    pages = await _deep_reads(deep_pco, 12)
    elapsed = time.monotonic() - started
    stats = control(deep_pco.url, "stats")
    assert pages == [0] * 12  # all answered (beyond the 50 people: empty pages)
    assert stats["throttled"] == 0  # the client never crossed the unannounced limit of 7
    assert stats["requests"] == 13
    assert elapsed >= 2  # 13 requests, at most 7 in a 2 s window while deep


async def test_a_lower_deep_limit_stated_in_a_429_is_learned_not_looped(
    deep_pco: RunningEmulator,
) -> None:
    # "23 of 10" (#1449): the body states a limit lower still than the client's guess (7)
    control(deep_pco.url, "rate_limit", {"deep_offset_limit": 2, "reset": True})
    pages = await _deep_reads(deep_pco, 10)
    log = control(deep_pco.url, "requests")["requests"]
    statuses = [r["status"] for r in log]
    assert pages == [0] * 10
    throttled = statuses.count(429)
    assert 1 <= throttled <= 7  # at most one window of the guess, while it was not known
    last_429 = max(i for i, status in enumerate(statuses) if status == 429)
    assert statuses.count(200) == 11 and len(statuses) == 11 + throttled
    # once learned, no more: everything after the first window's refusals went through
    assert all(status == 200 for status in statuses[last_429 + 1 :])
    assert len(statuses[last_429 + 1 :]) >= 10 - 2 - throttled


async def test_narrowed_fields_keep_the_links_to_included_records(
    pco_emulator: RunningEmulator,
) -> None:
    creds = pco_emulator.credentials
    async with PcoClient(
        pco_emulator.url, app_id=creds["app_id"], secret=creds["secret"]
    ) as client:
        full = await client.people(include=("emails",))
        narrow_query = Query().with_include("emails").with_fields("Person", "first_name")
        narrow = await client.collect_as(PEOPLE, PcoPerson.from_resource, narrow_query)
        # the same fieldset written by hand, without the relationship: PCO drops the links
        bare = Query().with_include("emails")
        bare.extra["fields[Person]"] = "first_name"
        with pytest.raises(UnsupportedQueryError) as info:
            await client.collect_as(PEOPLE, PcoPerson.from_resource, bare)
    emails = {p.id: sorted(e.address for e in p.emails) for p in full}
    assert any(emails.values())
    assert {p.id: sorted(e.address for e in p.emails) for p in narrow} == emails
    assert all(p.last_name is None for p in narrow)  # the fieldset did narrow the attributes
    assert "emails" in str(info.value)
