"""Initial schema: links and bases, group links, runs, the operation journal, conflicts,
parked records, match issues, watermarks.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSON on SQLite, JSONB on PostgreSQL; frozen here so later model changes do not rewrite history.
JSON_T = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "group_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("rock_group_id", sa.Integer(), nullable=False),
        sa.Column("pco_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_by_import", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_links")),
        sa.UniqueConstraint("connection", "pco_id", name=op.f("uq_group_links_connection_pco_id")),
        sa.UniqueConstraint(
            "connection", "rock_group_id", name=op.f("uq_group_links_connection_rock_group_id")
        ),
    )
    op.create_table(
        "link_exclusions",
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("rock_person_id", sa.Integer(), nullable=False),
        sa.Column("pco_person_id", sa.String(length=50), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection", "rock_person_id", "pco_person_id", name=op.f("pk_link_exclusions")
        ),
    )
    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("rock_person_id", sa.Integer(), nullable=False),
        sa.Column("rock_alias_id", sa.Integer(), nullable=True),
        sa.Column("pco_person_id", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint(
            "connection", "pco_person_id", name=op.f("uq_links_connection_pco_person_id")
        ),
        sa.UniqueConstraint(
            "connection", "rock_person_id", name=op.f("uq_links_connection_rock_person_id")
        ),
    )
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_links_connection_rock_alias_id", ["connection", "rock_alias_id"], unique=False
        )

    op.create_table(
        "match_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rock_ids", JSON_T, nullable=False),
        sa.Column("pco_ids", JSON_T, nullable=False),
        sa.Column("evidence", JSON_T, nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_issues")),
        sa.UniqueConstraint("connection", "key", name=op.f("uq_match_issues_connection_key")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("counts", JSON_T, nullable=True),
        sa.Column("hold_reasons", JSON_T, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reverts_run_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reverts_run_id"],
            ["runs.id"],
            name=op.f("fk_runs_reverts_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_runs_connection_started_at", ["connection", "started_at"], unique=False
        )

    op.create_table(
        "watermarks",
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connection", "name", name=op.f("pk_watermarks")),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("rock_person_id", sa.Integer(), nullable=True),
        sa.Column("pco_person_id", sa.String(length=50), nullable=True),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("rock_value", JSON_T, nullable=True),
        sa.Column("pco_value", JSON_T, nullable=True),
        sa.Column("base_value", JSON_T, nullable=True),
        sa.Column("had_base", sa.Boolean(), nullable=False),
        sa.Column("rock_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pco_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("winner", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_conflicts_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_conflicts_link_id", ["link_id"], unique=False)

    op.create_table(
        "membership_bases",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("group_link_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_link_id"],
            ["group_links.id"],
            name=op.f("fk_membership_bases_group_link_id_group_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["links.id"],
            name=op.f("fk_membership_bases_link_id_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", "group_link_id", name=op.f("pk_membership_bases")),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("rock_person_id", sa.Integer(), nullable=True),
        sa.Column("pco_person_id", sa.String(length=50), nullable=True),
        sa.Column("group_link_id", sa.Integer(), nullable=True),
        sa.Column("rock_group_id", sa.Integer(), nullable=True),
        sa.Column("pco_group_id", sa.String(length=100), nullable=True),
        sa.Column("depends_on", JSON_T, nullable=True),
        sa.Column("field_changes", JSON_T, nullable=False),
        sa.Column("before_image", JSON_T, nullable=True),
        sa.Column("after_image", JSON_T, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("journaled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_operations_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_operations_run_id_seq")),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_link_id", ["link_id"], unique=False)
        batch_op.create_index("ix_operations_status", ["status"], unique=False)

    op.create_table(
        "parked_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", JSON_T, nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_parked_records_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parked_records")),
        sa.UniqueConstraint(
            "connection",
            "side",
            "record_key",
            name=op.f("uq_parked_records_connection_side_record_key"),
        ),
    )
    with op.batch_alter_table("parked_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_parked_records_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "person_bases",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("fields", JSON_T, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["links.id"],
            name=op.f("fk_person_bases_link_id_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_person_bases")),
    )


def downgrade() -> None:
    op.drop_table("person_bases")
    with op.batch_alter_table("parked_records", schema=None) as batch_op:
        batch_op.drop_index("ix_parked_records_status_next_attempt_at")

    op.drop_table("parked_records")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_status")
        batch_op.drop_index("ix_operations_link_id")

    op.drop_table("operations")
    op.drop_table("membership_bases")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_link_id")

    op.drop_table("conflicts")
    op.drop_table("watermarks")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_connection_started_at")

    op.drop_table("runs")
    op.drop_table("match_issues")
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index("ix_links_connection_rock_alias_id")

    op.drop_table("links")
    op.drop_table("link_exclusions")
    op.drop_table("group_links")
