"""PCO client behaviours beyond the shared contract: OAuth refresh, the paging loop guard, and
log lines that carry no personal data or secrets."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from pcosync.clients.pco import OAuthAuth, OAuthTokens, PcoClient, Query
from pcosync.errors import PaginationError
from tests.conftest import RunningEmulator
from tests.contract.suite import control


def _tokens(url: str) -> tuple[OAuthTokens, str, str]:
    grant = control(url, "oauth/code", {})
    body = httpx.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": grant["code"],
            "client_id": grant["client_id"],
            "client_secret": grant["client_secret"],
        },
    ).json()
    tokens = OAuthTokens(
        body["access_token"], body["refresh_token"], time.time() + float(body["expires_in"])
    )
    return tokens, grant["client_id"], grant["client_secret"]


async def test_oauth_token_near_expiry_is_refreshed_before_use(
    pco_emulator: RunningEmulator,
) -> None:
    tokens, client_id, client_secret = _tokens(pco_emulator.url)
    tokens.expires_at = time.time() + 60  # inside the five-minute margin
    saved: list[OAuthTokens] = []
    auth = OAuthAuth(
        tokens,
        token_url=f"{pco_emulator.url}/oauth/token",
        client_id=client_id,
        client_secret=client_secret,
        on_refresh=saved.append,
    )
    async with PcoClient(pco_emulator.url, oauth=auth) as client:
        people = await client.people(include=())
    assert people and auth.refreshes == 1
    assert saved and saved[0].refresh_token != tokens.refresh_token
    assert "access_token" not in repr(saved[0])


async def test_oauth_401_refreshes_once_and_resends(pco_emulator: RunningEmulator) -> None:
    tokens, client_id, client_secret = _tokens(pco_emulator.url)
    # two hours pass on Planning Center's clock: the access token has expired there, while
    # the client still believes it valid, so the first answer is a 401
    control(pco_emulator.url, "clock", {"advance_seconds": 7300})
    auth = OAuthAuth(
        tokens,
        token_url=f"{pco_emulator.url}/oauth/token",
        client_id=client_id,
        client_secret=client_secret,
    )
    async with PcoClient(pco_emulator.url, oauth=auth) as client:
        people = await client.people(include=())
    assert people and auth.refreshes == 1


async def test_a_repeated_next_link_stops_with_pagination_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "data": [{"type": "Person", "id": "1", "attributes": {}}],
                "included": [],
                "meta": {"total_count": 500, "count": 1},
                "links": {"next": "http://pco.test/people/v2/people?offset=25"},
            },
        )

    client = PcoClient(
        "http://pco.test", app_id="a", secret="b", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(PaginationError):
        async for _ in client.pages("/people/v2/people", Query()):
            pass
    await client.aclose()


async def test_a_server_that_ignores_offset_stops_with_pagination_error() -> None:
    """Concurrent offset paging: every page repeats the first one and says there is more."""
    requests = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal requests
        requests += 1
        return httpx.Response(
            200,
            json={
                "data": [{"type": "Person", "id": str(i), "attributes": {}} for i in range(3)],
                "included": [],
                "meta": {"total_count": 6, "count": 3},
                "links": {"next": "http://pco.test/people/v2/people?offset=3"},
            },
        )

    client = PcoClient(
        "http://pco.test", app_id="a", secret="b", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(PaginationError):
        await client.collect("/people/v2/people", Query(per_page=3))
    await client.aclose()
    assert requests == 3  # the first page, offset 3, then the one past the count: no loop


async def test_log_lines_name_paths_not_values_or_secrets(
    pco_emulator: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    creds = pco_emulator.credentials
    caplog.set_level(logging.INFO, logger="pcosync.http")
    async with PcoClient(
        pco_emulator.url, app_id=creds["app_id"], secret=creds["secret"]
    ) as client:
        await client.find_people({"last_name": "Zebediah-Secretname"})
        await client.collect(
            "/people/v2/people", Query().where_eq("search_name_or_email", "hidden@example.org")
        )
    text = caplog.text
    assert "http.request pco GET /people/v2/people?where[last_name]" in text
    assert "Zebediah" not in text and "hidden@example.org" not in text
    assert creds["secret"] not in text and creds["app_id"] not in text
