"""The state store's tables (SQLAlchemy 2 declarative). Alembic migrations must agree.

Every main table carries ``connection``: one database can hold several Rock ⇄ PCO
connections (DESIGN §11). Child tables (bases, operations, conflicts) inherit it from their
parent row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pcosync.engine.match import ISSUE_KEY_MAX
from pcosync.store.types import SafeText, UTCDateTime, json_type

DEFAULT_CONNECTION = "default"
JSON_T = json_type()

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def _connection() -> Mapped[str]:
    return mapped_column(String(100), nullable=False, default=DEFAULT_CONNECTION)


class LinkRow(Model):
    """One Rock person ⇄ one PCO person. Unlinking deletes the row (the journal keeps it)."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("connection", "rock_person_id"),
        UniqueConstraint("connection", "pco_person_id"),
        Index("ix_links_connection_rock_alias_id", "connection", "rock_alias_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = _connection()
    rock_person_id: Mapped[int] = mapped_column(Integer, nullable=False)
    rock_alias_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pco_person_id: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    # the Planning Center record's ``remote_id`` is still to be written (the store and Rock's
    # PcoPersonId hold the link meanwhile; written with the rate budget left over)
    pco_link_owed: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )


class PersonBaseRow(Model):
    """The values both sides agreed on after the last sync (missing key = no base)."""

    __tablename__ = "person_bases"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    fields: Mapped[Any] = mapped_column(JSON_T, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)


class GroupLinkRow(Model):
    """A Rock group ⇄ a PCO object such as ``TeamPosition:123``."""

    __tablename__ = "group_links"
    __table_args__ = (
        UniqueConstraint("connection", "rock_group_id"),
        UniqueConstraint("connection", "pco_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = _connection()
    rock_group_id: Mapped[int] = mapped_column(Integer, nullable=False)
    pco_id: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    created_by_import: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    # how output names the group, e.g. "Band › Drums" (kept current by the import)
    name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # Planning Center Services permission a person the sync assigns here gets at least
    # (None: [teams] services_permission, "Scheduled Viewer" unless set)
    services_permission: Mapped[str | None] = mapped_column(String(40), nullable=True)


class MembershipBaseRow(Model):
    """Present = both sides agreed the person is a member after the last sync.

    Absent covers both "agreed not a member" and "no base": for a yes/no value the
    three-way merge treats them the same, so only memberships are stored.
    """

    __tablename__ = "membership_bases"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("links.id", ondelete="CASCADE"), primary_key=True
    )
    group_link_id: Mapped[int] = mapped_column(
        ForeignKey("group_links.id", ondelete="CASCADE"), primary_key=True
    )
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    # set when a revert left the sides differing: the one side ("rock"/"pco") that is a
    # member; both stay as they are until a person changes either side
    split: Mapped[str | None] = mapped_column(String(10), nullable=True)


class LinkExclusionRow(Model):
    """A pair an admin unlinked on purpose: the matcher must not link it again."""

    __tablename__ = "link_exclusions"

    connection: Mapped[str] = mapped_column(String(100), primary_key=True)
    rock_person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pco_person_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    note: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)


class WatermarkRow(Model):
    """How far each change feed has been durably applied."""

    __tablename__ = "watermarks"

    connection: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)


class RunRow(Model):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_connection_started_at", "connection", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = _connection()
    started_at: Mapped[datetime] = mapped_column(nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    counts: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    hold_reasons: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    error: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    reverts_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    # when the run's observation began: edits after it are re-read before writing (an
    # approved held run re-reads everything changed since then)
    observed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    host: Mapped[str | None] = mapped_column(String(200), nullable=True)


class RunLeaseRow(Model):
    """Who may run on a connection now: one row per connection, held by one process at a
    time until ``expires_at`` (renewed while it works). See ``store.leases``."""

    __tablename__ = "run_leases"

    connection: Mapped[str] = mapped_column(String(100), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(40), nullable=True)
    host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acquired_at: Mapped[datetime | None] = mapped_column(nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CreateSuppressionRow(Model):
    """A person a revert took back out of one side: the sync does not create them there
    again until their synced values differ from ``snapshot`` (their record as the revert
    left it), or, without a snapshot, until their record changes after ``created_at``
    (DESIGN §6.5, revert)."""

    __tablename__ = "create_suppressions"

    connection: Mapped[str] = mapped_column(String(100), primary_key=True)
    side: Mapped[str] = mapped_column(String(10), primary_key=True)  # where it was created
    source_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    snapshot: Mapped[Any] = mapped_column(JSON_T, nullable=True)


class OperationRow(Model):
    """The journal: one planned write, written before it is sent, updated when it lands."""

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("run_id", "seq"),
        Index("ix_operations_status", "status"),
        Index("ix_operations_link_id", "link_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    side: Mapped[str] = mapped_column(String(10), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    reason: Mapped[str] = mapped_column(String(30), nullable=False)
    link_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rock_person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pco_person_id: Mapped[str | None] = mapped_column(String(50), nullable=True)
    group_link_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rock_group_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pco_group_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    depends_on: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    field_changes: Mapped[Any] = mapped_column(JSON_T, nullable=False)
    before_image: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    after_image: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    error: Mapped[str | None] = mapped_column(SafeText, nullable=True)
    journaled_at: Mapped[datetime] = mapped_column(nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # names for what a person reads (runs show, review); never used to decide anything
    person_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    group_name: Mapped[str | None] = mapped_column(String(400), nullable=True)


class ConflictRow(Model):
    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_link_id", "link_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    link_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rock_person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pco_person_id: Mapped[str | None] = mapped_column(String(50), nullable=True)
    field: Mapped[str] = mapped_column(String(40), nullable=False)
    rock_value: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    pco_value: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    base_value: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    had_base: Mapped[bool] = mapped_column(Boolean, nullable=False)
    rock_modified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    pco_modified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    winner: Mapped[str] = mapped_column(String(10), nullable=False)
    rule: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    person_name: Mapped[str | None] = mapped_column(String(400), nullable=True)


class ParkedRow(Model):
    """A record that could not be written; retried with backoff until it goes through."""

    __tablename__ = "parked_records"
    __table_args__ = (
        UniqueConstraint("connection", "side", "record_key"),
        Index("ix_parked_records_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = _connection()
    side: Mapped[str] = mapped_column(String(10), nullable=False)
    record_key: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(SafeText, nullable=False)
    payload: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )


class MatchIssueRow(Model):
    __tablename__ = "match_issues"
    __table_args__ = (UniqueConstraint("connection", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = _connection()
    key: Mapped[str] = mapped_column(String(ISSUE_KEY_MAX), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    rock_ids: Mapped[Any] = mapped_column(JSON_T, nullable=False)
    pco_ids: Mapped[Any] = mapped_column(JSON_T, nullable=False)
    evidence: Mapped[Any] = mapped_column(JSON_T, nullable=True)
    message: Mapped[str] = mapped_column(SafeText, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="open")
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    updated_at: Mapped[datetime] = mapped_column(nullable=False)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)


class NoticeRow(Model):
    """What the admin was last told about one topic (issue 12): a run's outcome ("run"), or
    a fact reported once (phones not synced). Lets a repeated, unchanged situation be told
    once, then as a daily digest, and again when it changes or clears."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("connection", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = _connection()
    topic: Mapped[str] = mapped_column(String(200), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    summary: Mapped[str] = mapped_column(SafeText, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    last_sent_at: Mapped[datetime] = mapped_column(nullable=False)
    repeats: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
