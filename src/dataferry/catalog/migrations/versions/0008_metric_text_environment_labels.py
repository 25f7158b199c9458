"""metric values kept as JSON text (a logged 1.0 reads back as 1.0, not 1);
environment labels (Environment.label / Environment.get(label=))

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
    op.create_table(
        "environment_labels",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "label", name=op.f("pk_environment_labels")),
    )


def downgrade() -> None:
    op.drop_table("environment_labels")
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column(
            "value",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=False,
            postgresql_using="value::json",
        )
