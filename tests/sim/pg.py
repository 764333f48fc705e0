"""A fresh PostgreSQL database per simulated seed (``--postgres-every K``), dropped after."""

from __future__ import annotations

import os

ADMIN_URL = os.environ.get(
    "PCOSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _admin() -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    url = make_url(ADMIN_URL)
    base = url.set(drivername="postgresql", database=url.database or "postgres")
    return base.render_as_string(hide_password=False), url.render_as_string(hide_password=False)


def reachable() -> bool:
    try:
        import psycopg

        plain, _ = _admin()
        psycopg.connect(plain, connect_timeout=2).close()
    except Exception:
        return False
    return True


def fresh_database(seed: int) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    plain, full = _admin()
    name = f"pcosync_sim_{seed}_{os.getpid()}"
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(full).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    plain, _ = _admin()
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
