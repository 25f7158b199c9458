"""pipeline schedules (Schedule.create) and the claim rows of their firings

A firing is claimed by inserting ``(schedule_id, due_key)`` under the schedule's
lock, so two servers never fire one due time (or one changed file) twice.

Revision ID: 0022
Revises: 0020
Create Date: 2027-02-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("pipeline_id", sa.String(length=64), nullable=True),
        sa.Column("pipeline_endpoint_id", sa.String(length=64), nullable=True),
        sa.Column("experiment_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("recurrence", sa.JSON(), nullable=True),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("datastore_name", sa.String(length=255), nullable=True),
        sa.Column("path_on_datastore", sa.Text(), nullable=True),
        sa.Column("polling_interval", sa.Integer(), nullable=True),
        sa.Column("data_path_parameter_name", sa.String(length=255), nullable=True),
        sa.Column("pipeline_parameters", sa.JSON(), nullable=False),
        sa.Column("continue_on_step_failure", sa.String(length=8), nullable=True),
        sa.Column("seen", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("schedule_id", sa.String(length=64), nullable=False),
        sa.Column("due_key", sa.String(length=512), nullable=False),
        sa.Column("run_id", sa.String(length=255), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_fires_schedule_id_schedules"),
        ),
        sa.PrimaryKeyConstraint(
            "schedule_id", "due_key", name=op.f("pk_schedule_fires")
        ),
    )


def downgrade() -> None:
    op.drop_table("schedule_fires")
    op.drop_table("schedules")
