"""What happens to every API request before a handler sees it, and to every answer after.

In order: ``PUT`` is answered with PCO's 404 HTML page (fixture: no JSON, no rate headers);
the caller is authenticated (HTTP Basic personal access token or OAuth bearer); the
request is counted against **its user's** rate-limit window (rejected requests count too,
so hammering through a 429 only extends it); the product's ``X-PCO-API-Version`` is
resolved; then the handler runs. Every answer gets ``X-PCO-API-Request-Rate-Limit``,
``-Count`` and ``-Period``, and product answers ``X-PCO-API-Processed-As-Version``.

The rate-limit window is **fixed**: it opens with a user's first request and closes
``period`` seconds later (real monotonic time, not the settable emulator clock);
``Retry-After`` is the time left in it. Requests with ``offset`` above 30,000 are held to
the deep-offset limit (75 of 100 by default) within the same window, while the headers go on
announcing the common limit, as the real API does (#1449, #1450: "23 of 10" in a 429 body
whose headers said 100). ``retry_after`` can make the window's 429s carry no ``Retry-After``
or a fixed (even negative, #606) value, as real 429s have.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.responses import Response

from pcosync.emulators.control import CONTROL_PREFIX, ASGIApp, Message, Receive, Scope, Send
from pcosync.emulators.pco.jsonapi import (
    DEEP_OFFSET,
    ApiError,
    Ctx,
    error,
    not_found,
    parse_query,
    rate_limit_error,
    requested_offset,
)
from pcosync.emulators.pco.versions import DEFAULT_VERSIONS, UnsupportedVersion, resolve

if TYPE_CHECKING:
    from pcosync.emulators.pco.app import PcoEmulator

PRODUCTS = ("people", "services", "webhooks")
PROCESSOR = "ENG_pcosync-emulator"

NOT_FOUND_HTML = b"""<!DOCTYPE html>
<html>
  <head>
    <title>404</title>
  </head>
  <body>
    <div class="header">
      <h1>Sorry, we couldn't find that page.</h1>
      <p>The page you were looking for doesn't exist.</p>
    </div>
    <div class="detail-modal">
      <h3 class="detail-modal--header">Next Steps:</h3>
      <ol>
        <li>Double check the <strong>address bar</strong> and make sure the link there is
          correct.</li>
        <li>Be sure to check that you are <strong>signed into the correct account.</strong></li>
      </ol>
      <div class="detail-modal--footer"><p>Still having trouble?</p></div>
    </div>
  </body>
</html>
"""


def format_period(period: float) -> str:
    return f"{period:g}"


@dataclass
class Decision:
    allowed: bool
    count: int
    limit: int  # the limit this request was held to (the 429 body states it)
    period: float
    retry_after: int
    announced: int  # what X-PCO-API-Request-Rate-Limit says: always the common limit


class RateLimiter:
    """A fixed window per key (user), counting every request, rejected ones included."""

    def __init__(
        self,
        limit: int,
        period: float,
        deep_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.period = period
        self.deep_limit = deep_limit if deep_limit is not None else max(1, limit * 3 // 4)
        self.clock = clock
        self.windows: dict[str, list[float]] = {}  # key -> [window start, count]
        # "window": the time left in it; None: no Retry-After header; a number: that value
        self.retry_after: str | int | None = "window"

    def reset(self) -> None:
        self.windows.clear()

    def hit(self, key: str, *, deep: bool = False) -> Decision:
        now = self.clock()
        window = self.windows.get(key)
        if window is None or now - window[0] >= self.period:
            window = [now, 0.0]
            self.windows[key] = window
        window[1] += 1
        count = int(window[1])
        limit = self.deep_limit if deep else self.limit
        left = window[0] + self.period - now
        return Decision(
            count <= limit, count, limit, self.period, max(1, math.ceil(left)), self.limit
        )

    def retry_after_header(self, decision: Decision) -> dict[str, str]:
        """The ``Retry-After`` of a 429 from the window, as configured (none at all, too)."""
        if self.retry_after is None:
            return {}
        if self.retry_after == "window":
            return {"Retry-After": str(decision.retry_after)}
        return {"Retry-After": str(self.retry_after)}


@dataclass
class Caller:
    user_id: int | None
    method: str | None = None  # HTTPBasic | OAuth2
    scopes: frozenset[str] | None = None  # None: a personal access token (all products)
    hint: str | None = None


def product_of(path: str) -> str | None:
    for product in PRODUCTS:
        prefix = f"/{product}/v2"
        if path == prefix or path.startswith(prefix + "/"):
            return product
    return None


class PcoGate:
    """Authentication, rate limit, version and common headers for API requests."""

    def __init__(self, app: ASGIApp, emulator: PcoEmulator) -> None:
        self.app = app
        self.emulator = emulator

    def authenticate(self, header: str | None) -> Caller:
        emu = self.emulator
        if not header:
            return Caller(None)
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                app_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return Caller(None)
            ok = secrets.compare_digest(
                app_id.encode(), emu.app_id.encode()
            ) and secrets.compare_digest(secret.encode(), emu.secret.encode())
            return Caller(emu.store.pat_user_id, "HTTPBasic") if ok else Caller(None)
        if scheme.lower() == "bearer":
            check = emu.oauth.check_bearer(value.strip())
            if check.user_id is None:
                return Caller(None, hint=check.hint)
            return Caller(check.user_id, "OAuth2", check.scopes)
        return Caller(None)

    def _admit(
        self, caller: Caller, decision: Decision, product: str | None, headers: Headers
    ) -> str:
        """The version to process the request as, or the ApiError that refuses it."""
        if caller.user_id is None:
            hint = f" Error Code Hint: ({caller.hint})" if caller.hint else ""
            detail = f"This request could not be authenticated.{hint}"
            raise ApiError(
                401,
                [error(401, "Unauthorized", detail, code="unauthorized")],
                headers={"WWW-Authenticate": 'Basic realm="Application"'},
            )
        if not decision.allowed:
            raise ApiError(
                429,
                [rate_limit_error(decision.count, decision.limit, decision.period)],
                headers=self.emulator.limiter.retry_after_header(decision),
            )
        if product is None:  # fixture unknown-path-bogus-404: no processed-as header
            raise not_found()
        try:
            version = resolve(product, headers.get("x-pco-api-version"))
        except UnsupportedVersion as exc:
            detail = (
                f"The requested API version '{exc}' is not supported (the first is 2018-08-01)."
            )
            raise ApiError(
                400, [error(400, "Bad Request", detail, code="unsupported_version_error")]
            ) from None
        if caller.scopes is not None and product not in caller.scopes:
            detail = "This request could not be authorized. Error Code Hint: (PELICAN)"
            raise ApiError(403, [error(403, "Forbidden", detail)])
        return version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] != "http" or path.startswith((CONTROL_PREFIX, "/oauth/")):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "PUT":  # fixture services-song-put-unsupported-404-html
            html = Response(NOT_FOUND_HTML, 404, media_type="text/html; charset=utf-8")
            await html(scope, receive, send)
            return
        emu = self.emulator
        headers = Headers(scope=scope)
        caller = self.authenticate(headers.get("authorization"))
        client = scope.get("client") or ("unknown", 0)
        bucket = f"user:{caller.user_id}" if caller.user_id is not None else f"anon:{client[0]}"
        query_string = scope.get("query_string", b"").decode("latin-1")
        decision = emu.limiter.hit(bucket, deep=requested_offset(query_string) > DEEP_OFFSET)
        product = product_of(path)
        # the recorded unknown-path 404 said "20 seconds"; product answers say "20"
        period = format_period(decision.period) + ("" if product else " seconds")
        extra = {
            "X-PCO-API-Request-Rate-Limit": str(decision.announced),
            "X-PCO-API-Request-Rate-Count": str(decision.count),
            "X-PCO-API-Request-Rate-Period": period,
        }
        if caller.method and product:  # the recorded unknown-path 404 has no auth method
            extra["X-PCO-API-Auth-Method"] = caller.method
        try:
            version = self._admit(caller, decision, product, headers)
        except ApiError as refusal:
            if refusal.status not in (401, 404, 429):
                extra["X-PCO-API-Processed-As-Version"] = DEFAULT_VERSIONS.get(product or "", "")
            refusal.headers.update(extra)
            await refusal.response()(scope, receive, send)
            return
        assert product is not None
        extra["X-PCO-API-Processed-As-Version"] = version
        extra["X-PCO-API-Processor"] = PROCESSOR
        now = emu.control.clock.now()
        emu.store.purge_expired_teams(now)
        emu.base_url = _base_url(scope, headers)
        query = parse_query(parse_qsl(query_string, keep_blank_values=True))
        scope.setdefault("state", {})["pco_ctx"] = Ctx(
            store=emu.store,
            now=now,
            tz=emu.tz,
            version=version,
            product=product,
            base=emu.base_url,
            user_id=caller.user_id,
            query=query,
        )
        added = [(k.lower().encode(), v.encode()) for k, v in extra.items()]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *added]
            await send(message)

        await self.app(scope, receive, with_headers)


class CommitMiddleware:
    """Makes a request's writes durable (``--data``) and hands its webhook events over
    as soon as the handler starts answering, so the next request sees them written."""

    def __init__(self, app: ASGIApp, emulator: PcoEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def committing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.emulator.commit()
            await send(message)

        try:
            await self.app(scope, receive, committing_send)
        finally:
            self.emulator.commit()


def _base_url(scope: Scope, headers: Headers) -> str:
    scheme = scope.get("scheme", "http")
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"
