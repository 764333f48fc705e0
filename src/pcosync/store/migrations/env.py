"""Alembic environment for pcosync's state store.

Run through :func:`pcosync.store.migrate.migrate`, which hands over an open connection in
``config.attributes["connection"]``. Batch mode is on so later migrations can alter tables
on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from pcosync.store.db import make_engine
from pcosync.store.models import Model

config = context.config
target_metadata = Model.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
