"""A person a revert took back keeps a snapshot of their synced values as the revert left
them, so "changed since the revert" is decided by their values, not by a timestamp that
Planning Center keeps only to the second.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen here, as in 0001, so later model changes do not rewrite history
JSON_T = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("create_suppressions") as batch:
        batch.add_column(sa.Column("snapshot", JSON_T, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("create_suppressions") as batch:
        batch.drop_column("snapshot")
