"""The ``pcosync`` command. Commands parse, call the application layer, and print."""

from __future__ import annotations

import logging
import sys

import typer

from pcosync.cli import safety_cmds, setup_cmds, sync_cmds, teams_cmds
from pcosync.cli.emulate import emulate_app

QUIET = logging.CRITICAL + 10  # above every level: nothing is logged to the terminal

app = typer.Typer(
    name="pcosync",
    help="Keep Rock RMS and Planning Center in sync, both ways.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(emulate_app, name="emulate")
sync_cmds.register(app)
setup_cmds.register(app)
teams_cmds.register(app)
safety_cmds.register(app)


@app.callback()
def _root(
    ctx: typer.Context,
    config: str | None = typer.Option(
        None,
        "--config",
        envvar="PCOSYNC_CONFIG",
        help="The pcosync.toml to use (default: $PCOSYNC_CONFIG, then ./pcosync.toml).",
    ),
    verbose: int = typer.Option(
        0,
        "--verbose",
        "-v",
        count=True,
        help="Show the log too: -v what happens (requests, operations), -vv debug.",
    ),
) -> None:
    ctx.obj = {"config": config}
    configure_logging(verbose)


def configure_logging(verbose: int) -> None:
    """Only our own sentences reach the terminal by default: what a log line says (an
    operation parked, a retry) the command says in words, and the run's record keeps it.
    ``-v`` adds the log's INFO lines, ``-vv`` its DEBUG lines."""
    level = QUIET if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )


@app.command()
def demo(
    people: int = typer.Option(60, help="Size of the seeded demo church."),
    seed: int = typer.Option(7, help="Seed of the demo church."),
) -> None:
    """Start both emulators with a seeded church, sync both ways, and explain it."""
    from pcosync.cli.demo import run_demo

    raise typer.Exit(run_demo(people=people, seed=seed))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
