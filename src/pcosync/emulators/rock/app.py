"""The Rock RMS emulator as a Starlette app: REST v1 under ``/api``, control API under
``/__emulator__``, everything wrapped in the shared :class:`EmulatorMiddleware`.

``app.state.emulator`` is the in-process handle (:class:`RockEmulator`): the data, the auth
state, and helpers tests use (``person_id_for_seed_key``, ``info``).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pcosync.emulators.control import Control, EmulatorMiddleware, RequestHook, control_routes
from pcosync.emulators.credentials import DEFAULT_API_KEY
from pcosync.emulators.rock import groups, people
from pcosync.emulators.rock.api import RockApi
from pcosync.emulators.rock.attributes import AttributeValueHooks
from pcosync.emulators.rock.auth import Auth, Login
from pcosync.emulators.rock.control_api import control_api_routes
from pcosync.emulators.rock.core import Rights, RockData, SaveContext
from pcosync.emulators.rock.query import Shapes
from pcosync.emulators.rock.seeding import ADMIN_PASSWORD, ADMIN_USERNAME, seed_database
from pcosync.emulators.rock.store import SqliteFile, Store
from pcosync.emulators.rock.values import dumps
from pcosync.emulators.seed import generate_church

DEFAULT_TIME_ZONE = "America/Chicago"
DEFAULT_VERSION = "1.16.4"
REST_KEY_NAME = "Planning Center Sync"

ROCK_ERROR_PAGE = """ <!DOCTYPE html>

<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <title>Rock - Error</title>
    <link rel="stylesheet" href="/Themes/Rock/Styles/bootstrap.css" />
    <link rel="stylesheet" href="/Themes/Rock/Styles/theme.css" />
  </head>
  <body id="splash" class="error">
    <form method="post" action="../../Error.aspx" id="form1">
      <div id="content">
        <div id="content-box">
          <div class="row">
            <div class="col-md-12">
              <div id="pnlException">
                <div class="error-wrap">
                  <h1>That Wasn't Supposed To Happen...</h1>
                  <p class="error-icon warning">
                    <i class="fa fa-exclamation-triangle"></i>
                  </p>
                  <p>
                    An error has occurred while processing your request. Your
                    organization's administrators have been notified of this
                    problem.
                  </p>
                  <p>
                    <a onclick="history.go(-1);" class="btn btn-sm btn-primary"
                      >Go Back</a
                    >
                  </p>
                </div>
                <div class="error-details"></div>
              </div>
            </div>
          </div>
        </div>
      </div>
    </form>
  </body>
</html>
"""


def error_body(status: int) -> tuple[bytes, str]:
    """Injected faults answer like Rock: a JSON ``Message`` for 5xx, an empty body otherwise."""
    if status >= 500:
        return dumps({"Message": "An error has occurred."}), "application/json; charset=utf-8"
    return b"", "text/plain"


def html_error_page(status: int) -> tuple[bytes, str]:
    """Rock's "Rock - Error" page (IIS/ASP.NET), whatever the status (often 200)."""
    return ROCK_ERROR_PAGE.encode("utf-8"), "text/html; charset=utf-8"


class RockEmulator:
    """One emulated Rock instance: data, auth, and the settings it was made with."""

    def __init__(
        self,
        control: Control,
        *,
        seed: int,
        people: int,
        api_key: str,
        time_zone: str,
        data: str | None,
        version: str,
        max_node_count: int,
        seed_options: dict[str, Any],
    ) -> None:
        self.control = control
        self.seed = seed
        self.people_count = people
        self.api_key = api_key
        self.time_zone = time_zone
        self.version = version
        self.max_node_count = max_node_count
        self.seed_options = dict(seed_options)
        self.file = SqliteFile(data) if data else None
        self.seed_ids: dict[int, int] = {}
        if self.file is not None and self.file.has_data():
            self._load()
        else:
            self._build()
            self._write_all()

    # -- construction ------------------------------------------------------------------
    def _fresh(self) -> None:
        store = Store()
        store.file = self.file
        self.data = RockData(
            store,
            self.control.clock,
            ZoneInfo(self.time_zone),
            version=self.version,
            max_node_count=self.max_node_count,
        )
        people.install(self.data)
        groups.install(self.data)
        self.data.hooks["AttributeValue"] = AttributeValueHooks(self.data)
        self.shapes = Shapes(self.data)
        self.auth = Auth(self.data)

    def _build(self) -> None:
        self._fresh()
        church = generate_church(self.seed, self.people_count, **self.seed_options)
        self.seed_ids = seed_database(self.data, church, seed=self.seed)
        ids = self.data.ids.values
        self.auth.add(
            Login(
                ids["person:admin"],
                username=ADMIN_USERNAME,
                password=ADMIN_PASSWORD,
                rights=Rights.admin(),
            )
        )
        login = self.add_rest_key(REST_KEY_NAME, self.api_key, Rights.admin())
        ids["person:rest"] = login.person_id

    def _load(self) -> None:
        assert self.file is not None
        meta = self.file.read_meta()
        config = meta.get("config", {})
        self.seed = config.get("seed", self.seed)
        self.people_count = config.get("people", self.people_count)
        self.time_zone = config.get("time_zone", self.time_zone)
        self.version = config.get("version", self.version)
        self._fresh()
        self.file.load(self.data.store)
        self.data.ids.values.update(meta.get("ids", {}))
        for name, next_id in meta.get("next_ids", {}).items():
            table = self.data.table(name)
            table.next_id = max(table.next_id, int(next_id))
        self.auth.load(meta.get("auth", {}))
        self.seed_ids = {int(k): v for k, v in meta.get("seed_ids", {}).items()}
        self.data.store.track(True)
        if self.auth.by_key(self.api_key) is None:
            self.add_rest_key(REST_KEY_NAME, self.api_key, Rights.admin())
            self.flush(meta=True)
        self._settle()

    def meta(self) -> dict[str, Any]:
        return {
            "state": 1,
            "config": {
                "seed": self.seed,
                "people": self.people_count,
                "time_zone": self.time_zone,
                "version": self.version,
            },
            "ids": self.data.ids.values,
            "auth": self.auth.export(),
            "next_ids": {n: t.next_id for n, t in self.data.store.tables.items()},
            "seed_ids": {str(k): v for k, v in self.seed_ids.items()},
        }

    def _write_all(self) -> None:
        if self.file is not None:
            self.file.write_all(self.data.store, self.meta())
        self.data.store.track(True)
        self._settle()

    def _settle(self) -> None:
        """Ready for polling at scale: build the index the "modified since" poll walks."""
        self.data.table("Person").sorted_index("ModifiedDateTime")

    def flush(self, meta: bool = False) -> None:
        """Write the request's changes through to the data file (no-op in memory)."""
        store = self.data.store
        if self.file is None:
            return
        store.flush(self.meta() if (meta or store.dirty) else None)

    # -- operations ----------------------------------------------------------------------
    def add_rest_key(self, name: str, key: str | None, rights: Rights) -> Login:
        """Admin Tools › Security › REST Keys: a REST User person plus a login with the key."""
        data = self.data
        ctx = SaveContext(data.ids.get("alias:admin"), "ui")
        person = data.insert(
            "Person",
            {
                "LastName": name,
                "RecordTypeValueId": data.ids["dv:record_type:rest_user"],
                "RecordStatusValueId": data.ids["dv:record_status:active"],
                "Gender": 0,
                "IsEmailActive": True,
            },
            ctx,
        )
        return self.auth.add(Login(person[0], api_key=key or secrets.token_hex(12), rights=rights))

    def reset(
        self, seed: int | None = None, people: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """A fresh church: new data, the default logins only, no sessions."""
        self.seed = self.seed if seed is None else seed
        self.people_count = self.people_count if people is None else people
        self.seed_options = options
        self.data.store.track(False)
        self._build()
        self._write_all()
        return self.info()

    def person_id_for_seed_key(self, key: int) -> int | None:
        """The Rock Id of a seeded person (``SeedPerson.key``), if they were loaded."""
        return self.seed_ids.get(key)

    def info(self) -> dict[str, Any]:
        data = self.data
        ids = data.ids
        guid_of: dict[str, str] = {}
        for key, value in ids.values.items():
            table = {
                "entity": "EntityType",
                "fieldtype": "FieldType",
                "dt": "DefinedType",
                "dv": "DefinedValue",
                "grouptype": "GroupType",
                "role": "GroupTypeRole",
                "campus": "Campus",
                "attribute": "Attribute",
                "person": "Person",
            }.get(key.split(":")[0])
            row = data.get(table, value) if table else None
            if row is not None:
                guid_of[key] = row[1]
        return {
            "seed": self.seed,
            "people": sum(1 for _ in data.table("Person")),
            "families": len(data.table("Group").lookup("GroupTypeId", ids["grouptype:family"])),
            "groups": len(data.table("Group")),
            "group_members": len(data.table("GroupMember")),
            "phone_numbers": len(data.table("PhoneNumber")),
            "attribute_values": len(data.table("AttributeValue")),
            "time_zone": self.time_zone,
            "version": self.version,
            "api_key": self.api_key,
            "admin_login": {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
            "ids": dict(ids.values),
            "guids": guid_of,
            "now": data.now().isoformat(),
        }


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _any_case(api: RockApi) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if request.path_params["prefix"].lower() != "api":
            return PlainTextResponse("Not Found", status_code=404)
        return await api(request)

    return endpoint


def create_app(
    *,
    seed: int = 1,
    people: int = 200,
    api_key: str = DEFAULT_API_KEY,
    time_zone: str = DEFAULT_TIME_ZONE,
    data: str | None = None,
    version: str = DEFAULT_VERSION,
    max_node_count: int = 100,
    now: datetime | None = None,
    clock_source: Callable[[], datetime] | None = None,
    request_hook: RequestHook | None = None,
    **seed_options: Any,
) -> Starlette:
    """The Rock emulator as an ASGI app (``app.state.emulator`` is the handle).

    ``data`` keeps everything in a SQLite file (loaded when it exists, written through on every
    change); ``now`` freezes the emulator clock; ``seed_options`` go to ``generate_church``.
    In-process seams for a simulation: ``clock_source`` is the wall clock every
    ``ModifiedDateTime`` follows; ``request_hook`` is awaited before each API request.
    """
    control = Control(seed=seed, clock_source=clock_source, request_hook=request_hook)
    if now is not None:
        control.clock.set(now, frozen=True)
    control.body_variants.add("html")
    emu = RockEmulator(
        control,
        seed=seed,
        people=people,
        api_key=api_key,
        time_zone=time_zone,
        data=data,
        version=version,
        max_node_count=max_node_count,
        seed_options=seed_options,
    )
    api = RockApi(emu)
    routes = [
        *control_routes(control),
        *control_api_routes(emu),
        Route("/api/{path:path}", api.__call__, methods=_METHODS),
        # routes are not case-sensitive: /API/People works too
        Route("/{prefix}/{path:path}", _any_case(api), methods=_METHODS),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                EmulatorMiddleware,
                control,
                error_body=error_body,
                error_bodies={"html": html_error_page},
            )
        ],
    )
    app.state.emulator = emu
    return app
