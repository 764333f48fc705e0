"""Build the Planning Center emulator: ``create_app(...)`` returns the Starlette app.

The stack, outside in::

    EmulatorMiddleware   shared control plane: counts, logs and faults API requests
    CommitMiddleware     writes a request's changes to SQLite, queues its webhooks
    PcoGate              auth, per-user rate limit, API version, common headers
    Starlette routes     /people/v2, /services/v2, /webhooks/v2, /oauth, /__emulator__

``app.state.emulator`` is the in-process handle (:class:`PcoEmulator`): the store, the
clock, and the same UI actions the control API offers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from pcosync.emulators.control import Control, EmulatorMiddleware, RequestHook, control_routes
from pcosync.emulators.credentials import (
    DEFAULT_APP_ID,
    DEFAULT_OAUTH_CLIENT_ID,
    DEFAULT_OAUTH_CLIENT_SECRET,
    DEFAULT_SECRET,
)
from pcosync.emulators.pco import people as people_api
from pcosync.emulators.pco import services, webhooks
from pcosync.emulators.pco.control_api import control_api_routes
from pcosync.emulators.pco.gate import CommitMiddleware, PcoGate, RateLimiter
from pcosync.emulators.pco.jsonapi import (
    ApiError,
    Ctx,
    dumps,
    error,
    method_not_allowed,
    not_found,
    parse_query,
    rate_limit_error,
)
from pcosync.emulators.pco.loader import load_church
from pcosync.emulators.pco.model import Person, ServicesPerson
from pcosync.emulators.pco.oauth import OAuthServer
from pcosync.emulators.pco.persist import SqliteBackend
from pcosync.emulators.pco.store import (
    ID_BASE,
    SERVICES_APP_ID,
    Organization,
    Store,
    whole_seconds,
)
from pcosync.emulators.pco.versions import DEFAULT_VERSIONS
from pcosync.emulators.pco.webhooks import WebhookDispatcher
from pcosync.emulators.seed import generate_church

log = logging.getLogger("pcosync.emulators.pco")

DEFAULT_TIME_ZONE = "America/Chicago"
ORG_NAME = "Grace Community Church (emulated)"

_SERVER_ERROR = (
    "An internal server error occurred on our end and we've been notified. "
    "Please contact support if the issue persists."
)


def error_body(status: int) -> tuple[bytes, str]:
    """PCO's error document for an injected fault of any status."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    detail = _SERVER_ERROR if status >= 500 else title
    return dumps({"errors": [error(status, title, detail)]}), "application/json; charset=utf-8"


class PcoEmulator:
    """One emulated Planning Center organisation: data, clock, limits, tokens, webhooks."""

    def __init__(
        self,
        *,
        seed: int,
        people: int,
        app_id: str,
        secret: str,
        data: str | None,
        rate_limit: int,
        rate_period: float,
        deep_offset_limit: int | None,
        time_zone: str,
        oauth_client_id: str,
        oauth_client_secret: str,
        webhook_retry_scale: float,
        seed_options: dict[str, Any],
        now: datetime | None = None,
        clock_source: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
        request_hook: RequestHook | None = None,
    ) -> None:
        self.app_id = app_id
        self.secret = secret
        self.time_zone = time_zone
        self.tz = ZoneInfo(time_zone)
        self.control = Control(seed=seed, clock_source=clock_source, request_hook=request_hook)
        if now is not None:  # before loading: deleted teams are dated relative to "now"
            self.control.clock.set(now, frozen=True)
        self.limiter = RateLimiter(
            rate_limit,
            rate_period,
            deep_offset_limit,
            **({"clock": monotonic} if monotonic else {}),
        )
        self.rate_limit_default = (rate_limit, rate_period, deep_offset_limit)
        self.oauth = OAuthServer(oauth_client_id, oauth_client_secret, self.control.clock)
        self.webhooks = WebhookDispatcher(self, webhook_retry_scale)
        self.base_url = "http://127.0.0.1"
        self.backend = SqliteBackend(data) if data else None
        self.seed = seed
        self.people_count = people
        self.seed_options = dict(seed_options)
        if self.backend is not None and self.backend.has_data():
            self.store = self.backend.load(time_zone)
            self.seed = int(self.backend.meta("seed") or seed)
            self.people_count = int(self.backend.meta("people") or people)
            log.info("pco_emulator.loaded path=%s people=%d", data, len(self.store.people))
        else:
            self.store = self._generate(seed, people, self.seed_options)
            self._write_all()
        self.oauth.default_user = self.store.pat_user_id

    # ---- data ----------------------------------------------------------------------------

    def _generate(self, seed: int, people: int, options: dict[str, Any]) -> Store:
        church = generate_church(seed, people, **options)
        store = Store(Organization(100_000 + seed, ORG_NAME, self.time_zone))
        load_church(store, church, self.control.clock.now())
        return store

    def _write_all(self) -> None:
        if self.backend is not None:
            self.backend.write_all(
                self.store, {"seed": str(self.seed), "people": str(self.people_count)}
            )

    def reset(
        self, seed: int | None = None, people: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """A fresh church: new data, no tokens, no subscriptions, empty rate windows."""
        self.seed = self.seed if seed is None else seed
        self.people_count = self.people_count if people is None else people
        self.seed_options = options
        self.store = self._generate(self.seed, self.people_count, options)
        self.oauth.reset()
        self.oauth.default_user = self.store.pat_user_id
        self.limiter.reset()
        self._write_all()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        s = self.store
        return {
            "seed": self.seed,
            "people": len(s.people),
            "emails": len(s.emails),
            "phone_numbers": len(s.phones),
            "addresses": len(s.addresses),
            "services_people": len(s.services_people),
            "teams": len(s.teams),
            "team_positions": len(s.positions),
            "assignments": len(s.assignments),
            "person_mergers": len(s.mergers),
            "webhook_subscriptions": len(s.subscriptions),
            "organization_id": str(s.org.id),
            "time_zone": s.org.time_zone,
            "api_user_id": str(s.pat_user_id),
            "services_app_id": str(SERVICES_APP_ID),
            "default_versions": DEFAULT_VERSIONS,
            "oauth_client_id": self.oauth.client_id,
        }

    def person_id_for_seed_key(self, key: int) -> int | None:
        """The PCO id of a seeded person (``SeedPerson.key``), while they exist in PCO."""
        pid = ID_BASE["person"] + key
        return pid if self.store.people.get(pid) is not None else None

    def make_ctx(self, product: str = "people", version: str | None = None) -> Ctx:
        return Ctx(
            store=self.store,
            now=self.control.clock.now(),
            tz=self.tz,
            version=version or DEFAULT_VERSIONS[product],
            product=product,
            base=self.base_url,
            user_id=self.store.pat_user_id,
            query=parse_query([]),
        )

    def commit(self) -> None:
        """Persist what changed and hand queued events to the webhook dispatcher."""
        store = self.store
        if store.outbox:
            queued, store.outbox = store.outbox, []
            self.webhooks.publish(queued, self.make_ctx)
        if self.backend is not None:
            self.backend.flush(store)

    # ---- UI actions (also behind /__emulator__/) ------------------------------------------

    def person(self, person_id: int) -> Person:
        person = self.store.people.get(person_id)
        if person is None:
            raise not_found()
        return person

    def edit_person(self, person_id: int, attributes: dict[str, Any]) -> Person:
        """An edit in the People web UI: any person attribute, bumping ``updated_at``."""
        person = self.person(person_id)
        ctx = self.make_ctx()
        allowed = people_api.PERSON_ASSIGNABLE | {"school_type", "passed_background_check"}
        unknown = [k for k in attributes if k not in allowed]
        if unknown:
            raise ApiError(400, [error(400, "Bad Request", f"unknown attributes: {unknown}")])
        plain = {
            k: v for k, v in attributes.items() if k in ("school_type", "passed_background_check")
        }
        values = people_api.person_values(
            ctx, {k: v for k, v in attributes.items() if k not in plain}, creating=False
        )
        values = people_api.keep_inactivation(person, values, attributes)
        self.store.update_person(person, {**values, **plain}, ctx.now)
        return person

    def merge(self, keep_id: int, remove_id: int) -> Any:
        if keep_id == remove_id:
            raise ApiError(400, [error(400, "Bad Request", "keep and remove are the same person")])
        keep, remove = self.person(keep_id), self.person(remove_id)
        return self.store.merge(keep, remove, self.control.clock.now())

    def set_team_state(self, team_id: int, action: str) -> Any:
        team = self.store.teams.get(team_id)
        if team is None:
            raise not_found()
        state = {
            "archive": "archived",
            "delete": "deleted",
            "restore": "restored",
            "unarchive": "restored",
        }.get(action)
        if state is None:
            raise ApiError(400, [error(400, "Bad Request", f"unknown team action {action!r}")])
        self.store.set_team_state(team, state, self.control.clock.now())
        return team

    def add_to_services(self, person_id: int) -> ServicesPerson:
        person = self.person(person_id)
        self.store.add_person_app(person, SERVICES_APP_ID, self.control.clock.now())
        sp = self.store.services_people.get(person.id)
        assert sp is not None
        return sp

    def remove_from_services(self, person_id: int) -> None:
        person = self.person(person_id)
        for pa in self.store.person_apps.children(person.id):
            if pa.app_id == SERVICES_APP_ID:
                self.store.remove_person_app(pa)
                return
        raise not_found()

    def archive_services_person(self, person_id: int, archived: bool) -> ServicesPerson:
        sp = self.store.services_people.get(person_id)
        if sp is None or self.store.people.get(person_id) is None:
            raise not_found()
        now = whole_seconds(self.control.clock.now())
        sp.archived_at = now if archived else None
        sp.updated_at = now
        self.store.mark("services_person", sp.id)
        return sp

    def issue_oauth_code(self, user_id: int | None, scope: str, redirect_uri: str | None) -> str:
        user = user_id if user_id is not None else self.store.pat_user_id
        if user is None or self.store.people.get(user) is None:
            raise not_found()
        return self.oauth.issue_code(user, scope, redirect_uri)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return method_not_allowed().response()
    if exc.status_code == 404:
        return not_found().response()
    body, ctype = error_body(exc.status_code)
    return Response(body, exc.status_code, media_type=ctype)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("pco_emulator.unhandled_error path=%s", request.url.path, exc_info=exc)
    body, ctype = error_body(500)
    return Response(body, 500, media_type=ctype)


def create_app(
    *,
    seed: int = 1,
    people: int = 200,
    app_id: str = DEFAULT_APP_ID,
    secret: str = DEFAULT_SECRET,
    data: str | None = None,
    rate_limit: int = 100,
    rate_period: float = 20.0,
    deep_offset_limit: int | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
    oauth: bool = True,
    oauth_client_id: str = DEFAULT_OAUTH_CLIENT_ID,
    oauth_client_secret: str = DEFAULT_OAUTH_CLIENT_SECRET,
    webhook_retry_scale: float = 1 / 60,
    now: datetime | None = None,
    clock_source: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] | None = None,
    request_hook: RequestHook | None = None,
    **seed_options: Any,
) -> Any:
    """The Planning Center emulator as an ASGI app (``app.state.emulator`` is the handle).

    ``rate_limit`` requests per ``rate_period`` seconds per user (``deep_offset_limit`` for
    ``offset`` > 30,000; default three quarters of ``rate_limit``). ``now`` freezes the
    emulator clock at start. ``seed_options`` go to :func:`generate_church`.

    In-process seams for a simulation: ``clock_source`` is the wall clock every timestamp
    follows, ``monotonic`` the rate-limit windows' time, ``request_hook`` is awaited before
    each API request (see :class:`~pcosync.emulators.control.Control`).
    """
    emu = PcoEmulator(
        seed=seed,
        people=people,
        app_id=app_id,
        secret=secret,
        data=data,
        rate_limit=rate_limit,
        rate_period=rate_period,
        deep_offset_limit=deep_offset_limit,
        time_zone=time_zone,
        oauth_client_id=oauth_client_id,
        oauth_client_secret=oauth_client_secret,
        webhook_retry_scale=webhook_retry_scale,
        seed_options=seed_options,
        now=now,
        clock_source=clock_source,
        monotonic=monotonic,
        request_hook=request_hook,
    )
    routes = [
        *control_routes(emu.control),
        *control_api_routes(emu),
        *people_api.routes(),
        *services.routes(),
        *webhooks.routes(lambda request: _application_id(emu, request)),
    ]
    if oauth:
        routes += emu.oauth.routes()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                EmulatorMiddleware,
                emu.control,
                error_body=error_body,
                rate_limit_body=_rate_limit_body(emu),
            ),
            Middleware(CommitMiddleware, emu),
            Middleware(PcoGate, emu),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.emulator = emu
    return app


def _rate_limit_body(emu: PcoEmulator) -> Any:
    """The body of an injected 429 (fault rule), as if the window had just overflowed."""

    def body(status: int) -> tuple[bytes, str]:
        lim = emu.limiter
        doc = {"errors": [rate_limit_error(lim.limit + 1, lim.limit, lim.period)]}
        return dumps(doc), "application/json; charset=utf-8"

    return body


def _application_id(emu: PcoEmulator, request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return emu.oauth.client_id if auth.lower().startswith("bearer") else emu.app_id
