"""One simulated world: both emulators in-process, the state store, processes and people.

Everything runs on the :class:`~tests.sim.vloop.VirtualLoop` clock. The engine side is the
real application code (``open_connection`` with a simulated :class:`Runtime`), each command a
fresh *process*: its own connection, store handle and HTTP clients, which may be killed at a
chosen request (it then never runs another line: no cleanup, no lease release). Every API
request goes through the emulators' request hook, which logs it (who sent it, which process)
and lets people edit between any two requests.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.util import LRUCache

import pcosync.app.lease as lease_module
from pcosync.adapters.common import CampusMap
from pcosync.adapters.memberships import PcoMemberships, RockMemberships
from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople
from pcosync.app.context import Connection, Runtime, open_connection
from pcosync.clients.http import NO_RETRIES, HeaderPacedRateLimiter, write_guard
from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.config import CampusMapEntry, Settings
from tests.sim.vloop import VirtualLoop

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACTOR = "x-sim-actor"
LINK_ID = "x-sim-link-id"  # a PATCH of a Planning Center person carrying only remote_id

# the simulated process a task belongs to; its name is the "host" the run lease and the run
# record carry, so every run in the store is attributed to the process that made it
CURRENT: ContextVar[SimProcess | None] = ContextVar("pcosync_sim_process", default=None)
_real_this_host = lease_module.this_host


def _sim_host() -> str:
    proc = CURRENT.get()
    return proc.name if proc is not None else _real_this_host()


lease_module.this_host = _sim_host

# every simulated process opens its own store engine; they share compiled statements, as a
# long-lived process would (compiling them again for each took a third of the time)
COMPILED: LRUCache[Any, Any] = LRUCache(2000)


class Killed(BaseException):
    """Never raised into application code: marks a process that was killed."""


def _link_id_only(request: httpx.Request) -> str | None:
    """The remote_id a Planning Center person PATCH sets when that is all it sets (a link-id
    write, accounted for by the store's links rather than by a journal entry)."""
    if request.method != "PATCH" or "/people/v2/people/" not in request.url.path:
        return None
    try:
        attributes = json.loads(request.content or b"{}")["data"]["attributes"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(attributes, dict) and set(attributes) == {"remote_id"}:
        value = attributes["remote_id"]
        return None if value is None else str(value)  # (clearing it is an unlink: journaled)
    return None


@dataclass
class Req:
    """One API request an emulator saw (the simulation's request log)."""

    t: float
    side: str
    method: str
    path: str
    actor: str  # "human" or the process name
    status: int | None = None  # filled by the transport (None: no answer reached the client)
    applied: bool = True  # False when a fault answered instead of the emulator
    link_id: str | None = None  # a link-id write: the remote_id it sets (see LINK_ID)


class SimProcess:
    """One command's process: its runtime, its requests, maybe its death."""

    def __init__(self, world: World, name: str, crash_at: int | None, crash_after: bool) -> None:
        self.world = world
        self.name = name
        self.crash_at = crash_at  # the n-th request of this process kills it
        self.crash_after = crash_after  # ... after the emulator applied it
        self.requests = 0
        self.dead = False
        self.done = asyncio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.run_ids: list[int] = []
        self.graves: list[asyncio.Future[None]] = []
        self.task: asyncio.Future[Any] | None = None
        self.started = 0.0
        self.mode: str | None = None  # a revert's: apply | dry_run | hold | cancel

    async def freeze(self) -> None:
        """A killed process: nothing of it runs again."""
        self.dead = True
        self.done.set()
        grave = asyncio.get_running_loop().create_future()
        # held here: a frozen task nobody references would be garbage-collected, and closing
        # its coroutine would run its cleanup (release the lease...), which a killed process
        # never does
        self.graves.append(grave)
        await grave

    async def sleep(self, seconds: float) -> None:
        if self.dead:
            await self.freeze()
        await asyncio.sleep(max(0.0, seconds))
        if self.dead:
            await self.freeze()

    def runtime(self) -> Runtime:
        w = self.world
        return Runtime(
            now=w.loop.now,
            clock=_ProcClock(self),
            sleep=self.sleep,
            rock_transport=SimTransport(w, "rock", self),
            pco_transport=SimTransport(w, "pco", self),
            pco_limiter=w.pco_limiter,
            store_options={"execution_options": {"compiled_cache": COMPILED}},
        )


class _ProcClock:
    def __init__(self, proc: SimProcess) -> None:
        self.proc = proc

    def monotonic(self) -> float:
        return self.proc.world.loop.time()

    async def sleep(self, seconds: float) -> None:
        await self.proc.sleep(seconds)


class SimTransport(httpx.AsyncBaseTransport):
    """In-process ASGI transport with a network's failure modes: latency, client timeouts,
    connections dropped mid-answer, and the death of the sending process."""

    def __init__(self, world: World, side: str, proc: SimProcess | None) -> None:
        self.world = world
        self.side = side
        self.proc = proc
        self.app = world.pco_app if side == "pco" else world.rock_app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proc = self.proc
        world = self.world
        if proc is not None:
            if proc.dead:
                await proc.freeze()
            proc.requests += 1
            if proc.crash_at == proc.requests and not proc.crash_after:
                world.crashes += 1
                await proc.freeze()
            request.headers[ACTOR] = proc.name
            remote_id = _link_id_only(request)
            if remote_id is not None:
                request.headers[LINK_ID] = remote_id
        else:
            request.headers[ACTOR] = "human"
        await asyncio.sleep(world.rng.uniform(0.005, 0.05))  # the network, both ways
        timeout = (request.extensions.get("timeout") or {}).get("read") or 30.0
        emu = world.pco_emu if self.side == "pco" else world.rock_emu
        hangs = any(r.kind in ("timeout", "latency") for r in emu.control.rules)
        seen: dict[str, Req] = {}
        try:
            if hangs:  # only a fault makes the emulator take long: no timer otherwise
                status, headers, body = await asyncio.wait_for(self._call(request, seen), timeout)
            else:
                status, headers, body = await self._call(request, seen)
        except TimeoutError:
            raise httpx.ReadTimeout("timed out (simulated)", request=request) from None
        except _AppDropped:
            raise httpx.RemoteProtocolError(
                "connection dropped (simulated)", request=request
            ) from None
        finally:
            if proc is not None and proc.crash_at == proc.requests and proc.crash_after:
                world.crashes += 1
                await proc.freeze()
        if "req" in seen:
            seen["req"].status = status
            if proc is not None and 200 <= status < 300:
                made = _created_id(self.side, request, body)
                if made is not None:  # a person this process created (the answer says who)
                    world.created.setdefault(proc.name, set()).add((self.side, made))
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def _call(
        self, request: httpx.Request, seen: dict[str, Req]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        body = await request.aread()
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 50000),
            "server": (url.host, url.port or 80),
            "sim": seen,  # the request hook leaves its log entry here
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.get_running_loop().create_future()  # no disconnect, ever
            return {}

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # the emulator abandoned the connection (a "drop" fault)
            raise _AppDropped from exc
        return status, headers, b"".join(chunks)


def _created_id(side: str, request: httpx.Request, body: bytes) -> str | None:
    """The id of the person a create request made, from its answer."""
    if request.method != "POST":
        return None
    path = request.url.path.rstrip("/")
    try:
        if side == "pco" and path == "/people/v2/people":
            return str(json.loads(body)["data"]["id"])
        if side == "rock" and path == "/api/People":
            return str(int(json.loads(body)))
    except (ValueError, KeyError, TypeError):
        return None
    return None


class _AppDropped(Exception):
    pass


Hook = Callable[["World", Req], Awaitable[None]]


@dataclass
class World:
    seed: int
    rng: random.Random
    loop: VirtualLoop
    pco_app: Any
    rock_app: Any
    settings: Settings
    pco_limiter: HeaderPacedRateLimiter
    log: list[Req] = field(default_factory=list)
    created: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # by process
    crashes: int = 0
    on_request: Hook | None = None  # set by the scenario: edits between requests
    processes: list[SimProcess] = field(default_factory=list)
    human: Human | None = None

    @property
    def pco_emu(self) -> Any:
        return self.pco_app.state.emulator

    @property
    def rock_emu(self) -> Any:
        return self.rock_app.state.emulator

    def now(self) -> datetime:
        return self.loop.now()

    async def hook(self, side: str, scope: dict[str, Any]) -> None:
        actor = "?"
        for key, value in scope.get("headers", []):
            if key == ACTOR.encode():
                actor = value.decode()
        req = Req(self.loop.time(), side, scope["method"], scope["path"], actor)
        for key, value in scope.get("headers", []):
            if key == LINK_ID.encode():
                req.link_id = value.decode()
        self.log.append(req)
        if isinstance(scope.get("sim"), dict):
            scope["sim"]["req"] = req
        if actor != "human" and self.on_request is not None:
            await self.on_request(self, req)

    def process(
        self, name: str, crash_at: int | None = None, crash_after: bool = False
    ) -> SimProcess:
        proc = SimProcess(self, name, crash_at, crash_after)
        self.processes.append(proc)
        return proc

    async def in_process(
        self, proc: SimProcess, work: Callable[[Connection], Awaitable[Any]]
    ) -> Any:
        """Run one command as ``proc``: open a connection as the CLI does, do ``work``."""
        CURRENT.set(proc)
        proc.started = self.loop.time()
        try:
            async with open_connection(self.settings, runtime=proc.runtime()) as conn:
                # retry jitter from the seed, so a seed replays exactly
                salt = sum(map(ord, proc.name))
                conn.rock_client.http.rng = random.Random(self.seed * 1000 + salt)
                conn.pco_client.http.rng = random.Random(self.seed * 1000 + salt + 1)
                proc.result = await work(conn)
        except Exception as exc:
            proc.error = exc
        finally:
            proc.done.set()
        return proc.result


class Human:
    """A person at the web UI of either side (edits go through the API, tagged human, with
    no faults: the UI has its own connection)."""

    def __init__(self, world: World) -> None:
        s = world.settings
        campus = CampusMap(s.campus_map)
        self.world = world
        self.rock_client = RockClient(
            s.rock.url,
            api_key=s.rock_api_key(),
            retry=NO_RETRIES,
            transport=SimTransport(world, "rock", None),
        )
        self.pco_client = PcoClient(
            s.pco.url,
            app_id=s.pco_app_id(),
            secret=s.pco_secret(),
            retry=NO_RETRIES,
            transport=SimTransport(world, "pco", None),
            limiter=HeaderPacedRateLimiter(limit=10**9, clock=_LoopClock(world.loop)),
        )
        self.rock = RockPeople(self.rock_client, campus)
        self.pco = PcoPeople(self.pco_client, campus)
        self.rock_members = RockMemberships(self.rock_client)
        self.pco_members = PcoMemberships(self.pco_client)
        self._prepared = False

    async def rock_ready(self) -> Any:
        """Rock's system ids, read once (they never change)."""
        if not self._prepared:
            await self.rock.prepare()
            self._prepared = True
        return self.rock.ids

    async def control(self, side: str, method: str, path: str, payload: Any = None) -> Any:
        app = self.world.pco_app if side == "pco" else self.world.rock_app
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
            resp = await http.request(method, f"/__emulator__/{path}", json=payload)
            return resp.status_code, (resp.json() if resp.content else None)

    async def unfaulted(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """A person's own request is never hit by the faults meant for the sync, nor held by
        the sync's write guard: an edit made between two of a run's requests runs inside
        that run's task, whose guard would make the person's write wait for the run's own
        re-read, which waits for the request the edit came from (seed 123 of the sim tier
        hung so, for ever, in virtual time)."""
        controls = [self.world.pco_emu.control, self.world.rock_emu.control]
        saved = [c.rules for c in controls]
        for c in controls:
            c.rules = []
        token = write_guard.set(None)
        try:
            return await work()
        finally:
            write_guard.reset(token)
            for c, rules in zip(controls, saved, strict=True):
                c.rules = rules


class _LoopClock:
    def __init__(self, loop: VirtualLoop) -> None:
        self.loop = loop

    def monotonic(self) -> float:
        return self.loop.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def build_world(
    seed: int,
    rng: random.Random,
    loop: VirtualLoop,
    people: int,
    state_url: str,
    *,
    teams: int = 8,
    positions_per_team: int = 2,
    update_limit: int | None = None,
) -> World:
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    holder: dict[str, World] = {}

    def hook_for(side: str) -> Callable[[dict[str, Any]], Awaitable[None]]:
        async def hook(scope: dict[str, Any]) -> None:
            await holder["world"].hook(side, scope)

        return hook

    options = {  # see generate_church
        "pool_seed": seed % 4,
        "teams": teams,
        "positions_per_team": positions_per_team,
    }
    while True:  # the API token belongs to an active adult with an email: a tiny church
        # may have none, and a church always has its admin
        probe = create_pco(seed=seed, people=people, **options)
        if probe.state.emulator.store.pat_user_id is not None:
            break
        people += 3
    pco_app = create_pco(
        seed=seed,
        people=people,
        **options,
        clock_source=loop.now,
        monotonic=loop.time,
        request_hook=hook_for("pco"),
    )
    rock_app = create_rock(
        seed=seed,
        people=people,
        clock_source=loop.now,
        request_hook=hook_for("rock"),
        **options,
    )
    pco_url, rock_url = f"http://pco.sim{seed}.test", f"http://rock.sim{seed}.test"
    settings = Settings.model_validate(
        {
            "rock": {"url": rock_url, "api_key": DEFAULT_API_KEY},
            "pco": {"url": pco_url, "app_id": DEFAULT_APP_ID, "secret": DEFAULT_SECRET},
            "state": {"url": state_url},
            "sync": {"lookback_minutes": 10, "recheck_seconds": 1.5},
            "teams": {"tags": True},
            "safety": {"update": {"max_count": update_limit}} if update_limit else {},
        }
    )
    world = World(
        seed=seed,
        rng=rng,
        loop=loop,
        pco_app=pco_app,
        rock_app=rock_app,
        settings=settings,
        pco_limiter=HeaderPacedRateLimiter(clock=_LoopClock(loop)),
    )
    holder["world"] = world
    return world


async def map_campuses(world: World) -> None:
    """The campus map, proposed by name as ``pcosync init`` does."""
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.rock.app import DEFAULT_API_KEY

    headers = {ACTOR: "human"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.pco_app),
        base_url="http://pco",
        auth=(DEFAULT_APP_ID, DEFAULT_SECRET),
        headers=headers,
    ) as http:
        doc = (await http.get("/people/v2/campuses")).json()
        pco = {c["attributes"]["name"]: c["id"] for c in doc["data"]}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.rock_app),
        base_url="http://rock",
        headers={**headers, "Authorization-Token": DEFAULT_API_KEY},
    ) as http:
        rock = {c["Name"]: c["Id"] for c in (await http.get("/api/Campuses")).json()}
    entries = [
        CampusMapEntry(name=n, rock_id=rock[n], pco_id=pco[n]) for n in sorted(pco) if n in rock
    ]
    world.settings = world.settings.model_copy(update={"campus_map": entries})
    world.human = Human(world)
