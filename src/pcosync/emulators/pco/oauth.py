"""OAuth 2 authorization-code flow as PCO runs it (spec §1.3), on the emulator clock.

- ``GET /oauth/authorize`` consents at once (as the church admin, or ``user_id``) and
  redirects back with a code; tests can also mint a code with ``POST
  /__emulator__/oauth/code``. Codes are single-use and live 10 minutes.
- ``POST /oauth/token`` (form, multipart or JSON fields; client credentials in the body or
  Basic): ``authorization_code`` and ``refresh_token`` grants. Access tokens live 7200 s.
  Each refresh returns a new refresh token and revokes the old pair. Refresh tokens live
  90 days (the shorter of the two reported lifetimes, §9).
- A bearer token that expired is 401 with hint ``BABOON``; one that was revoked (by a refresh
  or ``/oauth/revoke``) is 401 with ``CAPUCHIN``; a token without the product's scope is 403
  with ``PELICAN``.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesParser
from email.policy import default as email_policy
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pcosync.emulators.control import EmulatorClock

ACCESS_LIFETIME = timedelta(seconds=7200)
REFRESH_LIFETIME = timedelta(days=90)
CODE_LIFETIME = timedelta(minutes=10)

INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)


@dataclass
class Grant:
    user_id: int
    scopes: frozenset[str]
    redirect_uri: str | None
    expires_at: datetime


@dataclass
class Token:
    access_token: str
    refresh_token: str
    user_id: int
    scopes: frozenset[str]
    created_at: datetime
    revoked: bool = False


@dataclass
class BearerCheck:
    user_id: int | None
    scopes: frozenset[str] = field(default_factory=frozenset)
    hint: str | None = None  # BABOON (expired) | CAPUCHIN (revoked) | None (unknown token)


class OAuthServer:
    def __init__(self, client_id: str, client_secret: str, clock: EmulatorClock) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self.codes: dict[str, Grant] = {}
        self.by_access: dict[str, Token] = {}
        self.by_refresh: dict[str, Token] = {}
        self.default_user: int | None = None

    def reset(self) -> None:
        self.codes.clear()
        self.by_access.clear()
        self.by_refresh.clear()

    def issue_code(self, user_id: int, scope: str, redirect_uri: str | None) -> str:
        code = secrets.token_hex(32)
        self.codes[code] = Grant(
            user_id, frozenset(scope.split()), redirect_uri, self.clock.now() + CODE_LIFETIME
        )
        return code

    def check_bearer(self, access_token: str) -> BearerCheck:
        token = self.by_access.get(access_token)
        if token is None:
            return BearerCheck(None)
        if token.revoked:
            return BearerCheck(None, hint="CAPUCHIN")
        if self.clock.now() >= token.created_at + ACCESS_LIFETIME:
            return BearerCheck(None, hint="BABOON")
        return BearerCheck(token.user_id, token.scopes)

    def _mint(self, user_id: int, scopes: frozenset[str]) -> Token:
        token = Token(
            secrets.token_hex(32),
            secrets.token_hex(32),
            user_id,
            scopes,
            self.clock.now(),
        )
        self.by_access[token.access_token] = token
        self.by_refresh[token.refresh_token] = token
        return token

    @staticmethod
    def _answer(token: Token) -> Response:
        return JSONResponse(
            {
                "access_token": token.access_token,
                "token_type": "bearer",
                "expires_in": int(ACCESS_LIFETIME.total_seconds()),
                "refresh_token": token.refresh_token,
                "scope": " ".join(sorted(token.scopes)),
                "created_at": int(token.created_at.timestamp()),
            },
            headers={"Cache-Control": "no-store"},
        )

    @staticmethod
    def _error(status: int, error: str, description: str) -> Response:
        return JSONResponse({"error": error, "error_description": description}, status)

    async def _fields(self, request: Request) -> dict[str, str]:
        ctype = request.headers.get("content-type", "")
        if "json" in ctype:
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                return {}
            return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        raw = await request.body()
        if ctype.startswith("multipart/form-data"):
            # parsed with the standard library: python-multipart is not a dependency
            head = f"Content-Type: {ctype}\r\n\r\n".encode()
            msg = BytesParser(policy=email_policy).parsebytes(head + raw)
            out: dict[str, str] = {}
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    payload = part.get_payload(decode=True)
                    out[name] = payload.decode() if isinstance(payload, bytes) else ""
            return out
        return dict(parse_qsl(raw.decode("latin-1")))

    async def token(self, request: Request) -> Response:
        fields = await self._fields(request)
        client_id, client_secret = fields.get("client_id"), fields.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        if not (
            secrets.compare_digest(client_id or "", self.client_id)
            and secrets.compare_digest(client_secret or "", self.client_secret)
        ):
            return self._error(401, "invalid_client", INVALID_CLIENT)
        grant_type = fields.get("grant_type")
        now = self.clock.now()
        if grant_type == "authorization_code":
            grant = self.codes.pop(fields.get("code", ""), None)
            if grant is None or now >= grant.expires_at:
                return self._error(400, "invalid_grant", INVALID_GRANT)
            if grant.redirect_uri and fields.get("redirect_uri") != grant.redirect_uri:
                return self._error(400, "invalid_grant", INVALID_GRANT)
            return self._answer(self._mint(grant.user_id, grant.scopes))
        if grant_type == "refresh_token":
            old = self.by_refresh.get(fields.get("refresh_token", ""))
            if old is None or old.revoked or now >= old.created_at + REFRESH_LIFETIME:
                return self._error(400, "invalid_grant", INVALID_GRANT)
            old.revoked = True  # a refresh token is good once; its access token goes with it
            return self._answer(self._mint(old.user_id, old.scopes))
        if not grant_type:
            return self._error(
                400, "invalid_request", "The request is missing a required parameter: grant_type."
            )
        return self._error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id or q.get("response_type", "code") != "code":
            return JSONResponse(
                {"error": "invalid_client", "error_description": INVALID_CLIENT}, 401
            )
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "redirect_uri is missing"}, 400
            )
        user = int(q["user_id"]) if q.get("user_id", "").isdigit() else self.default_user
        if user is None:
            return JSONResponse({"error": "access_denied"}, 400)
        code = self.issue_code(user, q.get("scope", "people"), redirect_uri)
        parts = urlsplit(redirect_uri)
        extra = {"code": code, **({"state": q["state"]} if "state" in q else {})}
        query = "&".join(p for p in (parts.query, urlencode(extra)) if p)
        return RedirectResponse(urlunsplit(parts._replace(query=query)), 302)

    async def revoke(self, request: Request) -> Response:
        fields = await self._fields(request)
        token = self.by_access.get(fields.get("token", "")) or self.by_refresh.get(
            fields.get("token", "")
        )
        if token is not None:
            token.revoked = True
        return JSONResponse({})

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
        ]
