"""Shared HTTP layer for both API clients: transport, retries, rate limiting, logging.

Both clients send every request through :class:`ApiHttpClient.request`. What differs per API
lives in a small ``classify(response)`` function that maps a response to ``None`` (success)
or an error of the tree in :mod:`pcosync.errors`; retry decisions are type tests on that tree.

Writes are where retries get dangerous. A POST whose answer is lost (timeout, dropped
connection, a 5xx other than 503) may have happened, so it raises
:class:`~pcosync.errors.AmbiguousWriteError` at once instead of being resent; the caller
re-reads and reconciles. 429 and 503 mean "not processed" and are retried for any method.
A DELETE resent after a lost answer that now finds nothing (404) was done by the first try.

httpx's own INFO line carries the full URL, query values included (an OData ``$filter`` or a
``where[...]`` may hold an email or a name), so it is dropped; ``http.request`` replaces it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import random
import re
import ssl
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx

from pcosync.errors import (
    AmbiguousWriteError,
    ApiError,
    ConnectError,
    NotFoundError,
    RateLimitedError,
    RetriesExhausted,
    RetryableError,
    ServerError,
    TransportError,
)

log = logging.getLogger("pcosync.http")


class _DropHttpxRequestLine(logging.Filter):
    """httpx logs every request's full URL at INFO; query values may be personal data."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


logging.getLogger("httpx").addFilter(_DropHttpxRequestLine())

Classifier = Callable[[httpx.Response], ApiError | None]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


class Clock(Protocol):
    """Time source and sleeper, injected so tests and simulations can run on a fake clock."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with full jitter, capped by attempts *and* time.

    ``max_attempts`` counts every try, the first included. A ``Retry-After`` from the server
    replaces the computed wait (plus a little jitter so parallel callers do not stampede).
    """

    max_attempts: int = 6
    max_total_seconds: float = 180.0
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    retry_after_jitter: float = 0.25

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait before try number ``attempt + 1`` (``attempt`` starts at 1)."""
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** (attempt - 1)))
        return rng.uniform(ceiling / 2, ceiling)

    def wait_for(self, error: ApiError, attempt: int, rng: random.Random) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after + rng.uniform(0, self.retry_after_jitter)
        return self.backoff(attempt, rng)


NO_RETRIES = RetryPolicy(max_attempts=1)


class Slot:
    """One request's place in a rate-limit window (``lane``: a stricter class of requests)."""

    __slots__ = ("expires", "lane")

    def __init__(self, lane: str | None = None) -> None:
        self.expires = float("inf")  # in flight: counts until its answer arrives
        self.lane = lane


class RateLimiter(Protocol):
    async def acquire(self, lane: str | None = None) -> Slot: ...

    def release(self, slot: Slot, response: httpx.Response | None) -> None: ...

    def give_back(self, slot: Slot) -> None:
        """A slot acquired and not used: nothing was sent with it."""

    def headroom(self) -> str: ...

    def free_now(self, lane: str | None = None) -> int: ...


class NoRateLimit:
    """Rock publishes no rate limit; concurrency is bounded by the client instead."""

    async def acquire(self, lane: str | None = None) -> Slot:
        return Slot(lane)

    def release(self, slot: Slot, response: httpx.Response | None) -> None:
        return None

    def give_back(self, slot: Slot) -> None:
        return None

    def headroom(self) -> str:
        return "-"

    def free_now(self, lane: str | None = None) -> int:
        return 1 << 30


class WriteGuard(Protocol):
    """Asked before a write is sent (see :data:`write_guard`): the sync's check that the run
    has looked at the target side recently enough, measured when the write is *sent*, after
    any wait for the rate limit, not when it was queued."""

    async def look(self) -> None:
        """Make sure the target side was read recently (reading it now if not). Raises
        :class:`~pcosync.errors.WriteSuperseded` when what the write carries was re-planned."""

    def go(self, *, waited: bool) -> bool:
        """With the rate slot in hand: True to send now (the write is then committed to),
        False when the look has gone stale while waiting (look again). ``waited``: the
        limiter made the write wait for its slot (if not, looking again would be no fresher).
        May raise :class:`~pcosync.errors.WriteSuperseded`."""

    def not_applied(self) -> None:
        """The write just tried was certainly not applied (refused with a 429 or a 503, or
        no connection was made): if nothing else of the operation went through, it may be
        re-planned again before it is retried."""


# Set by the sync around one operation: every write it sends asks the guard first. Reads are
# never guarded (the guard's own re-read goes through the same client).
write_guard: ContextVar[WriteGuard | None] = ContextVar("pcosync_write_guard", default=None)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# answers that say a write was not applied (a 503 is retried as such, even for a POST)
NOT_APPLIED_STATUSES = frozenset({429, 503})


def parse_period(value: str | None) -> float | None:
    """PCO sends the rate period as ``20`` or ``20 seconds``; accept both."""
    if not value:
        return None
    head = value.strip().split()[0]
    try:
        return float(head)
    except ValueError:
        return None


def parse_retry_after(value: str | None, date: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when it says nothing usable.

    Real 429s have come with a negative value (#606) and without the header (spec §7.3 item
    16); a value that is not a positive number of seconds (negative, zero, garbage) is treated
    as missing, so the caller falls back to its own pacing instead of sleeping a negative time
    or hammering the server. An HTTP-date (RFC 9110) is read against the response's ``Date``.
    """
    if value is None:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, date)
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        return None
    return seconds


def _seconds_until(when: str, date: str | None) -> float | None:
    if not date:
        return None
    try:
        target, now = parsedate_to_datetime(when), parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    if target.tzinfo is None or now.tzinfo is None:
        return None
    return (target - now).total_seconds()


def response_retry_after(response: httpx.Response) -> float | None:
    """:func:`parse_retry_after` of a response's headers."""
    return parse_retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))


_RATE_DETAIL = re.compile(r"(\d+)\s+of\s+(\d+)\s+requests\s+per\s+(\d+)", re.IGNORECASE)


def limit_in_body(response: httpx.Response) -> int | None:
    """The limit a PCO 429 body states (``"Rate limit exceeded: 23 of 10 requests per 20
    seconds"``): past offset 30,000 it is lower than the headers announce (#1449, #1450)."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    for err in errors if isinstance(errors, list) else []:
        detail = err.get("detail") if isinstance(err, dict) else None
        found = _RATE_DETAIL.search(detail) if isinstance(detail, str) else None
        if found and int(found.group(2)) > 0:
            return int(found.group(2))
    return None


DEEP_LANE = "deep"


class HeaderPacedRateLimiter:
    """Never plans to exceed the server's limit; learns the limit from response headers.

    It keeps a sliding log of our own requests. A request holds its slot while in flight and
    for one full period after its answer arrived, which is conservative whatever window the
    server uses. When the server reports a higher count than ours (another program using the
    same login), the difference is booked as phantom slots. A 429's ``Retry-After`` pauses every
    caller sharing this limiter; a 429 without a usable one (missing, negative, zero) pauses
    them for a whole period. Limits lowered by the server take effect at once.

    Some requests live under a stricter limit than the headers announce: Planning Center
    allows 75 requests per 20 s with ``offset`` above 30,000 while every answer still says 100
    (spec §3; #1449, #1450). Such a request names its *lane*; it is sent only while the whole
    window holds fewer requests than the lane's limit: ``lane_share`` of the announced limit
    (three quarters for ``deep``), or lower once a 429's body has stated the real figure.
    """

    def __init__(
        self,
        *,
        limit: int = 100,
        period: float = 20.0,
        clock: Clock | None = None,
        lane_share: Mapping[str, float] | None = None,
        max_pause: float = 300.0,
    ) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock or SystemClock()
        self.lane_share = dict(lane_share if lane_share is not None else {DEEP_LANE: 0.75})
        self.lane_limits: dict[str, int] = {}  # stated by the server in a 429's body
        self.max_pause = max_pause
        self._slots: list[Slot] = []
        self._paused_until = 0.0
        self.waited_seconds = 0.0
        # told how long the limiter is about to wait (e.g. to show "waiting on the rate
        # limit"); the limiter is shared per login, so add and remove, never replace
        self.on_wait: list[Callable[[float], None]] = []

    def _in_window(self, now: float) -> int:
        self._slots = [s for s in self._slots if s.expires > now]
        return len(self._slots)

    def lane_limit(self, lane: str | None) -> int:
        """How many requests the window may hold when one of ``lane`` is sent."""
        if lane is None:
            return self.limit
        share = self.lane_share.get(lane, 1.0)
        limit = max(1, int(self.limit * share))
        stated = self.lane_limits.get(lane)
        return min(limit, stated) if stated is not None else limit

    async def acquire(self, lane: str | None = None) -> Slot:
        while True:
            now = self.clock.monotonic()
            if now < self._paused_until:
                wait = self._paused_until - now
            else:
                used = self._in_window(now)
                if used < self.lane_limit(lane):
                    slot = Slot(lane)
                    self._slots.append(slot)
                    return slot
                finite = [s.expires for s in self._slots if s.expires != float("inf")]
                # every slot in flight: wait a little for answers to arrive; a slot answered
                # from now on frees its place a period later, so never wait longer than that
                wait = (min(finite) - now) if finite else 0.05
                if len(finite) < len(self._slots):
                    wait = min(wait, self.period)
            wait = max(wait, 0.001)
            self.waited_seconds += wait
            for listener in list(self.on_wait):
                listener(wait)
            await self.clock.sleep(wait)

    def release(self, slot: Slot, response: httpx.Response | None) -> None:
        now = self.clock.monotonic()
        headers = response.headers if response is not None else httpx.Headers()
        period = parse_period(headers.get("X-PCO-API-Request-Rate-Period"))
        if period:  # learned first, so this very slot is held for the server's period
            self.period = period
        slot.expires = now + self.period
        if response is None:
            return
        limit = headers.get("X-PCO-API-Request-Rate-Limit")
        count = headers.get("X-PCO-API-Request-Rate-Count")
        if limit and limit.isdigit() and int(limit) > 0:
            self.limit = int(limit)
        if count and count.isdigit():
            mine = self._in_window(now)
            extra = int(count) - mine
            for _ in range(max(0, extra)):
                phantom = Slot()
                phantom.expires = now + self.period
                self._slots.append(phantom)
        if response.status_code == 429:
            stated = limit_in_body(response)
            if slot.lane is not None and stated is not None and stated < self.limit:
                known = self.lane_limits.get(slot.lane, stated)
                self.lane_limits[slot.lane] = min(known, stated)
            retry_after = response_retry_after(response)
            pause = min(retry_after, self.max_pause) if retry_after is not None else self.period
            self._paused_until = max(self._paused_until, now + pause)

    def give_back(self, slot: Slot) -> None:
        """A slot acquired and not used (nothing was sent with it) frees its place at once."""
        if slot in self._slots:
            self._slots.remove(slot)

    def headroom(self) -> str:
        used = self._in_window(self.clock.monotonic())
        return f"{max(0, self.limit - used)}/{self.limit}"

    def free_now(self, lane: str | None = None) -> int:
        """Requests the window takes right now without anyone waiting (0 while paused)."""
        now = self.clock.monotonic()
        if now < self._paused_until:
            return 0
        return max(0, self.lane_limit(lane) - self._in_window(now))


def redact_target(url: httpx.URL | str) -> str:
    """Path plus the *names* of query parameters: values may carry emails or names."""
    parts = urlsplit(str(url))
    if not parts.query:
        return parts.path
    names = []
    for pair in parts.query.split("&"):
        name = unquote(pair.split("=", 1)[0])
        if name and name not in names:
            names.append(name)
    return f"{parts.path}?{'&'.join(names)}"


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS settings, built once: loading the CA bundle costs about 0.1 s of
    CPU, and a command (the demo, a test) opens dozens of clients."""
    return httpx.create_ssl_context()


class ApiHttpClient:
    """One API's HTTP client: auth, base URL, limiter, retry policy and classifier."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        classify: Classifier,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        timeout: float = 30.0,
        max_in_flight: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.classify = classify
        self.limiter: RateLimiter = limiter or NoRateLimit()
        self.retry = retry or RetryPolicy()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.stats = RequestStats()
        self._sem = asyncio.Semaphore(max_in_flight)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
            verify=shared_ssl_context(),
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ApiHttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _error(self, cls: type[ApiError], message: str, method: str, path: str) -> ApiError:
        return cls(message, service=self.service, method=method, path=path)

    async def _send_once(
        self,
        method: str,
        url: str,
        *,
        params: Any,
        json: Any,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        idempotent: bool,
        rate_lane: str | None = None,
    ) -> httpx.Response:
        """One try. Raises a TransportError subclass when no usable answer came back."""
        guard = write_guard.get() if method not in READ_METHODS else None
        slot = await (
            self._guarded_slot(guard, rate_lane) if guard else self.limiter.acquire(rate_lane)
        )
        response: httpx.Response | None = None
        started = self.clock.monotonic()
        target = redact_target(url)
        try:
            async with self._sem:
                request = self._client.build_request(
                    method, url, params=params, json=json, content=content, headers=headers
                )
                target = redact_target(request.url)
                self.stats.requests += 1
                try:
                    response = await self._client.send(request)
                except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                    # no connection was made, so nothing was sent: safe to retry any method
                    if guard is not None:
                        guard.not_applied()
                    raise self._error(
                        ConnectError,
                        f"{self.service}: cannot connect ({type(exc).__name__})",
                        method,
                        target,
                    ) from None
                except (
                    httpx.TimeoutException,
                    httpx.NetworkError,
                    httpx.RemoteProtocolError,
                ) as exc:
                    kind = (
                        "timed out"
                        if isinstance(exc, httpx.TimeoutException)
                        else "connection lost"
                    )
                    cls: type[ApiError] = TransportError if idempotent else AmbiguousWriteError
                    raise self._error(
                        cls,
                        f"{self.service} {method} {target}: {kind} before an answer arrived",
                        method,
                        target,
                    ) from None
        finally:
            self.limiter.release(slot, response)
            elapsed_ms = (self.clock.monotonic() - started) * 1000
            log.info(
                "http.request %s %s %s %s %.0fms headroom=%s",
                self.service,
                method,
                target,
                response.status_code if response is not None else "-",
                elapsed_ms,
                self.limiter.headroom(),
            )
        if guard is not None and response.status_code in NOT_APPLIED_STATUSES:
            guard.not_applied()
        return response

    async def _guarded_slot(self, guard: WriteGuard, lane: str | None) -> Slot:
        """A rate slot for a guarded write, taken only once the guard's look is recent: a
        write that waited on the limit past it gives its slot back and looks again."""
        while True:
            await guard.look()
            asked = self.clock.monotonic()
            slot = await self.limiter.acquire(lane)
            # (a limiter that has room answers without sleeping; its shortest sleep is 1 ms)
            waited = self.clock.monotonic() - asked >= 0.001
            try:
                ready = guard.go(waited=waited)
            except BaseException:
                self.limiter.give_back(slot)
                raise
            if ready:
                return slot
            self.limiter.give_back(slot)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        rate_lane: str | None = None,
    ) -> httpx.Response:
        """Send with retries; return a successful response or raise a typed ApiError.

        ``rate_lane`` names a stricter class of requests for the rate limiter (``"deep"``:
        Planning Center offsets above 30,000)."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        started = self.clock.monotonic()
        attempt = 0
        answer_lost = False  # an earlier try may have been applied without our hearing of it
        while True:
            attempt += 1
            error: ApiError
            try:
                response = await self._send_once(
                    method,
                    url,
                    params=params,
                    json=json,
                    content=content,
                    headers=headers,
                    idempotent=idempotent,
                    rate_lane=rate_lane,
                )
            except (ConnectError, TransportError) as exc:
                if isinstance(exc, AmbiguousWriteError):
                    raise
                answer_lost = answer_lost or not isinstance(exc, ConnectError)
                error = exc
            else:
                found = self.classify(response)
                if found is None:
                    return response
                error = found
                if method == "DELETE" and answer_lost and isinstance(error, NotFoundError):
                    log.info(
                        "http.delete_already_done %s %s (an earlier try was applied)",
                        self.service,
                        error.path,
                    )
                    return httpx.Response(204, request=response.request)
                if isinstance(error, RateLimitedError):
                    self.stats.rate_limited += 1
                elif isinstance(error, ServerError):
                    self.stats.server_errors += 1
                    answer_lost = answer_lost or response.status_code != 503
                    if not idempotent and response.status_code != 503:
                        raise AmbiguousWriteError(
                            f"{self.service} {method} {error.path}: server error "
                            f"{response.status_code} on a write; its outcome is unknown",
                            service=self.service,
                            method=method,
                            path=error.path,
                            status=response.status_code,
                        )
                if not isinstance(error, RetryableError):
                    raise error
            wait = self.retry.wait_for(error, attempt, self.rng)
            spent = self.clock.monotonic() - started
            if attempt >= self.retry.max_attempts or spent + wait > self.retry.max_total_seconds:
                where = error.path or redact_target(url)
                raise RetriesExhausted(
                    f"{self.service} {method} {where}: gave up after {attempt} "
                    f"tries in {spent:.0f}s ({error})",
                    last=error,
                    attempts=attempt,
                    service=self.service,
                    method=method,
                    path=error.path,
                    status=error.status,
                )
            self.stats.retries += 1
            log.info(
                "http.retry_scheduled %s %s %s attempt=%d wait=%.2fs reason=%s",
                self.service,
                method,
                error.path,
                attempt,
                wait,
                type(error).__name__,
            )
            await self.clock.sleep(wait)
