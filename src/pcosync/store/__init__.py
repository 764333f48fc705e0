"""The state store: links, bases, runs, the operation journal, parked records, issues.

The only package that touches a database (SQLAlchemy 2; SQLite by default, PostgreSQL by
URL). Open it with :meth:`Store.open`, which migrates to the newest schema first.
"""

from __future__ import annotations

from pcosync.store.base import Store, utcnow
from pcosync.store.db import make_engine
from pcosync.store.issues import IssueStatus, MatchIssueRepo, StoredIssue
from pcosync.store.journal import JournaledOp, JournalError, OperationJournal, OpStatus
from pcosync.store.links import (
    GroupLink,
    GroupLinkRepo,
    GroupLinkStatus,
    Link,
    LinkConflict,
    LinkRepo,
    LinkStatus,
)
from pcosync.store.migrate import current_revision, head_revision, migrate
from pcosync.store.models import DEFAULT_CONNECTION
from pcosync.store.parked import Backoff, ParkedRecord, ParkedRepo, ParkedStatus
from pcosync.store.runs import Run, RunMode, RunRepo, RunStateError, RunStatus
from pcosync.store.watermarks import WatermarkRepo

__all__ = [
    "DEFAULT_CONNECTION",
    "Backoff",
    "GroupLink",
    "GroupLinkRepo",
    "GroupLinkStatus",
    "IssueStatus",
    "JournalError",
    "JournaledOp",
    "Link",
    "LinkConflict",
    "LinkRepo",
    "LinkStatus",
    "MatchIssueRepo",
    "OpStatus",
    "OperationJournal",
    "ParkedRecord",
    "ParkedRepo",
    "ParkedStatus",
    "Run",
    "RunMode",
    "RunRepo",
    "RunStateError",
    "RunStatus",
    "Store",
    "StoredIssue",
    "WatermarkRepo",
    "current_revision",
    "head_revision",
    "make_engine",
    "migrate",
    "utcnow",
]
