"""Planning Center authentication: Personal Access Token (Basic) or OAuth bearer tokens.

OAuth access tokens live two hours (spec §1.3). :class:`OAuthAuth` refreshes a token that is
within five minutes of expiry before sending, and on a 401 refreshes once and resends, as
PCO staff advise. Each refresh returns a new refresh token; ``on_refresh`` lets the caller
persist it (the old one stops working).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import httpx

from pcosync.errors import AuthenticationError

REFRESH_MARGIN_SECONDS = 300


@dataclass
class OAuthTokens:
    access_token: str
    refresh_token: str
    expires_at: float  # unix time

    def __repr__(self) -> str:  # never show tokens
        return f"OAuthTokens(expires_at={self.expires_at:.0f})"


def pat_auth(app_id: str, secret: str) -> httpx.Auth:
    return httpx.BasicAuth(app_id, secret)


class OAuthAuth(httpx.Auth):
    def __init__(
        self,
        tokens: OAuthTokens,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        on_refresh: Callable[[OAuthTokens], None] | None = None,
        now: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.tokens = tokens
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.on_refresh = on_refresh
        self.now = now
        self._transport = transport
        self._lock = asyncio.Lock()
        self.refreshes = 0

    async def _refresh(self, stale_access: str) -> None:
        async with self._lock:
            if self.tokens.access_token != stale_access:
                return  # another request refreshed it meanwhile
            async with httpx.AsyncClient(transport=self._transport, timeout=30) as client:
                resp = await client.post(
                    self.token_url,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": self.tokens.refresh_token,
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                )
            if resp.status_code != 200:
                raise AuthenticationError(
                    f"Planning Center refused to refresh the OAuth token ({resp.status_code}); "
                    "re-authorise pcosync with Planning Center",
                    service="pco",
                    method="POST",
                    path="/oauth/token",
                    status=resp.status_code,
                )
            body = resp.json()
            self.tokens = OAuthTokens(
                access_token=body["access_token"],
                refresh_token=body.get("refresh_token", self.tokens.refresh_token),
                expires_at=self.now() + float(body.get("expires_in", 7200)),
            )
            self.refreshes += 1
            if self.on_refresh:
                self.on_refresh(self.tokens)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.tokens.expires_at - self.now() < REFRESH_MARGIN_SECONDS:
            await self._refresh(self.tokens.access_token)
        sent_with = self.tokens.access_token
        request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code == 401:
            await self._refresh(sent_with)
            request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"
            yield request
