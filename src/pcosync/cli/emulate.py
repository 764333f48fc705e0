"""``pcosync emulate pco|rock``: run a faithful local stand-in for either API."""

from __future__ import annotations

import typer
from rich.console import Console

from pcosync.emulators.server import serve_forever

emulate_app = typer.Typer(
    help="Run a local emulator of Planning Center or Rock RMS.", no_args_is_help=True
)
console = Console(stderr=True)


@emulate_app.command("pco")
def emulate_pco(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8110, help="Port to listen on."),
    seed: int = typer.Option(1, help="Seed of the generated church."),
    people: int = typer.Option(200, help="Size of the generated church."),
    app_id: str | None = typer.Option(
        None, "--app-id", help="Application id accepted for Basic auth."
    ),
    secret: str | None = typer.Option(None, help="Secret accepted for Basic auth."),
    data: str | None = typer.Option(
        None, help="SQLite file to keep the data in (default: memory)."
    ),
    rate_limit: int = typer.Option(100, help="Requests allowed per period and user."),
    rate_period: float = typer.Option(20.0, help="Rate-limit period in seconds."),
) -> None:
    """Serve the Planning Center API (People, Services, Webhooks) with a seeded church."""
    from pcosync.emulators.credentials import DEFAULT_APP_ID, DEFAULT_SECRET
    from pcosync.emulators.pco.app import create_app

    app_id = app_id or DEFAULT_APP_ID
    secret = secret or DEFAULT_SECRET
    asgi = create_app(
        seed=seed,
        people=people,
        app_id=app_id,
        secret=secret,
        data=data,
        rate_limit=rate_limit,
        rate_period=rate_period,
    )
    console.print(f"Planning Center emulator on http://{host}:{port}")
    console.print(f"  application id: {app_id}")
    console.print(f"  secret:         {secret}")
    console.print("  control API:    /__emulator__/ (stats, faults, clock, reset)")
    serve_forever(asgi, host, port)


@emulate_app.command("rock")
def emulate_rock(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8120, help="Port to listen on."),
    seed: int = typer.Option(1, help="Seed of the generated church."),
    people: int = typer.Option(200, help="Size of the generated church."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="REST key accepted in Authorization-Token."
    ),
    time_zone: str = typer.Option("America/Chicago", help="The Rock organisation's time zone."),
    data: str | None = typer.Option(
        None, help="SQLite file to keep the data in (default: memory)."
    ),
) -> None:
    """Serve the Rock RMS REST v1 API with a seeded church."""
    from pcosync.emulators.credentials import DEFAULT_API_KEY
    from pcosync.emulators.rock.app import create_app

    api_key = api_key or DEFAULT_API_KEY
    asgi = create_app(seed=seed, people=people, api_key=api_key, time_zone=time_zone, data=data)
    console.print(f"Rock RMS emulator on http://{host}:{port}")
    console.print(f"  REST key (Authorization-Token): {api_key}")
    console.print(f"  organisation time zone:          {time_zone}")
    console.print("  control API:                     /__emulator__/ (stats, faults, clock, reset)")
    serve_forever(asgi, host, port)
