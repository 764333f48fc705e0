"""Run lease per connection, the observation time and host of a run, the creates a revert
took back (not made again until the source record changes), and memberships a revert left
differing on the two sides.

Revision ID: 0003
Revises: 0002_notices
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("connection", name=op.f("pk_run_leases")),
    )
    op.create_table(
        "create_suppressions",
        sa.Column("connection", sa.String(length=100), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "connection", "side", "source_id", name=op.f("pk_create_suppressions")
        ),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("host", sa.String(length=200), nullable=True))
    with op.batch_alter_table("membership_bases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("split", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("membership_bases", schema=None) as batch_op:
        batch_op.drop_column("split")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("host")
        batch_op.drop_column("observed_at")
    op.drop_table("create_suppressions")
    op.drop_table("run_leases")
