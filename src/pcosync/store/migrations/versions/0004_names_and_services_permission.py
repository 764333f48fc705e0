"""Names for output (operations, conflicts, group links) and each group link's Planning
Center Services permission level.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_links") as batch:
        batch.add_column(sa.Column("name", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("services_permission", sa.String(length=40), nullable=True))
    with op.batch_alter_table("operations") as batch:
        batch.add_column(sa.Column("person_name", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("group_name", sa.String(length=400), nullable=True))
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(sa.Column("person_name", sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("person_name")
    with op.batch_alter_table("operations") as batch:
        batch.drop_column("group_name")
        batch.drop_column("person_name")
    with op.batch_alter_table("group_links") as batch:
        batch.drop_column("services_permission")
        batch.drop_column("name")
