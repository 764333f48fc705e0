"""The control plane both emulators share: clock, fault injection, stats, request log.

Each emulator is a Starlette app wrapped in :class:`EmulatorMiddleware`. The middleware counts
every API request (control requests under ``/__emulator__/`` are not counted and never
faulted), applies the injected faults, and keeps a bounded log of recent requests. The
emulator adds its own control routes (reset, UI actions) beside :func:`control_routes`.

Faults are rules, applied in order, first match wins per kind::

    {"kind": "latency", "ms": 150}                                # every request
    {"kind": "error", "status": 500, "rate": 0.2}                 # 20 % of requests
    {"kind": "rate_limit", "count": 5, "retry_after": 2}          # next 5 requests get 429
    {"kind": "rate_limit", "retry_after": -3}                     # a negative Retry-After (#606)
    {"kind": "rate_limit", "retry_after": null}                   # a 429 without Retry-After
    {"kind": "timeout", "method": "POST", "path": "/people/v2/people",
     "seconds": 30, "after_apply": true, "count": 1}              # applied, answer never comes
    {"kind": "drop", "rate": 0.1, "after_apply": false}           # connection closed, no answer
    {"kind": "error", "status": 200, "body": "html"}              # a named alternative body

``path`` is a prefix of the request path; ``method`` an HTTP method; ``rate`` a probability
(default 1); ``count`` the most times the rule fires (default unlimited); ``after`` how many
matching requests go through untouched before it starts firing (default 0), e.g. a key
revoked after the first two writes: ``{"kind": "error", "status": 401, "method": "PATCH",
"after": 2}``. ``after_apply``
lets the request change state before the answer is lost: the ambiguous write. ``body`` names
one of the alternative error bodies the emulator registered (``error_bodies``), such as Rock's
HTML error page. ``retry_after`` is sent as given (seconds, or any text such as an HTTP-date);
``null`` leaves the header out.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/__emulator__"
_ID_SEGMENT = re.compile(r"^(\d+|[0-9a-fA-F-]{32,36})$")


def _system_now() -> datetime:
    return datetime.now(UTC)


class EmulatorClock:
    """Settable wall clock in aware UTC. Rate limiting uses monotonic time instead.

    ``source`` is the time it runs from (default: the system clock); a simulation passes its
    virtual clock, so every ``updated_at`` / ``ModifiedDateTime`` the emulator stamps follows it.
    """

    def __init__(self, source: Callable[[], datetime] | None = None) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None
        self._source = source or _system_now

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return self._source() + self._offset

    def set(self, when: datetime, *, frozen: bool = False) -> None:
        if when.tzinfo is None:
            raise ValueError("clock time must carry a UTC offset")
        when = when.astimezone(UTC)
        if frozen:
            self._frozen = when
        else:
            self._frozen = None
            self._offset = when - self._source()

    def advance(self, seconds: float) -> None:
        if self._frozen is not None:
            self._frozen += timedelta(seconds=seconds)
        else:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen = None

    def describe(self) -> dict[str, Any]:
        return {"now": self.now().isoformat(), "frozen": self._frozen is not None}


@dataclass
class FaultRule:
    kind: str
    rate: float = 1.0
    count: int | None = None
    method: str | None = None
    path: str | None = None
    ms: float = 0.0
    status: int = 500
    seconds: float = 30.0
    retry_after: int | float | str | None = 2
    after_apply: bool = False
    body: str | None = None
    after: int = 0
    fired: int = 0
    passed: int = 0

    KINDS = frozenset({"latency", "error", "rate_limit", "timeout", "drop"})

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> FaultRule:
        kind = raw.get("kind")
        if kind not in cls.KINDS:
            raise ValueError(f"fault kind must be one of {sorted(cls.KINDS)}, got {kind!r}")
        allowed = {
            "kind",
            "rate",
            "count",
            "method",
            "path",
            "ms",
            "status",
            "seconds",
            "retry_after",
            "after_apply",
            "body",
            "after",
        }
        unknown = set(raw) - allowed
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        rule = cls(**{k: v for k, v in raw.items()})
        if rule.method:
            rule.method = rule.method.upper()
        return rule

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if self.method and self.method != method:
            return False
        return not (self.path and not path.startswith(self.path))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Stats:
    requests: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    by_route: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    throttled: int = 0
    faults_fired: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_method": dict(self.by_method),
            "by_route": dict(self.by_route),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "throttled": self.throttled,
            "faults_fired": dict(self.faults_fired),
        }


def route_key(method: str, path: str) -> str:
    """``GET /people/v2/people/{id}/emails`` — ids folded so counts group by route."""
    segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/")]
    return f"{method} {'/'.join(segments)}"


ErrorBody = Callable[[int], tuple[bytes, str]]


def _default_error_body(status: int) -> tuple[bytes, str]:
    return b"", "text/plain"


RequestHook = Callable[[Scope], Awaitable[None]]


class Control:
    """Clock, faults, stats and log of one emulator instance.

    ``request_hook`` (in-process only) is awaited before every API request is handled, faults
    included: a simulation uses it to make a person's edits land between any two requests of
    a run, and to choose the faults of the next request. ``clock_source`` feeds the clock.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        log_size: int = 2000,
        clock_source: Callable[[], datetime] | None = None,
        request_hook: RequestHook | None = None,
    ) -> None:
        self.clock = EmulatorClock(clock_source)
        self.request_hook = request_hook
        self.rules: list[FaultRule] = []
        self.stats = Stats()
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self.rng = random.Random(seed)
        self.body_variants: set[str] = set()

    def set_faults(self, raw: list[dict[str, Any]], seed: int | None = None) -> None:
        rules = [FaultRule.parse(r) for r in raw]
        for rule in rules:
            if rule.body is not None and rule.body not in self.body_variants:
                raise ValueError(
                    f"fault body must be one of {sorted(self.body_variants)}, got {rule.body!r}"
                )
        self.rules = rules
        if seed is not None:
            self.rng = random.Random(seed)

    def pick(self, kind: str, method: str, path: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.kind != kind or not rule.matches(method, path):
                continue
            if rule.passed < rule.after:
                rule.passed += 1
                continue
            if rule.rate < 1.0 and self.rng.random() >= rule.rate:
                continue
            rule.fired += 1
            self.stats.faults_fired[kind] += 1
            return rule
        return None

    def reset_stats(self) -> None:
        self.stats = Stats()
        self.log.clear()


class _Dropped(Exception):
    """Raised inside the server to abandon a connection without a complete answer."""


class EmulatorMiddleware:
    """Counts, logs and faults API requests; passes control requests straight through."""

    def __init__(
        self,
        app: ASGIApp,
        control: Control,
        error_body: ErrorBody | None = None,
        rate_limit_body: ErrorBody | None = None,
        error_bodies: dict[str, ErrorBody] | None = None,
    ) -> None:
        self.app = app
        self.control = control
        self.error_body = error_body or _default_error_body
        self.rate_limit_body = rate_limit_body or error_body or _default_error_body
        self.error_bodies = dict(error_bodies or {})
        control.body_variants.update(self.error_bodies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        c = self.control
        if c.request_hook is not None:
            await c.request_hook(scope)
        method: str = scope["method"]
        path: str = scope["path"]
        c.stats.requests += 1
        c.stats.by_method[method] += 1
        c.stats.by_route[route_key(method, path)] += 1
        started = time.perf_counter()
        status_box: list[int] = [0]

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        latency = c.pick("latency", method, path)
        if latency is not None and latency.ms > 0:
            await asyncio.sleep(latency.ms / 1000)

        try:
            if (rule := c.pick("rate_limit", method, path)) is not None:
                body, ctype = self.rate_limit_body(429)
                extra = (
                    []
                    if rule.retry_after is None
                    else [(b"retry-after", str(rule.retry_after).encode())]
                )
                await self._respond(counting_send, 429, body, ctype, extra)
            elif (rule := c.pick("error", method, path)) is not None:
                make_body = self.error_bodies.get(rule.body or "", self.error_body)
                body, ctype = make_body(rule.status)
                await self._respond(counting_send, rule.status, body, ctype)
            elif (rule := c.pick("timeout", method, path)) is not None:
                if rule.after_apply:
                    await self.app(scope, receive, self._swallow)
                await asyncio.sleep(rule.seconds)
                raise _Dropped
            elif (rule := c.pick("drop", method, path)) is not None:
                if rule.after_apply:
                    await self.app(scope, receive, self._swallow)
                # start an answer and abandon it: the client sees the connection close early
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"100")],
                    }
                )
                await send({"type": "http.response.body", "body": b"{", "more_body": True})
                raise _Dropped
            else:
                await self.app(scope, receive, counting_send)
        finally:
            status = status_box[0]
            if status:
                c.stats.by_status[status] += 1
                if status == 429:
                    c.stats.throttled += 1
            c.log.append(
                {
                    "method": method,
                    "path": path,
                    "query": scope.get("query_string", b"").decode("latin-1"),
                    "status": status or None,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "at": c.clock.now().isoformat(),
                }
            )

    @staticmethod
    async def _swallow(message: Message) -> None:
        return None

    @staticmethod
    async def _respond(
        send: Send,
        status: int,
        body: bytes,
        ctype: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode())]
        headers += extra or []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _parse_when(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("'now' must carry a UTC offset, e.g. 2026-01-01T12:00:00Z")
    return when


def control_routes(control: Control) -> list[Route]:
    """Routes every emulator shares: stats, request log, faults, clock."""

    async def stats(request: Request) -> Response:
        if request.method == "DELETE":
            control.reset_stats()
            return Response(status_code=204)
        return JSONResponse(control.stats.as_dict())

    async def requests_log(request: Request) -> Response:
        limit = int(request.query_params.get("limit", "200"))
        items = list(control.log)[-limit:]
        return JSONResponse({"requests": items})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": [r.as_dict() for r in control.rules]})
        if request.method == "DELETE":
            control.rules = []
            return Response(status_code=204)
        try:
            payload = json.loads(await request.body() or b"{}")
            raw = payload.get("faults", payload if isinstance(payload, list) else [])
            control.set_faults(raw, payload.get("seed") if isinstance(payload, dict) else None)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"faults": [r.as_dict() for r in control.rules]})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                payload = json.loads(await request.body() or b"{}")
                if "now" in payload:
                    control.clock.set(
                        _parse_when(payload["now"]), frozen=bool(payload.get("frozen", False))
                    )
                if "advance_seconds" in payload:
                    control.clock.advance(float(payload["advance_seconds"]))
                if payload.get("reset"):
                    control.clock.reset()
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(control.clock.describe())

    return [
        Route(f"{CONTROL_PREFIX}/stats", stats, methods=["GET", "DELETE"]),
        Route(f"{CONTROL_PREFIX}/requests", requests_log, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL_PREFIX}/clock", clock, methods=["GET", "POST"]),
    ]
