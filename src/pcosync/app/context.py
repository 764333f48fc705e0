"""Build everything one run needs from the settings: clients, adapters, store, the sync."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from pcosync.adapters.common import CampusMap
from pcosync.adapters.pco import PcoPeople
from pcosync.adapters.rock import RockPeople
from pcosync.app.memberships import MembershipSync
from pcosync.app.people_sync import PeopleSync
from pcosync.app.progress import Progress, RequestCounter
from pcosync.app.safety import gate_config_from
from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.config import Settings
from pcosync.domain.policy import DEFAULT_POLICY, SyncPolicy
from pcosync.store import Store


def policy_from(settings: Settings) -> SyncPolicy:
    return (
        DEFAULT_POLICY.with_fields(**dict(settings.fields)) if settings.fields else DEFAULT_POLICY
    )


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


def open_store(settings: Settings) -> Store:
    return Store.open(settings.state_url())


@asynccontextmanager
async def open_connection(
    settings: Settings, *, progress: Progress | None = None
) -> AsyncIterator[Connection]:
    """Everything opened here is closed again, also when a later step fails (e.g. a
    secret missing from the environment)."""
    async with AsyncExitStack() as opened:
        store = open_store(settings)
        opened.callback(store.close)
        rock_client = RockClient(
            settings.rock.url,
            api_key=settings.rock_api_key(),
            time_zone=settings.rock.time_zone,
            max_in_flight=settings.rock.max_in_flight,
        )
        opened.push_async_callback(rock_client.aclose)
        pco_client = PcoClient(
            settings.pco.url, app_id=settings.pco_app_id(), secret=settings.pco_secret()
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
        )
        yield Connection(settings, store, rock_client, pco_client, rock, pco, people)
