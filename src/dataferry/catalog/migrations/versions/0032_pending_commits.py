"""output commits that may be under way, settled once their writer is gone

Revision ID: 0032
Revises: 0023
Create Date: 2027-03-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_commits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("datastore", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("step_run_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_started", sa.Float(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_commits")),
    )
    op.create_index(
        "ix_pending_commits_step_run_id", "pending_commits", ["step_run_id"]
    )


def downgrade() -> None:
    op.drop_table("pending_commits")
