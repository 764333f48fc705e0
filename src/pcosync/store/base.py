"""The Store facade: one engine, one connection name, all repositories, shared transactions.

Each repository method runs in its own transaction and commits before returning, so a
journal entry is durable the moment ``mark_sent`` returns. Several calls that must land
together (mark an operation applied, store the link and its base) go inside
``with store.transaction():``; the repositories join that transaction instead of opening
their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from pcosync.errors import ConfigError
from pcosync.store.db import make_engine
from pcosync.store.health import store_error
from pcosync.store.models import DEFAULT_CONNECTION

if TYPE_CHECKING:
    from pcosync.store.issues import MatchIssueRepo
    from pcosync.store.journal import OperationJournal
    from pcosync.store.leases import LeaseRepo
    from pcosync.store.links import GroupLinkRepo, LinkRepo
    from pcosync.store.notices import NoticeRepo
    from pcosync.store.parked import ParkedRepo
    from pcosync.store.runs import RunRepo
    from pcosync.store.suppressions import SuppressionRepo
    from pcosync.store.watermarks import WatermarkRepo

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Store:
    """The state store of one Rock ⇄ PCO connection (several may share the database)."""

    def __init__(
        self,
        engine: Engine,
        *,
        connection: str = DEFAULT_CONNECTION,
        clock: Clock = utcnow,
    ) -> None:
        from pcosync.store.issues import MatchIssueRepo
        from pcosync.store.journal import OperationJournal
        from pcosync.store.leases import LeaseRepo
        from pcosync.store.links import GroupLinkRepo, LinkRepo
        from pcosync.store.notices import NoticeRepo
        from pcosync.store.parked import ParkedRepo
        from pcosync.store.runs import RunRepo
        from pcosync.store.suppressions import SuppressionRepo
        from pcosync.store.watermarks import WatermarkRepo

        self.engine = engine
        self.connection = connection
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._ambient: ContextVar[Session | None] = ContextVar(
            f"pcosync_store_session_{id(self)}", default=None
        )
        self.links: LinkRepo = LinkRepo(self)
        self.groups: GroupLinkRepo = GroupLinkRepo(self)
        self.runs: RunRepo = RunRepo(self)
        self.journal: OperationJournal = OperationJournal(self)
        self.parked: ParkedRepo = ParkedRepo(self)
        self.issues: MatchIssueRepo = MatchIssueRepo(self)
        self.watermarks: WatermarkRepo = WatermarkRepo(self)
        self.leases: LeaseRepo = LeaseRepo(self)
        self.suppressions: SuppressionRepo = SuppressionRepo(self)
        self.notices: NoticeRepo = NoticeRepo(self)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        connection: str = DEFAULT_CONNECTION,
        clock: Clock = utcnow,
        upgrade: bool = True,
        **engine_kwargs: Any,
    ) -> Store:
        """Open (and by default check and migrate to head) the database at ``url``.

        A store this pcosync cannot use raises :class:`~pcosync.errors.StoreUnusable` (or
        :class:`~pcosync.errors.StoreUnreachable`) saying what is wrong; see
        :mod:`pcosync.store.health`."""
        from pcosync.store.health import check_and_migrate

        try:
            engine = make_engine(url, **engine_kwargs)
        except ArgumentError:
            raise ConfigError(
                "not a database URL (use sqlite:///pcosync.db or postgresql+psycopg://…)",
                key="state.url",
            ) from None
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"the database driver {exc.name} is not installed "
                "(for PostgreSQL: pip install 'pcosync[postgres]')",
                key="state.url",
            ) from None
        try:
            if upgrade:
                check_and_migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, connection=connection, clock=clock)

    def for_connection(self, connection: str) -> Store:
        """The same database, seen as another connection."""
        return Store(self.engine, connection=connection, clock=self.clock)

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the store's clock returned a naive datetime")
        return now

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction for everything inside; nested uses join the outer one."""
        current = self._ambient.get()
        if current is not None:
            yield current
            return
        try:
            with self._sessions.begin() as session:
                token = self._ambient.set(session)
                try:
                    yield session
                finally:
                    self._ambient.reset(token)
        except DBAPIError as exc:  # ours, without the statement or its parameters (issue 12)
            raise store_error(exc, self.engine) from exc

    def close(self) -> None:
        self.engine.dispose()


def upsert(session: Session, table: Table) -> Any:
    """The dialect's INSERT … ON CONFLICT statement builder (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """Bounded IN-lists: SQLite limits bound parameters per statement."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
