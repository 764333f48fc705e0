"""Is this a state store this pcosync can use? Checked when it is opened (issue 12).

Before anything is read or migrated: the database must be reachable (else
:class:`StoreUnreachable`: try again later), be a database at all, carry a schema revision
this pcosync knows (a store from a newer pcosync is left alone), and, after migrating, hold
every table and column of the models (a half-migrated store is named as such, not used).
Every failure is :class:`StoreUnusable` with one paragraph saying what is wrong and what to
do. Driver errors are reduced to their kind and first line with quoted values elided: the
SQL statement and its parameters (which may hold names) never reach a message.
"""

from __future__ import annotations

import functools
import re

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from pcosync.errors import StoreBusy, StoreError, StoreUnreachable, StoreUnusable

_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
FIX_URL = "set [state] url in pcosync.toml"


def shown_url(url: str) -> str:
    """The database as a person reads it: a SQLite file's path, else the URL without its
    password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(not a database URL)"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "(in memory)"
    return parsed.render_as_string(hide_password=True)


def driver_reason(exc: DBAPIError) -> str:
    """``Kind: first line`` of a driver error, values in quotes elided."""
    orig = exc.orig if exc.orig is not None else exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    first = _QUOTED.sub("…", lines[0])[:160] if lines else ""
    kind = type(orig).__name__
    return f"{kind}: {first}" if first else kind


def _unreachable(exc: DBAPIError, dialect: str) -> bool:
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    if dialect == "sqlite":
        text = str(exc.orig).lower()
        return "locked" in text or "busy" in text
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith(("08", "57P"))


def store_error(exc: DBAPIError, engine: Engine) -> StoreError:
    """Our error for a driver error raised while the store was in use."""
    reason = driver_reason(exc)
    where = shown_url(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name == "sqlite" and _unreachable(exc, "sqlite"):
        return StoreBusy(
            f"The state database {where} stayed locked by another pcosync process for more "
            "than a minute; nothing was lost. Try again in a minute."
        )
    if _unreachable(exc, engine.dialect.name):
        return StoreUnreachable(
            f"Cannot reach the state database {where} ({reason}). Nothing more was written; "
            "what was written is kept, and the next run continues from there. Try again later; "
            f"if it keeps happening, check that the database server runs and {FIX_URL}."
        )
    return StoreError(
        f"The state database {where} refused an operation ({reason}). What was written "
        "before it is kept. Run the command again with -vv for the details, and report it if "
        "it happens again."
    )


def _opening_error(exc: DBAPIError, engine: Engine, where: str) -> StoreError:
    reason = driver_reason(exc)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite and "not a database" in str(exc.orig).lower():
        return StoreUnusable(
            f"The state database file {where} is not a database (it may be damaged, or a "
            "different kind of file). Nothing was changed. Restore it from a backup, or "
            f"{FIX_URL} to a new file: the first sync then links people again by the ids "
            "written on their records."
        )
    if sqlite and not _unreachable(exc, "sqlite"):
        return StoreUnusable(
            f"Cannot open the state database file {where} ({reason}). Check that its folder "
            f"exists and may be written to, or {FIX_URL} to another file."
        )
    state = getattr(exc.orig, "sqlstate", None) or ""
    if state.startswith("28") or state == "3D000":  # login refused, no such database
        return StoreUnusable(
            f"The database server refused pcosync's login to the state database {where} "
            f"({reason}). Check the user, password and database name, then {FIX_URL}."
        )
    if _unreachable(exc, engine.dialect.name):
        return StoreUnreachable(
            f"Cannot reach the state database {where} ({reason}). Nothing was read or "
            "written; try again later. If it keeps happening, check that the database server "
            f"runs and {FIX_URL}."
        )
    return StoreUnusable(f"Cannot use the state database {where} ({reason}).")


@functools.cache
def _scripts() -> ScriptDirectory:
    """The packaged migration scripts, read once per process (reading compiles every
    script: a tenth of a second, paid by every store opened)."""
    from pcosync.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config())


def known_revision(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def _half(where: str, what: str) -> StoreUnusable:
    return StoreUnusable(
        f"The state database {where} is only partly set up: {what}. An upgrade may have "
        "stopped half-way, or the tables belong to another program. pcosync will not use it "
        f"as it is: restore it from a backup (or {FIX_URL} to an empty database, and the "
        "first sync links people again by the ids written on their records)."
    )


def missing_schema(engine: Engine) -> str | None:
    """The first table or column of the models the database lacks, in words; None if whole."""
    from pcosync.store.models import Model

    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    for table in Model.metadata.sorted_tables:
        if table.name not in present:
            return f"the table {table.name} is missing"
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in columns:
                return f"the column {table.name}.{column.name} is missing"
    return None


def _before_migrating(engine: Engine) -> tuple[str, str | None, StoreError | None]:
    """Where the store is (for messages), its schema revision (None: none recorded), and
    the reason to refuse it before anything is upgraded, if there is one."""
    from pcosync.store.models import Model

    where = shown_url(engine.url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            present = set(inspect(conn).get_table_names())
    except DBAPIError as exc:
        problem = _opening_error(exc, engine, where)
        problem.__cause__ = exc
        return where, None, problem
    if current is not None and not known_revision(current):
        head = _scripts().get_current_head()
        return (
            where,
            current,
            StoreUnusable(
                f"The state database {where} was set up by a newer pcosync (schema revision "
                f"{current}; this pcosync knows up to {head}). Nothing was changed. Upgrade "
                f"pcosync on this computer (pip install --upgrade pcosync), or {FIX_URL} to a "
                "database of this version."
            ),
        )
    if current is None and present & set(Model.metadata.tables):
        return (
            where,
            None,
            _half(where, "it has pcosync's tables but no record of its schema version"),
        )
    return where, current, None


def _whole(engine: Engine, where: str, revision: str | None) -> None:
    """Raise unless every table and column of the models is there."""
    try:
        missing = missing_schema(engine)
    except DBAPIError as exc:
        raise _opening_error(exc, engine, where) from exc
    if missing is not None:
        raise _half(where, f"its schema revision is {revision}, but {missing}")


def diagnose(engine: Engine) -> tuple[StoreError | None, str | None]:
    """Read-only, for ``pcosync check``: the error :func:`check_and_migrate` would raise
    without upgrading anything, and the store's schema revision (None: empty). A store one
    upgrade behind is judged on what it has, not on the columns the upgrade adds."""
    where, current, problem = _before_migrating(engine)
    if problem is None and current is not None and current == _scripts().get_current_head():
        try:
            _whole(engine, where, current)
        except StoreError as exc:
            problem = exc
    return problem, current


def check_and_migrate(engine: Engine) -> None:
    """Refuse a store this pcosync cannot use; otherwise migrate it to head and check it."""
    from pcosync.store.migrate import migrate

    where, current, problem = _before_migrating(engine)
    if problem is not None:
        raise problem
    head = _scripts().get_current_head()
    if current != head:
        try:
            migrate(engine)
        except DBAPIError as exc:
            if _unreachable(exc, engine.dialect.name):
                raise _opening_error(exc, engine, where) from exc
            raise _half(where, f"upgrading it failed ({driver_reason(exc)})") from exc
        except CommandError as exc:
            raise _half(where, f"upgrading it failed ({exc})") from exc
    _whole(engine, where, current or head)
