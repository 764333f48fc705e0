"""The seeded church of the sync tests, plus helpers to change its pcosync.toml."""

from __future__ import annotations

import asyncio
import tomllib
from typing import Any

from pcosync.clients.rock import Guids
from pcosync.config import write_settings
from pcosync.store import LinkStatus
from tests.sync.conftest import Church, church

__all__ = ["Church", "church", "configure", "init_rock", "links"]


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
