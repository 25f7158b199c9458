"""metric values kept as JSON text (a logged 1.0 reads back as 1.0, not 1)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite: the table is copied into one whose column has text affinity; a value
    # already stored as a number becomes its text (1.0 logged before stays 1)
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column(
            "value",
            existing_type=sa.JSON(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="value::text",
        )


def downgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column(
            "value",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=False,
            postgresql_using="value::json",
        )
