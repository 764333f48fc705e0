"""The rate limit: N requests per period per user, its headers, and the real 429."""

from __future__ import annotations

import re
import time

import httpx

from pcosync.emulators.pco.app import DEFAULT_OAUTH_CLIENT_ID, DEFAULT_OAUTH_CLIENT_SECRET
from tests.pco_emulator.helpers import client_for, control, running

PEOPLE = "/people/v2/people"


def oauth_token(url: str, user_id: str | None = None) -> str:
    payload = {} if user_id is None else {"user_id": user_id}
    code = control(url, "oauth/code", payload)["code"]
    resp = httpx.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": DEFAULT_OAUTH_CLIENT_ID,
            "client_secret": DEFAULT_OAUTH_CLIENT_SECRET,
        },
    )
    access: str = resp.json()["access_token"]
    return access


def test_headers_count_up_and_the_overflow_gets_the_real_429() -> None:
    with running(rate_limit=5, rate_period=3) as emu, client_for(emu.url) as api:
        for n in range(1, 6):
            resp = api.get(PEOPLE, params={"per_page": 1})
            assert resp.status_code == 200
            assert resp.headers["X-PCO-API-Request-Rate-Limit"] == "5"
            assert resp.headers["X-PCO-API-Request-Rate-Count"] == str(n)
            assert resp.headers["X-PCO-API-Request-Rate-Period"] == "3"
        over = api.get(PEOPLE)
        again = api.get(PEOPLE)
        stats = control(emu.url, "stats")
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 3
    assert over.headers["X-PCO-API-Request-Rate-Count"] == "6"
    assert over.json() == {
        "errors": [
            {
                "code": "429",
                "title": "Too Many Requests",
                "detail": "Rate limit exceeded: 6 of 5 requests per 3 seconds",
            }
        ]
    }
    # rejected requests count too: hammering only digs deeper
    assert again.json()["errors"][0]["detail"].startswith("Rate limit exceeded: 7 of 5")
    assert stats["throttled"] == 2
    assert stats["by_status"]["429"] == 2


def test_the_window_is_fixed_and_reopens_after_the_period() -> None:
    with running(rate_limit=2, rate_period=1) as emu, client_for(emu.url) as api:
        assert [api.get(PEOPLE).status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(1.05)
        resp = api.get(PEOPLE)
    assert resp.status_code == 200
    assert resp.headers["X-PCO-API-Request-Rate-Count"] == "1"


def test_the_budget_is_per_user_not_per_credential() -> None:
    with running(rate_limit=3, rate_period=20) as emu, client_for(emu.url) as api:
        info = control(emu.url, "info")
        someone_else = next(
            p["id"] for p in api.get(PEOPLE).json()["data"] if p["id"] != info["api_user_id"]
        )
        same_user = oauth_token(emu.url)  # authorized by the token owner
        other_user = oauth_token(emu.url, someone_else)
        for _ in range(2):
            api.get(PEOPLE)
        assert api.get(PEOPLE).status_code == 429  # 1 + 2 + this one > 3
        shared = httpx.get(f"{emu.url}{PEOPLE}", headers={"Authorization": f"Bearer {same_user}"})
        separate = httpx.get(
            f"{emu.url}{PEOPLE}", headers={"Authorization": f"Bearer {other_user}"}
        )
    assert shared.status_code == 429
    assert separate.status_code == 200
    assert separate.headers["X-PCO-API-Request-Rate-Count"] == "1"


def test_offsets_above_30000_get_the_stricter_limit_the_headers_do_not_announce() -> None:
    # #1449/#1450: "23 of 10 requests" in the 429 body while the headers said 100
    with (
        running(rate_limit=4, rate_period=20, deep_offset_limit=2) as emu,
        client_for(emu.url) as api,
    ):
        deep = [api.get(PEOPLE, params={"offset": 30001}) for _ in range(3)]
        shallow = api.get(PEOPLE, params={"offset": 0})
    assert [r.status_code for r in deep] == [200, 200, 429]
    assert [r.headers["X-PCO-API-Request-Rate-Limit"] for r in deep] == ["4", "4", "4"]
    assert re.search(r"3 of 2 requests", deep[2].json()["errors"][0]["detail"])
    assert shallow.status_code == 200  # the same window, under the normal limit of 4
    assert shallow.headers["X-PCO-API-Request-Rate-Count"] == "4"


def test_every_kind_of_answer_carries_the_rate_headers(api: httpx.Client) -> None:
    # product answers say "20"; the recorded unknown-path 404 said "20 seconds" (spec §3)
    for resp, period in [
        (api.get(PEOPLE), "20"),
        (api.get("/people/v2/people/1"), "20"),
        (api.get("/bogus"), "20 seconds"),
        (api.post(PEOPLE, json={}), "20"),
    ]:
        assert resp.headers["X-PCO-API-Request-Rate-Limit"] == "100"
        assert int(resp.headers["X-PCO-API-Request-Rate-Count"]) >= 1
        assert resp.headers["X-PCO-API-Request-Rate-Period"] == period
