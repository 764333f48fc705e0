"""The seeded church of the sync tests, plus helpers to change its pcosync.toml."""

from __future__ import annotations

import asyncio
import tomllib
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from pcosync.app import review
from pcosync.app.context import open_connection
from pcosync.app.review import ApproveResult, RevertResult
from pcosync.cli.main import app
from pcosync.clients.rock import Guids
from pcosync.config import load_settings, write_settings
from pcosync.store import LinkStatus
from tests.sync.conftest import Church, church

__all__ = [
    "Church",
    "approve",
    "church",
    "cli",
    "configure",
    "init_rock",
    "links",
    "pco_person",
    "revert",
    "rock_person",
]


def init_rock(church: Church) -> None:
    """Create the link attribute as `pcosync init` does, so a held run writes nothing."""

    async def go() -> None:
        async with church.rock() as rock:
            await rock.ensure_attribute(Guids.ENTITY_PERSON, "PcoPersonId", "PCO Person Id")

    asyncio.run(go())


def configure(church: Church, **sections: Any) -> None:
    """Set (or replace) top-level sections of the church's pcosync.toml."""
    data = tomllib.loads(church.config.read_text())
    data.update(sections)
    write_settings(church.config, data)


def links(church: Church) -> list[Any]:
    store = church.store()
    try:
        return store.links.all(LinkStatus.ACTIVE)
    finally:
        store.close()


def cli(church: Church, *args: str) -> Result:
    """Run ``pcosync --config <church> ARGS`` in-process; returns the click result."""
    return CliRunner().invoke(app, ["--config", str(church.config), *args])


def approve(church: Church, run_id: int, **options: Any) -> ApproveResult:
    async def go() -> ApproveResult:
        async with open_connection(load_settings(church.config)) as conn:
            return await review.approve(conn.people, run_id, **options)

    return asyncio.run(go())


def revert(church: Church, run_id: int) -> RevertResult:
    async def go() -> RevertResult:
        async with open_connection(load_settings(church.config)) as conn:
            return await review.revert(conn.people, run_id)

    return asyncio.run(go())


def pco_person(church: Church, pid: str) -> dict[str, Any]:
    data: dict[str, Any] = church.pco_get(f"/people/v2/people/{pid}")["data"]["attributes"]
    return data


def rock_person(church: Church, rid: int) -> dict[str, Any]:
    data: dict[str, Any] = church.rock_get(f"/api/People/{rid}")
    return data
