"""Schema: the migrations build exactly the models, on both databases, durably configured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import StatementError

from pcosync.store import RunMode, Store, current_revision, head_revision, make_engine, migrate
from pcosync.store.models import Model, RunRow


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Model.metadata) == []


def test_database_is_at_head_and_migrate_is_idempotent(engine: Engine) -> None:
    assert current_revision(engine) == head_revision() is not None
    migrate(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {
        "links",
        "person_bases",
        "group_links",
        "membership_bases",
        "watermarks",
        "runs",
        "operations",
        "conflicts",
        "parked_records",
        "match_issues",
        "link_exclusions",
    } <= tables


def test_main_tables_carry_a_connection_column(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in ("links", "group_links", "runs", "parked_records", "match_issues", "watermarks"):
        assert "connection" in {c["name"] for c in inspector.get_columns(table)}, table


def test_sqlite_is_configured_for_durability(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    root = resources.files("pcosync.store") / "migrations"
    assert (root / "env.py").is_file()
    assert (root / "script.py.mako").is_file()
    assert any(p.name.endswith(".py") for p in (root / "versions").iterdir())


def test_open_migrates_a_new_file(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert current_revision(store.engine) == head_revision()
        assert store.runs.list() == []
    finally:
        store.close()


def test_in_memory_sqlite_works_across_sessions() -> None:
    store = Store.open("sqlite://")
    try:
        link = store.links.add(1, "2")
        assert store.links.get(link.id) == link
    finally:
        store.close()


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    chicago_noon = datetime(2025, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    store.clock = lambda: chicago_noon
    run = store.runs.start(RunMode.FULL)
    again = store.runs.get(run.id)
    assert again is not None
    assert again.started_at == chicago_noon
    assert again.started_at.tzinfo is not None
    assert again.started_at.utcoffset() == timedelta(0)
    assert again.started_at == datetime(2025, 7, 1, 17, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(store: Store) -> None:
    store.clock = lambda: datetime(2025, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        store.runs.start(RunMode.FULL)


def test_naive_datetime_refused_at_the_column(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive"), engine.begin() as conn:
        conn.execute(
            insert(RunRow).values(
                connection="default",
                started_at=datetime(2025, 1, 1),
                status="running",
                mode="full",
                dry_run=False,
                updated_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    with engine.connect() as conn:
        assert conn.execute(select(RunRow.id)).first() is None
