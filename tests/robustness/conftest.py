"""Bad data and broken surroundings (issue 12): the seeded church, on SQLite or PostgreSQL."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, select

from pcosync.store import Store, make_engine
from tests.safety.conftest import cli, configure, links
from tests.sync.conftest import Church, church

__all__ = ["Church", "church", "cli", "configure", "links", "unsafe_in_store"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_church(request: pytest.FixtureRequest, church: Church) -> Iterator[Church]:
    """The seeded church with its state store on SQLite, then on PostgreSQL (own schema)."""
    if request.param == "sqlite":
        yield church
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"pcosync_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    configure(church, state={"url": f"{url}?options=-csearch_path%3D{schema}"})
    try:
        yield church
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(k)
            yield from _texts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _texts(v)


def _unsafe(text: str) -> bool:
    return any(
        (unicodedata.category(ch) == "Cc" and ord(ch) < 0x20 and ch not in "\t\n\r")
        or 0xD800 <= ord(ch) <= 0xDFFF
        for ch in text
    )


def unsafe_in_store(store: Store) -> list[str]:
    """Every ``table.column`` holding a NUL, another C0 control or a lone surrogate."""
    found = []
    from pcosync.store.models import Model

    names = set(inspect(store.engine).get_table_names())
    with store.engine.connect() as conn:
        for table in Model.metadata.sorted_tables:
            if table.name not in names:
                continue
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    if any(_unsafe(t) for t in _texts(value)):
                        found.append(f"{table.name}.{column}")
    return found
