"""Opening the state database: SQLite by default, PostgreSQL by URL.

SQLite is set up for durability, because a journal entry that is not really on disk cannot
prevent a duplicate: WAL, ``synchronous=FULL``, foreign keys on, a busy timeout, and real
transactions (pysqlite's implicit transaction handling is switched off and ``BEGIN
IMMEDIATE`` emitted explicitly). IMMEDIATE takes the write lock at the start, so a second
process waits (up to the busy timeout) instead of failing at once with "database is locked",
which is what a read transaction that later writes gets in WAL mode.

Every engine hides SQL parameters from error messages: they hold names and addresses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=60000",
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for ``url`` (``sqlite:///path.db``, ``postgresql+psycopg://...``)."""
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, or every session would see its own empty database.
            kwargs.setdefault("poolclass", StaticPool)
            kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_backend_name() == "postgresql":  # an unreachable server fails in seconds
        kwargs["connect_args"] = {"connect_timeout": 10, **kwargs.get("connect_args", {})}
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we send BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
