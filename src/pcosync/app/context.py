"""Build everything one run needs from the settings: clients, adapters, store, the sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pcosync.adapters.common import CampusMap
from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople
from pcosync.app.memberships import MembershipSync
from pcosync.app.people_sync import PeopleSync
from pcosync.app.progress import Progress, RequestCounter
from pcosync.app.safety import gate_config_from
from pcosync.clients.http import Clock, HeaderPacedRateLimiter, SystemClock
from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.config import Settings
from pcosync.domain.policy import DEFAULT_POLICY, SyncPolicy
from pcosync.store import Store


def policy_from(settings: Settings) -> SyncPolicy:
    return (
        DEFAULT_POLICY.with_fields(**dict(settings.fields)) if settings.fields else DEFAULT_POLICY
    )


def _system_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    """What a connection takes from the world outside: time, sleeping and the transports.

    The default is the real world (system clock, ``asyncio.sleep``, sockets). A simulation
    passes a virtual clock, a sleep that advances it, in-process transports to the emulators
    and its own Planning Center rate limiter, so the whole system runs in one process on one
    clock.
    """

    now: Callable[[], datetime] = _system_now
    clock: Clock = field(default_factory=SystemClock)  # monotonic time + sleep, for HTTP
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rock_transport: httpx.AsyncBaseTransport | None = None
    pco_transport: httpx.AsyncBaseTransport | None = None
    pco_limiter: HeaderPacedRateLimiter | None = None
    # SQLAlchemy engine options for the state store (a simulation of many short processes
    # shares one compiled-statement cache: execution_options={"compiled_cache": ...})
    store_options: Mapping[str, Any] = field(default_factory=dict)


REAL_WORLD = Runtime()


@dataclass
class Connection:
    settings: Settings
    store: Store
    rock_client: RockClient
    pco_client: PcoClient
    rock: RockPeople
    pco: PcoPeople
    people: PeopleSync


def _watch(progress: Progress, rock: RockClient, pco: PcoClient, opened: AsyncExitStack) -> None:
    """Progress counts both clients' requests and hears when Planning Center's shared
    limiter waits (the limiter outlives this connection: the listener is removed again)."""
    progress.requests = RequestCounter(
        [lambda: rock.http.stats.requests, lambda: pco.http.stats.requests]
    )

    def waiting(seconds: float) -> None:
        progress.waiting("Planning Center", seconds)

    pco.limiter.on_wait.append(waiting)
    opened.callback(pco.limiter.on_wait.remove, waiting)


def open_store(settings: Settings, runtime: Runtime = REAL_WORLD) -> Store:
    return Store.open(settings.state_url(), clock=runtime.now, **runtime.store_options)


@asynccontextmanager
async def open_connection(
    settings: Settings, *, progress: Progress | None = None, runtime: Runtime = REAL_WORLD
) -> AsyncIterator[Connection]:
    """Everything opened here is closed again, also when a later step fails (e.g. a
    secret missing from the environment). ``runtime``: see :class:`Runtime`."""
    async with AsyncExitStack() as opened:
        store = open_store(settings, runtime)
        opened.callback(store.close)
        rock_client = RockClient(
            settings.rock.url,
            api_key=settings.rock_api_key(),
            time_zone=settings.rock.time_zone,
            max_in_flight=settings.rock.max_in_flight,
            clock=runtime.clock,
            transport=runtime.rock_transport,
        )
        opened.push_async_callback(rock_client.aclose)
        pco_client = PcoClient(
            settings.pco.url,
            app_id=settings.pco_app_id(),
            secret=settings.pco_secret(),
            clock=runtime.clock,
            transport=runtime.pco_transport,
            limiter=runtime.pco_limiter,
        )
        opened.push_async_callback(pco_client.aclose)
        if progress is not None:
            _watch(progress, rock_client, pco_client, opened)
        campus_map = CampusMap(settings.campus_map)
        sync = settings.sync
        phone_locations = {
            "mobile_phone": sync.mobile_location,
            "home_phone": sync.home_location,
            "work_phone": sync.work_location,
        }
        rock = RockPeople(rock_client, campus_map, default_region=sync.default_region)
        pco = PcoPeople(
            pco_client,
            campus_map,
            default_region=sync.default_region,
            phone_locations=phone_locations,
            read_tags=settings.teams.tags,
        )
        people = PeopleSync(
            store,
            rock,
            pco,
            policy=policy_from(settings),
            gate_config=gate_config_from(settings),
            lookback=timedelta(minutes=sync.lookback_minutes),
            progress=progress,
            memberships=MembershipSync(
                store,
                rock_client,
                pco_client,
                tags=settings.teams.tags,
                services_permission=settings.teams.services_permission,
            ),
            inactivate_leavers=settings.teams.inactivate_leavers,
            recheck=timedelta(seconds=sync.recheck_seconds),
            name_only_issues=sync.possible_duplicates == "report",
            # people written side by side: enough that Rock's requests stay in flight while
            # other people's Planning Center writes wait on its rate limit
            concurrency=2 * settings.rock.max_in_flight,
            clock=runtime.now,
            sleep=runtime.sleep,
        )
        yield Connection(settings, store, rock_client, pco_client, rock, pco, people)
