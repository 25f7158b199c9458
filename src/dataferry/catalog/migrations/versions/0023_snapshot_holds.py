"""holds of submits on shared snapshots, which gc leaves alone

Revision ID: 0023
Revises: 0022
Create Date: 2027-02-20 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_holds",
        sa.Column("hash", sa.String(length=128), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", "token", name=op.f("pk_snapshot_holds")),
    )


def downgrade() -> None:
    op.drop_table("snapshot_holds")
