"""published pipelines and pipeline endpoints (Pipeline.publish, PipelineEndpoint)

Revision ID: 0020
Revises: 0014
Create Date: 2027-02-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "published_pipelines",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("continue_on_step_failure", sa.String(length=8), nullable=True),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("graph_description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_pipelines")),
    )
    op.create_index(
        op.f("ix_published_pipelines_name"), "published_pipelines", ["name"]
    )
    op.create_table(
        "pipeline_endpoints",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("default_version", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_endpoints")),
        sa.UniqueConstraint("name", name=op.f("uq_pipeline_endpoints_name")),
    )
    op.create_table(
        "pipeline_endpoint_versions",
        sa.Column("endpoint_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("pipeline_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["pipeline_endpoints.id"],
            name=op.f("fk_pipeline_endpoint_versions_endpoint_id_pipeline_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["published_pipelines.id"],
            name=op.f("fk_pipeline_endpoint_versions_pipeline_id_published_pipelines"),
        ),
        sa.PrimaryKeyConstraint(
            "endpoint_id", "version", name=op.f("pk_pipeline_endpoint_versions")
        ),
    )


def downgrade() -> None:
    op.drop_table("pipeline_endpoint_versions")
    op.drop_table("pipeline_endpoints")
    op.drop_index(op.f("ix_published_pipelines_name"), table_name="published_pipelines")
    op.drop_table("published_pipelines")
