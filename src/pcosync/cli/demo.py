"""``pcosync demo``: both emulators with one seeded church, read back through the clients."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from pcosync.clients.pco import PcoClient
from pcosync.clients.rock import RockClient
from pcosync.emulators.server import BackgroundServer

console = Console()


async def _report(pco_url: str, rock_url: str, app_id: str, secret: str, api_key: str) -> None:
    async with (
        PcoClient(pco_url, app_id=app_id, secret=secret) as pco,
        RockClient(rock_url, api_key=api_key) as rock,
    ):
        pco_people, teams, campuses = await asyncio.gather(
            pco.people(), pco.teams(), pco.campuses()
        )
        rock_people, rock_campuses, version = await asyncio.gather(
            rock.people(), rock.campuses(), rock.version()
        )

    live = [t for t in teams if t.live]
    serving = {a.person_id for t in live for a in t.assignments}
    pco_emails = {e.address.lower() for p in pco_people for e in p.emails}
    rock_emails = {p.email.lower() for p in rock_people if p.email}

    table = Table(title="What pcosync sees", show_lines=False)
    table.add_column("")
    table.add_column("Planning Center", justify="right")
    table.add_column("Rock RMS", justify="right")
    table.add_row("people", str(len(pco_people)), str(len(rock_people)))
    table.add_row("campuses", str(len(campuses)), str(len(rock_campuses)))
    table.add_row(
        "with an email",
        str(sum(1 for p in pco_people if p.emails)),
        str(sum(1 for p in rock_people if p.email)),
    )
    table.add_row(
        "with a phone",
        str(sum(1 for p in pco_people if p.phone_numbers)),
        str(sum(1 for p in rock_people if p.phones)),
    )
    table.add_row(
        "emails found on both sides",
        str(len(pco_emails & rock_emails)),
        str(len(pco_emails & rock_emails)),
    )
    console.print(table)

    kinds = Counter(
        "deleted" if t.deleted_at else "archived" if t.archived_at else "active" for t in teams
    )
    console.print(
        f"Planning Center Services: {len(teams)} teams ({kinds['active']} active, "
        f"{kinds['archived']} archived, {kinds['deleted']} deleted), "
        f"{sum(len(t.positions) for t in teams)} positions, "
        f"{len(serving)} people actively serving."
    )
    console.print(f"Rock RMS emulator reports version {version}.")


def run_demo(*, people: int = 120, seed: int = 7) -> int:
    from pcosync.emulators.pco.app import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app as create_pco
    from pcosync.emulators.rock.app import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app as create_rock

    started = time.monotonic()
    console.rule("pcosync demo")
    console.print(
        f"Starting both emulators with the same seeded church (seed {seed}, {people} people)…"
    )
    pco_server = BackgroundServer(create_pco(seed=seed, people=people))
    rock_server = BackgroundServer(create_rock(seed=seed, people=people))
    with pco_server as pco_url, rock_server as rock_url:
        console.print(f"  Planning Center emulator: {pco_url}")
        console.print(f"  Rock RMS emulator:        {rock_url}")
        asyncio.run(_report(pco_url, rock_url, DEFAULT_APP_ID, DEFAULT_SECRET, DEFAULT_API_KEY))
    console.print(f"Done in {time.monotonic() - started:.1f}s.")
    return 0
