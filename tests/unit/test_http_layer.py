"""The shared HTTP layer on a fake clock: pacing, retries, ambiguity, redaction.

The transport here is httpx's in-memory MockTransport (the seam STYLE.md names for test
doubles); everything that talks to an API is tested against the emulators elsewhere.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import httpx
import pytest

from pcosync.clients.http import (
    ApiHttpClient,
    HeaderPacedRateLimiter,
    RetryPolicy,
    parse_period,
    parse_retry_after,
    redact_target,
)
from pcosync.clients.pco.errors import classify_pco
from pcosync.clients.rock.errors import classify_rock
from pcosync.errors import (
    AmbiguousWriteError,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    RetriesExhausted,
    ServerError,
    TransportError,
    ValidationError,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    clock: FakeClock,
    limiter: HeaderPacedRateLimiter | None = None,
    retry: RetryPolicy | None = None,
) -> ApiHttpClient:
    return ApiHttpClient(
        service="pco",
        base_url="http://pco.test",
        classify=classify_pco,
        transport=httpx.MockTransport(handler),
        clock=clock,
        limiter=limiter,
        retry=retry or RetryPolicy(max_attempts=4, max_total_seconds=100),
        rng=random.Random(5),
    )


def test_period_and_retry_after_parse_both_forms() -> None:
    assert parse_period("20") == 20.0
    assert parse_period("20 seconds") == 20.0
    assert parse_period("bogus") is None
    assert parse_retry_after("19") == 19.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_retry_after_that_says_nothing_usable_is_missing() -> None:
    # real 429s have carried a negative value (#606); zero, NaN and infinity say no more
    for odd in ("-5", "-0.5", "0", "nan", "inf", ""):
        assert parse_retry_after(odd) is None, odd
    date = "Wed, 04 Mar 2026 10:00:00 GMT"
    assert parse_retry_after("Wed, 04 Mar 2026 10:00:12 GMT", date) == 12.0
    assert parse_retry_after("Wed, 04 Mar 2026 09:59:00 GMT", date) is None  # in the past
    assert parse_retry_after("Wed, 04 Mar 2026 10:00:12 GMT") is None  # no Date to read it by


def test_redaction_keeps_path_and_param_names_only() -> None:
    url = "http://x/people/v2/people?where[search_name_or_email]=jane@example.org&per_page=100"
    assert redact_target(url) == "/people/v2/people?where[search_name_or_email]&per_page"
    assert "jane" not in redact_target(url)


def test_backoff_is_bounded_and_grows() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=8)
    rng = random.Random(1)
    waits = [policy.backoff(n, rng) for n in range(1, 8)]
    assert all(0.5 <= w <= 8 for w in waits)
    assert max(waits[4:]) > max(waits[:1])


async def test_limiter_never_plans_past_the_limit() -> None:
    clock = FakeClock()
    limiter = HeaderPacedRateLimiter(limit=5, period=20, clock=clock)
    sent_at: list[float] = []
    for _ in range(12):
        slot = await limiter.acquire()
        sent_at.append(clock.now)
        limiter.release(slot, None)
    # any 20-second window holds at most 5 sends
    for t in sent_at:
        assert sum(1 for s in sent_at if t <= s < t + 20) <= 5
    assert clock.now - sent_at[0] >= 40  # 12 sends at 5 per 20 s need two full waits


async def test_limiter_adopts_server_count_and_lower_limit() -> None:
    clock = FakeClock()
    limiter = HeaderPacedRateLimiter(limit=100, period=20, clock=clock)
    slot = await limiter.acquire()
    resp = httpx.Response(
        200,
        headers={
            "X-PCO-API-Request-Rate-Limit": "75",
            "X-PCO-API-Request-Rate-Count": "75",
            "X-PCO-API-Request-Rate-Period": "20 seconds",
        },
    )
    limiter.release(slot, resp)
    assert limiter.limit == 75
    before = clock.now
    await limiter.acquire()
    assert clock.now - before >= 19.9  # the window is full: wait for it to roll


async def test_the_period_an_answer_announces_holds_that_answers_own_slot() -> None:
    clock = FakeClock()
    limiter = HeaderPacedRateLimiter(limit=1, period=20, clock=clock)
    slot = await limiter.acquire()
    limiter.release(slot, httpx.Response(200, headers={"X-PCO-API-Request-Rate-Period": "2"}))
    before = clock.now
    await limiter.acquire()
    assert clock.now - before <= 2  # not the 20 s assumed before the first answer


async def test_429_retry_after_is_obeyed_then_succeeds() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(clock.now)
        if len(calls) == 1:
            return httpx.Response(
                429,
                headers={"Retry-After": "7"},
                json={"errors": [{"code": "429", "detail": "Rate limit exceeded"}]},
            )
        return httpx.Response(200, json={"data": []})

    limiter = HeaderPacedRateLimiter(clock=clock)
    async with make_client(handler, clock, limiter=limiter) as client:
        resp = await client.request("GET", "/people/v2/people")
    assert resp.status_code == 200
    assert calls[1] - calls[0] >= 7
    assert client.stats.rate_limited == 1


def _429(retry_after: str | None, detail: str = "Rate limit exceeded") -> httpx.Response:
    headers = {"X-PCO-API-Request-Rate-Limit": "100", "X-PCO-API-Request-Rate-Period": "20"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return httpx.Response(
        429, headers=headers, json={"errors": [{"code": "429", "detail": detail}]}
    )


@pytest.mark.parametrize("retry_after", ["-5", None, "0", "later"])
async def test_429_without_a_usable_retry_after_waits_a_period(retry_after: str | None) -> None:
    clock = FakeClock()
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(clock.now)
        return _429(retry_after) if len(calls) == 1 else httpx.Response(200, json={"data": []})

    limiter = HeaderPacedRateLimiter(clock=clock)
    async with make_client(handler, clock, limiter=limiter) as client:
        resp = await client.request("GET", "/people/v2/people")
    assert resp.status_code == 200
    assert min(clock.slept) >= 0  # never a negative sleep
    assert calls[1] - calls[0] >= 20  # the announced period, not a hammering retry


async def test_endless_429s_with_negative_retry_after_give_up_in_bounded_time() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _429("-1")

    limiter = HeaderPacedRateLimiter(clock=clock)
    policy = RetryPolicy(max_attempts=4, max_total_seconds=600)
    async with make_client(handler, clock, limiter=limiter, retry=policy) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.request("GET", "/people/v2/people")
    assert calls == info.value.attempts == 4
    assert min(clock.slept) >= 0
    assert clock.now - 1000 <= 4 * 20 + 10  # paced by the period, and over


async def test_a_huge_retry_after_gives_up_at_once_and_pauses_others_boundedly() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return _429("86400")

    limiter = HeaderPacedRateLimiter(clock=clock, max_pause=300)
    async with make_client(handler, clock, limiter=limiter) as client:
        with pytest.raises(RetriesExhausted):
            await client.request("GET", "/people/v2/people")
    assert calls == 1  # a day's wait is past the time budget: no sleep, no retry
    before = clock.now
    await limiter.acquire()
    assert clock.now - before <= 300  # the next caller waits at most max_pause


async def test_deep_lane_stays_under_the_limit_the_headers_do_not_announce() -> None:
    clock = FakeClock()
    limiter = HeaderPacedRateLimiter(limit=100, period=20, clock=clock)
    sent: list[float] = []
    for _ in range(160):
        slot = await limiter.acquire("deep")
        sent.append(clock.now)
        limiter.release(slot, None)
    # past offset 30,000: 75 per 20 s, though every answer says 100 (spec §3)
    assert max(sum(1 for s in sent if t <= s < t + 20) for t in sent) == 75
    assert limiter.lane_limit(None) == 100


async def test_deep_lane_learns_the_limit_a_429_body_states() -> None:
    clock = FakeClock()
    limiter = HeaderPacedRateLimiter(limit=100, period=20, clock=clock)
    slot = await limiter.acquire("deep")
    # the recorded log of #1449: "23 of 10" while the headers said 100
    limiter.release(slot, _429("5", "Rate limit exceeded: 23 of 10 requests per 20 seconds"))
    assert limiter.lane_limit("deep") == 10
    assert limiter.lane_limit(None) == 100  # the common lane keeps the announced limit
    clock.now += 40  # every slot expired
    sent: list[float] = []
    for _ in range(25):
        s = await limiter.acquire("deep")
        sent.append(clock.now)
        limiter.release(s, None)
    assert max(sum(1 for x in sent if t <= x < t + 20) for t in sent) == 10


async def test_4xx_is_not_retried_and_names_the_reason() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(
            422,
            json={
                "errors": [
                    {
                        "status": "422",
                        "title": "Validation Error",
                        "detail": "must exist",
                        "source": {"parameter": "person"},
                    }
                ]
            },
        )

    async with make_client(handler, clock) as client:
        with pytest.raises(ValidationError) as info:
            await client.request("POST", "/services/v2/x")
    assert calls == 1
    assert "person must exist" in str(info.value)


async def test_5xx_on_get_retries_until_exhausted() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500, json={"errors": [{"status": "500", "title": "Oops"}]})

    async with make_client(handler, clock) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.request("GET", "/people/v2/people")
    assert calls == 4
    assert info.value.attempts == 4


async def test_timed_out_post_is_ambiguous_and_not_resent() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("slow", request=request)

    async with make_client(handler, clock) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.request("POST", "/people/v2/people", json={"data": {}})
    assert calls == 1


async def test_500_on_post_is_ambiguous_but_503_is_retried() -> None:
    clock = FakeClock()
    statuses = [503, 500]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(statuses.pop(0), json={"errors": []})

    async with make_client(handler, clock) as client:
        with pytest.raises(AmbiguousWriteError):
            await client.request("POST", "/people/v2/people", json={})
    assert statuses == []  # the 503 was retried, the 500 was not


async def test_timed_out_get_is_retried() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(404, json={"errors": [{"status": "404", "title": "Not Found"}]})

    async with make_client(handler, clock) as client:
        with pytest.raises(NotFoundError):
            await client.request("GET", "/people/v2/people/1")
    assert calls == 3


async def test_total_time_budget_stops_retries() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    policy = RetryPolicy(max_attempts=100, max_total_seconds=3, base_seconds=1, cap_seconds=1)
    async with make_client(handler, clock, retry=policy) as client:
        with pytest.raises(RetriesExhausted) as info:
            await client.request("GET", "/x")
    assert isinstance(info.value.last, TransportError)
    assert sum(clock.slept) <= 3


async def test_connect_timeout_on_post_is_retried_not_ambiguous() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:  # no connection was made: nothing reached the server
            raise httpx.ConnectTimeout("no route", request=request)
        return httpx.Response(201, json={"data": {"type": "Person", "id": "9"}})

    async with make_client(handler, clock) as client:
        resp = await client.request("POST", "/people/v2/people", json={"data": {}})
    assert resp.status_code == 201
    assert calls == 2


async def test_delete_resent_after_a_lost_answer_and_now_gone_is_done() -> None:
    clock = FakeClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:  # applied, but the answer never came back
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(404, json={"errors": [{"status": "404", "title": "Not Found"}]})

    async with make_client(handler, clock) as client:
        resp = await client.request("DELETE", "/people/v2/emails/5")
    assert resp.status_code == 204
    assert calls == 2


async def test_delete_of_a_missing_record_on_the_first_try_is_not_found() -> None:
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"errors": [{"status": "404", "title": "Not Found"}]})

    async with make_client(handler, clock) as client:
        with pytest.raises(NotFoundError):
            await client.request("DELETE", "/people/v2/emails/5")


async def test_no_log_line_carries_query_values(caplog: pytest.LogCaptureFixture) -> None:
    """At ``-v`` (root INFO) httpx's own request line would print the full URL."""
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": []})

    caplog.set_level(logging.INFO)
    async with make_client(handler, clock) as client:
        await client.request(
            "GET", "/people/v2/people", params={"where[search_name_or_email]": "jane@example.org"}
        )
    assert "http.request pco GET /people/v2/people?where[search_name_or_email]" in caplog.text
    assert "jane" not in caplog.text


def _response(status: int, method: str = "GET", **kw: object) -> httpx.Response:
    request = httpx.Request(method, "http://x.test/api/People/5?$filter=Email eq 'a@b.org'")
    return httpx.Response(status, request=request, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("classify", [classify_pco, classify_rock])
def test_both_apis_map_statuses_to_the_same_errors(
    classify: Callable[[httpx.Response], object],
) -> None:
    assert isinstance(classify(_response(400, json={})), ValidationError)
    assert isinstance(classify(_response(422, json={})), ValidationError)
    assert isinstance(classify(_response(401)), AuthenticationError)
    assert isinstance(classify(_response(404)), NotFoundError)
    assert isinstance(classify(_response(502)), ServerError)
    limited = classify(_response(429, headers={"Retry-After": "19"}))
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 19.0
    assert limited.status == 429
    assert "a@b.org" not in str(classify(_response(400, json={})))


def test_rock_html_page_keeps_its_status_meaning() -> None:
    page = {"headers": {"content-type": "text/html"}, "content": b"<html>Not Found</html>"}
    missing = classify_rock(_response(404, **page))
    assert isinstance(missing, NotFoundError)  # a wrong URL is not retried as a server error
    assert "Rock URL" in str(missing)
    assert isinstance(classify_rock(_response(200, **page)), ServerError)
    assert isinstance(classify_rock(_response(503, **page)), ServerError)
    assert classify_rock(_response(200, json=[])) is None
