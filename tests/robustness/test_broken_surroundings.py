"""Broken surroundings (issue 12 §4): a state store from a newer pcosync, a file that is not a
database, a half-migrated store, an unreachable PostgreSQL, a config file that is not UTF-8 or
is a directory. Each is one clear paragraph and exit 2 (unreachable: 75, try again later), never
a traceback, and never the SQL or its parameters below debug verbosity. Run as a real process,
so what an admin sees is exactly what is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from pcosync.config import write_settings
from pcosync.domain.identity import Side
from pcosync.emulators.server import free_port
from pcosync.errors import StoreError, StoreUnreachable
from pcosync.store import Store, make_engine, migrate


def pcosync(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pcosync.cli.main", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _config(tmp_path: Path, state_url: str = "sqlite:///state.db") -> Path:
    path = tmp_path / "pcosync.toml"
    write_settings(
        path,
        {"rock": {"url": "http://127.0.0.1:1", "api_key": "k"}, "state": {"url": state_url}},
    )
    return path


def _one_paragraph(result: subprocess.CompletedProcess[str]) -> str:
    out = result.stdout + result.stderr
    assert "Traceback" not in out and 'File "' not in out, out
    assert "[SQL:" not in out and "parameters" not in out, out
    lines = [line for line in out.strip().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 8, out  # a paragraph, not 400 lines
    return " ".join(" ".join(lines).split())


def _store_at_head(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(url).close()
    return url


def _sql(url: str, *statements: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def test_a_store_from_a_newer_pcosync(tmp_path: Path) -> None:
    url = _store_at_head(tmp_path)
    _sql(url, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    result = pcosync(_config(tmp_path), "runs")
    assert result.returncode == 2, result.stderr
    said = _one_paragraph(result)
    assert "newer pcosync" in said and "0099_from_the_future" in said
    assert "Upgrade pcosync" in said
    # nothing was changed: the version is still the newer one
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
            "0099_from_the_future"
        )
    engine.dispose()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"these are my notes, not a database\n" * 200)
    result = pcosync(_config(tmp_path), "sync")
    assert result.returncode == 2, result.stderr
    said = _one_paragraph(result)
    assert "is not a database" in said and "state.db" in said
    assert (tmp_path / "state.db").read_bytes().startswith(b"these are my notes")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("DROP TABLE match_issues", "the table match_issues is missing"),
        ("DELETE FROM alembic_version", "no record of its schema version"),
        ("ALTER TABLE runs DROP COLUMN reviewed_by", "the column runs.reviewed_by is missing"),
    ],
)
def test_a_half_migrated_store_is_detected(tmp_path: Path, damage: str, expected: str) -> None:
    url = _store_at_head(tmp_path)
    _sql(url, damage)
    result = pcosync(_config(tmp_path), "runs")
    assert result.returncode == 2, result.stdout + result.stderr
    said = _one_paragraph(result)
    assert "only partly set up" in said and expected in said, said


@pytest.mark.postgres
def test_an_unreachable_postgresql_is_temporary(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://pcosync:s3cret-pw@127.0.0.1:{port}/church"
    result = pcosync(_config(tmp_path, url), "runs")
    assert result.returncode == 75, result.stdout + result.stderr
    said = _one_paragraph(result)
    assert "Cannot reach the state database" in said and f"127.0.0.1:{port}" in said
    assert "s3cret-pw" not in said
    # -v (info) does not show more of the SQL world; -vv (debug) may show the traceback
    verbose = pcosync(_config(tmp_path, url), "-v", "runs")
    assert verbose.returncode == 75 and "Traceback" not in verbose.stderr


def test_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pcosync.toml"
    path.write_bytes('[rock]\nurl = "http://rock"\n# Gr\xfc\xdfe aus K\xf6ln\n'.encode("latin-1"))
    result = pcosync(path, "runs")
    assert result.returncode == 2
    said = _one_paragraph(result)
    assert "not UTF-8" in said and str(path) in said


def test_a_config_path_that_is_a_directory(tmp_path: Path) -> None:
    result = pcosync(tmp_path, "sync")
    assert result.returncode == 2
    said = _one_paragraph(result)
    assert "is a folder, not a file" in said


def test_a_database_error_mid_run_names_no_values(tmp_path: Path) -> None:
    """SQLite keeps any length; PostgreSQL refuses a key longer than its column. Either way
    the error is ours and says what failed, never with the statement's parameters."""
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with pytest.raises(StoreError) as caught, store.transaction() as session:
            session.execute(text("INSERT INTO nowhere VALUES ('Private Person')"))
        assert "Private Person" not in str(caught.value)
        assert "nowhere" in str(caught.value)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_refused_write_on_postgresql_names_no_values(postgres_url: str) -> None:
    import uuid

    schema = f"pcosync_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgres_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        migrate(engine)
        store = Store(engine)
        with pytest.raises(StoreError) as caught:
            store.parked.park(Side.PCO, "person:" + "Private Person " * 20, "why")
        assert not isinstance(caught.value, StoreUnreachable)
        assert "Private Person" not in str(caught.value)
        assert "value too long" in str(caught.value)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
