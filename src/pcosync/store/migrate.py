"""Schema migrations, run programmatically: no ``alembic.ini`` is needed at runtime.

The migration scripts ship inside the package (``pcosync/store/migrations``); ``migrate``
upgrades any database to head on the given engine (so the SQLite pragmas apply).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from pcosync.store.db import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """The packaged scripts only: the database goes in as an open connection, so no URL
    (and no password) is ever copied into the config."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# any constant: pcosync processes migrating one PostgreSQL database take turns on it
MIGRATION_LOCK = 0x70636F73796E63


def migrate(target: str | Engine, revision: str = "head") -> None:
    """Upgrade the database at ``target`` (a URL or an Engine) to ``revision``.

    Two processes starting at once on a new database take turns: on PostgreSQL an advisory
    lock held for the migration's transaction, on SQLite the write lock its ``BEGIN
    IMMEDIATE`` takes. The second then finds the schema current and does nothing."""
    engine = make_engine(target) if isinstance(target, str) else target
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    if isinstance(target, str):
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
