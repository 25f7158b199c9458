"""the process that took each snapshot hold: host, pid and start time

A hold whose process is gone from its host no longer keeps its snapshot from gc;
holds an older dataferry took have none of these and expire after an hour, as before.

Revision ID: 0033
Revises: 0032
Create Date: 2027-02-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapshot_holds") as batch:
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshot_holds") as batch:
        batch.drop_column("started_at")
        batch.drop_column("pid")
        batch.drop_column("host")
